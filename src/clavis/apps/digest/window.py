"""Which messages a digest covers: --since DATETIME, --last 2d, --since-my-last; and who --me is."""
from __future__ import annotations

import datetime as _dt
import re

from clavis import ClavisError

_LAST = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.I)
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> _dt.datetime:
    try:
        return _dt.datetime.fromisoformat(text.strip().replace("/", "-")).replace(tzinfo=None)
    except ValueError:
        raise ClavisError(f"--since {text!r}: expected a date or date-time like 2024-06-14 or "
                          f"2024-06-14T18:30") from None


def parse_last(text: str) -> _dt.timedelta:
    m = _LAST.match(text)
    if not m:
        raise ClavisError(f"--last {text!r}: expected a span like 90m, 12h, 2d or 1w")
    return _dt.timedelta(**{_UNIT[m.group(2).lower()]: float(m.group(1))})


def resolve_me(messages, me: str | None) -> str | None:
    """The author name in the chat that --me means: exact (any case), else the one author whose
    name starts with it or contains it as a word. Unknown names are an error listing authors."""
    if not me:
        return None
    authors = sorted({m.author for m in messages if m.author})
    low = me.strip().lower()
    for a in authors:
        if a.lower() == low:
            return a
    pat = re.compile(rf"(?<!\w){re.escape(low)}(?!\w)")
    hits = [a for a in authors if a.lower().startswith(low) or pat.search(a.lower())]
    if len(hits) == 1:
        return hits[0]
    if not hits and authors:
        # the reader may not have written anything: allow a name that is only mentioned
        if any(low in (m.text or "").lower() for m in messages):
            return me.strip()
    shown = ", ".join(authors[:20]) + (" ..." if len(authors) > 20 else "")
    what = "matches several authors" if hits else "is not an author in this chat"
    raise ClavisError(f"--me {me!r} {what}; authors: {shown}")


def window(messages, since=None, last=None, since_my_last: bool = False, me: str | None = None):
    """(the messages the digest covers, a words description of the window)."""
    picked = [x for x in (since is not None, last is not None, since_my_last) if x]
    if len(picked) > 1:
        raise ClavisError("use only one of --since, --last and --since-my-last")
    if since is not None:
        when = since if isinstance(since, _dt.datetime) else parse_since(str(since))
        return [m for m in messages if m.time >= when], f"since {when:%Y-%m-%d %H:%M}"
    if last is not None:
        span = last if isinstance(last, _dt.timedelta) else parse_last(str(last))
        end = max((m.time for m in messages), default=None)
        if end is None:
            return [], "no messages"
        return ([m for m in messages if m.time >= end - span],
                f"the last {last} before the newest message ({end:%Y-%m-%d %H:%M})")
    if since_my_last:
        if not me:
            raise ClavisError("--since-my-last needs --me NAME")
        mine = [i for i, m in enumerate(messages) if m.author == me]
        if not mine:
            raise ClavisError(f"--since-my-last: {me!r} wrote nothing in this chat")
        when = messages[mine[-1]].time
        return messages[mine[-1] + 1:], f"after your last message ({when:%Y-%m-%d %H:%M})"
    return list(messages), "all messages"
