"""`clavis bench ...`: benchmarks. `clavis bench kernels`: decode matvec speed against the memory
read bandwidth measured in the same run, and prefill GEMM throughput.
More subcommands (`llm` ...) register themselves in SUBCOMMANDS below."""
from __future__ import annotations

import json
import sys

from clavis import ClavisError
from clavis.commands.bench_llm import register_llm


def _register_kernels(bsub) -> None:
    p = bsub.add_parser(
        "kernels", help="decode GB/s vs memory read bandwidth, prefill GOP/s",
        description="Measure the machine's memory read bandwidth (a STREAM-like read on all "
                    "threads, right before and after the matvecs), the decode matrix-vector "
                    "speed for Q4_0, Q8_0 and F16 on Llama-2-7B-sized matrices (4096x4096, "
                    "11008x4096, 4096x11008; cycling through 8x the 32 MiB L3) as a "
                    "fraction of that bandwidth, and the prefill GEMM throughput at M=512. "
                    "Takes about a minute.")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--threads", type=int, default=None,
                   help="threads (default: CLAVIS_NUM_THREADS or the number of physical cores)")
    p.set_defaults(func=run_kernels)


# One entry per `clavis bench` subcommand: a function that adds its parser to the subparsers.
SUBCOMMANDS = [_register_kernels, register_llm]


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks (kernels ...)",
                       description="Benchmarks. Run `clavis bench kernels --help`.")
    bsub = p.add_subparsers(dest="bench_what", metavar="WHAT")
    for add in SUBCOMMANDS:
        add(bsub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_kernels(args) -> int:
    from tqdm import tqdm

    from clavis.kernels import bench
    if args.threads is not None and not 1 <= args.threads <= 1024:
        raise ClavisError(f"--threads must be between 1 and 1024, got {args.threads}")
    with tqdm(total=bench.n_steps(), desc="bench kernels", unit="step", file=sys.stderr, leave=False) as bar:
        def step(name):
            bar.set_postfix_str(name)
            bar.update(1)
        res = bench.run(threads=args.threads, progress=step)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print_table(res)
    return 0


def print_table(res: dict) -> None:
    print(f"memory read bandwidth ({res['threads']} threads): {res['read_bw_gbs']:.1f} GB/s before, "
          f"{res['read_bw_after_gbs']:.1f} GB/s after the matvecs")
    print("\ndecode: matrix-vector, weights cycled through 8x the L3 (GB/s of GGUF weight bytes)")
    print(f"  {'format':<7}{'n x k':<13}{'variant':<12}{'ms':>8}{'GB/s':>8}{'of read bw':>12}")
    for d in res["decode"]:
        print(f"  {d['format']:<7}{str(d['n']) + 'x' + str(d['k']):<13}{d['variant']:<12}"
              f"{d['ms']:>8.3f}{d['gbs']:>8.1f}{d['bw_fraction'] * 100:>11.0f}%")
    print(f"\nprefill: matrix-matrix, M={res['prefill'][0]['m'] if res['prefill'] else '-'}")
    print(f"  {'format':<7}{'n x k':<13}{'variant':<12}{'ms':>8}{'GOP/s':>8}")
    for d in res["prefill"]:
        print(f"  {d['format']:<7}{str(d['n']) + 'x' + str(d['k']):<13}{d['variant']:<12}"
              f"{d['ms']:>8.1f}{d['gops']:>8.0f}")
    print(f"\n({res['note']})")
