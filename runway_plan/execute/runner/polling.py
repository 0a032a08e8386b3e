"""Polling a task to its end, and the API's health as the polls see it.

A task is polled on a grid of the poll interval from its creation, skipping grid points while
its progress says it is far from done (:func:`next_poll`).  While polls fail, nothing new is
submitted (:meth:`Poller.ready` waits, probing the failed task when no other poll would notice
the API's return) until the API answers again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from runway_plan.execute.client import ApiError, AuthenticationFailed, RunwayClient, TaskNotFound
from runway_plan.execute.runner.results import GenerationResult, RunOptions
from runway_plan.execute.state import State

__all__ = [
    "API_CADENCE",
    "MAX_POLL_GAP",
    "SLOW_FACTOR",
    "Lost",
    "Poller",
    "Unreachable",
    "local_origin",
    "next_poll",
]

API_CADENCE = 5.0
"""Seconds between a task's status updates on the real API (runwayml 5.24.0, ``resources/tasks.py``:
"consumers should not expect updates more frequent than once every five seconds"): the real API is
never polled more often, whatever the options say; only an emulator (in process, or on a
loopback address) may be polled faster, in compressed time."""
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
"""Task statuses that end a task."""
SLOW_FACTOR = 3.0
"""A task running this many times its model's expected latency is reported."""

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


def local_origin(origin: str) -> bool:
    """True for an emulator: in process, or on a loopback address (it may be polled faster
    than :data:`API_CADENCE`, in compressed time)."""
    host = urlsplit(origin).hostname or ""
    if origin == "http://emulator" or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Lost(Exception):
    """A task the journal recorded is gone from the API (deleted, or another account's)."""


class Unreachable(Exception):
    """A task's polls kept failing, or the run gave up waiting: leave it in flight."""


@dataclass(eq=False)
class Poller:
    """Polls one run's tasks and tracks whether the API answers (see the module docstring).

    ``stopped`` is set, and ``stopping()`` true, once the run submits nothing more.
    """

    client: RunwayClient
    state: State
    options: RunOptions
    emit: Callable[[str, str | None, str], None]
    sleep: Callable[[float], Awaitable[None]]
    stopped: asyncio.Event
    stopping: Callable[[], bool]
    throttled: int = field(default=0, init=False)
    """Tasks seen THROTTLED at least once."""
    trouble: str | None = field(default=None, init=False)
    """Why the API cannot be polled, while it cannot."""
    _up: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _probe_task: str | None = field(default=None, init=False, repr=False)
    _failed_probes: int = field(default=0, init=False, repr=False)
    _polling: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._up.set()

    def failing(self, reason: str, task_id: str) -> None:
        """A poll of ``task_id`` failed: submit nothing new until a poll answers."""
        self._probe_task = task_id
        if self.trouble is None:
            self.trouble = reason
            self._up.clear()
            self.emit(
                "note",
                None,
                f"the API cannot be polled ({reason}): nothing new is submitted until it "
                "answers again",
            )

    def answering(self) -> None:
        """A poll answered: submitting resumes if it had stopped."""
        self._failed_probes = 0
        if self.trouble is not None:
            self.trouble = None
            self._up.set()
            self.emit("note", None, "the API answers again: submitting resumes")

    async def ready(self) -> bool:
        """Wait while the API cannot be polled; False when the run stops (or the API stayed
        silent through ``unreachable_polls`` probes) instead.

        With no task being polled to notice the API's return, the task whose poll failed is
        polled as a probe once per poll interval."""
        while self.trouble is not None and not self.stopping():
            if self._failed_probes >= self.options.unreachable_polls:
                return False
            if self._polling == 0 and self._probe_task is not None:
                try:
                    await self.client.task(self._probe_task, attempts=1)
                except TaskNotFound:
                    self.answering()
                except ApiError as exc:
                    self._failed_probes += 1
                    if self._failed_probes >= self.options.unreachable_polls:
                        self.emit("note", None, f"the API stayed unreachable ({exc})")
                        return False
                else:
                    self.answering()
                if self.trouble is None:
                    break
            waits = [
                asyncio.ensure_future(self._up.wait()),
                asyncio.ensure_future(self.stopped.wait()),
                asyncio.ensure_future(self.sleep(self.options.poll_interval)),
            ]
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in pending:
                waiting.cancel()
        return not self.stopping()

    async def poll(
        self,
        key: str,
        result: GenerationResult,
        attempt: tuple[int, int, str],
        anchor: float,
        since: float,
        expected: float | None,
    ) -> dict[str, Any]:
        """Poll a task on a grid from its creation until it is terminal.

        Grid points are skipped while the task's progress says it is far from done, but
        never more than ``MAX_POLL_GAP`` intervals pass between two polls.  ``attempt`` is the
        journal's step id, attempt number and task id; ``since`` the wall-clock time of the
        create and ``expected`` the model's latency (in the run's time), for reporting slow
        tasks and ``task_timeout``.  Raises :class:`Lost` and :class:`Unreachable`."""
        self._polling += 1
        try:
            step_id, number, task_id = attempt
            interval = self.options.poll_interval
            speed = self.options.speed
            timeout = self.options.task_timeout
            k = 1
            last = ""
            seen_throttled = False
            reported_slow = False
            failures = 0
            first: tuple[float, float] | None = None
            latest: tuple[float, float] | None = None
            while True:
                now = time.monotonic()
                k = next_poll(k, now, anchor, interval, first, latest)
                target = anchor + k * interval
                k += 1
                if target > now:
                    await self.sleep(target - now)
                elapsed = time.time() - since
                if timeout is not None and elapsed > timeout / speed:
                    raise Unreachable(
                        f"task {task_id} in flight; gave up waiting after {elapsed * speed:.0f} s "
                        "(task timeout): the next run polls it"
                    )
                if expected and not reported_slow and elapsed > SLOW_FACTOR * expected:
                    reported_slow = True
                    self.emit(
                        "note",
                        key,
                        f"task {task_id} is still {last or 'in flight'} after "
                        f"{elapsed * speed:.0f} s, over {SLOW_FACTOR:.0f}x its model's expected "
                        f"{expected * speed:.0f} s (--task-timeout gives up waiting; it stays "
                        "resumable)",
                    )
                try:
                    task = await self.client.task(task_id, attempts=1)
                except TaskNotFound:
                    raise Lost(task_id) from None
                except AuthenticationFailed as exc:
                    raise Unreachable(f"task {task_id} in flight; polling refused: {exc}") from None
                except ApiError as exc:
                    failures += 1
                    self.failing(str(exc), task_id)
                    if failures >= self.options.unreachable_polls:
                        raise Unreachable(
                            f"task {task_id} in flight; the API stayed unreachable ({exc})"
                        ) from None
                    continue
                failures = 0
                self.answering()
                status = task["status"]
                if status != last:
                    last = status
                    result.status = status
                    if status not in TERMINAL:
                        self.state.mark_task_status(step_id, number, status)
                        self.emit("status", key, f"task {task_id} {status}")
                    if status == "THROTTLED" and not seen_throttled:
                        seen_throttled = True
                        self.throttled += 1
                if status in TERMINAL:
                    return task
                estimate = task.get("estimatedCost")
                if isinstance(estimate, dict) and isinstance(estimate.get("credits"), int | float):
                    result.estimated = Decimal(str(estimate["credits"]))
                value = task.get("progress")
                if status == "RUNNING" and isinstance(value, int | float) and 0 < value < 1:
                    latest = (time.monotonic(), float(value))
                    first = first or latest
        finally:
            self._polling -= 1
