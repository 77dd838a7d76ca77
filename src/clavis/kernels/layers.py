"""A Llama-style decoder's layers in ONE C call per forward (csrc/llm_layers.c).

    plan = LayerPlan.build(hp, layers, kv)      # None when a layer needs the Python path
    plan.run(x, positions, pos0)                # x f32[T, dim] updated in place
    plan.run(x, positions, pos0, prof.ops)      # ... adding each step's seconds (DecodeProfile)

The C side calls the same kernel drivers as the Python forward in the same order, so results are
bit-identical; it saves the interpreter time between the ~15 kernel calls of each layer (a large
share of a decode step on small models). The plan holds pointers into the weights, norms, biases
and KV cache arrays, and keeps references to all of them so they stay alive while it exists.

`hp`: dim, n_heads, n_kv_heads, head_dim, ffn_dim, n_rot, neox, eps, theta, att_scale,
freq_factors (or None). `layers`: objects with attn_norm, ffn_norm, wq, wk, wv, wo, w_gate, w_up,
w_down (PackedWeight), bq/bk/bv (or None), q_norm/k_norm (must be None). `kv`: .k/.v lists of
[n_kv_heads, n_ctx, head_dim] float16/float32 buffers (NumPy arrays or memoryview casts).
No NumPy here: everything is a buffer (array, memoryview), so the runtime can run without it.
"""
from __future__ import annotations

from array import array

from clavis import ClavisError
from clavis.kernels import _C
from clavis.kernels.matmul import PackedWeight

LAYER_WEIGHTS = ("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down")   # a layer's PackedWeights
OP_NAMES: tuple[str, ...] = _C.llm_op_names()   # the C layer loop's steps, as profiled


class DecodeProfile:
    """Where one-token forwards spend their time (attach to a model's `profile`):
    ops[i]: seconds in C layer step OP_NAMES[i], summed over layers and tokens (C path only);
    head: final norm + logits; forward: whole forwards; tokens: how many were counted."""

    def __init__(self):
        self.ops = array("d", bytes(8 * len(OP_NAMES)))
        self.head = self.forward = 0.0
        self.tokens = 0

    def summary(self, token_s: float | None = None) -> dict:
        """Milliseconds per token: each C step, `head`, `forward_other` (the forward outside C
        steps and head: embedding lookup, Python glue) and, given the wall time per decoded
        token, `outside_forward` (sampling, detokenizing, the loop)."""
        n = max(self.tokens, 1)
        ms = {name: 1e3 * t / n for name, t in zip(OP_NAMES, self.ops)}
        ms["head"] = 1e3 * self.head / n
        ms["forward_other"] = 1e3 * (self.forward - self.head - float(sum(self.ops))) / n
        if token_s is not None:
            ms["outside_forward"] = 1e3 * token_s - 1e3 * self.forward / n
        return ms


def numpy_view(buf):
    """The NumPy view (no copy) of a KV cache buffer: a NumPy array as it is, a memoryview of
    format "H" (f16 kept as its 16-bit patterns: memoryview has no half float) as float16."""
    import numpy as np
    a = np.asarray(buf)
    return a.view(np.float16) if a.dtype == np.uint16 else a


def _fmt(a) -> tuple[str, tuple[int, ...]]:
    """(format, shape) of a C-contiguous buffer; ValueError otherwise."""
    mv = memoryview(a)
    if not mv.c_contiguous:
        raise ValueError
    return mv.format.lstrip("<=@"), tuple(mv.shape)


def _ptr(a, refs: list, fmt: str, size: int | None = None) -> int:
    """Address of buffer `a` of format fmt ("f" f32, "e" f16, "B" bytes) holding `size`
    elements, kept alive by refs; 0 for None. ValueError when it does not fit."""
    if a is None:
        return 0
    f, shape = _fmt(a)
    if f != fmt and not (fmt == "B" and f in ("b", "c")):
        raise ValueError
    n = 1
    for d in shape:
        n *= d
    if size is not None and n != size:
        raise ValueError
    refs.append(a)
    return int(_C.buffer_address(a)[0])


class LayerPlan:
    def __init__(self, table, hp_i, hp_f, refs, kv_ptrs):
        self.table, self.hp_i, self.hp_f, self._refs, self.kv_ptrs = table, hp_i, hp_f, refs, kv_ptrs

    @classmethod
    def build(cls, hp: dict, layers, kv) -> "LayerPlan | None":
        """The plan, or None when some layer cannot run in C (per-head q/k norms, odd arrays)."""
        refs: list = []
        uks: dict = {}
        D, hkv = hp["head_dim"], hp["n_kv_heads"]
        try:
            kdt, kshape = _fmt(kv.k[0])
            n_ctx = int(kshape[1])
            if kdt not in ("e", "H", "f"):     # "H": f16 bit patterns (runtime.kv_cache)
                return None
            rows = []
            for i, L in enumerate(layers):
                if getattr(L, "q_norm", None) is not None or getattr(L, "k_norm", None) is not None:
                    return None
                kc, vc = kv.k[i], kv.v[i]
                if _fmt(kc) != (kdt, (hkv, n_ctx, D)) or _fmt(vc) != _fmt(kc):
                    return None
                row = [_ptr(L.attn_norm, refs, "f", hp["dim"]),
                       _ptr(L.ffn_norm, refs, "f", hp["dim"]),
                       _ptr(L.bq, refs, "f"), _ptr(L.bk, refs, "f"),
                       _ptr(L.bv, refs, "f"), _ptr(kc, refs, kdt), _ptr(vc, refs, kdt)]
                for name in LAYER_WEIGHTS:
                    w = getattr(L, name)
                    if not isinstance(w, PackedWeight):
                        return None
                    key = (w._tid, w.variant)
                    if key not in uks:
                        uks[key] = _C.matmul_ukernel_ptr(w._tid, w.variant)
                    row += [_ptr(w.packed, refs, "B"), uks[key], w.n]
                rows.append(row)
        except (ValueError, AttributeError, IndexError, TypeError):
            return None
        ff = hp.get("freq_factors")
        ffp = 0
        if ff is not None:
            try:
                ffp = _ptr(ff, refs, "f", hp["n_rot"] // 2)
            except ValueError:
                return None
        hp_i = array("q", [hp["dim"], hp["n_heads"], hkv, D, hp["ffn_dim"], n_ctx, hp["n_rot"],
                           int(bool(hp["neox"])), int(kdt != "f"), ffp])
        hp_f = array("d", [hp["eps"], hp["theta"], hp["att_scale"]])
        flat = array("q", [v for row in rows for v in row])
        table = memoryview(flat).cast("B").cast("q", (len(rows), 28)) if rows else flat
        # the plan references these arrays, so their ids stay unique while it lives
        kv_ids = [id(a) for a in kv.k] + [id(a) for a in kv.v]
        return cls(table, hp_i, hp_f, refs, kv_ids)

    def matches(self, kv) -> bool:
        """Whether kv still holds the cache arrays this plan points into."""
        try:
            return [id(a) for a in kv.k] + [id(a) for a in kv.v] == self.kv_ptrs
        except (AttributeError, TypeError):
            return False

    def run(self, x, positions, pos0: int, prof=None):
        """All layers over x f32[T, dim] (in place; a writable C-contiguous 2-D buffer) at
        `positions` (int32[T] buffer); with prof (float64[len(OP_NAMES)]), each step's seconds
        are added to it."""
        try:
            _C.llm_layers(self.table, self.hp_i, self.hp_f, x, positions, int(pos0), prof)
        except (ValueError, TypeError) as e:
            raise ClavisError(f"LayerPlan.run: {e} (x: a writable C-contiguous float32 "
                              f"[T, dim], positions: int32[T])") from None
        return x
