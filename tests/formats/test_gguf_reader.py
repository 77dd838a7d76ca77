"""Our GGUF reader agrees with gguf-py's GGUFReader (an independent implementation) on every
metadata value and every tensor's type, shape and bytes; the writer round-trips."""
from __future__ import annotations

import numpy as np
import pytest

from clavis.formats.gguf import GGML_TYPES, TensorSpec, read_gguf, write_gguf

import gguf


def _reference(path):
    r = gguf.GGUFReader(path)
    md = {}
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        v = f.contents()
        md[name] = v
    tensors = {t.name: (GGML_TYPES[int(t.tensor_type)][0],
                        tuple(int(d) for d in reversed(t.shape.tolist())),
                        np.asarray(r.data[t.data_offset:t.data_offset + int(t.n_bytes)]))
               for t in r.tensors}
    return md, tensors


@pytest.mark.parametrize("shape,quant", [("tiny-llama", "q4_0"), ("tiny-llama-spm", "q8_0"),
                                         ("tiny-qwen3", "f16")])
def test_reader_agrees_with_gguf_py(tmp_path, shape, quant):
    from clavis.models import zoo
    p = str(tmp_path / "m.gguf")
    zoo.make(shape, p, quant, seed=11)
    ours = read_gguf(p)
    md, tensors = _reference(p)
    assert set(ours.metadata) == set(md)
    for k, v in md.items():
        a = ours.metadata[k]
        if isinstance(v, float) or (isinstance(v, list) and v and isinstance(v[0], float)):
            np.testing.assert_allclose(a, v, rtol=0, atol=0, err_msg=k)
        else:
            assert a == v, k
    assert set(ours.tensors) == set(tensors)
    for name, (t, shp, data) in tensors.items():
        mine = ours.tensors[name]
        assert (mine.type, mine.shape) == (t, shp), name
        assert np.array_equal(mine.data, data), name


def test_writer_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    arrs = {"a": rng.standard_normal((3, 32)).astype(np.float32),
            "b": rng.standard_normal((2, 64)).astype(np.float16),
            "c": rng.standard_normal(7).astype(np.float32)}
    specs = [TensorSpec("a", "f32", (3, 32)), TensorSpec("b", "f16", (2, 64)),
             TensorSpec("c", "f32", (7,))]
    md = {"x.u32": 7, "x.neg": -3, "x.f": 0.5, "x.b": True, "x.s": "héllo 你好",
          "x.ints": [1, -2, 3], "x.floats": [0.25, 1.5], "x.strs": ["a", "", "ß"]}
    p = tmp_path / "rt.gguf"
    write_gguf(p, "llama", md, specs, lambda s: arrs[s.name])
    g = read_gguf(p)
    for k, v in md.items():
        assert g.metadata[k] == v, k
    assert g.arch == "llama"
    for name, a in arrs.items():
        np.testing.assert_array_equal(g.tensors[name].to_f32(), a.astype(np.float32))
