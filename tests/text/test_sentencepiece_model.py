"""SPM tokenization against the real SentencePiece library: a BPE model trained by sentencepiece
(byte fallback, whitespace-only pieces, split digits, as Llama 2's), exported to GGUF the way
llama.cpp's converter does; our ids == sentencepiece == llama.cpp == transformers."""
from __future__ import annotations

import io
import random

import pytest
import sentencepiece as spm
from text_helpers import MIXED, POOL, TEXTS, llama_cpp, write_vocab_gguf

from clavis.text import _hf_json as hj
from clavis.text._corpus import CORPUS
from clavis.text.synthetic import SyntheticVocab
from clavis.text.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory):
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS.splitlines()), model_writer=buf, model_type="bpe",
        vocab_size=1200, byte_fallback=True, character_coverage=1.0, add_dummy_prefix=True,
        remove_extra_whitespaces=False, normalization_rule_name="identity",
        allow_whitespace_only_pieces=True, split_digits=True, num_threads=1, unk_id=0, bos_id=1,
        eos_id=2, pad_id=-1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    n = sp.get_piece_size()

    def kind(i):  # GGUF token types, as convert_hf_to_gguf.py assigns them
        return (hj.UNKNOWN if sp.is_unknown(i) else hj.CONTROL if sp.is_control(i)
                else hj.BYTE if sp.is_byte(i) else hj.UNUSED if sp.is_unused(i) else hj.NORMAL)

    vocab = SyntheticVocab("spm", "llama2", [sp.id_to_piece(i) for i in range(n)],
                           [kind(i) for i in range(n)], [sp.get_score(i) for i in range(n)],
                           None, None, bos_id=1, eos_id=2, unk_id=0)
    tmp = tmp_path_factory.mktemp("sentencepiece")
    llama = llama_cpp().Llama(model_path=str(write_vocab_gguf(vocab, tmp / "sp.gguf")),
                              vocab_only=True, verbose=False)
    from transformers import AutoTokenizer
    hf = AutoTokenizer.from_pretrained(str(vocab.write_hf(tmp / "hf")))
    yield sp, vocab, llama, hf
    llama.close()


def test_ids_match_sentencepiece_llama_cpp_and_transformers(sp_model):
    sp, vocab, llama, hf = sp_model
    assert "▁▁" in vocab.tokens and vocab.tokens[3] == "<0x00>"  # Llama-2-like features
    tok = Tokenizer.from_gguf_metadata(vocab.gguf_metadata)
    pool = [p for p in POOL if p not in ("<s>", "</s>")]  # sentencepiece parses no specials
    rng = random.Random(3)
    texts = TEXTS + [MIXED] + ["".join(rng.choice(pool) for _ in range(rng.randint(1, 40)))
                               for _ in range(300)]
    for text in texts:
        ours = tok.encode(text)
        assert ours == [1] + sp.encode(text), f"sentencepiece differs on {text!r}"
        assert ours == llama.tokenize(text.encode("utf-8"), add_bos=True, special=True), text
        assert ours == hf.encode(text), f"transformers differs on {text!r}"
        assert tok.decode(ours, skip_special=True) == sp.decode(ours[1:]), text
