"""Synthetic models: random weights with the exact tensor names, shapes and metadata of real
models (and tiny ones for tests), written as GGUF and, optionally, as an HF folder.

Weights are drawn per tensor from N(0, 1/fan_in) (about 0.02 for 2k-wide models, as in real
initialisations; for tiny models it keeps activations near 1). Norm weights are N(1, 0.1). Each
tensor has its own generator seeded by (seed, crc32(name)), so files are reproducible and
written streaming, one tensor at a time (llama-2-7b Q4_0 never holds more than one f32 tensor).
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from clavis import ClavisError
from clavis.formats.gguf import TensorSpec, write_gguf
from clavis.formats.hf import write_hf_folder
from clavis.models.registry import model_class
from clavis.models.weights import permute_qk

QUANTS = ("q4_0", "q8_0", "f16", "f32")
LLAMA3_SCALING = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
HF_MAX_PARAMS = 1_500_000_000   # an f32 HF folder is held in memory while written


@dataclass
class Shape:
    arch: str
    args: dict
    vocab: str            # "spm" | "llama3" | "qwen2": the tokenizer (text.synthetic.make_vocab)
    real: str = ""        # the HF repo the shape copies
    extra: dict = field(default_factory=dict)


SHAPES: dict[str, Shape] = {
    "llama-3.2-1b": Shape("llama", dict(dim=2048, n_layers=16, n_heads=32, n_kv_heads=8,
                          head_dim=64, ffn_dim=8192, vocab_size=128256, norm_eps=1e-5,
                          rope_theta=500000.0, n_ctx_train=131072, tied=True,
                          rope_scaling=LLAMA3_SCALING), "llama3", "meta-llama/Llama-3.2-1B-Instruct"),
    "tinyllama-1.1b": Shape("llama", dict(dim=2048, n_layers=22, n_heads=32, n_kv_heads=4,
                            head_dim=64, ffn_dim=5632, vocab_size=32000, norm_eps=1e-5,
                            rope_theta=10000.0, n_ctx_train=2048), "spm",
                            "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    "qwen2.5-0.5b": Shape("qwen2", dict(dim=896, n_layers=24, n_heads=14, n_kv_heads=2,
                          head_dim=64, ffn_dim=4864, vocab_size=151936, norm_eps=1e-6,
                          rope_theta=1000000.0, n_ctx_train=32768, tied=True), "qwen2",
                          "Qwen/Qwen2.5-0.5B-Instruct"),
    "qwen3-0.6b": Shape("qwen3", dict(dim=1024, n_layers=28, n_heads=16, n_kv_heads=8,
                        head_dim=128, ffn_dim=3072, vocab_size=151936, norm_eps=1e-6,
                        rope_theta=1000000.0, n_ctx_train=40960, tied=True), "qwen2", "Qwen/Qwen3-0.6B"),
    "llama-2-7b": Shape("llama", dict(dim=4096, n_layers=32, n_heads=32, n_kv_heads=32,
                        head_dim=128, ffn_dim=11008, vocab_size=32000, norm_eps=1e-5,
                        rope_theta=10000.0, n_ctx_train=4096), "spm", "meta-llama/Llama-2-7b-chat-hf"),
    # tiny versions for tests: every feature of the real ones (llama3 scaling, GQA, biases,
    # q/k norms with head_dim != dim / n_heads), dims multiples of 32 so every quant applies
    "tiny-llama": Shape("llama", dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16,
                        ffn_dim=128, vocab_size=0, norm_eps=1e-5, rope_theta=500000.0,
                        n_ctx_train=131072, tied=False, rope_scaling=LLAMA3_SCALING), "llama3"),
    "tiny-llama-spm": Shape("llama", dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2,
                            head_dim=16, ffn_dim=128, vocab_size=0, norm_eps=1e-5,
                            rope_theta=10000.0, n_ctx_train=2048), "spm"),
    "tiny-llama-256": Shape("llama", dict(dim=256, n_layers=1, n_heads=4, n_kv_heads=2,
                            head_dim=64, ffn_dim=512, vocab_size=0, norm_eps=1e-5,
                            rope_theta=10000.0, n_ctx_train=2048), "llama3"),  # K-quant rows
    "tiny-qwen2": Shape("qwen2", dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16,
                        ffn_dim=128, vocab_size=0, norm_eps=1e-6, rope_theta=1000000.0,
                        n_ctx_train=2048, tied=True), "qwen2"),
    "tiny-qwen3": Shape("qwen3", dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=32,
                        ffn_dim=128, vocab_size=0, norm_eps=1e-6, rope_theta=1000000.0,
                        n_ctx_train=2048, tied=True), "qwen2"),
}
TINY_VOCAB = 1024


def shape_names() -> list[str]:
    return list(SHAPES)


def make_args(shape: str, vocab_size: int | None = None):
    if shape not in SHAPES:
        raise ClavisError(f"unknown model shape {shape!r}; known: {', '.join(SHAPES)} "
                          "(and whisper-tiny|base|small)")
    s = SHAPES[shape]
    kw = dict(s.args)
    if not kw["vocab_size"]:
        kw["vocab_size"] = vocab_size or TINY_VOCAB
    return model_class(s.arch).Args(arch=s.arch, name=shape, **kw)


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def random_tensor(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The HF-layout f32 value of GGUF tensor `name` (deterministic in seed and name)."""
    rng = _rng(seed, name)
    if name.endswith("norm.weight"):
        return (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    if name.endswith(".bias"):
        return (0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    fan_in = shape[-1]
    w = rng.standard_normal(shape, dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(fan_in))
    return w


def _gguf_type(shape: tuple[int, ...], quant: str) -> str:
    """1-D tensors (norms, biases) stay f32; a matrix whose rows are not whole 32-blocks is f16."""
    if len(shape) != 2:
        return "f32"
    if quant in ("q4_0", "q8_0") and shape[-1] % 32:
        return "f16"
    return quant


def encode_tensor(arr: np.ndarray, type_: str) -> np.ndarray:
    if type_ == "f32":
        return arr.astype(np.float32, copy=False)
    if type_ == "f16":
        return arr.astype(np.float16)
    from clavis.kernels import formats as kformats
    return kformats.quantize(np.ascontiguousarray(arr, dtype=np.float32), type_)


def make(shape: str, out: str, quant: str = "q4_0", hf_dir: str | None = None, seed: int = 0,
         progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the synthetic model `shape` to `out` (GGUF) and optionally `hf_dir`.
    Returns {"args": ModelArgs, "gguf": out, "hf_dir": hf_dir, "bytes": size}."""
    if quant not in QUANTS:
        raise ClavisError(f"unknown quant {quant!r}; choose one of {', '.join(QUANTS)}")
    from clavis.text.synthetic import make_vocab
    s = SHAPES.get(shape)
    if s is None:
        make_args(shape)  # raises the error listing the shapes
    kind, flavour = ("spm", None) if s.vocab == "spm" else ("bpe", s.vocab)
    vocab = make_vocab(kind, SHAPES[shape].args["vocab_size"] or TINY_VOCAB, flavour)
    args = make_args(shape, vocab.size)
    cls = model_class(args.arch)
    shapes = cls.tensor_shapes(args)
    n_params = sum(int(np.prod(v)) for v in shapes.values())
    if hf_dir and n_params > HF_MAX_PARAMS:
        raise ClavisError(f"--hf-dir: {shape} has {n_params / 1e9:.1f}B parameters; HF folders are "
                          f"written in f32 in memory, so only shapes under "
                          f"{HF_MAX_PARAMS / 1e9:.1f}B are supported")
    hf_tensors: dict[str, np.ndarray] = {}
    hf_map = cls.hf_mapping(args)
    freq = args.rope_freq_factors()
    specs = [TensorSpec(n, _gguf_type(shp, quant), shp)
             for n, shp in shapes.items()]
    done = [0]

    def produce(spec: TensorSpec) -> np.ndarray:
        if spec.name == "rope_freqs.weight":
            return freq
        w = random_tensor(spec.name, spec.shape, seed)           # HF layout
        if hf_dir:
            hf_tensors[hf_map[spec.name][0]] = w
        suffix = spec.name.split(".", 2)[-1] if spec.name.startswith("blk.") else spec.name
        fn = cls.hf_transform(args, suffix)
        data = encode_tensor(fn(w) if fn else w, spec.type)
        done[0] += 1
        if progress:
            progress(done[0], len(specs))
        return data

    metadata = {"general.architecture": args.arch, "general.file_type": _file_type(quant),
                "general.quantization_version": 2}
    metadata.update(args.gguf_metadata())
    metadata.update(vocab.gguf_metadata)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    write_gguf(out, args.arch, metadata, specs, produce)
    if hf_dir:
        cfg = args.hf_config(vocab.bos_id, vocab.eos_id)
        cfg["_name_or_path"] = shape
        write_hf_folder(hf_dir, cfg, hf_tensors)
        vocab.write_hf(hf_dir)
    return {"args": args, "gguf": out, "hf_dir": hf_dir, "bytes": os.path.getsize(out)}


def _file_type(quant: str) -> int:
    # llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q8_0 = 7
    return {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}[quant]
