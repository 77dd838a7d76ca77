"""WhatsApp chat exports (.txt, or a .zip with the .txt and the media), Android and iOS, any locale.

The layout of a header line differs by phone and locale:
  Android  `30/01/19, 20:49 - Anna: text`       `1/30/19, 8:49 p. m. - Anna: text`
  iOS      `[30.01.19, 20:49:05] Anna: text`    `\u200e[1/30/19, 8:49:05\u202fPM] Anna: \u200eimage omitted`
The date order (day-month or month-day) is inferred from the whole file, never from the locale.
Lines that are not headers continue the previous message (multi-line messages). Lines that
cannot belong to any message are returned as errors with their line numbers.
"""
from __future__ import annotations

import datetime as _dt
import re
import zipfile
from collections import Counter
from pathlib import Path

from clavis import ClavisError
from clavis.apps.chats.model import Message, ParseResult

# direction marks WhatsApp scatters around names, phone numbers and system text
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
_STRIP_MARKS = str.maketrans("", "", _MARKS)
_HAS_MARK = re.compile(f"[{_MARKS}]")


def _unmark(s: str) -> str:
    return s.translate(_STRIP_MARKS) if _HAS_MARK.search(s) else s
_SP = "[ \u00a0\u202f]"


def _dt_pattern() -> str:
    date = r"(?P<d1>\d{1,4})(?P<sep>[./\-])(?P<d2>\d{1,2})[./\-](?P<d3>\d{1,4})\.?"
    time = r"(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2}))?"
    suffix = rf"(?:{_SP}*(?P<ampm>[^\W\d_][^\d\]\-\u2013]{{0,12}}?))?"
    return rf"{date},?{_SP}{time}{suffix}"


_BRACKET = re.compile(rf"^[{_MARKS}]*\[{_dt_pattern()}\]{_SP}?(?P<rest>.*)$")
_DASH = re.compile(rf"^[{_MARKS}]*{_dt_pattern()}{_SP}?[-\u2013]{_SP}(?P<rest>.*)$")

_AM = {"am", "a", "vorm", "午前", "上午", "ص", "πμ", "sa", "fm", "ap", "pg"}
_PM = {"pm", "p", "nachm", "午後", "下午", "م", "μμ", "ch", "em", "ip", "ptg"}

_MEDIA_OMITTED = re.compile(
    r"^<(?:Media omitted|Medien ausgelassen|Multimedia omitido|Без медиафайлов|Медиафайл отсутствует|"
    r"Médias omis|Media omessi|Mídia oculta|Media weggelaten)>$", re.I)
_IOS_OMITTED = re.compile(
    r"^(?P<what>image|video|audio|sticker|GIF|document|Contact card|Bild|Video|Audio|Sticker|"
    r"Dokument|Kontaktkarte|imagen|vídeo|documento|tarjeta de contacto|изображение|видео|аудио|"
    r"стикер|документ|GIF-файл)"
    r"\s+(?:omitted|weggelassen|omitido|omitida|отсутствует|пропущено|не включено)$", re.I)
_ATTACHED = re.compile(r"^<(?:attached|Anhang|adjunto|вложение|pièce jointe|allegato|anexo):\s*"
                       r"(?P<file>[^>]+)>$", re.I)
_FILE_ATTACHED = re.compile(
    r"^(?P<file>\S.*?\.\w{2,5})\s+\((?:file attached|Datei angehängt|archivo adjunto|файл добавлен|"
    r"файл прикреплен|fichier joint|file allegato|arquivo anexado)\)$", re.I)
_DELETED = re.compile(
    r"^(?:This message was deleted|You deleted this message|Diese Nachricht wurde gelöscht|"
    r"Du hast diese Nachricht gelöscht|Se eliminó este mensaje|Eliminaste este mensaje|"
    r"Este mensaje fue eliminado|Это сообщение удалено|Данное сообщение удалено|"
    r"Вы удалили это сообщение|Ce message a été supprimé|Vous avez supprimé ce message)\.?$", re.I)
_EDITED = re.compile(
    r"\s*<(?:This message was edited|Diese Nachricht wurde bearbeitet|Se editó este mensaje\.?|"
    r"Сообщение изменено|Ce message a été modifié)>$", re.I)
_VOICE_FILE = re.compile(r"(^PTT-|-AUDIO-|\.(opus|m4a|ogg|mp3|aac|amr|wav)$)", re.I)
_AUDIO_WORD = re.compile(r"^(audio|аудио)$", re.I)
# system lines that may contain ": " (so they could pass for "author: text")
_SYSTEM_HINT = re.compile(
    r"( created group | changed the subject | changed the group description| added | removed |"
    r" hat die Gruppe | hat den Betreff | creó el grupo | cambió el asunto | añadió | создал\(а\) группу |"
    r" изменил\(а\) тему | добавил\(а\) )")


_SPECIAL = re.compile("|".join(re.sub(r"\(\?P<\w+>", "(?:", f"(?:{r.pattern})") for r in (
    _MEDIA_OMITTED, _IOS_OMITTED, _ATTACHED, _FILE_ATTACHED, _DELETED)), re.I)


def _ampm_kind(raw: str | None) -> str | None:
    if not raw:
        return None
    norm = re.sub(r"[\s.\u00a0\u202f]", "", raw).lower()
    if norm in _AM:
        return "am"
    if norm in _PM:
        return "pm"
    return "?"


def _match_header(line: str):
    return _BRACKET.match(line) or _DASH.match(line)


def infer_date_order(triples: list[tuple[str, str, str]], ampm: bool) -> str:
    """'ymd', 'dmy' or 'mdy' for a file's (d1, d2, d3) date fields: a 4-digit first field means
    year first; a field over 12 decides; otherwise the order under which the dates run forward
    (chats are chronological); a tie goes to month-first for 12-hour files, else day-first."""
    if any(len(a) == 4 for a, _, _ in triples):
        return "ymd"
    nums = [(int(a), int(b), int(c)) for a, b, c in triples]
    dmy_ok = all(1 <= a <= 31 and 1 <= b <= 12 for a, b, _ in nums)
    mdy_ok = all(1 <= a <= 12 and 1 <= b <= 31 for a, b, _ in nums)
    if dmy_ok != mdy_ok:
        return "dmy" if dmy_ok else "mdy"

    def backwards(order: str) -> int:
        keys = [(c, b, a) if order == "dmy" else (c, a, b) for a, b, c in nums]
        return sum(1 for x, y in zip(keys, keys[1:]) if y < x)

    bd, bm = backwards("dmy"), backwards("mdy")
    if bd != bm:
        return "dmy" if bd < bm else "mdy"
    return "mdy" if ampm else "dmy"


def _to_datetime(m, order: str) -> _dt.datetime:
    a, b, c = m.group("d1"), m.group("d2"), m.group("d3")
    if order == "ymd":
        y, mo, d = int(a), int(b), int(c)
    elif order == "dmy":
        d, mo, y = int(a), int(b), int(c)
    else:
        mo, d, y = int(a), int(b), int(c)
    if y < 100:
        y += 2000
    h, mi, s = int(m.group("H")), int(m.group("M")), int(m.group("S") or 0)
    kind = _ampm_kind(m.group("ampm"))
    if kind == "?":
        raise ValueError(f"unknown time suffix {m.group('ampm')!r}")
    if kind == "pm" and h < 12:
        h += 12
    elif kind == "am" and h == 12:
        h = 0
    return _dt.datetime(y, mo, d, h, mi, s)


def _author_candidates(rest: str) -> list[str]:
    out, start = [], 0
    while len(out) < 4:
        i = rest.find(": ", start)
        if i <= 0:
            break
        out.append(rest[:i])
        start = i + 2
    if not out and rest.endswith(":") and len(rest) > 1 and ": " not in rest:
        out.append(rest[:-1])  # "Anna:" with the text on the following lines
    return out


def _choose_author(cands: list[str], counts: Counter) -> str | None:
    """The candidate seen most often as a prefix across the file; on a tie the longest when it
    recurs (a name containing ': '), else the shortest."""
    if not cands:
        return None
    best = max(counts[c] for c in cands)
    tied = [c for c in cands if counts[c] == best]
    return tied[-1] if best >= 2 else tied[0]


def _classify(msg: Message, raw_text: str) -> None:
    """Sets kind / attachment / edited / author (system) from the raw text after 'author: '."""
    lead_mark = raw_text[:1] in _MARKS
    text = _unmark(raw_text) if lead_mark else raw_text
    m = _EDITED.search(text) if text.endswith(">") else None
    if m:
        msg.edited = True
        text = text[: m.start()]
    first, _, caption = text.partition("\n")
    first_clean = _unmark(first).strip()
    if not _SPECIAL.match(first_clean):  # a plain message (the common case): one regex, not five
        if lead_mark and msg.author is not None:
            msg.kind, msg.author = "system", None  # iOS: "Group name: \u200eAnna added Bob"
        msg.text = text.strip("\n")
        return
    if _MEDIA_OMITTED.match(first_clean):
        msg.kind, text = "media", caption
    elif (m := _IOS_OMITTED.match(first_clean)):
        msg.kind = "voice" if _AUDIO_WORD.match(m.group("what")) else "media"
        text = caption
    elif (m := _ATTACHED.match(first_clean) or _FILE_ATTACHED.match(first_clean)):
        msg.attachment = m.group("file").strip()
        msg.kind = "voice" if _VOICE_FILE.search(msg.attachment) else "media"
        text = caption
    elif _DELETED.match(first_clean) and not caption:
        msg.kind, text = "deleted", ""
    elif lead_mark and msg.author is not None:
        msg.kind, msg.author = "system", None  # iOS: "Group name: \u200eAnna added Bob"
    msg.text = text.strip("\n")


def parse_text(text: str, source: str = "", member: str | None = None) -> ParseResult:
    lines = text.split("\n")
    heads: list[tuple[int, object]] = []
    for i, line in enumerate(lines):
        m = _match_header(line.rstrip("\r"))
        if m:
            heads.append((i, m))
    if not heads:
        raise ClavisError(f"{source or 'input'}: no WhatsApp message header found "
                          f"(expected lines like '30/01/19, 20:49 - Name: text')")
    ampm = any(m.group("ampm") for _, m in heads)
    order = infer_date_order([(m.group("d1"), m.group("d2"), m.group("d3")) for _, m in heads], ampm)
    counts: Counter = Counter()
    cands: dict[int, tuple[str, list[str]]] = {}
    for i, m in heads:
        clean = _unmark(m.group("rest"))
        cands[i] = (clean, _author_candidates(clean))
        counts.update(cands[i][1])

    messages: list[Message] = []
    errors: list[tuple[int, str]] = []
    head_at = {i: m for i, m in heads}
    current: Message | None = None
    body: list[str] = []

    def flush():
        if current is not None:
            _classify(current, "\n".join(body))
            messages.append(current)

    for i, raw in enumerate(lines):
        line = raw.rstrip("\r")
        m = head_at.get(i)
        if m is None:
            if current is not None:
                body.append(line)
            elif line.strip():
                errors.append((i + 1, line))
            continue
        flush()
        current, body = None, []
        try:
            when = _to_datetime(m, order)
        except ValueError:
            errors.append((i + 1, line))
            continue
        rest = m.group("rest")
        clean, cand = cands[i]
        author = _choose_author(cand, counts)
        if author is not None and counts[author] == 1 and _SYSTEM_HINT.search(clean):
            author = None
        if author is None:
            current = Message(len(messages) + 1, when, None, "", "system", line=i + 1)
            body = [clean]
            continue
        after = clean[len(author) + 2:] if clean.startswith(author + ": ") else ""
        lead = "\u200e" if clean is not rest and _lead_mark_after_author(rest, author) else ""
        current = Message(len(messages) + 1, when, author.strip(), "", "text", line=i + 1)
        body = [lead + after]
    flush()
    return ParseResult(messages, errors, "whatsapp", source, member)


def _lead_mark_after_author(rest: str, author: str) -> bool:
    """True when the text after 'author: ' in the raw line starts with a direction mark (iOS
    marks system lines and media placeholders this way)."""
    seen = 0
    for ch in rest:  # walk the raw text, counting non-mark characters
        if seen == len(author) + 2:
            return ch in _MARKS
        if ch not in _MARKS:
            seen += 1
    return False


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ClavisError(f"{name}: line {line}: not UTF-8 text ({e.reason})") from None


def read_zip(path: Path) -> tuple[str, str]:
    """(text, member) of the chat inside a WhatsApp .zip export."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ClavisError(f"{path}: not a readable .zip archive ({e})") from None
    with zf:
        txts = [n for n in zf.namelist() if n.lower().endswith(".txt")]
        if not txts:
            raise ClavisError(f"{path}: the archive holds no .txt chat file")
        pref = [n for n in txts if Path(n).name == "_chat.txt" or Path(n).name.startswith("WhatsApp")]
        member = (pref or sorted(txts, key=lambda n: -zf.getinfo(n).file_size))[0]
        return _decode(zf.read(member), f"{path}:{member}"), member


def parse_file(path: str | Path) -> ParseResult:
    path = Path(path)
    if zipfile.is_zipfile(path):
        text, member = read_zip(path)
        return parse_text(text, str(path), member)
    return parse_text(_decode(path.read_bytes(), str(path)), str(path))


def looks_like(head: str) -> bool:
    """True when the start of a file has WhatsApp header lines."""
    lines = [ln for ln in head.split("\n")[:50] if ln.strip()]
    return sum(1 for ln in lines if _match_header(ln.rstrip("\r"))) >= max(1, len(lines) // 4)
