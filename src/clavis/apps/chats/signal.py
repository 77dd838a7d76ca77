"""signal-export text/Markdown (`[2019-12-24, 12:23] Jane Doe: Hello`), multi-line messages,
attachments written as Markdown images/links `![name](./media/file.jpg)`."""
from __future__ import annotations

import datetime as _dt
import re

from clavis import ClavisError
from clavis.apps.chats.model import Message, ParseResult

_HEAD = re.compile(r"^\[(\d{4})-(\d{2})-(\d{2}),?[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\]\s(.*)$")
_ATTACH = re.compile(r"^!?\[[^\]]*\]\((?P<file>[^)]+)\)\s*$")
_AUDIO = re.compile(r"\.(aac|m4a|ogg|opus|mp3|wav)$", re.I)


def _finish(msg: Message, body: list[str]) -> Message:
    lines = list(body)
    for k, ln in enumerate(lines):
        m = _ATTACH.match(ln.strip())
        if m and msg.attachment is None:
            msg.attachment = m.group("file")
            msg.kind = "voice" if _AUDIO.search(msg.attachment) else "media"
            del lines[k]
            break
    msg.text = "\n".join(lines).strip("\n")
    return msg


def parse_text(text: str, source: str = "") -> ParseResult:
    messages: list[Message] = []
    errors: list[tuple[int, str]] = []
    cur: Message | None = None
    body: list[str] = []
    for i, raw in enumerate(text.split("\n")):
        line = raw.rstrip("\r")
        m = _HEAD.match(line)
        if not m:
            if cur is not None:
                body.append(line)
            elif line.strip():
                errors.append((i + 1, line))
            continue
        if cur is not None:
            messages.append(_finish(cur, body))
        cur = None
        y, mo, d, h, mi, s, rest = m.groups()
        try:
            when = _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
        except ValueError:
            errors.append((i + 1, line))
            continue
        author, sep, first = rest.partition(": ")
        if not sep:
            cur, body = Message(len(messages) + 1, when, None, "", "system", line=i + 1), [rest]
        else:
            cur, body = Message(len(messages) + 1, when, author, "", line=i + 1), [first]
    if cur is not None:
        messages.append(_finish(cur, body))
    if not messages and not errors:
        raise ClavisError(f"{source or 'input'}: no signal-export message header found")
    return ParseResult(messages, errors, "signal", source)


def looks_like(head: str) -> bool:
    lines = [ln for ln in head.split("\n")[:50] if ln.strip()]
    return bool(lines) and sum(1 for ln in lines if _HEAD.match(ln.rstrip("\r"))) >= max(1, len(lines) // 4)
