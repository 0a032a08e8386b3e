"""Per-model concurrency slots, handed out in the planner's critical-path order."""

from __future__ import annotations

import asyncio
import heapq
import itertools

__all__ = ["Pool"]


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
