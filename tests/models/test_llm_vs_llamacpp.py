"""Quantized GGUFs that we write run in llama.cpp (llama-cpp-python, built from source) and give
the same logits as ours: per-position cosine >= 0.999 and max |d| <= 2% of the logit range.
(Both engines quantize activations to int8 blocks, so an f32 reference is the wrong yardstick.)"""
from __future__ import annotations

import numpy as np
import pytest

from clavis.runtime.llm import LLM

SEED = 1234  # the base seed of these tests (tiny_models uses its own, in conftest.py)


def _llamacpp_logits(llama_cpp, path, ids):
    m = llama_cpp.Llama(model_path=path, n_ctx=len(ids) + 8, n_batch=len(ids), logits_all=True,
                        verbose=False, n_threads=2)
    assert m.n_vocab() > 0
    m.eval(ids)
    out = np.array(m.scores[:len(ids)], dtype=np.float32)
    m.close()
    return out


@pytest.mark.parametrize("quant", ["q8_0", "q4_0"])
@pytest.mark.parametrize("shape", ["tiny-llama", "tiny-llama-spm", "tiny-qwen2", "tiny-qwen3"])
def test_logits_match_llama_cpp(tiny_models, llama_cpp, shape, quant):
    gguf, _ = tiny_models(shape, quant)
    llm = LLM.load(gguf)
    ids = np.random.default_rng(SEED).integers(0, llm.vocab_size, 96).tolist()
    ours = llm.logits(ids)
    ref = _llamacpp_logits(llama_cpp, gguf, ids)
    assert ours.shape == ref.shape
    cos = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    rng = float(ref.max() - ref.min())
    err = float(np.abs(ours - ref).max())
    assert cos.min() >= 0.999, f"{shape} {quant} seed={SEED}: min cosine {cos.min():.5f}"
    assert err <= 0.02 * rng, f"{shape} {quant} seed={SEED}: max|d| {err:.3g} of range {rng:.3g}"


def test_llama_cpp_reads_our_f32_llama_exactly(tiny_models, llama_cpp):
    """F32 weights: llama.cpp (f16 KV cache) and we agree far more closely; this pins the Q/K
    permutation and rope pairing of `llama` GGUFs independently of transformers."""
    gguf, _ = tiny_models("tiny-llama", "f32")
    llm = LLM.load(gguf)
    ids = np.random.default_rng(SEED).integers(0, llm.vocab_size, 64).tolist()
    ours, ref = llm.logits(ids), _llamacpp_logits(llama_cpp, gguf, ids)
    assert np.abs(ours - ref).max() <= 2e-3 * float(ref.max() - ref.min())


@pytest.mark.parametrize("shape", ["tiny-llama", "tiny-qwen2", "tiny-qwen3"])
def test_greedy_tokens_match_llama_cpp_q8_0(tiny_models, llama_cpp, shape):
    """32 greedy tokens of a Q8_0 file: identical to llama.cpp's, except that after a near-tie
    (the top two of llama.cpp's logits within 2% of the range, i.e. inside the logit bound
    above) the continuations may part."""
    gguf, _ = tiny_models(shape, "q8_0")
    llm = LLM.load(gguf)
    prompt = np.random.default_rng(SEED + 2).integers(0, llm.vocab_size, 10).tolist()
    gen = llm.generate(prompt, max_tokens=32, temperature=0, ignore_eos=True)
    list(gen)
    m = llama_cpp.Llama(model_path=gguf, n_ctx=64, n_batch=16, logits_all=True, verbose=False,
                        n_threads=2)
    m.eval(prompt)
    ref, gaps = [], []
    for _ in range(32):
        row = np.array(m.scores[m.n_tokens - 1], dtype=np.float32)
        top2 = np.sort(row)[-2:]
        gaps.append(float(top2[1] - top2[0]) / float(row.max() - row.min()))
        ref.append(int(np.argmax(row)))
        m.eval([ref[-1]])
    m.close()
    same = next((i for i, (a, b) in enumerate(zip(gen.tokens, ref)) if a != b), 32)
    assert same == 32 or gaps[same] <= 0.02, (shape, same, gaps[same], gen.tokens, ref)
    assert same >= 8 or gaps[same] <= 0.02
