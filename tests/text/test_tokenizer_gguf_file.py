"""The tokenizer built from a GGUF *file* (read_gguf's lazy string arrays, the one-pass C vocab
and merge checks) gives the ids llama.cpp gives on the same file, the same as the tokenizer built
from plain Python lists, and the same token bytes as llama.cpp's token_to_piece."""
from __future__ import annotations

import random

import pytest
from text_helpers import MIXED, POOL, TEXTS, llama_cpp, write_vocab_gguf

from clavis import ClavisError
from clavis.formats.gguf import GGUFStringArray, read_gguf
from clavis.text import _hf_json as hj
from clavis.text import tokenizer as tkmod
from clavis.text.tokenizer import Tokenizer

_FROM_FILE: dict[str, Tokenizer] = {}
_FROM_LISTS: dict[str, Tokenizer] = {}


def _pair(bundle):
    if bundle.name not in _FROM_FILE:
        md = read_gguf(bundle.gguf_path).metadata
        _FROM_FILE[bundle.name] = Tokenizer.from_gguf_metadata(md)
        _FROM_LISTS[bundle.name] = Tokenizer.from_gguf_metadata(bundle.vocab.gguf_metadata)
    return _FROM_FILE[bundle.name], _FROM_LISTS[bundle.name]


def _random_texts(n, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(POOL) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def test_tokens_stay_lazy(bundle):
    tok, ref = _pair(bundle)
    assert isinstance(tok.tokens, GGUFStringArray)
    assert tok.tokens == ref.tokens and len(tok.tokens) == tok.vocab_size == ref.vocab_size
    assert (tok.bos_id, tok.eos_ids, tok.special_ids, tok.add_bos, tok.add_space_prefix) == \
        (ref.bos_id, ref.eos_ids, ref.special_ids, ref.add_bos, ref.add_space_prefix)


def test_ids_match_llama_cpp_on_the_same_file(bundle):
    tok, ref = _pair(bundle)
    for text in TEXTS + [MIXED * 3] + _random_texts(300, 7):
        for special in (True, False):
            ours = tok.encode(text, add_special=special)
            want = bundle.llama.tokenize(text.encode("utf-8"), add_bos=special, special=True)
            assert ours == want, f"llama.cpp differs on {text!r}"
            assert ours == ref.encode(text, add_special=special), text
        assert tok.decode(tok.encode(text), skip_special=True) == \
            ref.decode(ref.encode(text), skip_special=True)


def _llama_piece(llama, i) -> bytes:
    lc = llama_cpp()
    buf = (lc.ctypes.c_char * 256)()
    n = lc.llama_token_to_piece(llama._model.vocab, i, buf, 256, 0, True)
    assert 0 <= n <= 256
    return bytes(buf[:n])


def test_token_bytes_match_llama_cpp(bundle):
    tok, _ = _pair(bundle)
    sample = random.Random(5).sample(range(tok.vocab_size), min(3000, tok.vocab_size))
    ids = sorted(set(sample) | tok.special_ids | set(range(min(300, tok.vocab_size))))
    for i in ids:
        assert tok.token_bytes(i) == _llama_piece(bundle.llama, i), (i, tok.tokens[i])
    with pytest.raises(ClavisError, match="outside the vocabulary"):
        tok.token_bytes(tok.vocab_size)


def test_c_vocab_keeps_the_first_id_of_a_repeated_piece(tmp_path, bundles):
    v = bundles["qwen2"].vocab
    md = dict(v.gguf_metadata)
    tokens = list(md["tokenizer.ggml.tokens"])
    tokens[500], tokens[900] = tokens[300], tokens[300]   # pieces repeated later in the list
    p = tmp_path / "dup.gguf"
    _write(v, md | {"tokenizer.ggml.tokens": tokens}, p)
    lazy = read_gguf(p).metadata["tokenizer.ggml.tokens"]
    got = tkmod._vocab(lazy)
    assert got == hj._vocab(tokens) and got[tokens[300]] == 300
    assert list(got.items()) == list(hj._vocab(tokens).items())  # same order, same ids


def _write(vocab, metadata, path):
    class _V:
        gguf_metadata = metadata
        add_to_gguf = vocab.__class__.add_to_gguf
    write_vocab_gguf(_V(), path, "qwen2")
    return path


@pytest.mark.parametrize("bad, index", [("nosuch token", 1), ("Ġ t x", 1), ("Ġt", 1), ("", 1)])
def test_bad_merge_in_a_file_names_it(tmp_path, bundles, bad, index):
    v = bundles["llama3"].vocab
    md = dict(v.gguf_metadata)
    merges = list(md["tokenizer.ggml.merges"])
    merges[index] = bad
    p = _write(v, md | {"tokenizer.ggml.merges": merges}, tmp_path / "m.gguf")
    with pytest.raises(ClavisError, match=rf"tokenizer\.ggml\.merges\[{index}\] = {bad!r}"):
        Tokenizer.from_gguf_metadata(read_gguf(p).metadata)
    with pytest.raises(ClavisError, match=rf"tokenizer\.ggml\.merges\[{index}\] = {bad!r}"):
        Tokenizer.from_gguf_metadata(md | {"tokenizer.ggml.merges": merges})


@pytest.mark.parametrize("name", ["llama3", "qwen2"])  # the byte-level BPE ones have merges
def test_c_merges_equal_the_python_parse(bundles, name):
    md = read_gguf(bundles[name].gguf_path).metadata
    vocab = tkmod._vocab(md["tokenizer.ggml.tokens"])
    want = [tuple(m) for m in hj.parse_merges(list(md["tokenizer.ggml.merges"]), vocab)]
    assert tkmod._merges(md["tokenizer.ggml.merges"], vocab) == want
