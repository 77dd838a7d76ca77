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
[n_kv_heads, n_ctx, head_dim] float16/float32 arrays.
"""
from __future__ import annotations

import numpy as np

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
        self.ops = np.zeros(len(OP_NAMES), dtype=np.float64)
        self.head = self.forward = 0.0
        self.tokens = 0

    def summary(self, token_s: float | None = None) -> dict:
        """Milliseconds per token: each C step, `head`, `forward_other` (the forward outside C
        steps and head: embedding lookup, Python glue) and, given the wall time per decoded
        token, `outside_forward` (sampling, detokenizing, the loop)."""
        n = max(self.tokens, 1)
        ms = {name: 1e3 * t / n for name, t in zip(OP_NAMES, self.ops)}
        ms["head"] = 1e3 * self.head / n
        ms["forward_other"] = 1e3 * (self.forward - self.head - float(self.ops.sum())) / n
        if token_s is not None:
            ms["outside_forward"] = 1e3 * token_s - 1e3 * self.forward / n
        return ms


def _ptr(a, refs: list, dtype, size: int | None = None) -> int:
    if a is None:
        return 0
    if (not isinstance(a, np.ndarray) or a.dtype != dtype or not a.flags.c_contiguous
            or (size is not None and a.size != size)):
        raise ValueError
    refs.append(a)
    return int(a.ctypes.data)


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
            n_ctx = int(kv.k[0].shape[1])
            kdt = kv.k[0].dtype
            if kdt not in (np.float16, np.float32):
                return None
            rows = []
            for i, L in enumerate(layers):
                if getattr(L, "q_norm", None) is not None or getattr(L, "k_norm", None) is not None:
                    return None
                kc, vc = kv.k[i], kv.v[i]
                if kc.shape != (hkv, n_ctx, D) or vc.shape != kc.shape or vc.dtype != kdt:
                    return None
                row = [_ptr(L.attn_norm, refs, np.float32, hp["dim"]),
                       _ptr(L.ffn_norm, refs, np.float32, hp["dim"]),
                       _ptr(L.bq, refs, np.float32), _ptr(L.bk, refs, np.float32),
                       _ptr(L.bv, refs, np.float32), _ptr(kc, refs, kdt), _ptr(vc, refs, kdt)]
                for name in LAYER_WEIGHTS:
                    w = getattr(L, name)
                    if not isinstance(w, PackedWeight):
                        return None
                    key = (w._tid, w.variant)
                    if key not in uks:
                        uks[key] = _C.matmul_ukernel_ptr(w._tid, w.variant)
                    row += [_ptr(w.packed, refs, np.uint8), uks[key], w.n]
                rows.append(row)
        except (ValueError, AttributeError, IndexError, TypeError):
            return None
        ff = hp.get("freq_factors")
        ffp = 0
        if ff is not None:
            ff = np.ascontiguousarray(ff, dtype=np.float32)
            ffp = _ptr(ff, refs, np.float32, hp["n_rot"] // 2)
        hp_i = np.array([hp["dim"], hp["n_heads"], hkv, D, hp["ffn_dim"], n_ctx, hp["n_rot"],
                         int(bool(hp["neox"])), int(kdt == np.float16), ffp], dtype=np.int64)
        hp_f = np.array([hp["eps"], hp["theta"], hp["att_scale"]], dtype=np.float64)
        table = np.array(rows, dtype=np.int64).reshape(len(rows), 28)
        # the plan references these arrays, so their ids stay unique while it lives
        kv_ids = [id(a) for a in kv.k] + [id(a) for a in kv.v]
        return cls(table, hp_i, hp_f, refs, kv_ids)

    def matches(self, kv) -> bool:
        """Whether kv still holds the cache arrays this plan points into."""
        try:
            return [id(a) for a in kv.k] + [id(a) for a in kv.v] == self.kv_ptrs
        except (AttributeError, TypeError):
            return False

    def run(self, x: np.ndarray, positions: np.ndarray, pos0: int,
            prof: np.ndarray | None = None) -> np.ndarray:
        """All layers over x f32[T, dim] (in place) at `positions` (int32[T]); with prof
        (float64[len(OP_NAMES)]), each step's seconds are added to it."""
        if x.dtype != np.float32 or x.ndim != 2 or not x.flags.c_contiguous or not x.flags.writeable:
            raise ClavisError("LayerPlan.run: x must be a writable C-contiguous float32 [T, dim]")
        try:
            _C.llm_layers(self.table, self.hp_i, self.hp_f, x,
                          np.ascontiguousarray(positions, dtype=np.int32), int(pos0), prof)
        except (ValueError, TypeError) as e:
            raise ClavisError(f"LayerPlan.run: {e}") from None
        return x
