"""clavis.kernels.ops: every variant the CPU supports against the scalar reference and against an
independent implementation (PyTorch / transformers / gguf-py), on shapes with partial SIMD tails.

Tolerances are derived from the size of the reduction and the magnitudes involved (u = 2^-24 is
float32's unit roundoff), not picked until green. The base seed is printed; replay a failure
with CLAVIS_TEST_SEED=<seed>.
"""
from __future__ import annotations

import math
import os
import warnings
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gguf import GGMLQuantizationType as GT
from gguf import quants
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

import clavis.kernels as K
from clavis import ClavisError
from clavis.kernels import ops

SEED = int(os.environ.get("CLAVIS_TEST_SEED", "20261128"))
U = 2.0 ** -24          # float32 unit roundoff
ERF_ABS = 1.5e-7        # |error| of the SIMD erf (Abramowitz & Stegun 7.1.26)
LENGTHS = [1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 257, 1029]   # every tail of 4, 8 and 16 lanes


@pytest.fixture(scope="module", autouse=True)
def _print_seed():
    print(f"\ntest_ops: CLAVIS_TEST_SEED={SEED}")


def rng_for(*key) -> np.random.Generator:
    """A generator for one test case: the base seed plus a stable hash of the case's key."""
    return np.random.default_rng([SEED, *[zlib.crc32(str(k).encode()) for k in key]])


def variants(op: str) -> list[str]:
    v = K.variants(op)
    assert v[-1] == "scalar"
    return v


def run_all(op: str, fn):
    """{variant: fn()} for every variant of op runnable here."""
    out = {}
    for v in variants(op):
        with K.use_variant(op, v):
            out[v] = fn()
    return out


def check(got, ref, bound, what):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    err = np.abs(got - ref)
    bad = err > bound
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} values off; worst error "
                           f"{err.max():.3g} vs bound {np.broadcast_to(bound, err.shape)[bad].min():.3g} "
                           f"(CLAVIS_TEST_SEED={SEED})")


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ---------------------------------------------------------------------------- norms


@pytest.mark.parametrize("k", LENGTHS)
def test_rms_norm(k):
    r = rng_for("rms", k)
    x = (r.standard_normal((5, k)) * r.uniform(0.1, 10)).astype(np.float32)
    w = r.standard_normal(k).astype(np.float32)
    xt = t(x).double()
    ref = (xt * torch.rsqrt(xt.pow(2).mean(-1, keepdim=True) + 1e-6) * t(w).double()).numpy()
    bound = np.abs(ref) * ((k + 8) * U) + 1e-30
    res = run_all("rms_norm", lambda: ops.rms_norm(x, w, 1e-6))
    for v, y in res.items():
        check(y, ref, bound, f"rms_norm[{v}] k={k} vs torch")
        check(y, res["scalar"], 2 * bound, f"rms_norm[{v}] k={k} vs scalar")
    # the weight is optional (Whisper-style callers and tests)
    check(ops.rms_norm(x, None, 1e-6), ref / w.astype(np.float64), np.abs(ref / w) * (k + 8) * U + 1e-30,
          "rms_norm without weight")


@pytest.mark.parametrize("k", LENGTHS[1:])
def test_layer_norm(k):
    r = rng_for("ln", k)
    x = (r.standard_normal((4, k)) * 3 + r.uniform(-5, 5)).astype(np.float32)
    w, b = r.standard_normal(k).astype(np.float32), r.standard_normal(k).astype(np.float32)
    ref = F.layer_norm(t(x).double(), (k,), t(w).double(), t(b).double(), 1e-5).numpy()
    xn = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)
    # mean/variance sums of k terms; then one subtract, multiply, multiply, add
    bound = (np.abs(xn * w) * ((k + 8) * U) + np.abs(b) * 2 * U
             + (np.abs(x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)) * np.abs(w) * 4 * U)
    res = run_all("layer_norm", lambda: ops.layer_norm(x, w, b, 1e-5))
    for v, y in res.items():
        check(y, ref, bound, f"layer_norm[{v}] k={k} vs torch")
        check(y, res["scalar"], 2 * bound, f"layer_norm[{v}] k={k} vs scalar")


# ---------------------------------------------------------------------------- softmax, activations


@pytest.mark.parametrize("k", LENGTHS)
def test_softmax(k):
    r = rng_for("softmax", k)
    x = (r.standard_normal((6, k)) * 8).astype(np.float32)
    x[0, : max(1, k // 3)] = -1e30   # masked-out entries must give exact zeros
    ref = torch.softmax(t(x).double(), -1).numpy()
    dist = np.abs(x.astype(np.float64) - x.max(-1, keepdims=True))
    dist[dist > 1e20] = 0
    bound = ref * ((k + 8) * U + dist * U * 2) + 1e-30
    res = run_all("softmax", lambda: ops.softmax(x))
    for v, y in res.items():
        check(y, ref, bound, f"softmax[{v}] k={k} vs torch")
        check(y, res["scalar"], 2 * bound, f"softmax[{v}] k={k} vs scalar")
        assert (y[0, : max(1, k // 3)] == 0).all() or k == 1, f"softmax[{v}]: masked entries not 0"


@pytest.mark.parametrize("n", LENGTHS)
def test_gelu(n):
    r = rng_for("gelu", n)
    x = (r.standard_normal((3, n)) * 4).astype(np.float32)
    x[0, 0] = 0.0
    ref = F.gelu(t(x).double()).numpy()
    bound = np.abs(ref) * 8 * U + np.abs(x) * (0.5 * ERF_ABS + 4 * U) + 1e-30
    res = run_all("gelu", lambda: ops.gelu(x))
    for v, y in res.items():
        check(y, ref, bound, f"gelu[{v}] n={n} vs torch")
        check(y, res["scalar"], 2 * bound, f"gelu[{v}] n={n} vs scalar")


@pytest.mark.parametrize("n", LENGTHS)
def test_silu_mul(n):
    r = rng_for("silu", n)
    g = (r.standard_normal((2, n)) * 6).astype(np.float32)
    u = r.standard_normal((2, n)).astype(np.float32)
    ref = (F.silu(t(g).double()) * t(u).double()).numpy()
    # exp of |g| costs |g| u of relative error in sigmoid; then divide and multiply
    bound = np.abs(ref) * ((np.abs(g) + 10) * U) + 1e-30
    res = run_all("silu_mul", lambda: ops.silu_mul(g, u))
    for v, y in res.items():
        check(y, ref, bound, f"silu_mul[{v}] n={n} vs torch")
        check(y, res["scalar"], 2 * bound, f"silu_mul[{v}] n={n} vs scalar")


@pytest.mark.parametrize("n", LENGTHS)
def test_add_and_scale_are_exact(n):
    r = rng_for("add", n)
    a = r.standard_normal((3, n)).astype(np.float32)
    b = r.standard_normal((3, n)).astype(np.float32)
    row = r.standard_normal(n).astype(np.float32)
    for v in variants("add"):
        with K.use_variant("add", v):
            np.testing.assert_array_equal(ops.add(a, b), a + b, err_msg=f"add[{v}]")
            np.testing.assert_array_equal(ops.add(a, row), a + row, err_msg=f"add[{v}] broadcast")
    for v in variants("scale"):
        with K.use_variant("scale", v):
            np.testing.assert_array_equal(ops.scale(a, 0.37), a * np.float32(0.37), err_msg=f"scale[{v}]")


def test_elementwise_out_and_in_place():
    x = rng_for("inplace").standard_normal((4, 33)).astype(np.float32)
    ref = ops.gelu(x)
    y = x.copy()
    assert ops.gelu(y, out=y) is y
    np.testing.assert_array_equal(y, ref)
    y = x.copy()
    ops.softmax(y, out=y)
    np.testing.assert_array_equal(y, ops.softmax(x))


# ---------------------------------------------------------------------------- rope


def rope_ref_f64(x, pos, theta, neox, n_rot, ff=None):
    """RoPE in float64 with complex numbers (Meta's reference formulation for the pairs)."""
    T, H, D = x.shape
    half = n_rot // 2
    inv = theta ** (-np.arange(half, dtype=np.float64) * 2 / n_rot)
    if ff is not None:
        inv = inv / ff
    ang = pos[:, None].astype(np.float64) * inv[None, :]
    rot = np.exp(1j * ang)[:, None, :]
    y = x.astype(np.float64).copy()
    if neox:
        z = (y[..., :half] + 1j * y[..., half:n_rot]) * rot
        y[..., :half], y[..., half:n_rot] = z.real, z.imag
    else:
        z = (y[..., 0:n_rot:2] + 1j * y[..., 1:n_rot:2]) * rot
        y[..., 0:n_rot:2], y[..., 1:n_rot:2] = z.real, z.imag
    return y


@pytest.mark.parametrize("neox", [False, True])
@pytest.mark.parametrize("d,n_rot", [(64, 64), (128, 128), (80, 80), (96, 32), (6, 6), (34, 34)])
def test_rope_vs_reference(neox, d, n_rot):
    r = rng_for("rope", neox, d, n_rot)
    T, H = 9, 3
    x = r.standard_normal((T, H, d)).astype(np.float32)
    pos = r.integers(0, 5000, T).astype(np.int32)
    ref = rope_ref_f64(x, pos, 10000.0, neox, n_rot)
    # cos/sin rounded to float32 (2u each), two products and a sum
    bound = np.abs(x).max() * 8 * U
    res = run_all("rope", lambda: ops.rope(x.copy(), pos, 10000.0, neox, n_rot))
    for v, y in res.items():
        check(y, ref, bound, f"rope[{v}] neox={neox} d={d} n_rot={n_rot} vs float64")
        check(y, res["scalar"], 2 * bound, f"rope[{v}] vs scalar")
        np.testing.assert_array_equal(y[..., n_rot:], x[..., n_rot:], err_msg="dims past n_rot changed")


def test_rope_matches_transformers():
    """NeoX pairing == Hugging Face's apply_rotary_pos_emb with its float32 inv_freq."""
    r = rng_for("rope_hf")
    T, H, D, theta = 12, 4, 64, 500000.0
    x = r.standard_normal((T, H, D)).astype(np.float32)
    pos = np.arange(100, 100 + T, dtype=np.int32)
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    freqs = t(pos).float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), -1)
    qt = t(x).permute(1, 0, 2)[None]                       # [1, H, T, D]
    ref, _ = apply_rotary_pos_emb(qt, qt, emb.cos()[None], emb.sin()[None])
    ref = ref[0].permute(1, 0, 2).numpy()
    # transformers rounds pos * inv_freq to float32: an angle error up to pos * u per pair
    bound = np.abs(x).max() * (2 * pos.max() * U * 2 + 8 * U)
    for v in variants("rope"):
        with K.use_variant("rope", v):
            check(ops.rope(x.copy(), pos, theta, True), ref, bound, f"rope[{v}] vs transformers")


def test_rope_freq_factors_divide_the_frequencies():
    r = rng_for("rope_ff")
    x = r.standard_normal((5, 2, 32)).astype(np.float32)
    pos = np.array([0, 1, 7, 300, 8191], np.int32)
    ff = r.uniform(1.0, 8.0, 16).astype(np.float32)
    ref = rope_ref_f64(x, pos, 10000.0, False, 32, ff.astype(np.float64))
    for v in variants("rope"):
        with K.use_variant("rope", v):
            check(ops.rope(x.copy(), pos, 10000.0, False, freq_factors=ff), ref,
                  np.abs(x).max() * 8 * U, f"rope[{v}] with freq_factors")


# ---------------------------------------------------------------------------- attention


def attention_ref(q, k, v, n_kv, pos0, causal, scale):
    """Plain GQA attention in float64 torch: repeat KV heads, mask, softmax, weighted sum."""
    T, Hq, D = q.shape
    g = Hq // k.shape[0]
    kk = t(k[:, :n_kv].astype(np.float32)).double().repeat_interleave(g, 0)
    vv = t(v[:, :n_kv].astype(np.float32)).double().repeat_interleave(g, 0)
    qq = t(q).double().permute(1, 0, 2)
    s = qq @ kk.transpose(1, 2) * scale
    if causal:
        mask = torch.arange(n_kv)[None, :] > (pos0 + torch.arange(T))[:, None]
        s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, -1)
    return (p @ vv).permute(1, 0, 2).numpy(), p.permute(1, 0, 2).numpy(), s


def attention_bound(q, k, v, n_kv, scale):
    """|error| <= max|v| (n u + 2 max_j err(s_j) + 8u), err(s_j) = D u scale sum_i |q_i k_ji|."""
    kk = np.abs(k[:, :n_kv].astype(np.float64))
    g = q.shape[1] // k.shape[0]
    qa = np.abs(q.astype(np.float64))
    s_err = np.einsum("thd,hjd->thj", qa, np.repeat(kk, g, 0)) * scale * (q.shape[2] + 2) * U
    vmax = np.abs(v[:, :n_kv].astype(np.float64)).max()
    return vmax * (n_kv * U + 2 * s_err.max(-1, keepdims=True) + 8 * U)


CASES = [  # T, Hq, Hkv, D, S, n_kv, pos0, causal
    (1, 8, 2, 64, 300, 257, 256, True),      # decode, GQA 4
    (7, 8, 2, 64, 100, 50, 43, True),        # prefill chunk at an offset
    (16, 4, 4, 128, 64, 16, 0, True),        # prefill from 0, MHA
    (5, 14, 2, 64, 90, 90, 85, True),        # GQA 7 (Qwen2.5-0.5B)
    (3, 6, 1, 80, 40, 33, 30, False),        # MQA, D=80, non-causal
    (4, 2, 2, 7, 20, 20, 0, False),          # tiny head_dim (all tail)
    (2, 16, 1, 100, 150, 150, 148, True),    # 16 heads on one KV head
    (1, 4, 2, 64, 10, 0, 0, True),           # empty cache -> zeros
    # decode over more keys than one span of the two-pass path (4096): the running max and sum
    # carry over between spans
    (1, 14, 2, 64, 9000, 8700, 8699, True),  # GQA 7, three spans
    (1, 4, 4, 128, 5000, 4200, 4199, True),  # MHA, D=128, a short second span
    # many rows (rows-in-lanes path): several row blocks, a partial one, several key blocks
    (75, 8, 2, 64, 200, 150, 75, True),      # causal prefill at an offset, GQA 4
    (70, 6, 6, 64, 300, 300, 0, False),      # encoder-like, non-causal, 300 keys
    (33, 4, 1, 128, 90, 70, 37, True),       # D=128, MQA
    (40, 2, 1, 80, 130, 130, 0, True),       # D=80 (a partial 4-vector group), causal from 0
]


@pytest.mark.parametrize("cache", ["f32", "f16"])
@pytest.mark.parametrize("case", CASES)
def test_attention(case, cache):
    T, Hq, Hkv, D, S, n_kv, pos0, causal = case
    r = rng_for("att", case, cache)
    q = (r.standard_normal((T, Hq, D)) * 2).astype(np.float32)
    dt = np.float32 if cache == "f32" else np.float16
    k = r.standard_normal((Hkv, S, D)).astype(dt)
    v = r.standard_normal((Hkv, S, D)).astype(dt)
    scale = 1.0 / math.sqrt(D)
    res = run_all("attention", lambda: ops.attention(q, k, v, n_kv, pos0, causal, scale))
    if n_kv == 0:
        for name, y in res.items():
            assert (y == 0).all(), f"attention[{name}] over an empty cache must be 0"
        return
    ref, _, _ = attention_ref(q, k, v, n_kv, pos0, causal, scale)
    bound = attention_bound(q, k, v, n_kv, scale)
    for name, y in res.items():
        check(y, ref, bound, f"attention[{name}] {case} {cache} vs torch")
        check(y, res["scalar"], 2 * bound, f"attention[{name}] {case} {cache} vs scalar")


def test_attention_is_stable_with_huge_scores():
    """Scores of +-1e4 would overflow a naive exp; the online softmax must not."""
    r = rng_for("att_big")
    q = (r.standard_normal((3, 4, 32)) * 100).astype(np.float32)
    k = (r.standard_normal((2, 200, 32)) * 100).astype(np.float32)
    v = r.standard_normal((2, 200, 32)).astype(np.float32)
    ref, _, _ = attention_ref(q, k, v, 200, 197, True, 1.0)
    bound = attention_bound(q, k, v, 200, 1.0)
    for name, y in run_all("attention", lambda: ops.attention(q, k, v, 200, 197, True, 1.0)).items():
        assert np.isfinite(y).all(), f"attention[{name}] produced inf/nan"
        check(y, ref, bound, f"attention[{name}] huge scores")


def test_attention_threads_agree():
    r = rng_for("att_threads")
    q = r.standard_normal((33, 8, 64)).astype(np.float32)
    k = r.standard_normal((2, 64, 64)).astype(np.float32)
    v = r.standard_normal((2, 64, 64)).astype(np.float32)
    n0 = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = ops.attention(q, k, v, 64, 31, True, 0.125)
        K.set_num_threads(3)
        many = ops.attention(q, k, v, 64, 31, True, 0.125)
    finally:
        K.set_num_threads(n0)
    np.testing.assert_array_equal(one, many)


# ---------------------------------------------------------------------------- conv1d + gelu


@pytest.mark.parametrize("cin,cout,length,stride", [(80, 64, 300, 1), (64, 64, 300, 2), (5, 7, 19, 1),
                                                    (3, 33, 40, 2), (16, 4, 1, 1), (200, 19, 45, 2)])
def test_conv1d_gelu(cin, cout, length, stride):
    r = rng_for("conv", cin, cout, length, stride)
    x = r.standard_normal((cin, length)).astype(np.float32)
    w = (r.standard_normal((cout, cin, 3)) / math.sqrt(cin * 3)).astype(np.float32)
    b = r.standard_normal(cout).astype(np.float32)
    ref = F.gelu(F.conv1d(t(x).double()[None], t(w).double(), t(b).double(), stride, 1))[0].numpy()
    mag = F.conv1d(t(np.abs(x)).double()[None], t(np.abs(w)).double(), t(np.abs(b)).double(), stride, 1)[0].numpy()
    pre = F.conv1d(t(x).double()[None], t(w).double(), t(b).double(), stride, 1)[0].numpy()
    # the sum of K = 3 cin products, then GELU (slope <= 1.13) with its erf approximation
    bound = 1.13 * mag * ((3 * cin + 2) * U) + np.abs(pre) * (0.5 * ERF_ABS + 8 * U) + 1e-30
    res = run_all("conv1d_gelu", lambda: ops.conv1d_gelu(x, w, b, stride, 1))
    for name, y in res.items():
        assert y.shape == ref.shape
        check(y, ref, bound, f"conv1d_gelu[{name}] vs torch")
        check(y, res["scalar"], 2 * bound, f"conv1d_gelu[{name}] vs scalar")


# ---------------------------------------------------------------------------- embedding


@pytest.mark.parametrize("typ", ["f32", "f16", "bf16", "q8_0", "q4_0"])
def test_embedding_matches_gguf_py(typ):
    r = rng_for("emb", typ)
    rows, cols = 50, 96
    w = r.standard_normal((rows, cols)).astype(np.float32)
    gt = {"f32": GT.F32, "f16": GT.F16, "bf16": GT.BF16, "q8_0": GT.Q8_0, "q4_0": GT.Q4_0}[typ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = np.ascontiguousarray(quants.quantize(w, gt)).view(np.uint8).reshape(-1)
    ids = np.array([0, 49, 3, 3, 17], np.int32)
    ref = quants.dequantize(data.reshape(rows, -1), gt).reshape(rows, cols)[ids]
    np.testing.assert_array_equal(ops.embedding(data, typ, cols, ids), ref)


# ---------------------------------------------------------------------------- bad input


def test_bad_arguments_raise_clavis_errors():
    x = np.ones((2, 8), np.float32)
    bad_calls = [
        lambda: ops.rms_norm(x.astype(np.float64), None, 1e-6),
        lambda: ops.rms_norm(x, np.ones(7, np.float32), 1e-6),
        lambda: ops.rms_norm(np.ones(8, np.float32), None, 1e-6),
        lambda: ops.layer_norm(x, np.ones(8, np.float32), np.ones(9, np.float32), 1e-5),
        lambda: ops.softmax(x, out=np.empty((2, 7), np.float32)),
        lambda: ops.silu_mul(x, np.ones((2, 7), np.float32)),
        lambda: ops.add(x, np.ones(3, np.float32)),
        lambda: ops.gelu([1.0, 2.0]),
        lambda: ops.rope(np.ones((2, 1, 8), np.float32), np.array([0, 1]), 1e4, False, n_rot=7),
        lambda: ops.rope(np.ones((2, 1, 8), np.float32), np.array([0]), 1e4, False),
        lambda: ops.rope(np.ones((2, 1, 8), np.float32), np.array([0, 1]), 1e4, False, n_rot=10),
        lambda: ops.rope(np.ones((2, 1, 8), np.float64), np.array([0, 1]), 1e4, False),
        lambda: ops.rope(np.ones((2, 1, 8), np.float32), np.array([0, -1]), 1e4, False),
        lambda: ops.rope(np.ones((2, 1, 8), np.float32), np.array([0, -1], np.int32), 1e4, False),
        lambda: ops.rope(np.ones((2, 1, 8), np.float32), np.array([0, 1]), 1e4, False,
                         freq_factors=np.ones(3, np.float32)),
        lambda: ops.embedding(np.zeros(34 * 4, np.uint8), "q8_0", 32, [4]),
        lambda: ops.embedding(np.zeros(34 * 4, np.uint8), "q8_0", 30, [0]),
        lambda: ops.embedding(np.zeros(35, np.uint8), "q8_0", 32, [0]),
        lambda: ops.embedding(np.zeros(34, np.uint8), "q5_9", 32, [0]),
        lambda: ops.attention(np.ones((1, 4, 8), np.float32), np.ones((3, 5, 8), np.float32),
                              np.ones((3, 5, 8), np.float32), 5, 0, True, 1.0),
        lambda: ops.attention(np.ones((1, 4, 8), np.float32), np.ones((2, 5, 8), np.float32),
                              np.ones((2, 5, 8), np.float16), 5, 0, True, 1.0),
        lambda: ops.attention(np.ones((1, 4, 8), np.float32), np.ones((2, 5, 8), np.float32),
                              np.ones((2, 5, 8), np.float32), 6, 0, True, 1.0),
        lambda: ops.attention(np.ones((1, 4, 8), np.float32), np.ones((2, 5, 4), np.float32),
                              np.ones((2, 5, 4), np.float32), 5, 0, True, 1.0),
        lambda: ops.conv1d_gelu(np.ones((3, 10), np.float32), np.ones((4, 2, 3), np.float32), None, 1, 1),
        lambda: ops.conv1d_gelu(np.ones((3, 10), np.float32), np.ones((4, 3, 3), np.float32), None, 0, 1),
        lambda: ops.conv1d_gelu(np.ones((3, 1), np.float32), np.ones((4, 3, 5), np.float32), None, 1, 0),
        lambda: ops.conv1d_gelu(np.ones((3, 10), np.float32), np.ones((4, 3, 3), np.float32),
                                np.ones(5, np.float32), 1, 1),
    ]
    for i, call in enumerate(bad_calls):
        with pytest.raises(ClavisError):
            call()
            pytest.fail(f"bad call #{i} did not raise")


def test_out_sharing_memory_with_attention_inputs_is_refused():
    q = np.ones((1, 2, 8), np.float32)
    k = np.ones((1, 4, 8), np.float32)
    with pytest.raises(ClavisError, match="share memory"):
        ops.attention(q, k, k, 4, 0, True, 1.0, out=q)


# ---------------------------------------------------------------------------- threads, edge sizes


def test_threaded_drivers_match_one_thread():
    """Chunking never changes a result: each chunk is whole rows / heads / tiles."""
    r = rng_for("threads")
    x = r.standard_normal((300, 515)).astype(np.float32)
    w = r.standard_normal(515).astype(np.float32)
    q = r.standard_normal((40, 6, 64)).astype(np.float32)
    kv = r.standard_normal((2, 80, 64)).astype(np.float16)
    cx = r.standard_normal((20, 301)).astype(np.float32)
    cw = r.standard_normal((70, 20, 3)).astype(np.float32)
    emb = r.standard_normal((64, 96)).astype(np.float32)
    calls = {
        "rms_norm": lambda: ops.rms_norm(x, w, 1e-6),
        "layer_norm": lambda: ops.layer_norm(x, w, w, 1e-5),
        "softmax": lambda: ops.softmax(x),
        "gelu": lambda: ops.gelu(x),
        "silu_mul": lambda: ops.silu_mul(x, x),
        "add": lambda: ops.add(x, w),
        "scale": lambda: ops.scale(x, 3.0),
        "rope": lambda: ops.rope(q.copy(), np.arange(40), 1e4, True),
        "attention": lambda: ops.attention(q, kv, kv, 80, 39, True, 0.125),
        "conv1d_gelu": lambda: ops.conv1d_gelu(cx, cw, None, 2, 1),
        "embedding": lambda: ops.embedding(emb.view(np.uint8).reshape(-1), "f32", 96, np.arange(64)[::-1]),
    }
    n0 = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = {k: f() for k, f in calls.items()}
        K.set_num_threads(3)
        many = {k: f() for k, f in calls.items()}
    finally:
        K.set_num_threads(n0)
    for k in calls:
        np.testing.assert_array_equal(one[k], many[k], err_msg=f"{k}: 1 vs 3 threads")


def test_empty_inputs_give_empty_outputs():
    e2 = np.zeros((0, 8), np.float32)
    assert ops.rms_norm(e2, np.ones(8, np.float32), 1e-6).shape == (0, 8)
    assert ops.layer_norm(e2, None, None, 1e-5).shape == (0, 8)
    assert ops.softmax(e2).shape == (0, 8)
    assert ops.gelu(np.zeros(0, np.float32)).shape == (0,)
    assert ops.add(e2, np.ones(8, np.float32)).shape == (0, 8)
    assert ops.silu_mul(e2, e2).shape == (0, 8)
    assert ops.rope(np.zeros((0, 2, 8), np.float32), np.zeros(0, np.int32), 1e4, False).shape == (0, 2, 8)
    kv = np.zeros((1, 4, 8), np.float32)
    assert ops.attention(np.zeros((0, 2, 8), np.float32), kv, kv, 4, 0, True, 1.0).shape == (0, 2, 8)
    assert ops.embedding(np.zeros(34, np.uint8), "q8_0", 32, np.zeros(0, np.int32)).shape == (0, 32)


def test_random_garbage_raises_clavis_error_or_works():
    """A few hundred calls with random shapes, dtypes and numbers: a result or a ClavisError,
    never another exception (and never a crash, which would kill this test run)."""
    r = rng_for("fuzz")
    dtypes = [np.float32, np.float32, np.float32, np.float16, np.float64, np.int32, np.uint8]

    def arr(nd=None):
        nd = int(r.integers(0, 4)) if nd is None else nd
        shape = tuple(int(v) for v in r.integers(0, 6, nd))
        return (r.standard_normal(shape) * 3).astype(dtypes[int(r.integers(0, len(dtypes)))])

    def num():
        return [0, 1, -1, 2, 7, 3.5, -5, 10 ** 12][int(r.integers(0, 8))]

    calls = [
        lambda: ops.rms_norm(arr(), arr(1), num()),
        lambda: ops.layer_norm(arr(), arr(1), arr(1), num()),
        lambda: ops.softmax(arr()),
        lambda: ops.gelu(arr()),
        lambda: ops.silu_mul(arr(), arr()),
        lambda: ops.add(arr(), arr()),
        lambda: ops.scale(arr(), num()),
        lambda: ops.rope(arr(3), arr(1), num(), bool(r.integers(0, 2)), num()),
        lambda: ops.embedding(arr(), ["q8_0", "q4_0", "f32", 3, 99][int(r.integers(0, 5))], num(), arr(1)),
        lambda: ops.attention(arr(3), arr(3), arr(3), num(), num(), bool(r.integers(0, 2)), 1.0),
        lambda: ops.conv1d_gelu(arr(2), arr(3), arr(1), num(), num()),
    ]
    outcomes = {"ok": 0, "error": 0}
    for i in range(int(os.environ.get("CLAVIS_FUZZ_CALLS", "600"))):
        try:
            calls[i % len(calls)]()
            outcomes["ok"] += 1
        except ClavisError:
            outcomes["error"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0, outcomes


def test_nan_propagates():
    """A NaN in the input shows up in the output instead of being hidden by exp's clamps."""
    x = np.linspace(-3, 3, 37, dtype=np.float32).reshape(1, -1).copy()
    x[0, 5] = np.nan
    for op, fn in [("softmax", lambda: ops.softmax(x)), ("gelu", lambda: ops.gelu(x)),
                   ("silu_mul", lambda: ops.silu_mul(x, np.ones_like(x)))]:
        for v, y in run_all(op, fn).items():
            assert np.isnan(y[0, 5]), f"{op}[{v}] lost a NaN"
