"""`clavis chats parse FILE`: parse a group-chat export into one JSON object per message."""
from __future__ import annotations

import json
import os
import sys

EXIT_UNPARSED = 3


def register(sub) -> None:
    p = sub.add_parser("chats", help="parse group-chat exports (WhatsApp, Telegram, Discord, Signal)",
                       description="Work with group-chat exports: WhatsApp .txt/.zip (Android and "
                                   "iOS, any locale), Telegram Desktop JSON, DiscordChatExporter "
                                   "JSON, signal-export text, Instagram JSON.")
    cs = p.add_subparsers(dest="chats_command", metavar="ACTION")
    pp = cs.add_parser("parse", help="print the messages of an export",
                       description="Parse FILE (format auto-detected) and print its messages. "
                                   "With --json: one JSON object per message per line with the fields "
                                   "id, time (ISO 8601, naive local), author (null for system lines), "
                                   "text, kind (text|system|media|voice|deleted), reply_to, "
                                   "attachment, edited. Lines that cannot be parsed are listed on "
                                   f"stderr with their line numbers and the exit code is {EXIT_UNPARSED}.")
    pp.add_argument("file", help="the export: .txt, .zip, .json or .md")
    pp.add_argument("--json", action="store_true", help="JSON Lines output (a stable contract for scripts)")
    pp.add_argument("--format", choices=["whatsapp", "telegram", "discord", "signal", "instagram"],
                    help="skip auto-detection")
    pp.set_defaults(func=run_parse)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _line(m) -> str:
    who = m.author if m.author is not None else "*"
    body = m.text if m.kind in ("text", "system") or m.text else ""
    tag = "" if m.kind in ("text", "system") else f"<{m.kind}{': ' + m.attachment if m.attachment else ''}> "
    edited = " (edited)" if m.edited else ""
    return f"{m.time:%Y-%m-%d %H:%M:%S}  {who}: {(tag + body).strip()}{edited}".replace("\n", "\n    ")


def run_parse(args) -> int:
    from clavis.apps.chats import parse

    result = parse(args.file, format=args.format)
    out = sys.stdout
    try:
        for m in result.messages:
            out.write((json.dumps(m.to_dict(), ensure_ascii=False) if args.json else _line(m)) + "\n")
        out.flush()
    except BrokenPipeError:  # `clavis chats parse x | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_UNPARSED if result.errors else 0
    kinds: dict[str, int] = {}
    for m in result.messages:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    summary = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    print(f"clavis: {args.file}: {result.format}, {len(result.messages)} messages ({summary or 'none'})",
          file=sys.stderr)
    if result.errors:
        print(f"clavis: {len(result.errors)} line(s) could not be parsed:", file=sys.stderr)
        for line, text in result.errors[:50]:
            where = f"line {line}" if line else "record"
            print(f"  {where}: {text[:120]}", file=sys.stderr)
        if len(result.errors) > 50:
            print(f"  ... and {len(result.errors) - 50} more", file=sys.stderr)
        return EXIT_UNPARSED
    return 0
