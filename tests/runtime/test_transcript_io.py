"""Transcript files, read back with independent parsers (the `srt` and `webvtt-py` packages)."""
import json

import pytest

from clavis import ClavisError
from clavis.runtime.transcript_io import clock, render, timestamp
from clavis.runtime.whisper import Segment, TranscriptionInfo

SEGS = [Segment(0, 0.0, 2.5, " Hello there.", [1, 2], -0.2, 0.01, 1.1),
        Segment(1, 2.5, 61.04, " Second --> part,\twith a tab.", [3], -0.4, 0.02, 1.2),
        Segment(2, 3599.5, 3725.25, " Past the hour.", [4], -0.3, 0.03, 1.0)]
INFO = TranscriptionInfo("de", 0.93, 3726.0, [("de", 0.93)], source="note.opus",
                         speech_spans=[(0.0, 3726.0)])


def test_srt_reads_back():
    import srt
    subs = list(srt.parse(render("srt", SEGS, INFO)))
    assert [s.index for s in subs] == [1, 2, 3]
    assert [s.start.total_seconds() for s in subs] == [0.0, 2.5, 3599.5]
    assert [s.end.total_seconds() for s in subs] == [2.5, 61.04, 3725.25]
    assert subs[0].content == "Hello there." and "-->" not in subs[1].content


def test_vtt_reads_back(tmp_path):
    import webvtt
    p = tmp_path / "t.vtt"
    p.write_text(render("vtt", SEGS, INFO))
    caps = list(webvtt.read(str(p)))
    assert [c.start for c in caps] == ["00:00:00.000", "00:00:02.500", "00:59:59.500"]
    assert [c.end for c in caps] == ["00:00:02.500", "00:01:01.040", "01:02:05.250"]
    assert caps[2].text == "Past the hour."


def test_tsv_and_txt():
    rows = render("tsv", SEGS).splitlines()
    assert rows[0] == "start\tend\ttext"
    assert rows[2].split("\t") == ["2500", "61040", "Second -> part, with a tab."]
    assert render("txt", SEGS).splitlines() == ["Hello there.", "Second --> part,\twith a tab.",
                                                "Past the hour."]


def test_json_fields():
    d = json.loads(render("json", SEGS, INFO))
    assert d["language"] == "de" and d["language_probability"] == 0.93
    assert d["segments"][1] | {"text": None} == {
        "id": 1, "start": 2.5, "end": 61.04, "text": None, "tokens": [3], "avg_logprob": -0.4,
        "no_speech_prob": 0.02, "compression_ratio": 1.2, "temperature": 0.0}
    assert d["file"] == "note.opus"


def test_time_formats_and_errors():
    assert timestamp(3725.25, sep=",") == "01:02:05,250" and timestamp(5.0) == "00:05.000"
    assert clock(12.9) == "00:12" and clock(3725) == "1:02:05"
    with pytest.raises(ClavisError, match="unknown output format 'doc'"):
        render("doc", SEGS)
