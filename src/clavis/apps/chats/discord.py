"""DiscordChatExporter JSON (`{"guild", "channel", "messages": [...]}`)."""
from __future__ import annotations

import datetime as _dt
import re

from clavis.apps.chats.model import Message, ParseResult

_TEXT_TYPES = {"Default", "Reply", "0", "19", 0, 19}
_AUDIO = re.compile(r"\.(ogg|opus|mp3|m4a|wav)$", re.I)


def _time(s) -> _dt.datetime:
    if not isinstance(s, str):
        raise ValueError("no 'timestamp'")
    # the exporter writes the exporting machine's offset: keep that wall-clock time, naive
    return _dt.datetime.fromisoformat(s.replace("Z", "+00:00")).replace(tzinfo=None)


def _message(rec: dict, where: str) -> Message:
    when = _time(rec.get("timestamp"))
    author = rec.get("author") or {}
    name = author.get("nickname") or author.get("name") if isinstance(author, dict) else str(author)
    ref = rec.get("reference") or {}
    msg = Message(id=str(rec.get("id")), time=when, author=name or "Unknown",
                  text=rec.get("content") or "",
                  reply_to=str(ref["messageId"]) if isinstance(ref, dict) and ref.get("messageId") else None,
                  edited=bool(rec.get("timestampEdited")))
    if rec.get("type", "Default") not in _TEXT_TYPES:
        msg.kind = "system"
        msg.text = f"{name} {rec.get('type')}" + (f": {msg.text}" if msg.text else "")
        msg.author = None
        return msg
    files = [a.get("fileName") or a.get("url") for a in rec.get("attachments") or [] if isinstance(a, dict)]
    if files:
        msg.attachment = files[0]
        msg.kind = "voice" if _AUDIO.search(str(files[0])) else "media"
    elif not msg.text and (rec.get("stickers") or rec.get("embeds")):
        msg.kind = "media"
    return msg


def parse_data(data: dict, source: str = "") -> ParseResult:
    errors: list[tuple[int, str]] = []
    msgs = []
    for i, rec in enumerate(data.get("messages") or []):
        try:
            if not isinstance(rec, dict):
                raise ValueError("not an object")
            msgs.append(_message(rec, f"messages[{i}]"))
        except (ValueError, TypeError) as e:
            errors.append((0, f"{source}: messages[{i}]: {e}"))
    msgs.sort(key=lambda m: m.time)
    return ParseResult(msgs, errors, "discord", source)


def looks_like(data) -> bool:
    return (isinstance(data, dict) and "channel" in data and isinstance(data.get("messages"), list)
            and all(isinstance(r, dict) and "timestamp" in r for r in data["messages"][:5]))
