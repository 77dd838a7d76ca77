"""Synthetic vocabularies: valid, deterministic, the exact size asked, readable by gguf-py."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import gguf
import numpy as np
import pytest
from text_helpers import MIXED, write_vocab_gguf

from clavis import ClavisError
from clavis.text import _hf_json as hj
from clavis.text.synthetic import make_vocab
from clavis.text.tokenizer import Tokenizer


def _digest(v) -> str:
    return hashlib.sha256(json.dumps(v.gguf_metadata, sort_keys=True).encode()).hexdigest()


def test_deterministic_across_processes():
    here = [_digest(make_vocab(k, n, f)) for k, n, f in
            (("spm", 3000, None), ("bpe", 5000, "llama3"), ("bpe", 4000, "qwen2"))]
    code = ("import hashlib, json\nfrom clavis.text.synthetic import make_vocab\n"
            "for k, n, f in (('spm', 3000, None), ('bpe', 5000, 'llama3'), ('bpe', 4000, 'qwen2')):\n"
            "    m = make_vocab(k, n, f).gguf_metadata\n"
            "    print(hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == here


@pytest.mark.parametrize("size", [512, 1000, 32000])
def test_spm_layout(size):
    v = make_vocab("spm", size)
    assert v.vocab_size == len(v.token_types) == len(v.scores) == size
    assert v.tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert v.token_types[:3] == [hj.UNKNOWN, hj.CONTROL, hj.CONTROL]
    assert v.tokens[3:259] == [f"<0x{b:02X}>" for b in range(256)]
    assert set(v.token_types[3:259]) == {hj.BYTE}
    assert len(set(v.tokens)) == size
    normal = v.tokens[259:]
    assert sum(t.startswith("▁") and len(t) > 2 for t in normal[:v.n_trained]) > min(100, v.n_trained // 20)
    assert all(a > b for a, b in zip(v.scores[259:], v.scores[260:]))  # earlier = preferred
    assert " " not in "".join(v.tokens) and "\n" not in "".join(normal)


@pytest.mark.parametrize("flavour, size", [("llama3", 128256), ("llama3", 3000), ("qwen2", 151936)])
def test_bpe_layout_and_merges(flavour, size):
    v = make_vocab("bpe", size, flavour)
    assert v.vocab_size == len(v.token_types) == size and len(set(v.tokens)) == size
    vocab = {t: i for i, t in enumerate(v.tokens)}
    b2u = hj.bytes_to_unicode()
    assert all(b2u[b] in vocab for b in range(256))  # every byte is a token
    assert len(v.merges) == v.n_trained - 256
    for m in v.merges:  # each merge joins two earlier tokens into the next one
        a, b = m.split(" ")
        assert vocab[a] < vocab[a + b] and vocab[b] < vocab[a + b]
    if flavour == "llama3" and size == 128256:  # the real Llama 3 layout of special tokens
        assert vocab["<|begin_of_text|>"] == v.bos_id == 128000
        assert vocab["<|eot_id|>"] == v.eos_id == 128009
        assert vocab["<|start_header_id|>"] == 128006
        assert v.tokens[-1] == "<|reserved_special_token_247|>"
    if flavour == "qwen2":
        assert v.tokens[v.eos_id] == "<|im_end|>" and not v.add_bos
        assert v.pre == "qwen2" and "<|im_start|>" in vocab


def test_fillers_are_never_produced(bundles):
    for name, b in bundles.items():
        tok = Tokenizer.from_gguf_metadata(b.vocab.gguf_metadata)
        filler = next((t for t in b.vocab.tokens if "filler" in t), "▁filler000000")
        text = MIXED + " filler000001 ▁filler000002 " + filler
        ids = tok.encode(text)
        assert max(i for i in ids if i not in tok.special_ids) < b.vocab.n_trained + 259
        assert ids == b.llama.tokenize(text.encode(), add_bos=True, special=True)


def _plain(field):
    """A gguf-py ReaderField as a plain python value."""
    kinds = field.types
    if kinds[0] == gguf.GGUFValueType.ARRAY:
        if kinds[-1] == gguf.GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8") for i in field.data]
        return [field.parts[i][0].item() for i in field.data]
    if kinds[0] == gguf.GGUFValueType.STRING:
        return bytes(field.parts[-1]).decode("utf-8")
    value = field.parts[-1][0]
    return bool(value) if kinds[0] == gguf.GGUFValueType.BOOL else value.item()


@pytest.mark.parametrize("kind, flavour", [("spm", "llama2"), ("bpe", "llama3"), ("bpe", "qwen2")])
def test_gguf_roundtrip_through_gguf_py(tmp_path, kind, flavour):
    # small vocabularies: gguf-py's reader is slow on 150k-entry arrays
    vocab = make_vocab(kind, 3000, flavour)
    reader = gguf.GGUFReader(write_vocab_gguf(vocab, tmp_path / "v.gguf"))
    meta = vocab.gguf_metadata
    read = {k: _plain(f) for k, f in reader.fields.items() if k.startswith("tokenizer.")}
    assert set(read) == set(meta)
    for k, v in meta.items():
        if k.endswith("scores"):
            np.testing.assert_array_equal(np.float32(read[k]), np.float32(v))
        else:
            assert read[k] == v, k
    assert reader.fields["tokenizer.ggml.token_type"].types[-1] == gguf.GGUFValueType.INT32
    tok = Tokenizer.from_gguf_metadata(read)
    assert tok.encode(MIXED) == Tokenizer.from_gguf_metadata(meta).encode(MIXED)


@pytest.mark.parametrize("args, match", [
    (("wordpiece", 1000), "kind 'wordpiece'"),
    (("spm", 1000, "qwen2"), "flavours llama2"),
    (("bpe", 100, "llama3"), "too small: the smallest is"),
    (("spm", 250), "too small"),
    (("bpe", -5), "positive integer"),
])
def test_bad_arguments(args, match):
    with pytest.raises(ClavisError, match=match):
        make_vocab(*args)
