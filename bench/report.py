"""`make bench`: run `clavis bench kernels` and `clavis bench llm` and write their figures as the
"## Kernels and clavis alone (`make bench`)" section of BENCHMARKS.md (other sections are kept).

    python bench/report.py [--models qwen2.5-0.5b,llama-3.2-1b] [--threads 2]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys

from benchmarks_md import cpu_name, replace_section
from clavis.runtime.bench import MATVEC_STEPS

TITLE = "## Kernels and clavis alone (`make bench`)"


def clavis_json(*args: str, threads: int) -> dict:
    r = subprocess.run([sys.executable, "-m", "clavis", *args, "--json", "--threads", str(threads)],
                       text=True, stdout=subprocess.PIPE, check=True)
    return json.loads(r.stdout)


def profile_table(profiles: list[tuple[str, dict]]) -> list[str]:
    """Where a decoded token's time goes (`clavis bench llm --profile`, a second decode pass with
    per-step timers): the weight matvecs, attention, the other C steps, and the Python outside
    the C calls (forward glue + embedding lookup, then sampling and the loop); and the rate the
    matvecs stream the weights at, against the read probe run right after."""
    out = ["", "Where a decoded token's time goes (`clavis bench llm --profile`: the same decode "
           "again with per-step timers in the C layer loop). `matvecs GB/s`: the weights' bytes over "
           "the matvecs' own time, against the read probe right after (its best pass / its sustained "
           "rate). The token's share of that rate is the matvecs' share of its time:", "",
           "| model | ms/token | weight matvecs | attention | other C steps | Python in the forward "
           "| Python outside it | matvecs GB/s | of probe best / sustained |",
           "|---|---|---|---|---|---|---|---|---|"]
    for m, p in profiles:
        ms, tot = p["steps_ms"], p["ms_per_token"]
        mv = sum(ms[k] for k in MATVEC_STEPS)
        py_in, py_out = ms["forward_other"], ms["outside_forward"]
        other = tot - mv - ms["attention"] - py_in - py_out
        out.append(f"| {m} | {tot:.2f} | {mv / tot:.1%} | {ms['attention'] / tot:.1%} | "
                   f"{other / tot:.1%} | {py_in / tot:.1%} | {py_out / tot:.1%} | "
                   f"{p['matvec_gbs']:.1f} | {p['matvec_gbs'] / p['read_bw_gbs']:.0%} / "
                   f"{p['matvec_gbs'] / p['read_bw_sustained_gbs']:.0%} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-0.5b,llama-3.2-1b", help="zoo shapes for bench llm")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    k = clavis_json("bench", "kernels", threads=args.threads)
    cpu = cpu_name()
    lines = [TITLE, "",
             f"Date: {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}; CPU: {cpu}, {os.cpu_count()} "
             f"logical CPUs; {args.threads} threads.  ",
             f"Command: `make bench`  (python bench/report.py --models {args.models} --threads {args.threads})",
             "",
             f"Memory read bandwidth: {k['read_bw_gbs']:.1f} GB/s before, {k['read_bw_after_gbs']:.1f} GB/s "
             "after the matvecs (`clavis bench kernels`).", "",
             "| decode matvec | n x k | variant | GB/s | of read bw |", "|---|---|---|---|---|"]
    for r in k["decode"]:
        lines.append(f"| {r['format']} | {r['n']}x{r['k']} | {r.get('variant', '')} | {r['gbs']:.1f} | "
                     f"{r['bw_fraction']:.0%} |")
    lines += ["", "| prefill GEMM, M=512 | n x k | variant | GOP/s |", "|---|---|---|---|"]
    for r in k["prefill"]:
        lines.append(f"| {r['format']} | {r['n']}x{r['k']} | {r.get('variant', '')} | {r['gops']:.0f} |")
    lines += ["", "`clavis bench llm` (random-weight Q4_0 models of the named shapes, 512-token prompt, "
              "128 decoded tokens):", "",
              "| model | MiB read/token | load s | prefill tok/s | decode tok/s | read bw GB/s (sustained) | decode GB/s | of bw | of sustained |",
              "|---|---|---|---|---|---|---|---|---|"]
    profiles = []
    for m in [m for m in args.models.split(",") if m]:
        r = clavis_json("bench", "llm", "-m", m, "--profile", threads=args.threads)
        lines.append(f"| {m} | {r['bytes_per_token'] / 2**20:.0f} | {r['load_s']:.2f} | "
                     f"{r['prefill_tok_s']:.1f} | {r['decode_tok_s']:.1f} | {r['read_bw_gbs']:.1f} "
                     f"({r['read_bw_sustained_gbs']:.1f}) | {r['decode_eff_gbs']:.1f} | "
                     f"{r['decode_bw_fraction']:.0%} | {r['decode_bw_fraction_sustained']:.0%} |")
        profiles.append((m, r["decode_profile"]))
    lines += profile_table(profiles)
    section = "\n".join(lines) + "\n"
    replace_section(TITLE, section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
