"""Egress: in `local` mode a whole session of questions opens no socket to anything but loopback.

A child Python process installs an audit hook (PEP 578) that records the address of every
`socket.connect` / `socket.sendto` / DNS lookup, and refuses any non-loopback one. It then runs
every labelled question through the router (plus the `clavis ask` entry point) with a remote
endpoint configured. A control run in `allow` mode shows the hook does see connections.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from serving_helpers import FakeRemote, make_llm

DATA = Path(__file__).resolve().parents[1] / "data" / "router_questions.jsonl"

CHILD = r"""
import json, sys
events = []
LOOPBACK = ("127.", "::1", "localhost")

def hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname"):
        target = args[1] if event in ("socket.connect", "socket.sendto") else args[0]
        host = str(target[0] if isinstance(target, tuple) else target)
        events.append([event, host])
        if not host.startswith(LOOPBACK):
            raise OSError(f"egress test: blocked {event} to {host}")

sys.addaudithook(hook)
mode, remote_url, data, model = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
from clavis.apps.router import RemoteConfig, Router
from clavis.cli import main
router = Router(mode, RemoteConfig(remote_url), names=["Clara"])
actions = {}
history = [{"role": "user", "content": "My name is Clara, my number is +44 20 7946 0958."}]
for line in open(data, encoding="utf-8"):
    q = json.loads(line)["question"]
    history = history[-4:] + [{"role": "user", "content": q}]
    plan = router.plan(history)
    if plan.action == "remote":
        router.call_remote(plan)
    actions[plan.action] = actions.get(plan.action, 0) + 1
    history.append({"role": "assistant", "content": plan.text or "..."})
rc = [main(["ask", "--privacy", mode, "--remote-url", remote_url, "-m", model, "--threads", "1",
            "--max-tokens", "8", q]) for q in
      ("What's the weather in Oslo right now?", "What time is it?", "Who wrote Hamlet?")]
print(json.dumps({"events": events, "actions": actions, "rc": rc}))
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_llm(tmp_path_factory.mktemp("egress"))


def run_session(mode: str, url: str, model) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, mode, url, str(DATA), str(model)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_local_mode_opens_no_socket_at_all(model):
    with FakeRemote() as fake:
        out = run_session("local", fake.url, model)
    assert out["events"] == [], out["events"]
    assert fake.requests == []
    n_live = sum(json.loads(line)["route"] == "live" for line in DATA.read_text("utf-8").splitlines())
    assert out["actions"].get("needs-network", 0) >= n_live - 2   # the live ones were refused
    assert out["rc"] == [4, 0, 0]        # needs the network; clock; the local model answered


def test_control_allow_mode_is_seen_by_the_hook(model):
    with FakeRemote() as fake:
        out = run_session("allow", fake.url, model)
    connects = [host for ev, host in out["events"] if ev == "socket.connect"]
    assert connects and all(h.startswith("127.") for h in connects)
    assert len(fake.requests) == out["actions"]["remote"] + 1       # + the CLI's weather question
    for req in fake.requests:
        sent = json.dumps(req["body"], ensure_ascii=False)
        assert "Clara" not in sent and "7946" not in sent


SERVER_WITH_HOOK = r"""
import sys
log = open(sys.argv[1], "a")

def hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname"):
        target = args[1] if event in ("socket.connect", "socket.sendto") else args[0]
        host = str(target[0] if isinstance(target, tuple) else target)
        log.write(f"{event} {host}\\n")
        log.flush()
        if not host.startswith(("127.", "::1", "localhost")):
            raise OSError(f"egress test: blocked {event} to {host}")

sys.addaudithook(hook)
from clavis.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_server_in_local_mode_opens_no_outgoing_socket(model, tmp_path):
    import openai
    from serving_helpers import ServerProcess
    events = tmp_path / "events.log"
    rows = [json.loads(line) for line in DATA.read_text("utf-8").splitlines()]
    with FakeRemote() as fake:
        launcher = [sys.executable, "-c", SERVER_WITH_HOOK, str(events)]
        with ServerProcess(["-m", str(model), "--threads", "1", "--remote-url", fake.url],
                           tmp_path, launcher=launcher) as srv:
            client = openai.OpenAI(base_url=srv.base, api_key="none", max_retries=0)
            actions = {}
            for row in rows:
                r = client.chat.completions.create(model="auto", max_tokens=4, messages=[
                    {"role": "user", "content": row["question"]}])
                a = r.model_extra["clavis"]["action"]
                actions[a] = actions.get(a, 0) + 1
    assert fake.requests == []
    assert set(actions) == {"local-llm", "clock", "needs-network"}, actions
    logged = events.read_text() if events.exists() else ""
    assert logged == "", logged        # not even a DNS lookup, loopback or not


def test_control_server_hook_sees_an_allowed_hand_off(model, tmp_path):
    import openai
    from serving_helpers import ServerProcess
    events = tmp_path / "events.log"
    with FakeRemote(reply="Sunny.") as fake:
        launcher = [sys.executable, "-c", SERVER_WITH_HOOK, str(events)]
        with ServerProcess(["--privacy", "allow", "--remote-url", fake.url], tmp_path,
                           launcher=launcher) as srv:
            client = openai.OpenAI(base_url=srv.base, api_key="none", max_retries=0)
            r = client.chat.completions.create(model="auto", messages=[
                {"role": "user", "content": "What's the weather in Oslo right now?"}])
    assert r.choices[0].message.content == "Sunny." and len(fake.requests) == 1
    assert "socket.connect 127.0.0.1" in events.read_text()
