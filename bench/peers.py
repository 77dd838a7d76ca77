"""Side-by-side LLM benchmark: clavis vs llama.cpp (llama-cpp-python) vs PyTorch (transformers bf16).

Same GGUF files (made by `clavis make-model`), same token ids, 1 and 2 threads, engines
interleaved run by run; each run is its own process (so load time and peak RSS are its own).
Before each model the memory read bandwidth is measured, and every decode's effective
bandwidth (weight bytes read per token x tok/s) is reported as a fraction of it. At the most
threads, clavis and llama.cpp also decode in one process in turns of a few tokens (`paired`):
their speed ratio pair by pair, so a switch of the memory's regime between two engines' runs
cannot favour either (the ratio still depends on the regime the pairs ran in).
Writes BENCHMARKS.md (the LLM section) and bench/roofline.png.

    python bench/peers.py [--models llama-3.2-1b:q4_0,...] [--threads 1,2] [--reps 2]
                          [--engines clavis,llamacpp,torch] [--quick]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks_md import cpu_name, replace_section
from engine_run import read_bandwidth
from clavis.runtime.bench import weight_bytes_per_token

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "models"
DEFAULT_MODELS = ["llama-3.2-1b:q4_0", "llama-3.2-1b:q8_0", "qwen2.5-0.5b:q4_0",
                  "tinyllama-1.1b:q4_0", "llama-2-7b:q4_0"]
# PyTorch bf16 needs an HF copy of the weights (f32 on disk); 7B would need ~27 GB of disk and
# most of this machine's RAM, so torch runs on the smaller shapes only.
TORCH_MAX_PARAMS = 2.0e9


def make_model(shape: str, quant: str, hf: bool) -> tuple[Path, Path | None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    gguf = CACHE / f"{shape}-{quant}.gguf"
    hf_dir = CACHE / f"{shape}-hf" if hf else None
    if not gguf.exists() or (hf_dir and not (hf_dir / "config.json").exists()):
        cmd = [sys.executable, "-m", "clavis", "make-model", shape, "--quant", quant, "-o", str(gguf)]
        if hf_dir:
            cmd += ["--hf-dir", str(hf_dir)]
        print(f"making {gguf.name}{' + HF folder' if hf_dir else ''} ...", file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True)
        # the files just written are dirty page cache; a load that needs memory while they are
        # written back waits for the disk (llama-2-7b, 1 thread: 5.4 s right after writing the
        # file against 1.9 after a sync), so the first engine would pay for it and the others not
        os.sync()
    return gguf, hf_dir


def shape_params(shape: str) -> int:
    """Parameters of a zoo shape, from its tensor table (no file needed)."""
    from clavis.models.registry import model_class
    from clavis.models.zoo import SHAPES, make_args
    args = make_args(shape, SHAPES[shape].args["vocab_size"])
    return sum(int(math.prod(v)) for v in model_class(args.arch).tensor_shapes(args).values())


def run_engine(engine: str, gguf: Path, hf_dir: Path | None, threads: int, args) -> dict | None:
    cmd = [sys.executable, str(ROOT / "bench" / "engine_run.py"), "--engine", engine,
           "--gguf", str(gguf), "--threads", str(threads), "--prompt", str(args.prompt),
           "--gen", str(args.gen)]
    if hf_dir:
        cmd += ["--hf-dir", str(hf_dir)]
    # numpy's OpenBLAS is used by none of the engines; its idle thread spins ~0.1 s of CPU after
    # import, which competes with a 2-core machine's load phase (for every engine alike)
    env = {**os.environ, "CLAVIS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run(cmd, text=True, capture_output=True, env=env)
    if r.returncode != 0:
        print(f"  {engine} t={threads} FAILED:\n{r.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench(args) -> list[dict]:
    rows = []
    for spec in args.models:
        shape, quant = spec.split(":")
        engines = list(args.engines)
        params = shape_params(shape)
        # one make-model run writes the GGUF and, when PyTorch runs, the HF folder of the same weights
        torch_fits = params <= TORCH_MAX_PARAMS
        gguf, hf_dir = make_model(shape, quant, hf="torch" in engines and torch_fits)
        per_tok, _, _ = weight_bytes_per_token(str(gguf))
        file_bytes = gguf.stat().st_size
        if "torch" in engines and not torch_fits:
            engines.remove("torch")
            print(f"{shape}: skipping PyTorch ({params / 1e9:.1f} B params > {TORCH_MAX_PARAMS / 1e9:.0f} B: "
                  "its f32 HF copy does not fit this machine)", file=sys.stderr)
        for threads in args.threads:
            bw = read_bandwidth(threads)["best"]
            print(f"{shape} {quant} t={threads}: read bandwidth {bw:.1f} GB/s", file=sys.stderr, flush=True)
            runs: dict[str, list[dict]] = {e: [] for e in engines}
            for rep in range(args.reps):
                # interleaved, run by run, the order rotated each rep: a run right after
                # PyTorch's (7 GB freed) pays for faulting in fresh memory on this VM (clavis's
                # 1B load 0.5-0.7 s there against 0.3-0.4 s elsewhere), so no engine always gets it
                for e in engines[rep % len(engines):] + engines[:rep % len(engines)]:
                    res = run_engine(e, gguf, hf_dir if e == "torch" else None, threads, args)
                    if res:
                        runs[e].append(res)
                        print(f"  rep {rep} {e:9s} pp {res['prefill_tok_s']:8.1f} tg {res['decode_tok_s']:7.1f} "
                              f"tok/s load {res['load_s']:.2f}s rss {res['peak_rss_mb']:.0f} MB",
                              file=sys.stderr, flush=True)
            bw_after = read_bandwidth(threads)["best"]
            for e, rs in runs.items():
                if not rs:
                    continue
                tg = median_of(rs, "decode_tok_s")
                # the bandwidth right before / after this engine's decodes (median over runs);
                # the fraction is taken against their mean
                dbw0, dbw1 = median_of(rs, "decode_bw_before"), median_of(rs, "decode_bw_after")
                dbw, sus = (dbw0 + dbw1) / 2, median_of(rs, "decode_bw_sustained")
                rows.append({
                    "model": shape, "quant": quant, "engine": e, "threads": threads,
                    "prefill_tok_s": median_of(rs, "prefill_tok_s"), "decode_tok_s": tg,
                    "ttft_s": median_of(rs, "ttft_s"), "load_s": median_of(rs, "load_s"),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                    "file_mb": file_bytes / 2**20, "bytes_per_token": per_tok,
                    "read_bw_gbs": bw, "read_bw_after_gbs": bw_after,
                    "decode_bw_before_gbs": dbw0, "decode_bw_after_gbs": dbw1,
                    "eff_bw_gbs": per_tok * tg / 1e9 if e != "torch" else None,
                    "bw_fraction": per_tok * tg / 1e9 / dbw if e != "torch" else None,
                    "decode_bw_sustained_gbs": sus,
                    "bw_fraction_sustained": per_tok * tg / 1e9 / sus if e != "torch" else None,
                    "runs": len(rs),
                })
                if e == "clavis":   # after load, untimed: its weights moving to huge pages
                    rows[-1]["huge_pages_s"] = median_of(rs, "huge_pages_s")
            if threads == max(args.threads) and runs.get("clavis") and runs.get("llamacpp"):
                p = run_engine("paired", gguf, None, threads, args)
                if p:
                    print(f"  paired    clavis {p['clavis_tok_s']:.1f} llama.cpp {p['llamacpp_tok_s']:.1f} "
                          f"tok/s: ratio {p['paired_ratio']:.2f}x ({p['paired_q1']:.2f}-{p['paired_q3']:.2f})",
                          file=sys.stderr, flush=True)
                    row = next(r for r in rows if (r["model"], r["quant"], r["engine"], r["threads"])
                               == (shape, quant, "clavis", threads))
                    row.update({k: p[k] for k in ("paired_ratio", "paired_q1", "paired_q3",
                                                  "paired_blocks", "paired_block")})
    return rows


def ratios(rows: list[dict]) -> list[str]:
    out = []
    key = {(r["model"], r["quant"], r["threads"], r["engine"]): r for r in rows}
    for (m, q, t, e), r in sorted(key.items()):
        if e != "clavis" or (m, q, t, "llamacpp") not in key:
            continue
        lc = key[(m, q, t, "llamacpp")]
        paired = (f"{r['paired_ratio']:.2f}x ({r['paired_q1']:.2f}-{r['paired_q3']:.2f})"
                  if "paired_ratio" in r else "-")
        out.append(f"| {m} | {q} | {t} | {r['decode_tok_s'] / lc['decode_tok_s']:.2f}x | {paired} | "
                   f"{r['prefill_tok_s'] / lc['prefill_tok_s']:.2f}x | {r['load_s'] / lc['load_s']:.2f}x |")
    return out


def write_report(rows: list[dict], args, cmdline: str) -> None:
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    lines = [
        "## LLM engines side by side (`make peers`)", "",
        f"Date: {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}; CPU: {cpu_name()}, "
        f"{os.cpu_count()} logical CPUs; Python {platform.python_version()}.  ",
        f"Command: `{cmdline}`  ",
        f"Random-weight GGUF files made by `clavis make-model`; prompt {args.prompt} tokens, "
        f"then {args.gen} decoded tokens; median of {args.reps} interleaved runs (the engines' order rotated each run). "
        "`bw` = memory read bandwidth (a STREAM-like read on all threads, by a separate process "
        "while the engine waits) right before / after that engine's decode; this machine's "
        "bandwidth switches between regimes, so a row whose two figures differ much saw a switch. "
        "`eff` = weight bytes read per token x decode tok/s; `eff/bw` = eff / the mean of the two. "
        "Each probe is 20 passes over 256 MB: `bw` is its fastest pass (the memory's peak rate, "
        "as STREAM reports), `sust` its sustained rate (all passes' bytes over their time, the "
        "mean of the two probes), which a decode streaming for seconds can at best about reach; "
        "`eff/sust` = eff / sust. "
        "`load s` is until the model answers; clavis then moves its packed weights to huge pages "
        "in a background thread (`huge s` after load; prefill and decode are measured once it is "
        "done: the engine waits for it, untimed).", "",
        "| model | quant | engine | thr | pp512 tok/s | tg128 tok/s | TTFT s | load s | huge s | peak RSS MB | file MB | bw GB/s (before/after decode) | sust GB/s | eff GB/s | eff/bw | eff/sust |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['quant']} | {r['engine']} | {r['threads']} | {r['prefill_tok_s']:.1f} | "
            f"{r['decode_tok_s']:.1f} | {r['ttft_s']:.2f} | {r['load_s']:.2f} | {fmt(r.get('huge_pages_s'), '.2f')} | "
            f"{r['peak_rss_mb']:.0f} | "
            f"{r['file_mb']:.0f} | {r['decode_bw_before_gbs']:.1f} / {r['decode_bw_after_gbs']:.1f} | "
            f"{r['decode_bw_sustained_gbs']:.1f} | {fmt(r['eff_bw_gbs'], '.1f')} | "
            f"{fmt(r['bw_fraction'], '.0%')} | {fmt(r['bw_fraction_sustained'], '.0%')} |")
    rat = ratios(rows)
    if rat:
        lines += ["", "clavis / llama.cpp, same run. `decode` = the ratio of the medians above; `decode, "
                  "paired` = both engines in one process decoding in turns of 4 tokens (the order "
                  "swapped each pair of turns), the median ratio of adjacent turns and its quartiles: "
                  "each pair ran under the same memory regime.", "",
                  "| model | quant | thr | decode | decode, paired | prefill | load time |",
                  "|---|---|---|---|---|---|---|", *rat]
    lines += ["", "![decode vs roofline](bench/roofline.png)", ""]
    replace_section("## LLM engines side by side", "\n".join(lines))
    (ROOT / "bench" / "peers-llm.json").write_text(json.dumps(rows, indent=1))
    plot(rows)


def plot(rows: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colors = {"clavis": "tab:green", "llamacpp": "tab:blue", "torch": "tab:orange"}
    for r in rows:
        if r["threads"] != max(x["threads"] for x in rows):
            continue
        gb = r["bytes_per_token"] / 1e9
        ax.scatter(gb, r["decode_tok_s"], color=colors.get(r["engine"], "k"), s=30)
        ax.annotate(f"{r['model']} {r['quant']}", (gb, r["decode_tok_s"]), fontsize=6,
                    xytext=(3, 3), textcoords="offset points")
        bw = (r["decode_bw_before_gbs"] + r["decode_bw_after_gbs"]) / 2
        ax.plot([gb * 0.95, gb * 1.05], [bw / gb] * 2, color="red", lw=1)
    for e, c in colors.items():
        ax.scatter([], [], color=c, label=e)
    ax.plot([], [], color="red", label="roofline: read bandwidth / bytes per token")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weight bytes read per token (GB)")
    ax.set_ylabel("decode tokens/s")
    ax.set_title("Decode speed against the memory-bandwidth roofline")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "roofline.png", dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS), help="shape:quant,...")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--engines", default="clavis,llamacpp,torch")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help="one small model, 2 threads, 1 rep")
    args = ap.parse_args()
    if args.quick:
        args.models, args.threads, args.reps = "qwen2.5-0.5b:q4_0", "2", 1
    args.models = [m for m in args.models.split(",") if m]
    args.threads = [int(t) for t in args.threads.split(",")]
    args.engines = [e for e in args.engines.split(",") if e]
    rows = bench(args)
    if not rows:
        print("no engine produced a result", file=sys.stderr)
        return 1
    write_report(rows, args, "make peers  # python bench/peers.py " + " ".join(sys.argv[1:]))
    print((ROOT / "BENCHMARKS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
