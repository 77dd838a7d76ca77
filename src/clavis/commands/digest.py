"""`clavis digest FILE`: what did I miss in a group chat export."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "digest", help="what did I miss: the main points of a group chat export",
        description="Digest a group chat export (WhatsApp .txt/.zip, Telegram/Discord/Instagram JSON, "
                    "signal-export text): main points by topic, decisions, questions and requests for "
                    "you, dates/times/places, links, who was active. Every point cites the messages "
                    "behind it (author, time, #id; ids as in `clavis chats parse`). The default engine "
                    "needs no model; --llm uses a local model by map-reduce over the whole chat. "
                    "Exit code 0, or 3 when some lines of the export could not be parsed (they are "
                    "listed on stderr; the digest is still printed), 1 on errors.")
    p.add_argument("file", help="the chat export")
    p.add_argument("--me", metavar="NAME", help="your name in the chat (finds questions, requests and "
                                                "replies addressed to you)")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--since", metavar="DATETIME", help="only messages from then on (2024-06-14 or 2024-06-14T18:30)")
    w.add_argument("--last", metavar="SPAN", help="only the last SPAN before the newest message: 90m, 12h, 2d, 1w")
    w.add_argument("--since-my-last", action="store_true", help="only messages after your last one (needs --me)")
    p.add_argument("--llm", metavar="MODEL", help="LLM engine: a .gguf file, an HF folder or repo id")
    p.add_argument("--ctx", type=int, default=4096, help="context size for --llm (default 4096)")
    p.add_argument("--whisper", metavar="MODEL", help="transcribe voice notes in a .zip export with this "
                                                      "Whisper model (file or folder)")
    p.add_argument("--format", choices=["md", "json"], default="md", help="output: Markdown (default) or JSON")
    p.add_argument("--chat-format", choices=["whatsapp", "telegram", "discord", "signal", "instagram"],
                   help="skip export format auto-detection")
    p.set_defaults(func=run)


def run(args) -> int:
    from clavis.apps.chats import parse
    from clavis.apps.digest import digest

    result = parse(args.file, format=args.chat_format)
    if result.errors:
        first = ", ".join(str(ln) for ln, _ in result.errors[:10])
        print(f"clavis: {args.file}: {len(result.errors)} line(s) could not be parsed (lines {first}"
              f"{' ...' if len(result.errors) > 10 else ''}); see `clavis chats parse`", file=sys.stderr)
    notes = []
    if args.whisper:
        from clavis.apps.digest.voice import transcribe_voice_notes
        from clavis.runtime.whisper import WhisperModel

        notes += transcribe_voice_notes(result, WhisperModel.load(args.whisper), progress=True)
    llm = None
    if args.llm:
        from clavis.runtime.llm import LLM

        llm = LLM.load(args.llm, n_ctx=args.ctx)
    d = digest(result.messages, me=args.me, since=args.since, last=args.last,
               since_my_last=args.since_my_last, llm=llm, chat=Path(args.file).stem, progress=True)
    d.meta["notes"] = notes + d.meta["notes"]
    if result.errors:
        d.meta["notes"].append(f"{len(result.errors)} line(s) of the export could not be parsed")
    if args.format == "json":
        print(json.dumps(d.to_dict(), ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(d.to_markdown())
    return 3 if result.errors else 0  # as `clavis chats parse`: some lines were not understood
