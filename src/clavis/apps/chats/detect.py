"""Which export format a file is, from its contents (the file name only breaks ties)."""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from clavis import ClavisError
from clavis.apps.chats import discord, instagram, signal, telegram, whatsapp

FORMATS = ("whatsapp", "telegram", "discord", "signal", "instagram")
_SIGNAL_HEAD = re.compile(r"^\[\d{4}-\d{2}-\d{2},?[ T]\d{1,2}:\d{2}\]\s", re.M)


def load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as e:
        raise ClavisError(f"{path}: not UTF-8 text ({e.reason})") from None
    except json.JSONDecodeError as e:
        raise ClavisError(f"{path}: line {e.lineno}, column {e.colno}: invalid JSON ({e.msg})") from None


def detect_json(data, path: Path) -> str:
    if discord.looks_like(data):
        return "discord"
    if telegram.looks_like(data):
        return "telegram"
    if instagram.looks_like(data):
        return "instagram"
    raise ClavisError(f"{path}: JSON that is not a Telegram, DiscordChatExporter or Instagram export "
                      "(no 'messages' list with 'date'/'timestamp'/'timestamp_ms' fields)")


def detect_text(head: str, path: Path) -> str:
    if path.suffix.lower() == ".md" or _SIGNAL_HEAD.search(head) and signal.looks_like(head):
        return "signal"
    if whatsapp.looks_like(head):
        return "whatsapp"
    raise ClavisError(f"{path}: unknown chat export format (not WhatsApp .txt/.zip, Telegram/Discord/"
                      "Instagram JSON or signal-export text)")


def detect(path: str | Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise ClavisError(f"{path}: no such file")
    if zipfile.is_zipfile(path):
        return "whatsapp"
    with open(path, "rb") as f:
        raw = f.read(65536)
    stripped = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{" or stripped[:1] == b"[" and not _SIGNAL_HEAD.match(stripped[:40].decode(
            "utf-8", errors="replace")) and not whatsapp.looks_like(raw.decode("utf-8", errors="replace")):
        return detect_json(load_json(path), path)
    head = raw.decode("utf-8", errors="replace")
    return detect_text(head, path)
