"""`clavis info`: CPU features, the kernel variant chosen per op, thread count."""
from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("info", help="show CPU features, chosen kernel variants and threads",
                       description="Show the CPU features clavis detected, the kernel variant "
                                   "dispatch chose for every op, and the thread count.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from clavis import kernels
    info = kernels.info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"clavis {info['version']}  ({info['machine']})")
    print(f"cpu features detected: {', '.join(info['cpu']['detected']) or '(none)'}")
    print(f"cpu features enabled:  {', '.join(info['cpu']['enabled']) or '(none)'}")
    if info["disabled_by_env"]:
        print(f"CLAVIS_DISABLE_CPU_FEATURES={info['disabled_by_env']}")
    print(f"threads: {info['threads']} (physical cores: {info['cpu']['physical_cores']})")
    pf = info["decode_prefetch_bytes"]
    print(f"decode prefetch: {f'{pf} bytes ahead' if pf else 'off'} (CLAVIS_DECODE_PREFETCH)")
    print("ops:")
    width = max((len(k) for k in info["ops"]), default=4)
    for op, d in sorted(info["ops"].items()):
        others = [v for v, ok in d["variants"] if v != d["chosen"]]
        print(f"  {op:<{width}}  {d['chosen']:<14} (also: {', '.join(others) or '-'})")
    return 0
