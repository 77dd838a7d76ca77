"""Whisper's vocabulary: byte-level BPE tokens plus the special-token layout.

The layout (ref: openai/whisper whisper/tokenizer.py) is fixed by the vocabulary size: `n_base`
byte-level BPE tokens, then <|endoftext|>, <|startoftranscript|>, one token per language (99; 100
for large-v3's 51866), <|translate|>, <|transcribe|>, <|startoflm|>, <|startofprev|>,
<|nospeech|>, <|notimestamps|>, and 1501 timestamp tokens <|0.00|> ... <|30.00|>.
Multilingual models have 50257 base tokens (51865 in all), English-only ones 50256 (51864).

Tokens come either from a tokenizer.json (Hugging Face folders) or from the byte strings stored
in a whisper.cpp .bin file; both end up as a list of bytes per id, so decoding never splits a
UTF-8 character across pieces that are joined later.
"""
from __future__ import annotations

import json
import os
from functools import cached_property, lru_cache

from clavis import ClavisError

LANGUAGES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th "
    "ur hr bg lt la mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr "
    "pa si km sn yo so af oc ka be tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt "
    "haw ln ha ba jw su yue").split()
N_TIMESTAMPS = 1501          # <|0.00|> .. <|30.00|> in steps of 0.02 s
TIME_PRECISION = 0.02
_AFTER_LANGS = ("translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps")


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


@lru_cache(maxsize=1)
def unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def n_languages(vocab_size: int) -> int:
    return 100 if vocab_size >= 51866 else 99


def special_layout(vocab_size: int) -> dict[str, int]:
    """Special-token ids for a vocabulary of `vocab_size` (see the module docstring)."""
    n_lang = n_languages(vocab_size)
    n_base = vocab_size - (2 + n_lang + len(_AFTER_LANGS) + N_TIMESTAMPS)
    if n_base < 256:
        raise ClavisError(f"vocabulary size {vocab_size} is too small for a Whisper model")
    ids = {"endoftext": n_base, "startoftranscript": n_base + 1}
    for i, lang in enumerate(LANGUAGES[:n_lang]):
        ids[lang] = n_base + 2 + i
    for i, name in enumerate(_AFTER_LANGS):
        ids[name] = n_base + 2 + n_lang + i
    ids["timestamp_begin"] = ids["notimestamps"] + 1
    return ids


def special_token_strings(vocab_size: int) -> list[tuple[int, str]]:
    """(id, text) of every special token, in id order (as Hugging Face's added tokens)."""
    lay = special_layout(vocab_size)
    out = [(lay["endoftext"], "<|endoftext|>"), (lay["startoftranscript"], "<|startoftranscript|>")]
    out += [(lay[lang], f"<|{lang}|>") for lang in LANGUAGES[:n_languages(vocab_size)]]
    out += [(lay[name], f"<|{name}|>") for name in _AFTER_LANGS]
    out += [(lay["timestamp_begin"] + i, f"<|{i * TIME_PRECISION:.2f}|>") for i in range(N_TIMESTAMPS)]
    return out


class WhisperTokenizer:
    """Ids <-> text for one Whisper model. `token_bytes[i]` holds base token i's bytes."""

    def __init__(self, token_bytes: list[bytes], vocab_size: int, hf_tokenizer=None,
                 source: str = ""):
        self.vocab_size = vocab_size
        self.source = source
        self.sp = special_layout(vocab_size)
        self.n_base = self.sp["endoftext"]
        if len(token_bytes) < self.n_base:
            raise ClavisError(f"{source}: the vocabulary has {len(token_bytes)} tokens; a Whisper "
                              f"model with {vocab_size} outputs needs {self.n_base} base tokens")
        self.token_bytes = list(token_bytes[:self.n_base])
        self._hf = hf_tokenizer
        self.multilingual = vocab_size >= 51865
        self.languages = LANGUAGES[:n_languages(vocab_size)]
        self.eot = self.sp["endoftext"]
        self.sot = self.sp["startoftranscript"]
        self.transcribe = self.sp["transcribe"]
        self.translate = self.sp["translate"]
        self.sot_prev = self.sp["startofprev"]
        self.sot_lm = self.sp["startoflm"]
        self.no_speech = self.sp["nospeech"]
        self.no_timestamps = self.sp["notimestamps"]
        self.timestamp_begin = self.sp["timestamp_begin"]

    # ---- loading ---------------------------------------------------------------------------
    @classmethod
    def from_tokenizer_json(cls, path: str | os.PathLike, vocab_size: int) -> "WhisperTokenizer":
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            vocab = data["model"]["vocab"]
        except json.JSONDecodeError as e:
            raise ClavisError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from e
        except (KeyError, TypeError) as e:
            raise ClavisError(f"{path}: no byte-level BPE vocabulary (field model.vocab)") from e
        u2b = unicode_to_bytes()
        n_base = special_layout(vocab_size)["endoftext"]
        toks: list[bytes | None] = [None] * n_base
        for text, i in vocab.items():
            if 0 <= i < n_base:
                try:
                    toks[i] = bytes(u2b[c] for c in text)
                except KeyError:
                    toks[i] = text.encode("utf-8")
        missing = [i for i, t in enumerate(toks) if t is None]
        if missing:
            raise ClavisError(f"{path}: token ids {missing[:5]}... are missing from model.vocab")
        hf = None
        try:
            from tokenizers import Tokenizer
            hf = Tokenizer.from_file(path)
        except Exception:  # noqa: BLE001 - encoding falls back to greedy matching
            hf = None
        return cls(toks, vocab_size, hf, source=path)

    # ---- ids -> text -----------------------------------------------------------------------
    def decode_bytes(self, ids) -> bytes:
        return b"".join(self.token_bytes[i] for i in ids if 0 <= i < self.n_base)

    def decode(self, ids) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def token_text(self, i: int) -> str:
        if i < self.n_base:
            return self.token_bytes[i].decode("utf-8", errors="replace")
        if i >= self.timestamp_begin:
            return f"<|{(i - self.timestamp_begin) * TIME_PRECISION:.2f}|>"
        names = {v: k for k, v in self.sp.items()}
        return f"<|{names.get(i, i)}|>"

    # ---- text -> ids -----------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        if self._hf is not None:
            return [i for i in self._hf.encode(text, add_special_tokens=False).ids]
        return self._greedy_encode(text.encode("utf-8"))

    @cached_property
    def _by_bytes(self) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for i, b in enumerate(self.token_bytes):
            out.setdefault(b, i)
        return out

    @cached_property
    def _max_len(self) -> int:
        return max(len(b) for b in self.token_bytes)

    def _greedy_encode(self, data: bytes) -> list[int]:
        """Longest-match tokenisation (what whisper.cpp does for vocabularies without merges)."""
        ids, i = [], 0
        while i < len(data):
            for n in range(min(self._max_len, len(data) - i), 0, -1):
                tid = self._by_bytes.get(data[i:i + n])
                if tid is not None:
                    ids.append(tid)
                    i += n
                    break
            else:
                raise ClavisError(f"{self.source}: byte {data[i]} has no token")
        return ids

    # ---- the prompt ------------------------------------------------------------------------
    def language_token(self, lang: str) -> int:
        if lang not in self.sp or lang not in self.languages:
            raise ClavisError(f"unknown language {lang!r}; known: {' '.join(self.languages)}")
        return self.sp[lang]

    def sot_sequence(self, language: str | None, task: str) -> list[int]:
        seq = [self.sot]
        if self.multilingual:
            seq.append(self.language_token(language or "en"))
            if task not in ("transcribe", "translate"):
                raise ClavisError(f"task must be 'transcribe' or 'translate', got {task!r}")
            seq.append(self.transcribe if task == "transcribe" else self.translate)
        return seq

    def non_speech_tokens(self) -> list[int]:
        """Tokens for symbols and speaker tags that are not speech (ref: whisper's tokenizer)."""
        symbols = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』')
        symbols += "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split()
        misc = set("♩♪♫♬♭♮♯")
        out = {self.encode(" -")[0], self.encode(" '")[0]}
        for sym in symbols + sorted(misc):
            for toks in (self.encode(sym), self.encode(" " + sym)):
                if toks and (len(toks) == 1 or sym in misc):
                    out.add(toks[0])
        return sorted(out)
