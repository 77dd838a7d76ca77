"""Flags and helpers shared by `clavis generate` and `clavis chat`."""
from __future__ import annotations

import sys


def add_model_args(p) -> None:
    p.add_argument("-m", "--model", required=True,
                   help="a .gguf file, a Hugging Face model folder, or a hub repo id (owner/name)")
    p.add_argument("--quant", choices=["q4_0", "q8_0", "f16", "f32"], default=None,
                   help="quantize an HF folder at load (GGUF files run as written)")
    p.add_argument("--n-ctx", type=int, default=4096, help="context window in tokens (default 4096)")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")


def add_sampling_args(p, max_tokens: int = 256) -> None:
    g = p.add_argument_group("sampling")
    g.add_argument("-n", "--max-tokens", type=int, default=max_tokens,
                   help=f"most tokens to generate (default {max_tokens})")
    g.add_argument("--temperature", "--temp", type=float, default=0.8,
                   help="0 = greedy (default 0.8)")
    g.add_argument("--top-k", type=int, default=40, help="0 = off (default 40)")
    g.add_argument("--top-p", type=float, default=0.95, help="1 = off (default 0.95)")
    g.add_argument("--min-p", type=float, default=0.05, help="0 = off (default 0.05)")
    g.add_argument("--repeat-penalty", type=float, default=1.0, help="1 = off (default 1.0)")
    g.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    g.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="stop when TEXT appears (repeatable)")


def sampling_kwargs(args) -> dict:
    return dict(max_tokens=args.max_tokens, temperature=args.temperature, top_k=args.top_k,
                top_p=args.top_p, min_p=args.min_p, repeat_penalty=args.repeat_penalty,
                seed=args.seed, stop=tuple(args.stop))


def load_llm(args):
    """LLM.load with a progress bar on stderr while the weights are packed."""
    from tqdm import tqdm

    from clavis.runtime.llm import LLM
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="loading", unit="layer", file=sys.stderr, leave=False)
        bar.update(1)

    try:
        llm = LLM.load(args.model, quant=args.quant, n_ctx=args.n_ctx, threads=args.threads,
                       progress=progress)
    finally:
        if bar is not None:
            bar.close()
    req = llm.model.requantized
    if req:
        types = ", ".join(sorted({t.upper() for _, t in req}))
        print(f"note: {len(req)} tensors in {types} were re-quantized to Q8_0 at load (no "
              f"kernel for {types} yet; e.g. {req[0][0]})", file=sys.stderr)
    return llm


def format_stats(st) -> str:
    return (f"prompt {st.prompt_tokens} tok ({st.cached_tokens} cached) at "
            f"{st.prefill_tok_s:.1f} tok/s | generated {st.generated_tokens} tok at "
            f"{st.decode_tok_s:.1f} tok/s | finish: {st.finish_reason}")
