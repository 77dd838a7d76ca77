"""Tokenizers for Llama-family models, from GGUF metadata or a Hugging Face folder.

Byte-level BPE GGUF vocabularies (tokenizer.ggml.model = "gpt2": Llama 3, Qwen2) use our own
encoder (byte_bpe.py, tables in C: a few MB instead of the ~35 MB of an HF tokenizer object).
SentencePiece-style GGUF vocabularies and Hugging Face folders use HF `tokenizers` (Rust); from
GGUF, the vocabulary is turned into an HF tokenizer that splits text exactly as llama.cpp does
(see _hf_json.py). Both give llama.cpp's ids. Special tokens written in the text
(<|im_start|>, <|eot_id|>, ...) are always parsed as special tokens.

    tok = Tokenizer.from_gguf_metadata(fields)      # fields: GGUF key -> plain python value
    ids = tok.encode("Hello")                        # [bos, ...] when the model adds a BOS
    tok.decode(ids, skip_special=True)
    dec = tok.stream_decoder(); dec.feed(id) -> str  # never splits a UTF-8 character
"""
from __future__ import annotations

import codecs
import functools
import json
import numbers
from collections.abc import Sequence
from pathlib import Path

from typing import TYPE_CHECKING

from clavis import ClavisError
from clavis.kernels import _C
from clavis.text import _hf_json as hj
from clavis.text.byte_bpe import ByteBPE, gguf_layout

if TYPE_CHECKING:
    from tokenizers import Tokenizer as _HFTokenizer


def _tokenizers():
    """HF `tokenizers`, imported on first use (SentencePiece vocabularies, HF folders, the test
    reference): a byte-level BPE model never needs it, and importing it maps ~4 MB (peak RSS)."""
    import tokenizers
    return tokenizers

# Texts llama.cpp treats as end-of-generation tokens (besides tokenizer.ggml.eos_token_id).
EOG_TEXTS = frozenset({
    "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
    "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    "<｜end▁of▁sentence｜>",
})
_K = "tokenizer.ggml."


def _get(fields, key, kind, default=None, required=False):
    if key not in fields or fields[key] is None:
        if required:
            raise ClavisError(f"GGUF metadata has no {key!r} (needed by the tokenizer)")
        return default
    value = fields[key]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy arrays and scalars
    ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "bool": lambda v: isinstance(v, (bool, int)),
          "str": lambda v: isinstance(v, str),
          "list": lambda v: isinstance(v, Sequence) and not isinstance(v, (str, bytes))}[kind]
    if not ok(value):
        raise ClavisError(f"GGUF metadata {key!r} should be {kind}, got {type(value).__name__}")
    return bool(value) if kind == "bool" else value


def _token_id(fields, key, n_vocab):
    tid = _get(fields, key, "int")
    if tid is None:
        return None
    if tid < 0 or tid >= n_vocab:
        if tid in (-1, 0xFFFFFFFF):  # "no such token" markers some converters write
            return None
        raise ClavisError(f"GGUF metadata {key!r} = {tid} is outside the vocabulary (0..{n_vocab - 1})")
    return tid


class _HFEngine:
    """An HF tokenizer behind the interface ByteBPE has (encode, decode, token_to_id, added)."""

    def __init__(self, hf: _HFTokenizer):
        self.hf = hf
        self.added = {i: (t.content, t.special) for i, t in hf.get_added_tokens_decoder().items()}

    def encode(self, text: str, add_special: bool = True) -> list[int]:
        return self.hf.encode(text, add_special_tokens=add_special).ids

    def decode(self, ids, skip_special: bool = False) -> str:
        return self.hf.decode(ids, skip_special_tokens=skip_special)

    def token_to_id(self, text: str) -> int | None:
        return self.hf.token_to_id(text)


class Tokenizer:
    """Text <-> token ids. Build it with from_gguf_metadata() or from_hf_dir()."""

    def __init__(self, engine, tokens: list[str], kind: str, *, bos_id=None,
                 eos_id=None, extra_eos=(), unk_id=None, pad_id=None, add_space_prefix=False,
                 chat_template=None, hf_factory=None):
        """engine: an HF tokenizer or a ByteBPE; hf_factory: makes the equivalent HF tokenizer
        when something asks for `_hf` (tests compare the two)."""
        if not isinstance(engine, ByteBPE) and isinstance(engine, _tokenizers().Tokenizer):
            engine = _HFEngine(engine)
        self._engine = engine
        self._hf_factory = hf_factory
        self.tokens = tokens  # a list, or the GGUF file's lazy string array (decoded on demand)
        self.kind = kind  # "spm" or "bpe"
        self.bos_id, self.eos_id, self.unk_id, self.pad_id = bos_id, eos_id, unk_id, pad_id
        self.add_space_prefix = add_space_prefix
        self.chat_template = chat_template
        added = engine.added
        self._added_ids = frozenset(added)
        self.special_ids = frozenset(i for i, (_, special) in added.items() if special)
        eos = {i for i in (eos_id, *extra_eos) if i is not None}
        eos |= {i for i in added if added[i][0] in EOG_TEXTS}
        self.eos_ids = frozenset(eos)
        self.add_bos = bos_id is not None and bos_id in engine.encode("", True)
        self._bytes: dict[int, bytes] = {}

    @property
    def _hf(self) -> _HFTokenizer:
        """The HF tokenizer (for a ByteBPE vocabulary: built now from the same metadata)."""
        if isinstance(self._engine, _HFEngine):
            return self._engine.hf
        if self._hf_factory is None:
            raise ClavisError("this tokenizer has no HF tokenizers equivalent")
        hf = self._hf_factory()
        self._hf_factory = lambda: hf  # built once
        return hf

    # ---- construction ------------------------------------------------------------------------
    @classmethod
    def from_gguf_metadata(cls, fields: dict) -> "Tokenizer":
        model = _get(fields, _K + "model", "str", required=True)
        tokens = _get(fields, _K + "tokens", "list", required=True)
        if not hasattr(tokens, "raw"):  # a plain list (the GGUF reader's arrays are all str)
            tokens = list(tokens)
            if not all(isinstance(t, str) for t in tokens):
                tokens = []
        n = len(tokens)
        if n == 0:
            raise ClavisError(f"GGUF metadata {_K}tokens must be a non-empty list of strings")
        types = list(_get(fields, _K + "token_type", "list", default=[hj.NORMAL] * n))
        if len(types) != n:
            raise ClavisError(f"GGUF metadata {_K}token_type has {len(types)} entries, "
                              f"{_K}tokens has {n}")
        ids = {k: _token_id(fields, _K + k + "_token_id", n)
               for k in ("bos", "eos", "unknown", "padding", "eot", "eom")}
        common = dict(bos_id=ids["bos"], eos_id=ids["eos"])
        chat = _get(fields, "tokenizer.chat_template", "str")
        if model == "llama":
            scores = list(_get(fields, _K + "scores", "list", default=[0.0] * n))
            if len(scores) != n or not set(map(type, scores)) <= {int, float}:
                raise ClavisError(f"GGUF metadata {_K}scores has {len(scores)} entries, "
                                  f"{_K}tokens has {n} (it needs one number per token)")
            space = _get(fields, _K + "add_space_prefix", "bool", default=True)
            unk = ids["unknown"] if ids["unknown"] is not None else (
                types.index(hj.UNKNOWN) if hj.UNKNOWN in types else None)
            raw = tokens.raw() if hasattr(tokens, "raw") else None
            spec = hj.spm_json(tokens.to_list() if raw else tokens, scores, types, raw=raw,
                               unk_id=unk, add_space_prefix=space,
                               add_bos=_get(fields, _K + "add_bos_token", "bool", default=True),
                               add_eos=_get(fields, _K + "add_eos_token", "bool", default=False),
                               **common)
            kind = "spm"
        elif model == "gpt2":
            merges = _get(fields, _K + "merges", "list", required=True)
            pre = _get(fields, _K + "pre", "str", default="default")
            hj.pre_tokenizer_for(pre)  # an unknown one fails before the vocabulary is built
            flags = dict(add_bos=_get(fields, _K + "add_bos_token", "bool", default=False),
                         add_eos=_get(fields, _K + "add_eos_token", "bool", default=False))
            spec = hj.bpe_json(tokens, types, [], pre=pre, vocab={}, **flags, **common)
            spec["clavis_bpe"] = dict(flags, pre=pre, **common)  # ByteBPE's options
            engine = _from_gguf_bytes(spec, tokens, merges)
            if engine is None:
                engine = _bpe_from_strings(spec, tokens, merges)
            _C.text_trim()
            return cls(engine, tokens, "bpe", extra_eos=(ids["eot"], ids["eom"]),
                       unk_id=ids["unknown"], pad_id=ids["padding"], chat_template=chat,
                       hf_factory=functools.partial(_hf_bpe, spec, tokens, merges), **common)
        else:
            raise ClavisError(f"GGUF metadata {_K}model = {model!r} is not supported; "
                              "supported: llama (SentencePiece-style), gpt2 (byte-level BPE)")
        getattr(tokens, "release_pages", lambda: None)()  # read once; their file pages can go
        hf = _build_bpe(spec, "GGUF tokenizer metadata")
        del spec
        _C.text_trim()  # the build's temporary objects: freed pages back to the OS
        return cls(hf, tokens, kind, extra_eos=(ids["eot"], ids["eom"]), unk_id=unk,
                   pad_id=ids["padding"], add_space_prefix=space, chat_template=chat, **common)

    @classmethod
    def from_hf_dir(cls, path) -> "Tokenizer":
        path = Path(path)
        tj = path / "tokenizer.json"
        if not tj.is_file():
            raise ClavisError(f"{tj}: no tokenizer.json in the model folder")
        spec = _read_json(tj)
        hf = _build(spec, str(tj))
        config = _read_json(path / "tokenizer_config.json") if (path / "tokenizer_config.json").is_file() else {}
        model = spec.get("model") or {}
        vocab = model.get("vocab")
        if model.get("type") != "BPE" or not isinstance(vocab, dict):
            raise ClavisError(f"{tj}: model type {model.get('type')!r} is not supported "
                              "(supported: BPE, SentencePiece-style or byte-level)")
        n = max(hf.get_vocab_size(with_added_tokens=True), max(vocab.values(), default=-1) + 1)
        tokens = [""] * n
        for text, i in hf.get_vocab(with_added_tokens=True).items():
            tokens[i] = text
        kind = "bpe" if "ByteLevel" in json.dumps(spec.get("decoder")) else "spm"
        space = "Prepend" in json.dumps(spec.get("normalizer")) or \
            '"prepend_scheme": "always"' in json.dumps(spec.get("pre_tokenizer")) or \
            '"prepend_scheme": "first"' in json.dumps(spec.get("pre_tokenizer"))

        def tid(key):
            v = config.get(key)
            v = v.get("content") if isinstance(v, dict) else v
            return hf.token_to_id(v) if isinstance(v, str) else None

        extra = []
        gen = path / "generation_config.json"
        if gen.is_file():
            e = _read_json(gen).get("eos_token_id")
            extra = [e] if isinstance(e, int) else [x for x in (e or []) if isinstance(x, int)]
        return cls(hf, tokens, kind, bos_id=tid("bos_token"), eos_id=tid("eos_token"),
                   extra_eos=extra, unk_id=tid("unk_token"), pad_id=tid("pad_token"),
                   add_space_prefix=space and kind == "spm",
                   chat_template=_hf_chat_template(path, config))

    # ---- the API -----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def bos_token(self) -> str:
        return self.tokens[self.bos_id] if self.bos_id is not None else ""

    @property
    def eos_token(self) -> str:
        return self.tokens[self.eos_id] if self.eos_id is not None else ""

    def token_to_id(self, text: str) -> int | None:
        return self._engine.token_to_id(text)

    def id_to_token(self, i: int) -> str:
        return self.tokens[self._check_id(i)]

    def encode(self, text: str, add_special: bool = True) -> list[int]:
        if not isinstance(text, str):
            raise ClavisError(f"encode() takes a str, got {type(text).__name__}")
        return self._engine.encode(text, add_special)

    def decode(self, ids, skip_special: bool = False) -> str:
        ids = [self._check_id(i) for i in ids]
        return self._engine.decode(ids, skip_special)

    def apply_chat_template(self, messages, add_generation_prompt: bool = True, *,
                            template: str | None = None, arch: str | None = None, **extra) -> str:
        """The prompt text for a conversation: the model's own template (or `template`), else
        the fallback for its vocabulary/architecture (chat_template.fallback_for)."""
        from clavis.text.chat_template import fallback_for, render

        if not (template or self.chat_template):
            specials = [content for content, _ in self._engine.added.values()]
            template = fallback_for(arch or ("llama" if self.kind == "spm" else None), specials)
        # a model that adds no BOS (Qwen2) has no bos_token in transformers either
        return render(template or self.chat_template, messages, add_generation_prompt,
                      bos_token=self.bos_token if self.add_bos else "",
                      eos_token=self.eos_token, **extra)

    def encode_chat(self, messages, add_generation_prompt: bool = True, **kw) -> list[int]:
        """Token ids of the rendered conversation with exactly one BOS when the model wants one
        (templates that write the BOS text themselves do not get a second one)."""
        ids = self.encode(self.apply_chat_template(messages, add_generation_prompt, **kw),
                          add_special=False)
        if self.add_bos and (not ids or ids[0] != self.bos_id):
            ids.insert(0, self.bos_id)
        return ids

    def stream_decoder(self, skip_special: bool = True,
                       strip_leading_space: bool | None = None) -> "StreamDecoder":
        """An incremental detokenizer. SPM vocabularies drop the leading space of the first
        piece, as decode() does (strip_leading_space=False keeps it, e.g. mid-sentence)."""
        return StreamDecoder(self, skip_special, strip_leading_space)

    def token_bytes(self, i: int) -> bytes:
        """The bytes a token stands for (a special token: its text); computed once per id."""
        b = self._bytes.get(i)
        if b is None:
            i = self._check_id(i)
            b = self._bytes[i] = _token_bytes(self, i)
        return b

    def _check_id(self, i) -> int:
        if not isinstance(i, int) or isinstance(i, bool):
            try:
                i = int(i)
            except (TypeError, ValueError):
                raise ClavisError(f"token id {i!r} is not an integer") from None
        if i < 0 or i >= len(self.tokens):
            raise ClavisError(f"token id {i} is outside the vocabulary (0..{len(self.tokens) - 1})")
        return i

    def __repr__(self):
        return f"Tokenizer({self.kind}, vocab_size={self.vocab_size}, bos={self.bos_id}, eos={sorted(self.eos_ids)})"


class StreamDecoder:
    """Incremental detokenizer: feed token ids, get text pieces that never split a UTF-8
    character. The concatenated pieces equal tokenizer.decode(all ids, skip_special)."""

    def __init__(self, tok: Tokenizer, skip_special: bool = True, strip_leading_space=None):
        self._tok = tok
        self._skip = skip_special
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # SPM: the first piece loses its leading space (the one the tokenizer prepended)
        self._strip = tok.add_space_prefix if strip_leading_space is None else strip_leading_space

    def feed(self, ids) -> str:
        """Token id(s) in, the text they complete out ("" while a character is incomplete)."""
        if isinstance(ids, numbers.Integral):
            ids = [ids]
        data = b"".join(b"" if (self._skip and i in self._tok.special_ids)
                        else self._tok.token_bytes(i) for i in ids)
        return self._emit(self._utf8.decode(data))

    def flush(self) -> str:
        """The rest (an incomplete UTF-8 sequence at the end becomes U+FFFD)."""
        return self._emit(self._utf8.decode(b"", final=True))

    def _emit(self, text: str) -> str:
        if self._strip and text:
            self._strip = False
            if text.startswith(" "):
                text = text[1:]
        return text


def _token_bytes(tok: Tokenizer, i: int) -> bytes:
    t = tok.tokens[i]
    if i in tok._added_ids:
        return t.encode("utf-8")
    if tok.kind == "bpe":
        u2b = hj.unicode_to_bytes()
        if any(c not in u2b for c in t):
            return t.encode("utf-8")
        return bytes(u2b[c] for c in t)
    if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
        try:
            return bytes([int(t[3:5], 16)])
        except ValueError:
            pass
    return t.replace("▁", " ").encode("utf-8")


def _vocab(tokens) -> dict[str, int]:
    """Piece -> id (a repeated piece keeps its first id); one C pass for a GGUF string array."""
    if hasattr(tokens, "raw"):
        return _C.text_vocab(*tokens.raw())
    return hj._vocab(tokens)


def _merges(merges, vocab, first: int = 0) -> list[tuple[str, str]]:
    """The checked (left, right) merges: each "left right", both halves in the vocabulary."""
    if not hasattr(merges, "raw"):
        return [tuple(m) for m in hj.parse_merges(merges, vocab, first)]
    out = _C.text_merges(*merges.raw(), vocab)
    if isinstance(out, int):
        hj.parse_merges([merges[out]], vocab, first=out)  # raises the ClavisError
    return out


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ClavisError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise ClavisError(f"{path}: line {e.lineno}: invalid JSON: {e.msg}") from None


# ---- byte-level BPE (gpt2) vocabularies: our own encoder ---------------------------------------
def _bpe(spec: dict, tokens_raw, merges_raw, check_utf8: bool, merge_text):
    """ByteBPE.build with its statuses turned into ClavisErrors naming the merge;
    merge_text(i) -> the i-th merge as the metadata shows it."""
    added = [(t["id"], t["content"], t["special"]) for t in spec["added_tokens"]]
    got = ByteBPE.build(tokens_raw, merges_raw, added, check_utf8=check_utf8,
                        **spec["clavis_bpe"])
    if isinstance(got, tuple):
        status, i = got
        m = merge_text(i)
        if status == "merge_result":
            raise ClavisError(f"{_K}merges[{i}] = {m!r}: the two tokens joined are not a "
                              "vocabulary token")
        raise ClavisError(f"{_K}merges[{i}] = {m!r} is not two vocabulary tokens separated by "
                          "one space")
    return got


def _from_gguf_bytes(spec: dict, tokens, merges) -> ByteBPE | None:
    """The byte-level BPE encoder straight from the GGUF file's bytes (no Python string per
    token or merge). None when the strings are not GGUF arrays or not all valid UTF-8 (then
    _bpe_from_strings builds it from the strings as the reader decodes them)."""
    if not (hasattr(tokens, "raw") and hasattr(merges, "raw")):
        return None
    bpe = _bpe(spec, tokens.raw(), merges.raw(), True, lambda i: merges[i])
    if bpe is not None:
        tokens.release_pages()
        merges.release_pages()
    return bpe


def _bpe_from_strings(spec: dict, tokens, merges) -> ByteBPE:
    """The encoder from Python strings (a plain list, or a lazy array decoded)."""
    texts = []
    for i, m in enumerate(merges):
        if isinstance(m, (list, tuple)) and len(m) == 2 and all(isinstance(x, str) for x in m):
            m = " ".join(m)
        if not isinstance(m, str):
            hj.parse_merges([m], {}, first=i)  # raises the ClavisError
        texts.append(m)
    return _bpe(spec, gguf_layout(tokens), gguf_layout(texts), False, lambda i: merges[i])


def _hf_bpe(spec: dict, tokens, merges) -> _HFTokenizer:
    """The HF tokenizers equivalent of a byte-level BPE GGUF vocabulary (the reference the
    tests compare ByteBPE with): tokenizer.json bytes written in C when the strings allow it,
    else from the vocab dict and merge pairs."""
    spec = {k: v for k, v in spec.items() if k != "clavis_bpe"}
    hf = _hf_from_gguf_bytes(spec, tokens, merges)
    if hf is None:
        spec["model"] = dict(spec["model"], vocab=_vocab(tokens))
        spec["model"]["merges"] = _merges(merges, spec["model"]["vocab"])
        hf = _build_bpe(spec, "GGUF tokenizer metadata")
    return hf


def _hf_from_gguf_bytes(spec: dict, tokens, merges) -> _HFTokenizer | None:
    """A byte-level BPE tokenizer straight from the GGUF file's bytes: one C pass writes the
    vocab object and merges array of tokenizer.json (checking each merge), the Rust side parses
    the bytes; no Python string per token. None when the strings are not GGUF arrays of one
    file or not all valid UTF-8 (then the caller decodes them: _vocab, _merges, _build_bpe)."""
    if not (hasattr(tokens, "raw") and hasattr(merges, "raw")):
        return None
    (buf, toff), (mbuf, moff) = tokens.raw(), merges.raw()
    if buf.obj is not mbuf.obj:
        return None
    model = {k: v for k, v in spec["model"].items() if k not in ("vocab", "merges")}
    head = (json.dumps({k: v for k, v in spec.items() if k != "model"}, ensure_ascii=False)[:-1]
            + ', "model": ' + json.dumps(model, ensure_ascii=False)[:-1] + ', "vocab": ')
    text = _C.text_bpe_json(buf, toff, moff, head.encode(), b', "merges": ', b"}}")
    if text is None:
        return None
    if isinstance(text, int):
        _merges([merges[text]], _vocab(tokens), first=text)  # raises the ClavisError
    tokens.release_pages()
    merges.release_pages()
    try:
        return _tokenizers().Tokenizer.from_buffer(text)
    except Exception as e:  # the Rust side reports a plain Exception
        raise ClavisError(f"GGUF tokenizer metadata: not a valid tokenizer: {e}") from None


def _build_bpe(spec: dict, where: str) -> _HFTokenizer:
    """The tokenizer `spec` (a tokenizer.json dict with a BPE model) describes, without the
    JSON round trip for the big parts: the Rust BPE model is made straight from the vocab dict
    and merge pairs (from_str spends ~0.5 us per vocabulary entry re-parsing them); the small
    parts come from a shell built from the JSON with an empty model, and the added tokens are
    added last, in order, as from_str does."""
    m = spec["model"]
    shell_spec = dict(spec, added_tokens=[], model=dict(m, vocab={}, merges=[], unk_token=None))
    try:
        tk = _tokenizers()
        shell = tk.Tokenizer.from_str(json.dumps(shell_spec))
        opts = {k: m[k] for k in ("dropout", "unk_token", "continuing_subword_prefix",
                                  "end_of_word_suffix", "fuse_unk", "byte_fallback",
                                  "ignore_merges") if m[k] is not None}
        hf = tk.Tokenizer(tk.models.BPE(m["vocab"], [tuple(x) for x in m["merges"]], **opts))
        for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
            if getattr(shell, part) is not None:
                setattr(hf, part, getattr(shell, part))
        hf.add_tokens([tk.AddedToken(t["content"], single_word=t["single_word"], lstrip=t["lstrip"],
                                     rstrip=t["rstrip"], normalized=t["normalized"],
                                     special=t["special"]) for t in spec["added_tokens"]])
        return hf
    except Exception as e:  # the Rust side reports a plain Exception
        raise ClavisError(f"{where}: not a valid tokenizer: {e}") from None


def _build(spec: dict, where: str) -> _HFTokenizer:
    try:
        return _tokenizers().Tokenizer.from_str(json.dumps(spec))
    except Exception as e:  # the Rust side reports a plain Exception
        raise ClavisError(f"{where}: not a valid tokenizer: {e}") from None


def _hf_chat_template(path: Path, config: dict):
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    t = config.get("chat_template")
    if isinstance(t, list):  # [{"name": "default", "template": ...}, ...]
        named = {d.get("name"): d.get("template") for d in t if isinstance(d, dict)}
        t = named.get("default") or next(iter(named.values()), None)
    return t if isinstance(t, str) else None
