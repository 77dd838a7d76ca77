"""The KV cache: per layer, keys and values as [Hkv, n_ctx, D] arrays (f16 by default: half the
memory and bandwidth; the attention kernel reads f16 or f32). Pages are committed lazily by the
OS (np.zeros), so a large n_ctx costs memory only as it fills."""
from __future__ import annotations

import numpy as np


class KVCache:
    def __init__(self, n_layers: int, n_kv_heads: int, n_ctx: int, head_dim: int,
                 dtype: str = "f16"):
        dt = {"f16": np.float16, "f32": np.float32}[dtype]
        self.n_ctx, self.dtype = int(n_ctx), dtype
        self.k = [np.zeros((n_kv_heads, n_ctx, head_dim), dtype=dt) for _ in range(n_layers)]
        self.v = [np.zeros((n_kv_heads, n_ctx, head_dim), dtype=dt) for _ in range(n_layers)]
        self.n = 0          # positions filled (the next token's position)

    @classmethod
    def for_model(cls, args, n_ctx: int, dtype: str = "f16") -> "KVCache":
        return cls(args.n_layers, args.n_kv_heads, n_ctx, args.head_dim, dtype)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.k) + sum(a.nbytes for a in self.v)

    def reset(self, n: int = 0) -> None:
        """Forget everything after position n (the cached prefix [0, n) stays valid)."""
        self.n = int(n)
