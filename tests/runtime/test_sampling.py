"""Sampling functions vs transformers' logits processors (an independent implementation), and
the sampler's statistics and determinism."""
from __future__ import annotations

import numpy as np
import pytest

from clavis import ClavisError
from clavis.runtime import sampling as S

import torch
import transformers.generation.logits_process as gen_utils

SEED = 99


def _logits(n=200, seed=SEED):
    return (np.random.default_rng(seed).standard_normal(n) * 3).astype(np.float32)


def _kept(x):
    return set(np.flatnonzero(np.isfinite(x)).tolist())


def _hf(proc, logits, ids=None):
    ids = torch.tensor([ids or [0]])
    return proc(ids, torch.tensor(logits[None]).clone())[0].numpy()


@pytest.mark.parametrize("k", [1, 5, 40, 199])
def test_top_k_matches_transformers(k):
    x = _logits()
    ref = _hf(gen_utils.TopKLogitsWarper(top_k=k), x)
    assert _kept(S.top_k(x, k)) == _kept(ref) and len(_kept(ref)) == k


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 0.95])
def test_top_p_matches_transformers(p):
    x = _logits()
    ref = _hf(gen_utils.TopPLogitsWarper(top_p=p), x)
    assert _kept(S.top_p(x, p)) == _kept(ref)


@pytest.mark.parametrize("p", [0.01, 0.05, 0.3])
def test_min_p_matches_transformers(p):
    x = _logits()
    ref = _hf(gen_utils.MinPLogitsWarper(min_p=p), x)
    assert _kept(S.min_p(x, p)) == _kept(ref)


@pytest.mark.parametrize("penalty", [0.8, 1.3])
def test_repetition_penalty_matches_transformers(penalty):
    x = _logits()
    prev = [3, 7, 7, 150, 42]
    ref = _hf(gen_utils.RepetitionPenaltyLogitsProcessor(penalty=penalty), x, prev)
    np.testing.assert_allclose(S.repetition_penalty(x, prev, penalty), ref, rtol=1e-6)


def test_greedy_and_temperature_zero():
    x = _logits()
    params = S.SamplingParams(temperature=0)
    assert S.sample(x, params, np.random.default_rng(0)) == int(np.argmax(x)) == S.greedy(x)


def test_sample_frequencies_follow_softmax():
    x = _logits(8)
    params = S.SamplingParams(temperature=0.7, top_k=0, top_p=1.0, min_p=0.0, seed=1)
    rng = np.random.default_rng(SEED)
    n = 20000
    counts = np.bincount([S.sample(x, params, rng) for _ in range(n)], minlength=8)
    p = torch.softmax(torch.tensor(x) / 0.7, 0).numpy()
    # 5 sigma of a binomial count: fails only on a real bug, not by chance
    assert np.all(np.abs(counts - n * p) <= 5 * np.sqrt(n * p * (1 - p)) + 1), (counts, n * p)


def test_filters_only_sample_allowed_tokens():
    x = _logits()
    params = S.SamplingParams(temperature=1.5, top_k=5, top_p=1.0, min_p=0.0)
    allowed = _kept(S.top_k(x, 5))
    rng = np.random.default_rng(SEED)
    assert {S.sample(x, params, rng) for _ in range(500)} <= allowed


def test_seed_is_reproducible():
    x = _logits()
    params = S.SamplingParams(temperature=1.0)
    a = [S.sample(x, params, np.random.default_rng(5)) for _ in range(3)]
    b = [S.sample(x, params, np.random.default_rng(5)) for _ in range(3)]
    assert a == b


@pytest.mark.parametrize("kw", [dict(temperature=-1), dict(top_p=0), dict(top_p=1.5),
                                dict(min_p=1.0), dict(top_k=-2), dict(repeat_penalty=0)])
def test_bad_params_are_clavis_errors(kw):
    with pytest.raises(ClavisError):
        S.SamplingParams(**kw)


@pytest.mark.parametrize("n", [1, 5, 16, 17, 100, 4096, 128256 + 3])
def test_argmax_matches_numpy(n):
    """The C argmax (two vector passes, groups of 16) against NumPy: first index of the maximum,
    wherever it lies (a group, the tail), ties to the lowest index, NaN never wins."""
    from clavis.kernels import _C
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    assert _C.argmax_f32(x) == int(np.argmax(x))
    for pos in {0, n // 2, n - 1}:            # the maximum at the start, middle and in the tail
        y = x.copy()
        y[pos] = 100.0
        assert _C.argmax_f32(y) == pos
        if n > 1:                             # a tie: the lower index wins
            y[n - 1 - (pos == n - 1)] = 100.0
            assert _C.argmax_f32(y) == min(pos, n - 1 - (pos == n - 1))
    y = x.copy()
    y[::3] = np.nan                           # NaN is below everything
    finite = np.where(np.isnan(y), -np.inf, y)
    assert _C.argmax_f32(y) == int(np.argmax(finite))
    assert _C.argmax_f32(np.full(n, -np.inf, np.float32)) == 0
    assert _C.argmax_f32(np.full(n, np.nan, np.float32)) == 0
