"""clavis.kernels.formats against gguf-py's gguf.quants: the same bytes on the same input."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

from clavis import ClavisError
from clavis.kernels import formats

SEED = int(os.environ.get("CLAVIS_TEST_SEED", "1234"))
GG = {"f32": T.F32, "f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0, "q4_0": T.Q4_0}


def gguf_bytes(x: np.ndarray, name: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # fp16 overflow on purpose in the huge cases
        q = quants.quantize(x, GG[name])
    return np.ascontiguousarray(q).view(np.uint8).reshape(*x.shape[:-1], -1)


def gguf_floats(data: np.ndarray, name: str, shape) -> np.ndarray:
    if name == "f32":
        return data.view(np.float32).reshape(shape)
    if name == "f16":
        return data.view(np.float16).astype(np.float32).reshape(shape)
    return quants.dequantize(data.reshape(shape[0], -1), GG[name]).reshape(shape)


def cases(rng):
    """Random rows plus edge cases: zeros, ties, huge/tiny magnitudes, one spike per block."""
    yield "normal", rng.standard_normal((7, 256)).astype(np.float32)
    yield "uniform", rng.uniform(-3, 3, (3, 4096)).astype(np.float32)
    yield "zeros", np.zeros((2, 64), np.float32)
    z = rng.standard_normal((4, 64)).astype(np.float32)
    z[:, :32] = 0.0                                   # one all-zero block per row
    yield "zero-block", z
    t = np.tile(np.arange(-127, 129, 2, dtype=np.float32)[:32] + 0.5, (2, 1))
    t[:, 0] = 127.0                                   # d = 1: x * id hits exact .5 ties
    yield "q8-ties", np.concatenate([t, -t], axis=1)
    u = np.tile((np.arange(32, dtype=np.float32) % 16) - 7.5, (2, 1))
    u[:, 5] = -8.0                                    # Q4_0 d = 1: x * id + 8.5 hits integers
    yield "q4-ties", u
    yield "huge", (rng.standard_normal((2, 64)) * 1e30).astype(np.float32)
    yield "tiny", (rng.standard_normal((2, 64)) * 1e-30).astype(np.float32)
    yield "f16-subnormal-scales", (rng.standard_normal((4, 128)) * 3e-4).astype(np.float32)
    yield "f16-range", (rng.standard_normal((2, 512)) * 7e4).astype(np.float32)
    s = rng.standard_normal((3, 96)).astype(np.float32) * 0.01
    s[:, 7] = -5.0
    s[:, 40] = 5.0                                    # equal magnitudes: the first one wins
    s[:, 41] = -5.0
    yield "spikes", s


@pytest.mark.parametrize("name", ["f32", "f16", "bf16", "q8_0", "q4_0"])
def test_bytes_equal_gguf_py(name):
    rng = np.random.default_rng(SEED)
    for label, x in cases(rng):
        ours = formats.quantize(x, name)
        ref = gguf_bytes(x, name)
        assert ours.shape == ref.shape, (label, SEED)
        bad = np.flatnonzero(ours.reshape(-1) != ref.reshape(-1))
        assert bad.size == 0, f"{name}/{label} seed {SEED}: {bad.size} bytes differ, first at {bad[:5]}"


@pytest.mark.parametrize("name", ["f32", "f16", "bf16", "q8_0", "q4_0"])
def test_dequantize_equals_gguf_py(name):
    rng = np.random.default_rng(SEED + 1)
    for label, x in cases(rng):
        data = gguf_bytes(x, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # inf scale * 0 = nan in the huge case (both sides)
            ref = gguf_floats(data, name, x.shape)
        ours = formats.dequantize(data, name, x.shape)
        np.testing.assert_array_equal(ours, ref, err_msg=f"{name}/{label} seed {SEED}")


@pytest.mark.parametrize("name,rel", [("f32", 0), ("f16", 2**-11), ("bf16", 2**-8),
                                      ("q8_0", (0.5 + 127 * 2**-11) / 127), ("q4_0", (1 + 8 * 2**-11) / 8)])
def test_roundtrip_error_bound(name, rel):
    """|x - deq(q(x))| <= half a step of the block's scale d plus |q| * fp16 rounding of d
    (Q4_0: a whole step, because +amax opposite in sign to the max clips at q = 15)."""
    x = np.random.default_rng(SEED + 2).standard_normal((16, 1024)).astype(np.float32)
    y = formats.dequantize(formats.quantize(x, name), name, x.shape)
    bs = formats.block_size(name)
    amax = np.abs(x).reshape(16, -1, bs).max(-1, keepdims=True)
    bound = amax * rel if bs > 1 else np.abs(x).reshape(16, -1, 1) * rel
    bound = bound + (2.0**-25 if name == "f16" else 0.0)   # half of fp16's subnormal step
    err = np.abs(x - y).reshape(16, -1, bs)
    assert (err <= bound).all(), f"{name}: max excess {(err - bound).max()} seed {SEED}"


def test_type_ids_and_sizes():
    assert formats.row_bytes("q4_0", 64) == 36 and formats.row_bytes(8, 32) == 34
    assert formats.row_bytes("bf16", 3) == 6 and formats.type_name(30) == "bf16"
    x = np.ones((2, 32), np.float32)
    assert np.array_equal(formats.quantize(x, 2), formats.quantize(x, "Q4_0"))


@pytest.mark.parametrize("call,match", [
    (lambda: formats.quantize(np.ones((2, 33), np.float32), "q8_0"), "multiple of the block size 32"),
    (lambda: formats.quantize(np.ones((2, 32), np.float64), "q8_0"), "float32"),
    (lambda: formats.quantize(np.ones(32, np.float32), "q5_k"), "unsupported tensor type"),
    (lambda: formats.quantize(np.ones(32, np.float32), 3), "unsupported tensor type"),
    (lambda: formats.dequantize(np.zeros(35, np.uint8), "q8_0", (1, 32)), "has 34 bytes, got 35"),
    (lambda: formats.dequantize(np.zeros(18, np.uint8), "q4_0", (1, 31)), "multiple of the block"),
    (lambda: formats.dequantize(np.zeros(18, np.uint8), "q4_0", (-1, 32)), "bad shape"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ClavisError, match=match):
        call()


def test_non_contiguous_input_is_accepted():
    x = np.random.default_rng(SEED).standard_normal((64, 64)).astype(np.float32)
    assert np.array_equal(formats.quantize(x.T, "q8_0"), formats.quantize(x.T.copy(), "q8_0"))
