"""`clavis convert`: a Hugging Face model folder -> a GGUF file (that llama.cpp loads too)."""
from __future__ import annotations

import os
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "convert", help="convert a Hugging Face model folder to a GGUF file",
        description="Convert HF_DIR (config.json, *.safetensors, tokenizer.json) of a llama, "
                    "qwen2 or qwen3 model into a GGUF file with weights in --quant; the file "
                    "runs in clavis and in llama.cpp. Example: "
                    "clavis convert ./Qwen2.5-0.5B-Instruct qwen.gguf --quant q4_0")
    p.add_argument("hf_dir", metavar="HF_DIR", help="the Hugging Face model folder")
    p.add_argument("output", metavar="OUT", help="the .gguf file to write")
    p.add_argument("--quant", choices=["q4_0", "q8_0", "f16", "f32"], default="q4_0",
                   help="weight type (default q4_0; norms and biases stay f32)")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from clavis.models.convert import convert
    bar = tqdm(desc="converting", unit="tensor", file=sys.stderr, leave=False)

    def progress(done, total):
        bar.total = total
        bar.update(1)

    try:
        r = convert(args.hf_dir, args.output, args.quant, progress)
    finally:
        bar.close()
    print(f"wrote {os.path.abspath(args.output)} ({r['bytes'] / 2**20:.1f} MiB, {r['args'].arch}, "
          f"{args.quant})")
    return 0
