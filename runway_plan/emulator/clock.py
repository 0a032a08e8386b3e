"""Clocks for the emulator: the wall clock, or a manual one tests move by hand.

The emulator never runs background threads: every status is computed from a clock reading when
a request arrives, so a test that owns the clock owns time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Seconds since the Unix epoch, as a float (``time.time`` has this shape)."""

    def __call__(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def __call__(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        """Start at ``start`` seconds since the epoch (default 2026-01-01T00:00:00Z)."""
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backward")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now``, which must not be earlier than the current time."""
        with self._lock:
            if now < self._now:
                raise ValueError("a clock does not go backward")
            self._now = now
