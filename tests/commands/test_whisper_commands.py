"""`clavis transcribe` and `clavis voicenote` end to end (random-weight whisper-tiny, q8_0):
exit codes, formats, a folder of notes, and errors that name the file."""
import json
import shutil
import subprocess
import sys

import pytest

SEED = 99


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from clavis.models.whisper_zoo import make
    out = tmp_path_factory.getbasetemp() / "whisper-zoo" / f"whisper-tiny-{SEED}"
    if not (out / "generation_config.json").exists():
        make("whisper-tiny", out, seed=SEED)
    return str(out)


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    d = tmp_path_factory.mktemp("notes")
    espeak, ffmpeg = shutil.which("espeak-ng"), shutil.which("ffmpeg")
    if not (espeak and ffmpeg):
        subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng", "ffmpeg"], check=True,
                       capture_output=True)
        espeak, ffmpeg = shutil.which("espeak-ng"), shutil.which("ffmpeg")
    for name, text in [("a", "The train leaves at nine. Bring the tickets."),
                       ("b", "Dinner is at seven tonight.")]:
        subprocess.run([espeak, "-w", str(d / f"{name}.wav"), text], check=True)
        subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(d / f"{name}.wav"),
                        "-c:a", "libopus", str(d / f"{name}.opus")], check=True)
        (d / f"{name}.wav").unlink()
    return d


def clavis(*args):
    return subprocess.run([sys.executable, "-m", "clavis", *args], capture_output=True, text=True,
                          timeout=600)


FAST = ["--beam-size", "1", "--temperature", "0"]


def test_transcribe_json(model, notes):
    r = clavis("transcribe", str(notes / "a.opus"), "-m", model, "--format", "json", "--language",
               "en", *FAST)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["language"] == "en" and d["file"].endswith("a.opus")
    for s in d["segments"]:
        assert 0 <= s["start"] < s["end"] <= d["duration"] + 0.01
        assert {"avg_logprob", "no_speech_prob", "text"} <= set(s)


def test_transcribe_writes_files_and_timings(model, notes, tmp_path):
    r = clavis("transcribe", str(notes / "a.opus"), str(notes / "b.opus"), "-m", model, "-f",
               "srt", "-o", str(tmp_path), "--timings", *FAST)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a.srt").exists() and (tmp_path / "b.srt").exists()
    assert "encoder" in r.stderr and "ms/step" in r.stderr


def test_voicenote_folder(model, notes):
    r = clavis("voicenote", str(notes), "-m", model, *FAST)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("# Voice note:") == 2
    assert "## Summary (extractive" in r.stdout and "## Transcript" in r.stdout
    assert "voice notes" in r.stderr  # the progress bar over the folder


def test_voicenote_json(model, notes):
    r = clavis("voicenote", str(notes / "b.opus"), "-m", model, "--format", "json", *FAST)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    seg_ids = {s["id"] for s in d["segments"]}
    assert all(set(b["segments"]) <= seg_ids for b in d["bullets"])


def test_errors_name_the_file(model, notes, tmp_path):
    cut = tmp_path / "cut.opus"
    data = (notes / "a.opus").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    r = clavis("transcribe", str(cut), "-m", model, *FAST)
    assert r.returncode == 1 and "cut.opus" in r.stderr and "Traceback" not in r.stderr
    r = clavis("transcribe", str(tmp_path / "missing.mp3"), "-m", model)
    assert r.returncode == 1 and "missing.mp3: no such audio file" in r.stderr
    r = clavis("transcribe", str(notes / "a.opus"), "-m", str(tmp_path / "nomodel"))
    assert r.returncode == 1 and "nomodel: no such model" in r.stderr
    r = clavis("transcribe", str(notes / "a.opus"), "-m", model, "--language", "xx")
    assert r.returncode == 1 and "unknown language 'xx'" in r.stderr
    (tmp_path / "empty").mkdir()
    r = clavis("voicenote", str(tmp_path / "empty"), "-m", model)
    assert r.returncode == 1 and "no audio files" in r.stderr
    r = clavis("voicenote", str(notes / "a.opus"), str(cut), "-m", model, *FAST)
    assert r.returncode == 1 and "cut.opus" in r.stderr and "# Voice note: a.opus" in r.stdout
