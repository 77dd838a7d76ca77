"""Load on a live `clavis serve`: 16 concurrent streams (complete, or 503 + Retry-After when the
queue is full), /health answering throughout, a killed client freeing its slot, and the fair
queue's round-robin order."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time

import openai
import pytest

from serving_helpers import ServerProcess, make_llm

from clavis.apps.server.fairq import FairQueue, QueueFull

QUEUE = 6
TOKENS = 1500


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve-load")
    args = ["-m", str(make_llm(d)), "--threads", "1", "--queue", str(QUEUE), "--n-ctx", "32768"]
    with ServerProcess(args, d) as srv:
        yield srv


def stream_once(base: str, results: list, barrier: threading.Barrier, i: int) -> None:
    client = openai.OpenAI(base_url=base, api_key="none", max_retries=0, timeout=300)
    barrier.wait(timeout=60)
    try:
        stream = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": f"story number {i}"}],
            max_tokens=TOKENS, stream=True, stream_options={"include_usage": True},
            extra_body={"ignore_eos": True}, user=f"client-{i}")
        usage, finish = None, None
        for chunk in stream:
            usage = chunk.usage or usage
            for c in chunk.choices:
                finish = c.finish_reason or finish
        results.append(("ok", usage.completion_tokens, finish))
    except openai.APIStatusError as e:
        results.append(("busy" if e.status_code == 503 else f"http {e.status_code}",
                        e.response.headers.get("retry-after"), e.message))
    except Exception as e:  # noqa: BLE001 - recorded and asserted on below
        results.append(("error", type(e).__name__, str(e)))


def poll_health(srv, stop: threading.Event, seen: list) -> None:
    for _ in range(3000):                       # bounded: at most ~10 minutes
        if stop.is_set():
            return
        t0 = time.monotonic()
        try:
            h = srv.health()
            seen.append((time.monotonic() - t0, h["queues"]["llm"]["waiting"]))
        except Exception as e:  # noqa: BLE001
            seen.append((None, repr(e)))
        time.sleep(0.1)


def test_sixteen_concurrent_streams(server):
    results, seen, stop = [], [], threading.Event()
    poller = threading.Thread(target=poll_health, args=(server, stop, seen), daemon=True)
    poller.start()
    barrier = threading.Barrier(16)
    threads = [threading.Thread(target=stream_once, args=(server.base, results, barrier, i))
               for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    stop.set()
    poller.join(timeout=30)
    assert len(results) == 16 and not any(t.is_alive() for t in threads)
    ok = [r for r in results if r[0] == "ok"]
    busy = [r for r in results if r[0] == "busy"]
    assert len(ok) + len(busy) == 16, results
    print(f"16 streams: {len(ok)} completed, {len(busy)} got 503; {len(seen)} /health polls, "
          f"max latency {max((s[0] or 0) for s in seen):.3f}s")
    assert ok and all(r[1] == TOKENS and r[2] == "length" for r in ok), ok
    assert busy, "with 16 simultaneous 1500-token streams and a queue of 6 some must get 503"
    assert all(r[1] and int(r[1]) >= 1 for r in busy), busy        # Retry-After in seconds
    assert len(ok) >= 1 + QUEUE or len(busy) <= 16 - 1 - QUEUE
    # /health answered all the time, quickly, and saw requests waiting
    assert seen and all(lat is not None for lat, _ in seen), [s for s in seen if s[0] is None]
    assert max(lat for lat, _ in seen) < 5.0
    assert max(w for _, w in seen) >= 1
    q = server.health()["queues"]["llm"]
    assert q["active"] == 0 and q["waiting"] == 0 and q["served"] >= len(ok)


KILLED_CLIENT = r"""
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="none", max_retries=0)
stream = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "go"}],
                                        max_tokens=3500, stream=True, extra_body={"ignore_eos": True})
for i, chunk in enumerate(stream):
    if i == 3:
        print("STREAMING", flush=True)
"""


def test_killing_a_client_mid_stream_frees_its_slot(server):
    before = server.health()["queues"]["llm"]
    p = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, server.base], stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().strip() == "STREAMING"
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        q = server.health()["queues"]["llm"]
        if q["active"] == 0:
            break
        time.sleep(0.05)
    assert q["active"] == 0, q
    assert q["cancelled"] == before["cancelled"] + 1, q   # stopped early, not run to the end
    client = openai.OpenAI(base_url=server.base, api_key="none", max_retries=0, timeout=60)
    t0 = time.monotonic()
    r = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                       max_tokens=4, extra_body={"ignore_eos": True})
    assert r.usage.completion_tokens == 4 and time.monotonic() - t0 < 30


def test_fair_queue_round_robin_and_bounds():
    async def scenario():
        fq = FairQueue(max_active=1, max_waiting=4)
        order = []
        first = await fq.acquire("a")                     # runs at once

        async def job(lane, name):
            t = await fq.acquire(lane)
            order.append(name)
            await asyncio.sleep(0)
            fq.release(t)

        tasks = [asyncio.create_task(job("a", f"a{i}")) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(job("b", "b0")))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull) as e:
            await fq.acquire("c")                         # 4 waiting: full
        assert e.value.retry_after >= 1
        cancelled = asyncio.create_task(fq.acquire("d"))  # would be full too
        await asyncio.sleep(0)
        assert cancelled.done() and isinstance(cancelled.exception(), QueueFull)
        fq.release(first)
        await asyncio.gather(*tasks)
        return order, fq.snapshot()

    order, snap = asyncio.run(scenario())
    assert order == ["a0", "b0", "a1", "a2"]              # b is not starved behind a's burst
    assert snap["active"] == 0 and snap["waiting"] == 0 and snap["served"] == 5


def test_waiting_request_that_gives_up_leaves_the_line():
    async def scenario():
        fq = FairQueue(max_active=1, max_waiting=2)
        t = await fq.acquire("a")
        waiter = asyncio.create_task(fq.acquire("b"))
        await asyncio.sleep(0)
        assert fq.waiting == 1
        waiter.cancel()
        await asyncio.sleep(0)
        assert fq.waiting == 0
        fq.release(t)
        t2 = await asyncio.wait_for(fq.acquire("c"), 1)
        fq.release(t2)
        return json.dumps(fq.snapshot())

    assert '"active": 0' in asyncio.run(scenario())


WAITING_CLIENT = r"""
import sys, openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="none", max_retries=0, timeout=600)
client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": sys.argv[2]}],
                               max_tokens=20000, extra_body={"ignore_eos": True})   # ~30 s
"""


def _wait_for(server, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        q = server.health()["queues"]["llm"]
        if cond(q):
            return q
        time.sleep(0.05)
    raise AssertionError(f"queue never reached the state: {q}")


def test_killed_non_streaming_and_waiting_clients_are_dropped(server):
    before = server.health()["queues"]["llm"]
    running = subprocess.Popen([sys.executable, "-c", WAITING_CLIENT, server.base, "first"])
    waiting = None
    try:
        _wait_for(server, lambda q: q["active"] == 1)
        waiting = subprocess.Popen([sys.executable, "-c", WAITING_CLIENT, server.base, "second"])
        _wait_for(server, lambda q: q["waiting"] == 1)
        waiting.kill()                              # gives up while in line
        _wait_for(server, lambda q: q["waiting"] == 0)
        running.kill()                              # gives up while its answer is generated
        q = _wait_for(server, lambda q: q["active"] == 0)
    finally:
        for p in (running, waiting):
            if p is not None:
                p.kill()
                p.wait(timeout=30)
    assert q["cancelled"] == before["cancelled"] + 1
    assert q["served"] == before["served"] + 1      # the waiting one never ran
