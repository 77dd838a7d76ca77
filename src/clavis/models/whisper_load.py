"""Load a Whisper model: a Hugging Face folder (openai/whisper-*: config.json + safetensors, f32 or
f16, quantized at load on request) or a whisper.cpp ggml .bin file (f16, q8_0, q4_0).

Returns a `LoadedWhisper`: the model, its tokenizer, the generation settings that matter for
decoding (suppressed tokens, alignment heads), and the mel filterbank when the file carries one.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clavis import ClavisError
from clavis.formats.hf import HFFolder, is_hf_folder
from clavis.models.whisper import QUANTS, Whisper, WhisperArgs, WhisperWeights
from clavis.models.whisper_tokenizer import WhisperTokenizer


@dataclass
class LoadedWhisper:
    model: Whisper
    tokenizer: WhisperTokenizer
    path: str
    suppress_tokens: list[int] = field(default_factory=list)
    begin_suppress_tokens: list[int] = field(default_factory=list)
    mel_filters: np.ndarray | None = None
    weights_type: str = "f32"


def load_whisper(path: str | os.PathLike, quant: str | None = None) -> LoadedWhisper:
    """`quant`: None keeps the file's types (f16 weights stay f16); "f32", "f16", "q8_0", "q4_0"."""
    if quant is not None and quant not in QUANTS:
        raise ClavisError(f"unknown quant {quant!r}; choose one of {', '.join(QUANTS)}")
    p = Path(path)
    if not p.exists():
        raise ClavisError(f"{p}: no such model file or folder")
    if is_hf_folder(p):
        return _load_hf(p, quant)
    if p.is_file():
        with open(p, "rb") as f:
            magic = f.read(4)
        if magic == b"lmgg":  # 0x67676d6c little-endian
            from clavis.models.whisper_ggml import load_ggml
            return load_ggml(p, quant)
        raise ClavisError(f"{p}: not a Whisper model (expected a Hugging Face folder with "
                          "config.json or a whisper.cpp ggml .bin file)")
    raise ClavisError(f"{p}: a folder without config.json is not a Hugging Face model")


def _load_hf(p: Path, quant: str | None) -> LoadedWhisper:
    folder = HFFolder(p)
    args = WhisperArgs.from_hf_config(folder.config, str(p / "config.json"))
    dtypes = {t.dtype for t in folder.tensors.values()}
    file_type = "f32" if dtypes <= {"F32"} else "f16"
    q = quant or file_type

    def getter(name):
        t = folder.tensors.get(name)
        if t is None and name == "model.decoder.embed_tokens.weight":
            t = folder.tensors.get("proj_out.weight")
        return None if t is None else t.to_f32()

    model = Whisper(args, WhisperWeights(str(p), getter), quant=q)
    if not folder.has_tokenizer():
        raise ClavisError(f"{p}: no tokenizer.json (a Whisper folder needs one to turn ids into text)")
    tok = WhisperTokenizer.from_tokenizer_json(p / "tokenizer.json", args.n_vocab)
    gen = {}
    gpath = p / "generation_config.json"
    if gpath.is_file():
        try:
            gen = json.loads(gpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ClavisError(f"{gpath}: invalid JSON at line {e.lineno}: {e.msg}") from e
    suppress = gen.get("suppress_tokens", folder.config.get("suppress_tokens"))
    begin = gen.get("begin_suppress_tokens", folder.config.get("begin_suppress_tokens"))
    return LoadedWhisper(
        model=model, tokenizer=tok, path=str(p),
        suppress_tokens=_ids(suppress, tok, gpath) if suppress is not None else _default_suppress(tok),
        begin_suppress_tokens=_ids(begin, tok, gpath) if begin is not None else [tok.encode(" ")[0], tok.eot],
        weights_type=q)


def _ids(v, tok: WhisperTokenizer, where) -> list[int]:
    if not isinstance(v, list) or not all(isinstance(i, int) for i in v):
        raise ClavisError(f"{where}: token id lists must be lists of integers")
    out = set()
    for i in v:
        if i == -1:
            out |= set(_default_suppress(tok))
        elif 0 <= i < tok.vocab_size:
            out.add(i)
    return sorted(out)


def _default_suppress(tok: WhisperTokenizer) -> list[int]:
    """openai's suppress_tokens="-1": non-speech symbols and the task/control tokens."""
    return sorted(set(tok.non_speech_tokens()) | {tok.sot, tok.translate, tok.transcribe,
                                                 tok.sot_prev, tok.sot_lm, tok.no_speech})
