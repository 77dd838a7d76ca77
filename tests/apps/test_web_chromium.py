"""The web page in a real browser: Debian's chromium driven by playwright (no browser download).

Loads the page from a live `clavis serve`, streams a chat reply, uploads a voice note and a
chat export, and saves a screenshot (build/test-artifacts/web.png) for a human to look at."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from serving_helpers import ServerProcess, make_llm, make_speech, make_whisper

CHATS = Path(__file__).resolve().parents[1] / "data" / "chats"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"   # git-ignored
KEY = "page-key"


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True,
                       capture_output=True, timeout=900)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-web")
    args = ["-m", str(make_llm(d)), "--whisper", str(make_whisper(d)), "--threads", "1",
            "--api-key", KEY]
    with ServerProcess(args, d) as srv:
        srv.wav = make_speech(d)
        yield srv


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        pg = browser.new_page(viewport={"width": 1280, "height": 860})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.url + "/")
        pg.errors = errors
        yield pg
        browser.close()


def test_page_loads_and_asks_for_the_key(page):
    assert page.title().startswith("clavis")
    page.wait_for_selector("#status.bad", timeout=30_000)          # no key yet: 401 shown
    assert "API key" in page.inner_text("#status")
    page.fill("#api-key", KEY)
    page.dispatch_event("#api-key", "change")
    page.wait_for_selector("#status.ok", timeout=30_000)
    options = page.eval_on_selector_all("#model option", "els => els.map(e => e.value)")
    assert options == ["tiny", "auto"]
    assert page.inner_text("#api-url").endswith("/v1")


def test_chat_reply_streams_in(page):
    page.select_option("#model", "tiny")
    page.fill("#chat-input", "Tell me a story about a lighthouse.")
    page.click("#send")
    # while streaming the Stop button is live and the reply grows piece by piece
    page.wait_for_selector(".msg.assistant.streaming", timeout=30_000)
    page.wait_for_selector(".msg.assistant.done", timeout=120_000)
    reply = page.inner_text(".msg.assistant.done")
    stats = page.inner_text("#stats")
    assert reply.strip() and "pieces" in stats and "tokens" in stats, (reply, stats)
    assert int(stats.split()[0]) >= 1
    # the router through the page: a clock question is answered offline
    page.select_option("#model", "auto")
    page.fill("#chat-input", "Quelle heure est-il ?")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('.msg.assistant.done').length >= 2",
                           timeout=60_000)
    last = page.locator(".msg.assistant.done").last.inner_text()
    assert "Il est" in last and "router: clock" in last          # answered in French
    assert "answered by the router (clock)" in page.inner_text("#stats")
    assert page.errors == []


def test_chat_export_upload_shows_the_digest(page):
    page.fill("#digest-me", "Tom")
    page.set_input_files("#export-file", str(CHATS / "whatsapp_android_en.txt"))
    page.wait_for_selector("#digest-result.done", timeout=120_000)
    text = page.inner_text("#digest-result")
    assert "Error" not in text, text
    assert "What you missed" in text and "Main points" in text


def test_voice_note_upload_shows_transcript_and_summary(page, server):
    page.set_input_files("#voice-file", str(server.wav))
    page.wait_for_selector("#voice-result.done", timeout=300_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web.png"), full_page=True)
    text = page.inner_text("#voice-result")
    assert "Error" not in text, text
    assert "ranscript" in text and "note.wav" in text            # the client's file name
    assert page.errors == []
