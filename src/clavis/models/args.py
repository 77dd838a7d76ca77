"""ModelArgs: the hyper-parameters of a Llama-family model, read from GGUF metadata or an HF
config.json and written back to either (make-model, convert)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from clavis import ClavisError

if TYPE_CHECKING:
    import numpy as np


@dataclass
class ModelArgs:
    arch: str
    dim: int                     # hidden size
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int
    vocab_size: int
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    n_ctx_train: int = 4096
    tied: bool = False           # output projection shares token_embd
    rope_scaling: dict | None = None   # HF-style {"rope_type": "llama3", "factor": ...}
    n_rot: int = 0               # rotary dims per head (0 = head_dim)
    name: str = ""
    extra: dict = field(default_factory=dict)

    # per-architecture constants (overridden by subclasses)
    neox = False          # rope pairing in the GGUF layout: False = adjacent (x0,x1), True = halves
    qkv_bias = False
    qk_norm = False

    def __post_init__(self):
        for f in ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_dim", "vocab_size"):
            v = getattr(self, f)
            if not isinstance(v, int) or v <= 0:
                raise ClavisError(f"{self.arch}: hyper-parameter {f} = {v!r} must be a positive int")
        if not self.n_rot:
            self.n_rot = self.head_dim
        if self.n_rot > self.head_dim or self.n_rot % 2:
            raise ClavisError(f"{self.arch}: rope dimension count {self.n_rot} must be even and "
                              f"<= head_dim {self.head_dim}")
        if self.n_heads % self.n_kv_heads:
            raise ClavisError(f"{self.arch}: n_heads={self.n_heads} is not a multiple of "
                              f"n_kv_heads={self.n_kv_heads}")

    # ---- GGUF ------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, gf, vocab_size: int) -> "ModelArgs":
        a = gf.arch

        def key(k, default=None, kind=int):
            full = f"{a}.{k}"
            v = gf.require(full) if default is None else gf.get(full, default)
            try:
                if isinstance(v, (list, str)) and kind is not str:
                    raise TypeError
                return kind(v)
            except (TypeError, ValueError):
                raise ClavisError(f"{gf.path}: metadata {full!r} = {v!r} is not a valid "
                                  f"{kind.__name__}") from None

        dim, n_heads = key("embedding_length"), key("attention.head_count")
        if n_heads <= 0:
            raise ClavisError(f"{gf.path}: metadata '{a}.attention.head_count' = {n_heads}")
        scaling = key("rope.scaling.type", "none", str)
        factor = key("rope.scaling.factor", 1.0, float)
        if scaling not in ("none", "llama3") and factor not in (0.0, 1.0):
            raise ClavisError(f"{gf.path}: metadata '{a}.rope.scaling.type' = {scaling!r} "
                              f"(factor {factor}) is not supported yet; supported: none, and "
                              "llama3 via rope_freqs")
        head_dim = key("attention.key_length", dim // n_heads)
        try:
            return cls(
                arch=a, dim=dim, n_layers=key("block_count"), n_heads=n_heads,
                n_kv_heads=key("attention.head_count_kv", n_heads),
                head_dim=head_dim, n_rot=key("rope.dimension_count", head_dim),
                ffn_dim=key("feed_forward_length"), vocab_size=int(vocab_size),
                norm_eps=key("attention.layer_norm_rms_epsilon", 1e-5, float),
                rope_theta=key("rope.freq_base", 10000.0, float),
                n_ctx_train=key("context_length", 4096),
                name=str(gf.get("general.name", "")),
            )
        except ClavisError as e:
            raise ClavisError(f"{gf.path}: {e}") from None

    def gguf_metadata(self) -> dict[str, Any]:
        a = self.arch
        md = {
            "general.name": self.name or a,
            f"{a}.context_length": self.n_ctx_train,
            f"{a}.embedding_length": self.dim,
            f"{a}.block_count": self.n_layers,
            f"{a}.feed_forward_length": self.ffn_dim,
            f"{a}.attention.head_count": self.n_heads,
            f"{a}.attention.head_count_kv": self.n_kv_heads,
            f"{a}.rope.freq_base": float(self.rope_theta),
            f"{a}.attention.layer_norm_rms_epsilon": float(self.norm_eps),
            f"{a}.rope.dimension_count": self.n_rot,
            f"{a}.vocab_size": self.vocab_size,
        }
        if self.head_dim != self.dim // self.n_heads:
            md[f"{a}.attention.key_length"] = self.head_dim
            md[f"{a}.attention.value_length"] = self.head_dim
        return md

    # ---- Hugging Face ----------------------------------------------------------------------
    @classmethod
    def from_hf_config(cls, cfg: dict, arch: str, where: str = "config.json") -> "ModelArgs":
        def field(k, default=None, kind=int):
            v = cfg.get(k)
            if v is None:
                if default is None:
                    raise ClavisError(f"{where}: missing field {k!r}")
                v = default
            if isinstance(v, bool) or not isinstance(v, (int, float)) or kind is int and v != int(v):
                raise ClavisError(f"{where}: field {k!r} = {v!r} is not a valid {kind.__name__}")
            return kind(v)

        dim, n_heads = field("hidden_size"), field("num_attention_heads")
        if n_heads <= 0:
            raise ClavisError(f"{where}: field 'num_attention_heads' = {n_heads}")
        rp = cfg.get("rope_parameters") or {}
        scaling = cfg.get("rope_scaling") or (rp if rp.get("rope_type", "default") != "default" else None)
        if scaling is not None and not isinstance(scaling, dict):
            raise ClavisError(f"{where}: field 'rope_scaling' must be an object, got {scaling!r}")
        if scaling and scaling.get("rope_type", scaling.get("type")) not in ("llama3", "default", None):
            raise ClavisError(f"{where}: rope scaling {scaling.get('rope_type')!r} is not supported "
                              "(supported: llama3)")
        theta = cfg.get("rope_theta", rp.get("rope_theta", 10000.0))
        try:
            return cls(
                arch=arch, dim=dim, n_layers=field("num_hidden_layers"), n_heads=n_heads,
                n_kv_heads=field("num_key_value_heads", n_heads),
                head_dim=field("head_dim", dim // n_heads),
                ffn_dim=field("intermediate_size"), vocab_size=field("vocab_size"),
                norm_eps=field("rms_norm_eps", 1e-6, float),
                rope_theta=field("rope_theta", theta, float),
                n_ctx_train=field("max_position_embeddings", 4096),
                tied=bool(cfg.get("tie_word_embeddings", False)),
                rope_scaling=dict(scaling) if scaling else None,
                name=str(cfg.get("_name_or_path", "")),
            )
        except ClavisError as e:
            raise ClavisError(f"{where}: {e}") from None

    def hf_config(self, bos_id: int | None, eos_id: int | None) -> dict[str, Any]:
        cfg = {
            "architectures": [self.hf_class],
            "model_type": self.arch,
            "hidden_size": self.dim,
            "intermediate_size": self.ffn_dim,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "num_key_value_heads": self.n_kv_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.n_ctx_train,
            "rms_norm_eps": self.norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": self.rope_scaling,
            "tie_word_embeddings": self.tied,
            "vocab_size": self.vocab_size,
            "bos_token_id": bos_id,
            "eos_token_id": eos_id,
            "torch_dtype": "float32",
        }
        cfg.update(self.hf_extra_config())
        return cfg

    hf_class = "LlamaForCausalLM"

    def hf_extra_config(self) -> dict[str, Any]:
        return {"attention_bias": False, "mlp_bias": False}

    def llama3_rope(self) -> bool:
        """Whether rope is scaled the llama3 way (the model has a rope_freqs tensor)."""
        s = self.rope_scaling
        return bool(s) and s.get("rope_type", s.get("type")) == "llama3"

    def rope_freq_factors(self) -> "np.ndarray | None":
        """llama3 rope scaling as per-frequency divisors (GGUF's rope_freqs tensor), or None."""
        if not self.llama3_rope():
            return None
        import numpy as np
        s = self.rope_scaling
        factor = float(s["factor"])
        lo, hi = float(s.get("low_freq_factor", 1.0)), float(s.get("high_freq_factor", 4.0))
        old_ctx = float(s.get("original_max_position_embeddings", 8192))
        d = self.n_rot
        inv_freq = self.rope_theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
        wavelen = 2 * math.pi / inv_freq
        smooth = (old_ctx / wavelen - lo) / (hi - lo)
        divisor = 1.0 / ((1 - smooth) / factor + smooth)
        divisor = np.where(wavelen < old_ctx / hi, 1.0, divisor)
        divisor = np.where(wavelen > old_ctx / lo, factor, divisor)
        return divisor.astype(np.float32)

    def describe(self) -> str:
        keys = ("dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "ffn_dim", "vocab_size")
        return ", ".join(f"{k}={getattr(self, k)}" for k in keys)

    def replace(self, **kw) -> "ModelArgs":
        vals = {f.name: getattr(self, f.name) for f in fields(self)}
        vals.update(kw)
        return type(self)(**vals)
