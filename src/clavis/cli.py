"""The `clavis` command line. Each subcommand lives in clavis/commands/<name>.py and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int` (the exit code)."""
from __future__ import annotations

import argparse
import importlib
import sys

from clavis import ClavisError, __version__

# One line per command module, in the order `clavis --help` lists them.
COMMAND_MODULES = [
    "info",
    "generate",
    "chat",
    "pull",
    "convert",
    "make_model",
    "bench",
    "ask",
    "serve",
    "chats",
    "digest",
    "transcribe",
    "voicenote",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clavis",
        description="Private AI on the CPU you already have: local LLMs, Whisper and chat digests.",
    )
    parser.add_argument("--version", action="version", version=f"clavis {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"clavis.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ClavisError as e:
        print(f"clavis: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("clavis: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
