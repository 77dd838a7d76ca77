"""Raw (zero-copy) matmul ukernels: variants whose layout["raw"] is set run on the GGUF rows as
they lie in the file, at any alignment. Bit-identical to the scalar reference for every shape
class (decode m = 1, small m, prefill m >= 128; n not a multiple of 16; k of one block up to
several prefill K-slices), for misaligned and memory-mapped weights, and without copying."""
from __future__ import annotations

import os
import zlib

import numpy as np
import pytest

from clavis import kernels
from clavis.kernels import formats
from clavis.kernels import matmul as mm

SEED = int(os.environ.get("CLAVIS_TEST_SEED", "20261128"))
QUANT = ["q8_0", "q4_0"]


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng([SEED, *[zlib.crc32(str(k).encode()) for k in key]])


def raw_variants(t: str) -> list[str]:
    out = []
    for v in kernels.variants(f"matmul_{t}"):
        with kernels.use_variant(f"matmul_{t}", v):
            if mm.PackedWeight(np.zeros((1, 32), np.float32), t, 1, 32).raw:
                out.append(v)
    return out


def misaligned(data: np.ndarray, shift: int) -> np.ndarray:
    """A copy of `data` at an address that is `shift` bytes past a 64-byte boundary."""
    buf = np.empty(data.size + 128, np.uint8)
    off = (-buf.ctypes.data) % 64 + shift
    out = buf[off:off + data.size]
    out[:] = data.reshape(-1)
    return out


def weight(t, v, data, n, k) -> mm.PackedWeight:
    with kernels.use_variant(f"matmul_{t}", v):
        return mm.PackedWeight(data, t, n, k)


def test_scalar_is_raw_and_x86_q8_0_has_a_raw_simd_variant():
    for t in QUANT:
        assert "scalar" in raw_variants(t)
    if "avx512vnni" in kernels.info()["cpu"]["enabled"]:
        assert "avx512vnni_raw" in raw_variants("q8_0")


@pytest.mark.parametrize("t", QUANT)
@pytest.mark.parametrize("n,k", [(1, 32), (16, 64), (17, 96), (45, 1024), (33, 32 * 64),
                                 (40, 32 * 65), (20, 32 * 300)])
def test_raw_bit_exact_vs_scalar_any_alignment(t, n, k):
    r = rng_for("raw", t, n, k)
    w = r.standard_normal((n, k)).astype(np.float32)
    data = formats.quantize(w, t).reshape(-1)
    xs = {m: r.standard_normal((m, k)).astype(np.float32) for m in (1, 2, 3, 4, 5, 6, 7, 128)}
    ref = {m: mm.matmul(x, weight(t, "scalar", data, n, k)) for m, x in xs.items()}
    for v in raw_variants(t):
        for shift in (0, 1, 3, 17, 32):
            d = misaligned(data, shift)
            pw = weight(t, v, d, n, k)
            assert pw.raw and pw.layout["raw"]
            assert pw.packed.ctypes.data == d.ctypes.data, "raw weight must not be copied"
            for m, x in xs.items():
                y = mm.matmul(x, pw)
                bad = np.argwhere(y != ref[m])
                assert bad.size == 0, (f"{t}/{v} n,k={n},{k} m={m} shift={shift} seed {SEED}: "
                                       f"{len(bad)} outputs differ, first {bad[:3].tolist()}")


def test_raw_q8_0_extreme_bytes():
    """Weights of -128 (not produced by the quantizer, legal in a file) and +-127 everywhere, with
    activations at their extremes: the exact int32 sums must still match."""
    n, k = 19, 32 * 70
    r = rng_for("extreme")
    q = r.choice(np.array([-128, -127, 127, 0, 1, -1], np.int8), size=(n, k // 32, 32))
    scales = np.full((n, k // 32, 1), 0.01, np.float16).view(np.uint8).reshape(n, k // 32, 2)
    data = np.concatenate([scales, q.view(np.uint8)], axis=2).reshape(-1)
    x = np.where(r.random((5, k)) < 0.5, -1.0, 1.0).astype(np.float32) * 3.0
    ref = mm.matmul(x, weight("q8_0", "scalar", data, n, k))
    for v in raw_variants("q8_0"):
        for m in (1, 5):
            assert np.array_equal(mm.matmul(x[:m], weight("q8_0", v, misaligned(data, 5), n, k)),
                                  ref[:m]), v


def test_raw_weight_from_memmap_keeps_the_mapping(tmp_path):
    n, k = 50, 32 * 40
    r = rng_for("memmap")
    data = formats.quantize(r.standard_normal((n, k)).astype(np.float32), "q8_0").reshape(-1)
    path = tmp_path / "w.bin"
    with open(path, "wb") as f:
        f.write(b"\0" * 7)             # an odd offset: the tensor is not even 2-byte aligned
        f.write(data.tobytes())
    x = r.standard_normal((3, k)).astype(np.float32)
    ref = mm.matmul(x, weight("q8_0", "scalar", data, n, k))
    for v in raw_variants("q8_0"):
        mp = np.memmap(path, dtype=np.uint8, mode="r", offset=7, shape=(data.size,))
        pw = weight("q8_0", v, mp, n, k)
        del mp                         # the weight's reference keeps the mapping alive
        assert np.array_equal(mm.matmul(x, pw), ref), v
        assert np.array_equal(mm.matmul(x[0], pw), ref[0]), v


def test_raw_float32_input_owns_its_bytes():
    n, k = 21, 64
    w = rng_for("f32in").standard_normal((n, k)).astype(np.float32)
    x = rng_for("f32x").standard_normal((4, k)).astype(np.float32)
    ref = mm.matmul(x, weight("q8_0", "scalar", w, n, k))
    for v in raw_variants("q8_0"):
        pw = weight("q8_0", v, w, n, k)
        assert pw.raw and pw.nbytes == n * k // 32 * 34
        w[:] = 0                       # quantized into the weight's own buffer
        assert np.array_equal(mm.matmul(x, pw), ref), v
        w[:] = rng_for("f32in").standard_normal((n, k)).astype(np.float32)
