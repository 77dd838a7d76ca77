"""`clavis convert` (HF folder -> GGUF): the same bytes as a GGUF written directly from the same
weights; llama.cpp loads the result and tokenizes like transformers."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from clavis.formats.gguf import read_gguf
from clavis.models.convert import convert

MIXED = "Hello, мир! 你好世界 🙂 def f(x):\n    return x  # ok\n\n\n   spaces  end"


@pytest.mark.parametrize("shape", ["tiny-llama", "tiny-llama-spm", "tiny-qwen2", "tiny-qwen3"])
def test_convert_equals_direct_gguf(tiny_models, tmp_path, shape):
    direct, hf = tiny_models(shape, "q8_0")
    out = tmp_path / "conv.gguf"
    convert(hf, str(out), "q8_0")
    a, b = read_gguf(direct), read_gguf(out)
    assert set(a.tensors) == set(b.tensors)
    for name, t in a.tensors.items():
        u = b.tensors[name]
        assert (t.type, t.shape) == (u.type, u.shape), name
        assert np.array_equal(t.data, u.data), name
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.model", "tokenizer.ggml.eos_token_id",
                f"{a.arch}.rope.freq_base", f"{a.arch}.attention.head_count_kv"):
        assert a.metadata[key] == b.metadata[key], key


@pytest.mark.parametrize("shape", ["tiny-llama", "tiny-llama-spm", "tiny-qwen2"])
def test_llama_cpp_tokenizes_converted_file_like_transformers(tiny_models, tmp_path, shape,
                                                             llama_cpp):
    import transformers
    _, hf = tiny_models(shape, "f32")
    out = tmp_path / "conv.gguf"
    convert(hf, str(out), "q4_0")
    ref = transformers.AutoTokenizer.from_pretrained(hf).encode(MIXED, add_special_tokens=False)
    m = llama_cpp.Llama(model_path=str(out), vocab_only=True, verbose=False)
    got = m.tokenize(MIXED.encode(), add_bos=False, special=False)
    assert got == ref


def test_cli_convert_and_errors(tiny_models, tmp_path):
    _, hf = tiny_models("tiny-qwen2", "f32")
    out = tmp_path / "c.gguf"
    r = subprocess.run([sys.executable, "-m", "clavis", "convert", hf, str(out), "--quant", "q4_0"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and read_gguf(out).tensors["blk.0.ffn_up.weight"].type == "q4_0"
    r = subprocess.run([sys.executable, "-m", "clavis", "convert", str(tmp_path), str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "config.json" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("quant", ["q8_0", "q4_0"])
def test_hf_folder_quantized_at_load_equals_the_gguf(tiny_models, quant):
    """LLM.load(hf_dir, quant=...) packs the same bytes as the GGUF of the same weights."""
    from clavis.runtime.llm import LLM
    gguf, hf = tiny_models("tiny-qwen3", quant)
    ids = np.random.default_rng(0).integers(0, 1024, 50).tolist()
    a = LLM.load(gguf).logits(ids)
    b = LLM.load(hf, quant=quant).logits(ids)
    np.testing.assert_array_equal(a, b)
