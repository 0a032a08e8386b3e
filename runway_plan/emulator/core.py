"""The emulated Runway account: tasks, limits, credits, uploads, outputs, avatars and documents.

:class:`Emulator` holds all state and answers each API operation with a :class:`Reply`; the
HTTP layer (:mod:`runway_plan.emulator.app`) only translates requests and replies.  Nothing
runs in the background: on every call the emulator reads its clock and brings the account up
to that instant (:meth:`Emulator.advance`), starting THROTTLED tasks in submission order as
slots free, finishing tasks, and refunding failed ones.  A test that injects a
:class:`~runway_plan.emulator.clock.ManualClock` therefore controls every status change.

Task timing, in emulated seconds divided by ``speed``: a task waits THROTTLED while its model
has ``maxConcurrentGenerations`` tasks in flight, then is PENDING for ``queue_seconds``, then
RUNNING for the model's latency (``latency_seconds`` plus ``latency_per_output_second`` times
the output length, from the catalog overlay), then SUCCEEDED or FAILED.  Input-moderation,
asset and provider failures end the task at the end of PENDING instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runway_plan.catalog import OUTPUT_COUNT, Catalog, load_catalog
from runway_plan.catalog.assets import AssetField, find_assets, set_path
from runway_plan.catalog.model import ModelLimits
from runway_plan.compile.durations import DURATION_INPUTS, PASSTHROUGH_ENDPOINTS
from runway_plan.emulator import synth, video
from runway_plan.emulator.clock import Clock, ManualClock, SystemClock
from runway_plan.emulator.faults import FaultPlan
from runway_plan.emulator.ledger import Ledger, LedgerEntry
from runway_plan.emulator.pricing import Pricer, PriceSheet, session_cost, sheet_pricer
from runway_plan.emulator.sessions import (
    ACTIVE,
    MAX_SESSION_SECONDS,
    SESSION_MODEL,
    RealtimeSession,
    start_queued,
)
from runway_plan.emulator.validation import Issue, validate_body, validate_resource
from runway_plan.probe import probe

__all__ = [
    "API_VERSION",
    "FAILURE_CODES",
    "Emulator",
    "EmulatorConfig",
    "Reply",
    "failure_refunded",
]

API_VERSION = "2024-11-06"
DAY = 86_400.0

FAILURE_CODES: tuple[str, ...] = (
    "SAFETY.INPUT.TEXT",
    "SAFETY.INPUT.IMAGE",
    "SAFETY.INPUT.VIDEO",
    "SAFETY.INPUT.AUDIO",
    "SAFETY.OUTPUT.IMAGE",
    "SAFETY.OUTPUT.VIDEO",
    "SAFETY.OUTPUT.AUDIO",
    "SAFETY.OUTPUT.TEXT",
    "INPUT_PREPROCESSING.SAFETY.TEXT",
    "INPUT_PREPROCESSING.INTERNAL",
    "INTERNAL.BAD_OUTPUT.CODE01",
    "ASSET.INVALID",
    "THIRD_PARTY.UNAVAILABLE",
    "INTERNAL",
)
"""Failure codes the reference documents (§6.3); any other string is accepted too."""

_FAILURE_TEXT = {
    "SAFETY.INPUT": "The input did not pass content moderation.",
    "SAFETY.OUTPUT": "The output did not pass content moderation.",
    "INPUT_PREPROCESSING.SAFETY": "The prompt did not pass content moderation.",
    "INPUT_PREPROCESSING.INTERNAL": "Content moderation failed to check the input. Retry later.",
    "INTERNAL.BAD_OUTPUT": "The output did not pass quality checks. Change the prompt or input.",
    "ASSET.INVALID": "An input asset does not meet this model's requirements.",
    "THIRD_PARTY.UNAVAILABLE": "The model's provider is unavailable. Retry later.",
    "INTERNAL": 'Generation failed: {"code":13,"message":"Internal error"}',
}
_EARLY_FAILURES = ("SAFETY.INPUT", "INPUT_PREPROCESSING", "ASSET", "THIRD_PARTY")

_FILE_PATH = re.compile(r"^/_files/(?P<owner>[0-9a-f-]{36})/(?P<name>\d+\.[a-z0-9]+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_USAGE_DAYS = 90
_SESSION_GROUP = "avatar"
"""The tier-limit group of realtime sessions when the catalog names none."""
_RESOLUTIONS = {
    "720p": (1280, 720),
    "768p": (1366, 768),
    "1080p": (1920, 1080),
    "1k": (1920, 1080),
    "2k": (2560, 1440),
    "4k": (3840, 2160),
}
_AUDIO_FORMATS = {
    "mp3": ("mp3", "audio/mpeg"),
    "wav": ("wav", "audio/wav"),
    "ogg_opus": ("ogg", "audio/ogg"),
}
_PRESET_VOICE_DESCRIPTION = "A preset voice of the Runway API."
_IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
_MAX_UPSCALE_PIXELS = 25_300_000
_TTS_CHARS_PER_SECOND = 15
_CACHED_FILES = 256
"""Output files kept in memory; older ones are made again (identically) when fetched."""


def failure_refunded(code: str | None) -> bool:
    """Whether a task that FAILED with ``code`` is refunded: all but ``SAFETY.INPUT.*``."""
    return not (code or "").startswith("SAFETY.INPUT")


def _failure_text(code: str) -> str:
    for prefix in sorted(_FAILURE_TEXT, key=len, reverse=True):
        if code == prefix or code.startswith(prefix + "."):
            return _FAILURE_TEXT[prefix]
    return "Generation failed."


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
    for ``session_key_seconds`` (emulated seconds, as ``avatar_seconds``).
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


def _error(status: int, message: str, issues: list[Issue] | None = None) -> Reply:
    data: dict[str, Any] = {"error": message}
    if issues:
        data["issues"] = [issue.to_dict() for issue in issues]
    return Reply(status, data)


def _s3_error(status: int, code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return Reply(status, raw=body, media_type="application/xml")


def _iso(moment: float) -> str:
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _credits_json(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True, slots=True)
class _Output:
    """One file the emulator serves (a task's output, an avatar's image): what it is and how
    to make it, or the local file whose bytes it serves (``source``)."""

    media: str
    ext: str
    mime: str
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    source: Path | None = None


@dataclass
class _Task:
    id: str
    seq: int
    endpoint: str
    model: str
    body: dict[str, Any]
    request_hash: str
    created: float
    estimated: Decimal
    charged: int
    queue: float
    latency: float
    failure_code: str | None
    outputs: list[_Output]
    fault: str | None = None
    started: float | None = None
    cancelled: float | None = None
    refunded: bool = False
    settled: bool = False
    deleted: bool = False

    @property
    def run_at(self) -> float:
        assert self.started is not None
        return self.started + self.queue

    @property
    def end_at(self) -> float:
        early = self.failure_code is not None and self.failure_code.startswith(_EARLY_FAILURES)
        return self.run_at + (0.0 if early else self.latency)

    @property
    def finish(self) -> float:
        """When the task stops holding a concurrency slot."""
        end = self.end_at if self.started is not None else math.inf
        return min(end, self.cancelled) if self.cancelled is not None else end

    def status(self, moment: float, now: float) -> str:
        if self.cancelled is not None and now >= self.cancelled:
            return "CANCELLED"
        if self.started is None or moment < self.started:
            return "THROTTLED"
        if moment < self.run_at:
            return "PENDING"
        if moment < self.end_at:
            return "RUNNING"
        return "FAILED" if self.failure_code is not None else "SUCCEEDED"


@dataclass
class _Upload:
    id: str
    filename: str
    key: str
    uri: str
    created: float
    expires: float
    path: Path | None = None
    size: int = 0
    mime: str | None = None
    media: str | None = None
    duration: float | None = None
    dims: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class _Asset:
    """A resolved media input: a local copy (when held) and what is known about it."""

    field: AssetField
    local: Path | None = None
    media: str | None = None
    mime: str | None = None
    duration: float | None = None
    dims: tuple[int, int] | None = None


class Emulator:
    """The state of one emulated account and every operation of the API on it.

    Thread-safe: one lock guards all state, so a test may read :meth:`ledger` while a server
    thread answers requests.  Call :meth:`close` (or use it as a context manager) to delete
    the temporary directory that holds uploads.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        prices: PriceSheet | None = None,
        pricer: Pricer | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        """An account per ``config`` (defaults: tier 1, 10,000 credits, real time).

        Tasks are billed from ``prices`` (default: the catalog's) through the planner
        (:func:`sheet_pricer`), or by ``pricer`` when one is given; a task the pricer cannot
        price is refused.  ``faults`` defaults to none, ``clock`` to the wall clock.
        """
        self.config = config or EmulatorConfig()
        self.catalog = catalog or load_catalog()
        self.clock: Clock = clock or SystemClock()
        self.prices = prices or PriceSheet.from_catalog(self.catalog)
        self.pricer: Pricer = pricer or sheet_pricer(self.catalog, self.prices)
        self.faults = faults or FaultPlan()
        self.api_key = self.config.api_key or "key_" + secrets.token_hex(64)
        if self.config.tier not in self.catalog.tiers.tiers:
            raise ValueError(
                f"unknown tier {self.config.tier}; tiers: {sorted(self.catalog.tiers.tiers)}"
            )
        self._lock = threading.RLock()
        self._secret = secrets.token_bytes(32)
        self._dir = Path(tempfile.mkdtemp(prefix="runway-emulator-"))
        self._balance = Decimal(self.config.credits)
        self._tasks: dict[str, _Task] = {}
        self._order: list[_Task] = []
        self._queues: dict[str, deque[_Task]] = {}
        self._active: dict[str, list[_Task]] = {}
        self._unsettled: list[_Task] = []
        self._created: dict[str, deque[float]] = {}
        self._billing: list[tuple[float, str, int]] = []
        self._uploads: dict[str, _Upload] = {}
        self._uploads_by_uri: dict[str, _Upload] = {}
        self._files: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._avatars: dict[str, dict[str, Any]] = {}
        self._documents: dict[str, dict[str, Any]] = {}
        self._sessions: dict[str, RealtimeSession] = {}
        self._session_queue: deque[RealtimeSession] = deque()
        self._session_active: list[RealtimeSession] = []
        self._session_created: deque[float] = deque()
        self._sessions_unsettled: list[RealtimeSession] = []

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Delete the temporary files (uploads, materialised inputs)."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def headers(self) -> dict[str, str]:
        """The headers an API client sends: the key and the API version."""
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": API_VERSION}

    @property
    def balance(self) -> Decimal:
        """The credit balance now."""
        with self._lock:
            self.advance()
            return self._balance

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan (its counters and seed start afresh)."""
        with self._lock:
            self.faults = plan

    # ------------------------------------------------------------------ time

    def _scale(self, seconds: float) -> float:
        return seconds / self.config.speed

    def _limits(self, model: str) -> ModelLimits:
        tier = self.catalog.tier(self.config.tier)
        group = self.catalog.limit_group(model)
        return tier.groups.get(group) or tier.groups[self.catalog.tiers.default_group]

    def advance(self, now: float | None = None) -> float:
        """Bring every task up to ``now`` (default: the clock): start, finish and refund."""
        with self._lock:
            moment = self.clock() if now is None else now
            for model, queue in self._queues.items():
                self._start_queued(model, queue, moment)
            still: list[_Task] = []
            for task in self._unsettled:
                if task.finish <= moment:
                    self._settle(task)
                else:
                    still.append(task)
            self._unsettled = still
            self._session_active = start_queued(
                self._session_queue,
                self._session_active,
                self._session_limits().max_concurrent,
                moment,
            )
            for session in self._sessions_unsettled:
                if session.end <= moment:
                    self._settle_session(session, moment)
            self._sessions_unsettled = [s for s in self._sessions_unsettled if not s.settled]
            return moment

    def _settle_session(self, session: RealtimeSession, moment: float) -> None:
        """Give back what the session's call did not use, once it has ended."""
        session.settled = True
        seconds = session.seconds(moment)
        price = self.prices.price(SESSION_MODEL)
        used = Decimal(0)
        if seconds is not None and price is not None:
            used = session_cost(price, session.body, seconds) or Decimal(0)
        refund = session.charged - min(
            session.charged, int(used.to_integral_value(rounding=ROUND_CEILING))
        )
        if refund:
            self._balance += refund
            self._billing.append((session.end, SESSION_MODEL, -refund))

    def _start_queued(self, model: str, queue: deque[_Task], now: float) -> None:
        limit = self._limits(model).max_concurrent
        active = self._active.setdefault(model, [])
        while queue:
            head = queue[0]
            if head.cancelled is not None:
                queue.popleft()
                continue
            busy = sorted(t.finish for t in active if t.finish > head.created)
            start = head.created if len(busy) < limit else busy[len(busy) - limit]
            if start > now:
                break
            head.started = max(start, head.created)
            queue.popleft()
            active.append(head)
        horizon = queue[0].created if queue else now
        self._active[model] = [t for t in active if t.finish > horizon]

    def _settle(self, task: _Task) -> None:
        if task.settled:
            return
        task.settled = True
        if task.cancelled is not None:
            return
        if task.failure_code is not None and failure_refunded(task.failure_code):
            self._refund(task, task.end_at)

    def _refund(self, task: _Task, moment: float) -> None:
        if task.refunded:
            return
        task.refunded = True
        self._balance += task.charged
        self._billing.append((moment, task.model, -task.charged))

    def _observed(self, task: _Task, now: float) -> float:
        cadence = self.config.cadence
        if cadence is None:
            return now
        step = self._scale(cadence)
        return task.created + math.floor((now - task.created) / step + 1e-9) * step

    # ------------------------------------------------------------------ tasks

    def create_task(
        self,
        endpoint: str,
        body: Any,
        base_url: str,
        *,
        failure_code: str | None = None,
        fault: str | None = None,
    ) -> Reply:
        """``POST /v1/{endpoint}``: validate, check limits and credits, create the task."""
        if endpoint not in self.catalog.endpoints:
            return _error(404, f"No such endpoint: /v1/{endpoint}")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        with self._lock:
            now = self.advance()
            model = body.get("model")
            if not isinstance(model, str):
                issue = Issue(
                    ("model",),
                    "missing required field 'model'" if model is None else "model must be a string",
                )
                return _error(400, f"Invalid request: {issue.message}", [issue])
            assets, issues, checked = self._resolve(endpoint, model, body, now)
            issues = validate_body(self.catalog, endpoint, checked) + issues
            if issues:
                more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
                return _error(400, f"Invalid request: {issues[0].message}{more}", issues)
            limits = self._limits(model)
            created = self._created.setdefault(model, deque())
            while created and created[0] <= now - DAY:
                created.popleft()
            if len(created) >= limits.max_daily:
                return _error(
                    429,
                    f"You have reached the daily generation limit of {limits.max_daily} for "
                    f"{model} on tier {self.config.tier}. Try again later.",
                )
            pricing_body = dict(body)
            for asset in assets:
                if asset.local is not None:
                    pricing_body = set_path(pricing_body, asset.field.path, str(asset.local))
            cost = self.pricer(endpoint, pricing_body)
            if cost is None:
                return self._unbillable(model)
            charged = int(cost.to_integral_value(rounding=ROUND_CEILING))
            if charged > self._balance:
                return self._no_credits("task", cost)
            if failure_code is None:
                failure_code = self._asset_failure(model, assets)
            outputs = self._plan_outputs(endpoint, model, body, assets)
            seconds = max((o.seconds for o in outputs), default=0.0)
            overlay = self.catalog.model_overlay(model)
            latency = overlay.latency_seconds + overlay.latency_per_output_second * seconds
            canonical = json.dumps(
                {"endpoint": endpoint, "body": body}, sort_keys=True, separators=(",", ":")
            )
            task = _Task(
                id=_new_id(),
                seq=len(self._order) + 1,
                endpoint=endpoint,
                model=model,
                body=body,
                request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
                created=now,
                estimated=cost,
                charged=charged,
                queue=self._scale(self.config.queue_seconds),
                latency=self._scale(latency),
                failure_code=failure_code,
                outputs=outputs,
                fault=fault,
            )
            queue = self._queues.setdefault(model, deque())
            active = self._active.setdefault(model, [])
            if not queue and sum(1 for t in active if t.finish > now) < limits.max_concurrent:
                task.started = now
                active.append(task)
            else:
                queue.append(task)
            self._tasks[task.id] = task
            self._order.append(task)
            self._unsettled.append(task)
            created.append(now)
            self._balance -= charged
            self._billing.append((now, model, charged))
            return Reply(200, {"id": task.id, "estimatedCost": {"credits": _credits_json(cost)}})

    def _unbillable(self, model: str) -> Reply:
        issue = Issue(
            ("model",),
            f"The emulator cannot bill {model}: its price sheet ({self.prices.origin}) gives "
            f"no price for this request. Give {model} a price with `runway-plan emulate "
            "--prices FILE` (entries as in the catalog's prices.yaml) or, for `run --emulate`, "
            f"`prices: {{{model}: CREDITS}}` in the spec.",
        )
        return _error(400, issue.message, [issue])

    def _no_credits(self, what: str, cost: Decimal) -> Reply:
        return _error(
            400,
            f"Not enough credits: this {what} may cost {_credits_json(cost)} credits and the "
            f"balance is {int(self._balance)}.",
        )

    def _asset_failure(self, model: str, assets: list[_Asset]) -> str | None:
        """``ASSET.INVALID`` when a held input's length is outside the model's bounds."""
        bounds = self.catalog.model_overlay(model).input_durations
        for asset in assets:
            limit = bounds.get(asset.field.dotted)
            seconds = asset.duration
            if limit is None or seconds is None:
                continue
            low, high = limit.min_seconds, limit.max_seconds
            if limit.exclusive:
                bad = (low is not None and seconds <= low) or (high is not None and seconds >= high)
            else:
                bad = (low is not None and seconds < low) or (high is not None and seconds > high)
            if bad:
                return "ASSET.INVALID"
        return None

    def get_task(self, task_id: str, base_url: str) -> Reply:
        """``GET /v1/tasks/{id}``."""
        with self._lock:
            now = self.advance()
            task = self._tasks.get(task_id)
            if task is None or task.deleted:
                return _error(404, "Task not found.")
            return Reply(200, self._view(task, now, base_url))

    def cancel_task(self, task_id: str) -> Reply:
        """``DELETE /v1/tasks/{id}``: cancel a task in flight, delete a finished one."""
        with self._lock:
            now = self.advance()
            task = self._tasks.get(task_id)
            if task is None or task.deleted:
                return _error(404, "Task not found.")
            status = task.status(now, now)
            if status in ("SUCCEEDED", "FAILED", "CANCELLED"):
                task.deleted = True
                return Reply(204)
            task.cancelled = now
            if status in ("THROTTLED", "PENDING") or self.config.refund_running_cancel:
                self._refund(task, now)
            self.advance(now)
            return Reply(204)

    def _view(self, task: _Task, now: float, base_url: str) -> dict[str, Any]:
        moment = self._observed(task, now)
        status = task.status(moment, now)
        data: dict[str, Any] = {"id": task.id, "createdAt": _iso(task.created), "status": status}
        if status in ("PENDING", "THROTTLED", "RUNNING"):
            data["estimatedCost"] = {"credits": _credits_json(task.estimated)}
        else:
            data["cost"] = {"credits": 0 if task.refunded else task.charged}
        if status == "RUNNING":
            span = task.end_at - task.run_at
            data["progress"] = round(min(1.0, max(0.0, (moment - task.run_at) / span)), 4)
        elif status == "SUCCEEDED":
            data["output"] = [
                self._signed_url(task.id, index, output, now, base_url)
                for index, output in enumerate(task.outputs)
            ]
        elif status == "FAILED":
            assert task.failure_code is not None
            data["failure"] = _failure_text(task.failure_code)
            data["failureCode"] = task.failure_code
        return data

    # ------------------------------------------------------------------ outputs

    def _plan_outputs(
        self, endpoint: str, model: str, body: dict[str, Any], assets: list[_Asset]
    ) -> list[_Output]:
        kind = self.catalog.output_media(endpoint, model)
        overlay = self.catalog.model_overlay(model)
        held = [a for a in assets if a.duration is not None]
        image_dims = next((a.dims for a in assets if a.dims is not None), None)
        duration = body.get("duration")
        seconds: float | None = None
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            seconds = float(duration)
        elif held and kind in ("video", "audio") and self._passthrough(endpoint):
            seconds = _kept(held).duration
        if kind == "image":
            count = body.get(OUTPUT_COUNT, 1)
            count = count if isinstance(count, int) and not isinstance(count, bool) else 1
            fmt = str(body.get("outputFormat", "png")).lower()
            ext, mime = ("jpg", "image/jpeg") if fmt in ("jpeg", "jpg") else ("png", "image/png")
            width, height = self._image_dims(body, image_dims)
            return [_Output("image", ext, mime, width, height)] * max(1, count)
        if kind == "video":
            if seconds is None:
                if overlay.default_duration is not None:
                    seconds = overlay.default_duration
                elif overlay.duration_range is not None:
                    seconds = overlay.duration_range[1]
                else:
                    seconds = 5.0
            width, height = _dims_from(body) or (1280, 720)
            return [_Output("video", "mp4", "video/mp4", width, height, seconds)]
        if kind == "audio":
            if seconds is None:
                text = body.get("promptText")
                if endpoint == "text_to_speech" and isinstance(text, str):
                    seconds = max(1.0, math.ceil(len(text) / _TTS_CHARS_PER_SECOND))
                else:
                    seconds = overlay.default_duration or 5.0
            fmt = str(body.get("outputFormat", "mp3"))
            ext, mime = _AUDIO_FORMATS.get(fmt, _AUDIO_FORMATS["mp3"])
            return [_Output("audio", ext, mime, seconds=seconds)]
        return [_Output("text", "txt", "text/plain")]

    def _passthrough(self, endpoint: str) -> bool:
        return endpoint in PASSTHROUGH_ENDPOINTS

    def _image_dims(self, body: dict[str, Any], source: tuple[int, int] | None) -> tuple[int, int]:
        dims = _dims_from(body)
        if dims is not None:
            return dims
        ratio = str(body.get("ratio", ""))
        if ratio.startswith("auto"):
            side = 2048 if "2k" in ratio else 4096 if "4k" in ratio else 1024
            return side, side
        scale = body.get("scaleFactor")
        if isinstance(scale, int) and not isinstance(scale, bool):
            width, height = source or (1024, 1024)
            width, height = width * scale, height * (scale)
            if width * height > _MAX_UPSCALE_PIXELS:
                shrink = math.sqrt(_MAX_UPSCALE_PIXELS / (width * height))
                width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
            return width, height
        return source or (1024, 1024)

    def _signed_url(
        self, owner: str, index: int, output: _Output, now: float, base_url: str
    ) -> str:
        expires = int(now + self.config.url_ttl)
        name = f"{index}.{output.ext}"
        signature = self._sign(f"{owner}/{name}:{expires}")
        base = (self.config.public_url or base_url).rstrip("/")
        return f"{base}/_files/{owner}/{name}?expires={expires}&sig={signature}"

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def _file_bytes(self, owner: str, index: int, output: _Output) -> bytes:
        """The bytes of file ``index`` of ``owner`` (a task or an avatar): cached, and made
        again identically when the cache has let them go.  They are made outside the lock,
        so a large video does not hold up the other requests."""
        key = (owner, index)
        with self._lock:
            cached = self._files.get(key)
            if cached is not None:
                self._files.move_to_end(key)
                return cached
        data = self._make_file(owner, index, output)
        with self._lock:
            self._files[key] = data
            while len(self._files) > _CACHED_FILES:
                self._files.popitem(last=False)
        return data

    def _make_file(self, owner: str, index: int, output: _Output) -> bytes:
        tag = f"runway-plan emulator {owner} output {index}"
        seed = int(owner[:8], 16) + index
        if output.source is not None:
            data = output.source.read_bytes()
        elif output.media == "image":
            if output.ext == "jpg":
                data = synth.jpeg(output.width, output.height, 64 + seed % 128, tag)
            else:
                data = synth.striped_png(output.width, output.height, seed, tag)
        elif output.media == "video":
            data = video.mp4(output.seconds, output.width, output.height, tag)
        elif output.media == "audio":
            if output.ext == "wav":
                data = synth.tone_wav(output.seconds, pitch=180.0 + seed % 200)
            elif output.ext == "ogg":
                data = synth.ogg_opus(output.seconds, tag)
            else:
                data = synth.mp3(output.seconds, tag)
        else:
            data = tag.encode()
        return data

    def get_file(self, path: str, query: str, method: str = "GET") -> Reply:
        """``GET /_files/{owner}/{n}.{ext}?expires=&sig=``: a task's output or an avatar's
        image, if the URL is valid."""
        with self._lock:
            now = self.advance()
            found = self._check_file_url(path, query, now)
        if isinstance(found, Reply):
            return found
        owner, index, output = found
        data = self._file_bytes(owner, index, output)
        headers = {
            "ETag": '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"',
            "Cache-Control": "private, max-age=86400",
        }
        if method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Reply(200, raw=b"", headers=headers, media_type=output.mime)
        return Reply(200, raw=data, headers=headers, media_type=output.mime)

    def _check_file_url(
        self, path: str, query: str, now: float
    ) -> tuple[str, int, _Output] | Reply:
        match = _FILE_PATH.match(path)
        if match is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        params = parse_qs(query)
        expires_text = (params.get("expires") or [""])[0]
        signature = (params.get("sig") or [""])[0]
        if not expires_text.isdigit() or not signature:
            return _s3_error(
                403, "AccessDenied", "Query-string authentication requires a signature."
            )
        expected = self._sign(f"{match['owner']}/{match['name']}:{expires_text}")
        if not hmac.compare_digest(expected, signature):
            return _s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if now > int(expires_text):
            return _s3_error(403, "AccessDenied", "Request has expired")
        owner, index = match["owner"], int(match["name"].split(".")[0])
        output = self._served_file(owner, index, now)
        if output is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return owner, index, output

    def _served_file(self, owner: str, index: int, now: float) -> _Output | None:
        """File ``index`` of a SUCCEEDED task's outputs or of an avatar's images (the current
        pair only once the avatar is READY), or None."""
        task = self._tasks.get(owner)
        if task is not None:
            if task.deleted or index >= len(task.outputs) or task.status(now, now) != "SUCCEEDED":
                return None
            return task.outputs[index]
        avatar = self._avatars.get(owner)
        if avatar is None or index >= len(avatar["images"]):
            return None
        current = index >= len(avatar["images"]) - 2
        if current and _avatar_status(avatar, now) != "READY":
            return None
        image: _Output = avatar["images"][index]
        return image

    # ------------------------------------------------------------------ assets

    def _resolve(
        self, endpoint: str, model: str, body: dict[str, Any], now: float
    ) -> tuple[list[_Asset], list[Issue], dict[str, Any]]:
        """The media inputs of ``body``, why any is refused, and the body to validate.

        The body to validate has the emulator's own output URLs replaced by an https URL on
        a domain (the real API's output URLs are such), since the validator refuses http and
        IP hosts.
        """
        spec = self.catalog.model(endpoint, model)
        if spec is None:
            return [], [], body
        assets: list[_Asset] = []
        issues: list[Issue] = []
        checked = body
        for item in find_assets(body, spec.fields):
            value = item.value
            if value.startswith("runway://"):
                resolved = self._resolve_upload(item, now)
            elif value.startswith("data:"):
                resolved = self._resolve_data_uri(item)
            elif _FILE_PATH.match(urlsplit(value).path or "") and "sig=" in value:
                resolved = self._resolve_output(item, now)
                parts = urlsplit(value)
                checked = set_path(
                    checked, item.path, f"https://outputs.emulator.invalid{parts.path}"
                )
            else:
                resolved = _Asset(item)
            if isinstance(resolved, Issue):
                issues.append(resolved)
            else:
                assets.append(resolved)
        return assets, issues, checked

    def _resolve_upload(self, item: AssetField, now: float) -> _Asset | Issue:
        label = _dotted_label(item)
        upload = self._uploads_by_uri.get(item.value)
        if upload is None:
            return Issue(item.path, f"{label}: Invalid runway URI: no upload has this URI.")
        if upload.path is None:
            return Issue(item.path, f"{label}: the upload {item.value} has not received a file.")
        if now > upload.expires:
            return Issue(item.path, f"{label}: the upload {item.value} has expired.")
        if upload.media not in item.media:
            what = upload.mime or "an unrecognised file"
            return Issue(
                item.path,
                f"{label}: Unsupported asset type: the upload is {what}; the field takes "
                f"{' or '.join(sorted(item.media))}.",
            )
        return _Asset(item, upload.path, upload.media, upload.mime, upload.duration, upload.dims)

    def _resolve_data_uri(self, item: AssetField) -> _Asset | Issue:
        header, _, payload = item.value.partition(",")
        if ";base64" not in header:
            return _Asset(item)
        try:
            data = base64.b64decode(payload.strip(), validate=True)
        except (binascii.Error, ValueError):
            return _Asset(item)
        digest = hashlib.sha256(data).hexdigest()[:32]
        local = self._dir / "inputs" / digest
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
        return self._probed(item, local, data)

    def _probed(self, item: AssetField, local: Path, data: bytes | None = None) -> _Asset:
        try:
            info = probe(local)
        except OSError:
            return _Asset(item)
        dims = None
        if info.media == "image":
            with local.open("rb") as handle:
                dims = synth.image_size(data[:65536] if data is not None else handle.read(65536))
        return _Asset(item, local, info.media, info.mime, info.duration, dims)

    def _resolve_output(self, item: AssetField, now: float) -> _Asset | Issue:
        parts = urlsplit(item.value)
        found = self._check_file_url(parts.path, parts.query, now)
        label = _dotted_label(item)
        if isinstance(found, Reply):
            return Issue(
                item.path,
                f"{label}: Failed to fetch asset. Received HTTP response code {found.status}.",
            )
        owner, index, output = found
        if output.media not in item.media:
            return Issue(
                item.path,
                f"{label}: Unsupported asset type: the URL holds {output.mime}; the field takes "
                f"{' or '.join(sorted(item.media))}.",
            )
        local = self._dir / "outputs" / f"{owner}-{index}.{output.ext}"
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(self._file_bytes(owner, index, output))
        dims = (output.width, output.height) if output.media == "image" else None
        seconds = output.seconds if output.media in ("video", "audio") else None
        return _Asset(item, local, output.media, output.mime, seconds, dims)

    # ------------------------------------------------------------------ uploads

    def create_upload(self, body: Any, base_url: str) -> Reply:
        """``POST /v1/uploads``: an upload slot (URL, form fields) and its ``runway://`` URI."""
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        issues = []
        filename = body.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            issues.append(Issue(("filename",), "filename must be a non-empty string"))
        elif len(filename) > 255 or "/" in filename or "\\" in filename:
            issues.append(Issue(("filename",), "filename must be a plain file name"))
        if body.get("type", "ephemeral") != "ephemeral":
            issues.append(Issue(("type",), "type must be 'ephemeral'"))
        for name in body:
            if name not in ("filename", "type"):
                issues.append(Issue((name,), f"unknown field '{name}'"))
        if issues:
            return _error(400, f"Invalid request: {issues[0].message}", issues)
        with self._lock:
            now = self.advance()
            upload_id = _new_id()
            key = f"uploads/{upload_id}/{filename}"
            upload = _Upload(
                id=upload_id,
                filename=str(filename),
                key=key,
                uri=f"runway://uploads/{upload_id}/{filename}",
                created=now,
                expires=now + self.config.upload_ttl,
            )
            self._uploads[upload_id] = upload
            self._uploads_by_uri[upload.uri] = upload
            policy = base64.b64encode(
                json.dumps(
                    {"expiration": _iso(upload.expires), "conditions": [{"key": key}]},
                    separators=(",", ":"),
                ).encode()
            ).decode()
            fields = {
                "key": key,
                "policy": policy,
                "x-amz-algorithm": "AWS4-HMAC-SHA256",
                "x-amz-signature": self._sign(f"upload:{key}:{policy}"),
            }
            base = (self.config.public_url or base_url).rstrip("/")
            return Reply(
                200,
                {
                    "uploadUrl": f"{base}/_uploads/{upload_id}",
                    "fields": fields,
                    "runwayUri": upload.uri,
                },
            )

    def receive_upload(self, upload_id: str, form: Mapping[str, str], file: bytes | None) -> Reply:
        """``POST`` to an upload URL (multipart form, S3 style): store the file; 204."""
        with self._lock:
            now = self.advance()
            upload = self._uploads.get(upload_id)
            if upload is None:
                return _s3_error(404, "NoSuchUpload", "The specified upload does not exist.")
            policy = form.get("policy", "")
            if form.get("key") != upload.key or not hmac.compare_digest(
                form.get("x-amz-signature", ""), self._sign(f"upload:{upload.key}:{policy}")
            ):
                return _s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided.",
                )
            if now > upload.expires:
                return _s3_error(
                    403, "AccessDenied", "Invalid according to Policy: Policy expired."
                )
            if file is None:
                return _s3_error(
                    400, "InvalidArgument", "POST requires exactly one file upload per request."
                )
            limit = self.catalog.overlay.asset_limits["image"].upload
            if len(file) < self.catalog.overlay.upload_min_bytes:
                return _s3_error(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size.",
                )
            if len(file) > limit:
                return _s3_error(
                    400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
                )
            local = self._dir / "uploads" / upload.id / "file"
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(file)
            asset = self._probed(AssetField((), upload.uri, frozenset()), local, file)
            upload.path, upload.size = local, len(file)
            upload.mime, upload.media = asset.mime, asset.media
            upload.duration, upload.dims = asset.duration, asset.dims
            return Reply(204)

    # ------------------------------------------------------------------ organization

    def organization(self) -> Reply:
        """``GET /v1/organization``: balance, tier limits and the past day's generations."""
        with self._lock:
            now = self.advance()
            tier = self.catalog.tier(self.config.tier)
            per_credit = self.catalog.prices.usd_per_credit
            models = {}
            for model in sorted(self.catalog.model_endpoints):
                limits = self._limits(model)
                models[model] = {
                    "maxConcurrentGenerations": limits.max_concurrent,
                    "maxDailyGenerations": limits.max_daily,
                }
            usage = {}
            for model, created in sorted(self._created.items()):
                count = sum(1 for moment in created if moment > now - DAY)
                if count:
                    usage[model] = {"dailyGenerations": count}
            return Reply(
                200,
                {
                    "creditBalance": int(self._balance),
                    "tier": {
                        "maxMonthlyCreditSpend": int(tier.max_monthly_spend_usd / per_credit),
                        "models": models,
                    },
                    "usage": {"models": usage},
                },
            )

    def usage(self, body: Any) -> Reply:
        """``POST /v1/organization/usage``: credits used per day and model (net of refunds)."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        issues = [
            Issue((k,), f"unknown field '{k}'")
            for k in body
            if k not in ("startDate", "beforeDate")
        ]
        with self._lock:
            now = self.advance()
            today = datetime.fromtimestamp(now, UTC).date()
            given_start = _parse_date(body.get("startDate"), "startDate", issues)
            given_before = _parse_date(body.get("beforeDate"), "beforeDate", issues)
            if given_start is not None:
                start = given_start
                before = given_before or start + timedelta(30)
            elif given_before is not None:
                start, before = given_before - timedelta(30), given_before
            else:
                start, before = today - timedelta(30), today + timedelta(1)
            if not issues:
                _check_range(_midnight(start), _midnight(before), "startDate", "beforeDate", issues)
            if issues:
                return _error(400, f"Invalid request: {issues[0].message}", issues)
            days: dict[date, dict[str, int]] = {}
            for moment, model, amount in self._billing:
                day = datetime.fromtimestamp(moment, UTC).date()
                if start <= day < before:
                    per_model = days.setdefault(day, {})
                    per_model[model] = per_model.get(model, 0) + amount
            results = [
                {
                    "date": day.isoformat(),
                    "usedCredits": [
                        {"model": model, "amount": amount} for model, amount in sorted(used.items())
                    ],
                }
                for day, used in sorted(days.items())
            ]
            models = sorted({m for used in days.values() for m in used})
            return Reply(200, {"results": results, "models": models})

    # ------------------------------------------------------------------ ledger

    def ledger(self) -> Ledger:
        """Every task ever created, in submission order, with what it was billed so far."""
        with self._lock:
            now = self.advance()
            entries = []
            for task in self._order:
                status = task.status(now, now)
                terminal = status in ("SUCCEEDED", "FAILED", "CANCELLED")
                entries.append(
                    LedgerEntry(
                        task_id=task.id,
                        seq=task.seq,
                        created_at=_iso(task.created),
                        endpoint=task.endpoint,
                        model=task.model,
                        request_hash=task.request_hash,
                        estimated_credits=task.estimated,
                        charged_credits=task.charged,
                        billed_credits=(0 if task.refunded else task.charged) if terminal else None,
                        status=status,
                        failure_code=task.failure_code if status == "FAILED" else None,
                        deleted=task.deleted,
                        fault=task.fault,
                    )
                )
            return Ledger(tuple(entries))

    def tasks_in_flight(self, model: str) -> int:
        """How many tasks of ``model`` hold a concurrency slot now."""
        with self._lock:
            now = self.advance()
            return sum(
                1
                for task in self._order
                if task.model == model and task.started is not None and task.finish > now
            )

    # ------------------------------------------------------------------ documents

    def create_document(self, body: Any, *, base_url: str = "") -> Reply:
        """``POST /v1/documents``."""
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        issues = validate_resource(self.catalog, "document_create", body)
        if issues:
            return _error(400, f"Invalid request: {issues[0].message}", issues)
        with self._lock:
            now = self.advance()
            document = {
                "id": _new_id(),
                "name": body["name"],
                "content": body["content"],
                "type": "text",
                "createdAt": now,
                "updatedAt": now,
            }
            self._documents[document["id"]] = document
            return Reply(200, self._document_view(document, now, base_url, full=True))

    def _document_view(
        self, document: Mapping[str, Any], now: float, base_url: str, *, full: bool
    ) -> dict[str, Any]:
        used_by = [
            {
                "id": avatar["id"],
                "imageUrl": self._avatar_view(avatar, now, base_url)["processedImageUri"],
                "name": avatar["name"],
            }
            for avatar in self._avatars.values()
            if document["id"] in avatar["documentIds"]
        ]
        data = {
            "id": document["id"],
            "name": document["name"],
            "type": document["type"],
            "createdAt": _iso(document["createdAt"]),
            "updatedAt": _iso(document["updatedAt"]),
            "usedBy": used_by,
        }
        if full:
            data["content"] = document["content"]
        return data

    def get_document(self, document_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/documents/{id}``."""
        with self._lock:
            now = self.advance()
            document = self._documents.get(document_id)
            if document is None:
                return _error(404, "Document not found.")
            return Reply(200, self._document_view(document, now, base_url, full=True))

    def update_document(self, document_id: str, body: Any) -> Reply:
        """``PATCH /v1/documents/{id}``: no body in the answer."""
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        issues = validate_resource(self.catalog, "document_update", body)
        if issues:
            return _error(400, f"Invalid request: {issues[0].message}", issues)
        with self._lock:
            now = self.advance()
            document = self._documents.get(document_id)
            if document is None:
                return _error(404, "Document not found.")
            document.update({k: v for k, v in body.items() if k in ("name", "content")})
            document["updatedAt"] = now
            return Reply(204)

    def delete_document(self, document_id: str) -> Reply:
        """``DELETE /v1/documents/{id}``."""
        with self._lock:
            if self._documents.pop(document_id, None) is None:
                return _error(404, "Document not found.")
            for avatar in self._avatars.values():
                if document_id in avatar["documentIds"]:
                    avatar["documentIds"] = [d for d in avatar["documentIds"] if d != document_id]
            return Reply(204)

    def list_documents(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/documents?limit&order&sort&cursor``."""
        issues = []
        order, sort = query.get("order", "desc"), query.get("sort", "createdAt")
        if order not in ("asc", "desc"):
            issues.append(Issue(("order",), "order must be 'asc' or 'desc'"))
        if sort not in ("createdAt", "updatedAt"):
            issues.append(Issue(("sort",), "sort must be 'createdAt' or 'updatedAt'"))
        limit = _limit(query, issues)
        if issues:
            return _error(400, f"Invalid request: {issues[0].message}", issues)
        with self._lock:
            now = self.advance()
            items = sorted(
                self._documents.values(),
                key=lambda d: (d[sort], d["id"]),
                reverse=order == "desc",
            )
            page, cursor = _page(items, limit, query.get("cursor"))
            return Reply(
                200,
                {
                    "data": [self._document_view(d, now, base_url, full=False) for d in page],
                    "nextCursor": cursor,
                },
            )

    # ------------------------------------------------------------------ avatars

    def create_avatar(self, body: Any, failure: str | None = None, *, base_url: str = "") -> Reply:
        """``POST /v1/avatars``: PROCESSING until ``avatar_seconds`` have passed, then READY
        (or FAILED with the reason ``failure``, which an ``avatar_failed`` fault gives).

        Once READY, ``referenceImageUri`` and ``processedImageUri`` are signed URLs of real
        images: the reference image itself when the emulator holds it (an upload, one of its
        own outputs), else one of its size; the processed image is made at that size.  URLs
        start with ``public_url``, else ``base_url`` (the request's; for the avatar and
        document methods, which answer with avatar images, the default is a bare path)."""
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        with self._lock:
            now = self.advance()
            issues, reference = self._avatar_issues("avatar_create", body, now)
            if issues:
                return _error(400, f"Invalid request: {issues[0].message}", issues)
            avatar = {
                "id": _new_id(),
                "name": body["name"],
                "personality": body["personality"],
                "referenceImage": body["referenceImage"],
                "voice": body["voice"],
                "documentIds": list(body.get("documentIds", [])),
                "startScript": body.get("startScript"),
                "imageProcessing": body.get("imageProcessing", "optimize"),
                "createdAt": now,
                "updatedAt": now,
                "ready": now + self._scale(self.config.avatar_seconds),
                "failure": failure,
                "reference": reference,
                "images": [],
            }
            avatar["images"] += _avatar_images(reference)
            self._avatars[avatar["id"]] = avatar
            return Reply(200, self._avatar_view(avatar, now, base_url))

    def _avatar_issues(
        self, resource: str, body: dict[str, Any], now: float
    ) -> tuple[list[Issue], _Asset | None]:
        """Why the API refuses ``body``, and its reference image as the emulator knows it."""
        issues = validate_resource(self.catalog, resource, body)
        image = body.get("referenceImage")
        reference = None
        if isinstance(image, str):
            item = AssetField(("referenceImage",), image, frozenset({"image"}))
            resolved: _Asset | Issue | None = None
            if image.startswith("runway://"):
                resolved = self._resolve_upload(item, now)
            elif _FILE_PATH.match(urlsplit(image).path or "") and "sig=" in image:
                resolved = self._resolve_output(item, now)
                issues = [i for i in issues if i.path != ("referenceImage",)]
            if isinstance(resolved, Issue):
                issues.append(resolved)
            else:
                reference = resolved or _Asset(item)
        documents = body.get("documentIds")
        if isinstance(documents, list):
            for index, document in enumerate(documents):
                if isinstance(document, str) and document not in self._documents:
                    issues.append(
                        Issue(("documentIds", index), f"document {document} does not exist")
                    )
        return issues, reference

    def _avatar_view(self, avatar: Mapping[str, Any], now: float, base_url: str) -> dict[str, Any]:
        voice = dict(avatar["voice"])
        if voice.get("type") == "runway-live-preset":
            voice.setdefault("name", str(voice.get("presetId", "")).title())
            voice.setdefault("description", _PRESET_VOICE_DESCRIPTION)
        else:
            voice.setdefault("deleted", False)
        status = _avatar_status(avatar, now)
        view = {
            "id": avatar["id"],
            "status": status,
            "name": avatar["name"],
            "personality": avatar["personality"],
            "documentIds": list(avatar["documentIds"]),
            "startScript": avatar["startScript"],
            "voice": voice,
            "referenceImageUri": None,
            "processedImageUri": None,
            "createdAt": _iso(avatar["createdAt"]),
            "updatedAt": _iso(avatar["updatedAt"]),
        }
        if status == "READY":
            images = avatar["images"]
            first = len(images) - 2
            view["referenceImageUri"], view["processedImageUri"] = (
                self._signed_url(avatar["id"], first + n, images[first + n], now, base_url)
                for n in (0, 1)
            )
        if status == "FAILED":
            view["failureReason"] = avatar["failure"]
        return view

    def get_avatar(self, avatar_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/avatars/{id}``."""
        with self._lock:
            now = self.advance()
            avatar = self._avatars.get(avatar_id)
            if avatar is None:
                return _error(404, "Avatar not found.")
            return Reply(200, self._avatar_view(avatar, now, base_url))

    def update_avatar(
        self, avatar_id: str, body: Any, failure: str | None = None, *, base_url: str = ""
    ) -> Reply:
        """``PATCH /v1/avatars/{id}``: a new reference image starts processing again (and ends
        FAILED with the reason ``failure`` when one is given)."""
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        with self._lock:
            now = self.advance()
            avatar = self._avatars.get(avatar_id)
            if avatar is None:
                return _error(404, "Avatar not found.")
            issues, reference = self._avatar_issues("avatar_update", body, now)
            if issues:
                return _error(400, f"Invalid request: {issues[0].message}", issues)
            for name, value in body.items():
                avatar[name] = list(value) if name == "documentIds" else value
            if "referenceImage" in body or "imageProcessing" in body or failure is not None:
                avatar["ready"] = now + self._scale(self.config.avatar_seconds)
                avatar["failure"] = failure
                avatar["reference"] = reference or avatar["reference"]
                avatar["images"] += _avatar_images(avatar["reference"])
            avatar["updatedAt"] = now
            return Reply(200, self._avatar_view(avatar, now, base_url))

    def delete_avatar(self, avatar_id: str) -> Reply:
        """``DELETE /v1/avatars/{id}``."""
        with self._lock:
            if self._avatars.pop(avatar_id, None) is None:
                return _error(404, "Avatar not found.")
            return Reply(204)

    def list_avatars(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/avatars?limit&cursor`` (newest first)."""
        issues: list[Issue] = []
        limit = _limit(query, issues)
        if issues:
            return _error(400, f"Invalid request: {issues[0].message}", issues)
        with self._lock:
            now = self.advance()
            items = sorted(
                self._avatars.values(), key=lambda a: (a["createdAt"], a["id"]), reverse=True
            )
            page, cursor = _page(items, limit, query.get("cursor"))
            return Reply(
                200,
                {
                    "data": [self._avatar_view(a, now, base_url) for a in page],
                    "nextCursor": cursor,
                },
            )

    def avatar_usage(self, query: Mapping[str, str]) -> Reply:
        """``GET /v1/avatar_usage?startDate&endDate``: realtime sessions per UTC day.

        ``startDate`` is inclusive and ``endDate`` exclusive, each a date or an ISO datetime
        (the SDK sends datetimes); the range is at most 90 days.  ``byDay`` has every day the
        range touches.
        """
        issues: list[Issue] = []
        start = _parse_instant(query.get("startDate"), "startDate", issues)
        end = _parse_instant(query.get("endDate"), "endDate", issues)
        if start is not None and end is not None:
            _check_range(start, end, "startDate", "endDate", issues)
        if issues or start is None or end is None:
            return _error(400, f"Invalid request: {issues[0].message}", issues)
        first, last = start.date(), (end - timedelta(microseconds=1)).date()
        days = {first + timedelta(n): [0, 0] for n in range((last - first).days + 1)}
        durations = []
        with self._lock:
            now = self.advance()
            for session in self._sessions.values():
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

    # ------------------------------------------------------------------ realtime sessions

    def _session_limits(self) -> ModelLimits:
        tier = self.catalog.tier(self.config.tier)
        group = self.catalog.tiers.model_groups.get(SESSION_MODEL, _SESSION_GROUP)
        return tier.groups.get(group) or tier.groups[self.catalog.tiers.default_group]

    def create_realtime_session(self, body: Any) -> Reply:
        """``POST /v1/realtime_sessions``: a session, queued while the tier's avatar
        concurrency is taken (see :mod:`runway_plan.emulator.sessions`)."""
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        issues = validate_resource(self.catalog, "realtime_session_create", body)
        with self._lock:
            now = self.advance()
            issues += self._session_issues(body, now)
            if issues:
                return _error(400, f"Invalid request: {issues[0].message}", issues)
            limits = self._session_limits()
            created = self._session_created
            while created and created[0] <= now - DAY:
                created.popleft()
            if len(created) >= limits.max_daily:
                return _error(
                    429,
                    f"You have reached the daily limit of {limits.max_daily} realtime sessions "
                    f"on tier {self.config.tier}. Try again later.",
                )
            seconds = body.get("maxDuration", MAX_SESSION_SECONDS)
            price = self.prices.price(SESSION_MODEL)
            most = session_cost(price, body, seconds) if price is not None else None
            if most is None:
                return self._unbillable(SESSION_MODEL)
            charged = int(most.to_integral_value(rounding=ROUND_CEILING))
            if charged > self._balance:
                return self._no_credits("session", most)
            session = RealtimeSession(
                id=_new_id(),
                created=now,
                key="sk_" + secrets.token_hex(32),
                ready_after=self._scale(self.config.session_seconds),
                key_life=self._scale(self.config.session_key_seconds),
                call=self._scale(seconds),
                scale=self.config.speed,
                body=body,
                charged=charged,
            )
            created.append(now)
            self._balance -= charged
            self._billing.append((now, SESSION_MODEL, charged))
            self._sessions[session.id] = session
            self._sessions_unsettled.append(session)
            self._session_queue.append(session)
            self.advance(now)
            return Reply(200, {"id": session.id})

    def _session_issues(self, body: dict[str, Any], now: float) -> list[Issue]:
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
            found = self._avatars.get(avatar_id)
            status = _avatar_status(found, now) if found is not None else None
            if status != "READY":
                why = "does not exist" if status is None else f"is {status}, not READY"
                issues.append(Issue(("avatar", "avatarId"), f"avatar {avatar_id} {why}"))
        return issues

    def get_realtime_session(self, session_id: str) -> Reply:
        """``GET /v1/realtime_sessions/{id}``."""
        with self._lock:
            now = self.advance()
            session = self._sessions.get(session_id)
            if session is None:
                return _error(404, "Realtime session not found.")
            return Reply(200, session.view(now, _iso))

    def cancel_realtime_session(self, session_id: str) -> Reply:
        """``DELETE /v1/realtime_sessions/{id}``: cancel a session that has not ended."""
        with self._lock:
            now = self.advance()
            session = self._sessions.get(session_id)
            if session is None:
                return _error(404, "Realtime session not found.")
            if session.status(now) in ACTIVE:
                session.cancelled = now
                self.advance(now)
            return Reply(204)

    def consume_realtime_session(self, session_id: str, authorization: str) -> Reply:
        """``POST /v1/realtime_sessions/{id}/consume`` with ``Authorization: Bearer
        <sessionKey>``: the WebRTC credentials, once; the call starts."""
        with self._lock:
            now = self.advance()
            session = self._sessions.get(session_id)
            if session is None:
                return _error(404, "Realtime session not found.")
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), session.key.encode()
            ):
                return _error(401, "Send the session's sessionKey as 'Authorization: Bearer'.")
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
                return _error(409, reasons.get(status, default))
            session.consumed = now
            return Reply(
                200,
                {
                    "url": "wss://realtime.emulator.invalid",
                    "token": secrets.token_urlsafe(32),
                    "roomName": f"realtime-{session.id}",
                },
            )

    # ------------------------------------------------------------------ admin

    def advance_clock(self, seconds: float) -> Reply:
        """Move a :class:`ManualClock` forward (the admin endpoint); 409 for other clocks."""
        if not isinstance(self.clock, ManualClock):
            return _error(409, "The emulator runs on the wall clock; it cannot be moved.")
        if seconds < 0:
            return _error(400, "seconds must not be negative")
        self.clock.advance(seconds)
        return Reply(200, {"now": _iso(self.clock())})

    def describe(self) -> dict[str, Any]:
        """The configuration and a summary of the state (for ``GET /_emulator/state``)."""
        with self._lock:
            self.advance()
            config = self.config
            return {
                "catalog": self.catalog.version,
                "tier": config.tier,
                "speed": config.speed,
                "seed": config.seed,
                "prices": self.prices.origin,
                "cadence": config.cadence,
                "creditBalance": _credits_json(self._balance),
                "tasks": len(self._order),
                "uploads": len(self._uploads),
                "realtimeSessions": len(self._sessions),
                "videoEncoder": video.encoder(),
            }


def _avatar_images(reference: _Asset | None) -> list[_Output]:
    """An avatar's reference and processed images: the reference's own bytes when they are
    held, else images of its size (1024 px square when it is unknown)."""
    width, height = reference.dims if reference and reference.dims else (1024, 1024)
    processed = _Output("image", "png", "image/png", width, height)
    if reference is None or reference.local is None or reference.mime not in _IMAGE_EXTENSIONS:
        return [processed, processed]
    ext = _IMAGE_EXTENSIONS[reference.mime]
    copy = _Output("image", ext, reference.mime, width, height, source=reference.local)
    return [copy, processed]


def _avatar_status(avatar: Mapping[str, Any], now: float) -> str:
    if now < avatar["ready"]:
        return "PROCESSING"
    return "FAILED" if avatar.get("failure") else "READY"


def _dotted_label(item: AssetField) -> str:
    out = ""
    for part in item.path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "request"


def _kept(held: list[_Asset]) -> _Asset:
    """The input whose length an endpoint that keeps its input's length keeps: the first
    held one in the compiler's order (act_two's ``reference``, not its ``character``)."""
    for path in DURATION_INPUTS:
        for asset in held:
            if tuple(asset.field.path) == path:
                return asset
    return held[0]


def _dims_from(body: Mapping[str, Any]) -> tuple[int, int] | None:
    """Pixel size named by a ``ratio`` (``1920:1080``, or ``16:9`` scaled to 1280 px) or a
    ``resolution`` (``720p``, ``2k``, ...)."""
    ratio = body.get("ratio")
    if isinstance(ratio, str):
        width, _, height = ratio.partition(":")
        if width.isdigit() and height.isdigit() and int(width) and int(height):
            w, h = int(width), int(height)
            if max(w, h) >= 256:
                return w, h
            return (1280, _even(1280 * h / w)) if w >= h else (_even(1280 * w / h), 1280)
    resolution = body.get("resolution")
    if isinstance(resolution, str):
        return _RESOLUTIONS.get(resolution.lower())
    return None


def _even(side: float) -> int:
    """A side scaled from a ratio, to the nearest even number of pixels (4:2:0 video)."""
    return max(2, 2 * round(side / 2))


def _parse_date(value: Any, name: str, issues: list[Issue]) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        issues.append(Issue((name,), f"{name} must be a date as YYYY-MM-DD"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        issues.append(Issue((name,), f"{name} is not a valid date"))
        return None


def _parse_instant(value: Any, name: str, issues: list[Issue]) -> datetime | None:
    """A required date or ISO 8601 datetime, in UTC (a datetime without an offset is UTC)."""
    if value is None:
        issues.append(Issue((name,), f"{name} is required"))
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        issues.append(Issue((name,), f"{name} must be a date or an ISO 8601 datetime"))
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _check_range(
    start: datetime, end: datetime, start_name: str, end_name: str, issues: list[Issue]
) -> None:
    """The rule both usage endpoints share: ``end`` (exclusive) after ``start``, by at most
    90 days."""
    if end <= start:
        issues.append(Issue((end_name,), f"{end_name} must be after {start_name}"))
    elif end - start > timedelta(days=_MAX_USAGE_DAYS):
        issues.append(
            Issue(
                (end_name,), f"{end_name} must be at most {_MAX_USAGE_DAYS} days after {start_name}"
            )
        )


def _limit(query: Mapping[str, str], issues: list[Issue]) -> int:
    text = query.get("limit")
    if text is None:
        issues.append(Issue(("limit",), "limit is required"))
        return 0
    if not text.isdigit() or not 1 <= int(text) <= 100:
        issues.append(Issue(("limit",), "limit must be an integer from 1 to 100"))
        return 0
    return int(text)


def _page(items: list[Any], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, binascii.Error):
            start = 0
    end = start + limit
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following


def _new_id() -> str:
    """A random UUID4, as the API's ids are: unique across emulator instances whatever their
    seed, so a journal resumed against a restarted emulator never meets another task's id."""
    return str(uuid.uuid4())
