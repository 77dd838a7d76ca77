"""Classical text ranking with NumPy only: TF-IDF vectors, TextRank-style centrality over the
conversation graph (neighbouring messages and replies), MMR for diverse selection, and topic
grouping of the selected points."""
from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np

_WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
STOPWORDS = set("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just let lets me
more most my myself no nor not now of off on once only or other our ours ourselves out over own same
she should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves yes ok okay yeah yep lol haha hahaha omg also got get gonna
one really think know like just sure well still maybe thanks thank hi hey guys im i'm it's that's
don't dont can't cant ill i'll we'll you're youre we're there's what's oh ah right good great nice
der die das und ist nicht ich du er sie es wir ihr ein eine einen dem den des zu mit auf für von
im in an am auch noch schon aber oder wie was wer wo ja nein doch mal hier dann so nur bei aus
el la los las un una y o que de en es no si por para con se lo le me mi tu te su al del ya muy
pero como más hay está esto eso sí bien
и в не на я что с он а то это как по но к у же ты вы мы из за да нет так все всё был она они
""".split())


def tokens(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text.lower()):
        w = w.strip("'’-")
        if w.endswith(("'s", "’s")):
            w = w[:-2]
        if len(w) < 2 or w in STOPWORDS or w.startswith("http"):
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]  # crude plural folding (english/spanish)
        out.append(w)
    return out


def tfidf(docs: list[list[str]], max_terms: int = 4000) -> tuple[np.ndarray, list[str]]:
    """L2-normalised TF-IDF rows (sublinear tf) over terms seen in at least two messages."""
    df = Counter(t for d in docs for t in set(d))
    vocab = [t for t, c in df.most_common(max_terms) if c >= 2]
    index = {t: i for i, t in enumerate(vocab)}
    n = len(docs)
    x = np.zeros((n, len(vocab)), dtype=np.float32)
    idf = np.array([math.log((n + 1) / (df[t] + 1)) + 1.0 for t in vocab], dtype=np.float32)
    for r, d in enumerate(docs):
        for t, c in Counter(d).items():
            j = index.get(t)
            if j is not None:
                x[r, j] = 1.0 + math.log(c)
    if vocab:
        x *= idf
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x /= np.maximum(norms, 1e-12)
    return x, vocab


def centrality(x: np.ndarray, replies: list[tuple[int, int]], window: int = 40,
               damping: float = 0.85, iters: int = 40) -> np.ndarray:
    """PageRank over a graph whose edges are cosine similarities between messages at most
    `window` positions apart (a conversation's topics are local), plus reply edges."""
    n = x.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    rows, cols, wts = [], [], []
    for d in range(1, min(window, n - 1) + 1):
        s = np.einsum("ij,ij->i", x[:-d], x[d:])
        keep = np.nonzero(s > 0.05)[0]
        rows += [keep, keep + d]
        cols += [keep + d, keep]
        wts += [s[keep], s[keep]]
    for a, b in replies:
        rows += [np.array([a]), np.array([b])]
        cols += [np.array([b]), np.array([a])]
        wts += [np.array([0.5]), np.array([0.5])]
    if not rows:
        return np.full(n, 1.0 / n, dtype=np.float32)
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(wts).astype(np.float64)
    out_w = np.bincount(r, weights=w, minlength=n)
    norm_w = w / np.maximum(out_w[r], 1e-12)
    dangling = out_w == 0
    p = np.full(n, 1.0 / n)
    for _ in range(iters):
        spread = np.bincount(c, weights=p[r] * norm_w, minlength=n)
        p = (1 - damping) / n + damping * (spread + p[dangling].sum() / n)
    return p.astype(np.float32)


def mmr(scores: np.ndarray, x: np.ndarray, k: int, lam: float = 0.7,
        candidates: list[int] | None = None) -> list[int]:
    """Maximal marginal relevance: pick k items trading score against similarity to those
    already picked."""
    cand = list(range(len(scores))) if candidates is None else list(candidates)
    if not cand:
        return []
    s = scores[cand].astype(np.float64)
    s = (s - s.min()) / (s.max() - s.min() + 1e-12)
    chosen: list[int] = []
    best_sim = np.zeros(len(cand))
    for _ in range(min(k, len(cand))):
        val = lam * s - (1 - lam) * best_sim
        if chosen:
            val[[cand.index(c) for c in chosen]] = -np.inf
        j = int(np.argmax(val))
        chosen.append(cand[j])
        best_sim = np.maximum(best_sim, x[cand] @ x[cand[j]] if x.shape[1] else 0.0)
    return chosen


def topics(selected: list[int], x: np.ndarray, vocab: list[str], context: int = 3,
           threshold: float = 0.2, exclude: frozenset = frozenset()) -> list[tuple[str, list[int]]]:
    """Group selected message indexes into topics by the TF-IDF of their surrounding
    conversation; a topic's label is the top terms of its centroid (3+ letters, not in
    `exclude`, e.g. the people's names)."""
    if not selected:
        return []
    n = x.shape[0]
    ctx = []
    for i in selected:
        v = x[max(0, i - context): min(n, i + context + 1)].sum(axis=0) + 2 * x[i]
        ctx.append(v / max(float(np.linalg.norm(v)), 1e-12))
    groups: list[list[int]] = []
    cents: list[np.ndarray] = []
    for pos, i in enumerate(selected):
        sims = [float(c @ ctx[pos]) / max(float(np.linalg.norm(c)), 1e-12) for c in cents]
        if sims and max(sims) >= threshold:
            g = int(np.argmax(sims))
            groups[g].append(i)
            cents[g] = cents[g] + ctx[pos]
        else:
            groups.append([i])
            cents.append(ctx[pos].copy())
    out = []
    for g, c in zip(groups, cents):
        top = []
        for j in np.argsort(-c)[:12] if len(vocab) else []:
            if c[j] > 0 and len(vocab[j]) >= 3 and vocab[j] not in exclude and len(top) < 3:
                top.append(vocab[j])
        out.append((", ".join(top) or "other", sorted(g)))
    return out
