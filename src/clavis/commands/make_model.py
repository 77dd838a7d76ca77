"""`clavis make-model`: write a random-weight model with the exact shapes and metadata of a real
one (for tests, benchmarks and demos; no downloads)."""
from __future__ import annotations

import os
import sys

from clavis import ClavisError


def register(sub) -> None:
    from clavis.models.zoo import SHAPES
    p = sub.add_parser(
        "make-model", help="write a random-weight model with a real model's shapes",
        description="Write random weights with the tensor names, shapes and metadata of a real "
                    "model, plus a valid tokenizer, as a GGUF file (and with --hf-dir the same "
                    "weights as a Hugging Face folder). LLM shapes: " + ", ".join(SHAPES) +
                    "; whisper-tiny|base|small write an HF Whisper folder (to --hf-dir or -o).")
    p.add_argument("shape", metavar="SHAPE", help="e.g. qwen2.5-0.5b, llama-3.2-1b, tiny-llama")
    p.add_argument("--quant", choices=["q4_0", "q8_0", "f16", "f32"], default="q4_0",
                   help="weight type in the GGUF (default q4_0)")
    p.add_argument("-o", "--output", default=None,
                   help="the .gguf file to write (for whisper-* shapes: the folder)")
    p.add_argument("--hf-dir", default=None, help="also write the f32 weights as an HF folder")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm
    if args.shape.startswith("whisper-"):
        from clavis.models import whisper_zoo
        out = args.hf_dir or args.output
        if not out:
            raise ClavisError(f"{args.shape}: say where to write the HF folder (--hf-dir DIR or -o DIR)")
        whisper_zoo.make(args.shape, out, args.seed)
        print(f"wrote {out}")
        return 0
    if not args.output:
        raise ClavisError(f"{args.shape}: -o OUT.gguf is required")
    from clavis.models import zoo
    zoo.make_args(args.shape)   # an unknown shape fails before anything is written
    bar = tqdm(desc=f"{args.shape} {args.quant}", unit="tensor", file=sys.stderr, leave=False)

    def progress(done, total):
        bar.total = total
        bar.update(1)

    try:
        r = zoo.make(args.shape, args.output, args.quant, hf_dir=args.hf_dir, seed=args.seed,
                     progress=progress)
    finally:
        bar.close()
    a = r["args"]
    print(f"wrote {os.path.abspath(args.output)} ({r['bytes'] / 2**20:.1f} MiB, {a.arch}, "
          f"{a.describe()})" + (f" and {args.hf_dir}/" if args.hf_dir else ""))
    return 0
