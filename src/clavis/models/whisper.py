"""Whisper (encoder-decoder speech model) on the clavis kernels.

ref: openai/whisper whisper/model.py; transformers' modeling_whisper.py (the names we load).

Encoder (one 30-s window, mel[n_mels, 3000]):
  conv1 (k3, s1) + GELU -> conv2 (k3, s2) + GELU -> x[1500, d] + sinusoidal positions
  (conv2 as an int8 GEMM over im2col columns when the weights are quantized)
  -> n_layer x pre-LN blocks (self-attention, MLP with GELU) -> layer_norm -> audio[1500, d]
Decoder (B sequences of T new tokens at position pos0):
  token embedding + learned positions -> n_layer x (LN -> causal self-attention with a KV cache,
  LN -> cross-attention on K/V computed once per window, LN -> MLP) -> LN -> logits = x E^T

All matrix products go through kernels.matmul (PackedWeight, packed once at load); norms,
GELU, attention and the conv front end through kernels.ops. Weights: `WhisperWeights` answers
in Hugging Face tensor names (HF folders directly, whisper.cpp .bin files through a name map).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clavis import ClavisError
from clavis.kernels import matmul as kmm
from clavis.kernels import ops

LN_EPS = 1e-5
QUANTS = ("f32", "f16", "q8_0", "q4_0")


@dataclass
class WhisperArgs:
    n_mels: int = 80
    d_model: int = 384
    n_audio_head: int = 6
    n_audio_layer: int = 4
    n_text_head: int = 6
    n_text_layer: int = 4
    n_vocab: int = 51865
    n_audio_ctx: int = 1500
    n_text_ctx: int = 448
    ffn_dim: int = 1536

    @classmethod
    def from_hf_config(cls, cfg: dict, where: str = "config.json") -> "WhisperArgs":
        def need(key):
            if key not in cfg:
                raise ClavisError(f"{where}: missing field {key!r} (not a Whisper config?)")
            v = cfg[key]
            if not isinstance(v, int) or v <= 0:
                raise ClavisError(f"{where}: field {key!r} must be a positive integer, got {v!r}")
            return v
        if cfg.get("model_type") != "whisper":
            raise ClavisError(f"{where}: model_type is {cfg.get('model_type')!r}, not 'whisper'")
        d = need("d_model")
        a = cls(n_mels=need("num_mel_bins"), d_model=d, n_audio_head=need("encoder_attention_heads"),
                n_audio_layer=need("encoder_layers"), n_text_head=need("decoder_attention_heads"),
                n_text_layer=need("decoder_layers"), n_vocab=need("vocab_size"),
                n_audio_ctx=need("max_source_positions"), n_text_ctx=need("max_target_positions"),
                ffn_dim=int(cfg.get("encoder_ffn_dim", 4 * d)))
        if d % a.n_audio_head or d % a.n_text_head:
            raise ClavisError(f"{where}: d_model {d} is not divisible by the number of heads")
        if cfg.get("decoder_ffn_dim", a.ffn_dim) != a.ffn_dim:
            raise ClavisError(f"{where}: encoder_ffn_dim and decoder_ffn_dim differ")
        return a


class WhisperWeights:
    """Tensors by HF name: `get(name)` -> f32 array; `packed(name, quant)` -> PackedWeight."""

    def __init__(self, path: str, getter, raw_getter=None):
        self.path = path
        self._get = getter           # name -> f32 np.ndarray (or None when missing)
        self._raw = raw_getter       # name -> (uint8 bytes, type, shape) for pre-quantized data

    def get(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        a = self._get(name)
        if a is None:
            raise ClavisError(f"{self.path}: missing tensor {name!r}")
        a = np.ascontiguousarray(a, dtype=np.float32)
        if shape is not None and a.shape != tuple(shape):
            if a.size == int(np.prod(shape)):
                a = a.reshape(shape)
            else:
                raise ClavisError(f"{self.path}: tensor {name!r} has shape {list(a.shape)}, "
                                  f"expected {list(shape)}")
        return a

    def packed(self, name: str, shape: tuple[int, int], quant: str | None):
        n, k = shape
        if self._raw is not None:
            raw = self._raw(name)
            if raw is not None and quant in (None, raw[1]):
                data, typ, rshape = raw
                if tuple(rshape) != (n, k):
                    raise ClavisError(f"{self.path}: tensor {name!r} has shape {list(rshape)}, "
                                      f"expected {[n, k]}")
                return kmm.PackedWeight(data, typ, n, k)
        q = quant or "f32"
        if q not in QUANTS:
            raise ClavisError(f"unknown quant {q!r}; choose one of {', '.join(QUANTS)}")
        if q in ("q8_0", "q4_0") and k % 32:
            q = "f16"  # block formats need K % 32 == 0
        return kmm.PackedWeight(self.get(name, shape), q, n, k)


@dataclass
class Attn:
    wq: object
    bq: np.ndarray
    wk: object
    wv: object
    bv: np.ndarray
    wo: object
    bo: np.ndarray


@dataclass
class Block:
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    attn: Attn
    ln2_w: np.ndarray
    ln2_b: np.ndarray
    fc1: object
    fc1_b: np.ndarray
    fc2: object
    fc2_b: np.ndarray
    cross: Attn | None = None
    lnx_w: np.ndarray | None = None
    lnx_b: np.ndarray | None = None


@dataclass
class DecoderState:
    """Per-window decoder state: cross K/V (shared by all beams) and per-beam self-attn caches."""
    cross_k: list            # per layer [H, 1500, D]
    cross_v: list
    self_k: list             # per layer [B, H, n_text_ctx, D]
    self_v: list
    n: int = 0               # tokens already in the self-attention cache
    extra: dict = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return self.self_k[0].shape[0]

    def reorder(self, idx) -> None:
        """Keep beams `idx` (with repeats) in this order, e.g. after a beam-search step."""
        idx = np.asarray(idx, dtype=np.int64)
        self.self_k = [np.ascontiguousarray(k[idx]) for k in self.self_k]
        self.self_v = [np.ascontiguousarray(v[idx]) for v in self.self_v]


class Whisper:
    def __init__(self, args: WhisperArgs, w: WhisperWeights, quant: str | None = None):
        self.args, self.quant, self.path = args, quant, w.path
        a, d = args, args.d_model
        enc, dec = "model.encoder", "model.decoder"
        self.conv1_w = w.get(f"{enc}.conv1.weight", (d, a.n_mels, 3))
        self.conv1_b = w.get(f"{enc}.conv1.bias", (d,))
        self.conv2_w = w.get(f"{enc}.conv2.weight", (d, d, 3))
        self.conv2_b = w.get(f"{enc}.conv2.bias", (d,))
        # quantized models run conv2 (the front end's bulk) as an int8 GEMM over im2col columns
        self.conv2_q = (kmm.PackedWeight(self.conv2_w.reshape(d, 3 * d), "q8_0", d, 3 * d)
                        if quant in ("q8_0", "q4_0") and (3 * d) % 32 == 0 else None)
        self.enc_pos = w.get(f"{enc}.embed_positions.weight", (a.n_audio_ctx, d))
        self.enc_blocks = [self._block(w, f"{enc}.layers.{i}", False) for i in range(a.n_audio_layer)]
        self.enc_ln = (w.get(f"{enc}.layer_norm.weight", (d,)), w.get(f"{enc}.layer_norm.bias", (d,)))
        self.tok_emb = w.get(f"{dec}.embed_tokens.weight", (a.n_vocab, d))
        self.dec_pos = w.get(f"{dec}.embed_positions.weight", (a.n_text_ctx, d))
        self.dec_blocks = [self._block(w, f"{dec}.layers.{i}", True) for i in range(a.n_text_layer)]
        self.dec_ln = (w.get(f"{dec}.layer_norm.weight", (d,)), w.get(f"{dec}.layer_norm.bias", (d,)))
        self.lm_head = w.packed(f"{dec}.embed_tokens.weight", (a.n_vocab, d), quant)

    def _attn(self, w, p):
        d, q = self.args.d_model, self.quant
        return Attn(wq=w.packed(f"{p}.q_proj.weight", (d, d), q), bq=w.get(f"{p}.q_proj.bias", (d,)),
                    wk=w.packed(f"{p}.k_proj.weight", (d, d), q),
                    wv=w.packed(f"{p}.v_proj.weight", (d, d), q), bv=w.get(f"{p}.v_proj.bias", (d,)),
                    wo=w.packed(f"{p}.out_proj.weight", (d, d), q),
                    bo=w.get(f"{p}.out_proj.bias", (d,)))

    def _block(self, w, p, cross: bool) -> Block:
        d, f, q = self.args.d_model, self.args.ffn_dim, self.quant
        b = Block(ln1_w=w.get(f"{p}.self_attn_layer_norm.weight", (d,)),
                  ln1_b=w.get(f"{p}.self_attn_layer_norm.bias", (d,)),
                  attn=self._attn(w, f"{p}.self_attn"),
                  ln2_w=w.get(f"{p}.final_layer_norm.weight", (d,)),
                  ln2_b=w.get(f"{p}.final_layer_norm.bias", (d,)),
                  fc1=w.packed(f"{p}.fc1.weight", (f, d), q), fc1_b=w.get(f"{p}.fc1.bias", (f,)),
                  fc2=w.packed(f"{p}.fc2.weight", (d, f), q), fc2_b=w.get(f"{p}.fc2.bias", (d,)))
        if cross:
            b.cross = self._attn(w, f"{p}.encoder_attn")
            b.lnx_w = w.get(f"{p}.encoder_attn_layer_norm.weight", (d,))
            b.lnx_b = w.get(f"{p}.encoder_attn_layer_norm.bias", (d,))
        return b

    # ---- building blocks -----------------------------------------------------------------------
    @staticmethod
    def _linear(x, wt, b=None):
        y = kmm.matmul(x, wt)
        return ops.add(y, b) if b is not None else y

    def _mlp(self, blk: Block, x):
        h = ops.layer_norm(x, blk.ln2_w, blk.ln2_b, LN_EPS)
        h = ops.gelu(self._linear(h, blk.fc1, blk.fc1_b))
        return ops.add(x, self._linear(h, blk.fc2, blk.fc2_b))

    @staticmethod
    def _heads(x, n_head):  # [T, H*D] -> [H, T, D]
        t = x.shape[0]
        return np.ascontiguousarray(x.reshape(t, n_head, -1).transpose(1, 0, 2))

    # ---- encoder -------------------------------------------------------------------------------
    @staticmethod
    def _im2col_s2(x):
        """x[C, L] -> cols[L/2, C*3]: cols[o, c*3 + k] = x[c, 2o + k - 1] (0 outside), the input
        of conv2 (kernel 3, stride 2, padding 1) as a matrix product with W[d, C*3]."""
        c, n = x.shape
        xp = np.zeros((c, n + 2), np.float32)
        xp[:, 1:-1] = x
        lout = (n - 1) // 2 + 1
        cols = np.lib.stride_tricks.as_strided(xp, (lout, c, 3), (2 * xp.strides[1], xp.strides[0],
                                                                  xp.strides[1]))
        return np.ascontiguousarray(cols).reshape(lout, c * 3)

    def encode(self, mel: np.ndarray) -> np.ndarray:
        """mel f32[n_mels, 2 * n_audio_ctx] -> audio features f32[n_audio_ctx, d]."""
        a = self.args
        mel = np.ascontiguousarray(mel, dtype=np.float32)
        if mel.shape != (a.n_mels, 2 * a.n_audio_ctx):
            raise ClavisError(f"the encoder takes mel[{a.n_mels}, {2 * a.n_audio_ctx}], got "
                              f"{list(mel.shape)}")
        x = ops.conv1d_gelu(mel, self.conv1_w, self.conv1_b, 1, 1)          # [d, 3000]
        if self.conv2_q is not None:
            x = ops.gelu(ops.add(kmm.matmul(self._im2col_s2(x), self.conv2_q), self.conv2_b))
        else:
            x = np.ascontiguousarray(ops.conv1d_gelu(x, self.conv2_w, self.conv2_b, 2, 1).T)
        x = ops.add(x, self.enc_pos)                                       # [1500, d]
        hd = a.d_model // a.n_audio_head
        for blk in self.enc_blocks:
            h = ops.layer_norm(x, blk.ln1_w, blk.ln1_b, LN_EPS)
            at = blk.attn
            q, k, v = kmm.matmul_multi(h, (at.wq, at.wk, at.wv))
            q = ops.add(q, at.bq).reshape(-1, a.n_audio_head, hd)
            k = self._heads(k, a.n_audio_head)
            v = self._heads(ops.add(v, at.bv), a.n_audio_head)
            o = ops.attention(q, k, v, k.shape[1], 0, False, hd ** -0.5)
            x = ops.add(x, self._linear(o.reshape(-1, a.d_model), at.wo, at.bo))
            x = self._mlp(blk, x)
        return ops.layer_norm(x, *self.enc_ln, LN_EPS)

    # ---- decoder -------------------------------------------------------------------------------
    def new_state(self, audio: np.ndarray, batch: int = 1, cache_dtype=np.float32,
                  cross_dtype=None) -> DecoderState:
        """Cross-attention K/V from the encoder output, once per window; empty self caches.

        The cross K/V (n_audio_ctx rows per layer, read in full for every token) are kept as
        float16 when the weights are quantized (cross_dtype None): decode reads them from memory
        at every step, and their rounding (2^-11 relative) is far below q8_0's (~2^-8)."""
        a = self.args
        hd = a.d_model // a.n_text_head
        if cross_dtype is None:
            cross_dtype = np.float16 if self.quant in ("q8_0", "q4_0") else np.float32
        ck, cv = [], []
        for blk in self.dec_blocks:
            k, v = kmm.matmul_multi(audio, (blk.cross.wk, blk.cross.wv))
            ck.append(self._heads(k, a.n_text_head).astype(cross_dtype))
            cv.append(self._heads(ops.add(v, blk.cross.bv), a.n_text_head).astype(cross_dtype))
        shape = (batch, a.n_text_head, a.n_text_ctx, hd)
        sk = [np.zeros(shape, cache_dtype) for _ in self.dec_blocks]
        sv = [np.zeros(shape, cache_dtype) for _ in self.dec_blocks]
        return DecoderState(ck, cv, sk, sv, 0)

    def decode(self, tokens, state: DecoderState) -> np.ndarray:
        """tokens int[B, T] appended at position state.n -> logits f32[B, T, n_vocab]."""
        a = self.args
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim == 1:
            tokens = tokens[None]
        bsz, t = tokens.shape
        pos0 = state.n
        if bsz != state.batch:
            raise ClavisError(f"decoder state holds {state.batch} sequences, got {bsz}")
        if pos0 + t > a.n_text_ctx:
            raise ClavisError(f"the decoder context holds {a.n_text_ctx} tokens; asked for {pos0 + t}")
        if tokens.min() < 0 or tokens.max() >= a.n_vocab:
            raise ClavisError(f"token ids must be in [0, {a.n_vocab}), got {tokens.min()}..{tokens.max()}")
        hd, nh = a.d_model // a.n_text_head, a.n_text_head
        x = (self.tok_emb[tokens] + self.dec_pos[pos0:pos0 + t][None]).reshape(bsz * t, a.d_model)
        x = np.ascontiguousarray(x, dtype=np.float32)
        for li, blk in enumerate(self.dec_blocks):
            h = ops.layer_norm(x, blk.ln1_w, blk.ln1_b, LN_EPS)
            at = blk.attn
            q, k, v = kmm.matmul_multi(h, (at.wq, at.wk, at.wv))
            q = ops.add(q, at.bq).reshape(bsz, t, nh, hd)
            k = k.reshape(bsz, t, nh, hd)
            v = ops.add(v, at.bv).reshape(bsz, t, nh, hd)
            kc, vc = state.self_k[li], state.self_v[li]
            kc[:, :, pos0:pos0 + t] = k.transpose(0, 2, 1, 3)
            vc[:, :, pos0:pos0 + t] = v.transpose(0, 2, 1, 3)
            # all sequences in one call: sequence b's head h is head b*nh + h of one cache
            qa = np.ascontiguousarray(q.transpose(1, 0, 2, 3)).reshape(t, bsz * nh, hd)
            o = ops.attention(qa, kc.reshape(bsz * nh, -1, hd), vc.reshape(bsz * nh, -1, hd),
                              pos0 + t, pos0, True, hd ** -0.5)
            o = o.reshape(t, bsz, nh, hd).transpose(1, 0, 2, 3)
            x = ops.add(x, self._linear(np.ascontiguousarray(o).reshape(bsz * t, a.d_model),
                                        at.wo, at.bo))
            # cross-attention on the window's audio
            h = ops.layer_norm(x, blk.lnx_w, blk.lnx_b, LN_EPS)
            cr = blk.cross
            q = self._linear(h, cr.wq, cr.bq).reshape(bsz * t, nh, hd)
            ck, cv = state.cross_k[li], state.cross_v[li]
            o = ops.attention(q, ck, cv, ck.shape[1], 0, False, hd ** -0.5)
            x = ops.add(x, self._linear(o.reshape(bsz * t, a.d_model), cr.wo, cr.bo))
            x = self._mlp(blk, x)
        state.n = pos0 + t
        x = ops.layer_norm(x, *self.dec_ln, LN_EPS)
        return kmm.matmul(x, self.lm_head).reshape(bsz, t, a.n_vocab)
