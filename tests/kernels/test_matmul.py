"""Matmul kernels: every variant this CPU runs against the scalar reference (integer paths bit for
bit), and every variant against an independent reference: gguf-py (de)quantization + NumPy."""
from __future__ import annotations

import os
import subprocess
import sys
import zlib

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

from clavis import ClavisError, kernels
from clavis.kernels import _C, formats
from clavis.kernels import matmul as mm

SEED = int(os.environ.get("CLAVIS_TEST_SEED", "20261128"))
EPS = 2.0 ** -24          # f32 unit roundoff
GG = {"f32": T.F32, "f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0, "q4_0": T.Q4_0}
QUANT = ["q4_0", "q8_0"]
FLOAT = ["f32", "f16", "bf16"]
# (M, N, K): M = 1 (decode), M not a multiple of the 4-row tile, N not a multiple of the 16-row
# tile, K of one block, K much larger.
SHAPES = [(1, 16, 32), (1, 37, 4096), (1, 300, 11008 // 4), (2, 16, 64), (3, 33, 32),
          (5, 100, 320), (8, 48, 1024), (13, 17, 96), (64, 70, 512),
          (3, 20, 32 * 1100),    # longer than the 1024-block activation scratch of q8_0 avx512vnni
          (1, 200, 8192), (12, 90, 4160)]   # Q4_0 x16 slabs: whole and partial, a 2-block slice


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng([SEED, *[zlib.crc32(str(k).encode()) for k in key]])


def gguf_bytes(x: np.ndarray, t: str) -> np.ndarray:
    return np.ascontiguousarray(quants.quantize(x, GG[t])).view(np.uint8).reshape(x.shape[0], -1)


def gguf_floats(data: np.ndarray, t: str, shape) -> np.ndarray:
    if t == "f32":
        return data.view(np.float32).reshape(shape)
    if t == "f16":
        return data.view(np.float16).astype(np.float32).reshape(shape)
    return quants.dequantize(data, GG[t]).reshape(shape)


def make(t, m, n, k, scale=1.0):
    r = rng_for(t, m, n, k)
    w = (r.standard_normal((n, k)) * scale).astype(np.float32)
    x = r.standard_normal((m, k)).astype(np.float32)
    return x, w


def run_variant(t, variant, data, x, n, k):
    with kernels.use_variant(f"matmul_{t}", variant):
        pw = mm.PackedWeight(data, t, n, k)
    assert pw.variant == variant
    return mm.matmul(x, pw)


@pytest.mark.parametrize("t", QUANT)
def test_quant_variants_bit_exact_vs_scalar(t):
    names = kernels.variants(f"matmul_{t}")
    assert names[-1] == "scalar"
    for m, n, k in SHAPES:
        x, w = make(t, m, n, k)
        data = gguf_bytes(w, t)
        ref = run_variant(t, "scalar", data, x, n, k)
        for v in names[:-1]:
            y = run_variant(t, v, data, x, n, k)
            bad = np.argwhere(y != ref)
            assert bad.size == 0, (f"{t}/{v} M,N,K={m},{n},{k} seed {SEED}: {len(bad)} outputs differ "
                                   f"from scalar, first {bad[:3].tolist()}")


@pytest.mark.parametrize("t", QUANT)
def test_decode_prefetch_changes_no_bits(t):
    """The decode's software prefetch (kernels.decode_prefetch) only moves bytes into the cache:
    every distance, up to one far past the weight's end, gives the scalar reference's bits."""
    shapes = [(1, 37, 4096), (1, 200, 8192), (1, 16, 32), (3, 33, 96)]
    before = kernels.decode_prefetch()
    try:
        for m, n, k in shapes:
            x, w = make(t, m, n, k)
            data = gguf_bytes(w, t)
            ref = run_variant(t, "scalar", data, x, n, k)
            for pf in (0, 64, 6144, 1 << 20):
                assert kernels.decode_prefetch(pf) == pf
                for v in kernels.variants(f"matmul_{t}")[:-1]:
                    y = run_variant(t, v, data, x, n, k)
                    assert np.array_equal(y, ref), f"{t}/{v} prefetch {pf} M,N,K={m},{n},{k}"
    finally:
        kernels.decode_prefetch(-1)
    assert kernels.decode_prefetch() == before


def test_decode_prefetch_setting_and_env():
    with pytest.raises(ValueError, match="decode prefetch"):
        kernels.decode_prefetch(-2)
    with pytest.raises(ValueError, match="decode prefetch"):
        kernels.decode_prefetch((1 << 20) + 1)
    code = "from clavis import kernels; print(kernels.decode_prefetch())"
    env = {**os.environ, "CLAVIS_DECODE_PREFETCH": "2048"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "2048"
    env["CLAVIS_DECODE_PREFETCH"] = "lots"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "CLAVIS_DECODE_PREFETCH=lots ignored" in r.stderr
    env.pop("CLAVIS_DECODE_PREFETCH")
    r2 = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == r2.stdout.strip()   # the bad value fell back to the CPU's default
    assert "decode_prefetch_bytes" in kernels.info()


def lhs_blocks(x: np.ndarray, t: str, variant: str) -> np.ndarray:
    """A variant's quantized activations as records (d f32, s i32, qs 32 x i8)."""
    out = np.empty(x.shape[0] * (x.shape[1] // 32) * 40, np.uint8)
    _C.matmul_lhs_quant(np.ascontiguousarray(x), out, formats.type_id(t), variant)
    return out.view(np.dtype([("d", "<f4"), ("s", "<i4"), ("qs", "i1", 32)]))


@pytest.mark.parametrize("t", QUANT)
def test_activation_quantizers_equal_gguf_q8_0(t):
    """Every variant's activation blocks: qs and fp16(d) byte-equal to gguf-py's Q8_0, s = sum(qs);
    inputs include exact .5 ties (d = 1) where round-half-away differs from round-half-even."""
    r = rng_for("lhs", t)
    ties = np.tile(np.arange(-15.5, 16.5, 1.0, dtype=np.float32), (3, 1))
    ties[:, 0] = 127.0
    x = np.concatenate([ties, -ties, r.standard_normal((3, 32)).astype(np.float32) * 3,
                        np.zeros((3, 32), np.float32)], axis=1)
    x = np.concatenate([x, r.standard_normal((2, x.shape[1])).astype(np.float32)], axis=0)
    ref = gguf_bytes(x, "q8_0").reshape(-1, 34)
    for v in kernels.variants(f"matmul_{t}"):
        blk = lhs_blocks(x, t, v)
        assert np.array_equal(blk["qs"].view(np.uint8), ref[:, 2:]), f"{t}/{v} qs (seed {SEED})"
        assert np.array_equal(blk["d"].astype(np.float16).view(np.uint8).reshape(-1, 2), ref[:, :2]), v
        assert np.array_equal(blk["d"], blk["d"].astype(np.float16).astype(np.float32)), v
        assert np.array_equal(blk["s"], blk["qs"].astype(np.int32).sum(-1)), v


@pytest.mark.parametrize("t", QUANT)
def test_quant_against_gguf_py_and_numpy(t):
    """Independent reference: W and X quantized by gguf-py (X the Q8_0 way), dequantized by
    gguf-py, multiplied in float64 by NumPy. The kernels' integer dot products are exact, so the
    only difference is f32 rounding: per block two products (2 eps) and nb additions, bounded by
    |d| <= (nb + 2) * eps * (|Xq| @ |Wq|^T)."""
    for m, n, k in SHAPES:
        x, w = make(t, m, n, k, scale=0.05)
        wd = gguf_floats(gguf_bytes(w, t), t, (n, k)).astype(np.float64)
        xd = gguf_floats(gguf_bytes(x, "q8_0"), "q8_0", (m, k)).astype(np.float64)
        ref = xd @ wd.T
        tol = (k // 32 + 2) * EPS * (np.abs(xd) @ np.abs(wd).T) + 1e-30
        for v in kernels.variants(f"matmul_{t}"):
            y = run_variant(t, v, gguf_bytes(w, t), x, n, k)
            err = np.abs(y - ref)
            assert (err <= tol).all(), (f"{t}/{v} M,N,K={m},{n},{k} seed {SEED}: max err "
                                        f"{err.max():.3g}, worst excess {(err - tol).max():.3g}")


@pytest.mark.parametrize("t", FLOAT)
def test_float_variants_against_numpy(t):
    """f32 accumulation in any order: |d| <= (K + 2) * eps * (|X| @ |W|^T) against float64."""
    # (1, 7, 100): a decode row through 4-vector steps, single vectors and a scalar tail
    for m, n, k in SHAPES + [(3, 5, 7), (1, 9, 1), (1, 7, 100)]:
        x, w = make(t, m, n, k)
        data = gguf_bytes(w, t)
        wd = gguf_floats(data, t, (n, k)).astype(np.float64)
        ref = x.astype(np.float64) @ wd.T
        tol = (k + 2) * EPS * (np.abs(x.astype(np.float64)) @ np.abs(wd).T) + 1e-30
        for v in kernels.variants(f"matmul_{t}"):
            y = run_variant(t, v, data, x, n, k)
            err = np.abs(y - ref)
            assert (err <= tol).all(), (f"{t}/{v} M,N,K={m},{n},{k} seed {SEED}: max err "
                                        f"{err.max():.3g}, worst excess {(err - tol).max():.3g}")


@pytest.mark.parametrize("t", QUANT + FLOAT)
def test_threads_vector_out_and_float_input(t):
    m, n, k = 6, 50, 256
    x, w = make(t, m, n, k)
    pw = mm.PackedWeight(w, t, n, k)                      # float32 in: quantized by clavis
    assert pw.nbytes > 0
    assert pw.layout["variant"] == pw.variant and pw.layout["nr"] >= 1
    prev = kernels.get_num_threads()
    try:
        kernels.set_num_threads(1)
        y1 = mm.matmul(x, pw)
        kernels.set_num_threads(3)
        y3 = mm.matmul(x, pw)
    finally:
        kernels.set_num_threads(prev)
    if t in QUANT:
        assert np.array_equal(y1, y3), f"{t}: thread count changed the result (seed {SEED})"
    else:
        np.testing.assert_allclose(y1, y3, rtol=1e-5, atol=1e-5)
    out = np.empty((n,), np.float32)
    assert mm.matmul(x[2], pw, out=out) is out
    if t in QUANT:
        assert np.array_equal(out, y1[2])
    else:
        np.testing.assert_allclose(out, y1[2], rtol=1e-5, atol=1e-5)


def test_empty_batch():
    pw = mm.PackedWeight(np.ones((8, 64), np.float32), "q8_0", 8, 64)
    assert mm.matmul(np.ones((0, 64), np.float32), pw).shape == (0, 8)


def test_many_small_jobs_on_resized_pools():
    """Thousands of short parallel jobs (the decode pattern) right after resizing the pool."""
    x, w = make("q4_0", 5, 70, 64)
    pw = mm.PackedWeight(w, "q4_0", 70, 64)
    ref = mm.matmul(x, pw)
    prev = kernels.get_num_threads()
    try:
        for th in (2, 3, 2):
            kernels.set_num_threads(th)
            for i in range(500):
                y = mm.matmul(x[i % 5], pw)
                assert np.array_equal(y, ref[i % 5]), f"threads {th}, call {i} (seed {SEED})"
    finally:
        kernels.set_num_threads(prev)


def test_bad_arguments_raise_clear_errors():
    w = np.ones((8, 64), np.float32)
    pw = mm.PackedWeight(w, "q4_0", 8, 64)
    cases = [
        (lambda: mm.PackedWeight(np.ones((8, 48), np.float32), "q4_0", 8, 48), "multiple of the block size 32"),
        (lambda: mm.PackedWeight(w, "q4_0", 8, 32), "has shape"),
        (lambda: mm.PackedWeight(np.zeros(100, np.uint8), "q8_0", 8, 64), "has 544 bytes, got 100"),
        (lambda: mm.PackedWeight(np.zeros(10, np.int16), "q8_0", 8, 64), "uint8 GGUF bytes or float32"),
        (lambda: mm.PackedWeight(w, "q5_k", 8, 64), "unsupported tensor type"),
        (lambda: mm.PackedWeight(w, "f32", 0, 64), "bad shape"),
        (lambda: mm.matmul(np.ones((2, 64), np.float64), pw), "float32"),
        (lambda: mm.matmul(np.ones((2, 63), np.float32), pw), "K = 63"),
        (lambda: mm.matmul(np.ones((2, 2, 64), np.float32), pw), r"\[M, K\]"),
        (lambda: mm.matmul(np.ones((2, 64), np.float32), pw, out=np.empty((2, 9), np.float32)), "out must be"),
        (lambda: mm.matmul(np.ones((2, 64), np.float32), w), "PackedWeight"),
    ]
    for call, match in cases:
        with pytest.raises(ClavisError, match=match):
            call()


def test_unknown_or_unsupported_variant():
    with pytest.raises(ClavisError, match="no variant"):
        mm.PackedWeight(np.ones((4, 32), np.float32), "q8_0", 4, 32, variant="does_not_exist")


def test_everything_passes_with_simd_disabled():
    """The whole file again in a subprocess with CLAVIS_DISABLE_CPU_FEATURES=all: only scalar."""
    env = dict(os.environ, CLAVIS_DISABLE_CPU_FEATURES="all", CLAVIS_TEST_SEED=str(SEED))
    code = ("from clavis import kernels; import sys; "
            "v = {op: kernels.variants(op) for op in kernels.info()['ops'] if op.startswith('matmul')}; "
            "print(v); sys.exit(0 if all(x == ['scalar'] for x in v.values()) else 3)")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        __file__, "-k", "not simd_disabled"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_changing_threads_while_another_thread_computes():
    """set_num_threads from one Python thread while another runs kernels with the GIL released:
    the pool in use is never destroyed under it (module.c keeps one pool per thread count)."""
    import threading
    m, n, k = 4, 512, 2048
    x, w = make("q4_0", m, n, k)
    pw = mm.PackedWeight(w, "q4_0", n, k)
    want = mm.matmul(x, pw)
    prev, errors, stop = kernels.get_num_threads(), [], threading.Event()

    def work():
        try:
            while not stop.is_set():
                if not np.array_equal(mm.matmul(x, pw), want):
                    errors.append("result changed")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    t = threading.Thread(target=work)
    t.start()
    try:
        for i in range(200):
            kernels.set_num_threads(1 + i % 3)
    finally:
        stop.set()
        t.join()
        kernels.set_num_threads(prev)
    assert not errors, errors[:3]
