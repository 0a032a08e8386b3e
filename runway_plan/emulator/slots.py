"""Concurrency slots: queued work starts in submission order as slots free up.

Tasks of a model and realtime sessions are both limited to so many at once by the tier; the
same rule starts both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["Queued", "start_queued"]


class Queued(Protocol):
    """Work that waits for a slot: when it was created, started and cancelled."""

    created: float
    started: float | None
    cancelled: float | None


Q = TypeVar("Q", bound=Queued)


def start_queued(
    queue: deque[Q], active: list[Q], limit: int, now: float, end: Callable[[Q], float]
) -> list[Q]:
    """Start work from the head of ``queue``, in order, as ``limit`` slots free up by ``now``
    (``end`` says when a started one frees its slot; cancelled work leaves the queue); the
    work that still holds, or may still hold, a slot."""
    while queue:
        head = queue[0]
        if head.cancelled is not None:
            queue.popleft()
            continue
        busy = sorted(end(s) for s in active if end(s) > head.created)
        start = head.created if len(busy) < limit else busy[len(busy) - limit]
        if start > now:
            break
        head.started = start
        queue.popleft()
        active.append(head)
    horizon = queue[0].created if queue else now
    return [s for s in active if end(s) > horizon]
