"""Run a blocking generator (an LLM generation, a transcription) in its own thread and hand its
pieces to the event loop. The slot in the engine's queue is held until the thread has really
finished; cancelling (the client went away) makes the thread stop after the current piece and
call gen.close()."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

from clavis.apps.server.fairq import FairQueue


class Run:
    def __init__(self, make_gen: Callable[[], Any], queue: FairQueue, ticket: int):
        self.make_gen, self.fq, self.ticket = make_gen, queue, ticket
        self.loop = asyncio.get_running_loop()
        self.events: asyncio.Queue = asyncio.Queue()
        self.cancelled = threading.Event()
        self.stats = None
        self.checked = 0.0          # when the request's connection was last checked (loop time)
        self.thread = threading.Thread(target=self._work, daemon=True, name="clavis-gen")

    def start(self) -> "Run":
        self.thread.start()
        return self

    def cancel(self) -> None:
        self.cancelled.set()

    def _count_cancel(self) -> None:
        self.fq.cancelled += 1

    def _post(self, kind: str, value=None) -> None:
        self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))

    def _work(self) -> None:
        gen = None
        try:
            gen = self.make_gen()
            for piece in gen:
                if self.cancelled.is_set():
                    self.loop.call_soon_threadsafe(self._count_cancel)
                    break
                self._post("piece", piece)
            self.stats = getattr(gen, "stats", None)
            self._post("done", self.stats)
        except BaseException as e:  # noqa: BLE001 - handed to the request, which answers 4xx/5xx
            self._post("error", e)
        finally:
            if gen is not None and hasattr(gen, "close"):
                try:
                    gen.close()
                except Exception:  # noqa: BLE001
                    pass
            self.loop.call_soon_threadsafe(self.fq.release, self.ticket)

    async def next(self) -> tuple[str, Any]:
        return await self.events.get()


async def acquire(fq: FairQueue, lane: str, request) -> int:
    """Wait for a slot; give up (and free the place in line) if the client disconnects."""
    task = asyncio.ensure_future(fq.acquire(lane))
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.25)
            if done:
                return task.result()
            if request is not None and await request.is_disconnected():
                task.cancel()
                raise ClientGone()
    except asyncio.CancelledError:
        task.cancel()
        raise


class ClientGone(Exception):
    pass


async def run_blocking(queues: list[FairQueue], lane: str, request, fn: Callable[[], Any]):
    """One call of a blocking function holding a slot in each queue (in order), e.g. the Whisper
    and the LLM queue for a voice note. Slots are freed when the work has really finished, even
    if the client left earlier."""
    held: list[tuple[FairQueue, int]] = []

    def release_all(_f=None):
        for q, t in held:
            q.release(t)

    try:
        for q in queues:
            held.append((q, await acquire(q, lane, request)))
        fut = asyncio.get_running_loop().run_in_executor(None, fn)
    except BaseException:
        release_all()
        raise
    fut.add_done_callback(release_all)
    return await asyncio.shield(fut)
