"""Group-chat export parsers: WhatsApp (.txt/.zip, Android and iOS, any locale), Telegram Desktop
JSON, DiscordChatExporter JSON, signal-export text and Instagram JSON, all to one `Message` record.

    from clavis.apps.chats import parse
    result = parse("WhatsApp Chat with Trip.zip")
    result.messages, result.errors, result.format
"""
from __future__ import annotations

from pathlib import Path

from clavis import ClavisError
from clavis.apps.chats.model import KINDS, Message, ParseResult

__all__ = ["parse", "Message", "ParseResult", "KINDS", "FORMATS"]
FORMATS = ("whatsapp", "telegram", "discord", "signal", "instagram")


def parse(path: str | Path, format: str | None = None) -> ParseResult:
    """Parse a chat export; `format` (one of FORMATS) skips auto-detection."""
    from clavis.apps.chats import detect, discord, instagram, signal, telegram, whatsapp

    path = Path(path)
    if not path.is_file():
        raise ClavisError(f"{path}: no such file")
    fmt = format or detect.detect(path)
    if fmt == "whatsapp":
        return whatsapp.parse_file(path)
    if fmt == "signal":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise ClavisError(f"{path}: line {line}: not UTF-8 text") from None
        return signal.parse_text(text, str(path))
    modules = {"telegram": telegram, "discord": discord, "instagram": instagram}
    if fmt not in modules:
        raise ClavisError(f"unknown chat format {fmt!r} (choose from {', '.join(FORMATS)})")
    data = detect.load_json(path)
    if not isinstance(data, dict):
        raise ClavisError(f"{path}: expected a JSON object at the top level")
    return modules[fmt].parse_data(data, str(path))
