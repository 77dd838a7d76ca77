"""whisper.cpp's ggml model files (ggml-tiny.bin, ggml-base-q8_0.bin, ...): read and write.

ref: whisper.cpp src/whisper.cpp (whisper_model_load) and models/convert-pt-to-ggml.py. Layout,
all little-endian, no alignment padding:
  uint32 magic 0x67676d6c ('ggml')
  int32  n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
         n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
  int32  n_mel, n_fft; float32[n_mel * n_fft]            (the mel filterbank)
  int32  n_tokens; then per token: uint32 length, bytes   (the base BPE vocabulary)
  until EOF, per tensor: int32 n_dims, name_len, type; int32 ne[n_dims] (innermost first);
         name; data (f32, f16, q4_0 or q8_0 GGML blocks)
Tensor names are openai's (encoder.blocks.0.attn.query.weight); they are mapped to the Hugging
Face names the model code uses.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from clavis import ClavisError

MAGIC = 0x67676D6C
_TYPES = {0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 8: ("q8_0", 32, 34)}
_TYPE_IDS = {v[0]: k for k, v in _TYPES.items()}
_HPARAMS = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
            "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype")
_ATTN = {"query": "q_proj", "key": "k_proj", "value": "v_proj", "out": "out_proj"}
_BLOCK = {"attn_ln": "self_attn_layer_norm", "cross_attn_ln": "encoder_attn_layer_norm",
          "mlp_ln": "final_layer_norm", "mlp.0": "fc1", "mlp.2": "fc2"}
_TOP = {"encoder.positional_embedding": "model.encoder.embed_positions.weight",
        "decoder.positional_embedding": "model.decoder.embed_positions.weight",
        "decoder.token_embedding.weight": "model.decoder.embed_tokens.weight"}


def hf_name(name: str) -> str:
    """openai/whisper.cpp tensor name -> Hugging Face name."""
    if name in _TOP:
        return _TOP[name]
    m = re.fullmatch(r"(encoder|decoder)\.blocks\.(\d+)\.(.+)\.(weight|bias)", name)
    if m:
        side, i, mid, kind = m.groups()
        a = re.fullmatch(r"(attn|cross_attn)\.(query|key|value|out)", mid)
        if a:
            mod = "self_attn" if a.group(1) == "attn" else "encoder_attn"
            return f"model.{side}.layers.{i}.{mod}.{_ATTN[a.group(2)]}.{kind}"
        if mid in _BLOCK:
            return f"model.{side}.layers.{i}.{_BLOCK[mid]}.{kind}"
    m = re.fullmatch(r"(encoder|decoder)\.(conv1|conv2|ln_post|ln)\.(weight|bias)", name)
    if m:
        side, mod, kind = m.groups()
        mod = "layer_norm" if mod in ("ln_post", "ln") else mod
        return f"model.{side}.{mod}.{kind}"
    return name


def openai_name(hf: str) -> str:
    """The inverse of hf_name (for writing files)."""
    inv = {v: k for k, v in _TOP.items()}
    if hf in inv:
        return inv[hf]
    m = re.fullmatch(r"model\.(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)", hf)
    if m:
        side, i, mid, kind = m.groups()
        a = re.fullmatch(r"(self_attn|encoder_attn)\.(q_proj|k_proj|v_proj|out_proj)", mid)
        if a:
            mod = "attn" if a.group(1) == "self_attn" else "cross_attn"
            return f"{side}.blocks.{i}.{mod}.{ {v: k for k, v in _ATTN.items()}[a.group(2)]}.{kind}"
        return f"{side}.blocks.{i}.{ {v: k for k, v in _BLOCK.items()}[mid]}.{kind}"
    m = re.fullmatch(r"model\.(encoder|decoder)\.(conv1|conv2|layer_norm)\.(weight|bias)", hf)
    if m:
        side, mod, kind = m.groups()
        if mod == "layer_norm":
            mod = "ln_post" if side == "encoder" else "ln"
        return f"{side}.{mod}.{kind}"
    raise ClavisError(f"no whisper.cpp name for tensor {hf!r}")


class GGMLWhisperFile:
    def __init__(self, path: str | Path):
        self.path = str(path)
        buf = np.memmap(self.path, dtype=np.uint8, mode="r")
        self.buf, self.pos = buf, 0
        if len(buf) < 4 + 4 * len(_HPARAMS) or self._u32() != MAGIC:
            raise ClavisError(f"{self.path}: not a whisper.cpp ggml file (bad magic)")
        self.hparams = {k: self._i32(k) for k in _HPARAMS}
        for k, v in self.hparams.items():
            if k != "ftype" and not 0 < v < 1 << 20:
                raise ClavisError(f"{self.path}: hparam {k} = {v} is out of range")
        n_mel, n_fft = self._i32("n_mel"), self._i32("n_fft")
        if n_mel != self.hparams["n_mels"] or n_fft <= 0:
            raise ClavisError(f"{self.path}: mel filters are {n_mel}x{n_fft}, expected "
                              f"{self.hparams['n_mels']} rows")
        self.mel_filters = self._take(n_mel * n_fft * 4, "mel filters").view("<f4") \
            .reshape(n_mel, n_fft).astype(np.float32)
        n_tok = self._i32("vocab size")
        self.tokens = []
        for i in range(n_tok):
            self.tokens.append(bytes(self._take(self._u32(), f"token {i}")))
        self.tensors: dict[str, tuple[str, tuple[int, ...], np.ndarray]] = {}
        while self.pos < len(buf):
            self._tensor()

    def _fail(self, what):
        return ClavisError(f"{self.path}: truncated or corrupt at byte {self.pos} ({what})")

    def _take(self, n: int, what: str) -> np.ndarray:
        if n < 0 or self.pos + n > len(self.buf):
            raise self._fail(what)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def _u32(self, what="uint32") -> int:
        return struct.unpack("<I", bytes(self._take(4, what)))[0]

    def _i32(self, what="int32") -> int:
        return struct.unpack("<i", bytes(self._take(4, what)))[0]

    def _tensor(self) -> None:
        n_dims, name_len, ttype = self._i32("tensor header"), self._i32("tensor header"), \
            self._i32("tensor header")
        if not 1 <= n_dims <= 4 or not 0 < name_len < 256 or ttype not in _TYPES:
            raise self._fail(f"tensor header: n_dims={n_dims} name_len={name_len} type={ttype}")
        ne = [self._i32("tensor shape") for _ in range(n_dims)]
        name = bytes(self._take(name_len, "tensor name")).decode("utf-8", errors="replace")
        tname, block, size = _TYPES[ttype]
        n = int(np.prod(ne))
        if min(ne) <= 0 or ne[0] % block:
            raise self._fail(f"tensor {name} has shape {ne} for type {tname}")
        data = self._take(n // block * size, f"data of tensor {name}")
        self.tensors[hf_name(name)] = (tname, tuple(reversed(ne)), data)

    # ---- what the model asks for -----------------------------------------------------------
    def f32(self, hf: str) -> np.ndarray | None:
        t = self.tensors.get(hf)
        if t is None:
            return None
        typ, shape, data = t
        if typ == "f32":
            return np.asarray(data.view("<f4")).reshape(shape)
        if typ == "f16":
            return data.view("<f2").astype(np.float32).reshape(shape)
        from clavis.kernels import formats
        return formats.dequantize(np.asarray(data), typ, shape)

    def raw(self, hf: str):
        t = self.tensors.get(hf)
        if t is None or len(t[1]) != 2 or t[0] == "f32":
            return None
        typ, shape, data = t
        return np.asarray(data), typ, shape


def load_ggml(path, quant: str | None):
    from clavis.models.whisper import Whisper, WhisperArgs, WhisperWeights
    from clavis.models.whisper_load import LoadedWhisper, _default_suppress
    from clavis.models.whisper_tokenizer import WhisperTokenizer
    f = GGMLWhisperFile(path)
    h = f.hparams
    if h["n_audio_state"] != h["n_text_state"]:
        raise ClavisError(f"{path}: encoder and decoder widths differ")
    args = WhisperArgs(n_mels=h["n_mels"], d_model=h["n_audio_state"], n_audio_head=h["n_audio_head"],
                       n_audio_layer=h["n_audio_layer"], n_text_head=h["n_text_head"],
                       n_text_layer=h["n_text_layer"], n_vocab=h["n_vocab"],
                       n_audio_ctx=h["n_audio_ctx"], n_text_ctx=h["n_text_ctx"],
                       ffn_dim=4 * h["n_audio_state"])
    model = Whisper(args, WhisperWeights(str(path), f.f32, f.raw), quant=quant)
    tok = WhisperTokenizer(f.tokens, args.n_vocab, source=str(path))
    types = {t[0] for t in f.tensors.values() if len(t[1]) == 2}
    filters = f.mel_filters if f.mel_filters.shape == (args.n_mels, 201) else None
    return LoadedWhisper(model=model, tokenizer=tok, path=str(path),
                         suppress_tokens=_default_suppress(tok),
                         begin_suppress_tokens=[220, tok.eot] if len(f.tokens) > 220 else [tok.eot],
                         mel_filters=filters, weights_type=quant or "/".join(sorted(types)))


def write_ggml(path, config: dict, tensors: dict[str, np.ndarray], tokens: list[bytes],
               mel_filters: np.ndarray, wtype: str = "f16") -> None:
    """Write a whisper.cpp file from HF-named f32 tensors (as convert-pt-to-ggml.py does, then
    whisper.cpp's quantize for q8_0/q4_0: 2-D weights get `wtype`; biases, norms and the
    positional embeddings stay f32; conv kernels f16)."""
    from clavis.kernels import formats
    d = config["d_model"]
    hp = [config["vocab_size"], config["max_source_positions"], d, config["encoder_attention_heads"],
          config["encoder_layers"], config["max_target_positions"], d,
          config["decoder_attention_heads"], config["decoder_layers"], config["num_mel_bins"],
          {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}[wtype]]
    with open(path, "wb") as out:
        out.write(struct.pack("<I", MAGIC) + struct.pack("<11i", *hp))
        mf = np.ascontiguousarray(mel_filters, dtype="<f4")
        out.write(struct.pack("<2i", *mf.shape) + mf.tobytes())
        out.write(struct.pack("<i", len(tokens)))
        for t in tokens:
            out.write(struct.pack("<I", len(t)) + t)
        for hf, arr in tensors.items():
            name = openai_name(hf).encode()
            a = np.asarray(arr, dtype=np.float32)
            if hf.endswith(("conv1.bias", "conv2.bias")):
                a = a.reshape(-1, 1)
            if a.ndim == 3:
                typ = "f16" if wtype != "f32" else "f32"
            elif a.ndim == 2 and "positional" not in openai_name(hf) and a.shape[1] % 32 == 0 \
                    and not hf.endswith("bias"):
                typ = wtype
            else:
                typ = "f32"
            if typ == "f32":
                data = a.astype("<f4").tobytes()
            elif typ == "f16":
                data = a.astype("<f2").tobytes()
            else:
                data = np.asarray(formats.quantize(a, typ)).tobytes()
            ne = list(reversed(a.shape))
            out.write(struct.pack("<3i", a.ndim, len(name), _TYPE_IDS[typ]))
            out.write(struct.pack(f"<{a.ndim}i", *ne) + name + data)
