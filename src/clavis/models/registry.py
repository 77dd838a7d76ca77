"""Architectures by name. A new Llama-style architecture is one small file plus one line here."""
from __future__ import annotations

import importlib
import os

from clavis import ClavisError

# architecture name (GGUF general.architecture == HF model_type) -> "module:Class"
ARCHITECTURES = {
    "llama": "clavis.models.llama:LlamaModel",
    "mistral": "clavis.models.llama:LlamaModel",
    "qwen2": "clavis.models.qwen2:Qwen2Model",
    "qwen3": "clavis.models.qwen3:Qwen3Model",
}
SUPPORTED = ("llama", "qwen2", "qwen3")


def model_class(arch: str, where: str = ""):
    if arch not in ARCHITECTURES:
        prefix = f"{where}: " if where else ""
        raise ClavisError(f"{prefix}unknown architecture {arch!r}; clavis supports "
                          f"{', '.join(SUPPORTED)} (and mistral, which loads as llama)")
    mod, cls = ARCHITECTURES[arch].split(":")
    return getattr(importlib.import_module(mod), cls)


def load_gguf_model(gf, progress=None):
    """A model from an open GGUFFile (clavis.formats.gguf.read_gguf)."""
    arch = gf.get("general.architecture")
    if arch is None:
        raise ClavisError(f"{gf.path}: missing metadata key 'general.architecture'")
    return model_class(arch, gf.path).from_gguf(gf, progress)


def load_hf_model(folder, quant: str | None = None, progress=None):
    """A model from an HFFolder; `quant` None keeps f32 weights as f32 and makes the rest f16."""
    arch = folder.model_type
    if quant is None:
        dtypes = {t.dtype for t in folder.tensors.values()}
        quant = "f32" if dtypes == {"F32"} else "f16"
    return model_class(arch, os.path.join(folder.path, "config.json")).from_hf(folder, quant, progress)
