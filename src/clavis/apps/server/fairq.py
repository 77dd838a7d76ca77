"""A bounded, fair admission queue: at most `max_active` jobs run at once per engine, at most
`max_waiting` wait; waiting jobs are served round-robin across lanes (a lane is one client: the
request's `user` field or its address), first come first served within a lane, so one client
that sends many requests cannot starve the others."""
from __future__ import annotations

import asyncio
import collections
import time


class QueueFull(Exception):
    def __init__(self, retry_after: int, waiting: int):
        super().__init__(f"the queue is full ({waiting} requests waiting); retry in {retry_after}s")
        self.retry_after, self.waiting = retry_after, waiting


class FairQueue:
    def __init__(self, max_active: int = 1, max_waiting: int = 8):
        self.max_active, self.max_waiting = max_active, max_waiting
        self.active = 0
        self.waiting = 0
        self.lanes: collections.OrderedDict[str, collections.deque] = collections.OrderedDict()
        self.served = 0
        self.cancelled = 0            # jobs stopped early because their client went away
        self.avg_seconds = 5.0        # running mean of job durations, for Retry-After
        self._started: dict[int, float] = {}

    def retry_after(self) -> int:
        return max(1, int(self.avg_seconds * (self.waiting + 1) / max(1, self.max_active) + 0.5))

    def snapshot(self) -> dict:
        return {"active": self.active, "waiting": self.waiting, "max_active": self.max_active,
                "max_waiting": self.max_waiting, "served": self.served, "cancelled": self.cancelled,
                "avg_seconds": round(self.avg_seconds, 3)}

    async def acquire(self, lane: str) -> int:
        """Wait for a slot; returns a ticket to pass to release(). Raises QueueFull at once."""
        if self.active < self.max_active and self.waiting == 0:
            return self._grant_now()
        if self.waiting >= self.max_waiting:
            raise QueueFull(self.retry_after(), self.waiting)
        fut = asyncio.get_running_loop().create_future()
        self.lanes.setdefault(lane, collections.deque()).append(fut)
        self.waiting += 1
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(fut.result())          # granted just as we were cancelled: pass it on
            else:
                self._forget(lane, fut)
            raise

    def _grant_now(self) -> int:
        self.active += 1
        ticket = id(object()) ^ int(time.monotonic_ns())
        self._started[ticket] = time.monotonic()
        return ticket

    def _forget(self, lane: str, fut) -> None:
        dq = self.lanes.get(lane)
        if dq and fut in dq:
            dq.remove(fut)
            self.waiting -= 1
            if not dq:
                del self.lanes[lane]

    def release(self, ticket: int) -> None:
        start = self._started.pop(ticket, None)
        if start is None:
            return                                   # released twice: ignore
        self.active -= 1
        self.served += 1
        self.avg_seconds = 0.8 * self.avg_seconds + 0.2 * (time.monotonic() - start)
        self._wake()

    def _wake(self) -> None:
        while self.active < self.max_active and self.lanes:
            lane, dq = next(iter(self.lanes.items()))
            fut = dq.popleft()
            self.waiting -= 1
            if dq:
                self.lanes.move_to_end(lane)         # round robin: this lane goes to the back
            else:
                del self.lanes[lane]
            if fut.cancelled():
                continue
            fut.set_result(self._grant_now())
