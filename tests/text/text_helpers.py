"""Helpers for the text tests: synthetic vocabularies written as a vocab-only GGUF (read by
llama.cpp) and as a Hugging Face folder (read by transformers)."""
from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import gguf

from clavis.text.synthetic import make_vocab

ROOT = Path(__file__).resolve().parents[2]

# (kind, size, flavour): the real vocabulary sizes of Llama 2, Llama 3.x and Qwen2.5
VOCABS = {"spm": ("spm", 32000, "llama2"), "llama3": ("bpe", 128256, "llama3"),
          "qwen2": ("bpe", 151936, "qwen2"),
          "spm-tiny": ("spm", 512, "llama2")}  # the size of the runtime's tiny test models

MIXED = ("Hello, world! The quick brown fox can't stop; it's 2026-11-28 and we'll pay $3.14.\n"
         "Привет, мир! Съешь же ещё этих мягких французских булок.\n"
         "你好，世界！每一台设备都有处理器。\n"
         "Emoji: 🦙🚀👩🏽‍💻 ❤️ 🇫🇷\n"
         "def tokenize(text: str) -> list[int]:\n"
         "    return [ord(c) for c in text]  # 42\n\n\n"
         "    spaces   between\t\ttabs \r\n  trailing   \n\n")

TEXTS = [  # edge cases besides MIXED
    MIXED,
    "",
    " ",
    "\n\n",
    "   leading spaces and trailing   ",
    "word",
    " Hello",
    "I'M SURE THEY'LL SAY IT'S FINE. they'd've",
    "12345678901 3.14159 -42 1e-5 0x1F",
    "Ωμέγα ελληνικά ünïcödé naïve café ﬁ",
    "中文没有空格也能分词。日本語のテキスト。한국어 텍스트",
    "tabs\tand\r\nwindows\r\nnewlines",
    "<html><body class=\"x\">&amp;</body></html>",
]

# pieces of random strings: many scripts, whitespace kinds, combining marks, emoji and special texts
POOL = (list("abcdefghijklmnopqrstuvwxyzABCXYZ") + list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяЖЯ")
         + list("你好世界每一台设备，。！？")
         + [" ", " ", "  ", "\n", "\n\n", "\t", "\r\n", "'", "'s", "'LL", "0", "1", "123", "4567",
            ".", ",", "!", "?", "(", ")", "{", "}", "<", ">", "_", "-", "=", "#", "\u00a0", "\u3000",
            "é", "ß", "ﬁ", "🦙", "👩🏽‍💻", "❤️", "🇫🇷", "\u200b", "\u0300", "ひらがな", "한국어",
            "ελλάδα", "عربى", "हिन्दी", "▁", "Ġ", "<s>", "</s>", "<|im_start|>", "<|eot_id|>"])


def llama_cpp():
    """llama-cpp-python, built from source by scripts/install_llama_cpp.sh when missing."""
    try:
        return importlib.import_module("llama_cpp")
    except ImportError:
        subprocess.run(["bash", str(ROOT / "scripts" / "install_llama_cpp.sh")], check=True)
        importlib.invalidate_caches()
        return importlib.import_module("llama_cpp")


def write_vocab_gguf(vocab, path, arch="llama"):
    """A GGUF with the tokenizer metadata and minimal architecture keys, no tensors: enough for
    llama.cpp's vocab_only load."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_context_length(4096)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(16)
    vocab.add_to_gguf(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def llama_detokenize(llama, ids, remove_special=True, unparse_special=False) -> str:
    """llama.cpp's own llama_detokenize (the Python wrapper's detokenize adds quirks)."""
    lc = llama_cpp()
    arr = (lc.llama_token * max(len(ids), 1))(*ids)
    size = 64 + 16 * len(ids)
    buf = (lc.ctypes.c_char * size)()
    n = lc.llama_detokenize(llama._model.vocab, arr, len(ids), buf, size, remove_special,
                            unparse_special)
    assert 0 <= n <= size
    return bytes(buf[:n]).decode("utf-8")


class Bundle:
    """One vocabulary in every form the tests compare."""

    def __init__(self, name, tmp: Path):
        kind, size, flavour = VOCABS[name]
        self.name = name
        self.vocab = make_vocab(kind, size, flavour)
        self.gguf_path = write_vocab_gguf(self.vocab, tmp / "vocab.gguf",
                                          "qwen2" if flavour == "qwen2" else "llama")
        self.hf_dir = self.vocab.write_hf(tmp / "hf")
        self._llama = self._hf = None

    @property
    def llama(self):
        if self._llama is None:
            self._llama = llama_cpp().Llama(model_path=str(self.gguf_path), vocab_only=True,
                                            verbose=False)
        return self._llama

    @property
    def hf(self):
        if self._hf is None:
            from transformers import AutoTokenizer
            self._hf = AutoTokenizer.from_pretrained(str(self.hf_dir))
        return self._hf
