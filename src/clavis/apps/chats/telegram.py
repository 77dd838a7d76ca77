"""Telegram Desktop JSON exports (`result.json`): a single chat, or a full-account export whose
chats sit under `chats.list` (and `left_chats.list`)."""
from __future__ import annotations

import datetime as _dt

from clavis import ClavisError
from clavis.apps.chats.model import Message, ParseResult

_VOICE = {"voice_message", "audio_file", "video_message"}


def flatten_text(text) -> str:
    """Telegram's `text` is a string or a list of strings and {type, text} entities."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        out: list[str] = []
        prev_entity = False
        for p in text:
            entity = isinstance(p, dict)
            piece = str(p.get("text", "")) if entity else p if isinstance(p, str) else ""
            # two formatted entities back to back with no whitespace between them: keep the
            # words apart (as chat-miner's targets do: "Link:" + "https://..." -> "Link: https://...")
            if entity and prev_entity and out and piece and not out[-1][-1:].isspace() \
                    and not piece[0].isspace():
                out.append(" ")
            out.append(piece)
            prev_entity = entity
        return "".join(out)
    return str(text)


def _time(rec: dict, where: str) -> _dt.datetime:
    if isinstance(rec.get("date"), str):
        try:
            return _dt.datetime.fromisoformat(rec["date"]).replace(tzinfo=None)
        except ValueError:
            pass
    if rec.get("date_unixtime") is not None:
        try:
            # no local time in the record: UTC, as naive
            return _dt.datetime.fromtimestamp(int(rec["date_unixtime"]), _dt.timezone.utc).replace(tzinfo=None)
        except (TypeError, ValueError, OverflowError):
            pass
    raise ValueError(f"{where}: no valid 'date' or 'date_unixtime'")


def _service_text(rec: dict) -> str:
    actor = rec.get("actor") or ""
    action = str(rec.get("action") or "service").replace("_", " ")
    extra = flatten_text(rec.get("text"))
    members = rec.get("members")
    parts = [actor, action]
    if members:
        parts.append(", ".join(str(m) for m in members if m))
    if rec.get("title"):
        parts.append(f'"{rec["title"]}"')
    if extra:
        parts.append(extra)
    return " ".join(p for p in parts if p)


def _message(rec: dict, chat_name: str | None, prefix: str, where: str, pos: int) -> Message:
    when = _time(rec, where)
    mid = rec.get("id", pos)  # exports always have ids; hand-made ones may not
    rid = rec.get("reply_to_message_id")
    msg = Message(id=f"{prefix}{mid}" if prefix else mid, time=when, author=None,
                  text=flatten_text(rec.get("text")),
                  reply_to=(f"{prefix}{rid}" if prefix else rid) if rid is not None else None,
                  edited=bool(rec.get("edited") or rec.get("edited_unixtime")), chat=chat_name)
    if rec.get("type") == "service":
        msg.kind, msg.text = "system", _service_text(rec)
        return msg
    if "from" in rec:  # present but null: the sender deleted their account
        msg.author = rec["from"] or "Deleted Account"
    else:  # channel posts carry no sender: the channel speaks
        msg.author = rec.get("author") or chat_name or "Unknown"
    media = rec.get("media_type")
    if media in _VOICE:
        msg.kind, msg.attachment = "voice", rec.get("file")
    elif media or rec.get("photo") or rec.get("file"):
        msg.kind = "media"
        msg.attachment = rec.get("photo") or rec.get("file")
    if msg.attachment and str(msg.attachment).startswith("(File not included"):
        msg.attachment = None
    return msg


def _chat_messages(chat: dict, prefix: str, name: str, where: str, errors: list) -> list[Message]:
    recs = chat.get("messages")
    if not isinstance(recs, list):
        raise ClavisError(f"{where}: field 'messages' is not a list")
    out = []
    for i, rec in enumerate(recs):
        if not isinstance(rec, dict):
            errors.append((0, f"{where}.messages[{i}]: not an object"))
            continue
        try:
            out.append(_message(rec, name, prefix, f"{where}.messages[{i}]", i + 1))
        except ValueError as e:
            errors.append((0, str(e)))
    return out


def parse_data(data: dict, source: str = "") -> ParseResult:
    errors: list[tuple[int, str]] = []
    if "messages" in data:
        msgs = _chat_messages(data, "", data.get("name"), source or "telegram", errors)
        chats = 1
    else:
        lists = [(k, (data.get(k) or {}).get("list") or []) for k in ("chats", "left_chats")]
        all_chats = [(k, i, c) for k, lst in lists for i, c in enumerate(lst) if isinstance(c, dict)]
        if not all_chats:
            raise ClavisError(f"{source}: a Telegram export needs 'messages' or 'chats.list'")
        chats = len(all_chats)
        msgs = []
        for k, i, c in all_chats:
            prefix = "" if chats == 1 else f"{c.get('id', f'{k}{i}')}:"
            msgs += _chat_messages(c, prefix, c.get("name"), f"{source}: {k}.list[{i}]", errors)
    msgs.sort(key=lambda m: m.time)
    return ParseResult(msgs, errors, "telegram", source)


def looks_like(data) -> bool:
    if not isinstance(data, dict):
        return False
    recs = data.get("messages")
    if isinstance(recs, list):
        return any(isinstance(r, dict) and ("date_unixtime" in r or ("date" in r and "type" in r))
                   for r in recs[:20]) or (not recs and "type" in data)
    return isinstance(data.get("chats"), dict) and "list" in data["chats"]
