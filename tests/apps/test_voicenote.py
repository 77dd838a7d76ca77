"""voicenote: every bullet cites segments that exist; the extractive summary says so; bullets an
LLM writes without a valid citation are dropped."""
import json
import re

import pytest

from clavis.apps.voicenote import VoiceNote, spans_for, summarize
from clavis.apps.voicenote.summary import parse_llm_bullets, sentences
from clavis.runtime.whisper import Segment

TEXTS = [" Hi Anna, it's Tom about the budget meeting.", " The budget meeting moves to Thursday at ten.",
         " Please bring the quarterly budget report", " and the numbers from marketing.",
         " Oh and the weather is nice.", " Call me back about the budget, thanks."]
SEGS = [Segment(i, 6.0 * i, 6.0 * i + 5.5, t, [], -0.3, 0.01, 1.2) for i, t in enumerate(TEXTS)]
CITE = re.compile(r"\[(\d\d:\d\d)–(\d\d:\d\d)\]")


def to_s(mmss):
    m, s = mmss.split(":")
    return int(m) * 60 + int(s)


def test_sentences_map_to_segments():
    sents = sentences(SEGS)
    third = [s for s in sents if s.text.startswith("Please bring")][0]
    assert third.segment_ids == [2, 3]          # a sentence spanning two segments cites both
    assert sents[0].segment_ids == [0]


def test_extractive_bullets_cite_real_spans():
    bullets, method, dropped = summarize(SEGS, None, max_bullets=3)
    assert method.startswith("extractive") and dropped == 0
    assert 1 <= len(bullets) <= 3
    assert "weather" not in " ".join(b.text for b in bullets)   # the off-topic line loses
    joined = " ".join(s.text for s in SEGS)
    for b in bullets:
        assert b.text in joined
        for a, z in b.spans:
            assert any(s.start <= a and z <= s.end + 6 for s in SEGS)


def test_markdown_and_json():
    bullets, method, dropped = summarize(SEGS, None)
    note = VoiceNote("msgs/note.opus", 36.0, "en", 0.98, SEGS, bullets, method, dropped)
    md = note.to_markdown()
    assert md.startswith("# Voice note: note.opus (00:36, en)")
    assert "## Summary (extractive" in md and "no LLM" in md
    summary, transcript = md.split("## Transcript")
    for line in summary.splitlines():
        if line.startswith("- "):
            cites = CITE.findall(line)
            assert cites, line
            for a, z in cites:      # each cited span is a transcript line's span (or a merge)
                assert f"[{a}–" in transcript and f"–{z}]" in transcript
    assert all(f"{s.text.strip()}" in transcript for s in SEGS)
    d = note.to_dict()
    json.dumps(d)
    assert d["summary_method"].startswith("extractive") and d["bullets"][0]["cite"].startswith("[")


def test_spans_merge_neighbours_and_ignore_missing():
    assert spans_for([2, 3, 99], SEGS) == [(12.0, 23.5)]
    assert spans_for([0, 5], SEGS) == [(0.0, 5.5), (30.0, 35.5)]
    assert spans_for([42], SEGS) == []


class FakeLLM:
    name = "fake-llm"

    def __init__(self, answer):
        self.answer, self.prompts = answer, []

    def chat(self, messages, **kw):
        self.prompts.append(messages)
        return iter([self.answer[:10], self.answer[10:]])


def test_llm_bullets_without_valid_citations_are_dropped():
    answer = ("Here you go:\n- The meeting moves to Thursday at 10. [2]\n"
              "- Bring the budget report and marketing numbers [3, 4]\n"
              "- Tom won the lottery [17]\n- Call Tom back\n* Budget is the topic [1-2]\n")
    llm = FakeLLM(answer)
    bullets, method, dropped = summarize(SEGS, llm)
    assert method.startswith("LLM: fake-llm")
    assert [b.text for b in bullets] == ["The meeting moves to Thursday at 10.",
                                         "Bring the budget report and marketing numbers",
                                         "Budget is the topic"]
    assert [b.segment_ids for b in bullets] == [[1], [2, 3], [0, 1]]
    assert bullets[1].spans == [(12.0, 23.5)]
    assert dropped == 2
    prompt = llm.prompts[0][1]["content"]
    assert "[1] (00:00–00:05) Hi Anna" in prompt and "[6] (00:30–00:35)" in prompt
    md = VoiceNote("n.ogg", 36, "en", 1.0, SEGS, bullets, method, dropped).to_markdown()
    assert "lottery" not in md and "2 bullet(s) from the model cited no existing segment" in md


@pytest.mark.parametrize("answer", ["", "no bullets at all", "- [3]", "- x [0]"])
def test_llm_garbage_gives_no_bullets(answer):
    bullets, dropped = parse_llm_bullets(answer, len(SEGS))
    assert bullets == []


def test_real_llm_api_random_weights(tmp_path):
    """The LLM path through the real runtime API (a random-weight model: its bullets cite
    nothing valid, so whatever survives must cite existing segments)."""
    from clavis.models import zoo
    from clavis.runtime.llm import LLM
    p = tmp_path / "tiny.gguf"
    zoo.make("tiny-qwen2", str(p), "f32", seed=5)
    llm = LLM.load(str(p), n_ctx=1024)
    bullets, method, dropped = summarize(SEGS, llm)
    assert method.startswith("LLM")
    for b in bullets:
        assert b.spans and all(0 <= i < len(SEGS) for i in b.segment_ids)
