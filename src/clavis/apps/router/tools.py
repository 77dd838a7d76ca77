"""Offline tools the router may use: a clock that knows the date, weekday and time zones.

Time zones come from the system's IANA database through `zoneinfo` (no network). A place named
in the question ("what time is it in Tokyo?", "Который час в Москве?") is looked up among the
zone names and a small table of city names in several languages.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache

# Names a zone database key does not spell (other languages, cities that are not zone keys).
CITY_ALIASES = {
    "new york": "America/New_York", "nueva york": "America/New_York", "нью-йорк": "America/New_York",
    "нью-йорке": "America/New_York", "san francisco": "America/Los_Angeles",
    "washington": "America/New_York", "boston": "America/New_York", "seattle": "America/Los_Angeles",
    "london": "Europe/London", "londres": "Europe/London", "лондон": "Europe/London",
    "лондоне": "Europe/London", "londra": "Europe/London",
    "münchen": "Europe/Berlin", "munich": "Europe/Berlin", "munich ": "Europe/Berlin",
    "hamburg": "Europe/Berlin", "frankfurt": "Europe/Berlin", "köln": "Europe/Berlin",
    "wien": "Europe/Vienna", "vienne": "Europe/Vienna", "viena": "Europe/Vienna",
    "moskau": "Europe/Moscow", "moscou": "Europe/Moscow", "moscú": "Europe/Moscow",
    "москва": "Europe/Moscow", "москве": "Europe/Moscow",
    "санкт-петербург": "Europe/Moscow", "петербурге": "Europe/Moscow", "saint petersburg": "Europe/Moscow",
    "paris": "Europe/Paris", "париж": "Europe/Paris", "париже": "Europe/Paris", "parís": "Europe/Paris",
    "lyon": "Europe/Paris", "marseille": "Europe/Paris", "barcelona": "Europe/Madrid",
    "sevilla": "Europe/Madrid", "seville": "Europe/Madrid", "токио": "Asia/Tokyo", "tokio": "Asia/Tokyo",
    "pékin": "Asia/Shanghai", "peking": "Asia/Shanghai", "beijing": "Asia/Shanghai",
    "пекин": "Asia/Shanghai", "pekín": "Asia/Shanghai", "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata", "bombay": "Asia/Kolkata",
    "rome": "Europe/Rome", "roma": "Europe/Rome", "rom": "Europe/Rome", "milan": "Europe/Rome",
    "sydney": "Australia/Sydney", "сидней": "Australia/Sydney", "rio": "America/Sao_Paulo",
    "rio de janeiro": "America/Sao_Paulo", "são paulo": "America/Sao_Paulo",
    "lisboa": "Europe/Lisbon", "lisbonne": "Europe/Lisbon", "lissabon": "Europe/Lisbon",
    "berlín": "Europe/Berlin", "берлин": "Europe/Berlin", "берлине": "Europe/Berlin",
    "utc": "UTC", "gmt": "UTC",
}

_PLACE = re.compile(r"\b(?:in|at|à|a|en|im|в|во)\s+([^\s?!.,;:]+(?:[\s-][^\s?!.,;:]+)?)", re.IGNORECASE)


@lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    index = {}
    for key in zoneinfo.available_timezones():
        city = key.rsplit("/", 1)[-1].replace("_", " ").lower()
        index.setdefault(city, key)
    return index


def find_zone(question: str) -> tuple[str | None, str | None]:
    """The (place as written, IANA zone) named in a question, or (None, None)."""
    zones = _zone_index()
    for m in _PLACE.finditer(question):
        words = m.group(1)
        for cand in (words, words.split()[0] if " " in words else None):
            if not cand:
                continue
            key = cand.lower().strip("«»\"'")
            zone = CITY_ALIASES.get(key) or zones.get(key)
            if zone:
                return cand, zone
    return None, None


@dataclass
class ToolAnswer:
    text: str
    tool: str
    detail: str   # what the tool looked at, for --why


# Weekday and month names per language (no dependence on the system's installed locales).
_NAMES = {
    "en": ("Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
           "January February March April May June July August September October November December"),
    "de": ("Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag",
           "Januar Februar März April Mai Juni Juli August September Oktober November Dezember"),
    "es": ("lunes martes miércoles jueves viernes sábado domingo",
           "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"),
    "fr": ("lundi mardi mercredi jeudi vendredi samedi dimanche",
           "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"),
    "ru": ("понедельник вторник среда четверг пятница суббота воскресенье",
           "января февраля марта апреля мая июня июля августа сентября октября ноября декабря"),
}
_SAY = {"en": "It is {t} on {wd}, {d} {m} {y}", "de": "Es ist {t} Uhr am {wd}, {d}. {m} {y}",
        "es": "Son las {t} del {wd}, {d} de {m} de {y}", "fr": "Il est {t}, {wd} {d} {m} {y}",
        "ru": "Сейчас {t}, {wd}, {d} {m} {y} г."}
_LANG_HINTS = [("de", r"\b(wie|welche[rs]?|uhr|heute|ist es|spät)\b"),
               ("es", r"(¿|\bqu[ée]\b|\bhoy\b|\bhora\b|\bfecha\b)"),
               ("fr", r"\b(quelle|quel|heure|aujourd'hui|sommes)\b")]


def guess_language(question: str) -> str:
    if re.search(r"[а-яё]", question, re.IGNORECASE):
        return "ru"
    q = question.lower()
    for lang, rx in _LANG_HINTS:
        if re.search(rx, q):
            return lang
    return "en"


def say_time(local: dt.datetime, lang: str) -> str:
    days, months = (x.split() for x in _NAMES[lang])
    return _SAY[lang].format(t=f"{local:%H:%M}", wd=days[local.weekday()], d=local.day,
                             m=months[local.month - 1], y=local.year)


def clock(question: str, now: dt.datetime | None = None) -> ToolAnswer:
    """Answer a time/date/weekday question from the local clock, offline, in the question's
    language (English, German, Spanish, French, Russian; English otherwise)."""
    place, zone = find_zone(question)
    if now is None:
        now = dt.datetime.now(dt.timezone.utc)
    tz = zoneinfo.ZoneInfo(zone) if zone else None
    local = now.astimezone(tz) if tz else now.astimezone()
    where = f" — {place} ({zone})" if zone else f" ({local.tzname() or 'local time'})"
    lang = guess_language(question)
    text = f"{say_time(local, lang)}{where}. [{local.isoformat(timespec='seconds')}]"
    days = _days_until(question, local.date())
    if days is not None:
        name, n = days
        text = f"{n} day{'s' if n != 1 else ''} until {name} ({local:%d %B %Y} today{where})."
    detail = f"offline clock, zone {zone or 'system local'}, answer in '{lang}'"
    return ToolAnswer(text, "clock", detail)


def _easter(year: int) -> dt.date:
    # Anonymous Gregorian algorithm (Meeus/Jones/Butcher).
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


_HOLIDAYS = {
    "christmas": lambda y: dt.date(y, 12, 25), "weihnachten": lambda y: dt.date(y, 12, 25),
    "navidad": lambda y: dt.date(y, 12, 25), "noël": lambda y: dt.date(y, 12, 25),
    "new year": lambda y: dt.date(y + 1, 1, 1), "neujahr": lambda y: dt.date(y + 1, 1, 1),
    "нового года": lambda y: dt.date(y + 1, 1, 1), "año nuevo": lambda y: dt.date(y + 1, 1, 1),
    "easter": _easter, "ostern": _easter, "pascua": _easter, "pâques": _easter,
}


def _days_until(question: str, today: dt.date) -> tuple[str, int] | None:
    q = question.lower()
    for name, when in _HOLIDAYS.items():
        if name in q:
            day = when(today.year)
            if day < today:
                day = when(today.year + 1)
            return name.title(), (day - today).days
    return None
