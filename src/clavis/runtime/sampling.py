"""Sampling as small pure functions on a logits row (f32[vocab]); `sample` chains them in
llama.cpp's default order: repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw.
Filters return logits with the removed entries set to -inf.

`sample` takes any float32 buffer (a memoryview from the runtime, a NumPy array) and needs no
NumPy for greedy decoding or with top-k on (the default): the candidates come from C
(argmax_f32, top_k_f32), best first, and the rest runs on those k values in Python. With top-k
off (k = 0) the whole row goes through the NumPy filters below."""
from __future__ import annotations

import bisect
import math
import struct
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clavis import ClavisError
from clavis.kernels import _C

if TYPE_CHECKING:
    import numpy as np


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


def greedy(logits: "np.ndarray") -> int:
    import numpy as np
    return int(np.argmax(logits))


def repetition_penalty(logits: "np.ndarray", prev_ids, penalty: float) -> "np.ndarray":
    """CTRL-style: a seen token's positive logit is divided by `penalty`, a negative one multiplied."""
    import numpy as np
    if penalty == 1.0 or len(prev_ids) == 0:
        return logits
    out = logits.copy()
    ids = np.unique(np.asarray(prev_ids, dtype=np.int64))
    v = out[ids]
    out[ids] = np.where(v > 0, v / penalty, v * penalty)
    return out


def top_k(logits: "np.ndarray", k: int) -> "np.ndarray":
    import numpy as np
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    kth = np.partition(logits, -k)[-k]
    return np.where(logits >= kth, logits, -np.inf).astype(np.float32)


def softmax(logits: "np.ndarray", temperature: float = 1.0) -> "np.ndarray":
    import numpy as np
    z = logits.astype(np.float64) / max(temperature, 1e-8)
    z -= np.max(z)
    p = np.exp(z)
    return p / p.sum()


def top_p(logits: "np.ndarray", p: float) -> "np.ndarray":
    """Keep the smallest set of most likely tokens whose probability reaches p (at least one)."""
    import numpy as np
    if p >= 1.0:
        return logits
    probs = softmax(logits)
    order = np.argsort(-probs, kind="stable")
    cum = np.cumsum(probs[order])
    n_keep = int(np.searchsorted(cum, p) + 1)
    keep = np.zeros(logits.shape, dtype=bool)
    keep[order[:n_keep]] = True
    return np.where(keep, logits, -np.inf).astype(np.float32)


def min_p(logits: "np.ndarray", p: float) -> "np.ndarray":
    """Drop tokens whose probability is below p times the top token's."""
    import numpy as np
    if p <= 0.0:
        return logits
    probs = softmax(logits)
    return np.where(probs >= p * probs.max(), logits, -np.inf).astype(np.float32)


def sample(logits, params: SamplingParams, rng, prev_ids=()) -> int:
    """One token id from a logits row (a 1-D float32 buffer). With top-k on, the later filters
    and the draw work on the k candidates only (a 150k-token softmax per step would cost more
    than a small model's forward pass). rng: anything whose .random() draws uniformly from
    [0, 1) (random.Random, numpy's Generator); one draw per sampled token, by inverse CDF over
    the candidates best first."""
    row = _f32_row(logits)
    last = list(prev_ids)[-params.repeat_last_n:] if params.repeat_last_n else list(prev_ids)
    if params.repeat_penalty != 1.0 and last:
        row = _penalized(row, last, params.repeat_penalty)
    if params.temperature == 0:
        return _C.argmax_f32(row)
    k, n = params.top_k, len(row)
    if not 0 < k < n:
        return _sample_all(row, params, rng)
    ids = _C.top_k_f32(row, k)
    return _draw(ids, [float(row[i]) for i in ids], params, rng)


def _f32_row(logits):
    """A 1-D float32 view of a logits row (no copy when it is a float32 buffer)."""
    try:
        mv = memoryview(logits)
    except TypeError:                   # a list of numbers
        return memoryview(array("f", logits))
    if mv.format not in ("f", "<f", "=f") or not mv.c_contiguous:
        import numpy as np
        mv = memoryview(np.ascontiguousarray(logits, dtype=np.float32))
    return mv.cast("B").cast("f") if mv.ndim != 1 or mv.format != "f" else mv


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _penalized(row, prev_ids, penalty: float) -> array:
    """repetition_penalty() on a copy, in float32 arithmetic (an f32 result of a double op on
    f32 operands is the f32 op's result: exact for * and /)."""
    out = array("f")
    out.frombytes(row.cast("B"))
    p = _f32(penalty) or penalty        # a penalty below f32's range stays a double
    for i in set(int(t) for t in prev_ids):
        if 0 <= i < len(out):
            v = out[i]
            out[i] = v / p if v > 0 else v * p
    return out


def _draw(ids: list, vals: list, params: SamplingParams, rng) -> int:
    """top-p, min-p, temperature and the draw over candidates sorted best first (the filters'
    semantics as top_p/min_p/softmax, in double precision)."""
    n = next((j for j, v in enumerate(vals) if v != v), len(vals))   # NaN sorts last: cut it
    ids, vals = ids[:max(n, 1)], vals[:max(n, 1)]
    m = vals[0]
    if m in (math.inf, -math.inf) or m != m:   # +inf wins outright; nothing finite: the best
        return int(ids[0])
    if params.top_p < 1.0 or params.min_p > 0.0:
        e = [math.exp(v - m) for v in vals]
        tot = sum(e)
        keep = len(vals)
        if params.top_p < 1.0:          # the shortest prefix whose probability reaches p
            cum = 0.0
            for j, x in enumerate(e):
                cum += x / tot
                if cum >= params.top_p:
                    keep = j + 1
                    break
            e = e[:keep]
            tot = sum(e)
        if params.min_p > 0.0:          # probability >= min_p x the top one's (a prefix)
            thr = params.min_p * (e[0] / tot)
            keep = max(1, sum(1 for x in e if x / tot >= thr))
        ids, vals = ids[:keep], vals[:keep]
    t = max(params.temperature, 1e-8)
    z = [v / t for v in vals]
    zm = z[0]
    cdf, acc = [], 0.0
    for x in z:
        acc += math.exp(x - zm)
        cdf.append(acc)
    # u * total < total, so j < len; a zero-weight candidate is never drawn (bisect_right)
    j = bisect.bisect_right(cdf, rng.random() * cdf[-1])
    return int(ids[min(j, len(ids) - 1)])


def _sample_all(row, params: SamplingParams, rng) -> int:
    """Top-k off: the filters over the whole row (NumPy), candidates best first."""
    import numpy as np
    logits = np.asarray(row, dtype=np.float32)
    logits = np.where(np.isnan(logits), np.float32(-np.inf), logits)   # as _draw: NaN never wins
    if np.isposinf(logits).any():                                      # +inf wins outright
        return int(np.argmax(logits))
    order = np.argsort(-logits, kind="stable")
    cand = min_p(top_p(logits[order], params.top_p), params.min_p)
    probs = softmax(cand, params.temperature)
    cdf = np.cumsum(probs, dtype=np.float64)
    j = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return int(order[min(j, len(order) - 1)])
