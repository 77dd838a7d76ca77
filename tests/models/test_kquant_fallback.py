"""Real llama.cpp "Q4_0" files hold some tensors in K-quants (output.weight in Q6_K, and Q4_K_M
files mostly Q4_K/Q6_K). Those are re-quantized to Q8_0 at load; the result still agrees with
llama.cpp, which runs the K-quants natively, on the same file."""
from __future__ import annotations

import numpy as np
import pytest

from clavis.formats.gguf import TensorSpec, read_gguf, tensor_nbytes, write_gguf
from clavis.runtime.llm import LLM

SEED = 1234  # the base seed of these tests (tiny_models uses its own, in conftest.py)

# per type: block bytes and {offset of an f16 super-scale: its value}. The values make weights
# of about N(0, 1/16) like a real 256-wide layer: x = d*sc*q - dmin*m with 6-bit sc, m and
# 4/5-bit q (dmin ~ d * mean q centres them); Q6_K: x = d * int8 scale * (q - 32).
_SCALES = {"q6_k": (210, {208: 5e-5}), "q4_k": (144, {0: 2.5e-4, 2: 1.9e-3}),
           "q5_k": (176, {0: 1.2e-4, 2: 1.9e-3})}


def random_kquant(type_: str, shape, rng):
    """Valid random K-quant blocks: random quants and sub-scales, set f16 super-scales."""
    size, scales = _SCALES[type_]
    data = rng.integers(0, 256, tensor_nbytes(type_, shape), dtype=np.uint8).reshape(-1, size)
    for off, value in scales.items():
        data[:, off:off + 2] = np.full(len(data), value, np.float16).view(np.uint8).reshape(-1, 2)
    return data.reshape(-1)


def _kquant_copy(src, dst, types, rng):
    gf = read_gguf(src)
    specs = [TensorSpec(n, types.get(n, t.type), t.shape) for n, t in gf.tensors.items()]

    def produce(spec):
        if spec.name in types:
            return random_kquant(spec.type, spec.shape, rng)
        return gf.tensors[spec.name].data

    write_gguf(dst, gf.arch, gf.metadata, specs, produce)


def _compare(llama_cpp, path):
    llm = LLM.load(str(path))
    ids = np.random.default_rng(SEED).integers(0, llm.vocab_size, 64).tolist()
    ours = llm.logits(ids)
    m = llama_cpp.Llama(model_path=str(path), n_ctx=80, n_batch=64, logits_all=True,
                        verbose=False, n_threads=2)
    m.eval(ids)
    ref = np.array(m.scores[:len(ids)], dtype=np.float32)
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    return llm, float(cos.min()), float(np.abs(ours - ref).max() / (ref.max() - ref.min()))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from clavis.models import zoo
    p = tmp_path_factory.mktemp("kq") / "base.gguf"
    zoo.make("tiny-llama-256", str(p), "q4_0", seed=SEED)   # rows of 256: K-quant blocks
    return str(p)


def test_q4_0_file_with_q6_k_output_matches_llama_cpp(base, tmp_path, llama_cpp):
    """What llama-quantize writes for Q4_0: Q4_0 everywhere but a Q6_K output layer. Only that
    tensor is re-quantized, so the usual Q4_0 yardstick holds."""
    out = tmp_path / "q4_0-q6k.gguf"
    _kquant_copy(base, str(out), {"output.weight": "q6_k"}, np.random.default_rng(SEED))
    llm, cos, err = _compare(llama_cpp, out)
    assert llm.model.requantized == [("output.weight", "q6_k")]
    assert cos >= 0.999 and err <= 0.02, (cos, err)


def test_all_k_quant_file_matches_llama_cpp(base, tmp_path, llama_cpp):
    """A Q4_K_M-like file (Q4_K/Q5_K/Q6_K everywhere). (1) On the numbers we actually run (the
    K-quants re-quantized to Q8_0, written as a Q8_0 file) llama.cpp and we meet the usual
    yardstick. (2) Against llama.cpp running the K-quants as stored, the second rounding costs
    some agreement: measured cos 0.996-0.999 and max|d| 1.9-3.7% of the range over seeds 1-3
    and 1234, so the bound is cos >= 0.995, max|d| <= 5%."""
    from clavis.kernels import formats as kformats
    from clavis.models.weights import GGUFSource
    gf = read_gguf(base)
    types = {n: ("q6_k" if n in ("output.weight", "token_embd.weight") else
                 "q5_k" if "ffn_down" in n else "q4_k")
             for n, t in gf.tensors.items() if len(t.shape) == 2 and t.shape[1] % 256 == 0}
    assert len(types) == 9
    kq = tmp_path / "kq.gguf"
    _kquant_copy(base, str(kq), types, np.random.default_rng(SEED))
    k = read_gguf(kq)
    src = GGUFSource(k)
    rq = tmp_path / "requant.gguf"
    write_gguf(rq, k.arch, k.metadata,
               [TensorSpec(n, "q8_0" if n in types else t.type, t.shape) for n, t in k.tensors.items()],
               lambda s: kformats.quantize(src._dequant(k.tensors[s.name]), "q8_0")
               if s.name in types else k.tensors[s.name].data)
    llm, cos, err = _compare(llama_cpp, kq)
    assert {n for n, _ in llm.model.requantized} == set(types)
    _, cos_rq, err_rq = _compare(llama_cpp, rq)
    assert cos_rq >= 0.999 and err_rq <= 0.02, (cos_rq, err_rq)
    assert cos >= 0.995 and err <= 0.05, (cos, err)


def test_unrunnable_type_is_a_clear_error(base, tmp_path):
    from clavis import ClavisError
    gf = read_gguf(base)
    specs = [TensorSpec(n, "q8_k" if n == "blk.0.attn_q.weight" else t.type, t.shape)
             for n, t in gf.tensors.items()]
    out = tmp_path / "q8k.gguf"
    write_gguf(out, gf.arch, gf.metadata, specs,
               lambda s: gf.tensors[s.name].data if s.type != "q8_k"
               else np.zeros(tensor_nbytes("q8_k", s.shape), np.uint8))
    with pytest.raises(ClavisError) as e:
        LLM.load(str(out))
    assert "blk.0.attn_q.weight" in str(e.value) and "Q8_K" in str(e.value)
