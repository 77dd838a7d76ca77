"""Remove personal data from text before anything leaves the machine.

Redacted: e-mail addresses, phone numbers (international or local, with spaces, dots, dashes or
brackets, seven digits or more), and the names of people in the conversation: message `name`
fields, names given by the caller, and self-introductions ("my name is ...", "ich heiße ...",
"me llamo ...", "je m'appelle ...", "меня зовут ...").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A run of digits and separators that starts with + or a digit or '(' and holds >= 7 digits.
PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\(?\d[\d\s().\-/]{5,}\d(?![\w])")
_INTRO = re.compile(
    r"(?i:my name is|i am called|call me|ich hei(?:ß|ss)e|mein name ist|me llamo|mi nombre es"
    r"|je m'appelle|je m’appelle|mon nom est|меня зовут|моё имя|мое имя)\s+"
    r"([A-ZÀ-ÖØ-ÞА-ЯЁ][\w'-]+(?:\s+[A-ZÀ-ÖØ-ÞА-ЯЁ][\w'-]+)?)")


@dataclass
class Redaction:
    text: str
    found: list[tuple[str, str]] = field(default_factory=list)   # (kind, original)

    def summary(self) -> str:
        if not self.found:
            return "nothing personal found"
        kinds: dict[str, int] = {}
        for kind, _ in self.found:
            kinds[kind] = kinds.get(kind, 0) + 1
        return ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in kinds.items()) + " redacted"


def names_in(messages: list[dict]) -> set[str]:
    """Names of people found in a conversation: `name` fields and self-introductions."""
    names: set[str] = set()
    for m in messages:
        if isinstance(m.get("name"), str) and m["name"].strip():
            names.add(m["name"].strip())
        content = m.get("content")
        if isinstance(content, str):
            for match in _INTRO.finditer(content):
                names.update(_name_parts(match.group(1)))
    return names


def _name_parts(name: str) -> set[str]:
    parts = {name.strip()}
    parts.update(p for p in name.split() if len(p) > 1 and p[0].isupper())
    return parts


def _phone_digits(s: str) -> int:
    return sum(ch.isdigit() for ch in s)


def redact(text: str, names: set[str] | list[str] = ()) -> Redaction:
    found: list[tuple[str, str]] = []

    def sub_email(m):
        found.append(("e-mail", m.group(0)))
        return "[EMAIL]"

    def sub_phone(m):
        s = m.group(0)
        digits = _phone_digits(s)
        # Years ("1999-2004"), dates ("2024-05-01") and plain numbers are not phone numbers.
        bare = s.strip()
        if (digits < 7 or re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}", bare)
                or re.fullmatch(r"(1[5-9]|20)\d\d\s*-\s*(1[5-9]|20)\d\d", bare)):
            return s
        found.append(("phone number", s))
        return "[PHONE]"

    text = EMAIL.sub(sub_email, text)
    text = PHONE.sub(sub_phone, text)
    all_names = set()
    for n in names:
        all_names.update(_name_parts(n))
    for match in _INTRO.finditer(text):
        all_names.update(_name_parts(match.group(1)))
    for name in sorted(all_names, key=len, reverse=True):
        rx = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
        if rx.search(text):
            found.append(("name", name))
            text = rx.sub("[NAME]", text)
    return Redaction(text, found)
