"""Q8_0 GGUF weights load zero-copy and are packed by a background thread (GGUFSource.defer_pack,
LlamaModel.pack_deferred / apply_packed, LLM.wait_packed): the model answers at once, every
weight ends on the default (packed) variant, and the results are bit-identical throughout."""
import numpy as np
import pytest

from clavis.kernels.matmul import default_variant, zero_copy_variant
from clavis.kernels.layers import LAYER_WEIGHTS
from clavis.models.weights import GGUFSource
from clavis.runtime.llm import LLM

pytestmark = pytest.mark.skipif(zero_copy_variant("q8_0") is None,
                                reason="this CPU has no zero-copy Q8_0 variant to start on")


def weights(llm):
    return [getattr(L, n) for L in llm.model.layers for n in LAYER_WEIGHTS]


def greedy(llm, ids, n=12):
    g = llm.generate(ids, max_tokens=n, temperature=0.0, ignore_eos=True)
    for _ in g:
        pass
    return list(g.tokens)


def test_loads_zero_copy_then_packs_with_identical_results(tiny_models, monkeypatch):
    gguf, _ = tiny_models("tiny-llama", "q8_0")
    ids = [int(i) for i in np.random.default_rng(3).integers(1, 200, 40)]
    # reference: everything packed at load
    monkeypatch.setattr(GGUFSource, "defer_pack", False)
    ref = LLM.load(gguf, n_ctx=128)
    assert all(not w.raw for w in weights(ref)) and not ref.model.output.raw
    want_logits = ref.logits(ids)
    want_tokens = greedy(ref, ids)
    monkeypatch.setattr(GGUFSource, "defer_pack", True)
    llm = LLM.load(gguf, n_ctx=128)
    assert not llm.model.output.raw                        # the head is packed at load
    # results while the packer runs (some or all layer weights still zero-copy) ...
    assert greedy(llm, ids) == want_tokens
    assert llm.wait_packed(timeout=60)
    packed = weights(llm)
    assert all(not w.raw and w.variant == default_variant("q8_0") for w in packed)
    # ... and after it
    np.testing.assert_array_equal(llm.logits(ids), want_logits)
    assert greedy(llm, ids) == want_tokens


def test_an_idle_model_is_packed_without_forwards(tiny_models, monkeypatch):
    """With no forward running, the packer swaps each copy in itself: its thread ends with every
    layer weight packed, and nothing is left for a forward or wait_packed to apply."""
    gguf, _ = tiny_models("tiny-llama", "q8_0")
    monkeypatch.setattr(GGUFSource, "defer_pack", True)
    llm = LLM.load(gguf, n_ctx=64)
    assert llm._packer is not None                          # a Q8_0 model starts zero-copy
    llm._packer.join(60)
    assert not llm._packer.is_alive()
    assert llm.model._packed_q.empty() and llm.model.apply_packed() == 0
    assert llm.model.deferred_weights() == []
    assert not any(w.raw for w in weights(llm))
    assert llm.wait_packed(timeout=1)


def test_nothing_deferred_starts_no_thread(tiny_models):
    gguf, _ = tiny_models("tiny-llama", "q4_0")
    llm = LLM.load(gguf, n_ctx=64)
    assert llm._packer is None and llm.wait_packed(timeout=0)
