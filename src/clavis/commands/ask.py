"""`clavis ask "QUESTION"`: the privacy-first hybrid assistant on the command line."""
from __future__ import annotations

import argparse
import json
import sys

NOT_ANSWERED = 4

EPILOG = """\
routes:   device (static knowledge: the local model answers), clock (time/date: an offline tool),
          live (weather, news, prices, ...: needs the network).
privacy:  local  - the default: nothing ever leaves this machine; live questions get an honest
                   "this needs the network" answer;
          ask    - before each hand-off, show the redacted question and ask y/N;
          allow  - hand off redacted questions without asking.
          Before a hand-off, e-mail addresses, phone numbers and names from the conversation are
          replaced by [EMAIL], [PHONE], [NAME]; only the question itself is sent.
remote:   --remote-url/--remote-key/--remote-model or CLAVIS_REMOTE_URL/_KEY/_MODEL
          (any OpenAI-compatible endpoint, e.g. https://api.openai.com/v1).
exit:     0 answered, 4 not answered (needs the network, declined, or no local model), 1 error.

example:  clavis ask --why "What time is it in Tokyo?"
"""


def register(sub) -> None:
    p = sub.add_parser("ask", help="ask a question; the router keeps it on the device when it can",
                       description="Answer a question on the device when possible (local model or "
                                   "offline clock) and hand off live-data questions to a remote "
                                   "endpoint only when the privacy mode allows it.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question", help="the question (any language)")
    p.add_argument("-m", "--model", help="local LLM (GGUF file or HF directory) for static questions")
    p.add_argument("--privacy", choices=["local", "ask", "allow"], default="local",
                   help="what may leave the machine (default: local = nothing)")
    p.add_argument("--remote-url", help="OpenAI-compatible base URL, e.g. https://host/v1")
    p.add_argument("--remote-key", help="API key for the remote endpoint")
    p.add_argument("--remote-model", help="model name at the remote endpoint")
    p.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="a personal name to redact before a hand-off (repeatable)")
    p.add_argument("--why", action="store_true", help="explain every routing decision (stderr)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the decision")
    p.add_argument("--max-tokens", type=int, default=256, help="answer length limit (default 256)")
    p.add_argument("--n-ctx", type=int, default=2048, help="context size for the local model")
    p.add_argument("--threads", type=int, help="kernel threads for the local model")
    p.set_defaults(func=run)


def _confirm(host: str, outgoing: list[dict]) -> bool:
    print(f"clavis: this question needs live data. Send this redacted text to {host}?",
          file=sys.stderr)
    print(f"  > {outgoing[-1]['content']}", file=sys.stderr)
    if not sys.stdin.isatty():
        print("clavis: stdin is not a terminal; answering no", file=sys.stderr)
        return False
    return input("send? [y/N] ").strip().lower() in ("y", "yes", "j", "ja", "si", "sí", "oui", "да")


def run(args) -> int:
    from clavis import ClavisError
    from clavis.apps.router import RemoteConfig, Router

    if args.max_tokens < 1:
        raise ClavisError(f"--max-tokens must be at least 1 (got {args.max_tokens})")
    llm = None
    if args.model:
        from clavis.runtime.llm import LLM
        llm = LLM.load(args.model, n_ctx=args.n_ctx, threads=args.threads)
    router = Router(args.privacy, RemoteConfig.resolve(args.remote_url, args.remote_key,
                                                       args.remote_model),
                    llm=llm, confirm=_confirm, names=args.name)
    messages = [{"role": "user", "content": args.question}]
    plan = router.plan(messages)
    if args.why:
        for line in plan.why:
            print(f"why: {line}", file=sys.stderr)
    text = plan.text
    if plan.action == "remote":
        text = router.call_remote(plan, max_tokens=args.max_tokens)
    elif plan.action == "local-llm":
        gen = llm.chat(messages, max_tokens=args.max_tokens)
        pieces = []
        try:
            for piece in gen:
                pieces.append(piece)
                if not args.json:
                    print(piece, end="", flush=True)
        finally:
            gen.close()
        text = "".join(pieces)
        if not args.json:
            print()
    if args.json:
        print(json.dumps({"route": plan.route, "action": plan.action, "answer": text,
                          "why": plan.why, "sent": plan.outgoing if plan.action == "remote" else None},
                         ensure_ascii=False))
    elif plan.action != "local-llm":
        print(text)
    return 0 if plan.action in ("clock", "local-llm", "remote") else NOT_ANSWERED
