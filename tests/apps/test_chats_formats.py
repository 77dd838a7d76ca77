"""Telegram, Discord, signal-export and Instagram parsers, format detection, `clavis chats parse`."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from clavis import ClavisError
from clavis.apps.chats import parse
from clavis.apps.chats.detect import detect
from clavis.apps.chats.telegram import flatten_text
from clavis.cli import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "chats"
SHARED = REPO.parent / "shared" / "data" / "chats" / "chat-miner"


def test_detect_each_format():
    assert detect(DATA / "telegram_single.json") == "telegram"
    assert detect(SHARED / "telegram" / "test_batch_export.json") == "telegram"
    assert detect(DATA / "discord_export.json") == "discord"
    assert detect(DATA / "signal_export.md") == "signal"
    assert detect(SHARED / "signal" / "test_export.txt") == "signal"
    assert detect(SHARED / "instagram" / "test_export.json") == "instagram"
    assert detect(DATA / "whatsapp_ios_en.txt") == "whatsapp"


def test_telegram_fixture():
    r = parse(DATA / "telegram_single.json")
    m = {x.id: x for x in r.messages}
    assert r.errors == [] and len(m) == 6
    assert m[1].kind == "system" and m[1].author is None and "create group" in m[1].text
    assert m[3].text == "Me! See https://maps.example.org/cabin and bring chains"  # entity list flattened
    assert m[3].reply_to == 2 and m[3].edited and m[3].author == "Dana 🌞"
    assert m[4].kind == "voice" and m[4].attachment.endswith(".ogg")
    assert m[5].kind == "media" and m[5].text == "Привет, Маша"
    assert m[6].author == "Deleted Account"
    assert m[2].time == dt.datetime(2024, 1, 14, 9, 5)  # the export's local 'date', not UTC


def test_telegram_flatten():
    assert flatten_text("x") == "x"
    assert flatten_text(["a ", {"type": "bold", "text": "b"}, " c"]) == "a b c"
    assert flatten_text(None) == ""


def test_telegram_full_account_with_several_chats(tmp_path):
    one = json.loads((DATA / "telegram_single.json").read_text(encoding="utf-8"))
    two = dict(one, id=77, name="Other")
    p = tmp_path / "result.json"
    p.write_text(json.dumps({"about": "x", "chats": {"about": "y", "list": [one, two]}}))
    r = parse(p)
    assert len(r.messages) == 12
    assert len({m.id for m in r.messages}) == 12, "ids stay unique across chats"
    replies = [m for m in r.messages if m.reply_to]
    assert {m.reply_to for m in replies} == {"4242:2", "77:2"}
    assert {m.chat for m in r.messages} == {"Ski weekend", "Other"}


def test_discord_fixture():
    r = parse(DATA / "discord_export.json")
    a, b, c, d = r.messages
    assert (a.author, a.text, a.time) == ("Sam", "Hi all! Who is driving?", dt.datetime(2024, 1, 14, 9, 5))
    assert b.reply_to == a.id and b.edited and b.text == "Ich fahre"
    assert c.kind == "voice" and c.attachment == "voice-message.ogg"
    assert d.kind == "system" and d.author is None


def test_signal_fixture():
    a, b, c = parse(DATA / "signal_export.md").messages
    assert a.text == "Hi all! Ski weekend is on.\nWho is driving?"
    assert (b.kind, b.text, b.attachment) == ("media", "I can drive", "./media/cabin.jpg")
    assert (c.kind, c.attachment) == ("voice", "./media/voice-note.aac")


def test_json_errors_name_the_file_and_line(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"messages": [\n  {"type": "message",\n  oops}\n]}')
    with pytest.raises(ClavisError, match=r"broken.json: line 3"):
        parse(p)
    q = tmp_path / "other.json"
    q.write_text('{"hello": 1}')
    with pytest.raises(ClavisError, match="other.json"):
        parse(q)
    bad = tmp_path / "tg.json"
    bad.write_text(json.dumps({"messages": [{"type": "message", "id": 1, "date": "2024-01-01T10:00:00",
                                             "from": "A", "text": "ok"},
                                            {"type": "message", "id": 2, "from": "A", "text": "no date"}]}))
    r = parse(bad)
    assert [m.text for m in r.messages] == ["ok"]
    assert len(r.errors) == 1 and "messages[1]" in r.errors[0][1]


def test_cli_parse_json_lines(capsys):
    rc = main(["chats", "parse", "--json", str(DATA / "whatsapp_android_de.txt")])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(rows) == 11
    assert set(rows[0]) >= {"id", "time", "author", "text", "kind", "reply_to", "attachment", "edited"}
    assert rows[2]["time"] == "2024-01-14T09:05:00" and rows[2]["text"] == "Hallo zusammen!\nWer fährt?"
    assert dt.datetime.fromisoformat(rows[-1]["time"]) == dt.datetime(2024, 1, 15, 20, 0)
    assert "11 messages" in err


def test_cli_reports_unparsed_lines_and_exit_code(tmp_path, capsys):
    p = tmp_path / "chat.txt"
    p.write_text("header junk\n14.01.24, 09:05 - A: hi\n14.01.24, 09:06 - B: yo\n", encoding="utf-8")
    rc = main(["chats", "parse", str(p)])
    out, err = capsys.readouterr()
    assert rc == 3
    assert "line 1: header junk" in err and "1 line(s) could not be parsed" in err
    assert "A: hi" in out and "B: yo" in out


def test_cli_bad_file_exit_1(tmp_path, capsys):
    rc = main(["chats", "parse", str(tmp_path / "nope.txt")])
    assert rc == 1 and "no such file" in capsys.readouterr().err


def test_instagram_mojibake_is_repaired(tmp_path):
    p = tmp_path / "message_1.json"
    text = "Grüße 😀".encode("utf-8").decode("latin-1")
    p.write_text(json.dumps({"participants": [], "messages": [
        {"sender_name": "J\u00c3\u00b6rg", "timestamp_ms": 1718000000000, "content": text},
        {"sender_name": "Ana", "timestamp_ms": 1717000000000, "audio_files": [{"uri": "a/voice.mp4"}]}]}))
    r = parse(p)
    assert r.format == "instagram"
    assert [(m.author, m.text, m.kind) for m in r.messages] == [("Ana", "", "voice"), ("Jörg", "Grüße 😀", "text")]
