"""matmul_multi: several weights on one input (Q/K/V, gate/up) equal one matmul per weight, bit
for bit, for every weight type and decode/prefill shapes; the float results are also checked
against NumPy on the dequantized weights (gguf-py's dequantizer, an independent implementation)."""
import gguf
import numpy as np
import pytest

from clavis import ClavisError
from clavis.kernels import matmul as mm
from clavis.kernels.bench import random_gguf

TYPES = ["q4_0", "q8_0", "f16", "f32"]
GT = {"q4_0": gguf.GGMLQuantizationType.Q4_0, "q8_0": gguf.GGMLQuantizationType.Q8_0,
      "f16": gguf.GGMLQuantizationType.F16}


def weights(t, ns, k, rng):
    out = []
    for n in ns:
        if t == "f32":
            dense = rng.standard_normal((n, k)).astype(np.float32)
            out.append((mm.PackedWeight(dense, t, n, k), dense))
        else:
            raw = random_gguf(t, n, k, rng)
            dense = gguf.quants.dequantize(raw.reshape(n, -1), GT[t]).astype(np.float32)
            out.append((mm.PackedWeight(raw, t, n, k), dense))
    return out


@pytest.mark.parametrize("t", TYPES)
@pytest.mark.parametrize("m", [1, 3, 9, 70])
def test_multi_equals_single(t, m):
    rng = np.random.default_rng([m, len(t)])
    k = 256
    ws = weights(t, (48, 16, 37, 100), k, rng)
    x = rng.standard_normal((m, k)).astype(np.float32)
    ys = mm.matmul_multi(x, [w for w, _ in ws])
    for y, (w, dense) in zip(ys, ws):
        assert y.shape == (m, w.n)
        np.testing.assert_array_equal(y, mm.matmul(x, w))
        ref = x.astype(np.float64) @ dense.T.astype(np.float64)
        tol = 0.05 if t in ("q4_0", "q8_0") else 1e-3     # int8 activations vs exact f64
        assert np.abs(y - ref).max() <= tol * np.abs(ref).max() + 1e-4


def test_vector_input_and_out_buffers():
    rng = np.random.default_rng(5)
    ws = weights("q4_0", (32, 64), 128, rng)
    x = rng.standard_normal(128).astype(np.float32)
    outs = [np.full(32, np.nan, np.float32), np.full(64, np.nan, np.float32)]
    ys = mm.matmul_multi(x, [w for w, _ in ws], outs)
    assert ys[0] is outs[0] and ys[1] is outs[1]
    for y, (w, _) in zip(ys, ws):
        np.testing.assert_array_equal(y, mm.matmul(x, w))


def test_mixed_types_fall_back_and_more_than_eight():
    rng = np.random.default_rng(6)
    ws = [w for w, _ in weights("q4_0", (16,), 64, rng) + weights("q8_0", (32,), 64, rng)]
    many = [w for w, _ in weights("q8_0", [16] * 10, 64, rng)]
    x = rng.standard_normal((2, 64)).astype(np.float32)
    for group in (ws, many):
        for y, w in zip(mm.matmul_multi(x, group), group):
            np.testing.assert_array_equal(y, mm.matmul(x, w))


def test_bad_input_is_a_clavis_error():
    rng = np.random.default_rng(7)
    ws = [w for w, _ in weights("q4_0", (16, 32), 64, rng)]
    with pytest.raises(ClavisError, match="K|x must"):
        mm.matmul_multi(np.zeros((2, 32), np.float32), ws)
    with pytest.raises(ClavisError, match="float32"):
        mm.matmul_multi(np.zeros((2, 64), np.float64), ws)
    with pytest.raises(ClavisError, match="out must"):
        mm.matmul_multi(np.zeros((2, 64), np.float32), ws, [np.zeros((2, 16), np.float32),
                                                               np.zeros((2, 16), np.float32)])
    with pytest.raises(ClavisError, match="non-empty"):
        mm.matmul_multi(np.zeros((2, 64), np.float32), [])


@pytest.mark.parametrize("t", ["q4_0", "q8_0"])
@pytest.mark.parametrize("k,ns", [(256, (48, 16, 32)), (4096, (128, 64, 64))])   # 4096: slabs
def test_pack_together_is_one_weight(t, k, ns):
    """Parts packed by pack_together, read as one weight of all their rows (what the C layers
    do for a decode's Q/K/V), give each part's own result bit for bit."""
    rng = np.random.default_rng([k, len(ns)])
    raws = [random_gguf(t, n, k, rng) for n in ns]
    ws = mm.pack_together([(r, t, n, k) for r, n in zip(raws, ns)])
    assert ws is not None and all(w.base is ws[0].base for w in ws)
    assert sum(w.nbytes for w in ws) == ws[0].base.nbytes
    x = rng.standard_normal((1, k)).astype(np.float32)
    whole = np.empty((1, sum(ns)), np.float32)
    tid = mm.formats.type_id(t)
    mm._C.matmul(x, ws[0].base, whole, tid, ws[0].variant, sum(ns), k)
    parts = np.split(whole, np.cumsum(ns)[:-1], axis=1)
    for part, w, r, n in zip(parts, ws, raws, ns):
        np.testing.assert_array_equal(part, mm.matmul(x, w))
        np.testing.assert_array_equal(part, mm.matmul(x, mm.PackedWeight(r, t, n, k)))


def test_pack_together_mixed_k_and_types():
    """A layer's weights differ in k (ffn_down): each part is still its own weight, and the
    callback sees every part as it is packed; two types are refused."""
    rng = np.random.default_rng(3)
    a, c = random_gguf("q4_0", 32, 256, rng), random_gguf("q4_0", 48, 4096, rng)
    seen = []
    ws = mm.pack_together([(a, "q4_0", 32, 256), (c, "q4_0", 48, 4096)], packed=seen.append)
    assert seen == [0, 1] and ws[0].base is ws[1].base
    for w, r, n, k in zip(ws, (a, c), (32, 48), (256, 4096)):
        x = rng.standard_normal(k).astype(np.float32)
        np.testing.assert_array_equal(mm.matmul(x, w), mm.matmul(x, mm.PackedWeight(r, "q4_0", n, k)))
    b = random_gguf("q8_0", 32, 256, rng)
    assert mm.pack_together([(a, "q4_0", 32, 256), (b, "q8_0", 32, 256)]) is None
