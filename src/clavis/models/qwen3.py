"""Qwen3 (dense): Llama with RMSNorm on each head's queries and keys (before rope), NeoX rope,
no biases, an explicit head_dim (often != dim / n_heads)."""
from __future__ import annotations

from clavis.models.args import ModelArgs
from clavis.models.llama import Layer, LlamaModel


class Qwen3Args(ModelArgs):
    neox = True
    qk_norm = True
    hf_class = "Qwen3ForCausalLM"

    def hf_extra_config(self):
        return {"attention_bias": False, "use_sliding_window": False, "sliding_window": None,
                "max_window_layers": self.n_layers}


class Qwen3Model(LlamaModel):
    Args = Qwen3Args
    arch = "qwen3"

    @classmethod
    def layer_shapes(cls, a):
        t = super().layer_shapes(a)
        t.update({"attn_q_norm.weight": (a.head_dim,), "attn_k_norm.weight": (a.head_dim,)})
        return t

    @classmethod
    def hf_transform(cls, a, suffix):
        return None

    def _load_layer(self, src, i) -> Layer:
        L = super()._load_layer(src, i)
        L.q_norm = src.f32(f"blk.{i}.attn_q_norm.weight")
        L.k_norm = src.f32(f"blk.{i}.attn_k_norm.weight")
        return L

    def _qk_norm(self, L, q, k):
        from clavis.kernels import ops
        T, D, eps = q.shape[0], self.args.head_dim, self.args.norm_eps
        q = ops.rms_norm(q.reshape(-1, D), L.q_norm, eps).reshape(T, -1, D)
        k = ops.rms_norm(k.reshape(-1, D), L.k_norm, eps).reshape(T, -1, D)
        return q, k
