"""WhatsApp parser: chat-miner's real exports (an independent project's targets) and our own
fixtures for every quirk, in English, German, Spanish and Russian."""
from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pytest

from clavis import ClavisError
from clavis.apps.chats import parse
from clavis.apps.chats.whatsapp import infer_date_order, parse_text

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "chats" / "chat-miner"
DATA = REPO / "tests" / "data" / "chats"


def _as_target(messages):
    """chat-miner's view: messages with an author, newlines joined by one space."""
    return sorted((m.time.isoformat(), m.author, " ".join(m.text.split("\n")))
                  for m in messages if m.author is not None)


def _target(fmt):
    return sorted((t["timestamp"], t["author"], t["message"])
                  for t in json.loads((SHARED / fmt / "target.json").read_text(encoding="utf-8")))


CHAT_MINER = sorted(p for p in SHARED.glob("*/test*") if p.parent.name != "LICENSE")


def test_shared_data_present():
    assert SHARED.is_dir(), f"shared test data missing: {SHARED}"
    assert {p.parent.name for p in CHAT_MINER} == {"whatsapp", "telegram", "signal", "instagram"}
    assert len(CHAT_MINER) >= 9


@pytest.mark.parametrize("path", CHAT_MINER, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chat_miner_exports_match_targets(path):
    r = parse(path)
    assert r.format == path.parent.name
    assert r.errors == []
    assert _as_target(r.messages) == _target(path.parent.name)
    times = [m.time for m in r.messages]
    assert times == sorted(times), "messages come out in chronological order"


def test_chat_miner_system_lines_are_kept_not_dropped():
    r = parse(SHARED / "whatsapp" / "test_ddmmyy_24hrs.txt")
    system = [m.text for m in r.messages if m.kind == "system"]
    assert '+12 345 578 created group "Groupname"' in system and "You were added" in system
    assert all(m.author is None for m in r.messages if m.kind == "system")
    assert len(r.messages) == 9  # every one of the 9 header lines became a message


def test_date_order_inference():
    assert infer_date_order([("01", "20", "19")], False) == "mdy"
    assert infer_date_order([("20", "01", "19")], False) == "dmy"
    assert infer_date_order([("2019", "01", "20")], False) == "ymd"
    # no field over 12: the order under which the dates run forward wins
    assert infer_date_order([("01", "02", "20"), ("02", "01", "20"), ("03", "01", "20")], False) == "mdy"
    assert infer_date_order([("02", "01", "20"), ("01", "02", "20"), ("01", "03", "20")], True) == "dmy"
    # undecidable: 12-hour files are month-first (US), others day-first
    assert infer_date_order([("01", "02", "20")], True) == "mdy"
    assert infer_date_order([("01", "02", "20")], False) == "dmy"


LANGS = {
    "whatsapp_android_en.txt": dict(author="Dana 🌞", first="Hi all! Ski weekend is on.\nWho is driving?",
                                    colon_text="Me: I can drive, 4 seats", edited="Let's meet at 7 at the gas station"),
    "whatsapp_android_de.txt": dict(author="Anna", first="Hallo zusammen!\nWer fährt?",
                                    colon_text="Ich fahre: 4 Plätze", edited="Treffen um 7 an der Tankstelle"),
    "whatsapp_android_es.txt": dict(author="Pablo", first="¡Hola a todos!\n¿Quién conduce?",
                                    colon_text="Yo: tengo 4 plazas", edited="Nos vemos a las 7 en la gasolinera"),
    "whatsapp_ios_en.txt": dict(author="Dr. Who: Jr.", first="Hi all! Ski weekend is on.\nWho is driving?",
                                colon_text="Me: I can drive", edited="See you at 7"),
    "whatsapp_ios_ru.txt": dict(author="Маша", first="Всем привет!\nКто за рулём?",
                                colon_text="Я: 4 места", edited="Встречаемся в 7"),
    "whatsapp_ios_es.txt": dict(author="☀️ Pablo", first="¡Hola a todos!\n¿Quién conduce?",
                                colon_text="Yo: tengo 4 plazas", edited="Nos vemos a las 7 en la gasolinera"),
    "whatsapp_android_de_12h.txt": dict(author="Anna 🌲", first="Hallo zusammen!\nWer fährt?",
                                        colon_text="Ich fahre: 4 Plätze",
                                        edited="Treffen um 7 an der Tankstelle"),
}

# which fixture exercises which quirk (each in at least three languages; checked below)
QUIRKS = {
    "12-hour clock, suffix after NBSP/NNBSP": ["whatsapp_android_en.txt", "whatsapp_android_es.txt",
                                              "whatsapp_ios_es.txt", "whatsapp_android_de_12h.txt"],
    "bracketed iOS header, LRM marks": ["whatsapp_ios_en.txt", "whatsapp_ios_ru.txt", "whatsapp_ios_es.txt"],
    "phone-number author": ["whatsapp_android_en.txt", "whatsapp_ios_es.txt", "whatsapp_android_de_12h.txt"],
    "emoji in author": ["whatsapp_android_en.txt", "whatsapp_ios_es.txt", "whatsapp_android_de_12h.txt"],
    "day-first dates": ["whatsapp_android_de.txt", "whatsapp_android_es.txt", "whatsapp_ios_ru.txt"],
}


def test_every_quirk_in_three_languages():
    for quirk, names in QUIRKS.items():
        langs = {n.split("_")[2].split(".")[0] for n in names}
        assert len(langs) >= 3, quirk
    for name in {n for ns in QUIRKS.values() for n in ns}:
        text = (DATA / name).read_text(encoding="utf-8")
        if name in QUIRKS["12-hour clock, suffix after NBSP/NNBSP"]:
            assert "\u00a0" in text or "\u202f" in text
        if name in QUIRKS["bracketed iOS header, LRM marks"]:
            assert text.startswith("[") and "\u200e" in text
        if name in QUIRKS["phone-number author"]:
            assert any(m.author and m.author.startswith("+") for m in parse(DATA / name).messages)


@pytest.mark.parametrize("name", sorted(LANGS))
def test_fixture_quirks(name):
    exp = LANGS[name]
    r = parse(DATA / name)
    assert r.format == "whatsapp" and r.errors == []
    msgs = r.messages
    by_kind = {k: [m for m in msgs if m.kind == k] for k in ("text", "system", "media", "voice", "deleted")}
    # 1) the first system line (encryption notice; on iOS "group name: \u200e...") has no author
    assert msgs[0].kind == "system" and msgs[0].author is None
    assert "\u200e" not in msgs[0].text and msgs[0].text
    # 2) multi-line message kept whole, and it is the first real text
    texts = by_kind["text"]
    assert texts[0].text == exp["first"]
    # 3) authors with ':' or emoji, text with ': '
    assert any(m.author == exp["author"] and m.text == exp["colon_text"] for m in texts)
    # 4) media placeholders and deleted markers, with no leftover marker text
    assert by_kind["media"] and by_kind["deleted"]
    assert all(m.text in ("", "the cabin", "die Hütte") for m in by_kind["media"] + by_kind["deleted"])
    # 5) edited marker removed from the text, flag set
    edited = [m for m in msgs if m.edited]
    assert [m.text for m in edited] == [exp["edited"]]
    # 6) voice notes recognised
    assert by_kind["voice"]
    # 7) times: 12-hour suffixes (with NBSP/NNBSP) and 24-hour clocks agree
    assert dt.datetime(2024, 1, 14, 9, 5) <= texts[0].time < dt.datetime(2024, 1, 14, 9, 6)
    assert all(m.time.date() in (dt.date(2024, 1, 14), dt.date(2024, 1, 15)) for m in msgs)
    assert not any("\u200e" in (m.author or "") + m.text for m in msgs)


def test_fixture_midnight_and_pm_hours():
    en = parse(DATA / "whatsapp_android_en.txt").messages
    es = parse(DATA / "whatsapp_android_es.txt").messages
    for msgs in (en, es):
        times = {m.time for m in msgs}
        assert dt.datetime(2024, 1, 15, 0, 0) in times          # 12:00 AM / 12:00 a. m.
        assert dt.datetime(2024, 1, 14, 12, 15) in times        # 12:15 PM / p. m.
        assert dt.datetime(2024, 1, 14, 13, 32) in times        # 1:32 PM
        assert dt.datetime(2024, 1, 15, 20, 0) in times         # 8:00 PM


def test_phone_number_author_and_attachments():
    msgs = parse(DATA / "whatsapp_android_en.txt").messages
    assert msgs[3].author == "+1 555 123 4567"                 # LRE/PDF marks stripped
    assert [m.attachment for m in msgs if m.attachment] == ["IMG-20240115-WA0001.jpg",
                                                             "PTT-20240115-WA0002.opus"]
    ios = parse(DATA / "whatsapp_ios_en.txt").messages
    assert [(m.kind, m.attachment) for m in ios if m.attachment] == [
        ("media", "00000012-PHOTO-2024-01-14-13-31-00.jpg"), ("voice", "00000013-AUDIO-2024-01-14-13-32-00.opus")]
    assert ios[1].kind == "system" and ios[1].text == "Sam created this group"


@pytest.mark.parametrize("name", sorted(LANGS))
def test_zip_of_each_fixture_parses_like_the_txt(tmp_path, name):
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"WhatsApp Chat with {name}", (DATA / name).read_bytes())
        zf.writestr("IMG-20240115-WA0001.jpg", b"jpeg")
    assert [m.to_dict() for m in parse(z).messages] == [m.to_dict() for m in parse(DATA / name).messages]


def test_zip_export_with_media(tmp_path):
    z = tmp_path / "WhatsApp Chat - Ski.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("_chat.txt", (DATA / "whatsapp_ios_en.txt").read_text(encoding="utf-8"))
        zf.writestr("00000013-AUDIO-2024-01-14-13-32-00.opus", b"OggS fake")
    r = parse(z)
    assert r.format == "whatsapp" and r.member == "_chat.txt" and r.source == str(z)
    assert [m.to_dict() for m in r.messages] == [m.to_dict() for m in parse(DATA / "whatsapp_ios_en.txt").messages]


def test_unparsed_lines_are_reported_with_line_numbers():
    text = "junk before the chat\n14.01.24, 09:05 - A: hi\nsecond line\n14.13.24, 09:06 - A: month 13\norphan\n"
    r = parse_text(text, "x.txt")
    assert [(m.author, m.text) for m in r.messages] == [("A", "hi\nsecond line")]
    assert r.errors == [(1, "junk before the chat"), (4, "14.13.24, 09:06 - A: month 13"), (5, "orphan")]


def test_unknown_time_suffix_is_an_error_not_a_guess():
    r = parse_text("1/14/24, 9:02 zz - A: hi\n1/14/24, 9:03 PM - A: ok\n")
    assert [m.text for m in r.messages] == ["ok"]
    assert r.errors == [(1, "1/14/24, 9:02 zz - A: hi")]


def test_bad_files_raise_clavis_errors(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("just some notes\nnothing here\n")
    with pytest.raises(ClavisError, match="notes.txt"):
        parse(p)
    b = tmp_path / "bad.txt"
    b.write_bytes("14.01.24, 09:05 - A: hi\n".encode() + b"\xff\xfe\xfa oops\n")
    with pytest.raises(ClavisError, match=r"bad.txt.*line 2"):
        parse(b, format="whatsapp")
    with pytest.raises(ClavisError, match="no such file"):
        parse(tmp_path / "missing.txt")
    z = tmp_path / "empty.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("photo.jpg", b"x")
    with pytest.raises(ClavisError, match="no .txt chat file"):
        parse(z)


def test_parsing_is_fast(tmp_path):
    import time
    lines = [f"{1 + i % 28:02d}/{1 + i % 12:02d}/23, {i % 24:02d}:{i % 60:02d} - Person {i % 7}: message number {i}"
             for i in range(20_000)]
    t = time.perf_counter()
    r = parse_text("\n".join(lines))
    took = time.perf_counter() - t
    assert len(r.messages) == 20_000 and not r.errors
    assert took < 5.0, f"20k lines took {took:.2f}s"
