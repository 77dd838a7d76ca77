"""`clavis chat`: an interactive, streaming chat with a local model. The history is kept within
the context window: when a new turn would not fit, the oldest turns are dropped (and it says so).
Commands: /reset (forget the history), /exit (or Ctrl-D)."""
from __future__ import annotations

import sys

from clavis import ClavisError
from clavis.commands._llm_common import (add_model_args, add_sampling_args, load_llm,
                                         sampling_kwargs)

HELP = "commands: /reset forgets the conversation, /exit quits (Ctrl-D too)"


def register(sub) -> None:
    p = sub.add_parser(
        "chat", help="chat with a local LLM in the terminal (streaming, /reset, /exit)",
        description="Chat with a local model. Replies stream as they are generated and tokens/s "
                    "is shown after each. " + HELP + ".")
    add_model_args(p)
    p.add_argument("--system", default=None, help="a system prompt")
    add_sampling_args(p, max_tokens=512)
    p.set_defaults(func=run)


def fit_history(llm, history: list[dict], reserve: int) -> tuple[list[int], int]:
    """Drop the oldest non-system turns until the prompt + `reserve` tokens fit.
    Returns (prompt ids, number of messages dropped)."""
    dropped = 0
    while True:
        ids = llm.chat_ids(history)
        if len(ids) + reserve <= llm.n_ctx:
            return ids, dropped
        first = 1 if history and history[0]["role"] == "system" else 0
        if len(history) - first <= 1:   # only the new message is left and it does not fit
            from clavis.runtime.generate import ContextOverflowError
            raise ContextOverflowError(len(ids) + reserve, llm.n_ctx)
        n = 2 if len(history) - first > 2 and history[first]["role"] == "user" else 1
        del history[first:first + n]
        dropped += n


def run(args) -> int:
    llm = load_llm(args)
    kw = sampling_kwargs(args)
    reserve = min(args.max_tokens, llm.n_ctx // 4)
    base = [{"role": "system", "content": args.system}] if args.system else []
    history = list(base)
    tty = sys.stdin.isatty()
    print(f"{llm.name}: n_ctx {llm.n_ctx}. {HELP}.", file=sys.stderr)
    while True:
        try:
            line = input("> " if tty else "")
        except EOFError:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            history = list(base)
            print("(conversation reset)", file=sys.stderr)
            continue
        history.append({"role": "user", "content": text})
        try:
            ids, dropped = fit_history(llm, history, reserve)
        except ClavisError as e:
            history.pop()
            print(f"clavis: {e}", file=sys.stderr)
            continue
        if dropped:
            print(f"(dropped the {dropped} oldest messages to fit the {llm.n_ctx}-token context)",
                  file=sys.stderr)
        gen = llm.generate(ids, **kw)
        try:
            for piece in gen:
                sys.stdout.write(piece)
                sys.stdout.flush()
        except KeyboardInterrupt:
            print("\n(interrupted)", file=sys.stderr)
        finally:
            gen.close()
        sys.stdout.write("\n")
        sys.stdout.flush()
        history.append({"role": "assistant", "content": gen.text})
        st = gen.stats
        print(f"[{st.generated_tokens} tokens, {st.decode_tok_s:.1f} tok/s, prompt "
              f"{st.prefill_tok_s:.0f} tok/s]", file=sys.stderr)
    return 0
