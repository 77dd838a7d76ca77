"""Sampling as small pure functions on a logits row (f32[vocab]); `sample` chains them in
llama.cpp's default order: repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw.
Filters return logits with the removed entries set to -inf."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clavis import ClavisError


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    seed: int | None = None

    def __post_init__(self):
        if self.temperature < 0:
            raise ClavisError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ClavisError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.min_p < 1:
            raise ClavisError(f"min_p must be in [0, 1), got {self.min_p}")
        if self.top_k < 0:
            raise ClavisError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if self.repeat_penalty <= 0:
            raise ClavisError(f"repeat_penalty must be > 0, got {self.repeat_penalty}")


def greedy(logits: np.ndarray) -> int:
    return int(np.argmax(logits))


def repetition_penalty(logits: np.ndarray, prev_ids, penalty: float) -> np.ndarray:
    """CTRL-style: a seen token's positive logit is divided by `penalty`, a negative one multiplied."""
    if penalty == 1.0 or len(prev_ids) == 0:
        return logits
    out = logits.copy()
    ids = np.unique(np.asarray(prev_ids, dtype=np.int64))
    v = out[ids]
    out[ids] = np.where(v > 0, v / penalty, v * penalty)
    return out


def top_k(logits: np.ndarray, k: int) -> np.ndarray:
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = np.partition(logits, -k)[-k]
    return np.where(logits >= kth, logits, -np.inf).astype(np.float32)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / max(temperature, 1e-8)
    z -= np.max(z)
    p = np.exp(z)
    return p / p.sum()


def top_p(logits: np.ndarray, p: float) -> np.ndarray:
    """Keep the smallest set of most likely tokens whose probability reaches p (at least one)."""
    if p >= 1.0:
        return logits
    probs = softmax(logits)
    order = np.argsort(-probs, kind="stable")
    cum = np.cumsum(probs[order])
    n_keep = int(np.searchsorted(cum, p) + 1)
    keep = np.zeros(logits.shape, dtype=bool)
    keep[order[:n_keep]] = True
    return np.where(keep, logits, -np.inf).astype(np.float32)


def min_p(logits: np.ndarray, p: float) -> np.ndarray:
    """Drop tokens whose probability is below p times the top token's."""
    if p <= 0.0:
        return logits
    probs = softmax(logits)
    return np.where(probs >= p * probs.max(), logits, -np.inf).astype(np.float32)


def sample(logits: np.ndarray, params: SamplingParams, rng, prev_ids=()) -> int:
    """One token id from a logits row. With top-k on, the later filters and the draw work on
    the k candidates only (a 150k-token softmax per step would cost more than a small model's
    forward pass). rng: anything whose .random() draws uniformly from [0, 1) (random.Random,
    numpy's Generator); one draw per sampled token, by inverse CDF."""
    last = list(prev_ids)[-params.repeat_last_n:] if params.repeat_last_n else list(prev_ids)
    logits = repetition_penalty(np.asarray(logits, dtype=np.float32), last, params.repeat_penalty)
    if params.temperature == 0:
        return greedy(logits)
    k = params.top_k
    if 0 < k < logits.shape[-1]:
        idx = np.argpartition(logits, -k)[-k:]
        cand = logits[idx]
    else:
        idx, cand = None, logits
    cand = min_p(top_p(cand, params.top_p), params.min_p)
    probs = softmax(cand, params.temperature)
    cdf = np.cumsum(probs, dtype=np.float64)
    # u * total < total, so j < n; a zero-probability candidate is never drawn (side="right")
    j = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return int(idx[j]) if idx is not None else j
