"""The default digest engine: no model, classical ML and rules. Every point is a message of the
chat (quoted, never rewritten) with citations, so nothing can be invented."""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from clavis.apps.digest import rules
from clavis.apps.digest.model import Point
from clavis.apps.digest.textrank import centrality, mmr, tfidf, tokens, topics

CONTENT_KINDS = ("text", "voice", "media")


class Analysis:
    """Shared per-window state: content messages, their TF-IDF rows and centrality."""

    def __init__(self, msgs, me, my_ids):
        self.msgs = msgs
        self.me = me
        self.my_ids = my_ids
        self.content = [i for i, m in enumerate(msgs)
                        if m.author and m.kind in CONTENT_KINDS and (m.text or "").strip()]
        self.toks = [tokens(msgs[i].text) for i in self.content]
        self.x, self.vocab = tfidf(self.toks)
        self.pos = {i: k for k, i in enumerate(self.content)}
        id_pos = {m.id: self.pos[i] for i, m in enumerate(msgs) if i in self.pos}
        self.replies = [(id_pos[msgs[i].reply_to], self.pos[i]) for i in self.content
                        if msgs[i].reply_to in id_pos]
        self.replied = Counter(a for a, _ in self.replies)
        self.cent = centrality(self.x, self.replies)
        self.cent = self.cent / max(float(self.cent.max(initial=0.0)), 1e-12)

    def is_mine(self, i) -> bool:
        return self.me is not None and self.msgs[i].author == self.me

    def score(self, k: int) -> float:
        length = min(1.0, len(self.toks[k]) / 6.0)
        return float(self.cent[k]) * length * (1 + 0.5 * math.log1p(self.replied[k]))

    def support(self, k: int, limit: int = 2) -> list:
        """Neighbouring messages by others that say much the same: extra citations."""
        i = self.content[k]
        out = []
        for j in range(max(0, k - 5), min(len(self.content), k + 6)):
            if j != k and self.msgs[self.content[j]].author != self.msgs[i].author \
                    and float(self.x[j] @ self.x[k]) >= 0.3:
                out.append(self.msgs[self.content[j]].id)
        return out[:limit]


def main_points(a: Analysis, k_max: int = 12) -> list[Point]:
    cand = [k for k in range(len(a.content)) if not a.is_mine(a.content[k]) and len(a.toks[k]) >= 3]
    if not cand:
        return []
    k = max(3, min(k_max, round(math.sqrt(len(a.content)) / 1.5)))
    scores = np.array([a.score(j) for j in range(len(a.content))], dtype=np.float32)
    chosen = mmr(scores, a.x, k, candidates=cand)
    out = []
    names = frozenset(t for who in {m.author for m in a.msgs if m.author} | {a.me or ""} for t in tokens(who))
    for label, group in sorted(topics(chosen, a.x, a.vocab, exclude=names), key=lambda t: t[1][0]):
        for j in group:
            m = a.msgs[a.content[j]]
            out.append(Point(m.text, [m.id] + a.support(j), topic=label))
    return out


def _agreements(a: Analysis) -> dict[int, list]:
    """content position -> ids of short agreements ("ok", "👍", "sounds good") by other people
    that follow it, each agreement credited to the nearest earlier non-agreement message."""
    out: dict[int, list] = defaultdict(list)
    authors: dict[int, set] = defaultdict(set)
    target = None
    for k, i in enumerate(a.content):
        m = a.msgs[i]
        if not rules.is_agreement(m.text):
            target = k if len(a.toks[k]) >= 2 else None
            continue
        if target is not None and k - target <= 8 and m.author != a.msgs[a.content[target]].author \
                and m.author not in authors[target]:
            authors[target].add(m.author)
            out[target].append(m.id)
    return out


def decisions(a: Analysis, cap: int = 12) -> tuple[list[Point], int]:
    agreed = _agreements(a)
    found = {}
    for k, i in enumerate(a.content):
        score = rules.decision_score(a.msgs[i].text)
        agree = agreed.get(k, []) if len(agreed.get(k, [])) >= 2 else []
        if score or agree:
            found[k] = (score + len(agree), agree)
    # the same decision restated: keep the latest
    keys = sorted(found)
    keep = [k for n, k in enumerate(keys)
            if not any(float(a.x[k] @ a.x[j]) > 0.6 for j in keys[n + 1:] if a.x.shape[1])]
    keep.sort(key=lambda k: (-found[k][0], -k))
    dropped = max(0, len(keep) - cap)
    out = []
    for k in sorted(keep[:cap]):
        m = a.msgs[a.content[k]]
        agree = found[k][1]
        note = f"{len(agree)} agreed" if agree else None
        out.append(Point(m.text, [m.id] + agree[:3], note=note))
    return out, dropped


def for_you(a: Analysis, cap: int = 25) -> tuple[list[Point], int]:
    if a.me is None:
        return [], 0
    pat = rules.name_pattern(a.me)
    others = {w for m in a.msgs if m.author and m.author != a.me for w in m.author.split()[:1] if len(w) >= 3}
    other_pat = rules.names_pattern(others)
    out = []
    last_mine = None
    for i, m in enumerate(a.msgs):
        if m.author == a.me:
            last_mine = i
            continue
        if not m.author or m.kind not in CONTENT_KINDS or not m.text:
            continue
        why = None
        if m.reply_to is not None and m.reply_to in a.my_ids:
            why = "reply to you"
        elif pat.search(m.text):
            why = "question" if rules.is_question(m.text) else "request" if rules.REQUEST.search(m.text) else "mention"
        elif last_mine is not None and i - last_mine <= 2 and rules.is_question(m.text) \
                and rules.SECOND_PERSON.search(m.text) and not (other_pat and other_pat.search(m.text)) \
                and (m.time - a.msgs[last_mine].time).total_seconds() <= 1800:
            why = "question after your message"
        if why:
            later = any(n.author == a.me for n in a.msgs[i + 1:])
            out.append(Point(m.text, [m.id], note=why + (", you replied later" if later else "")))
    # what asks something of the reader first, then plain mentions; each group in time order
    out.sort(key=lambda p: p.note.startswith("mention"))
    return out[:cap], max(0, len(out) - cap)


def open_questions(a: Analysis, exclude: set, cap: int = 6) -> list[Point]:
    cand = [k for k, i in enumerate(a.content)
            if rules.is_question(a.msgs[i].text) and a.msgs[i].id not in exclude and not a.is_mine(i)
            and (len(a.toks[k]) >= 3 or rules.QUESTION_GROUP.search(a.msgs[i].text))]
    scores = np.array([a.score(k) + 0.1 for k in range(len(a.content))], dtype=np.float32)
    chosen = sorted(mmr(scores, a.x, cap, candidates=cand)) if cand else []
    return [Point(a.msgs[a.content[k]].text, [a.msgs[a.content[k]].id]) for k in chosen]


def dates(a: Analysis, cap: int = 15) -> tuple[list[Point], int]:
    found = {}
    for k, i in enumerate(a.content):
        m = a.msgs[i]
        exprs, note = rules.date_mentions(m.text, m.time)
        if exprs and (note or len(a.toks[k]) >= 2):  # "ok 4pm it is" adds nothing on its own
            found[k] = (len(exprs) + rules.decision_score(m.text), note)
    if not found:
        return [], 0
    scores = np.array([found.get(k, (0, None))[0] + a.score(k) for k in range(len(a.content))],
                      dtype=np.float32)
    chosen = sorted(mmr(scores, a.x, cap, lam=0.8, candidates=sorted(found)))
    out = [Point(a.msgs[a.content[k]].text, [a.msgs[a.content[k]].id], note=found[k][1]) for k in chosen]
    return out, len(found) - len(chosen)


def links(a: Analysis, cap: int = 30) -> tuple[list[Point], int]:
    first: dict[str, list] = {}
    context: dict[str, str] = {}
    for m in a.msgs:
        for url in rules.links(m.text or ""):
            first.setdefault(url, []).append(m.id)
            if url not in context:
                rest = " ".join(m.text.replace(url, " ").split())
                context[url] = rest[:100] + ("…" if len(rest) > 100 else "")
    out = []
    for u, ids in first.items():
        bits = [context[u]] if context[u] else []
        if len(ids) > 1:
            bits.append(f"shared {len(ids)}x")
        out.append(Point(u, ids[:3], note=", ".join(bits) or None))
    return out[:cap], max(0, len(out) - cap)


def activity(msgs) -> list[Point]:
    per = defaultdict(Counter)
    for m in msgs:
        if m.author:
            per[m.author][m.kind] += 1
    out = []
    for author, c in sorted(per.items(), key=lambda kv: -sum(kv[1].values())):
        extra = [f"{c[k]} {w}" + ("s" if k == "voice" and c[k] != 1 else "")
                 for k, w in (("media", "media"), ("voice", "voice note"), ("deleted", "deleted")) if c[k]]
        total = sum(c.values())
        out.append(Point(f"{author}: {total} message{'s' if total != 1 else ''}"
                         + (f" ({', '.join(extra)})" if extra else "")))
    return out


def build(msgs, me, my_ids) -> tuple[dict, list[str]]:
    """All sections for the window `msgs`; returns (sections, notes about what was left out)."""
    a = Analysis(msgs, me, my_ids)
    notes = []
    dec, n_dec = decisions(a)
    you, n_you = for_you(a)
    dts, n_dts = dates(a)
    lnk, n_lnk = links(a)
    for n, what in ((n_dec, "decisions"), (n_you, "messages for you"), (n_dts, "messages with dates"),
                    (n_lnk, "links")):
        if n:
            notes.append(f"{n} more {what} not listed (lower ranked)")
    untranscribed = sum(1 for m in msgs if m.kind == "voice" and not (m.text or "").strip())
    if untranscribed:
        notes.append(f"{untranscribed} voice note(s) not transcribed (give --whisper MODEL with a .zip export)")
    sections = {
        "main_points": main_points(a),
        "decisions": dec,
        "for_you": you,
        "open_questions": open_questions(a, {p.cites[0] for p in you}),
        "dates": dts,
        "links": lnk,
        "activity": activity(msgs),
    }
    return sections, notes
