"""Decoding voice-message containers with PyAV. Speech is synthesised with espeak-ng and converted
with the system ffmpeg in the test setup (independent of PyAV's own encoders)."""
import shutil
import subprocess

import numpy as np
import pytest

from clavis import ClavisError
from clavis.audio.decode import load_audio

FORMATS = {  # extension -> ffmpeg encoder options (what the messaging apps send)
    "opus": ["-c:a", "libopus", "-b:a", "48k"],    # WhatsApp
    "oga": ["-c:a", "libopus", "-b:a", "48k"],     # Telegram
    "m4a": ["-c:a", "aac", "-b:a", "96k"],         # iPhone voice memo
    "caf": ["-c:a", "libopus", "-b:a", "48k"],     # iMessage audio (Opus in CAF)
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "webm": ["-c:a", "libopus", "-b:a", "48k"],
    "flac": ["-c:a", "flac"],
}
# Perceptual codecs at these bit rates keep speech at >= ~10 dB SNR sample-for-sample (they do
# not preserve phase perfectly in the high bands); a wrong sample rate, channel mix or offset
# gives ~0 dB and a correlation near 0. Lossless FLAC must be bit-exact up to float rounding.
MIN_SNR_DB = {"flac": 60.0}
LOSSY_MIN_SNR_DB = 8.0
LOSSY_MIN_CORR = 0.9


def _tool(name):
    path = shutil.which(name)
    if path is None:  # install it rather than skip (Debian)
        subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng", "ffmpeg"], check=True,
                       capture_output=True)
        path = shutil.which(name)
    assert path, f"{name} is needed for this test (apt-get install {name})"
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech")
    wav22 = d / "speech22k.wav"
    subprocess.run([_tool("espeak-ng"), "-w", str(wav22),
                    "Hello, this is a voice message about the meeting tomorrow at ten. "
                    "Please bring the quarterly report and the budget numbers."], check=True)
    # the reference: a 48 kHz stereo WAV, so decoding must resample and down-mix
    wav = d / "speech.wav"
    ff = _tool("ffmpeg")
    subprocess.run([ff, "-loglevel", "error", "-y", "-i", str(wav22), "-ar", "48000", "-ac", "2",
                    str(wav)], check=True)
    files = {"wav": wav}
    for ext, opts in FORMATS.items():
        out = d / f"speech.{ext}"
        subprocess.run([ff, "-loglevel", "error", "-y", "-i", str(wav), *opts, str(out)], check=True)
        files[ext] = out
    return files


def _align(x, ref, max_lag=2000):
    """Best lag of x against ref (codec priming delays), then the overlapping parts."""
    core = ref[max_lag:-max_lag]
    c = np.correlate(x[: core.size + 2 * max_lag], core, mode="valid")
    lag = int(np.argmax(c)) - max_lag
    x = x[lag:] if lag >= 0 else np.pad(x, (-lag, 0))
    n = min(x.size, ref.size)
    return x[:n], ref[:n], lag


def test_wav_reference(speech):
    a = load_audio(speech["wav"])
    assert a.dtype == np.float32 and a.ndim == 1
    assert 3.0 < a.size / 16000 < 12.0
    assert 0.05 < np.abs(a).max() <= 1.0


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_container_decodes_same_samples(speech, ext):
    ref = load_audio(speech["wav"])
    got = load_audio(speech[ext])
    assert abs(got.size - ref.size) <= 0.1 * 16000  # same length up to codec framing
    x, r, lag = _align(got, ref)
    assert abs(lag) < 1600, f"{ext}: offset of {lag} samples"
    snr = 10 * np.log10(np.sum(r ** 2) / max(np.sum((x - r) ** 2), 1e-20))
    corr = np.corrcoef(x, r)[0, 1]
    min_snr = MIN_SNR_DB.get(ext, LOSSY_MIN_SNR_DB)
    assert snr >= min_snr, f"{ext}: SNR {snr:.1f} dB < {min_snr}"
    if ext not in MIN_SNR_DB:
        assert corr >= LOSSY_MIN_CORR, f"{ext}: correlation {corr:.3f}"


@pytest.mark.parametrize("ext", ["wav", "opus", "oga", "m4a", "caf", "mp3", "flac", "webm"])
def test_truncated_file_is_a_clear_error(speech, tmp_path, ext):
    data = speech[ext].read_bytes()
    bad = tmp_path / f"cut.{ext}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ClavisError, match=r"cut\." + ext + ".*(truncated|corrupt|readable)"):
        load_audio(bad)


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"not audio at all\n" * 20, "readable"),
                                           (None, "no such file")])
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "note.opus"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ClavisError, match=match) as e:
        load_audio(p)
    assert "note.opus" in str(e.value)


def test_file_without_audio(speech, tmp_path):
    img = tmp_path / "picture.mp4"
    subprocess.run([_tool("ffmpeg"), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=red:s=32x32:d=1", "-an", str(img)], check=True)
    with pytest.raises(ClavisError, match="no audio stream"):
        load_audio(img)
