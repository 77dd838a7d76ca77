"""HF folder -> GGUF (`clavis convert`), streaming one tensor at a time, in the layout llama.cpp
expects (Q/K rows permuted for `llama`; rope_freqs for llama3 rope scaling; tokenizer.* keys
from tokenizer.json + tokenizer_config.json)."""
from __future__ import annotations

import json
import os
from typing import Callable

from clavis import ClavisError
from clavis.formats.gguf import TensorSpec, write_gguf
from clavis.formats.hf import HFFolder
from clavis.models.registry import model_class
from clavis.models.zoo import QUANTS, _file_type, _gguf_type, encode_tensor

# GGUF token types
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ClavisError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None


def tokenizer_metadata(hf_dir: str, vocab_size: int) -> dict:
    """GGUF tokenizer.* metadata from an HF tokenizer.json (byte-level BPE -> `gpt2`,
    SentencePiece-style BPE with byte fallback -> `llama`), padded to the model's vocab size."""
    tj_path = os.path.join(hf_dir, "tokenizer.json")
    if not os.path.isfile(tj_path):
        raise ClavisError(f"{hf_dir}: no tokenizer.json (needed to write the GGUF tokenizer)")
    tj = _read(tj_path)
    cfg_path = os.path.join(hf_dir, "tokenizer_config.json")
    cfg = _read(cfg_path) if os.path.isfile(cfg_path) else {}
    model = tj.get("model") or {}
    if model.get("type") != "BPE":
        raise ClavisError(f"{tj_path}: model type {model.get('type')!r} is not supported (BPE only)")
    vocab, added = model.get("vocab") or {}, tj.get("added_tokens") or []
    n = max([vocab_size] + [i + 1 for i in vocab.values()] + [a["id"] + 1 for a in added])
    if n > vocab_size:
        raise ClavisError(f"{tj_path}: {n} tokens, but the model's embedding has {vocab_size} rows")
    tokens = [f"[PAD{i}]" for i in range(n)]
    types = [UNUSED] * n
    for t, i in vocab.items():
        tokens[i], types[i] = t, NORMAL
    for a in added:
        tokens[a["id"]], types[a["id"]] = a["content"], CONTROL if a.get("special") else USER_DEFINED
    byte_level = "ByteLevel" in json.dumps(tj.get("decoder")) or \
        "ByteLevel" in json.dumps(tj.get("pre_tokenizer"))
    md = {"tokenizer.ggml.tokens": tokens}
    if byte_level:
        merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
        pre = "llama-bpe" if "<|begin_of_text|>" in tokens else \
            "qwen2" if "<|im_start|>" in tokens else "default"
        md.update({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": pre,
                   "tokenizer.ggml.merges": merges})
    else:
        for i, t in enumerate(tokens):
            if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
                types[i] = BYTE
        md.update({"tokenizer.ggml.model": "llama",
                   "tokenizer.ggml.scores": [-float(i) for i in range(n)]})
    md["tokenizer.ggml.token_type"] = types
    ids = {t: i for i, t in enumerate(tokens)}
    for key, name in (("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unknown"),
                      ("pad_token", "padding")):
        v = cfg.get(key)
        v = v.get("content") if isinstance(v, dict) else v
        if isinstance(v, str) and v in ids:
            md[f"tokenizer.ggml.{name}_token_id"] = ids[v]
        if name == "unknown" and v in ids:
            types[ids[v]] = UNKNOWN
    post = json.dumps(tj.get("post_processor"))
    bos = cfg.get("bos_token")
    bos = bos.get("content") if isinstance(bos, dict) else bos
    md["tokenizer.ggml.add_bos_token"] = bool(cfg.get("add_bos_token", bool(bos) and bos in post))
    md["tokenizer.ggml.add_eos_token"] = bool(cfg.get("add_eos_token", False))
    template = cfg.get("chat_template")
    jinja = os.path.join(hf_dir, "chat_template.jinja")
    if os.path.isfile(jinja):
        with open(jinja, encoding="utf-8") as f:
            template = f.read()
    if isinstance(template, str):
        md["tokenizer.chat_template"] = template
    return md


def convert(hf_dir: str, out: str, quant: str = "q4_0",
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the HF model in `hf_dir` as a GGUF file `out` with weights in `quant`."""
    if quant not in QUANTS:
        raise ClavisError(f"unknown quant {quant!r}; choose one of {', '.join(QUANTS)}")
    folder = HFFolder(hf_dir)
    cls = model_class(folder.model_type, os.path.join(hf_dir, "config.json"))
    args = cls.Args.from_hf_config(folder.config, cls.arch, os.path.join(hf_dir, "config.json"))
    args.tied = args.tied or "lm_head.weight" not in folder.tensors
    args.name = args.name or os.path.basename(os.path.abspath(hf_dir))
    shapes = cls.tensor_shapes(args)
    mapping, freq = cls.hf_mapping(args), args.rope_freq_factors()
    for name, shape in shapes.items():
        if name == "rope_freqs.weight":
            continue
        hf_name = mapping[name][0]
        got = tuple(folder.tensor(hf_name).shape)
        if got != shape:
            raise ClavisError(f"{hf_dir}: tensor {hf_name!r} has shape {list(got)}, expected "
                              f"{list(shape)} from config.json ({args.describe()})")
    specs = [TensorSpec(n, _gguf_type(s, quant), s) for n, s in shapes.items()]
    done = [0]

    def produce(spec):
        if spec.name == "rope_freqs.weight":
            return freq
        hf_name, fn = mapping[spec.name]
        w = folder.tensor(hf_name).to_f32()
        done[0] += 1
        if progress:
            progress(done[0], len(specs))
        return encode_tensor(fn(w) if fn else w, spec.type)

    md = {"general.architecture": args.arch, "general.file_type": _file_type(quant),
          "general.quantization_version": 2}
    md.update(args.gguf_metadata())
    md.update(tokenizer_metadata(hf_dir, args.vocab_size))
    write_gguf(out, args.arch, md, specs, produce)
    return {"args": args, "gguf": out, "bytes": os.path.getsize(out)}
