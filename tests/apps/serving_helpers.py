"""Helpers for the serving tests: a fake OpenAI-compatible remote on 127.0.0.1 that records
what it receives (the only "remote" any test talks to)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeRemote:
    """`with FakeRemote(reply="...") as fake:` -> fake.url (.../v1), fake.requests (list of dicts)."""

    def __init__(self, reply: str = "remote says hi"):
        self.reply, self.requests = reply, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                data = json.dumps({"id": "x", "object": "chat.completion", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": outer.reply},
                     "finish_reason": "stop"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# ---- models and a live `clavis serve` subprocess ------------------------------------------------
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402

MICRO_WHISPER = (64, 2, 1, 51865, 80)   # d_model, heads, layers, vocab (multilingual), mels


def make_llm(dirpath: Path) -> Path:
    """A random-weight tiny Llama GGUF (Q8_0), made the way `clavis make-model` makes it."""
    from clavis.models import zoo
    out = dirpath / "tiny.gguf"
    if not out.exists():
        zoo.make("tiny-llama", str(out), quant="q8_0")
    return out


def make_whisper(dirpath: Path) -> Path:
    """A random-weight Whisper HF folder with the real vocabulary and layout but micro dimensions
    (whisper-tiny itself takes minutes per file on two shared cores with random weights)."""
    from clavis.models import whisper_zoo
    out = dirpath / "whisper-micro"
    if not (out / "config.json").exists():
        whisper_zoo.SHAPES.setdefault("whisper-micro", MICRO_WHISPER)
        whisper_zoo.make("whisper-micro", out)
    return out


def make_speech(dirpath: Path, text="Hello, this is a short voice note. Tom drives, we meet at seven.") -> Path:
    out = dirpath / "note.wav"
    if not out.exists():
        if not shutil.which("espeak-ng"):
            subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng"], check=True,
                           capture_output=True, timeout=600)
        subprocess.run(["espeak-ng", "-w", str(out), text], check=True, capture_output=True,
                       timeout=60)
    return out


class ServerProcess:
    """`with ServerProcess(args) as srv:` runs `python -m clavis serve --port 0 ARGS` on 127.0.0.1,
    waits until /health answers; srv.url, srv.base (…/v1), srv.proc, srv.log()."""

    def __init__(self, args: list[str], tmp: Path, start_timeout: float = 180,
                 launcher: list[str] | None = None):
        self.args, self.tmp, self.start_timeout = args, tmp, start_timeout
        self.launcher = launcher or [sys.executable, "-m", "clavis"]   # or python -c CODE
        self.errpath = tmp / f"serve-{os.getpid()}-{time.monotonic_ns()}.log"

    def __enter__(self):
        self.err = open(self.errpath, "w+")
        self.proc = subprocess.Popen([*self.launcher, "serve", "--host", "127.0.0.1",
                                      "--port", "0", *self.args], stdout=subprocess.DEVNULL,
                                     stderr=self.err, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            m = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", self.log())
            if m:
                self.url = m.group(1)
                self.base = self.url + "/v1"
                if self._healthy():
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"clavis serve exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"clavis serve did not start in {self.start_timeout}s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def health(self) -> dict:
        with urllib.request.urlopen(self.url + "/health", timeout=10) as r:
            return json.loads(r.read())

    def log(self) -> str:
        return self.errpath.read_text(errors="replace") if self.errpath.exists() else ""

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.err.close()
