"""Bullet summaries of a transcript in which every bullet cites the segments it rests on.

Extractive (no model): the transcript is split into sentences, each tied to the Whisper segments
its characters come from; sentences are scored by the classical frequency method (Luhn 1958 /
SumBasic: the mean normalised frequency of their content words, stop words excluded) with a
small bonus for the opening sentence; the best few are kept in spoken order.

With an LLM: the numbered segments go into the prompt, the model answers with bullets ending in
citations such as [2, 3]; bullets whose citations name no existing segment are dropped.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_SENT_END = re.compile(r"(?<=[.!?…。！？])\s+")
STOP = set("""a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves uh um yeah okay oh well also like get got go
going know let let's i'm it's that's there's don't can't we're you're they're i'll we'll gonna
really thing things one two""".split())


@dataclass
class Bullet:
    text: str
    segment_ids: list[int]
    spans: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Sentence:
    text: str
    segment_ids: list[int]


def sentences(segments) -> list[Sentence]:
    """Sentences of the joined transcript, each with the ids of the segments it overlaps."""
    text, ranges = "", []
    for s in segments:
        piece = s.text.strip()
        if not piece:
            continue
        if text:
            text += " "
        ranges.append((len(text), len(text) + len(piece), s.id))
        text += piece
    out, pos = [], 0
    for chunk in _SENT_END.split(text):
        start = text.find(chunk, pos)
        end = start + len(chunk)
        pos = end
        if not chunk.strip():
            continue
        ids = [sid for a, b, sid in ranges if a < end and b > start]
        out.append(Sentence(chunk.strip(), ids))
    return out


def extractive(segments, max_bullets: int = 5) -> list[Bullet]:
    sents = sentences(segments)
    if not sents:
        return []
    words = [[w.lower() for w in _WORD.findall(s.text)] for s in sents]
    content = [[w for w in ws if w not in STOP and len(w) > 1] for ws in words]
    freq = Counter(w for ws in content for w in ws)
    top = max(freq.values(), default=1)
    scores = []
    for i, ws in enumerate(content):
        score = sum(freq[w] / top for w in ws) / (len(ws) ** 0.5) if ws else 0.0
        if i == 0:
            score *= 1.1  # voice notes tend to open with the point
        scores.append(score)
    k = min(max_bullets, max(1, (len(sents) + 2) // 3))
    keep = sorted(sorted(range(len(sents)), key=lambda i: -scores[i])[:k])
    return [Bullet(sents[i].text, sents[i].segment_ids) for i in keep if scores[i] > 0 or k == 1]


# ---- the LLM path ----------------------------------------------------------------------------
SYSTEM = ("You summarise voice messages. Answer only with 2 to 5 bullet points, one per line, "
          "each starting with '- ' and ending with the numbers of the transcript segments it "
          "rests on in square brackets, like [2] or [1, 3]. Use only what the transcript says.")
_CITE = re.compile(r"\[\s*(\d+(?:\s*[,;–-]\s*\d+)*)\s*\]\s*$")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.*)$")


def llm_prompt(segments, clock) -> list[dict]:
    lines = [f"[{s.id + 1}] ({clock(s.start)}–{clock(s.end)}) {s.text.strip()}" for s in segments]
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Transcript segments:\n" + "\n".join(lines)
             + "\n\nBullet points with segment numbers:"}]


def parse_llm_bullets(answer: str, n_segments: int) -> tuple[list[Bullet], int]:
    """Bullets citing existing segments (1-based in the prompt) and how many were dropped."""
    out, dropped = [], 0
    for line in answer.splitlines():
        m = _BULLET.match(line)
        if not m:
            continue
        body = m.group(1).strip()
        c = _CITE.search(body)
        ids = []
        if c:
            for part in re.split(r"\s*[,;]\s*", c.group(1)):
                rng = re.split(r"\s*[–-]\s*", part)
                lo, hi = int(rng[0]), int(rng[-1])
                ids += [i - 1 for i in range(lo, min(hi, lo + 50) + 1) if 1 <= i <= n_segments]
            body = body[:c.start()].strip()
        if not ids or not body:
            dropped += 1
            continue
        out.append(Bullet(body, sorted(set(ids))))
    return out, dropped


def llm_bullets(llm, segments, clock, max_tokens: int = 300) -> tuple[list[Bullet], int, str]:
    gen = llm.chat(llm_prompt(segments, clock), max_tokens=max_tokens, temperature=0.2, seed=0)
    answer = "".join(gen)
    bullets, dropped = parse_llm_bullets(answer, len(segments))
    return bullets, dropped, answer
