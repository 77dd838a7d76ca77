"""Generation: stop strings, EOS, UTF-8-safe streaming, context overflow, prefix reuse, close."""
from __future__ import annotations

import numpy as np
import pytest

from clavis import ClavisError
from clavis.runtime.generate import ContextOverflowError, StopMatcher, StreamDecoder
from clavis.runtime.llm import LLM

MIXED = "Hello, мир! 你好世界 🙂👍🏽 def f(x):\n    return x  # ok\n\n\n   spaces"


def _greedy(llm, prompt, **kw):
    g = llm.generate(prompt, temperature=0, ignore_eos=True, **kw)
    pieces = list(g)
    return g, pieces


def test_stop_matcher_across_pieces():
    m = StopMatcher(["</end>", "STOP"])
    out = []
    for piece in ["abc <", "/e", "nd> never"]:
        text, stopped = m.push(piece)
        out.append(text)
        if stopped:
            break
    assert "".join(out) == "abc " and stopped


def test_stop_matcher_releases_false_alarms():
    m = StopMatcher(["STOP"])
    a, s1 = m.push("xxST")
    b, s2 = m.push("ay")
    assert (a, b, s1, s2) == ("xx", "STay", False, False)
    assert m.flush() == ""


def test_stream_decoder_never_splits_utf8(llm):
    ids = llm.tokenize(MIXED, add_special=False)
    assert len(ids) > len(MIXED.encode()) // 4        # mostly byte tokens: characters span tokens
    dec = StreamDecoder(llm.detokenize_raw)
    pieces = [dec.push(i) for i in ids] + [dec.flush()]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) == MIXED == llm.detokenize(ids)
    # every piece is a whole number of characters of the final text, in order
    assert sum(len(p) for p in pieces) == len(MIXED)


def test_generated_pieces_join_to_the_decoded_tokens(llm):
    g, pieces = _greedy(llm, "Hello мир", max_tokens=40)
    assert "".join(pieces) == llm.detokenize_raw(g.tokens)
    assert g.text == "".join(pieces)


def test_stop_string_cuts_the_output(llm):
    ids = list(range(300, 320))           # a prompt of plain token ids
    g, pieces = _greedy(llm, ids, max_tokens=40)
    full = "".join(pieces)
    assert len(full) >= 6, full
    stop = full[3:5]
    g2, pieces2 = _greedy(llm, ids, max_tokens=40, stop=[stop])
    out = "".join(pieces2)
    assert out == full[:full.index(stop)]
    assert stop not in out and g2.stats.finish_reason == "stop"


def test_eos_stops_generation(llm):
    g, _ = _greedy(llm, [300, 301, 302], max_tokens=10)
    first = g.tokens[0]
    llm.eos_ids = frozenset({first})      # pretend the first greedy token is end-of-text
    g2 = llm.generate([300, 301, 302], temperature=0, max_tokens=10)
    assert list(g2) == [] and g2.stats.finish_reason == "stop" and g2.tokens == []
    g3 = llm.generate([300, 301, 302], temperature=0, max_tokens=10, ignore_eos=True)
    list(g3)
    assert g3.tokens[0] == first and g3.stats.finish_reason == "length"


def test_context_overflow_has_both_counts(tiny_gguf):
    llm = LLM.load(tiny_gguf, n_ctx=32)
    with pytest.raises(ContextOverflowError) as e:
        llm.generate(list(range(40)))
    assert (e.value.n_prompt, e.value.n_ctx) == (40, 32)
    assert "40" in str(e.value) and "32" in str(e.value)
    assert isinstance(e.value, ClavisError)
    with pytest.raises(ContextOverflowError):
        llm.logits(list(range(33)))


def test_generation_stops_at_a_full_context(tiny_gguf):
    llm = LLM.load(tiny_gguf, n_ctx=32)
    g, _ = _greedy(llm, list(range(300, 328)), max_tokens=100)
    assert g.stats.finish_reason == "length"
    assert g.stats.prompt_tokens + g.stats.generated_tokens <= 33


def test_prefix_is_reused_and_gives_the_same_tokens(tiny_gguf, llm):
    prompt = list(range(300, 360))
    _greedy(llm, prompt, max_tokens=5)
    g, _ = _greedy(llm, prompt + [400, 401], max_tokens=12)
    assert g.stats.cached_tokens >= len(prompt)
    fresh = LLM.load(tiny_gguf, n_ctx=256)
    g2, _ = _greedy(fresh, prompt + [400, 401], max_tokens=12)
    assert g.tokens == g2.tokens and g2.stats.cached_tokens == 0


def test_close_stops_early(llm):
    g = llm.generate([300, 301], max_tokens=50, temperature=0, ignore_eos=True)
    next(g)
    g.close()
    assert list(g) == [] and g.stats.finish_reason == "stop"
    assert len(g.tokens) < 50


def test_seeded_sampling_is_reproducible(llm):
    a = llm.generate([300, 301], max_tokens=16, temperature=1.0, seed=3, ignore_eos=True)
    ta = (list(a), a.tokens)[1]
    b = llm.generate([300, 301], max_tokens=16, temperature=1.0, seed=3, ignore_eos=True)
    tb = (list(b), b.tokens)[1]
    assert ta == tb


def test_stats_are_filled(llm):
    g, _ = _greedy(llm, "Hello", max_tokens=8)
    st = g.stats
    assert st.prompt_tokens == len(llm.tokenize("Hello")) and st.generated_tokens == 8
    assert st.prefill_tok_s > 0 and st.decode_tok_s > 0 and st.finish_reason == "length"


@pytest.mark.parametrize("bad", [[-1], [10**6], ["x"], []])
def test_bad_prompts_are_clavis_errors(llm, bad):
    with pytest.raises(ClavisError):
        llm.generate(bad)


def test_logits_rows_match_incremental_decoding(llm):
    ids = list(range(300, 340))
    full = llm.logits(ids)
    g = llm.generate(ids[:30], max_tokens=0)
    list(g)
    rows = [np.asarray(llm._decode_one(t))[0] for t in ids[30:]]
    np.testing.assert_allclose(np.array(rows), full[30:], rtol=0,
                               atol=1e-5 * float(full.max() - full.min()))


def test_chat_prompt_matches_transformers(tiny_gguf, tmp_path):
    """The chat prompt ids equal transformers' apply_chat_template on the same model's HF
    tokenizer files (written by make-model --hf-dir)."""
    import transformers
    from clavis.models import zoo
    hf = tmp_path / "hf"
    zoo.make("tiny-qwen2", str(tmp_path / "m.gguf"), "q8_0", hf_dir=str(hf), seed=1)
    llm = LLM.load(str(tmp_path / "m.gguf"))
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Привет, 你好!"}]
    tok = transformers.AutoTokenizer.from_pretrained(str(hf))
    ref = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
    ref = ref["input_ids"] if isinstance(ref, dict) or hasattr(ref, "keys") else ref
    assert llm.chat_ids(msgs) == list(ref)
    g = llm.chat(msgs, max_tokens=4, temperature=0)
    list(g)
    assert g.stats.prompt_tokens == len(ref)


@pytest.mark.parametrize("shape", ["tiny-llama-spm", "tiny-llama"])
def test_streaming_spm_and_llama3_vocabularies(tmp_path, shape):
    """SentencePiece (leading spaces, byte fallback) and Llama-3 BPE: the streamed pieces of a
    mixed text, fed after a prompt, join to exactly the text."""
    from clavis.models import zoo
    p = tmp_path / "m.gguf"
    zoo.make(shape, str(p), "q8_0", seed=2)
    llm = LLM.load(str(p), n_ctx=128)
    prompt = llm.tokenize("Say:")
    ids = llm.tokenize(" " + MIXED, add_special=False)
    dec = StreamDecoder(llm.detokenize_raw, prompt[-4:])
    pieces = [dec.push(i) for i in ids] + [dec.flush()]
    assert all("\ufffd" not in x for x in pieces)
    assert "".join(pieces) == llm.detokenize_raw(prompt + ids)[len(llm.detokenize_raw(prompt)):]
    assert "".join(pieces).strip() == MIXED.strip()


def test_decode_speed_excludes_a_slow_consumer(llm):
    import time
    g = llm.generate([300, 301], max_tokens=6, temperature=0, ignore_eos=True)
    for _ in g:
        time.sleep(0.05)
    assert g.stats.decode_s < 0.05 * 5 and g.stats.decode_tok_s > 0
