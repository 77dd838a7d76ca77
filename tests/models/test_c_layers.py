"""The C layer sequence (clavis.kernels.layers, csrc/llm_layers.c) against the Python forward
(LlamaModel._block, itself checked against transformers and llama.cpp in the other tests here):
bit-identical logits for prefill, decode and all-logits evaluation, for every weight type, both KV
cache types, biases (qwen2) and the qwen3 fallback; plus its checks of bad tables."""
import numpy as np
import pytest

from clavis import ClavisError
from clavis.kernels import layers as klayers
from clavis.models.llama import LlamaModel
from clavis.runtime.llm import LLM

CASES = [("tiny-llama", "q4_0"), ("tiny-llama", "q8_0"), ("tiny-llama", "f16"),
         ("tiny-llama", "f32"), ("tiny-qwen2", "q4_0"), ("tiny-qwen3", "q4_0"),
         ("tiny-llama-256", "q4_0")]


def run_all(llm, ids):
    llm._kv_ids, llm.kv.n = [], 0
    out = [llm._prefill(ids, type("S", (), {})())]
    out += [llm._decode_one(t) for t in (3, 9, 27)]
    out.append(llm.logits(ids[:20]))
    return out


@pytest.mark.parametrize("shape,quant", CASES)
@pytest.mark.parametrize("kv_dtype", ["f16", "f32"])
def test_c_layers_match_python(tiny_models, monkeypatch, shape, quant, kv_dtype):
    gguf, _ = tiny_models(shape, quant)
    llm = LLM.load(gguf, n_ctx=128, kv_dtype=kv_dtype)
    plan = llm.model._layer_plan(llm.kv)
    assert (plan is None) == (shape == "tiny-qwen3")      # per-head q/k norms stay in Python
    L0 = llm.model.layers[0]
    if quant == "q4_0":   # packed at load into one buffer: a decode reads Q/K/V as one weight
        ws = (L0.wq, L0.wk, L0.wv, L0.wo, L0.w_gate, L0.w_up, L0.w_down)
        assert all(w.base is L0.wq.base for w in ws)
    # 100 tokens: the C FFN runs in row blocks of 64 (64 + 36)
    ids = [int(i) for i in np.random.default_rng(len(shape)).integers(1, llm.vocab_size, 100)]
    fast = run_all(llm, ids)
    monkeypatch.setattr(LlamaModel, "use_c_layers", False)
    slow = run_all(llm, ids)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_plan_follows_a_new_cache(tiny_models):
    gguf, _ = tiny_models("tiny-llama", "q4_0")
    llm = LLM.load(gguf, n_ctx=64)
    p1 = llm.model._layer_plan(llm.kv)
    assert llm.model._layer_plan(llm.kv) is p1
    llm.kv.k[0] = np.zeros_like(llm.kv.k[0])               # a replaced array: a new plan
    assert llm.model._layer_plan(llm.kv) is not p1


def test_bad_tables_are_refused(tiny_models):
    gguf, _ = tiny_models("tiny-llama", "q4_0")
    llm = LLM.load(gguf, n_ctx=64)
    plan = llm.model._layer_plan(llm.kv)
    dim = llm.args.dim
    x = np.zeros((2, dim), np.float32)
    with pytest.raises(ClavisError, match="context"):
        plan.run(x, np.array([63, 64], np.int32), 63)       # beyond n_ctx
    with pytest.raises(ClavisError, match="shapes"):
        plan.run(np.zeros((2, dim + 1), np.float32), np.array([0, 1], np.int32), 0)
    with pytest.raises(ClavisError, match="float32"):
        plan.run(x.astype(np.float64), np.array([0, 1], np.int32), 0)
    bad = klayers.LayerPlan(np.array(plan.table), plan.hp_i, plan.hp_f, [], plan.kv_ptrs)
    bad.table[0, 8] = 12345                                  # not a ukernel
    with pytest.raises(ClavisError, match="weight 0"):
        bad.run(x, np.array([0, 1], np.int32), 0)
    bad = klayers.LayerPlan(np.array(plan.table), plan.hp_i, plan.hp_f, [], plan.kv_ptrs)
    bad.table[1, 9] += 16                                    # wrong n for wq
    with pytest.raises(ClavisError, match="layer 1 weight 0"):
        bad.run(x, np.array([0, 1], np.int32), 0)


def test_decode_profile_times_every_step_and_changes_nothing(tiny_models):
    gguf, _ = tiny_models("tiny-llama", "q4_0")
    llm = LLM.load(gguf, n_ctx=64)
    ids = [5, 17, 33, 2, 9]
    plain = run_all(llm, ids)
    prof = llm.model.profile = klayers.DecodeProfile()
    try:
        profiled = run_all(llm, ids)
    finally:
        llm.model.profile = None
    for a, b in zip(plain, profiled):
        np.testing.assert_array_equal(a, b)
    assert prof.tokens == 3                        # the three one-token forwards, not the prefill
    steps = dict(zip(klayers.OP_NAMES, prof.ops))
    assert set(steps) == {"norm", "qkv", "rope+kv store", "attention", "wo", "residual add",
                          "gate/up", "silu*mul", "down"}
    assert all(t > 0 for t in steps.values()), steps
    ms = prof.summary(token_s=1.0)
    assert ms["head"] > 0 and ms["forward_other"] >= 0
    assert 0 < prof.forward < 1.0 * prof.tokens
    assert ms["outside_forward"] == pytest.approx(1e3 - 1e3 * prof.forward / 3)
    with pytest.raises(ClavisError, match="prof"):
        plan = llm.model._layer_plan(llm.kv)
        plan.run(np.zeros((1, llm.args.dim), np.float32), np.array([0], np.int32), 0,
                 np.zeros(3))
