"""Hugging Face model folders: config.json, *.safetensors (memory-mapped), tokenizer files.

The safetensors header is parsed here (8-byte length + JSON) and each tensor is a NumPy view
into a memory map, so bf16 (which NumPy lacks) is read as uint16 and widened on demand.
Writing uses the `safetensors` package.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any

import numpy as np

from clavis import ClavisError

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64,
           "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
           "BOOL": np.bool_}


class SafeTensor:
    """One tensor of a .safetensors file, memory-mapped."""

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...], raw: np.ndarray):
        self.name, self.dtype, self.shape, self.raw = name, dtype, shape, raw

    def to_f32(self) -> np.ndarray:
        if self.dtype == "BF16":
            return (self.raw.astype(np.uint32) << 16).view(np.float32)
        return self.raw.astype(np.float32)


def read_safetensors(path: str) -> dict[str, SafeTensor]:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ClavisError(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100 * 2**20:
            raise ClavisError(f"{path}: safetensors header claims {n} bytes; file has {size}")
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ClavisError(f"{path}: safetensors header is not valid JSON: {e}") from e
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (a, b) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ClavisError(f"{path}: tensor {name!r} has a malformed header entry") from None
        if dtype not in _DTYPES:
            raise ClavisError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
        npdt = np.dtype(_DTYPES[dtype])
        want = int(np.prod(shape, dtype=np.int64)) * npdt.itemsize
        if b - a != want or base + b > size or a < 0:
            raise ClavisError(f"{path}: tensor {name!r} ({dtype} {list(shape)}) has bad data "
                              f"offsets [{a}, {b}] (file has {size} bytes)")
        out[name] = SafeTensor(name, dtype, shape, mm[base + a:base + b].view(npdt).reshape(shape))
    return out


class HFFolder:
    """A local Hugging Face model folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        cfg = os.path.join(self.path, "config.json")
        if not os.path.isfile(cfg):
            raise ClavisError(f"{self.path}: not a Hugging Face model folder (no config.json)")
        self.config = _read_json(cfg)
        files = sorted(f for f in os.listdir(self.path) if f.endswith(".safetensors"))
        if not files:
            raise ClavisError(f"{self.path}: no *.safetensors weights found (only safetensors "
                              "are supported, not PyTorch .bin files)")
        self.tensors: dict[str, SafeTensor] = {}
        for f in files:
            self.tensors.update(read_safetensors(os.path.join(self.path, f)))

    @property
    def model_type(self) -> str:
        mt = self.config.get("model_type")
        if not mt:
            raise ClavisError(f"{self.path}/config.json: missing field 'model_type'")
        return str(mt)

    def tensor(self, name: str) -> SafeTensor:
        if name not in self.tensors:
            raise ClavisError(f"{self.path}: missing tensor {name!r} in the safetensors files")
        return self.tensors[name]

    def tokenizer_config(self) -> dict[str, Any]:
        p = os.path.join(self.path, "tokenizer_config.json")
        return _read_json(p) if os.path.isfile(p) else {}

    def has_tokenizer(self) -> bool:
        return os.path.isfile(os.path.join(self.path, "tokenizer.json"))


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ClavisError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from e
    if not isinstance(data, dict):
        raise ClavisError(f"{path}: expected a JSON object")
    return data


def is_hf_folder(path: str | os.PathLike) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "config.json"))


def write_hf_folder(path: str | os.PathLike, config: dict, tensors: dict[str, np.ndarray],
                    tokenizer_json: str | dict | None = None,
                    tokenizer_config: dict | None = None) -> None:
    """Write config.json, model.safetensors and (optionally) tokenizer files."""
    from safetensors.numpy import save_file
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
              os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    if tokenizer_json is not None:
        text = tokenizer_json if isinstance(tokenizer_json, str) else json.dumps(tokenizer_json)
        with open(os.path.join(path, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(text)
    if tokenizer_config is not None:
        with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_config, f, indent=2)
