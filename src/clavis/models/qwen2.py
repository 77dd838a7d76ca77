"""Qwen2 / Qwen2.5: Llama with Q/K/V biases, NeoX (rotate-halves) rope, usually tied
embeddings. HF weights are used as they are (llama.cpp does not permute Q/K for qwen2)."""
from __future__ import annotations

from clavis.models.args import ModelArgs
from clavis.models.llama import Layer, LlamaModel


class Qwen2Args(ModelArgs):
    neox = True
    qkv_bias = True
    hf_class = "Qwen2ForCausalLM"

    def hf_extra_config(self):
        return {"use_sliding_window": False, "sliding_window": None, "max_window_layers": self.n_layers}


class Qwen2Model(LlamaModel):
    Args = Qwen2Args
    arch = "qwen2"

    @classmethod
    def layer_shapes(cls, a):
        t = super().layer_shapes(a)
        q, kv = a.n_heads * a.head_dim, a.n_kv_heads * a.head_dim
        t.update({"attn_q.bias": (q,), "attn_k.bias": (kv,), "attn_v.bias": (kv,)})
        return t

    @classmethod
    def hf_transform(cls, a, suffix):
        return None

    def _load_layer(self, src, i) -> Layer:
        L = super()._load_layer(src, i)
        p = f"blk.{i}."
        L.bq, L.bk, L.bv = (src.f32(p + f"attn_{x}.bias") for x in "qkv")
        return L
