"""The C helpers behind the GGUF tokenizer build (csrc/python/py_text.c) against Python's own
json and UTF-8 codec: the tokenizer.json text they write parses (json.loads) to the vocabulary
and merges the Python code builds; what is not valid UTF-8 is left to the decoding route."""
from __future__ import annotations

import json
import random
import struct

import numpy as np
import pytest

from clavis import ClavisError
from clavis.kernels import _C
from clavis.text import _hf_json as hj

TOKENS = ["a", "b", "ab", "\"", "\\", "a\"b\\c", "\n", "\t\r\x00\x1f\x7f", "é", "ab", "你好",
          "🦙", "Ġthe", "a b", "", "\u2028", "b"]


def _array(strs) -> tuple[bytes, np.ndarray]:
    raw = [s if isinstance(s, bytes) else s.encode() for s in strs]
    buf = b"".join(struct.pack("<Q", len(r)) + r for r in raw)
    off, bad = _C.gguf_string_offsets(buf, 0, len(raw))
    assert bad is None
    return buf, np.frombuffer(off, np.int64)


def _bpe_json(tokens, merges):
    """Tokens and merges laid out in one buffer, as in a GGUF file."""
    tbuf, toff = _array(tokens)
    mbuf, moff = _array(merges)
    buf = tbuf + mbuf
    return _C.text_bpe_json(buf, toff, moff + len(tbuf), b'{"vocab": ', b', "merges": ', b"}")


def test_json_text_equals_python_json():
    merges = ["a b", "\" \\", "é 你好", "Ġthe 🦙", "ab b"]
    text = _bpe_json(TOKENS, merges)
    got = json.loads(text)
    assert got == {"vocab": hj._vocab(TOKENS), "merges": merges}
    assert got["vocab"]["ab"] == 2 and got["vocab"]["b"] == 1  # repeated pieces: first id


def test_random_vocabularies_round_trip():
    rng = random.Random(9)
    alphabet = ["a", "b", "\"", "\\", "\x01", "é", "ß", "你", "🦙", "Ġ", "\u0300", "{", "}",
                ":"]
    for _ in range(50):
        tokens = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                  for _ in range(rng.randint(1, 60))]
        good = [t for t in tokens if " " not in t]
        merges = [f"{rng.choice(good)} {rng.choice(good)}" for _ in range(rng.randint(0, 20))]
        assert json.loads(_bpe_json(tokens, merges)) == \
            {"vocab": hj._vocab(tokens), "merges": merges}


@pytest.mark.parametrize("bad", ["a", "a  b", "a b c", "zz b", "a zz", " q", "ab"])
def test_bad_merge_gives_its_index(bad):
    with pytest.raises(ClavisError, match=r"merges\[0\]"):  # the Python check agrees
        hj.parse_merges([bad], hj._vocab(TOKENS))
    assert _bpe_json(TOKENS, [bad]) == 0
    assert _bpe_json(TOKENS, ["a b", " a", "a ", bad]) == 3  # "" is a token: those are fine


@pytest.mark.parametrize("raw", [b"\xff", b"a\xc3", b"\xc0\x80", b"\xed\xa0\x80",
                                 b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80abc"])
def test_not_utf8_is_left_to_the_decoding_route(raw):
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert _bpe_json(TOKENS + [raw], ["a b"]) is None
    assert _bpe_json(TOKENS, [b"a " + raw]) is None
    buf, off = _array(["x", raw])  # the decoding route: Python's "replace" rules
    assert _C.text_vocab(buf, off) == {"x": 0, raw.decode("utf-8", "replace"): 1}
    assert _C.gguf_strings(buf, off) == ["x", raw.decode("utf-8", "replace")]


def test_string_offsets_refuse_garbage_without_crashing():
    rng = np.random.default_rng(4)
    for _ in range(300):
        data = rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        count = int(rng.integers(0, len(data) // 8 + 1))
        off, bad = _C.gguf_string_offsets(data, 0, count)
        if bad is None:  # then every string lies inside the buffer
            o = np.frombuffer(off, np.int64)
            assert o[-1] <= len(data) and np.all(np.diff(o) >= 8)
        else:
            i, at, need, is_len = bad
            assert 0 <= i < count and (at + need > len(data))
    with pytest.raises(ValueError):
        _C.gguf_string_offsets(b"\x00" * 16, 0, 3)  # more elements than 8-byte lengths fit
    with pytest.raises(ValueError):
        _C.text_vocab(b"\x00" * 16, np.array([0, 99], np.int64))  # offsets past the buffer
