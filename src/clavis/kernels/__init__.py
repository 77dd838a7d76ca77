"""clavis.kernels: the Python face of the C kernel core (clavis._C).

Everything here takes and returns NumPy arrays (C-contiguous; float32 unless stated) and releases
the GIL inside the C call. Ops are dispatched once, at import, to the best variant the CPU allows
(CLAVIS_DISABLE_CPU_FEATURES=avx512,avx2 | all forces lower tiers); `use_variant` pins one.

The API contract other layers code against (see the per-module docstrings for details):
  formats:   quantize(x, type) -> uint8 bytes (GGUF layout);  dequantize(data, type, shape) -> f32
  matmul:    PackedWeight(data, type, n, k);  matmul(x[M,K], w) -> y[M,N]
  ops:       rms_norm, layer_norm, rope, softmax, silu_mul, gelu, add, scale, embedding,
             attention (KV cache, causal, GQA, f16/f32 cache), conv1d_gelu
  threads:   set_num_threads(n), get_num_threads()
  info:      info() -> dict (cpu features, chosen variant per op, threads)
"""
from __future__ import annotations

import contextlib
import os
import platform

from clavis import ClavisError, __version__

try:
    from clavis import _C
except ImportError as e:  # pragma: no cover - only without a build
    raise ClavisError(
        "the clavis C extension is not built; run `make build` (or `pip install .`) first"
    ) from e


def set_num_threads(n: int) -> None:
    """Resize the runtime's thread pool (the calling thread counts as one)."""
    _C.set_num_threads(int(n))


def get_num_threads() -> int:
    return _C.get_num_threads()


def machine_threads() -> int:
    """The pool's size when a process starts: CLAVIS_NUM_THREADS if set (and in range), else the
    physical cores (the C pool's own default, read again now)."""
    return _C.default_threads()


@contextlib.contextmanager
def threads_for_load(threads: int):
    """Packing a model's weights at load (a copy with page faults, once) runs on at least
    machine_threads(): a decode asked to use 1 thread on a 2-core machine still loads on 2
    (llama-2-7b Q4_0: 2.3-5.2 s on one thread against 1.3-1.5 on two). The pool is `threads`
    again afterwards."""
    set_num_threads(max(int(threads), machine_threads()))
    try:
        yield
    finally:
        set_num_threads(int(threads))


def info() -> dict:
    """CPU features (detected and enabled), the variant chosen per op, thread count."""
    return {
        "version": __version__,
        "machine": platform.machine(),
        "cpu": _C.cpu_features(),
        "disabled_by_env": os.environ.get("CLAVIS_DISABLE_CPU_FEATURES", ""),
        "threads": _C.get_num_threads(),
        "decode_prefetch_bytes": _C.decode_prefetch(),
        "ops": {op: {"chosen": d["chosen"], "variants": [list(v) for v in d["variants"]]}
                for op, d in _C.ops().items()},
    }


def decode_prefetch(nbytes: int | None = None) -> int:
    """Bytes ahead a decode matvec software-prefetches in a packed Q4_0 / Q8_0 weight stream (0:
    none). The default is the CPU's (6144 on AMD Zen 5, 0 elsewhere) or CLAVIS_DECODE_PREFETCH;
    `nbytes` sets it for the process (-1: back to that default). Returns the value in force."""
    return _C.decode_prefetch() if nbytes is None else _C.decode_prefetch(int(nbytes))


def variants(op: str) -> list[str]:
    """Names of the variants of `op` that can run on this CPU with the enabled features."""
    ops = _C.ops()
    if op not in ops:
        raise ClavisError(f"unknown op {op!r}; known: {', '.join(sorted(ops))}")
    return [name for name, ok in ops[op]["variants"] if ok]


@contextlib.contextmanager
def use_variant(op: str, variant: str):
    """Pin `op` to `variant` inside the block (tests compare every variant to the scalar one)."""
    prev = _C.force_variant(op, variant)
    try:
        yield
    finally:
        _C.force_variant(op, prev)
