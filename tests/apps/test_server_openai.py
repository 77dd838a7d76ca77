"""The official `openai` client against a live `clavis serve` on random-weight models (no mocks).

Answers are checked against the same engines run in this process (greedy LLM decoding and
Whisper decoding are deterministic), so the server must pass text, tokens and counts through
unchanged."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from serving_helpers import ServerProcess, make_llm, make_speech, make_whisper

KEY = "sk-clavis-test-key"
N_CTX = 512


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-models")
    return {"llm": make_llm(d), "whisper": make_whisper(d), "wav": make_speech(d), "dir": d}


@pytest.fixture(scope="module")
def server(models):
    args = ["-m", str(models["llm"]), "--whisper", str(models["whisper"]), "--api-key", KEY,
            "--n-ctx", str(N_CTX), "--threads", "1", "--max-body-mb", "2"]
    with ServerProcess(args, models["dir"]) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base, api_key=KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def local_llm(models):
    from clavis.runtime.llm import LLM
    return LLM.load(str(models["llm"]), n_ctx=N_CTX, threads=1)


MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name three colours."}]


def reference_chat(llm, max_tokens=12):
    gen = llm.chat(MESSAGES, max_tokens=max_tokens, temperature=0.0)
    text = "".join(gen)
    return text, gen.stats


def test_model_list(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["tiny", "auto", "whisper-micro"]


def test_chat_completion_matches_the_engine(client, local_llm):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12,
                                       temperature=0.0)
    text, stats = reference_chat(local_llm)
    assert r.choices[0].message.content == text
    assert r.choices[0].finish_reason == stats.finish_reason
    assert r.usage.prompt_tokens == len(local_llm.chat_ids(MESSAGES)) == stats.prompt_tokens
    assert r.usage.completion_tokens == stats.generated_tokens
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streamed_chat_completion(client, local_llm):
    stream = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12,
                                            temperature=0.0, stream=True,
                                            stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            if c.delta.content:
                pieces.append(c.delta.content)
            finish = c.finish_reason or finish
    text, stats = reference_chat(local_llm)
    assert "".join(pieces) == text and len(pieces) >= 2
    assert finish == stats.finish_reason
    assert usage.completion_tokens == stats.generated_tokens


def test_completion_and_sampling_params(client, local_llm):
    r = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=10,
                                  temperature=0.0)
    ref = local_llm.generate("Once upon a time", max_tokens=10, temperature=0.0)
    assert r.choices[0].text == "".join(ref)
    assert r.usage.completion_tokens == ref.stats.generated_tokens
    # seeded sampling is reproducible through the server
    a = client.completions.create(model="tiny", prompt="abc", max_tokens=16, temperature=1.0,
                                  top_p=0.9, seed=7, extra_body={"ignore_eos": True})
    b = client.completions.create(model="tiny", prompt="abc", max_tokens=16, temperature=1.0,
                                  top_p=0.9, seed=7, extra_body={"ignore_eos": True})
    assert a.choices[0].text == b.choices[0].text and a.usage.completion_tokens == 16
    streamed = client.completions.create(model="tiny", prompt="Once upon a time", max_tokens=10,
                                         temperature=0.0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == r.choices[0].text


def test_json_mode_always_returns_an_object(client):
    r = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=8,
                                       response_format={"type": "json_object"}, seed=1)
    obj = json.loads(r.choices[0].message.content)
    assert isinstance(obj, dict)
    assert r.model_extra["clavis"]["json_mode"] in ("extracted", "retried", "wrapped")


def test_router_model_auto(client):
    r = client.chat.completions.create(model="auto", messages=[
        {"role": "user", "content": "Wie spät ist es in Tokyo?"}])
    assert "Asia/Tokyo" in r.choices[0].message.content
    assert r.model_extra["clavis"]["route"] == "clock"
    r = client.chat.completions.create(model="auto", messages=[
        {"role": "user", "content": "What's the weather in Oslo right now?"}])
    assert r.model_extra["clavis"]["action"] == "needs-network"
    assert "Nothing was sent" in r.choices[0].message.content


def test_transcription_formats(client, models):
    from clavis.runtime.whisper import WhisperModel
    ref_segments, _ = WhisperModel.load(str(models["whisper"]), threads=1).transcribe(
        str(models["wav"]), temperature=(0.3,))
    ref = [s.text for s in ref_segments]
    assert ref, "the reference transcription has no segments"
    wav = models["wav"]
    verbose = client.audio.transcriptions.create(model="whisper-1", file=wav.open("rb"),
                                                 response_format="verbose_json", temperature=0.3)
    assert [s.text for s in verbose.segments] == ref
    assert verbose.duration == pytest.approx(wav.stat().st_size / 2 / 22050, rel=0.05)
    js = client.audio.transcriptions.create(model="whisper-1", file=wav.open("rb"), temperature=0.3)
    assert js.text == "".join(ref).strip()
    text = client.audio.transcriptions.create(model="whisper-1", file=wav.open("rb"),
                                              response_format="text", temperature=0.3)
    assert text.strip() == js.text
    srt = client.audio.transcriptions.create(model="whisper-1", file=wav.open("rb"),
                                             response_format="srt", temperature=0.3)
    vtt = client.audio.transcriptions.create(model="whisper-1", file=wav.open("rb"),
                                             response_format="vtt", temperature=0.3)
    assert srt.startswith("1\n00:00:") and " --> " in srt and srt.count("\n\n") >= len(ref) - 1
    assert vtt.startswith("WEBVTT\n\n00:00:") and "." in vtt.split(" --> ")[0]


def test_overlong_prompt_is_400_with_both_counts(client, local_llm):
    long = "lorem ipsum dolor " * 400
    n = len(local_llm.chat_ids([{"role": "user", "content": long}]))
    assert n > N_CTX
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": long}])
    assert e.value.status_code == 400
    msg = e.value.body["message"] if isinstance(e.value.body, dict) else str(e.value)
    assert str(n) in msg and str(N_CTX) in msg
    assert e.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="tiny", prompt=long)


def test_missing_or_wrong_key_is_401(server):
    for key in ("wrong-key", KEY[:-1]):
        bad = openai.OpenAI(base_url=server.base, api_key=key, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as e:
            bad.models.list()
        assert e.value.status_code == 401
    req = urllib.request.Request(server.base + "/chat/completions", data=b"{}",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401 and json.loads(e.value.read())["error"]["type"] == "authentication_error"


def test_bad_requests_are_openai_errors_not_tracebacks(client, server):
    def post(path, data: bytes, ctype="application/json"):
        req = urllib.request.Request(server.base + path, data=data, headers={
            "Content-Type": ctype, "Authorization": f"Bearer {KEY}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    cases = [(b"{not json", 400, "not valid JSON"),
             (b'{"model": "tiny"}', 400, "messages"),
             (b'{"model": "tiny", "messages": [], "max_tokens": 5}', 400, "messages"),
             (b'{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "temperature": 9}',
              400, "temperature"),
             (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "nope"),
             (b'{"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}', 400, "role"),
             (b'{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "n": 3}', 400, "n"),
             (b'{"model": "tiny", "messages": [{"role": "user", "content": "x"}], '
              b'"tools": [{"type": "function"}]}', 400, "not supported"),
             (b'{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
              400, "image_url")]
    for body, status, needle in cases:
        code, out = post("/chat/completions", body)
        assert code == status, (body, out)
        assert needle in out["error"]["message"] and "Traceback" not in json.dumps(out)
    code, out = post("/chat/completions", b"x" * (3 * 2**20))
    assert code == 413 and "limit" in out["error"]["message"]
    # a chunked body (no Content-Length) is counted as it arrives
    import http.client
    host, port = server.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request("POST", "/v1/chat/completions", body=iter([b"y" * 2**20] * 3), encode_chunked=True,
                 headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 413 and "limit" in json.loads(resp.read())["error"]["message"]
    conn.close()
    code, out = post("/audio/transcriptions", b"{}")
    assert code == 415
    with pytest.raises(openai.BadRequestError, match="response_format"):
        client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"),
                                           response_format="mp3")
    with pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"not audio at all"))
    assert server.health()["status"] == "ok"


def test_auto_hands_off_redacted_only_when_the_server_allows(tmp_path):
    from serving_helpers import FakeRemote
    with FakeRemote(reply="Light rain, 12°C.") as fake:
        with ServerProcess(["--privacy", "allow", "--remote-url", fake.url, "--remote-key", "rk"],
                           tmp_path) as srv:
            c = openai.OpenAI(base_url=srv.base, api_key="none", max_retries=0)
            assert [m.id for m in c.models.list().data] == ["auto"]
            r = c.chat.completions.create(model="auto", messages=[
                {"role": "user", "content": "Hi, I'm writing from jo.doe@example.com"},
                {"role": "user", "content": "Weather in Bergen right now? Call me on +47 912 34 567."}])
            assert r.choices[0].message.content == "Light rain, 12°C."
            assert r.model_extra["clavis"]["action"] == "remote"
            r = c.chat.completions.create(model="auto", messages=[
                {"role": "user", "content": "Who wrote Peer Gynt?"}])
            assert r.model_extra["clavis"]["action"] == "no-model"      # static: never sent
            with pytest.raises(openai.BadRequestError, match="only for /v1/chat/completions"):
                c.completions.create(model="auto", prompt="x")
    assert len(fake.requests) == 1
    sent = json.dumps(fake.requests[0]["body"], ensure_ascii=False)
    assert "912" not in sent and "example.com" not in sent and "[PHONE]" in sent
    assert fake.requests[0]["headers"]["Authorization"] == "Bearer rk"


def test_serve_user_errors_exit_1_with_a_message(server, tmp_path):
    import subprocess
    import sys
    port = server.url.rsplit(":", 1)[1]
    cases = [(["--port", port], "cannot listen on 127.0.0.1:" + port),
             (["-m", str(tmp_path / "missing.gguf")], "missing.gguf"),
             (["--queue", "-1"], "--queue"),
             (["--api-key", " "], "--api-key")]
    for args, needle in cases:
        r = subprocess.run([sys.executable, "-m", "clavis", "serve", *args], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 1 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
