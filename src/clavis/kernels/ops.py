"""clavis.kernels.ops: the non-matmul ops of a transformer forward pass, in C.

Every function takes NumPy float32 arrays (inputs of another layout are made C-contiguous;
inputs of another dtype are refused), returns a new array or writes `out` (C-contiguous float32
of the result's shape), releases the GIL, and runs on the runtime's thread pool. Bad arguments
raise ClavisError naming the argument; nothing reaches a kernel unchecked.

    rms_norm(x[M,K], w[K], eps)               layer_norm(x[M,K], w[K], b[K], eps)
    rope(x[T,H,D], positions[T], theta, neox, n_rot=D, freq_factors=None)   (in place)
    softmax(x[M,K])  silu_mul(gate, up)  gelu(x)  add(a, b)  scale(x, s)
    embedding(data uint8, type, n_cols, ids[T]) -> [T, n_cols]
    attention(q[T,Hq,D], k_cache[Hkv,S,D], v_cache, n_kv, pos0, causal, scale) -> [T,Hq,D]
    conv1d_gelu(x[Cin,L], w[Cout,Cin,ks], b[Cout], stride, padding) -> [Cout, Lout]
"""
from __future__ import annotations

import numpy as np

from clavis import ClavisError
from clavis.kernels import _C

_TYPE_IDS = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "bf16": 30}


def _f32(name: str, op: str, a, allow_none: bool = False):
    """A C-contiguous float32 view (copying only a non-contiguous layout); refuses other dtypes."""
    if a is None and allow_none:
        return None
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(memoryview(a))        # array("f"), memoryview casts: no copy
        except TypeError:
            raise ClavisError(f"ops.{op}: {name} must be a float32 array, got "
                              f"{type(a).__name__}") from None
    if a.dtype != np.float32:
        raise ClavisError(f"ops.{op}: {name} must be float32, got {a.dtype}")
    return np.ascontiguousarray(a)


def _empty(op: str, shape) -> np.ndarray:
    try:
        return np.empty(shape, dtype=np.float32)
    except (MemoryError, ValueError) as e:
        raise ClavisError(f"ops.{op}: cannot allocate an output of shape {tuple(shape)}: {e}") from None


def _out(op: str, out, shape) -> np.ndarray:
    if out is None:
        return _empty(op, shape)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise ClavisError(f"ops.{op}: out must be a writable C-contiguous float32 array")
    if out.shape != tuple(shape):
        raise ClavisError(f"ops.{op}: out has shape {out.shape}, expected {tuple(shape)}")
    return out


def _call(op: str, fn, *args):
    try:
        fn(*args)
    except (TypeError, ValueError, IndexError, OverflowError) as e:
        raise ClavisError(f"ops.{op}: {e}") from None


def _rows(op: str, x) -> np.ndarray:
    x = _f32("x", op, x)
    if x.ndim != 2:
        raise ClavisError(f"ops.{op}: x must be 2-D [M, K], got shape {x.shape}")
    return x


def rms_norm(x, w, eps: float, out=None) -> np.ndarray:
    """y = x / sqrt(mean(x^2) + eps) * w, per row of x[M, K]."""
    x = _rows("rms_norm", x)
    out = _out("rms_norm", out, x.shape)
    _call("rms_norm", _C.rms_norm, x, _f32("w", "rms_norm", w, True), out, float(eps))
    return out


def layer_norm(x, w, b, eps: float, out=None) -> np.ndarray:
    """y = (x - mean) / sqrt(var + eps) * w + b, per row of x[M, K] (biased variance, as torch)."""
    x = _rows("layer_norm", x)
    out = _out("layer_norm", out, x.shape)
    _call("layer_norm", _C.layer_norm, x, _f32("w", "layer_norm", w, True),
          _f32("b", "layer_norm", b, True), out, float(eps))
    return out


def softmax(x, out=None) -> np.ndarray:
    """Softmax over the last axis of x[M, K] (max-subtracted)."""
    x = _rows("softmax", x)
    out = _out("softmax", out, x.shape)
    _call("softmax", _C.softmax, x, out)
    return out


def silu_mul(gate, up, out=None) -> np.ndarray:
    """silu(gate) * up (SwiGLU), any shape; up has gate's shape."""
    gate, up = _f32("gate", "silu_mul", gate), _f32("up", "silu_mul", up)
    if gate.shape != up.shape:
        raise ClavisError(f"ops.silu_mul: gate {gate.shape} and up {up.shape} differ in shape")
    out = _out("silu_mul", out, gate.shape)
    _call("silu_mul", _C.silu_mul, gate, up, out)
    return out


def gelu(x, out=None) -> np.ndarray:
    """0.5 x (1 + erf(x / sqrt 2)), torch's default (exact) GELU, any shape."""
    x = _f32("x", "gelu", x)
    out = _out("gelu", out, x.shape)
    _call("gelu", _C.gelu, x, out)
    return out


def add(a, b, out=None) -> np.ndarray:
    """a + b, where b has a's shape or is one row (a's last dimension) added to every row."""
    a, b = _f32("a", "add", a), _f32("b", "add", b)
    row = a.shape[-1] if a.ndim else 1
    if b.shape != a.shape and not (b.size == row and (b.ndim <= 1 or b.shape[-1] == row)):
        raise ClavisError(f"ops.add: b {b.shape} must have a's shape {a.shape} or be one row of "
                          f"{a.shape[-1] if a.ndim else 1}")
    out = _out("add", out, a.shape)
    _call("add", _C.add, a, b, out)
    return out


def scale(x, s: float, out=None) -> np.ndarray:
    """x * s, any shape."""
    x = _f32("x", "scale", x)
    out = _out("scale", out, x.shape)
    _call("scale", _C.scale, x, float(s), out)
    return out


def rope(x, positions, theta: float, neox: bool, n_rot: int | None = None, freq_factors=None):
    """Rotary position embedding of x[T, H, D] in place (returns x).

    neox=False pairs (2i, 2i+1) (llama.cpp's normal mode, GGUF Llama); neox=True pairs
    (i, i + n_rot/2) (NeoX / Hugging Face rotate_half). Only the first n_rot dims rotate.
    Pair i at position p turns by p * theta^(-2i/n_rot) / freq_factors[i].
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous \
            or not x.flags.writeable:
        raise ClavisError("ops.rope: x must be a writable C-contiguous float32 array [T, H, D] "
                          "(it is rotated in place)")
    if x.ndim != 3:
        raise ClavisError(f"ops.rope: x must be 3-D [T, H, D], got shape {x.shape}")
    pos = positions
    if not (isinstance(pos, np.ndarray) and pos.dtype == np.int32 and pos.ndim == 1
            and pos.flags.c_contiguous):   # the fast path skips this (the C side checks >= 0)
        pos = np.asarray(positions)
        if pos.dtype.kind not in "iu":
            raise ClavisError(f"ops.rope: positions must be integers, got {pos.dtype}")
        if pos.size and (pos.min() < 0 or pos.max() > np.iinfo(np.int32).max):
            raise ClavisError("ops.rope: positions must be in 0..2^31-1")
        pos = np.ascontiguousarray(pos, dtype=np.int32).reshape(-1)
    n_rot = x.shape[2] if n_rot is None else int(n_rot)
    ff = _f32("freq_factors", "rope", freq_factors, True)
    _call("rope", _C.rope, x, pos, float(theta), bool(neox), n_rot, ff)
    return x


def embedding(data, type, n_cols: int, ids) -> np.ndarray:
    """Rows `ids` of a [rows, n_cols] matrix stored as GGUF bytes of `type`, as float32 [T, n_cols]."""
    tid = _TYPE_IDS.get(type, type) if isinstance(type, str) else type
    if not isinstance(tid, (int, np.integer)):
        raise ClavisError(f"ops.embedding: unknown type {type!r}; known: {', '.join(_TYPE_IDS)}")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise ClavisError("ops.embedding: data must be a uint8 numpy array of GGUF row bytes")
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ClavisError(f"ops.embedding: ids must be integers, got {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() > np.iinfo(np.int32).max):
        raise ClavisError(f"ops.embedding: ids must be in 0..rows-1, got {ids.min()}..{ids.max()}")
    ids = np.ascontiguousarray(ids.reshape(-1), dtype=np.int32)
    if int(n_cols) <= 0:
        raise ClavisError(f"ops.embedding: n_cols must be positive, got {n_cols}")
    out = _empty("embedding", (ids.shape[0], int(n_cols)))
    _call("embedding", _C.embedding, np.ascontiguousarray(data), int(tid), int(n_cols), ids, out)
    return out


def attention(q, k_cache, v_cache, n_kv: int, pos0: int, causal: bool, scale: float,
              out=None) -> np.ndarray:
    """softmax(scale * q k^T) v over a KV cache, per query head.

    q[T, Hq, D]; k_cache, v_cache [Hkv, S, D], both float32 or both float16. Query row t sees
    keys j < n_kv and, when causal, j <= pos0 + t. Head h reads KV head h // (Hq // Hkv).
    """
    q = _f32("q", "attention", q)
    caches = []
    for name, c in (("k_cache", k_cache), ("v_cache", v_cache)):
        if not isinstance(c, np.ndarray) or c.dtype not in (np.float32, np.float16):
            raise ClavisError(f"ops.attention: {name} must be a float32 or float16 numpy array")
        if not c.flags.c_contiguous:
            raise ClavisError(f"ops.attention: {name} must be C-contiguous [Hkv, S, D]")
        caches.append(c)
    if q.ndim != 3:
        raise ClavisError(f"ops.attention: q must be 3-D [T, Hq, D], got shape {q.shape}")
    out = _out("attention", out, q.shape)
    _call("attention", _C.attention, q, caches[0], caches[1], int(n_kv), int(pos0), bool(causal),
          float(scale), out)
    return out


def conv1d_gelu(x, w, b, stride: int, padding: int, out=None) -> np.ndarray:
    """gelu(conv1d(x[Cin, L], w[Cout, Cin, ks]) + b) -> [Cout, Lout] (Whisper's front end)."""
    x, w = _f32("x", "conv1d_gelu", x), _f32("w", "conv1d_gelu", w)
    b = _f32("b", "conv1d_gelu", b, True)
    if x.ndim != 2 or w.ndim != 3:
        raise ClavisError(f"ops.conv1d_gelu: x must be [Cin, L] and w [Cout, Cin, ks]; got {x.shape}, {w.shape}")
    stride, padding = int(stride), int(padding)
    if stride < 1 or padding < 0:
        raise ClavisError(f"ops.conv1d_gelu: stride must be >= 1 and padding >= 0 (got {stride}, {padding})")
    lout = (x.shape[1] + 2 * padding - w.shape[2]) // stride + 1
    if lout < 1:
        raise ClavisError(f"ops.conv1d_gelu: input of length {x.shape[1]} is shorter than the kernel")
    out = _out("conv1d_gelu", out, (w.shape[0], lout))
    _call("conv1d_gelu", _C.conv1d_gelu, x, w, b, stride, padding, out)
    return out
