"""`clavis digest` end to end, and voice notes in a .zip export joining the digest."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clavis.apps.chats import parse
from clavis.apps.digest import digest
from clavis.apps.digest.voice import transcribe_voice_notes
from clavis.cli import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "chats"
EXAMPLE = REPO / "examples" / "chats" / "weekend-trip.txt"
JFK = REPO.parent / "shared" / "data" / "audio" / "jfk.flac"


def test_cli_markdown_and_json(capsys):
    assert main(["digest", str(DATA / "whatsapp_android_de.txt"), "--me", "Anna"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# What you missed in whatsapp_android_de")
    assert "## Decisions" in md and "## Who was active" in md
    assert main(["digest", str(DATA / "telegram_single.json"), "--format", "json", "--last", "1d"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["meta"]["engine"] == "extractive" and d["meta"]["messages"] == 6
    assert any(p["text"] == "https://maps.example.org/cabin" for s in d["sections"] if s["key"] == "links"
               for p in s["points"])


def test_cli_errors_and_exit_codes(tmp_path, capsys):
    assert main(["digest", str(DATA / "whatsapp_ios_en.txt"), "--me", "Nobody"]) == 1
    assert "not an author" in capsys.readouterr().err
    assert main(["digest", str(DATA / "whatsapp_ios_en.txt"), "--since-my-last"]) == 1
    assert "needs --me" in capsys.readouterr().err
    p = tmp_path / "chat.txt"
    p.write_text("junk\n14.01.24, 09:05 - A: we decided to meet on Friday at 10:00\n", encoding="utf-8")
    assert main(["digest", str(p)]) == 3
    out, err = capsys.readouterr()
    assert "lines 1" in err and "## Dates, times and places" in out and "Friday" in out


def test_help_runs_as_a_program():
    for cmd in (["digest", "--help"], ["chats", "parse", "--help"]):
        r = subprocess.run([sys.executable, "-m", "clavis", *cmd], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "usage: clavis" in r.stdout


def test_example_chat_digest():
    r = parse(EXAMPLE)
    assert r.errors == [] and len(r.messages) >= 200
    d = digest(r.messages, me="Sam")
    assert len(d.sections["decisions"]) >= 3 and len(d.sections["for_you"]) >= 3
    assert d.sections["links"] and d.sections["dates"]


class ScriptedWhisper:
    def __init__(self):
        self.calls = []

    def transcribe(self, path, **kw):
        self.calls.append(Path(path).read_bytes())
        seg = type("Seg", (), {"text": " bring the tent, I will pay the deposit "})
        return iter([seg]), None


def _zip_with_voice(tmp_path, audio: bytes) -> Path:
    z = tmp_path / "WhatsApp Chat with Ski.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("WhatsApp Chat with Ski.txt", (DATA / "whatsapp_android_en.txt").read_text(encoding="utf-8"))
        zf.writestr("PTT-20240115-WA0002.opus", audio)
    return z


def test_voice_notes_join_the_digest(tmp_path):
    r = parse(_zip_with_voice(tmp_path, b"fake-opus-bytes"))
    w = ScriptedWhisper()
    assert transcribe_voice_notes(r, w) == []
    assert w.calls == [b"fake-opus-bytes"]
    voice = [m for m in r.messages if m.kind == "voice"]
    assert voice[0].text == "(voice note) bring the tent, I will pay the deposit"
    d = digest(r.messages, me="Dana")
    assert not any("not transcribed" in n for n in d.meta["notes"])
    # a .txt export has no audio: said so, nothing invented
    r2 = parse(DATA / "whatsapp_android_en.txt")
    assert "not in this export" in transcribe_voice_notes(r2, ScriptedWhisper())[0]


def test_voice_notes_with_random_weight_whisper(tmp_path):
    from clavis.models import whisper_zoo
    from clavis.runtime.whisper import WhisperModel

    assert JFK.is_file(), JFK
    model_dir = whisper_zoo.make("whisper-tiny", tmp_path / "wt", seed=3)
    r = parse(_zip_with_voice(tmp_path, JFK.read_bytes()))
    notes = transcribe_voice_notes(r, WhisperModel.load(model_dir), language="en", max_new_tokens=8,
                                   vad_filter=False, temperature=0.0)
    assert notes == []
    d = digest(r.messages, me="Dana")
    assert [s for s in d.to_dict()["sections"]]


def test_telegram_voice_files_next_to_the_export(tmp_path):
    export = tmp_path / "ChatExport"
    (export / "voice_messages").mkdir(parents=True)
    shutil.copy(DATA / "telegram_single.json", export / "result.json")
    (export / "voice_messages" / "audio_1@14-01-2024_12-16-00.ogg").write_bytes(b"ogg")
    r = parse(export / "result.json")
    w = ScriptedWhisper()
    assert transcribe_voice_notes(r, w) == [] and w.calls == [b"ogg"]
    assert [m.text for m in r.messages if m.kind == "voice"] == [
        "(voice note) bring the tent, I will pay the deposit"]
    # an attachment path that leads out of the export folder is not read
    r.messages[3].attachment, r.messages[3].text = "../../etc/passwd", ""
    assert "not in this export" in transcribe_voice_notes(r, ScriptedWhisper())[0]


def test_cli_llm_engine_with_random_weight_model(tmp_path, capsys):
    gguf = tmp_path / "tiny.gguf"
    assert main(["make-model", "tiny-qwen2", "--quant", "q8_0", "-o", str(gguf)]) == 0
    capsys.readouterr()
    rc = main(["digest", str(EXAMPLE), "--me", "Sam", "--since-my-last", "--llm", str(gguf), "--ctx", "2048",
               "--format", "json"])
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert rc == 0 and d["meta"]["engine"] == "llm" and d["meta"]["llm"]["chunks"] >= 2
    assert "digest (map)" in err  # the progress bar
