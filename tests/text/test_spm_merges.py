"""The SentencePiece merge list (every split of a piece into two pieces, ranked by score) found
in C from the GGUF strings against the Python reference in _hf_json, on vocabularies made to
hit the edge cases: repeated pieces, ties, NaN and -0.0 scores, multi-byte characters, piece
types that are not merged, and strings that are not valid UTF-8 (the C route then declines)."""
from __future__ import annotations

import random
import struct
from array import array

import pytest

from clavis.kernels import _C
from clavis.text import _hf_json as hj


def gguf_strings(raw: list[bytes]):
    """(buffer, offsets) in the GGUF layout: each string an 8-byte length then its bytes."""
    buf, off = bytearray(), array("q")
    for s in raw:
        off.append(len(buf))
        buf += struct.pack("<Q", len(s)) + s
    off.append(len(buf))
    return bytes(buf), off


def both(raw: list[bytes], scores, types):
    tokens = [s.decode("utf-8", "replace") for s in raw]
    ref = hj.spm_merges(tokens, scores, types)
    fast = hj.spm_merges(tokens, scores, types, raw=gguf_strings(raw))
    return ref, fast


def test_edge_cases_match_the_python_reference():
    N, C, B, U = hj.NORMAL, hj.CONTROL, hj.BYTE, hj.USER_DEFINED
    pieces = [("<s>", C, 0.0), ("<0x41>", B, 0.0), ("a", N, -1.0), ("b", N, -1.0),
              ("ab", N, -2.0), ("ab", N, 5.0),            # repeated: the second never merges
              ("abab", N, -2.0), ("aba", N, float("nan")), ("ba", N, -0.0), ("bab", N, 0.0),
              ("▁", N, -3.0), ("▁a", N, -2.0), ("▁ab", U, -2.0), ("é", N, -1.0), ("éa", N, -1.5),
              ("日", N, -1.0), ("本", N, -1.0), ("日本", N, float("nan")), ("😀", N, -1.0),
              ("😀😀", N, -9.0), ("<s>a", C, 1.0), ("bb", 5, 3.0)]
    raw = [p.encode() for p, _, _ in pieces]
    ref, fast = both(raw, [s for _, _, s in pieces], [t for _, t, _ in pieces])
    assert fast == ref
    # the order itself: score first (-0.0 ties 0.0: "ba" before "bab" by id), the repeated
    # "ab" (5.0) not at all, then by the piece's id and the halves' ids; NaN scores last;
    # CONTROL "<s>a" and UNUSED "bb" never
    assert ref == [("b", "a"), ("b", "ab"), ("ba", "b"), ("é", "a"), ("a", "b"), ("a", "bab"),
                   ("ab", "ab"), ("aba", "b"), ("▁", "a"), ("▁", "ab"), ("▁a", "b"), ("😀", "😀"),
                   ("a", "ba"), ("ab", "a"), ("日", "本")]


def test_random_vocabularies_match_the_python_reference():
    rng = random.Random(7)
    alphabet = ["a", "b", "c", "▁", "é", "ж", "日", "😀"]
    for trial in range(20):
        seen, raw = set(), []
        while len(raw) < 600:
            p = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
            if p not in seen or rng.random() < 0.02:      # a few repeats
                seen.add(p)
                raw.append(p.encode())
        scores = [float(rng.choice([-1, -2, -3, float("nan")]) if rng.random() < 0.3
                        else rng.uniform(-10, 0)) for _ in raw]
        types = [rng.choice([hj.NORMAL] * 6 + [hj.USER_DEFINED, hj.CONTROL, hj.BYTE]) for _ in raw]
        ref, fast = both(raw, scores, types)
        assert fast == ref, trial
        assert len(ref) > 100


def test_invalid_utf8_declines_and_falls_back():
    raw = [b"a", b"b", b"ab", b"a\xff", b"\xffb"]
    scores, types = [0.0, 0.0, -1.0, -2.0, -3.0], [hj.NORMAL] * 5
    buf, off = gguf_strings(raw)
    tokens = [s.decode("utf-8", "replace") for s in raw]
    assert _C.text_spm_merges(buf, off, tokens, array("d", scores), bytes([1] * 5)) is None
    ref, fast = both(raw, scores, types)
    assert fast == ref == [("a", "b")]


def test_bad_arguments_are_errors_not_crashes():
    buf, off = gguf_strings([b"a", b"b"])
    with pytest.raises(ValueError, match="one entry per string"):
        _C.text_spm_merges(buf, off, ["a"], array("d", [0.0, 0.0]), b"\x01\x01")
    with pytest.raises(TypeError):
        _C.text_spm_merges(buf, off, ["a", "b"], array("f", [0.0, 0.0]), b"\x01\x01")
