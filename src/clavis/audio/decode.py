"""Audio files -> 16 kHz mono float32 samples, through PyAV (FFmpeg's libraries, no system ffmpeg).

Every container a voice message arrives in is read the same way: WhatsApp .opus, Telegram
.oga/.ogg, iPhone .m4a and .caf, .mp3, .wav, .flac, .webm. The first audio stream is decoded,
down-mixed and resampled by libswresample (the same path faster-whisper takes).

A file that cannot be opened, has no audio, decodes to nothing, fails mid-stream, or decodes to
clearly less than its header declares (a truncated download) raises ClavisError naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from clavis import ClavisError

SAMPLE_RATE = 16000
EXTENSIONS = (".opus", ".oga", ".ogg", ".m4a", ".mp4", ".caf", ".mp3", ".wav", ".flac", ".webm",
              ".aac", ".wma", ".mka", ".amr")
# A decode may fall short of the declared duration by codec priming/padding (an Opus or AAC frame,
# ~20-50 ms) and by container rounding; more than this is a truncated file.
_SHORTFALL_S = 0.25
_SHORTFALL_FRAC = 0.02


def _import_av():
    try:
        import av
    except ImportError as e:  # pragma: no cover - av is a dependency of the audio extra
        raise ClavisError("reading audio files needs PyAV: pip install 'clavis[audio]' (or av)") from e
    return av


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode `path` to mono float32 samples in [-1, 1] at `sample_rate` Hz."""
    av = _import_av()
    path = Path(path)
    if not path.exists():
        raise ClavisError(f"{path}: no such file")
    if path.is_dir():
        raise ClavisError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise ClavisError(f"{path}: the file is empty")
    _check_container_intact(path)
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise ClavisError(f"{path}: not a readable audio file ({_why(e)})") from e
    with container:
        if not container.streams.audio:
            raise ClavisError(f"{path}: the file has no audio stream")
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        samples = _decode_stream(av, container, stream, sample_rate, path)
    if samples.size == 0:
        raise ClavisError(f"{path}: no audio could be decoded (empty or corrupt file)")
    got = samples.size / sample_rate
    if declared is not None and got < declared * (1 - _SHORTFALL_FRAC) - _SHORTFALL_S:
        raise ClavisError(f"{path}: truncated or corrupt: the header declares {declared:.2f} s "
                          f"but only {got:.2f} s could be decoded")
    return samples


def _decode_stream(av, container, stream, sample_rate: int, path: Path) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks: list[np.ndarray] = []
    decoded = 0.0

    def take(frames):
        for fr in frames:
            arr = fr.to_ndarray()
            chunks.append(np.ascontiguousarray(arr.reshape(-1), dtype=np.float32))

    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                decoded += frame.samples / max(frame.sample_rate or 1, 1)
                frame.pts = None  # let the resampler keep its own clock
                take(resampler.resample(frame))
        take(resampler.resample(None))  # flush
    except (av.error.FFmpegError, ValueError) as e:
        raise ClavisError(f"{path}: corrupt or truncated audio at {decoded:.2f} s ({_why(e)})") from e
    if not chunks:
        return np.zeros(0, np.float32)
    out = np.concatenate(chunks)
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _declared_seconds(container, stream) -> float | None:
    """The duration the container header promises, when it states one."""
    if stream.duration is not None and stream.time_base is not None:
        sec = float(stream.duration * stream.time_base)
        if sec > 0:
            return sec
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000.0  # AV_TIME_BASE
    return None


def _check_container_intact(path: Path) -> None:
    """Catch cut-off WAV and Ogg files, which FFmpeg decodes up to the cut without complaint."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            _check_wav(path, head, size)
        elif head[:4] == b"OggS":
            f.seek(max(0, size - 65536))
            tail = f.read()
            _check_ogg_tail(path, tail)


def _check_wav(path: Path, head: bytes, size: int) -> None:
    pos = 12
    while pos + 8 <= len(head):
        cid, n = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if cid == b"data":
            if n not in (0, 0xFFFFFFFF) and pos + 8 + n > size:
                raise ClavisError(f"{path}: truncated WAV: the header declares {n} bytes of samples "
                                  f"but the file holds {size - pos - 8}")
            return
        pos += 8 + n + (n & 1)


def _check_ogg_tail(path: Path, tail: bytes) -> None:
    i = tail.rfind(b"OggS")
    if i < 0 or i + 27 > len(tail):
        raise ClavisError(f"{path}: truncated Ogg file (the last page header is cut off)")
    nseg = tail[i + 26]
    seg = tail[i + 27:i + 27 + nseg]
    if len(seg) < nseg or i + 27 + nseg + sum(seg) > len(tail):
        raise ClavisError(f"{path}: truncated Ogg file (the last page is cut off)")


def _why(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).strip() or type(e).__name__


def pad_or_trim(audio: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad or cut `audio` to exactly `length` samples."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, length - audio.shape[-1])]
    return np.pad(audio, pad)
