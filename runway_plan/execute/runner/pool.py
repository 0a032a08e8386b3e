"""Per-model concurrency slots, and when to poll a task next."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math

__all__ = ["MAX_POLL_GAP", "Pool", "next_poll"]

MAX_POLL_GAP = 3
"""Most poll intervals between two polls of one task, however slow its progress looks."""


def next_poll(
    k: int,
    now: float,
    anchor: float,
    interval: float,
    first: tuple[float, float] | None,
    latest: tuple[float, float] | None,
) -> int:
    """The grid point (``anchor + index * interval``) of a task's next poll.

    ``k`` is the point after the last poll; ``first`` and ``latest`` are (time, progress)
    samples of the task.  While progress says the task is far from done, points are
    skipped, but the next poll is never more than ``MAX_POLL_GAP`` intervals after the
    last one (point ``k - 1``), however slowly progress rises.
    """
    if first is None or latest is None or latest[1] <= first[1]:
        return k
    rate = (latest[1] - first[1]) / max(1e-9, latest[0] - first[0])
    remaining = (1.0 - latest[1]) / rate
    wanted = math.ceil((now + 0.75 * remaining - anchor) / interval)
    return max(k, min(wanted, k - 1 + MAX_POLL_GAP))


class Pool:
    """Concurrency slots of one model, handed out by priority (lowest first)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.used = 0
        self.waiters: list[tuple[tuple[float, int], int, asyncio.Future[bool]]] = []
        self._seq = itertools.count()

    async def acquire(self, priority: tuple[float, int]) -> bool:
        """Wait for a slot; False when the pool was stopped instead."""
        if self.used < self.limit and not self.waiters:
            self.used += 1
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiters, (priority, next(self._seq), future))
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.result():
                self.release()
            raise

    def hold(self) -> None:
        """Take a slot at once, over the limit if need be: a task already in flight (resumed
        from the journal) holds one whatever the limit says."""
        self.used += 1

    def release(self) -> None:
        """Free a slot, handing it to the best waiter."""
        while self.waiters:
            _, _, future = heapq.heappop(self.waiters)
            if not future.done():
                future.set_result(True)
                return
        self.used = max(0, self.used - 1)

    def stop(self) -> None:
        """Wake every waiter with False."""
        for _, _, future in self.waiters:
            if not future.done():
                future.set_result(False)
        self.waiters.clear()
