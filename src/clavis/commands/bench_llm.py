"""`clavis bench llm -m MODEL_OR_SHAPE`: prefill/decode speed and the decode's share of the
machine's memory bandwidth, measured in the same run."""
from __future__ import annotations

import json
import sys


def register_llm(bsub) -> None:
    p = bsub.add_parser(
        "llm", help="prefill/decode tok/s and decode bandwidth vs the machine's limit",
        description="Load MODEL (a .gguf file, an HF folder, or a shape name such as "
                    "llama-3.2-1b, made into a random-weight GGUF first), then measure the memory "
                    "read bandwidth, prefill tok/s on a prompt of random token ids, decode tok/s, "
                    "and the decode's effective bandwidth (weight bytes per token x tok/s) as a "
                    "fraction of the measured bandwidth: of the probe's best pass (the memory's "
                    "peak rate) and of its sustained rate (all passes' bytes over their time).")
    p.add_argument("-m", "--model", required=True, help="GGUF file, HF folder or zoo shape name")
    p.add_argument("--quant", default="q4_0", help="quantization for a shape name (default q4_0)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: physical cores)")
    p.add_argument("--prompt", type=int, default=512, help="prompt tokens (default 512)")
    p.add_argument("--gen", type=int, default=128, help="decoded tokens (default 128)")
    p.add_argument("--profile", action="store_true",
                   help="decode once more with per-step timers and print where a token's time "
                        "goes: each step of the C layer loop, the output head, and the time "
                        "outside them (Python, sampling)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from clavis.runtime.bench import bench_llm

    bar = tqdm(total=7 if args.profile else 6, desc="bench llm", unit="step", file=sys.stderr, leave=False)

    def step(what):
        bar.set_postfix_str(what)
        bar.update(1)

    try:
        r = bench_llm(args.model, args.quant, args.threads, args.prompt, args.gen, step=step,
                      profile=args.profile)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"model {r['model']}  ({r['model_bytes'] / 2**20:.0f} MiB of weights, "
          f"{r['bytes_per_token'] / 2**20:.0f} MiB read per token), {r['threads']} threads")
    print(f"load            {r['load_s']:8.2f} s")
    print(f"huge pages      {r['huge_pages_s']:8.2f} s more, in the background "
          f"({r['huge_page_mb']:.0f} MiB of weights)")
    print(f"prefill         {r['prefill_tok_s']:8.1f} tok/s  ({r['prompt_tokens']} tokens)")
    print(f"decode          {r['decode_tok_s']:8.1f} tok/s  ({r['generated_tokens']} tokens)")
    print(f"read bandwidth  {r['read_bw_gbs']:8.1f} GB/s before, {r['read_bw_after_gbs']:.1f} GB/s after "
          f"(best pass; sustained {r['read_bw_sustained_gbs']:.1f} / {r['read_bw_sustained_after_gbs']:.1f})")
    print(f"decode reads    {r['decode_eff_gbs']:8.1f} GB/s = {r['decode_bw_fraction']:.0%} of the bandwidth "
          f"({r['decode_bw_fraction_sustained']:.0%} of the sustained read)")
    if "decode_profile" in r:
        print_profile(r["decode_profile"])
    return 0


def print_profile(p: dict) -> None:
    total = p["ms_per_token"] or 0.0
    print(f"\ndecode profile ({p['tokens']} tokens, timers on: {total:.2f} ms per token)")
    print(f"  {'step':<16}{'ms/token':>9}{'share':>8}")
    for name, ms in p["steps_ms"].items():
        share = f"{ms / total:7.1%}" if total else ""
        print(f"  {name:<16}{ms:9.3f}{share:>8}")
    if p.get("matvec_gbs"):
        print(f"the weight matvecs streamed at {p['matvec_gbs']:.1f} GB/s: "
              f"{p['matvec_gbs'] / p['read_bw_gbs']:.0%} of the read probe right after "
              f"({p['read_bw_gbs']:.1f} GB/s best pass), "
              f"{p['matvec_gbs'] / p['read_bw_sustained_gbs']:.0%} of its sustained rate "
              f"({p['read_bw_sustained_gbs']:.1f})")
