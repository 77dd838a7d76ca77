"""Builds HF `tokenizers` JSON (tokenizer.json) for llama.cpp's two main vocabulary kinds.

- "spm": SentencePiece-style BPE over "▁"-escaped text with byte fallback, as GGUF
  `tokenizer.ggml.model = "llama"` (tokens + scores + token types). llama.cpp merges any adjacent
  pair whose concatenation is a vocabulary piece, highest score first; the equivalent HF BPE model
  lists every such split as a merge, ranked by the score of the merged piece.
- "bpe": byte-level BPE (GPT-2 style) as GGUF `tokenizer.ggml.model = "gpt2"` with explicit
  merges; the pre-tokenizer (`tokenizer.ggml.pre`) selects the regexes llama.cpp splits text with.
"""
from __future__ import annotations

import re
from array import array
from functools import lru_cache

from clavis import ClavisError
from clavis.kernels import _C

# GGUF token types (llama.cpp's llama_token_type)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

_CONTRACTIONS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)"
LLAMA3_RE = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (_CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")
GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

# tokenizer.ggml.pre -> (regexes applied one after another, ignore_merges), as llama.cpp does.
_PRE_GROUPS = [
    (("llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral"), [LLAMA3_RE], True),
    (("dbrx", "smaug-bpe"), [LLAMA3_RE], False),
    (("qwen2", "deepseek-r1-qwen", "megrez"), [QWEN2_RE], False),
    (("gpt-2", "phi-2", "roberta-bpe", "jina-es", "jina-de", "gigachat", "jina-v1-en",
      "jina-v2-es", "jina-v2-de", "jina-v2-code"), [GPT2_RE], False),
    (("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"),
     [r"\p{N}", GPT2_RE], False),
    (("default",), [r"[\p{P}\$\+<=>\^~\|]+", GPT2_RE, r"\p{N}+", r"[0-9][0-9][0-9]"], False),
]
PRE_TOKENIZERS = {name: (regexes, ignore) for names, regexes, ignore in _PRE_GROUPS
                  for name in names}


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def pre_tokenizer_for(pre: str) -> tuple[list[str], bool]:
    if pre not in PRE_TOKENIZERS:
        raise ClavisError(f"tokenizer.ggml.pre {pre!r} is not supported; supported: "
                          + ", ".join(sorted(PRE_TOKENIZERS)))
    return PRE_TOKENIZERS[pre]


def _indices(items: list, value) -> list[int]:
    """Where `value` occurs in `items` (list.index scans at C speed; few hits expected)."""
    out, i = [], -1
    try:
        while True:
            i = items.index(value, i + 1)
            out.append(i)
    except ValueError:
        return out


def _added_indices(types: list) -> list[int]:
    """Where types holds CONTROL, UNKNOWN or USER_DEFINED, in order."""
    try:
        packed = bytes(types)  # one C pass when every type is 0..255 (always, in practice)
    except (TypeError, ValueError):
        return sorted(_indices(types, CONTROL) + _indices(types, UNKNOWN)
                      + _indices(types, USER_DEFINED))
    return [m.start() for m in re.finditer(b"[%c%c%c]" % (UNKNOWN, CONTROL, USER_DEFINED), packed)]


def _added_tokens(tokens, types) -> list[dict]:
    out = []
    types = types if isinstance(types, list) else list(types)
    for i in _added_indices(types):
        out.append({"id": i, "content": tokens[i], "single_word": False, "lstrip": False,
                    "rstrip": False, "normalized": False, "special": types[i] != USER_DEFINED})
    return out


def _vocab(tokens) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)  # a duplicated piece keeps its first id
    return vocab


def _post_processor(tokens, bos_id, eos_id, add_bos, add_eos):
    if not ((add_bos and bos_id is not None) or (add_eos and eos_id is not None)):
        return None
    single, pair, specials = [], [], {}

    def special(i):
        specials[tokens[i]] = {"id": tokens[i], "ids": [i], "tokens": [tokens[i]]}
        return {"SpecialToken": {"id": tokens[i], "type_id": 0}}

    for seq, ids in ((single, "A"), (pair, "A"), (pair, "B")):
        if add_bos and bos_id is not None:
            seq.append(special(bos_id))
        seq.append({"Sequence": {"id": ids, "type_id": 0}})
        if add_eos and eos_id is not None:
            seq.append(special(eos_id))
    return {"type": "TemplateProcessing", "single": single, "pair": pair,
            "special_tokens": specials}


def spm_merges(tokens, scores, types, vocab: dict | None = None,
               raw=None) -> list[tuple[str, str]]:
    """Every split (left, right) of a normal piece into two vocabulary pieces, ranked as
    llama.cpp's SPM tokenizer applies them: higher score of the merged piece first (a NaN
    score last), then by the piece's id and the two halves' ids.
    raw: the GGUF strings' (buffer, offsets) that `tokens` (a list) decodes; with it the
    splits are found in C (TinyLlama's 32k pieces: ~9 ms against ~64 ms here)."""
    if raw is not None:
        eligible = bytes(t in (NORMAL, USER_DEFINED) for t in types)
        got = _C.text_spm_merges(raw[0], raw[1], tokens, array("d", scores), eligible)
        if got is not None:      # None: a string is not valid UTF-8 (decoding replaced bytes)
            return got
    vocab = _vocab(tokens) if vocab is None else vocab
    get, found = vocab.get, []
    for i, (piece, t) in enumerate(zip(tokens, types)):
        if t not in (NORMAL, USER_DEFINED) or len(piece) < 2 or vocab[piece] != i:
            continue
        s = scores[i]
        key = (s != s, 0.0 if s != s else -s, i)
        for k in range(1, len(piece)):
            li = get(piece[:k])
            if li is not None:
                ri = get(piece[k:])
                if ri is not None:
                    found.append((key, li, ri, piece[:k], piece[k:]))
    found.sort(key=lambda f: f[:3])  # by (NaN, -score, i), li, ri: no two entries agree on all
    return [(f[3], f[4]) for f in found]


def spm_json(tokens, scores, types, *, bos_id, eos_id, unk_id, add_bos, add_eos,
             add_space_prefix=True, raw=None) -> dict:
    """raw: the GGUF strings' (buffer, offsets) that `tokens` decodes (spm_merges)."""
    norms = [{"type": "Prepend", "prepend": "▁"}] if add_space_prefix else []
    norms.append({"type": "Replace", "pattern": {"String": " "}, "content": "▁"})
    decs = [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}]
    if add_space_prefix:
        decs.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    vocab = _vocab(tokens)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": _added_tokens(tokens, types),
        "normalizer": {"type": "Sequence", "normalizers": norms},
        "pre_tokenizer": None,
        "post_processor": _post_processor(tokens, bos_id, eos_id, add_bos, add_eos),
        "decoder": {"type": "Sequence", "decoders": decs},
        "model": {"type": "BPE", "dropout": None,
                  "unk_token": tokens[unk_id] if unk_id is not None else None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": spm_merges(tokens, scores, types, vocab, raw)},
    }


def parse_merges(merges, vocab, first: int = 0) -> list[list[str]]:
    """Each merge "left right" as [left, right]; `first` numbers the merges in the error."""
    out = []
    for n, m in enumerate(merges, first):
        parts = (m.split(" ") if isinstance(m, str)
                 else list(m) if isinstance(m, (list, tuple)) else [])
        if len(parts) != 2 or parts[0] not in vocab or parts[1] not in vocab:
            raise ClavisError(f"tokenizer.ggml.merges[{n}] = {m!r} is not two vocabulary tokens "
                              "separated by one space")
        out.append(parts)
    return out


def bpe_json(tokens, types, merges, *, pre, bos_id, eos_id, add_bos, add_eos,
             vocab: dict | None = None) -> dict:
    """With `vocab` given (piece -> first id), `merges` are already checked (left, right) pairs."""
    regexes, ignore_merges = pre_tokenizer_for(pre)
    if vocab is None:
        vocab = _vocab(tokens)
        merges = parse_merges(merges, vocab)
    pretoks = [{"type": "Split", "pattern": {"Regex": r}, "behavior": "Isolated", "invert": False}
               for r in regexes]
    pretoks.append({"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                    "use_regex": False})
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": _added_tokens(tokens, types),
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": pretoks},
        "post_processor": _post_processor(tokens, bos_id, eos_id, add_bos, add_eos),
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                  "vocab": vocab, "merges": merges},
    }
