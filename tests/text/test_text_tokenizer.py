"""Tokenizer ids identical to llama.cpp (same GGUF file) and transformers (same HF folder)."""
from __future__ import annotations

import random

import numpy as np
import pytest
from text_helpers import MIXED, POOL, TEXTS, llama_detokenize

from clavis import ClavisError
from clavis.text.tokenizer import Tokenizer

# special tokens in the text are parsed as specials (each flavour has its own)
SPECIAL_TEXTS = {
    "spm": "<s>[INST] Hi there [/INST] Hello!</s><s>[INST] Как дела? [/INST]",
    "llama3": "<|start_header_id|>user<|end_header_id|>\n\nПривет 👋<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "qwen2": "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
             "<|im_start|>assistant\n",
}
SPECIAL_TEXTS["spm-tiny"] = SPECIAL_TEXTS["spm"]


@pytest.fixture(scope="module")
def toks(bundles):
    return {name: (Tokenizer.from_gguf_metadata(b.vocab.gguf_metadata),
                   Tokenizer.from_hf_dir(b.hf_dir)) for name, b in bundles.items()}


@pytest.mark.parametrize("add_special", [True, False])
def test_ids_match_llama_cpp_and_transformers(bundle, toks, add_special):
    from_gguf, from_hf = toks[bundle.name]
    texts = TEXTS + [SPECIAL_TEXTS[bundle.name], MIXED + SPECIAL_TEXTS[bundle.name] + MIXED]
    for text in texts:
        ours = from_gguf.encode(text, add_special=add_special)
        ref_llama = bundle.llama.tokenize(text.encode("utf-8"), add_bos=add_special, special=True)
        ref_hf = bundle.hf.encode(text, add_special_tokens=add_special)
        assert ours == ref_llama, f"llama.cpp differs on {text!r}"
        assert ours == ref_hf, f"transformers differs on {text!r}"
        assert from_hf.encode(text, add_special=add_special) == ours, f"HF folder differs on {text!r}"


def test_mixed_text_is_split_into_meaningful_pieces(bundle, toks):
    tok = toks[bundle.name][0]
    ids = tok.encode(MIXED, add_special=False)
    n_bytes = len(MIXED.encode("utf-8"))
    ratio = 0.8 if tok.vocab_size < 1000 else 0.6  # the tiny one has few merges
    assert len(ids) < ratio * n_bytes, "the vocabulary barely merges anything"
    pieces = [tok.token_bytes(i).decode("utf-8", "replace").strip() for i in ids]
    for script in ("abcdefghijklmnopqrstuvwxyz", "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"):
        assert any(len(p) >= (2 if tok.vocab_size < 1000 else 3) and all(c.lower() in script for c in p) for p in pieces), \
            f"no multi-letter pieces from {script[:3]}..."


def test_special_tokens_are_parsed(bundle, toks):
    tok = toks[bundle.name][0]
    text = SPECIAL_TEXTS[bundle.name]
    ids = tok.encode(text, add_special=False)
    specials = [i for i in ids if i in tok.special_ids]
    assert len(specials) >= 3
    for i in specials:
        assert tok.tokens[i] in text


def test_ids_and_sizes_match_llama_cpp(bundle, toks):
    tok, from_hf = toks[bundle.name]
    llama = bundle.llama
    assert tok.vocab_size == llama.n_vocab() == bundle.vocab.vocab_size
    assert tok.bos_id == llama.token_bos()
    assert llama.token_eos() in tok.eos_ids
    assert from_hf.vocab_size == tok.vocab_size
    for i in random.Random(0).sample(range(tok.vocab_size), 50):
        assert tok.token_to_id(tok.id_to_token(i)) == i


def test_numpy_metadata_values_are_accepted(bundles, toks):
    meta = dict(bundles["spm"].vocab.gguf_metadata)
    for k in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        meta[k] = np.asarray(meta[k])
    meta["tokenizer.ggml.bos_token_id"] = np.uint32(1)
    assert Tokenizer.from_gguf_metadata(meta).encode(MIXED) == toks["spm"][0].encode(MIXED)


def test_eos_ids_include_end_of_turn(bundles, toks):
    llama3 = toks["llama3"][0]
    names = {llama3.tokens[i] for i in llama3.eos_ids}
    assert {"<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"} <= names
    assert llama3.bos_id == llama3.token_to_id("<|begin_of_text|>")
    qwen = toks["qwen2"][0]
    assert {qwen.tokens[i] for i in qwen.eos_ids} == {"<|im_end|>", "<|endoftext|>"}
    assert qwen.encode("hi")[0] != qwen.bos_id  # Qwen2 adds no BOS
    spm = toks["spm"][0]
    assert spm.eos_ids == {2} and spm.bos_id == 1 and spm.encode("hi")[0] == 1


def test_decode_matches_transformers_and_llama_cpp(bundle, toks):
    tok = toks[bundle.name][0]
    for text in TEXTS + [SPECIAL_TEXTS[bundle.name]]:
        ids = tok.encode(text)
        for skip in (False, True):
            assert tok.decode(ids, skip_special=skip) == \
                bundle.hf.decode(ids, skip_special_tokens=skip), (text, skip)
        if "<" not in text:  # special tokens: llama.cpp keeps no text for them
            assert tok.decode(ids, skip_special=True) == text
            # (llama.cpp keeps the SPM leading space after a removed BOS; HF strips it)
            plain = tok.encode(text, add_special=False)
            assert llama_detokenize(bundle.llama, plain) == text == tok.decode(plain)


def _stream(tok, ids, chunks):
    dec = tok.stream_decoder()
    pieces = []
    i = 0
    for n in chunks:
        pieces.append(dec.feed(ids[i:i + n]))
        i += n
    pieces.append(dec.flush())
    return pieces


def test_stream_decoder_never_splits_a_character(bundle, toks):
    tok = toks[bundle.name][0]
    text = MIXED + SPECIAL_TEXTS[bundle.name] + "🦙" * 3 + "ё"
    ids = tok.encode(text)
    # there are tokens that hold part of a UTF-8 character (byte fallback / byte-level)
    assert any(not _valid_utf8(tok.token_bytes(i)) for i in ids)
    pieces = _stream(tok, ids, [1] * len(ids))
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == tok.decode(ids, skip_special=True) == \
        bundle.hf.decode(ids, skip_special_tokens=True)
    rng = random.Random(1)
    for _ in range(5):
        chunks = []
        while sum(chunks) < len(ids):
            chunks.append(rng.randint(1, 4))
        assert "".join(_stream(tok, ids, chunks)) == tok.decode(ids, skip_special=True)


def test_stream_decoder_spm_leading_space(toks):
    tok = toks["spm"][0]
    ids = tok.encode(" Hello world", add_special=True)  # [<s>, ▁, ▁Hello, ...]
    dec = tok.stream_decoder()
    text = "".join(dec.feed(i) for i in ids) + dec.flush()
    assert text == tok.decode(ids, skip_special=True) == " Hello world"
    ids = tok.encode("Hello world")
    dec = tok.stream_decoder()
    pieces = [p for p in (dec.feed(i) for i in ids) if p]
    assert pieces[0][0] == "H" and "".join(pieces) == "Hello world"
    mid = tok.stream_decoder(strip_leading_space=False)
    assert "".join(mid.feed(np.int64(i)) for i in ids) == " Hello world"
    keep = tok.stream_decoder(skip_special=False)
    assert "".join(keep.feed(i) for i in ids) == "<s> Hello world" == tok.decode(ids)


def test_stream_decoder_incomplete_character_at_end(toks):
    tok = toks["spm"][0]
    ids = tok.encode("🦙", add_special=False)
    dec = tok.stream_decoder()
    assert dec.feed(ids[:-1]) == ""
    assert dec.flush() == "\ufffd"


def _valid_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ---- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, changes, message", [
    ("spm", {"tokenizer.ggml.tokens": None}, "tokenizer.ggml.tokens"),
    ("spm", {"tokenizer.ggml.model": "bert"}, "'bert' is not supported"),
    ("spm", {"tokenizer.ggml.model": 7}, "tokenizer.ggml.model"),
    ("spm", {"tokenizer.ggml.scores": [0.0]}, "tokenizer.ggml.scores has 1 entries"),
    ("spm", {"tokenizer.ggml.token_type": [1, 2]}, "tokenizer.ggml.token_type"),
    ("spm", {"tokenizer.ggml.bos_token_id": 10 ** 6}, "tokenizer.ggml.bos_token_id"),
    ("llama3", {"tokenizer.ggml.pre": "no-such-pre"}, "'no-such-pre' is not supported"),
    ("llama3", {"tokenizer.ggml.merges": ["Ġ t", "nosuch token"]}, "tokenizer.ggml.merges[1]"),
    ("llama3", {"tokenizer.ggml.merges": None}, "tokenizer.ggml.merges"),
    ("qwen2", {"tokenizer.ggml.tokens": ["a", 3]}, "tokenizer.ggml.tokens"),
])
def test_bad_metadata_is_a_clear_error(bundles, name, changes, message):
    meta = dict(bundles[name].vocab.gguf_metadata)
    for k, v in changes.items():
        if v is None:
            meta.pop(k)
        else:
            meta[k] = v
    with pytest.raises(ClavisError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Tokenizer.from_gguf_metadata(meta)


def test_bad_hf_folder_is_a_clear_error(tmp_path, toks):
    with pytest.raises(ClavisError, match="no tokenizer.json"):
        Tokenizer.from_hf_dir(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"model": {\n"type": "BPE",,}}')
    with pytest.raises(ClavisError, match=r"tokenizer.json: line 2: invalid JSON"):
        Tokenizer.from_hf_dir(tmp_path)
    tok = toks["spm"][0]
    with pytest.raises(ClavisError, match="outside the vocabulary"):
        tok.decode([1, 10 ** 7])
    with pytest.raises(ClavisError, match="outside the vocabulary"):
        tok.stream_decoder().feed(-1)
    with pytest.raises(ClavisError, match="takes a str"):
        tok.encode(b"bytes")


def test_random_strings_match_llama_cpp_and_transformers(bundle, toks):
    tok = toks[bundle.name][0]
    rng = random.Random(1234)
    for _ in range(300):
        text = "".join(rng.choice(POOL) for _ in range(rng.randint(1, 40)))
        ours = tok.encode(text)
        assert ours == bundle.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True), text
        assert ours == bundle.hf.encode(text), text


@pytest.mark.parametrize("pre", ["llama-bpe", "dbrx", "qwen2", "gpt-2", "starcoder", "default"])
def test_each_pre_tokenizer_matches_llama_cpp(tmp_path, pre):
    """One name from each group of tokenizer.ggml.pre values (same regexes within a group)."""
    import dataclasses

    from text_helpers import llama_cpp, write_vocab_gguf

    from clavis.text.synthetic import make_vocab

    vocab = dataclasses.replace(make_vocab("bpe", 3000, "llama3"), pre=pre)
    tok = Tokenizer.from_gguf_metadata(vocab.gguf_metadata)
    llama = llama_cpp().Llama(model_path=str(write_vocab_gguf(vocab, tmp_path / "v.gguf")),
                              vocab_only=True, verbose=False)
    try:
        rng = random.Random(7)
        texts = TEXTS + ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 40)))
                         for _ in range(150)]
        for text in texts:
            assert tok.encode(text) == llama.tokenize(text.encode(), add_bos=True, special=True), text
    finally:
        llama.close()
    # the pre-tokenizer matters: digits split 3 at a time, one at a time, or kept together
    pieces = [p for p, _ in tok._hf.pre_tokenizer.pre_tokenize_str(" 1234567")]
    three, one = ["Ġ", "123", "456", "7"], ["Ġ", "1", "2", "3", "4", "5", "6", "7"]
    assert pieces == {"llama-bpe": three, "dbrx": three, "qwen2": one, "gpt-2": ["Ġ1234567"],
                      "starcoder": one, "default": three}[pre]
