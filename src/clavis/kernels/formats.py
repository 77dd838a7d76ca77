"""GGUF tensor formats in C: quantize float32 to GGUF bytes and back, byte-exact with gguf-py.

    quantize(x: f32[..., K], type) -> uint8[..., row_bytes(type, K)]
    dequantize(data: uint8, type, shape) -> f32[shape]

`type` is a name ("f32", "f16", "bf16", "q8_0", "q4_0") or a GGML type id (0, 1, 30, 8, 2).
Block formats (q8_0, q4_0) work on blocks of 32 values along the last axis.
"""
from __future__ import annotations

import operator
from array import array
from typing import TYPE_CHECKING

from clavis import ClavisError
from clavis.kernels import _C

if TYPE_CHECKING:
    import numpy as np

TYPE_IDS = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "bf16": 30}
TYPE_NAMES = {v: k for k, v in TYPE_IDS.items()}


def type_id(type) -> int:
    """The GGML type id of a type name or id; ClavisError if unsupported."""
    if isinstance(type, str):
        key = type.lower()
        if key in TYPE_IDS:
            return TYPE_IDS[key]
    elif not isinstance(type, bool) and hasattr(type, "__index__") and operator.index(type) in TYPE_NAMES:
        return operator.index(type)
    raise ClavisError(f"unsupported tensor type {type!r}; supported: "
                      + ", ".join(f"{n} ({i})" for n, i in TYPE_IDS.items()))


def type_name(type) -> str:
    return TYPE_NAMES[type_id(type)]


def block_size(type) -> int:
    """Values per block: 32 for q8_0/q4_0, 1 for the float types."""
    return _C.type_info(type_id(type))[1]


def row_bytes(type, n: int) -> int:
    """Bytes of a row of n values; ClavisError if n is not a multiple of the block size."""
    name, bs, ts = _C.type_info(type_id(type))
    if n % bs:
        raise ClavisError(f"{name}: a row of {n} values is not a multiple of the block size {bs}")
    return n // bs * ts


def dequantize_values(data, type, n: int) -> "array":
    """The n float32 values of GGUF bytes `data` (any buffer) as an array("f"), without NumPy
    (the runtime's norms and biases)."""
    tid = type_id(type)
    out = array("f", bytes(4 * int(n)))
    try:
        _C.dequantize(data, out, tid)
    except (ValueError, TypeError) as e:
        raise ClavisError(f"dequantize: {e}") from None
    return out


def quantize(x, type) -> "np.ndarray":
    """GGUF bytes of float32 `x` (rows along the last axis), shape (..., row_bytes)."""
    import numpy as np
    tid = type_id(type)
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.dtype != np.float32:
        raise ClavisError(f"quantize: x must be float32, got {x.dtype}")
    if x.ndim == 0:
        raise ClavisError("quantize: x must have at least one dimension")
    x = np.ascontiguousarray(x)
    nb = row_bytes(tid, x.shape[-1])
    out = np.empty((*x.shape[:-1], nb), dtype=np.uint8)
    _C.quantize(x, out, tid)
    return out


def dequantize(data, type, shape) -> "np.ndarray":
    """Float32 values of GGUF bytes `data` for a tensor of `shape` (last axis = row)."""
    import numpy as np
    tid = type_id(type)
    shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    if not shape or any(s < 0 for s in shape):
        raise ClavisError(f"dequantize: bad shape {shape}")
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, dtype=np.uint8)
    if data.dtype != np.uint8:
        data = np.ascontiguousarray(data).view(np.uint8)
    data = np.ascontiguousarray(data).reshape(-1)
    nb = row_bytes(tid, shape[-1]) * int(np.prod(shape[:-1], dtype=np.int64))
    if data.size != nb:
        raise ClavisError(f"dequantize: a {type_name(tid)} tensor of shape {shape} has {nb} bytes, "
                          f"got {data.size}")
    out = np.empty(shape, dtype=np.float32)
    _C.dequantize(data, out, tid)
    return out
