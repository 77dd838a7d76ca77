"""`make demo` step: start `clavis serve` on a model, send one chat request with the official
openai client, print the reply and the page's URL, stop the server. Usage: serve_demo.py MODEL"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import openai


def main(model: str) -> int:
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([sys.executable, "-m", "clavis", "serve", "-m", model, "--port", "0",
                             "--n-ctx", "2048"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        url = None
        for _ in range(1200):                              # up to ~2 minutes to load
            log.seek(0)
            m = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", log.read())
            if m:
                url = m.group(1)
                try:
                    urllib.request.urlopen(url + "/health", timeout=5).close()
                    break
                except OSError:
                    pass
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if url is None or proc.poll() is not None:
            log.seek(0)
            print("clavis serve did not start:\n" + log.read(), file=sys.stderr)
            return 1
        client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0)
        t0 = time.monotonic()
        r = client.chat.completions.create(
            model=client.models.list().data[0].id,
            messages=[{"role": "user", "content": "Name a landmark in Paris."}],
            max_tokens=24, temperature=0.0)
        took = time.monotonic() - t0
        print(f"openai client -> {url}/v1/chat/completions (model {r.model}):")
        print(f"  reply: {r.choices[0].message.content!r}")
        print(f"  usage: {r.usage.prompt_tokens} prompt + {r.usage.completion_tokens} completion "
              f"tokens in {took:.2f}s (random weights: the words are gibberish, the plumbing is real)")
        print(f"  web page: {url}/")
        return 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
