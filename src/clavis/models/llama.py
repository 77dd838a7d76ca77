"""Llama (2/3/3.1/3.2, TinyLlama, Mistral): args, the GGUF tensor table, the HF name map and
the forward pass shared by the Llama-style architectures (qwen2.py and qwen3.py subclass it).

Layout: weights follow GGUF. For `llama`, llama.cpp's converter permutes the Q/K rows so that
rope rotates adjacent pairs (x[2i], x[2i+1]) ("normal" rope); HF rotates halves (rotate_half),
so HF weights are permuted at load (weights.permute_qk). qwen2/qwen3 keep HF's order and use
NeoX (halves) rope.

Forward, per layer (T new tokens, shapes in comments):
  x[T,dim] -> rms_norm -> q[T,Hq*D] k,v[T,Hkv*D] -> rope(q,k) -> KV cache -> attention
  -> wo -> +x -> rms_norm -> silu(gate)*up -> down -> +x
Every intermediate goes through `hook(name, array)` when given (names as in `HOOK_NAMES`).

Two paths, the same kernels in the same order (bit-identical): `forward_buffer` runs all layers
in one C call (kernels.layers.LayerPlan) on plain buffers, without NumPy, and is what generation
uses; the layer-by-layer Python path (`_block`, NumPy; hooks always take it) is the reference.
`forward` returns NumPy arrays either way.
"""
from __future__ import annotations

import math
import threading
import time
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from clavis import ClavisError
from clavis.kernels.layers import LAYER_WEIGHTS, numpy_view
from clavis.models.args import ModelArgs
from clavis.models.weights import GGUFSource, HFSource, WeightSource, int_list, permute_qk

if TYPE_CHECKING:
    import numpy as np

Hook = Callable[[str, "np.ndarray"], None]
HOOK_NAMES = ("inp_embd", "attn_norm", "q", "k", "v", "q_rope", "k_rope", "attn", "attn_out",
              "ffn_inp", "ffn_norm", "ffn_act", "ffn_out", "l_out", "result_norm", "result_output")


class LlamaArgs(ModelArgs):
    pass


@dataclass
class Layer:
    attn_norm: np.ndarray
    wq: object
    wk: object
    wv: object
    wo: object
    ffn_norm: np.ndarray
    w_gate: object
    w_up: object
    w_down: object
    bq: np.ndarray | None = None
    bk: np.ndarray | None = None
    bv: np.ndarray | None = None
    q_norm: np.ndarray | None = None
    k_norm: np.ndarray | None = None


class LlamaModel:
    Args = LlamaArgs
    arch = "llama"

    # ---- tensor tables -------------------------------------------------------------------------
    @classmethod
    def layer_shapes(cls, a: ModelArgs) -> dict[str, tuple[int, ...]]:
        """Per-layer GGUF tensors (suffix after 'blk.N.') and their NumPy shapes."""
        q, kv = a.n_heads * a.head_dim, a.n_kv_heads * a.head_dim
        return {
            "attn_norm.weight": (a.dim,), "attn_q.weight": (q, a.dim),
            "attn_k.weight": (kv, a.dim), "attn_v.weight": (kv, a.dim),
            "attn_output.weight": (a.dim, q), "ffn_norm.weight": (a.dim,),
            "ffn_gate.weight": (a.ffn_dim, a.dim), "ffn_up.weight": (a.ffn_dim, a.dim),
            "ffn_down.weight": (a.dim, a.ffn_dim),
        }

    @classmethod
    def tensor_shapes(cls, a: ModelArgs) -> dict[str, tuple[int, ...]]:
        """Every GGUF tensor of the model (output.weight only when untied)."""
        t = {"token_embd.weight": (a.vocab_size, a.dim), "output_norm.weight": (a.dim,)}
        if not a.tied:
            t["output.weight"] = (a.vocab_size, a.dim)
        if a.llama3_rope():
            t["rope_freqs.weight"] = (a.n_rot // 2,)
        for i in range(a.n_layers):
            t.update({f"blk.{i}.{s}": shp for s, shp in cls.layer_shapes(a).items()})
        return t

    HF_LAYER = {
        "attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
        "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
        "attn_output.weight": "self_attn.o_proj.weight",
        "ffn_norm.weight": "post_attention_layernorm.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight",
        "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
        "attn_v.bias": "self_attn.v_proj.bias",
        "attn_q_norm.weight": "self_attn.q_norm.weight",
        "attn_k_norm.weight": "self_attn.k_norm.weight",
    }

    @classmethod
    def hf_transform(cls, a: ModelArgs, suffix: str):
        """HF array -> GGUF layout (llama: Q/K rows permuted for normal rope)."""
        if suffix.startswith("attn_q."):
            return lambda w: permute_qk(w, a.n_heads)
        if suffix.startswith("attn_k."):
            return lambda w: permute_qk(w, a.n_kv_heads)
        return None

    @classmethod
    def hf_mapping(cls, a: ModelArgs) -> dict[str, tuple[str, Callable | None]]:
        m = {"token_embd.weight": ("model.embed_tokens.weight", None),
             "output_norm.weight": ("model.norm.weight", None),
             "output.weight": ("lm_head.weight", None)}
        for i in range(a.n_layers):
            for s, hf in cls.HF_LAYER.items():
                m[f"blk.{i}.{s}"] = (f"model.layers.{i}.{hf}", cls.hf_transform(a, s))
        return m

    # ---- loading -------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, gf, progress: Callable | None = None) -> "LlamaModel":
        emb = gf.tensor("token_embd.weight")
        if len(emb.shape) != 2:
            raise ClavisError(f"{gf.path}: tensor 'token_embd.weight' has shape {list(emb.shape)}, "
                              "expected [vocab, n_embd]")
        args = cls.Args.from_gguf(gf, vocab_size=emb.shape[0])
        args.tied = "output.weight" not in gf.tensors
        return cls(args, GGUFSource(gf), progress)

    @classmethod
    def from_hf(cls, folder, quant: str, progress: Callable | None = None) -> "LlamaModel":
        args = cls.Args.from_hf_config(folder.config, cls.arch, f"{folder.path}/config.json")
        if "lm_head.weight" not in folder.tensors:
            args.tied = True
        computed = {}
        ff = args.rope_freq_factors()
        if ff is not None:
            computed["rope_freqs.weight"] = ff
        return cls(args, HFSource(folder, cls.hf_mapping(args), quant, computed), progress)

    def __init__(self, args: ModelArgs, src: WeightSource, progress: Callable | None = None):
        self.args, self.path = args, src.path
        self._forward_lock = threading.Lock()
        self._check_shapes(src)
        self.requantized = getattr(src, "requantized", [])   # [(name, type)] converted at load
        a = self.args
        self.embd = src.table_rows("token_embd.weight")
        self.output_norm = src.f32("output_norm.weight")
        self.output = src.packed("token_embd.weight" if a.tied else "output.weight")
        self.freq_factors = src.f32("rope_freqs.weight") if src.has("rope_freqs.weight") else None
        self.layers = []
        for i in range(a.n_layers):
            self.layers.append(self._load_layer(src, i))
            if progress:
                progress(i + 1, a.n_layers)

    def _check_shapes(self, src: WeightSource) -> None:
        want = self.tensor_shapes(self.args)
        if src.has("rope_freqs.weight"):
            want["rope_freqs.weight"] = (self.args.n_rot // 2,)
        for name, shape in want.items():
            if not src.has(name):
                raise ClavisError(f"{src.path}: missing tensor {name!r} ({self.arch} with "
                                  f"{self.args.describe()} needs it)")
            src.check_type(name)
            got = tuple(src.shape(name))
            if got != shape:
                raise ClavisError(f"{src.path}: tensor {name!r} has shape {list(got)}, expected "
                                  f"{list(shape)} for {self.arch} with {self.args.describe()}")

    def _load_layer(self, src: WeightSource, i: int) -> Layer:
        p = f"blk.{i}."
        # one buffer when it can be, in this order: the decode reads Q/K/V as one weight and
        # the buffer's huge pages cover all but its end (kernels.matmul.pack_together)
        wq, wk, wv, wo, gate, up, down = src.packed_group([p + n for n in (
            "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
            "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight")])
        return Layer(
            attn_norm=src.f32(p + "attn_norm.weight"), wq=wq, wk=wk, wv=wv, wo=wo,
            ffn_norm=src.f32(p + "ffn_norm.weight"), w_gate=gate, w_up=up, w_down=down)

    @property
    def vocab_size(self) -> int:
        return self.args.vocab_size

    @property
    def nbytes(self) -> int:
        """Bytes of weights read per decoded token (the matmul weights + the embedding row)."""
        total = self.output.nbytes
        for L in self.layers:
            total += sum(w.nbytes for w in (L.wq, L.wk, L.wv, L.wo, L.w_gate, L.w_up, L.w_down))
        return int(total)

    # ---- forward -------------------------------------------------------------------------------
    def forward(self, ids, pos0: int, kv, all_logits: bool = False,
                hook: Hook | None = None) -> "np.ndarray":
        """Run T = len(ids) tokens at positions pos0.. through the model, writing their K/V into
        `kv` (any object with lists .k/.v of [Hkv, n_ctx, D] buffers). Returns logits
        f32[T, vocab] (all_logits) or f32[1, vocab] (the last position), as a NumPy array."""
        import numpy as np
        return np.asarray(self.forward_buffer(ids, pos0, kv, all_logits, hook))

    def forward_buffer(self, ids, pos0: int, kv, all_logits: bool = False,
                       hook: Hook | None = None, out=None):
        """forward(), returning the logits as a 2-D float32 buffer (a memoryview from the C
        path, which needs no NumPy; a NumPy array from the Python path). `out`: a writable
        float32 [1, vocab] buffer the C path writes a single row of logits into and returns
        (a decode loop's, reused token after token: no 0.5 MB allocation per token)."""
        with self._forward_lock:     # weights are swapped only between forwards (pack_deferred)
            if self._packed_q is not None:
                self._apply_packed()
            ids = self._check_ids(ids, pos0, kv)
            plan = self._layer_plan(kv) if hook is None else None
            if plan is not None:
                return self._forward_c(plan, ids, pos0, all_logits, out)
            return self._forward(ids, pos0, kv, all_logits, hook)

    def _check_ids(self, ids, pos0: int, kv) -> list[int]:
        try:
            ids = int_list(ids)
        except (TypeError, ValueError):
            raise ClavisError("forward needs a sequence of integer token ids") from None
        if not ids:
            raise ClavisError("forward needs at least one token")
        if pos0 + len(ids) > kv.n_ctx:
            raise ClavisError(f"context full: {pos0} + {len(ids)} tokens > n_ctx {kv.n_ctx}")
        if min(ids) < 0 or max(ids) >= self.args.vocab_size:
            raise ClavisError(f"token id out of range 0..{self.args.vocab_size - 1}")
        return ids

    def _forward_c(self, plan, ids: list[int], pos0: int, all_logits: bool, out=None):
        """All layers in one C call, on buffers (no NumPy): embedding rows read from the file,
        the layer plan, the final norm and the output head."""
        from clavis.kernels import _C
        from clavis.kernels.matmul import matmul_into
        a, T = self.args, len(ids)
        prof = self.profile if T == 1 else None            # a DecodeProfile counts decode steps
        t_start = time.perf_counter() if prof else 0.0
        rows = self.embd.gather(ids)                       # read from the file, not mapped
        x = _floats(T, a.dim)
        try:
            _C.embedding(rows, self.embd.type_id, a.dim, array("i", range(T)), x)
        except (ValueError, TypeError, IndexError) as e:
            raise ClavisError(f"embedding: {e}") from None
        plan.run(x, array("i", range(pos0, pos0 + T)), pos0, prof.ops if prof else None)
        t_head = time.perf_counter() if prof else 0.0
        n = T if all_logits else 1
        xs = x if all_logits else x.cast("B")[(T - 1) * a.dim * 4:].cast("f", (1, a.dim))
        h = _floats(n, a.dim)
        _C.rms_norm(xs, self.output_norm, h, float(a.norm_eps))
        fits = out is not None and n == 1 and tuple(memoryview(out).shape) == (1, self.output.n)
        logits = out if fits else _floats(n, self.output.n)
        matmul_into(h, self.output, logits)                                # [T|1, vocab]
        if prof:
            _count(prof, t_start, t_head)
        return logits

    def _forward(self, ids: list[int], pos0: int, kv, all_logits: bool = False,
                 hook: Hook | None = None) -> "np.ndarray":
        """Layer by layer in Python (NumPy); every intermediate goes through `hook`."""
        import numpy as np
        from clavis.kernels import ops
        ids = np.asarray(ids, dtype=np.int32)
        T = ids.shape[0]
        hook = hook or _no_hook
        prof = self.profile if T == 1 else None
        t_start = time.perf_counter() if prof else 0.0
        rows = np.asarray(self.embd.gather(ids.tolist()))             # read from the file
        x = ops.embedding(rows.reshape(-1), self.embd.type, self.args.dim,
                          np.arange(T, dtype=np.int32))                    # [T, dim]
        hook("inp_embd", x)
        pos = np.arange(pos0, pos0 + T, dtype=np.int32)
        for i, L in enumerate(self.layers):
            x = self._block(i, L, x, pos, pos0, kv, hook)
        if not all_logits:
            x = np.ascontiguousarray(x[-1:])
        t_head = time.perf_counter() if prof else 0.0
        x = ops.rms_norm(x, self.output_norm, self.args.norm_eps)
        hook("result_norm", x)
        logits = self._matmul(x, self.output)                                # [T|1, vocab]
        hook("result_output", logits)
        if prof:
            _count(prof, t_start, t_head)
        return logits

    # bytes of packed copies made ahead of the forwards that swap them in (see pack_deferred)
    PACK_AHEAD = 40 << 20

    def pack_deferred(self) -> int:
        """Pack the weights that run zero-copy from the file (GGUFSource.defer_pack) into the
        default variant's tiles, for a background thread; returns how many. A copy is swapped in
        between forwards only (by the next forward as it starts, or at once when none runs), so
        no forward still reading its file pages can fault them back in after they are released;
        at most PACK_AHEAD bytes of copies wait (peak RSS). Results are bit-identical either way
        (the kernels' contract)."""
        from clavis.kernels.matmul import PackedWeight, huge_pages
        from clavis.models.weights import SwapQueue
        todo = self.deferred_weights()
        if not todo:
            return 0
        self._packed_q = q = SwapQueue(self.PACK_AHEAD)
        for owner, name in todo:
            w = getattr(owner, name)
            while not q.reserve(w.nbytes, timeout=0.02):   # full: swap in what waits if idle
                self.apply_packed(blocking=False)
            new = PackedWeight(w.packed, w.type, w.n, w.k)
            huge_pages(new.packed)
            q.put((owner, name, w, new), w.nbytes)
            self.apply_packed(blocking=False)   # no forward running: swap it in now
        return len(todo)

    def packed_weights(self) -> list:
        """Every matmul weight (PackedWeight), the output head first."""
        return [self.output] + [getattr(L, n) for L in self.layers for n in LAYER_WEIGHTS]

    def deferred_weights(self) -> list:
        """(layer, name) of the weights that run zero-copy while the default variant would
        pack them: what pack_deferred has to do."""
        from clavis.kernels.matmul import default_variant
        return [(L, n) for L in self.layers for n in LAYER_WEIGHTS
                if getattr(L, n).raw and getattr(L, n).variant != default_variant(getattr(L, n).type)]

    def apply_packed(self, blocking: bool = True) -> int:
        """Swap in the packed copies pack_deferred has made so far and release the file pages of
        the zero-copy weights they replace; returns how many. Between forwards only: it waits
        for a running forward to end (or, not blocking, does nothing then)."""
        if not self._forward_lock.acquire(blocking=blocking):
            return 0
        try:
            return self._apply_packed()
        finally:
            self._forward_lock.release()

    def _apply_packed(self) -> int:
        from clavis.formats.mapped import release_mapped
        done = 0
        for owner, name, old, new in self._packed_q.take() if self._packed_q is not None else ():
            setattr(owner, name, new)
            release_mapped(old.packed)
            done += 1
        if done:
            self._weights_gen += 1       # the C layer plan is rebuilt on the next forward
        return done

    _packed_q = None
    _weights_gen = 0         # bumped whenever a weight is swapped (the C plan is rebuilt)
    use_c_layers = True     # False: every layer through _block (hooks always take that path)
    profile = None          # a kernels.layers.DecodeProfile: one-token forwards add their times

    def _layer_plan(self, kv):
        """The C layer plan for this KV cache (cached on it), or None for the Python path."""
        if not self.use_c_layers or getattr(self.embd, "type_id", None) is None:
            return None
        from clavis.kernels.layers import LayerPlan
        cached = getattr(kv, "_clavis_plan", None)
        gen = self._weights_gen
        if (cached is not None and cached[0] is self and cached[2] == gen
                and (cached[1] is None or cached[1].matches(kv))):
            return cached[1]
        a = self.args
        hp = dict(dim=a.dim, n_heads=a.n_heads, n_kv_heads=a.n_kv_heads, head_dim=a.head_dim,
                  ffn_dim=a.ffn_dim, n_rot=a.n_rot, neox=a.neox, eps=a.norm_eps,
                  theta=a.rope_theta, att_scale=1.0 / math.sqrt(a.head_dim),
                  freq_factors=self.freq_factors)
        plan = LayerPlan.build(hp, self.layers, kv)
        try:
            kv._clavis_plan = (self, plan, gen)
        except AttributeError:
            pass
        return plan

    def _matmul(self, x, w, bias=None):
        from clavis.kernels import matmul, ops
        y = matmul.matmul(x, w)
        if bias is not None:
            ops.add(y, bias, out=y)
        return y

    def _matmuls(self, x, ws, biases):
        """Several weights on the same input: one activation quantization, one pool job."""
        from clavis.kernels import matmul, ops
        ys = matmul.matmul_multi(x, ws)
        for y, b in zip(ys, biases):
            if b is not None:
                ops.add(y, b, out=y)
        return ys

    def _qk_norm(self, L: Layer, q, k):
        """qwen3: RMSNorm over each head's D values (a no-op for llama/qwen2)."""
        return q, k

    def _block(self, i, L: Layer, x, pos, pos0, kv, hook):
        from clavis.kernels import ops
        a = self.args
        T, D = x.shape[0], a.head_dim
        hook_i = lambda name, arr: hook(f"blk.{i}.{name}", arr)  # noqa: E731
        h = ops.rms_norm(x, L.attn_norm, a.norm_eps)                         # [T, dim]
        hook_i("attn_norm", h)
        q, k, v = self._matmuls(h, (L.wq, L.wk, L.wv), (L.bq, L.bk, L.bv))
        q = q.reshape(T, a.n_heads, D)                                       # [T, Hq, D]
        k = k.reshape(T, a.n_kv_heads, D)                                    # [T, Hkv, D]
        v = v.reshape(T, a.n_kv_heads, D)                                    # [T, Hkv, D]
        hook_i("q", q), hook_i("k", k), hook_i("v", v)
        q, k = self._qk_norm(L, q, k)
        ops.rope(q, pos, a.rope_theta, a.neox, a.n_rot, self.freq_factors)
        ops.rope(k, pos, a.rope_theta, a.neox, a.n_rot, self.freq_factors)
        hook_i("q_rope", q), hook_i("k_rope", k)
        kc, vc = numpy_view(kv.k[i]), numpy_view(kv.v[i])                 # [Hkv, n_ctx, D]
        kc[:, pos0:pos0 + T, :] = k.transpose(1, 0, 2)
        vc[:, pos0:pos0 + T, :] = v.transpose(1, 0, 2)
        att = ops.attention(q, kc, vc, pos0 + T, pos0, True, 1.0 / math.sqrt(D))
        hook_i("attn", att)
        o = self._matmul(att.reshape(T, a.n_heads * D), L.wo)                # [T, dim]
        hook_i("attn_out", o)
        x = ops.add(x, o)
        hook_i("ffn_inp", x)
        h = ops.rms_norm(x, L.ffn_norm, a.norm_eps)
        hook_i("ffn_norm", h)
        g = ops.silu_mul(*self._matmuls(h, (L.w_gate, L.w_up), (None, None)))  # [T, ffn]
        hook_i("ffn_act", g)
        d = self._matmul(g, L.w_down)
        hook_i("ffn_out", d)
        x = ops.add(x, d)
        hook_i("l_out", x)
        return x


def _no_hook(name, arr):
    pass


def _count(prof, t_start: float, t_head: float) -> None:
    """Add one forward (started at t_start, its head at t_head) to a DecodeProfile."""
    t_end = time.perf_counter()
    prof.head += t_end - t_head
    prof.forward += t_end - t_start
    prof.tokens += 1


def _floats(rows: int, cols: int) -> memoryview:
    """A zeroed float32 [rows, cols] buffer (memoryview), no NumPy."""
    return memoryview(bytearray(4 * rows * cols)).cast("f", (rows, cols))
