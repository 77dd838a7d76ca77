"""The KV cache: per layer, keys and values as [Hkv, n_ctx, D] buffers (f16 by default: half the
memory and bandwidth; the attention kernel reads f16 or f32), all in one anonymous mapping whose
pages the OS commits as they are written, so a large n_ctx costs memory only as it fills (unless
the LLM moves a small cache to huge pages: LLM.KV_HUGE_MAX).

No NumPy: `k[i]`/`v[i]` are memoryviews of shape [Hkv, n_ctx, D], format "f" (f32) or "H" (f16
as its 16-bit patterns: memoryview has no half-float format); `array(kv.k[i])` gives the NumPy
view (float16/float32, writable, no copy). A NumPy array of that shape may replace an entry."""
from __future__ import annotations

from clavis.kernels.layers import numpy_view
from clavis.kernels.matmul import aligned_buffer

_FORMATS = {"f16": ("H", 2), "f32": ("f", 4)}


class KVCache:
    def __init__(self, n_layers: int, n_kv_heads: int, n_ctx: int, head_dim: int,
                 dtype: str = "f16"):
        if dtype not in _FORMATS:
            raise ValueError(f"KV cache dtype must be one of {', '.join(_FORMATS)}, got {dtype!r}")
        self.n_ctx, self.dtype = int(n_ctx), dtype
        fmt, size = _FORMATS[dtype]
        shape = (int(n_kv_heads), self.n_ctx, int(head_dim))
        n = shape[0] * shape[1] * shape[2] * size
        stride = (n + 63) // 64 * 64
        # one mapping for every layer's K and V: whole 2 MiB pages in it can be huge pages
        # (kernels.matmul.huge_pages; one layer's K alone is often smaller than one)
        self.arena = aligned_buffer(max(2 * int(n_layers) * stride, 1))
        if n == 0:                  # memoryview cannot take a shape with a zero in it
            self.k = [memoryview(b"").cast(fmt) for _ in range(n_layers)]
            self.v = [memoryview(b"").cast(fmt) for _ in range(n_layers)]
        else:
            part = lambda j: self.arena[j * stride:j * stride + n].cast(fmt, shape)  # noqa: E731
            self.k = [part(2 * i) for i in range(n_layers)]
            self.v = [part(2 * i + 1) for i in range(n_layers)]
        self.n = 0          # positions filled (the next token's position)

    @classmethod
    def for_model(cls, args, n_ctx: int, dtype: str = "f16") -> "KVCache":
        return cls(args.n_layers, args.n_kv_heads, n_ctx, args.head_dim, dtype)

    @property
    def nbytes(self) -> int:
        return sum(memoryview(a).nbytes for a in self.k + self.v)

    def array(self, buf):
        """The NumPy view of one entry of k/v (float16/float32 [Hkv, n_ctx, D], no copy)."""
        return numpy_view(buf)

    def reset(self, n: int = 0) -> None:
        """Forget everything after position n (the cached prefix [0, n) stays valid)."""
        self.n = int(n)
