"""The digest's fixed structure. Sections, their order and titles come from this code only; an
engine (extractive rules or an LLM) can only add points, and every point cites message ids."""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

# key -> title; the order is the order of the digest
SECTIONS = {
    "main_points": "Main points",
    "decisions": "Decisions",
    "for_you": "Questions and requests for you",
    "open_questions": "Open questions to the group",
    "dates": "Dates, times and places",
    "links": "Links",
    "activity": "Who was active",
}


@dataclass
class Point:
    text: str                       # the point (a quoted message for the extractive engine)
    cites: list = field(default_factory=list)   # message ids, first = the main one
    topic: str | None = None        # main points: the topic label
    note: str | None = None         # e.g. "Friday -> Fri 19 Jan", "you replied later"

    def to_dict(self) -> dict:
        d = {"text": self.text, "cites": list(self.cites)}
        if self.topic:
            d["topic"] = self.topic
        if self.note:
            d["note"] = self.note
        return d


@dataclass
class Ref:
    author: str | None
    time: _dt.datetime


@dataclass
class Digest:
    sections: dict[str, list[Point]]
    refs: dict                      # message id -> Ref, for every cited message
    meta: dict

    @classmethod
    def empty(cls, meta: dict) -> "Digest":
        return cls({k: [] for k in SECTIONS}, {}, meta)

    def to_dict(self) -> dict:
        return {
            "meta": self.meta,
            "sections": [{"key": k, "title": SECTIONS[k], "points": [p.to_dict() for p in self.sections[k]]}
                         for k in SECTIONS],
            "messages": {str(i): {"author": r.author, "time": r.time.isoformat()} for i, r in self.refs.items()},
        }

    def cite_str(self, ids) -> str:
        out = []
        for i in ids:
            r = self.refs.get(i)
            if r is not None:
                out.append(f"{r.author or 'system'}, {r.time:%a %d %b %H:%M} #{i}")
        return "; ".join(out)

    def to_markdown(self) -> str:
        m = self.meta
        lines = [f"# What you missed in {safe_inline(m.get('chat') or 'the chat')}", ""]
        span = f"{m['first']} to {m['last']}" if m.get("first") else "no messages"
        lines.append(f"{m.get('messages', 0)} messages from {m.get('people', 0)} people, {span}"
                     f" (engine: {m.get('engine')}{', for ' + safe_inline(m['me']) if m.get('me') else ''}).")
        if m.get("llm"):
            st = m["llm"]
            lines.append(f"LLM: {st['chunks']} chunk(s) of the chat, {st['map_calls']} map + "
                         f"{st['reduce_calls']} reduce calls; {st['lines_kept']} lines kept, "
                         f"{st['lines_dropped']} off-format lines and {st['citations_dropped']} invalid "
                         f"citations dropped.")
        for note in m.get("notes", []):
            lines.append(f"Note: {safe_inline(note)}")
        for key, title in SECTIONS.items():
            points = self.sections[key]
            lines += ["", f"## {title}", ""]
            if not points:
                lines.append("- (nothing)")
                continue
            topic = None
            for p in points:
                if p.topic and p.topic != topic:
                    topic = p.topic
                    lines.append(f"- **{safe_inline(topic)}**")
                indent = "  " if p.topic else ""
                cite = self.cite_str(p.cites)
                note = f" ({safe_inline(p.note)})" if p.note else ""
                lines.append(f"{indent}- {safe_inline(p.text)}{note}" + (f" [{cite}]" if cite else ""))
        return "\n".join(lines) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*#\[\]<>|])")


def safe_inline(text: str, limit: int = 300) -> str:
    """Chat text as one inert Markdown line: newlines folded, Markdown markup escaped (a message
    cannot open a heading, a list or a link of its own), long text shortened with an ellipsis."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return _MD_SPECIAL.sub(r"\\\1", s)
