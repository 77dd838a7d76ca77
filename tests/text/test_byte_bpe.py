"""Our byte-level BPE (csrc/text/bpe.c + clavis.text.byte_bpe) against the HF tokenizers route
(Tokenizer._hf: the HF tokenizer built from the same GGUF metadata, as clavis did before) and
against llama.cpp, on vocabularies whose merges really apply: a random 'training' over real
text for every pre-tokenizer group, and the full-size synthetic Qwen2 / Llama 3 vocabularies."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from text_helpers import MIXED, POOL, ROOT, TEXTS, llama_cpp, write_vocab_gguf

from clavis import ClavisError
from clavis.formats.gguf import read_gguf
from clavis.text import _hf_json as hj
from clavis.text.byte_bpe import ByteBPE, _compile_pre, pre_tokenize
from clavis.text.tokenizer import Tokenizer

PRES = ["llama-bpe", "qwen2", "gpt-2", "starcoder", "default", "dbrx"]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>",
            "<|start_header_id|>", "<|end_header_id|>", "<|im_start|>x"]
USER_DEFINED = ["<tool_call>", "</tool_call>"]


def _corpus() -> list[str]:
    """Real text: the chat exports under ../shared/data, this project's docs and examples, and
    some of its code."""
    out = []
    data = ROOT.parent / "shared" / "data"
    paths = sorted(p for p in (data / "chats").rglob("*") if p.suffix in (".txt", ".json"))
    paths += [data / "README.md", ROOT / "README.md", ROOT / "docs" / "CONTRACTS.md"]
    paths += sorted((ROOT / "examples").rglob("*.txt"))
    paths += [ROOT / "src" / "clavis" / "text" / "tokenizer.py"]
    for p in paths:
        if p.is_file():
            out.append(p.read_text("utf-8", errors="replace"))
    return out


CORPUS = _corpus()

EDGE = [
    "1234567890" * 5, "3.14159265358979 1,000,000 2 000 000 0x1F 1e-5", "٣٤٥ ½ ² Ⅻ ௧௨ 12٣",
    " " * 100, "\n" * 70, "x" + " " * 67 + "y", "\t \n \r\n  \n\n   x  \n ",
    " \u00a0 \u3000\u2028\u2029\x85\x1c\x1d\x1e\x1f\x0b\x0c end \u00a0",
    "a" * 200, "中文没有空格也能分词" * 8, "🦙" * 30, "👩🏽‍💻👨‍👩‍👧‍👦🇫🇷🇯🇵❤️‍🔥",
    "'s 'S 'ſ 'LL 'Ve 'RE 'm 'D it's THEY'RE we'd've",
    "ǅungla ǈ İstanbul ß ẞ ﬁ ﬀ", "e\u0301\u0302 a\u0308 \u0300start", "\u200b\u200c\u200d\ufeffzw",
    "<|im_start|><|im_start|>x<|im_end|>", "<|im_start", "<|eot_id|>text<|eot_id|>",
    " <|im_end|> \n<|endoftext|>\n\n", "<tool_call>{\"a\": 1}</tool_call>", "<|im_start|>xy",
    "x" + "!" * 80 + "?", "--->>> === ...", "path/to/file.py:12:3", "https://example.com/a?b=c&d=e#f",
    "مرحبا بالعالم 123", "שלום עולם", "नमस्ते दुनिया", "สวัสดีครับทุกคน", "カタカナとひらがなと漢字",
    "안녕하세요 세계", "Ελληνικά κείμενα", "ქართული", "Հայերեն", "\x00\x01\x7f\x08 ctl",
    "$$$ ^^^ ~~~ ||| <<< >>> +++", "a\r\nb\rc\n\rd", "  \n  \n", "\n \n", " \t", "\t\t\tx",
]

# assigned code points of many blocks (unassigned ones may differ between Unicode versions)
_RANGES = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
           (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE5B), (0x2000, 0x206F), (0x2190, 0x21FF),
           (0x3040, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0x1F300, 0x1F64F)]


def _random_texts(n, seed):
    rng = random.Random(seed)
    out = []
    for k in range(n):
        if k % 2:
            out.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 40))))
        else:
            out.append("".join(chr(rng.randint(*rng.choice(_RANGES)))
                               for _ in range(rng.randint(1, 30))))
    return out


ALL_TEXTS = TEXTS + EDGE + CORPUS + [MIXED * 3, " ".join(CORPUS)] + _random_texts(300, 3)


def _trained_vocab(pre: str, n_tokens=6000, seed=0) -> dict:
    """gpt2 GGUF metadata whose tokens past the 256 bytes come from merging adjacent pieces of
    the corpus's pre-tokens (a random 'training'), some whole words without a merge (what
    ignore_merges finds), special and user-defined tokens."""
    rng = random.Random(seed)
    b2u = hj.bytes_to_unicode()
    words: list[str] = []
    pats = _compile_pre(hj.pre_tokenizer_for(pre)[0])
    for text in CORPUS + TEXTS + EDGE[:30]:
        pre_tokenize(pats, text, words)
    pieces = ["".join(b2u[b] for b in w.encode("utf-8")) for w in words]
    tokens = list(b2u.values())
    seen, merges = set(tokens), []
    segs = [list(p) for p in pieces if len(p) > 1]
    for _ in range(60 * n_tokens):
        if len(tokens) >= n_tokens or not segs:
            break
        k = rng.randrange(len(segs))
        s = segs[k]
        i = rng.randrange(len(s) - 1)
        a, b = s[i], s[i + 1]
        s[i:i + 2] = [a + b]
        if len(s) < 2:
            segs[k] = segs[-1]
            segs.pop()
        if a + b not in seen:
            seen.add(a + b)
            tokens.append(a + b)
            merges.append(f"{a} {b}")
    whole = [p for p in dict.fromkeys(pieces) if p not in seen][:200]  # no merge makes them
    tokens += whole
    types = [hj.NORMAL] * len(tokens) + [hj.CONTROL] * len(SPECIALS) + \
        [hj.USER_DEFINED] * len(USER_DEFINED)
    tokens += SPECIALS + USER_DEFINED
    k = "tokenizer.ggml."
    return {k + "model": "gpt2", k + "pre": pre, k + "tokens": tokens, k + "token_type": types,
            k + "merges": merges, k + "bos_token_id": tokens.index("<|begin_of_text|>"),
            k + "eos_token_id": tokens.index("<|endoftext|>"),
            k + "add_bos_token": pre == "llama-bpe"}


class _V:
    def __init__(self, md):
        self.gguf_metadata = md

    def add_to_gguf(self, writer):
        from clavis.text.synthetic import SyntheticVocab
        SyntheticVocab.add_to_gguf(self, writer)


_TRAINED: dict[str, tuple] = {}


@pytest.fixture(scope="module", params=PRES)
def trained(request, tmp_path_factory):
    pre = request.param
    if pre not in _TRAINED:
        md = _trained_vocab(pre)
        path = write_vocab_gguf(_V(md), tmp_path_factory.mktemp(pre) / "v.gguf",
                                "qwen2" if pre == "qwen2" else "llama")
        tok = Tokenizer.from_gguf_metadata(read_gguf(path).metadata)
        _TRAINED[pre] = (md, path, tok)
    yield _TRAINED[pre]


@pytest.fixture(scope="module", autouse=True)
def _close():
    yield
    _TRAINED.clear()


def _check_against_hf(tok, texts):
    hf = tok._hf
    for text in texts:
        for special in (True, False):
            assert tok.encode(text, special) == hf.encode(text, add_special_tokens=special).ids, \
                (special, text[:200])


def test_trained_vocab_uses_our_encoder_and_its_merges(trained):
    md, _, tok = trained
    assert isinstance(tok._engine, ByteBPE)
    assert len(md["tokenizer.ggml.merges"]) > 4000
    ids = tok.encode(" ".join(CORPUS), add_special=False)
    assert sum(i >= 256 for i in ids) > len(ids) * 0.4  # the merges apply


def test_trained_vocab_matches_hf(trained):
    _check_against_hf(trained[2], ALL_TEXTS)


def test_trained_vocab_matches_llama_cpp(trained):
    md, path, tok = trained
    llama = llama_cpp().Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        for text in ALL_TEXTS:
            if any(u in text for u in USER_DEFINED + ["<|im_start|>x"]):
                continue  # overlapping specials / user-defined: llama.cpp matches differently
            for special in (True, False):
                want = llama.tokenize(text.encode("utf-8"), add_bos=special, special=True)
                assert tok.encode(text, special) == want, (special, text[:200])
    finally:
        llama.close()


def test_trained_vocab_decodes_as_hf(trained):
    tok = trained[2]
    hf, rng = tok._hf, random.Random(9)
    for _ in range(300):
        ids = [rng.randrange(tok.vocab_size) for _ in range(rng.randint(0, 12))]
        ids += rng.sample(sorted(tok.special_ids), 2)
        rng.shuffle(ids)
        for skip in (False, True):
            assert tok.decode(ids, skip) == hf.decode(ids, skip_special_tokens=skip), ids
    for text in EDGE:
        ids = tok.encode(text)
        assert tok.decode(ids, skip_special=True) == hf.decode(ids, skip_special_tokens=True)


@pytest.mark.parametrize("name", ["qwen2", "llama3"])
def test_full_size_vocabularies_match_hf(bundles, name):
    tok = Tokenizer.from_gguf_metadata(read_gguf(bundles[name].gguf_path).metadata)
    assert isinstance(tok._engine, ByteBPE)
    assert tok._engine.nbytes < 8 << 20  # the C tables of a 152k-token vocabulary
    _check_against_hf(tok, ALL_TEXTS)
    for i in random.Random(2).sample(range(tok.vocab_size), 300):
        assert tok.token_to_id(tok.tokens[i]) == tok._hf.token_to_id(tok.tokens[i]) == i


def test_lone_surrogates_are_refused_as_before(bundles):
    tok = Tokenizer.from_gguf_metadata(bundles["qwen2"].vocab.gguf_metadata)
    for text in ["\ud800", "a\udcffb", b"\xff".decode("utf-8", "surrogateescape")]:
        with pytest.raises(TypeError):
            tok._hf.encode(text)
        with pytest.raises(TypeError, match="not valid Unicode"):
            tok.encode(text)
    assert tok.token_to_id("\ud800") is None


def test_long_words_take_the_heap_path_and_match(bundles):
    """Pre-tokens past 64 bytes use the heap (with malloc'd symbols) instead of stack arrays."""
    tok = _TRAINED.get("qwen2", (None, None, None))[2] or \
        Tokenizer.from_gguf_metadata(_trained_vocab("qwen2"))
    rng = random.Random(4)
    words = [w for w in " ".join(CORPUS).split() if w.isalpha()]
    texts = ["".join(rng.choice(words) for _ in range(rng.randint(5, 60))) for _ in range(100)]
    _check_against_hf(tok, texts)


# ---- bad input -------------------------------------------------------------------------------
def _md(**changes):
    md = _trained_vocab("qwen2", 1200, seed=5)
    md.update({"tokenizer.ggml." + k: v for k, v in changes.items()})
    return md


def _merges_with(index_to_text: dict):
    merges = list(_trained_vocab("qwen2", 1200, seed=5)["tokenizer.ggml.merges"])
    merges += [merges[0]] * 9000  # past the first chunks the C parse splits the merges into
    for i, m in index_to_text.items():
        merges[i] = m
    return merges


@pytest.mark.parametrize("bad, index, message", [
    ({5: "ĠnotÅ atoken"}, 5, "is not two vocabulary tokens"),
    ({9100: "a b c", 5000: "Ġt"}, 5000, "is not two vocabulary tokens"),
    ({7000: "Ā ā"}, 7000, "the two tokens joined are not a vocabulary token"),
    ({0: ""}, 0, "is not two vocabulary tokens"),
])
def test_bad_merges_name_the_first(tmp_path, bad, index, message):
    md = _md(merges=_merges_with(bad))
    path = write_vocab_gguf(_V(md), tmp_path / "bad.gguf", "qwen2")
    sep = ":" if "joined" in message else ""
    want = rf"tokenizer\.ggml\.merges\[{index}\] = {bad[index]!r}{sep} {message}"
    for fields in (md, read_gguf(path).metadata):
        with pytest.raises(ClavisError, match=want):
            Tokenizer.from_gguf_metadata(fields)


def test_merge_entries_that_are_not_strings(tmp_path):
    merges = list(_md()["tokenizer.ggml.merges"])
    ok = Tokenizer.from_gguf_metadata(_md(merges=[tuple(m.split(" ")) for m in merges]))
    assert ok.encode(MIXED) == Tokenizer.from_gguf_metadata(_md()).encode(MIXED)
    with pytest.raises(ClavisError, match=r"tokenizer\.ggml\.merges\[3\] = 7"):
        Tokenizer.from_gguf_metadata(_md(merges=merges[:3] + [7] + merges[3:]))


def test_no_merges_and_repeated_tokens_match_hf():
    md = _md(merges=[])
    tok = Tokenizer.from_gguf_metadata(md)
    _check_against_hf(tok, TEXTS + EDGE)
    assert all(i < 256 or i in tok.special_ids for i in tok.encode(MIXED))
    md = _md()
    tokens = md["tokenizer.ggml.tokens"]
    tail = len(SPECIALS) + len(USER_DEFINED)  # whole words before them become repeated pieces
    md["tokenizer.ggml.tokens"] = tokens[:-tail - 10] + tokens[300:310] + tokens[-tail:]
    tok = Tokenizer.from_gguf_metadata(md)
    _check_against_hf(tok, TEXTS + EDGE + CORPUS)
    assert tok.token_to_id(tokens[300]) == 300


def test_tables_are_freed(bundles):
    """Building and dropping the tokenizer many times does not grow the resident set."""
    def rss():
        return int(next(x for x in Path("/proc/self/status").read_text().splitlines()
                        if x.startswith("VmRSS")).split()[1]) * 1024
    md = read_gguf(bundles["qwen2"].gguf_path).metadata
    Tokenizer.from_gguf_metadata(md)
    before = rss()
    for _ in range(15):
        Tokenizer.from_gguf_metadata(md)
    assert rss() - before < 12 << 20  # one set of tables is ~4 MB; 15 leaked would be 60 MB


@pytest.mark.parametrize("pre", ["llama-bpe", "qwen2"])
def test_shuffled_merge_ranks_match_hf_and_llama_cpp(tmp_path, pre):
    """Ranks in any order (a merge may rank before the merges that make its halves): the
    lowest-rank-first, leftmost-first loop still gives HF's and llama.cpp's ids."""
    md = _trained_vocab(pre, 3000, seed=11)
    random.Random(12).shuffle(md["tokenizer.ggml.merges"])
    path = write_vocab_gguf(_V(md), tmp_path / "v.gguf", "qwen2" if pre == "qwen2" else "llama")
    tok = Tokenizer.from_gguf_metadata(read_gguf(path).metadata)
    texts = TEXTS + EDGE + CORPUS + _random_texts(100, 13)
    _check_against_hf(tok, texts)
    llama = llama_cpp().Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        for text in texts:
            if not any(u in text for u in USER_DEFINED + ["<|im_start|>x"]):
                assert tok.encode(text) == llama.tokenize(text.encode(), add_bos=True, special=True)
    finally:
        llama.close()


def test_bpe_new_refuses_offsets_that_overflow():
    """The binding's bounds check cannot overflow (an offset near INT64_MAX used to pass it)."""
    import numpy as np
    from clavis.kernels import _C
    buf = np.zeros(16, np.uint8)
    for off in ([2**63 - 4, 10], [0, 2**63 - 1], [-1, 8], [0, 7], [0, 17]):
        with pytest.raises(ValueError, match="offsets"):
            _C.bpe_new(buf, np.array(off, np.int64), buf, np.array([0], np.int64), False, True)


def test_added_token_trie_is_leftmost_longest():
    """_trie_re (the one-pass scan for added tokens) against a brute-force leftmost-longest
    matcher, on random texts over a small alphabet with tokens that are prefixes of others."""
    import re

    from clavis.text.byte_bpe import _trie_re
    words = ["<", "<|", "<|a|>", "<|a|>b", "<|ab|>", "ab", "b|", "|>", "a"]
    pat = re.compile(_trie_re(words))

    def brute(text):
        out, p = [], 0
        while p < len(text):
            best = max((w for w in words if text.startswith(w, p)), key=len, default=None)
            if best is None:
                p += 1
            else:
                out.append((p, p + len(best)))
                p += len(best)
        return out

    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(rng.choice("<|ab>x") for _ in range(rng.randint(0, 30)))
        assert [m.span() for m in pat.finditer(text)] == brute(text), text
