"""Realtime avatar sessions (``/v1/realtime_sessions``) as the emulator plays them.

A session is ``NOT_READY`` while it waits for a slot of the tier's avatar concurrency
(``queued: true``) and while it is provisioned, then ``READY`` with a ``sessionKey`` until its
credentials expire.  ``POST /v1/realtime_sessions/{id}/consume``, with the session key as its
Bearer token, hands out the WebRTC credentials (``url``, ``token``, ``roomName``) once and
starts the call: ``RUNNING`` for the session's ``maxDuration`` (the emulator has nobody on the
line, so a call lasts its whole length), then ``COMPLETED`` with its ``duration``.  Credentials
never consumed expire: the session is then ``COMPLETED`` with a duration of 0 (what the API
does here is not documented).  ``DELETE`` cancels a session that has not ended.

A session is billed from the price sheet's ``gwm1_avatars`` entry: the price of the longest
call is taken at creation, and what the call did not use is given back when the session ends
(all of it when no call started).

Shapes follow the official ``runwayml`` SDK 5.24.0 (``types/realtime_session_*``); the consume
call follows Runway's avatars SDK for React (``@runwayml/avatars-react``, ``consumeSession``).
Sessions last at most five minutes (Runway's Characters documentation), the default when
``maxDuration`` is not given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIVE", "MAX_SESSION_SECONDS", "SESSION_MODEL", "RealtimeSession"]

SESSION_MODEL = "gwm1_avatars"
"""The model of every realtime session (the SDK's only ``model`` literal)."""

MAX_SESSION_SECONDS = 300
"""The longest session, and the length of one whose ``maxDuration`` is not given."""

ACTIVE = ("NOT_READY", "READY", "RUNNING")
"""The statuses of a session that has not ended."""


@dataclass
class RealtimeSession:
    """One session.  Instants are the emulator's clock; ``ready_after``, ``key_life`` and
    ``call`` (the length of a call, ``maxDuration``) are wall seconds (emulated seconds divided
    by the speed), and ``scale`` turns wall seconds back into emulated ones.  ``body`` is the
    create request; ``charged`` the credits taken at creation, of which what the call did not
    use is refunded when it ends (``settled``)."""

    id: str
    created: float
    key: str
    ready_after: float
    key_life: float
    call: float
    scale: float
    body: dict[str, Any]
    charged: int
    started: float | None = None
    consumed: float | None = None
    cancelled: float | None = None
    settled: bool = False

    @property
    def ready_at(self) -> float:
        """When the credentials are handed out (infinity while queued)."""
        return math.inf if self.started is None else self.started + self.ready_after

    @property
    def expires_at(self) -> float:
        """When unconsumed credentials expire."""
        return self.ready_at + self.key_life

    @property
    def end(self) -> float:
        """When the session stops holding a concurrency slot."""
        natural = self.consumed + self.call if self.consumed is not None else self.expires_at
        return natural if self.cancelled is None else min(natural, self.cancelled)

    def status(self, now: float) -> str:
        """The status at ``now``."""
        if self.cancelled is not None and now >= self.cancelled:
            return "CANCELLED"
        if now < self.ready_at:
            return "NOT_READY"
        if now < self.end:
            return "READY" if self.consumed is None else "RUNNING"
        return "COMPLETED"

    def seconds(self, now: float) -> int | None:
        """The measured length of the call in emulated seconds (None before it ends, or when
        it never started)."""
        if self.consumed is None or now < self.end:
            return None
        return round((self.end - self.consumed) * self.scale)

    def view(self, now: float, iso: Callable[[float], str]) -> dict[str, Any]:
        """``GET /v1/realtime_sessions/{id}``: one variant of the SDK's status union."""
        status = self.status(now)
        data: dict[str, Any] = {"id": self.id, "createdAt": iso(self.created), "status": status}
        if status == "NOT_READY":
            data["queued"] = self.started is None
        elif status == "READY":
            data["expiresAt"] = iso(self.expires_at)
            data["sessionKey"] = self.key
        elif status == "COMPLETED":
            data["duration"] = self.seconds(now) or 0
        return data
