"""`voicenote`: a voice message -> transcript + a bullet summary you can check.

Every bullet cites the time spans of the transcript segments it rests on ([00:12–00:19]) and the
transcript is printed under the bullets, so the reader can verify each point (LLMs hallucinate).
Bullets that cite nothing that exists are dropped. Without an LLM the summary is extractive and
says so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from clavis.apps.voicenote.summary import Bullet, extractive, llm_bullets
from clavis.runtime.transcript_io import clock

EXTRACTIVE_NOTE = "extractive: the key sentences of the transcript by word-frequency scoring, no LLM"


@dataclass
class VoiceNote:
    source: str
    duration: float
    language: str | None
    language_probability: float
    segments: list
    bullets: list[Bullet]
    method: str
    dropped_bullets: int = 0
    timings: dict = field(default_factory=dict)

    def cite(self, b: Bullet) -> str:
        return " ".join(f"[{clock(a)}–{clock(z)}]" for a, z in b.spans)

    def to_markdown(self) -> str:
        name = Path(self.source).name or "voice note"
        lang = f", {self.language}" if self.language else ""
        out = [f"# Voice note: {name} ({clock(self.duration)}{lang})", "",
               f"## Summary ({self.method})", ""]
        if self.bullets:
            out += [f"- {b.text} {self.cite(b)}" for b in self.bullets]
        else:
            out.append("_(nothing to summarise: no speech was found)_")
        if self.dropped_bullets:
            out += ["", f"_{self.dropped_bullets} bullet(s) from the model cited no existing "
                        "segment and were dropped._"]
        out += ["", "## Transcript", ""]
        out += [f"[{clock(s.start)}–{clock(s.end)}] {s.text.strip()}" for s in self.segments]
        if not self.segments:
            out.append("_(no speech)_")
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict:
        return {
            "file": self.source, "duration": round(self.duration, 3), "language": self.language,
            "language_probability": round(float(self.language_probability), 6),
            "summary_method": self.method, "dropped_bullets": self.dropped_bullets,
            "bullets": [{"text": b.text, "segments": b.segment_ids,
                         "spans": [[round(a, 2), round(z, 2)] for a, z in b.spans],
                         "cite": self.cite(b)} for b in self.bullets],
            "segments": [{"id": s.id, "start": s.start, "end": s.end, "text": s.text.strip(),
                          "avg_logprob": round(float(s.avg_logprob), 6),
                          "no_speech_prob": round(float(s.no_speech_prob), 6)}
                         for s in self.segments],
        }


def spans_for(segment_ids, segments) -> list[tuple[float, float]]:
    """Time spans of the cited segments, neighbours merged; ids that do not exist are ignored."""
    by_id = {s.id: s for s in segments}
    spans: list[tuple[float, float]] = []
    for sid in sorted(set(segment_ids)):
        s = by_id.get(sid)
        if s is None:
            continue
        if spans and s.start - spans[-1][1] <= 0.5:
            spans[-1] = (spans[-1][0], max(spans[-1][1], s.end))
        else:
            spans.append((s.start, s.end))
    return spans


def summarize(segments, llm=None, max_bullets: int = 5) -> tuple[list[Bullet], str, int]:
    """(bullets with spans, method description, bullets dropped for citing nothing)."""
    dropped = 0
    if llm is not None and segments:
        bullets, dropped, _ = llm_bullets(llm, segments, clock)
        method = f"LLM: {getattr(llm, 'name', 'model')}; check each point against the transcript"
    else:
        bullets, method = extractive(segments, max_bullets), EXTRACTIVE_NOTE
    kept = []
    for b in bullets:
        b.spans = spans_for(b.segment_ids, segments)
        if b.spans:
            kept.append(b)
        else:
            dropped += 1
    return kept, method, dropped


def voicenote(path, whisper, llm=None, language: str | None = None, beam_size: int = 5,
              max_bullets: int = 5, **transcribe_kw) -> VoiceNote:
    """Transcribe `path` with `whisper` (a runtime.whisper.WhisperModel), then summarise."""
    segs, info = whisper.transcribe(os.fspath(path), language=language, beam_size=beam_size,
                                    **transcribe_kw)
    segments = list(segs)
    bullets, method, dropped = summarize(segments, llm, max_bullets)
    return VoiceNote(source=os.fspath(path), duration=info.duration, language=info.language,
                     language_probability=info.language_probability, segments=segments,
                     bullets=bullets, method=method, dropped_bullets=dropped, timings=info.timings)
