"""Our forward pass vs transformers on the same random weights: logits within 1e-4 of the logit
range, 32 greedy tokens identical, and layer-by-layer hidden states (the debug hook)."""
from __future__ import annotations

import numpy as np
import pytest

import torch
import transformers

from clavis.runtime.llm import LLM

SEED = 1234  # the base seed of these tests (tiny_models uses its own, in conftest.py)

SHAPES = ["tiny-llama", "tiny-qwen2", "tiny-qwen3"]
N_TOKENS = 300          # > one prefill chunk (256), long enough for llama3 rope scaling to matter


def _hf_model(hf_dir):
    m = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    return m.eval()


def _ids(vocab, n, seed=SEED):
    return np.random.default_rng(seed).integers(0, vocab, n).tolist()


def _ref_logits(m, ids):
    with torch.no_grad():
        return m(torch.tensor([ids])).logits[0].numpy()


@pytest.mark.parametrize("shape", SHAPES)
def test_logits_match_transformers(tiny_models, shape):
    gguf, hf = tiny_models(shape)
    llm = LLM.load(gguf)
    ids = _ids(llm.vocab_size, N_TOKENS)
    ours = llm.logits(ids)
    ref = _ref_logits(_hf_model(hf), ids)
    assert ours.shape == ref.shape == (N_TOKENS, llm.vocab_size)
    rng = float(ref.max() - ref.min())
    err = float(np.abs(ours - ref).max())
    assert err <= 1e-4 * rng, f"{shape} seed={SEED}: max|d|={err:.3g}, range={rng:.3g}"


@pytest.mark.parametrize("shape", SHAPES)
def test_hf_folder_loads_the_same(tiny_models, shape):
    gguf, hf = tiny_models(shape)
    ids = _ids(1024, 40)
    a = LLM.load(gguf).logits(ids)
    b = LLM.load(hf, quant="f32").logits(ids)
    assert np.abs(a - b).max() <= 1e-5 * float(a.max() - a.min())


def test_llama3_rope_scaling_is_exercised(tiny_models):
    """Without rope_freqs the logits must differ by far more than the tolerance above, so the
    comparison really checks llama3 scaling."""
    gguf, hf = tiny_models("tiny-llama")
    llm = LLM.load(gguf)
    assert llm.model.freq_factors is not None and max(llm.model.freq_factors) > 1
    ids = _ids(llm.vocab_size, N_TOKENS)
    with_scaling = llm.logits(ids)
    llm.model.freq_factors = None
    without = llm.logits(ids)
    rng = float(with_scaling.max() - with_scaling.min())
    assert np.abs(with_scaling - without).max() > 10 * 1e-4 * rng


@pytest.mark.parametrize("shape", SHAPES)
def test_32_greedy_tokens_identical(tiny_models, shape):
    gguf, hf = tiny_models(shape)
    llm = LLM.load(gguf)
    prompt = _ids(llm.vocab_size, 12, seed=SEED + 1)
    gen = llm.generate(prompt, max_tokens=32, temperature=0, ignore_eos=True)
    list(gen)
    ours = gen.tokens
    m = _hf_model(hf)
    ids = list(prompt)
    for _ in range(32):   # plain greedy argmax, no generation-config logic in between
        ids.append(int(np.argmax(_ref_logits(m, ids)[-1])))
    assert ours == ids[len(prompt):], f"{shape} seed={SEED}"
    assert gen.stats.generated_tokens == 32 and gen.stats.finish_reason == "length"


@pytest.mark.parametrize("shape", SHAPES)
def test_hidden_states_layer_by_layer(tiny_models, shape):
    gguf, hf = tiny_models(shape)
    llm = LLM.load(gguf)
    ids = _ids(llm.vocab_size, 24)
    seen = {}
    from clavis.runtime.kv_cache import KVCache
    kv = KVCache.for_model(llm.args, len(ids), "f32")
    llm.model.forward(ids, 0, kv, all_logits=True, hook=lambda n, a: seen.__setitem__(n, a.copy()))
    with torch.no_grad():
        out = _hf_model(hf)(torch.tensor([ids]), output_hidden_states=True)
    hs = [h[0].numpy() for h in out.hidden_states]
    np.testing.assert_allclose(seen["inp_embd"], hs[0], rtol=0, atol=1e-6)
    for i in range(llm.args.n_layers - 1):   # the last one is returned after the final norm
        ref = hs[i + 1]
        err = np.abs(seen[f"blk.{i}.l_out"] - ref).max()
        assert err <= 1e-5 * np.abs(ref).max(), f"layer {i}: {err}"


@pytest.mark.parametrize("shape", ["tiny-llama", "tiny-qwen3"])
def test_scalar_kernels_match_transformers_too(tiny_models, tmp_path, shape):
    """With every SIMD feature disabled (the portable scalar kernels), the same bound holds."""
    import os
    import subprocess
    import sys
    gguf, hf = tiny_models(shape)
    ids = _ids(1024, 80)
    out = tmp_path / "logits.npy"
    code = ("import sys, numpy as np\nfrom clavis import kernels\n"
            "from clavis.runtime.llm import LLM\n"
            "assert kernels.info()['ops']['matmul_f32']['chosen'] == 'scalar'\n"
            f"np.save(sys.argv[1], LLM.load(sys.argv[2]).logits({ids!r}))\n")
    r = subprocess.run([sys.executable, "-c", code, str(out), gguf], capture_output=True,
                       text=True, timeout=300,
                       env={**os.environ, "CLAVIS_DISABLE_CPU_FEATURES": "all"})
    assert r.returncode == 0, r.stderr
    ours, ref = np.load(out), _ref_logits(_hf_model(hf), ids)
    assert np.abs(ours - ref).max() <= 1e-4 * float(ref.max() - ref.min())


def test_long_context_positions(tiny_models):
    """1100 positions (5 prefill chunks; llama3-scaled rope far past the short wavelengths)."""
    gguf, hf = tiny_models("tiny-llama")
    llm = LLM.load(gguf, n_ctx=2048)
    ids = _ids(llm.vocab_size, 1100)
    ours, ref = llm.logits(ids), _ref_logits(_hf_model(hf), ids)
    assert np.abs(ours - ref).max() <= 1e-4 * float(ref.max() - ref.min())
