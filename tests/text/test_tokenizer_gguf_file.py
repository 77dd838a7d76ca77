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


# ---- a vocabulary with a merge per token (as real byte-level BPE files have) -----------------
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _merge_vocab(n_tokens=4000, seed=0, extra=()):
    """Byte-level BPE metadata whose tokens past the 256 bytes each come from one merge of two
    earlier tokens (a random 'training'); Qwen2 pre-tokenizer and special tokens."""
    rng = random.Random(seed)
    base = list(hj.bytes_to_unicode().values())
    words = [w for t in TEXTS for w in t.split()] + ["the", "ing", " and", "ения", "世界"]
    pieces = ["".join(hj.bytes_to_unicode()[b] for b in (" " + w).encode()) for w in words]
    tokens, seen, merges = base[:], set(base), []
    while len(tokens) < n_tokens:
        p = rng.choice(pieces)
        k = rng.randrange(1, len(p)) if len(p) > 1 else 1
        a, b = (p[:k], p[k:]) if rng.random() < 0.5 else (rng.choice(tokens), rng.choice(base))
        if a in seen and b in seen and a + b not in seen and b:
            seen.add(a + b)
            tokens.append(a + b)
            merges.append(f"{a} {b}")
    tokens += extra
    types = [hj.NORMAL] * len(tokens) + [hj.CONTROL] * len(SPECIALS)
    return {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
            "tokenizer.ggml.tokens": tokens + SPECIALS, "tokenizer.ggml.token_type": types,
            "tokenizer.ggml.merges": merges, "tokenizer.ggml.eos_token_id": len(tokens),
            "tokenizer.ggml.bos_token_id": len(tokens), "tokenizer.ggml.add_bos_token": False}


@pytest.fixture(scope="module")
def merge_file(tmp_path_factory, bundles):
    md = _merge_vocab()
    p = _write(bundles["qwen2"].vocab, md, tmp_path_factory.mktemp("merges") / "m.gguf")
    llama = llama_cpp().Llama(model_path=str(p), vocab_only=True, verbose=False)
    yield md, p, llama
    llama.close()


def test_many_merges_take_the_json_route_and_match_llama_cpp(merge_file, monkeypatch):
    md, p, llama = merge_file
    fields = read_gguf(p).metadata
    assert len(fields["tokenizer.ggml.merges"]) > 3000
    routes = []
    real = tkmod._from_gguf_bytes
    monkeypatch.setattr(tkmod, "_from_gguf_bytes", lambda *a: routes.append(1) or real(*a))
    tok = Tokenizer.from_gguf_metadata(fields)
    assert routes == [1] and isinstance(tok.tokens, GGUFStringArray)
    ref = Tokenizer.from_gguf_metadata(md)  # from Python lists: the dict route
    specials = "<|im_start|>user\nHi<|im_end|>\n<|endoftext|>"
    merged = 0
    for text in TEXTS + [specials, MIXED + specials] + _random_texts(300, 11):
        ours = tok.encode(text)
        assert ours == llama.tokenize(text.encode("utf-8"), add_bos=False, special=True), text
        assert ours == ref.encode(text), text
        assert tok.decode(ours) == ref.decode(ours)
        merged += sum(i >= 256 for i in ours)
    assert merged > 150  # the merges are used, not just the byte tokens
    assert tok.special_ids == ref.special_ids and tok.eos_ids == ref.eos_ids


def test_many_merges_bad_merge_names_it(tmp_path, bundles):
    md = _merge_vocab(1500, seed=3)
    md["tokenizer.ggml.merges"][700] = "Ġnot inthevocab"
    p = _write(bundles["qwen2"].vocab, md, tmp_path / "bad.gguf")
    with pytest.raises(ClavisError, match=r"tokenizer\.ggml\.merges\[700\] = 'Ġnot inthevocab'"):
        Tokenizer.from_gguf_metadata(read_gguf(p).metadata)


def test_invalid_utf8_token_falls_back_to_decoding(tmp_path, bundles, monkeypatch):
    """A token that is not valid UTF-8 is decoded with U+FFFD (as the reader shows it) on both
    routes; the JSON route hands such a file to the decoding route."""
    md = _merge_vocab(1500, seed=4, extra=["QQé"])
    p = _write(bundles["qwen2"].vocab, md, tmp_path / "utf8.gguf")
    data = bytearray(p.read_bytes())
    at = data.index(b"QQ")
    data[at:at + 2] = b"\xff\xfe"
    p.write_bytes(bytes(data))
    fields = read_gguf(p).metadata
    routes = []
    real = tkmod._from_gguf_bytes
    monkeypatch.setattr(tkmod, "_from_gguf_bytes", lambda *a: routes.append(real(*a)) or routes[-1])
    tok = Tokenizer.from_gguf_metadata(fields)
    assert routes == [None]  # the JSON route declined
    assert tok.tokens[1500] == "\ufffd\ufffdé" and tok.token_to_id("\ufffd\ufffdé") == 1500
    shown = list(fields["tokenizer.ggml.tokens"])  # with the U+FFFD the reader decodes
    ref = Tokenizer.from_gguf_metadata(md | {"tokenizer.ggml.tokens": shown})
    for text in TEXTS:
        assert tok.encode(text) == ref.encode(text)
