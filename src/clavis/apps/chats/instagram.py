"""Instagram / Facebook Messenger JSON downloads (`message_1.json`)."""
from __future__ import annotations

import datetime as _dt

from clavis.apps.chats.model import Message, ParseResult


def _fix(s: str) -> str:
    """Meta's exports write UTF-8 bytes as if they were Latin-1 code points; undo that."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _first_uri(rec: dict, key: str):
    items = rec.get(key)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0].get("uri")
    return None


def parse_data(data: dict, source: str = "") -> ParseResult:
    errors: list[tuple[int, str]] = []
    recs = [r for r in data.get("messages") or []]
    msgs = []
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict):
            errors.append((0, f"{source}: messages[{i}]: not an object"))
            continue
        try:
            ts = rec["timestamp_ms"]
            when = _dt.datetime.fromtimestamp(int(ts) / 1000, _dt.timezone.utc).replace(tzinfo=None)
        except (KeyError, TypeError, ValueError, OverflowError):
            errors.append((0, f"{source}: messages[{i}]: no valid 'timestamp_ms'"))
            continue
        msg = Message(0, when, _fix(str(rec.get("sender_name") or "Unknown")),
                      _fix(rec.get("content") or ""))
        audio = _first_uri(rec, "audio_files")
        other = _first_uri(rec, "photos") or _first_uri(rec, "videos") or _first_uri(rec, "files")
        if audio:
            msg.kind, msg.attachment = "voice", audio
        elif other:
            msg.kind, msg.attachment = "media", other
        elif rec.get("is_unsent"):
            msg.kind = "deleted"
        if isinstance(rec.get("share"), dict) and rec["share"].get("link") and rec["share"]["link"] not in msg.text:
            msg.text = (msg.text + " " + rec["share"]["link"]).strip()
        msgs.append(msg)
    msgs.sort(key=lambda m: m.time)
    for k, m in enumerate(msgs, 1):
        m.id = k
    return ParseResult(msgs, errors, "instagram", source)


def looks_like(data) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("messages"), list)
            and any(isinstance(r, dict) and "timestamp_ms" in r for r in data["messages"][:5]))
