"""Synthetic but valid tokenizer vocabularies for random-weight test models.

    v = make_vocab("bpe", 128256, "llama3")     # or make_vocab("spm", 32000) / ("bpe", n, "qwen2")
    v.gguf_metadata        # {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": [...], ...}
    v.add_to_gguf(writer)  # the same keys, typed, into a gguf.GGUFWriter
    v.write_hf(folder)     # tokenizer.json + tokenizer_config.json (with the chat template)

A BPE is trained (HF `tokenizers`, deterministic) on a small English/Russian/Chinese/code text
(_corpus.py), so text splits into meaningful pieces. Flavours:
- "llama2" (kind "spm"): <unk> <s> </s>, the 256 byte-fallback tokens <0x00>..<0xFF>, then
  "▁"-prefixed pieces with scores (higher = merged earlier), like Llama 2 / TinyLlama.
- "llama3" (kind "bpe"): byte-level BPE, llama-bpe pre-tokenizer, 256 special tokens at the end
  (<|begin_of_text|>, <|eot_id|>, header tokens, ...) as Llama 3.x.
- "qwen2" (kind "bpe"): byte-level BPE, qwen2 pre-tokenizer, <|endoftext|> <|im_start|>
  <|im_end|> and Qwen2.5's other control tokens, ChatML template.
A `size` above what the text supports is filled with valid tokens that text never produces
("▁filler000123" / "Ġfiller000123"), so models keep the real shapes (e.g. 128256 for Llama 3).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clavis import ClavisError
from clavis.text import _hf_json as hj
from clavis.text._corpus import CORPUS
from clavis.text.chat_template import LLAMA2, LLAMA3

QWEN2 = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                    "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                    "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
                    "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
_QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                   "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
                   "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
                   "<|image_pad|>", "<|video_pad|>", "<|fim_prefix|>", "<|fim_middle|>",
                   "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
FLAVOURS = {"spm": ("llama2",), "bpe": ("llama3", "qwen2")}
_MAX_PIECE = 12  # characters


@dataclass
class SyntheticVocab:
    kind: str                 # "spm" | "bpe"
    flavour: str              # "llama2" | "llama3" | "qwen2"
    tokens: list[str]
    token_types: list[int]
    scores: list[float] | None
    merges: list[str] | None  # "left right", BPE only
    pre: str | None           # tokenizer.ggml.pre, BPE only
    bos_id: int | None
    eos_id: int
    unk_id: int | None = None
    pad_id: int | None = None
    add_bos: bool = True
    add_eos: bool = False
    chat_template: str = ""
    n_trained: int = 0        # tokens learnt from text (the rest are fillers and specials)
    _specials: list[str] = field(default_factory=list, repr=False)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    size = vocab_size

    @property
    def gguf_metadata(self) -> dict:
        """The GGUF tokenizer.* keys llama.cpp reads, as plain python values."""
        k = "tokenizer.ggml."
        meta = {k + "model": "llama" if self.kind == "spm" else "gpt2",
                k + "pre": self.pre or "default",
                k + "tokens": list(self.tokens),
                k + "token_type": list(self.token_types)}
        if self.kind == "spm":
            meta[k + "scores"] = list(self.scores)
            meta[k + "add_space_prefix"] = True
        else:
            meta[k + "merges"] = list(self.merges)
        for name, value in (("bos", self.bos_id), ("eos", self.eos_id), ("unknown", self.unk_id),
                            ("padding", self.pad_id)):
            if value is not None:
                meta[f"{k}{name}_token_id"] = value
        meta[k + "add_bos_token"] = self.add_bos
        meta[k + "add_eos_token"] = self.add_eos
        meta["tokenizer.chat_template"] = self.chat_template
        return meta

    def add_to_gguf(self, writer) -> None:
        """Write gguf_metadata into a gguf.GGUFWriter with the value types llama.cpp expects."""
        import gguf

        V = gguf.GGUFValueType
        for key, value in self.gguf_metadata.items():
            if isinstance(value, bool):
                writer.add_bool(key, value)
            elif isinstance(value, int):
                writer.add_uint32(key, value)
            elif isinstance(value, str):
                writer.add_string(key, value)
            elif key.endswith("scores"):
                writer.add_array(key, [float(s) for s in value])
            elif key.endswith("token_type"):
                writer.add_key_value(key, value, V.ARRAY, sub_type=V.INT32)
            else:
                writer.add_array(key, value)

    def hf_tokenizer_json(self) -> dict:
        common = dict(bos_id=self.bos_id if self.add_bos else None, eos_id=self.eos_id,
                      add_bos=self.add_bos, add_eos=self.add_eos)
        if self.kind == "spm":
            return hj.spm_json(self.tokens, self.scores, self.token_types, unk_id=self.unk_id,
                               **common)
        return hj.bpe_json(self.tokens, self.token_types, self.merges, pre=self.pre, **common)

    def write_hf(self, folder) -> Path:
        """Write tokenizer.json and tokenizer_config.json (with the chat template) into folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        spec = self.hf_tokenizer_json()
        (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), "utf-8")

        def tok(i):
            return self.tokens[i] if i is not None else None

        added = {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                   "single_word", "special")}
                 for a in spec["added_tokens"]}
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": tok(self.bos_id) if self.kind == "spm" or self.add_bos else None,
            "eos_token": tok(self.eos_id), "unk_token": tok(self.unk_id),
            "pad_token": tok(self.pad_id),
            "add_bos_token": self.add_bos, "add_eos_token": self.add_eos,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 131072,
            "added_tokens_decoder": added,
            "chat_template": self.chat_template,
        }
        (folder / "tokenizer_config.json").write_text(
            json.dumps(config, ensure_ascii=False, indent=2), "utf-8")
        return folder


def make_vocab(kind: str = "bpe", size: int = 4096, specials: str | None = None) -> SyntheticVocab:
    """A deterministic, valid vocabulary of exactly `size` tokens. kind "spm" (flavour "llama2")
    or "bpe" (flavours "llama3", the default, and "qwen2"); `specials` names the flavour."""
    if kind not in FLAVOURS:
        raise ClavisError(f"vocabulary kind {kind!r} is not one of: spm, bpe")
    flavour = specials or FLAVOURS[kind][0]
    if flavour not in FLAVOURS[kind]:
        raise ClavisError(f"{kind} vocabularies come in flavours {', '.join(FLAVOURS[kind])}, "
                          f"not {flavour!r}")
    if not isinstance(size, int) or size <= 0:
        raise ClavisError(f"vocabulary size must be a positive integer, got {size!r}")
    return _make_spm(size) if kind == "spm" else _make_bpe(size, flavour)


def _fill(trained: list[str], room: int, prefix: str, size: int) -> list[str]:
    if len(trained) > room:
        raise ClavisError(f"vocabulary size {size} is too small: the smallest is "
                          f"{size - room + len(trained)}")
    return [f"{prefix}filler{i:06d}" for i in range(room - len(trained))]


def _make_spm(size: int) -> SyntheticVocab:
    head = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    room = size - len(head)
    trained = [t for t in _train_spm(max(room, 1)) if t not in head]
    fillers = _fill(trained, room, "▁", size)
    tokens = head + trained + fillers
    types = [hj.UNKNOWN, hj.CONTROL, hj.CONTROL] + [hj.BYTE] * 256 + \
        [hj.NORMAL] * (len(trained) + len(fillers))
    scores = [0.0] * len(head) + [-float(i) for i in range(len(trained) + len(fillers))]
    return SyntheticVocab("spm", "llama2", tokens, types, scores, None, None, bos_id=1, eos_id=2,
                          unk_id=0, add_bos=True, chat_template=LLAMA2, n_trained=len(trained))


def _make_bpe(size: int, flavour: str) -> SyntheticVocab:
    if flavour == "llama3":
        block = 256 if size >= 8192 else len(_LLAMA3_SPECIALS)
        specials = _LLAMA3_SPECIALS + [f"<|reserved_special_token_{i}|>"
                                       for i in range(3, 3 + block - len(_LLAMA3_SPECIALS))]
        pre, template = "llama-bpe", LLAMA3
    else:
        specials, pre, template = list(_QWEN2_SPECIALS), "qwen2", QWEN2
    room = size - len(specials)
    trained, merges = _train_bpe(pre, max(room, 1))
    fillers = _fill(trained, room, "Ġ", size)
    tokens = trained + fillers + specials
    types = [hj.NORMAL] * room + [hj.CONTROL] * len(specials)
    idx = {t: room + i for i, t in enumerate(specials)}
    if flavour == "llama3":
        ids = dict(bos_id=idx["<|begin_of_text|>"], eos_id=idx["<|eot_id|>"], add_bos=True)
    else:
        ids = dict(bos_id=idx["<|endoftext|>"], eos_id=idx["<|im_end|>"],
                   pad_id=idx["<|endoftext|>"], add_bos=False)
    return SyntheticVocab("bpe", flavour, tokens, types, None, merges, pre, chat_template=template,
                          n_trained=len(trained), **ids)


@lru_cache(maxsize=8)
def _train_spm(limit: int) -> list[str]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    # small vocabularies keep the most frequent characters (the rest falls back to bytes)
    trainer = trainers.BpeTrainer(vocab_size=limit, min_frequency=2, max_token_length=_MAX_PIECE,
                                  limit_alphabet=max(limit // 2, 1), show_progress=False)
    tok.train_from_iterator(CORPUS.splitlines(), trainer)  # lines: "\n" stays byte-fallback
    vocab = json.loads(tok.to_str())["model"]["vocab"]
    return sorted(vocab, key=vocab.get)


@lru_cache(maxsize=8)
def _train_bpe(pre: str, limit: int) -> tuple[list[str], list[str]]:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    regexes, _ = hj.pre_tokenizer_for(pre)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r), "isolated") for r in regexes]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=max(limit, 256), min_frequency=2,
                                  max_token_length=_MAX_PIECE, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS], trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return sorted(model["vocab"], key=model["vocab"].get), merges
