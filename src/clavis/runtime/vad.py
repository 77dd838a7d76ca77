"""An energy-based voice-activity gate: which 10-ms frames hold sound loud enough to be speech.

Whisper invents text on silence ("Thank you for watching."). The transcriber asks this gate
before decoding a window: a window without speech is skipped, a window whose speech starts late
is moved to start there, and a segment whose time span holds no speech is dropped.

Frames are 25 ms windows every 10 ms (the mel hop). A frame is speech when its RMS level is
above all of: an absolute floor (-50 dBFS, below any recorded voice), the noise floor (10th
percentile of the file) + 8 dB, and the loudest frame - 45 dB. Speech runs shorter than 100 ms
are clicks and are dropped; the rest are padded by 250 ms on each side (hangover).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 160                  # 10 ms
WIN = 400                  # 25 ms


@dataclass
class VadOptions:
    abs_floor_db: float = -50.0
    above_noise_db: float = 8.0
    below_peak_db: float = 45.0
    min_speech_s: float = 0.10
    pad_s: float = 0.25


def frame_levels_db(audio: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of each 10-ms hop (25-ms window); frame i covers samples around i*160."""
    x = np.asarray(audio, dtype=np.float32)
    n = max(1, int(np.ceil(x.size / HOP)))
    x = np.pad(x, (WIN // 2, n * HOP + WIN - x.size))
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(n) * HOP
    energy = (c[starts + WIN] - c[starts]) / WIN
    return 10 * np.log10(np.maximum(energy, 1e-12))


def speech_mask(audio: np.ndarray, opts: VadOptions | None = None) -> np.ndarray:
    """bool per 10-ms frame: True where someone may be speaking."""
    o = opts or VadOptions()
    db = frame_levels_db(audio)
    if db.size == 0:
        return np.zeros(0, bool)
    thr = max(o.abs_floor_db, float(np.percentile(db, 10)) + o.above_noise_db,
              float(db.max()) - o.below_peak_db)
    m = db > thr
    m = _drop_short_runs(m, int(round(o.min_speech_s * 100)))
    pad = int(round(o.pad_s * 100))
    if pad and m.any():
        k = np.ones(2 * pad + 1)
        m = np.convolve(m.astype(float), k, mode="same") > 0
    return m


def _drop_short_runs(m: np.ndarray, min_len: int) -> np.ndarray:
    if min_len <= 1 or not m.any():
        return m
    d = np.diff(np.concatenate([[0], m.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    out = np.zeros_like(m)
    for s, e in zip(starts, ends):
        if e - s >= min_len:
            out[s:e] = True
    return out


def speech_spans(mask: np.ndarray) -> list[tuple[float, float]]:
    """The mask as (start_s, end_s) spans."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [(s / 100.0, e / 100.0) for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def has_speech(mask: np.ndarray, start_s: float, end_s: float) -> bool:
    a, b = int(np.floor(start_s * 100)), int(np.ceil(end_s * 100))
    return bool(mask[max(a, 0):max(b, a + 1)].any())


def first_speech_frame(mask: np.ndarray, start: int, end: int) -> int | None:
    idx = np.flatnonzero(mask[start:end])
    return None if idx.size == 0 else start + int(idx[0])
