"""The one record every chat parser produces, and the result of parsing a file."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

KINDS = ("text", "system", "media", "voice", "deleted")


@dataclass
class Message:
    """One chat message, whatever the export format.

    id:         int for line-based exports (1, 2, ... in file order), the platform's own id for
                Telegram (int) and Discord (str); `reply_to` uses the same kind of id.
    time:       naive local datetime (as the export shows it; UTC where only a Unix time exists).
    author:     None for system lines ("X created group", "Messages are end-to-end encrypted").
    text:       the message text (newlines kept); for media the caption, for voice the transcript
                once transcribed.
    kind:       "text" | "system" | "media" | "voice" | "deleted".
    attachment: file name of the attached media, when the export names it.
    edited:     the export marked the message as edited.
    line:       1-based line in the source file where the message starts (line-based formats).
    chat:       the chat's name, where the export has several chats (Telegram full-account).
    """

    id: int | str
    time: _dt.datetime
    author: str | None
    text: str
    kind: str = "text"
    reply_to: int | str | None = None
    attachment: str | None = None
    edited: bool = False
    line: int | None = None
    chat: str | None = None

    def to_dict(self) -> dict:
        d = {
            "id": self.id,
            "time": self.time.isoformat(),
            "author": self.author,
            "text": self.text,
            "kind": self.kind,
            "reply_to": self.reply_to,
            "attachment": self.attachment,
            "edited": self.edited,
        }
        if self.line is not None:
            d["line"] = self.line
        if self.chat is not None:
            d["chat"] = self.chat
        return d


@dataclass
class ParseResult:
    """messages in chronological order; errors: (line number, line text) of every line that could
    not be parsed (line 0 when the format has no lines, e.g. a JSON record); format: detected
    format name; source: the path parsed (a .zip for WhatsApp archives); member: the chat file
    inside the archive, if any."""

    messages: list[Message]
    errors: list[tuple[int, str]] = field(default_factory=list)
    format: str = ""
    source: str = ""
    member: str | None = None

    def __len__(self) -> int:
        return len(self.messages)
