"""Bad GGUF files raise a clear ClavisError naming the file and the key/tensor, and never crash
the process (each case also runs in a subprocess: a segfault or OOM kill would show there)."""
from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest

from clavis import ClavisError
from clavis.formats.gguf import TensorSpec, read_gguf, write_gguf

LOADER = """
import sys
from clavis import ClavisError
from clavis.runtime.llm import LLM
try:
    LLM.load(sys.argv[1])
except ClavisError as e:
    print("CLAVIS_ERROR:", e)
    sys.exit(3)
print("LOADED")
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    from clavis.models import zoo
    p = tmp_path_factory.mktemp("bad") / "good.gguf"
    zoo.make("tiny-qwen2", str(p), "q8_0", seed=7)
    return str(p)


def _rewrite(src, dst, drop=(), reshape=None, metadata=None):
    """Copy a GGUF, dropping tensors, giving one a new shape, or changing metadata."""
    gf = read_gguf(src)
    md = dict(gf.metadata)
    md.update(metadata or {})
    specs = []
    for name, t in gf.tensors.items():
        if name in drop:
            continue
        shape = reshape[1] if reshape and reshape[0] == name else t.shape
        specs.append(TensorSpec(name, t.type, shape))

    def produce(spec):
        t = gf.tensors[spec.name]
        if spec.shape != t.shape:   # the same type, a different element count: fresh bytes
            from clavis.formats.gguf import tensor_nbytes
            return np.zeros(tensor_nbytes(spec.type, spec.shape), np.uint8)
        return t.data

    write_gguf(dst, md["general.architecture"], md, specs, produce)
    return str(dst)


def _load_in_subprocess(path):
    r = subprocess.run([sys.executable, "-c", LOADER, str(path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 3, f"rc={r.returncode} (negative = killed by a signal)\n{r.stdout}{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout


def _expect(path, *words):
    from clavis.runtime.llm import LLM
    with pytest.raises(ClavisError) as e:
        LLM.load(path)
    msg = str(e.value)
    for w in (str(path), *words):
        assert w in msg, msg
    assert "CLAVIS_ERROR" in _load_in_subprocess(path)
    return msg


def test_good_file_loads(good):
    from clavis.runtime.llm import LLM
    assert LLM.load(good).vocab_size == 1024


@pytest.mark.parametrize("frac", [0.0001, 0.002, 0.3, 0.6, 0.999])
def test_truncated(good, tmp_path, frac):
    data = open(good, "rb").read()
    p = tmp_path / f"trunc{frac}.gguf"
    p.write_bytes(data[:max(6, int(len(data) * frac))])
    _expect(p, "truncated")


def test_wrong_shape(good, tmp_path):
    p = _rewrite(good, tmp_path / "shape.gguf", reshape=("blk.1.ffn_up.weight", (96, 64)))
    msg = _expect(p, "blk.1.ffn_up.weight", "[96, 64]", "[128, 64]")
    assert "qwen2" in msg


def test_missing_tensor(good, tmp_path):
    p = _rewrite(good, tmp_path / "missing.gguf", drop=("blk.0.attn_k.bias",))
    _expect(p, "missing tensor", "blk.0.attn_k.bias")


def test_unknown_architecture(good, tmp_path):
    p = _rewrite(good, tmp_path / "arch.gguf", metadata={"general.architecture": "mamba9"})
    _expect(p, "unknown architecture", "'mamba9'", "llama", "qwen2", "qwen3")


def test_not_gguf(tmp_path):
    p = tmp_path / "junk.gguf"
    p.write_bytes(b"PK\x03\x04" + bytes(100))
    _expect(p, "not a GGUF")


def _header(kvs: bytes, n_kv: int, n_tensors: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kvs


def _key(k: str) -> bytes:
    return struct.pack("<Q", len(k)) + k.encode()


@pytest.mark.parametrize("item_type", [4, 8, 9])   # uint32, string, array elements
def test_huge_metadata_array(tmp_path, item_type):
    """An array claiming 2**40 elements: refused from the sizes before anything is allocated."""
    kv = _key("general.architecture") + struct.pack("<I", 8) + _key("llama")
    kv += _key("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, item_type, 2**40)
    p = tmp_path / "huge.gguf"
    p.write_bytes(_header(kv, 2) + bytes(64))
    with pytest.raises(ClavisError) as e:
        read_gguf(p)
    assert "tokenizer.ggml.tokens" in str(e.value) and str(2**40) in str(e.value)
    _expect(p, "tokenizer.ggml.tokens", str(2**40))


def test_huge_counts_in_header(tmp_path):
    p = tmp_path / "counts.gguf"
    p.write_bytes(_header(b"", 2**62, 2**62) + bytes(32))
    _expect(p, "metadata keys")


def test_huge_string_length(tmp_path):
    kv = _key("general.architecture") + struct.pack("<IQ", 8, 2**40) + b"llama"
    p = tmp_path / "str.gguf"
    p.write_bytes(_header(kv, 1))
    _expect(p, "general.architecture", "truncated")


def test_tensor_with_absurd_dims(tmp_path):
    kv = _key("general.architecture") + struct.pack("<I", 8) + _key("llama")
    ti = _key("token_embd.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 2**31, 2**31)
    ti += struct.pack("<IQ", 0, 0)
    p = tmp_path / "dims.gguf"
    p.write_bytes(_header(kv + ti, 1, 1) + bytes(64))
    _expect(p, "token_embd.weight", "truncated")


def test_unsupported_tensor_type_names_it(good, tmp_path):
    """A type we can neither run nor convert (Q8_K) names the tensor, the type and what works."""
    gf = read_gguf(good)
    md = dict(gf.metadata)
    specs = [TensorSpec(n, "q8_k" if n == "blk.0.ffn_down.weight" else t.type, t.shape)
             for n, t in gf.tensors.items()]
    specs = [s if s.type != "q8_k" else TensorSpec(s.name, "q8_k", (64, 256)) for s in specs]
    from clavis.formats.gguf import tensor_nbytes
    p = tmp_path / "k.gguf"
    write_gguf(p, md["general.architecture"], md, specs,
               lambda s: gf.tensors[s.name].data if s.type != "q8_k"
               else np.zeros(tensor_nbytes("q8_k", s.shape), np.uint8))
    from clavis.runtime.llm import LLM
    with pytest.raises(ClavisError) as e:
        LLM.load(p)
    msg = str(e.value)
    assert "blk.0.ffn_down.weight" in msg and "Q8_K" in msg and "q4_0" in msg, msg


@pytest.mark.parametrize("key,value,words", [
    ("qwen2.block_count", "two", ["qwen2.block_count", "'two'"]),
    ("qwen2.attention.head_count_kv", 3, ["n_heads=4", "n_kv_heads=3"]),
    ("qwen2.embedding_length", 0, ["qwen2.attention.head_count"]),
    ("qwen2.rope.scaling.type", "yarn", ["yarn", "not supported"]),
])
def test_bad_hyper_parameters(good, tmp_path, key, value, words):
    md = {key: value}
    if key.endswith("scaling.type"):
        md["qwen2.rope.scaling.factor"] = 4.0
    if key.endswith("embedding_length"):
        md["qwen2.attention.head_count"] = 0
    p = _rewrite(good, tmp_path / "hp.gguf", metadata=md)
    _expect(p, *words)


def test_random_header_corruption_is_always_a_clavis_error(good, tmp_path):
    """300 files with 1-3 random bytes of the header (metadata + tensor infos) overwritten: each
    loads or raises ClavisError; nothing else escapes."""
    from clavis.runtime.llm import LLM
    data = open(good, "rb").read()
    gf = read_gguf(good)
    header_end = min(t.offset for t in gf.tensors.values())
    rng = np.random.default_rng(2024)
    p = tmp_path / "fuzz.gguf"
    others = []
    for i in range(300):
        d = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            d[int(rng.integers(0, header_end))] = int(rng.integers(0, 256))
        p.write_bytes(bytes(d))
        try:
            # a model that loads may still read its file (Q8_0 weights are packed in the
            # background): like any memory-mapped file, it must not be rewritten in place first
            LLM.load(str(p)).wait_packed()
        except ClavisError:
            pass
        except Exception as e:  # noqa: BLE001 - the point of the test
            others.append((i, type(e).__name__, str(e)[:100]))
    assert not others, others[:5]
