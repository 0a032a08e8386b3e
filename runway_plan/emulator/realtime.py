"""``/v1/realtime_sessions`` and ``/v1/avatar_usage``: realtime avatar sessions of an account.

How a session lives is :mod:`runway_plan.emulator.sessions`; this module queues sessions on
the tier's avatar concurrency, enforces the daily cap, bills them and reports their usage.
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from runway_plan.catalog.model import ModelLimits
from runway_plan.emulator.account import (
    Account,
    Reply,
    error,
    in_last_day,
    invalid,
    iso,
    new_id,
    whole_credits,
)
from runway_plan.emulator.avatars import Avatars
from runway_plan.emulator.params import check_range, parse_instant
from runway_plan.emulator.pricing import session_cost
from runway_plan.emulator.sessions import (
    ACTIVE,
    MAX_SESSION_SECONDS,
    SESSION_MODEL,
    RealtimeSession,
)
from runway_plan.emulator.slots import start_queued
from runway_plan.emulator.validation import Issue, validate_resource

__all__ = ["RealtimeSessions"]

_SESSION_GROUP = "avatar"
"""The tier-limit group of realtime sessions when the catalog names none."""


def _end(session: RealtimeSession) -> float:
    return session.end


class RealtimeSessions:
    """The realtime sessions of an account, with custom avatars from ``avatars``."""

    def __init__(self, account: Account, avatars: Avatars) -> None:
        """No sessions yet; catches up on every advance of ``account``."""
        self._account = account
        self._avatars = avatars
        self._by_id: dict[str, RealtimeSession] = {}
        self._queue: deque[RealtimeSession] = deque()
        self._active: list[RealtimeSession] = []
        self._created: deque[float] = deque()
        self._unsettled: list[RealtimeSession] = []
        account.on_advance(self._catch_up)

    def __len__(self) -> int:
        return len(self._by_id)

    def _limits(self) -> ModelLimits:
        catalog = self._account.catalog
        return self._account.limits(catalog.tiers.model_groups.get(SESSION_MODEL, _SESSION_GROUP))

    def _catch_up(self, moment: float) -> None:
        limit = self._limits().max_concurrent
        self._active = start_queued(self._queue, self._active, limit, moment, _end)
        for session in self._unsettled:
            if session.end <= moment:
                self._settle(session, moment)
        self._unsettled = [s for s in self._unsettled if not s.settled]

    def _settle(self, session: RealtimeSession, moment: float) -> None:
        """Give back what the session's call did not use, once it has ended."""
        session.settled = True
        seconds = session.seconds(moment)
        price = self._account.prices.price(SESSION_MODEL)
        used = Decimal(0)
        if seconds is not None and price is not None:
            used = session_cost(price, session.body, seconds) or Decimal(0)
        refund = session.charged - min(session.charged, whole_credits(used))
        if refund:
            self._account.charge(session.end, SESSION_MODEL, -refund)

    def create(self, body: Any) -> Reply:
        """``POST /v1/realtime_sessions``: a session, queued while the tier's avatar
        concurrency is taken (see :mod:`runway_plan.emulator.sessions`)."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        account = self._account
        issues = validate_resource(account.catalog, "realtime_session_create", body)
        with account.lock:
            now = account.advance()
            issues += self._issues(body, now)
            if issues:
                return invalid(issues)
            limits = self._limits()
            created = self._created
            if in_last_day(created, now) >= limits.max_daily:
                return error(
                    429,
                    f"You have reached the daily limit of {limits.max_daily} realtime sessions "
                    f"on tier {account.config.tier}. Try again later.",
                )
            seconds = body.get("maxDuration", MAX_SESSION_SECONDS)
            price = account.prices.price(SESSION_MODEL)
            most = session_cost(price, body, seconds) if price is not None else None
            if most is None:
                return account.unbillable(SESSION_MODEL)
            charged = whole_credits(most)
            if charged > account.balance:
                return account.no_credits("session", most)
            session = RealtimeSession(
                id=new_id(),
                created=now,
                key="sk_" + secrets.token_hex(32),
                ready_after=account.scale(account.config.session_seconds),
                key_life=account.scale(account.config.session_key_seconds),
                call=account.scale(seconds),
                scale=account.config.speed,
                body=body,
                charged=charged,
            )
            created.append(now)
            account.charge(now, SESSION_MODEL, charged)
            self._by_id[session.id] = session
            self._unsettled.append(session)
            self._queue.append(session)
            account.advance(now)
            return Reply(200, {"id": session.id})

    def _issues(self, body: dict[str, Any], now: float) -> list[Issue]:
        issues = []
        seconds = body.get("maxDuration")
        if isinstance(seconds, int) and not 1 <= seconds <= MAX_SESSION_SECONDS:
            issues.append(
                Issue(
                    ("maxDuration",),
                    f"maxDuration must be from 1 to {MAX_SESSION_SECONDS} seconds "
                    "(a session lasts at most 5 minutes)",
                )
            )
        avatar = body.get("avatar")
        avatar_id = avatar.get("avatarId") if isinstance(avatar, dict) else None
        if (
            isinstance(avatar, dict)
            and avatar.get("type") == "custom"
            and isinstance(avatar_id, str)
        ):
            status = self._avatars.status(avatar_id, now)
            if status != "READY":
                why = "does not exist" if status is None else f"is {status}, not READY"
                issues.append(Issue(("avatar", "avatarId"), f"avatar {avatar_id} {why}"))
        return issues

    def get(self, session_id: str) -> Reply:
        """``GET /v1/realtime_sessions/{id}``."""
        return self._account.show(
            self._by_id, session_id, "Realtime session not found.", lambda s, now: s.view(now, iso)
        )

    def cancel(self, session_id: str) -> Reply:
        """``DELETE /v1/realtime_sessions/{id}``: cancel a session that has not ended."""
        with self._account.lock:
            now = self._account.advance()
            session = self._by_id.get(session_id)
            if session is None:
                return error(404, "Realtime session not found.")
            if session.status(now) in ACTIVE:
                session.cancelled = now
                self._account.advance(now)
            return Reply(204)

    def consume(self, session_id: str, authorization: str) -> Reply:
        """``POST /v1/realtime_sessions/{id}/consume`` with ``Authorization: Bearer
        <sessionKey>``: the WebRTC credentials, once; the call starts."""
        with self._account.lock:
            now = self._account.advance()
            session = self._by_id.get(session_id)
            if session is None:
                return error(404, "Realtime session not found.")
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), session.key.encode()
            ):
                return error(401, "Send the session's sessionKey as 'Authorization: Bearer'.")
            status = session.status(now)
            if status != "READY":
                reasons = {
                    "NOT_READY": "The session is not ready yet.",
                    "RUNNING": "The session's credentials were already consumed.",
                    "CANCELLED": "The session was cancelled.",
                }
                default = (
                    "The session's credentials were already consumed."
                    if session.consumed is not None
                    else "The session's credentials have expired."
                )
                return error(409, reasons.get(status, default))
            session.consumed = now
            return Reply(
                200,
                {
                    "url": "wss://realtime.emulator.invalid",
                    "token": secrets.token_urlsafe(32),
                    "roomName": f"realtime-{session.id}",
                },
            )

    def usage(self, query: Mapping[str, str]) -> Reply:
        """``GET /v1/avatar_usage?startDate&endDate``: realtime sessions per UTC day.

        ``startDate`` is inclusive and ``endDate`` exclusive, each a date or an ISO datetime
        (the SDK sends datetimes); the range is at most 90 days.  ``byDay`` has every day the
        range touches.
        """
        issues: list[Issue] = []
        start = parse_instant(query.get("startDate"), "startDate", issues)
        end = parse_instant(query.get("endDate"), "endDate", issues)
        if start is not None and end is not None:
            check_range(start, end, "startDate", "endDate", issues)
        if issues or start is None or end is None:
            return invalid(issues)
        first, last = start.date(), (end - timedelta(microseconds=1)).date()
        days = {first + timedelta(n): [0, 0] for n in range((last - first).days + 1)}
        durations = []
        with self._account.lock:
            now = self._account.advance()
            for session in self._by_id.values():
                if not start.timestamp() <= session.created < end.timestamp():
                    continue
                day = days[datetime.fromtimestamp(session.created, UTC).date()]
                day[0] += 1
                seconds = session.seconds(now)
                if seconds is not None:
                    day[1] += seconds
                    durations.append(seconds)
        return Reply(
            200,
            {
                "avgDurationSeconds": round(sum(durations) / len(durations)) if durations else 0,
                "byDay": [
                    {"date": day.isoformat(), "seconds": seconds, "sessions": sessions}
                    for day, (sessions, seconds) in days.items()
                ],
                "totalSeconds": sum(durations),
                "totalSessions": sum(sessions for sessions, _ in days.values()),
            },
        )
