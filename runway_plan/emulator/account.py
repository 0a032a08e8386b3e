"""What every resource of the emulated account shares: configuration, replies, credits, time.

:class:`Account` holds the state no single resource owns (the lock, the clock, the balance and
its billing record, the signing secret and the temporary directory) and brings the account up
to an instant with :meth:`Account.advance`, which asks each resource that changes on its own
(tasks, realtime sessions) to catch up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, TypeVar

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import ModelLimits
from runway_plan.emulator.clock import Clock
from runway_plan.emulator.params import limit, page
from runway_plan.emulator.pricing import Pricer, PriceSheet
from runway_plan.emulator.validation import Issue, validate_resource
from runway_plan.plan.live import API_VERSION
from runway_plan.plan.schedule import DAY

__all__ = [
    "API_VERSION",
    "DAY",
    "Account",
    "EmulatorConfig",
    "Reply",
    "credits_json",
    "error",
    "in_last_day",
    "invalid",
    "iso",
    "new_id",
    "s3_error",
    "whole_credits",
]

R = TypeVar("R")


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulated account behaves.

    Times are emulated seconds and are divided by ``speed`` (``speed=1000`` runs a two-minute
    generation in 0.12 s); ``url_ttl`` and ``upload_ttl`` are wall seconds.  ``cadence``, when
    set, shows a task's status and progress only as of the last multiple of ``cadence``
    emulated seconds since it was created, as the API updates about every 5 s.
    ``refund_running_cancel`` refunds tasks cancelled while RUNNING (the SDK documents that it
    does not).
    A realtime session is provisioned for ``session_seconds`` and its credentials are valid
    for ``session_key_seconds`` (emulated seconds, as ``avatar_seconds``); a custom voice is
    PROCESSING for ``voice_seconds``.
    ``public_url`` fixes the base of upload and output URLs (default: the request's own).
    ``seed`` is reported by ``/_emulator/state``; ids are random UUIDs whatever the seed, so
    two emulators never hand out the same id.
    """

    api_key: str | None = None
    tier: int = 1
    credits: int = 10_000
    speed: float = 1.0
    seed: int = 0
    cadence: float | None = None
    queue_seconds: float = 2.0
    url_ttl: float = 86_400.0
    upload_ttl: float = 86_400.0
    avatar_seconds: float = 30.0
    voice_seconds: float = 10.0
    session_seconds: float = 5.0
    session_key_seconds: float = 60.0
    refund_running_cancel: bool = False
    public_url: str | None = None

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.cadence is not None and self.cadence <= 0:
            raise ValueError("cadence must be positive")
        if self.credits < 0:
            raise ValueError("credits cannot be negative")


@dataclass(frozen=True)
class Reply:
    """An API answer: status, JSON data (or raw bytes with ``media_type``) and headers."""

    status: int
    data: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    raw: bytes | None = None


def error(status: int, message: str, issues: list[Issue] | None = None) -> Reply:
    """An API error: ``{"error": message, "issues": [...]}``."""
    data: dict[str, Any] = {"error": message}
    if issues:
        data["issues"] = [issue.to_dict() for issue in issues]
    return Reply(status, data)


def invalid(issues: list[Issue]) -> Reply:
    """400 for a request with ``issues`` (at least one), named by the first."""
    return error(400, f"Invalid request: {issues[0].message}", issues)


def refused(catalog: Catalog, kind: str, body: Any) -> Reply | None:
    """400 for a body that is not a JSON object or breaks the ``kind`` resource's request
    type in ``catalog``; None for a good one."""
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.")
    issues = validate_resource(catalog, kind, body)
    return invalid(issues) if issues else None


def s3_error(status: int, code: str, message: str) -> Reply:
    """An error of the file store, as S3 writes it (XML)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return Reply(status, raw=body, media_type="application/xml")


def iso(moment: float) -> str:
    """An instant as the API writes it: UTC, milliseconds, ``Z``."""
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def credits_json(value: Decimal) -> int | float:
    """Credits as a JSON number: an integer when whole."""
    return int(value) if value == value.to_integral_value() else float(value)


def whole_credits(value: Decimal) -> int:
    """The credits actually taken for a price: rounded up to a whole credit."""
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def in_last_day(created: deque[float], now: float) -> int:
    """How many of the instants in ``created`` (oldest first) fall in the day before ``now``;
    older ones are dropped."""
    while created and created[0] <= now - DAY:
        created.popleft()
    return len(created)


def new_id() -> str:
    """A random UUID4, as the API's ids are: unique across emulator instances whatever their
    seed, so a journal resumed against a restarted emulator never meets another task's id."""
    return str(uuid.uuid4())


class Account:
    """The shared state of one emulated account; each resource keeps its own records.

    ``lock`` guards all state (re-entrant, so one operation may call another).  Resources
    that change with time register a catch-up with :meth:`on_advance`.
    """

    def __init__(
        self,
        config: EmulatorConfig,
        catalog: Catalog,
        clock: Clock,
        prices: PriceSheet,
        pricer: Pricer,
    ) -> None:
        """An account per ``config``, billed by ``pricer`` (``prices`` for sessions)."""
        if config.tier not in catalog.tiers.tiers:
            raise ValueError(f"unknown tier {config.tier}; tiers: {sorted(catalog.tiers.tiers)}")
        self.config = config
        self.catalog = catalog
        self.clock = clock
        self.prices = prices
        self.pricer = pricer
        self.lock = threading.RLock()
        self.directory = Path(tempfile.mkdtemp(prefix="runway-emulator-"))
        self.balance = Decimal(config.credits)
        self.billing: list[tuple[float, str, int]] = []
        """Every charge (positive) and refund (negative): instant, model, credits."""
        self._secret = secrets.token_bytes(32)
        self._catch_ups: list[Callable[[float], None]] = []

    def close(self) -> None:
        """Delete the temporary files (uploads, materialised inputs)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def on_advance(self, catch_up: Callable[[float], None]) -> None:
        """Call ``catch_up(moment)`` on every :meth:`advance`, in registration order."""
        self._catch_ups.append(catch_up)

    def advance(self, now: float | None = None) -> float:
        """Bring every resource up to ``now`` (default: the clock); the instant."""
        with self.lock:
            moment = self.clock() if now is None else now
            for catch_up in self._catch_ups:
                catch_up(moment)
            return moment

    def show(
        self,
        records: Mapping[str, R],
        key: str,
        missing: str,
        view: Callable[[R, float], dict[str, Any]],
    ) -> Reply:
        """``GET`` of one record: its ``view`` now, or 404 with ``missing``."""
        with self.lock:
            now = self.advance()
            record = records.get(key)
            if record is None:
                return error(404, missing)
            return Reply(200, view(record, now))

    def show_page(
        self,
        records: Iterable[R],
        order: Callable[[R], Any],
        newest_first: bool,
        query: Mapping[str, str],
        size: int,
        view: Callable[[R, float], dict[str, Any]],
    ) -> Reply:
        """``GET`` of a list: the page of ``records`` (sorted by ``order``) that ``query``'s
        cursor starts, ``size`` long, each as its ``view`` now, and the next page's cursor."""
        with self.lock:
            now = self.advance()
            items = sorted(records, key=order, reverse=newest_first)
            shown, cursor = page(items, size, query.get("cursor"))
            return Reply(200, {"data": [view(r, now) for r in shown], "nextCursor": cursor})

    def remove(self, records: dict[str, Any], key: str, missing: str) -> Reply:
        """``DELETE`` of one record: 204, or 404 with ``missing``."""
        with self.lock:
            if records.pop(key, None) is None:
                return error(404, missing)
            return Reply(204)

    def newest_page(
        self,
        records: Iterable[Mapping[str, Any]],
        query: Mapping[str, str],
        view: Callable[[Mapping[str, Any], float], dict[str, Any]],
    ) -> Reply:
        """``GET`` of a list newest first (``limit`` and ``cursor``): as :meth:`show_page`,
        ordered by ``createdAt`` then ``id``; 400 for a bad ``limit``."""
        issues: list[Issue] = []
        size = limit(query, issues)
        if issues:
            return invalid(issues)
        return self.show_page(records, lambda r: (r["createdAt"], r["id"]), True, query, size, view)

    def scale(self, seconds: float) -> float:
        """Emulated seconds as wall seconds (divided by the speed)."""
        return seconds / self.config.speed

    def limits(self, group: str) -> ModelLimits:
        """The tier's limits of a limit ``group`` (the default group's when it has none)."""
        tier = self.catalog.tier(self.config.tier)
        return tier.groups.get(group) or tier.groups[self.catalog.tiers.default_group]

    def charge(self, moment: float, model: str, credits: int) -> None:
        """Take ``credits`` (negative: give back) and record it for the usage report."""
        self.balance -= credits
        self.billing.append((moment, model, credits))

    def sign(self, text: str) -> str:
        """An HMAC of ``text`` with the account's secret (URLs, upload policies)."""
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def base(self, base_url: str) -> str:
        """The base of the URLs handed out: ``public_url``, else the request's."""
        return (self.config.public_url or base_url).rstrip("/")

    def unbillable(self, model: str) -> Reply:
        """400 for a request the price sheet cannot price."""
        issue = Issue(
            ("model",),
            f"The emulator cannot bill {model}: its price sheet ({self.prices.origin}) gives "
            f"no price for this request. Give {model} a price with `runway-plan emulate "
            "--prices FILE` (entries as in the catalog's prices.yaml) or, for `run --emulate`, "
            f"`prices: {{{model}: CREDITS}}` in the spec.",
        )
        return error(400, issue.message, [issue])

    def no_credits(self, what: str, cost: Decimal) -> Reply:
        """400 for a ``what`` that may cost more than the balance."""
        return error(
            400,
            f"Not enough credits: this {what} may cost {credits_json(cost)} credits and the "
            f"balance is {int(self.balance)}.",
        )
