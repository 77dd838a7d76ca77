"""Rules for the parts of a digest that are patterns, not topics: decisions, questions and
requests to the reader, dates/times/places, links. English, German, Spanish and Russian."""
from __future__ import annotations

import datetime as _dt
import re

URL = re.compile(r"https?://[^\s<>\"')\]]+|www\.[^\s<>\"')\]]+", re.I)

DECISION = re.compile(
    r"\b(decided|decision|we(?:'ll| will) go with|let'?s go with|let'?s do|let'?s book|it'?s settled|"
    r"settled|agreed|final answer|final plan|we(?:'re| are) going with|booked|confirmed|done deal|"
    r"the plan is|plan is set|we go with|"
    r"entschieden|beschlossen|abgemacht|wir nehmen|wir machen|gebucht|bestätigt|"
    r"decidimos|decidido|acordamos|queda(?:mos)? en|reservado|confirmado|vamos con|"
    r"решили|договорились|забронировал[аи]?|подтвержда\w*|берём|берем)\b"
    r"|^\s*(decision|final|plan|entscheidung|decisión|решение)\s*:", re.I)
AGREE = re.compile(
    r"^\s*(ok(ay)?|yes|yep|yeah|sure|agreed|deal|sounds good|perfect|great|done|👍+|✅|"
    r"einverstanden|passt|gut|klar|vale|de acuerdo|perfecto|sí|si|ок|ок\.|да|согласен|согласна|договорились)"
    r"\s*[.!]*\s*(👍|🙌|👌)?\s*$", re.I)

QUESTION_GROUP = re.compile(
    r"\b(anyone|anybody|everyone|everybody|who|does someone|somebody|"
    r"jemand|wer|alle|alguien|quién|todos|кто[- ]нибудь|кто|все)\b", re.I)
REQUEST = re.compile(
    r"\b(please|pls|can you|could you|would you|will you|don'?t forget|remember to|"
    r"bitte|kannst du|könntest du|vergiss nicht|por favor|puedes|podrías|no olvides|"
    r"пожалуйста|можешь|не забудь)\b", re.I)
SECOND_PERSON = re.compile(r"\b(you|your|du|dir|dich|dein\w*|tú|tu|te|ты|тебя|тебе|твой|вы)\b", re.I)

WEEKDAYS = {
    0: r"monday|mon|montag|lunes|понедельник\w*",
    1: r"tuesday|tue|dienstag|martes|вторник\w*",
    2: r"wednesday|wed|mittwoch|miércoles|miercoles|сред[аеуы]",
    3: r"thursday|thu|donnerstag|jueves|четверг\w*",
    4: r"friday|fri|freitag|viernes|пятниц[аеуы]",
    5: r"saturday|sat|samstag|sábado|sabado|суббот[аеуы]",
    6: r"sunday|sun|sonntag|domingo|воскресень[еяю]",
}
RELATIVE = {
    0: r"today|tonight|this evening|heute|heute abend|hoy|esta noche|сегодня",
    1: r"tomorrow|morgen|mañana|завтра",
    2: r"day after tomorrow|übermorgen|pasado mañana|послезавтра",
}
MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|januar|februar|märz|mai|juni|"
          r"juli|oktober|dezember|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|"
          r"octubre|noviembre|diciembre|января|февраля|марта|апреля|мая|июня|июля|августа|"
          r"сентября|октября|ноября|декабря")
_WD = re.compile(r"\b(?:" + "|".join(f"(?P<w{k}>{v})" for k, v in WEEKDAYS.items()) + r")\b", re.I)
_REL = re.compile(r"\b(?:" + "|".join(f"(?P<r{k}>{v})" for k, v in sorted(RELATIVE.items(), reverse=True))
                  + r")\b", re.I)
DATE_EXPR = re.compile(
    r"\b(\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?\.?(?=\s|$|[,;!?])"
    r"|\d{1,2}(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?:" + MONTHS + r")"
    r"|(?:" + MONTHS + r")\s+\d{1,2}(?:st|nd|rd|th)?"
    r"|next week|this weekend|next weekend|nächste woche|am wochenende|la próxima semana|este fin de semana|"
    r"на следующей неделе|в выходные)(?!\w)", re.I)
TIME_EXPR = re.compile(
    r"\b((?:at |um |a las |в )?\d{1,2}:\d{2}\s*(?:am|pm|uhr|h)?|\d{1,2}\s*(?:am|pm|uhr)\b|"
    r"(?:at|um|a las|в) \d{1,2}\b|noon|midnight|mittag|mediodía|в полдень)", re.I)
PLACE = re.compile(
    r"(maps\.google|goo\.gl/maps|maps\.app\.goo\.gl|openstreetmap|\baddress\b|\badresse\b|\bdirección\b|"
    r"\bадрес\b|\b(?:meet|meeting|pick(?:ing)? (?:you )?up) (?:at|in) |\btreffpunkt\b|\btreffen uns (?:am|an der|im|in)\b|"
    r"\bnos vemos en\b|\bвстречаемся (?:у|в|на)\b|\b\d+\s+\w+\s+(?:street|st\.|road|rd\.|avenue|ave\.)|"
    r"\b\w+(?:straße|strasse|str\.)\s*\d+|\bcalle\s+\w+|\bул\.\s*\w+)", re.I)


def is_question(text: str) -> bool:
    return "?" in text or "¿" in text


def decision_score(text: str) -> int:
    return 2 if DECISION.search(text) and not AGREE.match(text) else 0


def is_agreement(text: str) -> bool:
    return bool(AGREE.match(text))


def name_pattern(me: str) -> re.Pattern:
    """Matches '@Me', 'Me' or its first name (3+ letters) as a whole word."""
    parts = {me.strip()}
    first = me.strip().split()[0] if me.strip() else ""
    if len(first) >= 3:
        parts.add(first)
    alts = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
    return re.compile(rf"(?<![\w@])@?(?:{alts})(?!\w)", re.I)


def names_pattern(names) -> re.Pattern | None:
    """Any of `names` as a whole word (other people being addressed)."""
    names = sorted({n for n in names if n}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<!\w)@?(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)", re.I)


def resolve_day(text: str, said: _dt.datetime) -> tuple[str, _dt.date] | None:
    """A weekday or 'tomorrow'-like word in `text`, resolved against the time it was said."""
    m = _REL.search(text)
    if m:
        k = int(next(g for g, v in m.groupdict().items() if v)[1:])
        return m.group(0), said.date() + _dt.timedelta(days=k)
    m = _WD.search(text)
    if m:
        word = m.group(0)
        if len(word) <= 3 and not word[0].isupper():
            return None  # "sun", "sat", "wed" in lower case are usually words, not days
        k = int(next(g for g, v in m.groupdict().items() if v)[1:])
        ahead = (k - said.weekday()) % 7
        return word, said.date() + _dt.timedelta(days=ahead)
    return None


_MONTH_NUM = {}
for _k, _names in enumerate((
        "jan january januar enero января", "feb february februar febrero февраля",
        "mar march märz marzo марта", "apr april abril апреля", "may mai mayo мая",
        "jun june juni junio июня", "jul july juli julio июля", "aug august agosto августа",
        "sep sept september septiembre сентября", "oct october oktober octubre октября",
        "nov november noviembre ноября", "dec december dezember diciembre декабря"), 1):
    for _n in _names.split():
        _MONTH_NUM[_n] = _k
_EXPLICIT = re.compile(
    r"\b(?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"|(?P<d2>\d{1,2})(?:st|nd|rd|th|\.)?\s+(?:de\s+)?(?P<mn>" + MONTHS + r")"
    r"|(?P<mn2>" + MONTHS + r")\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?)(?!\w)", re.I)


def explicit_date(text: str, said: _dt.datetime) -> tuple[str, _dt.date] | None:
    """The first written-out date ('14 June', 'June 14th', '2024-06-14', '14. Juni',
    '14 de junio', '14 июня'); the year, when missing, is the one that puts it nearest ahead."""
    for m in _EXPLICIT.finditer(text):
        try:
            if m.group("y"):
                return m.group(0), _dt.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
            name = (m.group("mn") or m.group("mn2")).lower()
            month = _MONTH_NUM.get(name) or _MONTH_NUM.get(name[:3])
            day = int(m.group("d2") or m.group("d3"))
            when = _dt.date(said.year, month, day)
            if (said.date() - when).days > 300:
                when = _dt.date(said.year + 1, month, day)
            return m.group(0), when
        except (TypeError, ValueError):
            continue
    return None


def date_mentions(text: str, said: _dt.datetime) -> tuple[list[str], str | None]:
    """(the date/time/place expressions found, a note resolving the first date named: a
    written-out date, else a weekday or 'tomorrow' counted from when the message was sent)."""
    found = [m.group(0) for m in DATE_EXPR.finditer(text)]
    found += [m.group(0) for m in TIME_EXPR.finditer(text)]
    note = None
    ed = explicit_date(text, said)
    rd = None if ed else resolve_day(text, said)
    if ed:
        note = f"{ed[0]} = {ed[1]:%a %d %b %Y}"
    if rd:
        found.append(rd[0])
        note = f"{rd[0]} = {rd[1]:%a %d %b %Y}"
    if PLACE.search(text):
        found.append("place")
    return found, note


def links(text: str) -> list[str]:
    return [u.rstrip(".,;:!?") for u in URL.findall(text)]
