"""Whisper's log-mel spectrogram in vectorized NumPy.

ref: openai/whisper whisper/audio.py (log_mel_spectrogram) and transformers'
WhisperFeatureExtractor: a centred STFT (reflect padding) with a periodic Hann window of n_fft=400
and hop 160, power spectrum, the last frame dropped, a Slaney-style mel filterbank (as librosa and
transformers build it: slaney mel scale, slaney area normalisation, 0-8 kHz), log10 clamped at
1e-10, floored at (max - 8), then (x + 4) / 4.
"""
from __future__ import annotations

import functools

import numpy as np

from clavis import ClavisError

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_SECONDS = 30
N_SAMPLES = CHUNK_SECONDS * SAMPLE_RATE        # 480000 samples in a 30-s window
N_FRAMES = N_SAMPLES // HOP_LENGTH             # 3000 mel frames in a window
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100


def hz_to_mel(f):
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel = 1000.0, 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep,
                    f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel = 1000.0, 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), m * f_sp)


@functools.lru_cache(maxsize=8)
def mel_filters(n_mels: int = 80, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """The [n_mels, n_fft//2 + 1] filterbank (float64), triangles with Slaney area normalisation."""
    if n_mels <= 0:
        raise ClavisError(f"n_mels must be positive, got {n_mels}")
    fft_freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel_pts = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2)
    hz_pts = mel_to_hz(mel_pts)
    width = np.diff(hz_pts)                                   # [n_mels + 1]
    slopes = hz_pts[:, None] - fft_freqs[None, :]             # [n_mels + 2, n_freq]
    down = -slopes[:-2] / width[:-1, None]
    up = slopes[2:] / width[1:, None]
    fb = np.maximum(0.0, np.minimum(down, up))
    fb *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]         # slaney: constant energy per band
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=2)
def _hann(n: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)     # periodic, as torch.hann_window
    w.setflags(write=False)
    return w


def power_spectrogram(audio: np.ndarray, n_fft: int = N_FFT, hop: int = HOP_LENGTH) -> np.ndarray:
    """|STFT|^2 of a centred, reflect-padded signal: [n_fft//2 + 1, 1 + len//hop] float64."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ClavisError(f"audio must be mono (1-D), got shape {x.shape}")
    if x.size <= n_fft // 2:
        x = np.pad(x, (0, n_fft // 2 + 1 - x.size))
    x = np.pad(x, n_fft // 2, mode="reflect")
    n_frames = 1 + (x.size - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, n_fft), strides=(x.strides[0] * hop, x.strides[0]), writeable=False)
    spec = np.fft.rfft(frames * _hann(n_fft), axis=-1)
    return (spec.real ** 2 + spec.imag ** 2).T


def log_mel_spectrogram(audio: np.ndarray, n_mels: int = 80, padding: int = 0,
                        filters: np.ndarray | None = None) -> np.ndarray:
    """Whisper's features: float32 [n_mels, n_frames], n_frames = (len(audio) + padding) // 160.

    `padding` zero samples are appended first (Whisper pads a whole file with 30 s of silence
    before slicing it into windows). `filters` overrides the built-in filterbank (a whisper.cpp
    .bin file carries its own).
    """
    x = np.asarray(audio, dtype=np.float32)
    if padding > 0:
        x = np.pad(x, (0, padding))
    power = power_spectrogram(x)[:, :-1]
    fb = mel_filters(n_mels) if filters is None else np.asarray(filters, dtype=np.float64)
    if fb.shape != (n_mels, N_FFT // 2 + 1):
        raise ClavisError(f"mel filterbank has shape {fb.shape}, expected ({n_mels}, {N_FFT // 2 + 1})")
    mel = fb @ power
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
