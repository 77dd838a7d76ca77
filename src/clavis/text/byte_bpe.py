"""Byte-level BPE for GGUF `tokenizer.ggml.model = "gpt2"` vocabularies, without HF tokenizers.

The vocabulary and the merges live in C tables (csrc/text/bpe.c, ~5 MB for a 152k-token,
151k-merge vocabulary) built in one pass over the GGUF file's string arrays; no Python object
per token or merge. Encoding does what the HF tokenizer _hf_json.bpe_json describes does:

1. added tokens (control, user-defined, unknown) written in the text are matched first,
   leftmost-longest, and become their ids;
2. each span between them is split by the pre-tokenizer's regexes (_hf_json.PRE_TOKENIZERS),
   one after another, each piece split again with "Isolated" behaviour (matches and the text
   between them are pieces; empty pieces dropped), with the `regex` module;
3. each piece's UTF-8 bytes go through BPE in C (bpe.h): byte tokens, then merges lowest rank
   first (ignore_merges: a piece that is a token is that token).
"""
from __future__ import annotations

import re
import struct

from clavis import ClavisError
from clavis.kernels import _C
from clavis.text import _hf_json as hj

_K = "tokenizer.ggml."


def _compile_pre(regexes: list[str]) -> list:
    import regex    # imported on first encode: decoding ids alone never needs it (~2 MB RSS)
    pats = [regex.compile(r) for r in regexes]
    # pre_tokenize's findall shortcut returns whole matches only without capture groups
    assert all(p.groups == 0 for p in pats), "pre-tokenizer regexes must not capture"
    return pats


def _trie_re(words) -> str:
    """A regex matching any of `words`, longest first: the words' trie as nested groups, each
    node trying its children (which begin with different characters, so at most one can go on)
    before it may end (an empty last alternative). At a position that starts no word it fails
    after one character; where words share a prefix it still reads the text once."""
    root: dict = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch != ""]
        if "" in node:
            if not alts:
                return ""
            alts.append("")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(root)


def _isolated(pat, text: str, out: list) -> None:
    pos = 0
    for m in pat.finditer(text):
        a, b = m.span()
        if a > pos:
            out.append(text[pos:a])
        if b > a:
            out.append(text[a:b])
        pos = b
    if pos < len(text):
        out.append(text[pos:])


def pre_tokenize(pats: list, text: str, out: list) -> None:
    """Append the pieces of `text` (no empty ones) to `out`."""
    if len(pats) == 1:
        words = pats[0].findall(text)
        if sum(map(len, words)) == len(text):  # the matches cover the text: no gaps
            out.extend(words)
        else:
            _isolated(pats[0], text, out)
        return
    pieces = [text]
    for pat in pats:
        split: list[str] = []
        for p in pieces:
            _isolated(pat, p, split)
        pieces = split
    out.extend(pieces)


def gguf_layout(strings) -> tuple[bytes, memoryview]:
    """Strings as a GGUF string array: (buffer, int64 offsets) as gguf_string_offsets gives."""
    raw = [s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s) for s in strings]
    buf = b"".join(struct.pack("<Q", len(r)) + r for r in raw)
    offsets, bad = _C.gguf_string_offsets(buf, 0, len(raw))
    assert bad is None
    return buf, memoryview(offsets).cast("q")


class ByteBPE:
    """The encoder/decoder the Tokenizer uses for a byte-level BPE GGUF vocabulary.

    added: [(id, content, special)] in id order; pre: the tokenizer.ggml.pre name."""

    def __init__(self, handle, added, *, pre: str, bos_id=None, eos_id=None, add_bos=False,
                 add_eos=False):
        self._c = handle
        self._regexes, _ = hj.pre_tokenizer_for(pre)
        self._pats = None      # compiled on first encode
        self._added: dict[str, int] = {}
        for i, content, _special in added:
            if content:
                self._added.setdefault(content, i)
        self.added = {i: (content, special) for i, content, special in added}
        self._firsts = frozenset(content[0] for content in self._added)
        self._added_re = None       # compiled when a text first holds one's first character
        self._prefix = [bos_id] if add_bos and bos_id is not None else []
        self._suffix = [eos_id] if add_eos and eos_id is not None else []

    @classmethod
    def build(cls, tokens_raw, merges_raw, added, *, check_utf8: bool, pre: str, **kw):
        """tokens_raw / merges_raw: (buffer, offsets) of the two GGUF string arrays. None when
        check_utf8 and a string is not valid UTF-8 (the caller then decodes them)."""
        _, ignore = hj.pre_tokenizer_for(pre)
        got = _C.bpe_new(*tokens_raw, *merges_raw, ignore, check_utf8)
        if isinstance(got, tuple):
            status, index = got
            if status in ("token_utf8", "merge_utf8"):
                return None
            if status == "too_big":
                raise ClavisError(f"GGUF metadata {_K}tokens/{_K}merges: too many strings")
            return status, index
        return cls(got, added, pre=pre, **kw)

    @property
    def nbytes(self) -> int:
        return _C.bpe_nbytes(self._c)

    def encode(self, text: str, add_special: bool = True) -> list[int]:
        items = list(self._prefix) if add_special else []
        pos = 0
        for a, b, i in self._find_added(text):
            if a > pos:
                pre_tokenize(self._pre(), text[pos:a], items)
            items.append(i)
            pos = b
        if pos < len(text):
            pre_tokenize(self._pre(), text[pos:], items)
        if add_special:
            items.extend(self._suffix)
        try:
            return _C.bpe_encode(self._c, items)
        except UnicodeEncodeError as e:  # HF tokenizers refuses such text with a TypeError too
            raise TypeError(f"text is not valid Unicode: {e.reason} "
                            f"({e.object[e.start:e.end]!r} at {e.start} of a piece)") from None

    def _pre(self) -> list:
        if self._pats is None:
            self._pats = _compile_pre(self._regexes)
        return self._pats

    def _find_added(self, text: str) -> list[tuple[int, int, int]]:
        """The added tokens in text, leftmost-longest (as HF's Aho-Corasick matcher): (start,
        end, id), in order, not overlapping. One regex scan over a trie of the tokens (_trie_re),
        so a text full of '<' costs one pass, not one per special token (1 MB of '<' with Llama
        3's 256 specials took 1.1 s with a str.find per token)."""
        if not any(c in text for c in self._firsts):
            return []
        if self._added_re is None:
            self._added_re = re.compile(_trie_re(self._added))
        added = self._added
        return [(m.start(), m.end(), added[m.group()]) for m in self._added_re.finditer(text)]

    def decode(self, ids, skip_special: bool = False) -> str:
        if skip_special:
            added = self.added
            ids = [i for i in ids if i not in added or not added[i][1]]
        return _C.bpe_decode(self._c, ids).decode("utf-8", "replace")

    def token_to_id(self, text: str) -> int | None:
        i = self._added.get(text)
        if i is not None:
            return i
        try:
            return _C.bpe_token_id(self._c, text)
        except UnicodeEncodeError:
            return None
