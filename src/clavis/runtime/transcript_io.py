"""Transcripts as files: txt, srt, vtt, tsv, json (the formats openai-whisper writes).

Each writer takes the segments (anything with .start .end .text, plus the scores for json) and
the TranscriptionInfo and returns the file's text.
"""
from __future__ import annotations

import json

FORMATS = ("txt", "srt", "vtt", "tsv", "json")


def timestamp(seconds: float, always_hours: bool = False, sep: str = ".") -> str:
    """12.5 -> '00:12.500' (vtt), with hours when needed or asked; sep ',' for srt."""
    ms = int(round(max(seconds, 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    head = f"{h:02d}:" if always_hours or h else ""
    return f"{head}{m:02d}:{s:02d}{sep}{ms:03d}"


def clock(seconds: float) -> str:
    """Compact mm:ss (h:mm:ss past an hour) for citations such as [00:12–00:19]."""
    s = int(max(seconds, 0.0))
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _clean(text: str) -> str:
    return text.strip().replace("-->", "->")


def to_txt(segments, info=None) -> str:
    return "".join(f"{s.text.strip()}\n" for s in segments)


def to_srt(segments, info=None) -> str:
    out = []
    for i, s in enumerate(segments, 1):
        out.append(f"{i}\n{timestamp(s.start, True, ',')} --> {timestamp(s.end, True, ',')}\n"
                   f"{_clean(s.text)}\n")
    return "\n".join(out)


def to_vtt(segments, info=None) -> str:
    out = ["WEBVTT\n"]
    for s in segments:
        out.append(f"{timestamp(s.start)} --> {timestamp(s.end)}\n{_clean(s.text)}\n")
    return "\n".join(out)


def to_tsv(segments, info=None) -> str:
    """start and end in integer milliseconds, as openai-whisper writes them."""
    rows = ["start\tend\ttext"]
    for s in segments:
        text = _clean(s.text).replace("\t", " ")
        rows.append(f"{int(round(s.start * 1000))}\t{int(round(s.end * 1000))}\t{text}")
    return "\n".join(rows) + "\n"


def to_dict(segments, info=None) -> dict:
    segs = [{"id": s.id, "start": s.start, "end": s.end, "text": s.text.strip(),
             "tokens": list(s.tokens), "avg_logprob": round(float(s.avg_logprob), 6),
             "no_speech_prob": round(float(s.no_speech_prob), 6),
             "compression_ratio": round(float(s.compression_ratio), 4),
             "temperature": s.temperature} for s in segments]
    d = {"text": " ".join(s["text"] for s in segs), "segments": segs}
    if info is not None:
        d.update({"language": info.language,
                  "language_probability": round(float(info.language_probability), 6),
                  "duration": round(info.duration, 3), "task": info.task,
                  "speech_spans": [[round(a, 2), round(b, 2)] for a, b in info.speech_spans]})
        if info.source:
            d["file"] = info.source
    return d


def to_json(segments, info=None) -> str:
    return json.dumps(to_dict(segments, info), ensure_ascii=False, indent=2) + "\n"


WRITERS = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt, "tsv": to_tsv, "json": to_json}


def render(fmt: str, segments, info=None) -> str:
    if fmt not in WRITERS:
        from clavis import ClavisError
        raise ClavisError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](list(segments), info)
