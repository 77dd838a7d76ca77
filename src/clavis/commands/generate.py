"""`clavis generate`: complete a prompt with a local model, streaming the text."""
from __future__ import annotations

import sys

from clavis.commands._llm_common import (add_model_args, add_sampling_args, format_stats,
                                         load_llm, sampling_kwargs)


def register(sub) -> None:
    p = sub.add_parser(
        "generate", help="complete a prompt with a local LLM (GGUF or HF folder)",
        description="Complete PROMPT with a local model and stream the text to stdout; speed "
                    "(prompt and generation tokens/s) goes to stderr. Example: "
                    "clavis generate -m model.gguf -p 'The capital of France is' -n 32")
    add_model_args(p)
    p.add_argument("-p", "--prompt", required=True, help="the prompt text ('-' reads stdin)")
    p.add_argument("--chat", action="store_true",
                   help="wrap the prompt as one user message in the model's chat template")
    p.add_argument("--ignore-eos", action="store_true", help="keep going past end-of-text")
    p.add_argument("--quiet", action="store_true", help="no statistics on stderr")
    add_sampling_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    llm = load_llm(args)
    kw = sampling_kwargs(args)
    if args.chat:
        gen = llm.chat([{"role": "user", "content": prompt}], ignore_eos=args.ignore_eos, **kw)
    else:
        gen = llm.generate(prompt, ignore_eos=args.ignore_eos, **kw)
    try:
        for piece in gen:
            sys.stdout.write(piece)
            sys.stdout.flush()
    finally:
        gen.close()
    sys.stdout.write("\n")
    if not args.quiet:
        print(format_stats(gen.stats), file=sys.stderr)
    return 0
