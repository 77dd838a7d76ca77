"""The router: labelled accuracy, the clock tool, redaction, privacy modes, `clavis ask`."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from clavis import ClavisError
from clavis.apps.router import RemoteConfig, Router
from clavis.apps.router.classify import classify
from clavis.apps.router.redact import names_in, redact
from clavis.apps.router.tools import _easter, clock, find_zone

from serving_helpers import FakeRemote

DATA = Path(__file__).resolve().parents[1] / "data" / "router_questions.jsonl"


def load_questions():
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def test_labelled_set_is_big_and_multilingual():
    rows = load_questions()
    assert len(rows) >= 60
    langs = Counter(r["lang"] for r in rows)
    for lang in ("en", "de", "es", "fr", "ru"):
        assert langs[lang] >= 8, langs
    routes = Counter(r["route"] for r in rows)
    assert min(routes[r] for r in ("device", "clock", "live")) >= 12, routes


def test_routing_accuracy_at_least_95_percent():
    rows = load_questions()
    wrong = [(r["question"], r["route"], classify(r["question"]).explain())
             for r in rows if classify(r["question"]).route != r["route"]]
    accuracy = 1 - len(wrong) / len(rows)
    print(f"router accuracy {accuracy:.3f} on {len(rows)} questions")
    assert accuracy >= 0.95, "\n".join(map(str, wrong))


def test_explanation_names_the_cues():
    c = classify("Какая сейчас погода в Москве?")
    assert c.route == "live"
    text = c.explain()
    assert "погода" in text and "сейчас" in text and "threshold" in text


def test_clock_in_a_named_zone():
    noon_utc = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.timezone.utc)
    assert "21:00" in clock("What time is it in Tokyo?", noon_utc).text        # UTC+9, no DST
    assert "Monday" in clock("What day is it?", noon_utc).text
    summer = dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.timezone.utc)
    assert "14:00" in clock("Wie spät ist es in Berlin?", summer).text         # CEST
    assert "15:00" in clock("Который час в Москве?", summer).text             # MSK
    assert find_zone("what time is it in new york?")[1] == "America/New_York"
    assert find_zone("what is the time?") == (None, None)


def test_clock_answers_in_the_question_language():
    t = dt.datetime(2024, 3, 6, 8, 5, tzinfo=dt.timezone.utc)           # a Wednesday
    assert clock("What day is it?", t).text.startswith("It is ")
    assert "Mittwoch, 6. März 2024" in clock("Welcher Tag ist heute?", t).text
    assert "miércoles, 6 de marzo de 2024" in clock("¿Qué día es hoy?", t).text
    assert "mercredi 6 mars 2024" in clock("Quel jour sommes-nous ?", t).text
    assert "среда, 6 марта 2024" in clock("Какое сегодня число?", t).text


def test_days_until_holidays():
    # Easter Sundays as published (independent of the algorithm's derivation).
    for year, day in [(2024, (3, 31)), (2025, (4, 20)), (2026, (4, 5)), (2038, (4, 25))]:
        assert _easter(year) == dt.date(year, *day)
    dec = dt.datetime(2024, 12, 20, 12, tzinfo=dt.timezone.utc)
    assert "5 days until Christmas" in clock("How many days until Christmas?", dec).text


def test_redaction_of_emails_phones_and_names():
    r = redact("Hi, my name is Anna Schmidt. Mail anna.s@example.org or call +49 170 1234567 "
               "or (030) 123-4567. Anna was born 1999-2004? No: on 2024-05-01.", names={"Bob"})
    assert "anna" not in r.text.lower() and "example.org" not in r.text
    assert "1234567" not in r.text and "123-4567" not in r.text
    assert r.text.count("[PHONE]") == 2 and "[EMAIL]" in r.text and "[NAME]" in r.text
    assert "1999-2004" in r.text and "2024-05-01" in r.text      # years and dates stay
    kinds = Counter(k for k, _ in r.found)
    assert kinds["e-mail"] == 1 and kinds["phone number"] == 2
    assert names_in([{"role": "user", "name": "Bob", "content": "меня зовут Иван Петров"}]) >= \
        {"Bob", "Иван", "Петров"}


def test_unknown_mode_is_an_error():
    with pytest.raises(ClavisError, match="privacy mode"):
        Router("sometimes")


def convo(question, intro="I'm asking for a friend. My name is Clara Oswald, call me at 0151 2345 6789."):
    return [{"role": "user", "content": intro}, {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": question}]


def test_local_mode_never_hands_off():
    with FakeRemote() as fake:
        router = Router("local", RemoteConfig(fake.url))
        plan = router.plan(convo("What's the weather in Paris right now, Clara here?"))
        assert plan.route == "live" and plan.action == "needs-network"
        assert "Nothing was sent" in plan.text
        with pytest.raises(ClavisError):
            router.call_remote(plan)
    assert fake.requests == []


def test_allow_mode_sends_only_the_redacted_question():
    with FakeRemote(reply="It is 21°C.") as fake:
        router = Router("allow", RemoteConfig(fake.url, api_key="sk-test", model="m1"))
        plan = router.plan(convo("Clara here (clara@example.com): weather in Paris right now?"))
        assert plan.action == "remote"
        assert router.call_remote(plan) == "It is 21°C."
    assert len(fake.requests) == 1
    req = fake.requests[0]
    assert req["headers"]["Authorization"] == "Bearer sk-test" and req["body"]["model"] == "m1"
    sent = json.dumps(req["body"]["messages"], ensure_ascii=False)
    assert "Clara" not in sent and "clara@example.com" not in sent and "2345" not in sent
    assert "[NAME]" in sent and "[EMAIL]" in sent and "weather in Paris" in sent
    assert "asking for a friend" not in sent      # the rest of the conversation stays home
    assert any("redact" in w for w in plan.why)


def test_ask_mode_asks_and_respects_no():
    seen = []

    def confirm(host, outgoing):
        seen.append((host, outgoing[-1]["content"]))
        return False

    with FakeRemote() as fake:
        plan = Router("ask", RemoteConfig(fake.url), confirm=confirm).plan(convo("latest news?"))
        assert plan.action == "declined"
        yes = Router("ask", RemoteConfig(fake.url), confirm=lambda h, o: True)
        plan2 = yes.plan(convo("latest news?"))
        assert plan2.action == "remote" and yes.call_remote(plan2) == "remote says hi"
    assert seen and seen[0][0] == fake.url.split("/")[2]
    assert len(fake.requests) == 1


def test_static_and_clock_questions_stay_home_in_allow_mode():
    with FakeRemote() as fake:
        router = Router("allow", RemoteConfig(fake.url))
        assert router.plan(convo("What is the capital of France?")).action == "no-model"
        assert router.plan(convo("Quelle heure est-il ?")).action == "clock"
    assert fake.requests == []


def _cli(*args, env_extra=None, stdin=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "clavis", "ask", *args], capture_output=True,
                          text=True, env=env, timeout=120, input=stdin)


def test_cli_ask_exit_codes_and_why():
    r = _cli("--why", "What time is it in Tokyo?")
    assert r.returncode == 0 and "Asia/Tokyo" in r.stdout and "why: route=clock" in r.stderr
    r = _cli("--json", "Какая сейчас погода в Москве?")
    assert r.returncode == 4
    out = json.loads(r.stdout)
    assert out["route"] == "live" and out["action"] == "needs-network" and out["sent"] is None
    r = _cli("--privacy", "allow", "--remote-url", "ftp://x", "weather now?")
    assert r.returncode == 1 and "--remote-url" in r.stderr and "Traceback" not in r.stderr


def test_cli_ask_mode_with_a_live_remote():
    with FakeRemote(reply="Sunny, 25°C.") as fake:
        r = _cli("--privacy", "ask", "--remote-url", fake.url, "--name", "Dana",
                 "Dana asks: weather in Madrid today?", stdin="y\n")
        # stdin is not a terminal: the CLI refuses to assume consent
        assert r.returncode == 4 and "not a terminal" in r.stderr and fake.requests == []
        r = _cli("--privacy", "allow", "--remote-url", fake.url, "--name", "Dana",
                 "Dana asks: weather in Madrid today?")
        assert r.returncode == 0 and "Sunny, 25°C." in r.stdout
    assert "Dana" not in json.dumps(fake.requests[0]["body"])


def test_cli_ask_mode_on_a_terminal_asks_first():
    import pty
    for answer, sent in (("n\n", 0), ("y\n", 1)):
        with FakeRemote(reply="Cloudy.") as fake:
            master, slave = pty.openpty()
            try:
                p = subprocess.Popen([sys.executable, "-m", "clavis", "ask", "--privacy", "ask",
                                      "--remote-url", fake.url, "weather in Rome now?"],
                                     stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
                os.write(master, answer.encode())
                out, err = p.communicate(timeout=120)
            finally:
                os.close(master)
                os.close(slave)
        assert "Send this redacted text to 127.0.0.1" in err and "weather in Rome now?" in err
        assert len(fake.requests) == sent
        assert p.returncode == (0 if sent else 4)
        assert ("Cloudy." in out) == bool(sent)
