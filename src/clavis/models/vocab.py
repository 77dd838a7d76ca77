"""Vocabularies for synthetic models: the text room's `clavis.text.synthetic.make_vocab` when it
is available, else a minimal byte-level BPE of our own (256 byte tokens, a few merges, the
flavour's special tokens), padded with reserved tokens to the model's vocab size as real
Llama-3 / Qwen files are."""
from __future__ import annotations

import json
import os

from clavis import ClavisError

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
LLAMA3 = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
          "<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
          "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
LLAMA2 = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] "
          "{{ m['content'] | trim }} [/INST]{% else %} {{ m['content'] | trim }} {{ eos_token }}"
          "{% endif %}{% endfor %}")

FLAVOURS = {
    # flavour: (specials, bos, eos, eot, pre-tokenizer, template)
    "llama3": (["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>", "<|eot_id|>"], "<|begin_of_text|>", "<|end_of_text|>",
               "<|eot_id|>", "llama-bpe", LLAMA3),
    "qwen2": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, "<|endoftext|>",
              "<|im_end|>", "qwen2", CHATML),
    "spm": (["<unk>", "<s>", "</s>"], "<s>", "</s>", None, "default", LLAMA2),
}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (the byte-level BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


class MiniVocab:
    """A small but valid byte-level BPE vocabulary (GGUF `gpt2` model + HF tokenizer.json)."""

    MERGES = ["Ġ t", "h e", "i n", "Ġt he", "e r", "a n", "o n", "Ġ a"]

    def __init__(self, flavour: str, size: int):
        specials, bos, eos, eot, pre, template = FLAVOURS[flavour]
        b2u = _bytes_to_unicode()
        tokens = [b2u[b] for b in range(256)]
        for m in self.MERGES:
            tokens.append(m.replace(" ", ""))
        n_regular = len(tokens)
        tokens += specials
        if size < len(tokens):
            raise ClavisError(f"vocab size {size} is smaller than the {len(tokens)} base tokens")
        tokens += [f"<|reserved_{i}|>" for i in range(size - len(tokens))]
        self.tokens, self.size, self.template = tokens, size, template
        self.bos_id = tokens.index(bos) if bos else None
        self.eos_id = tokens.index(eos)
        self.eot_id = tokens.index(eot) if eot else None
        types = [1] * n_regular + [3] * (size - n_regular)   # 1 normal, 3 control
        self.gguf_metadata = {
            "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": pre,
            "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.token_type": types,
            "tokenizer.ggml.merges": list(self.MERGES),
            "tokenizer.ggml.eos_token_id": self.eos_id,
            "tokenizer.ggml.add_bos_token": self.bos_id is not None,
            "tokenizer.chat_template": template,
        }
        if self.bos_id is not None:
            self.gguf_metadata["tokenizer.ggml.bos_token_id"] = self.bos_id
        if self.eot_id is not None:
            self.gguf_metadata["tokenizer.ggml.eot_token_id"] = self.eot_id
        self._n_regular = n_regular

    def write_hf(self, path: str) -> None:
        added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, t in enumerate(self.tokens)
                 if i >= self._n_regular]
        tok = {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                              "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": {t: i for i, t in enumerate(self.tokens[:self._n_regular])},
                      "merges": [m.split(" ") for m in self.MERGES]},
        }
        cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": self.template,
               "eos_token": self.tokens[self.eos_id], "clean_up_tokenization_spaces": False,
               "bos_token": self.tokens[self.bos_id] if self.bos_id is not None else None,
               "model_max_length": 1 << 20}
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
        with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(cfg, f, ensure_ascii=False, indent=2)


def synthetic_vocab(flavour: str, size: int):
    """A vocabulary of exactly `size` tokens in `flavour` ("spm" | "llama3" | "qwen2")."""
    if flavour not in FLAVOURS:
        raise ClavisError(f"unknown vocabulary flavour {flavour!r}; known: {', '.join(FLAVOURS)}")
    return MiniVocab(flavour, size)
