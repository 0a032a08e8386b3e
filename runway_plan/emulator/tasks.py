"""Generation tasks: ``POST /v1/{endpoint}``, ``/v1/tasks/{id}``, limits, billing, the ledger.

Task timing, in emulated seconds divided by ``speed``: a task waits THROTTLED while its model
has ``maxConcurrentGenerations`` tasks in flight, then is PENDING for ``queue_seconds``, then
RUNNING for the model's latency (``latency_seconds`` plus ``latency_per_output_second`` times
the output length, from the catalog overlay), then SUCCEEDED or FAILED.  Input-moderation,
asset and provider failures end the task at the end of PENDING instead.  A failed task is
refunded unless it failed input moderation.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from runway_plan.catalog.assets import set_path
from runway_plan.emulator.account import (
    DAY,
    Account,
    Reply,
    credits_json,
    error,
    in_last_day,
    iso,
    new_id,
    whole_credits,
)
from runway_plan.emulator.files import Files
from runway_plan.emulator.inputs import Inputs
from runway_plan.emulator.ledger import Ledger, LedgerEntry
from runway_plan.emulator.outputs import OutputFile, plan_outputs
from runway_plan.emulator.slots import start_queued
from runway_plan.emulator.validation import Issue, validate_body
from runway_plan.emulator.voices import Voices

__all__ = ["FAILURE_CODES", "Task", "Tasks", "failure_refunded"]

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
_TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def failure_refunded(code: str | None) -> bool:
    """Whether a task that FAILED with ``code`` is refunded: all but ``SAFETY.INPUT.*``."""
    return not (code or "").startswith("SAFETY.INPUT")


def _failure_text(code: str) -> str:
    for prefix in sorted(_FAILURE_TEXT, key=len, reverse=True):
        if code == prefix or code.startswith(prefix + "."):
            return _FAILURE_TEXT[prefix]
    return "Generation failed."


@dataclass(frozen=True, slots=True)
class Submission:
    """A valid request to make a task of: what was sent (``endpoint``, ``body``), the model it
    runs on, and what it is priced and made as (``priced_endpoint``, ``priced_body``: the
    request itself, or for a routed generate request the chosen model's, with ``routing``
    to answer with)."""

    endpoint: str
    model: str
    body: dict[str, Any]
    assets: list[Any]
    priced_endpoint: str
    priced_body: dict[str, Any]
    routing: dict[str, Any] | None = None


@dataclass
class Task:
    """One generation task; instants are the emulator's clock, spans wall seconds."""

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
    outputs: list[OutputFile]
    fault: str | None = None
    started: float | None = None
    cancelled: float | None = None
    refunded: bool = False
    settled: bool = False
    deleted: bool = False

    @property
    def run_at(self) -> float:
        """When it starts RUNNING."""
        assert self.started is not None
        return self.started + self.queue

    @property
    def end_at(self) -> float:
        """When it ends SUCCEEDED or FAILED."""
        early = self.failure_code is not None and self.failure_code.startswith(_EARLY_FAILURES)
        return self.run_at + (0.0 if early else self.latency)

    @property
    def finish(self) -> float:
        """When the task stops holding a concurrency slot."""
        end = self.end_at if self.started is not None else math.inf
        return min(end, self.cancelled) if self.cancelled is not None else end

    def status(self, moment: float, now: float) -> str:
        """Its status as of ``moment`` (a cancellation counts as of ``now``)."""
        if self.cancelled is not None and now >= self.cancelled:
            return "CANCELLED"
        if self.started is None or moment < self.started:
            return "THROTTLED"
        if moment < self.run_at:
            return "PENDING"
        if moment < self.end_at:
            return "RUNNING"
        return "FAILED" if self.failure_code is not None else "SUCCEEDED"


def _finish(task: Task) -> float:
    return task.finish


class Tasks:
    """The generation tasks of an account, their concurrency queues and daily counts."""

    def __init__(
        self, account: Account, inputs: Inputs, files: Files, voices: Voices | None = None
    ) -> None:
        """No tasks yet; catches up on every advance of ``account`` and serves outputs.  A
        request naming a custom voice (``{type: custom, id}``) must name one of ``voices``."""
        self._voices = voices
        self._account = account
        self._inputs = inputs
        self._files = files
        self._by_id: dict[str, Task] = {}
        self._order: list[Task] = []
        self._queues: dict[str, deque[Task]] = {}
        self._active: dict[str, list[Task]] = {}
        self._unsettled: list[Task] = []
        self._created: dict[str, deque[float]] = {}
        account.on_advance(self._catch_up)
        files.serve_from(self._served)

    def __len__(self) -> int:
        return len(self._order)

    # ------------------------------------------------------------------ time

    def _catch_up(self, moment: float) -> None:
        for model, queue in self._queues.items():
            self._start_queued(model, queue, moment)
        still: list[Task] = []
        for task in self._unsettled:
            if task.finish <= moment:
                self._settle(task)
            else:
                still.append(task)
        self._unsettled = still

    def _limit_group(self, model: str) -> str:
        return self._account.catalog.limit_group(model)

    def _start_queued(self, model: str, queue: deque[Task], now: float) -> None:
        limit = self._account.limits(self._limit_group(model)).max_concurrent
        active = self._active.setdefault(model, [])
        self._active[model] = start_queued(queue, active, limit, now, _finish)

    def _settle(self, task: Task) -> None:
        if task.settled:
            return
        task.settled = True
        if task.cancelled is not None:
            return
        if task.failure_code is not None and failure_refunded(task.failure_code):
            self._refund(task, task.end_at)

    def _refund(self, task: Task, moment: float) -> None:
        if task.refunded:
            return
        task.refunded = True
        self._account.charge(moment, task.model, -task.charged)

    def _observed(self, task: Task, now: float) -> float:
        cadence = self._account.config.cadence
        if cadence is None:
            return now
        step = self._account.scale(cadence)
        return task.created + math.floor((now - task.created) / step + 1e-9) * step

    # ------------------------------------------------------------------ operations

    def create(
        self,
        endpoint: str,
        body: Any,
        base_url: str,
        failure_code: str | None,
        fault: str | None,
        check: Callable[[dict[str, Any], float], list[Issue]] | None = None,
    ) -> Reply:
        """``POST /v1/{endpoint}``: validate, check limits and credits, create the task that
        fails with ``failure_code`` (if given) and was sent under a ``fault`` (if any).

        ``check`` adds the issues only another resource can tell (an avatar video's avatar
        must exist), given the body and the instant."""
        account = self._account
        catalog = account.catalog
        if endpoint not in catalog.endpoints:
            return error(404, f"No such endpoint: /v1/{endpoint}")
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        with account.lock:
            now = account.advance()
            model = catalog.implicit_model(endpoint) or body.get("model")
            if not isinstance(model, str):
                issue = Issue(
                    ("model",),
                    "missing required field 'model'" if model is None else "model must be a string",
                )
                return error(400, f"Invalid request: {issue.message}", [issue])
            assets, issues, checked = self._inputs.resolve(endpoint, model, body, now)
            issues = validate_body(catalog, endpoint, checked) + issues
            if not issues and self._voices is not None:
                issues = self._voices.unknown_in(body, now)
            if check is not None and not issues:
                issues = check(body, now)
            if issues:
                more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
                return error(400, f"Invalid request: {issues[0].message}{more}", issues)
            return self._enqueue(
                Submission(endpoint, model, body, assets, endpoint, body), now, failure_code, fault
            )

    def create_routed(
        self,
        endpoint: str,
        body: Any,
        failure_code: str | None,
        fault: str | None,
        choose: Callable[
            [dict[str, Any]], tuple[str, str, dict[str, Any], dict[str, Any]] | list[Issue]
        ],
    ) -> Reply:
        """``POST /v1/generate/{video,image,audio}``: validate the model-agnostic request,
        route it with ``choose`` (the chosen model, its endpoint, the request the input maps
        to, and the ``routing`` to answer with; or why none can take it), then create a task
        of that model billed at its price, whose outputs are that model's."""
        account = self._account
        catalog = account.catalog
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        with account.lock:
            now = account.advance()
            assets, issues, checked = self._inputs.resolve(endpoint, endpoint, body, now)
            issues = validate_body(catalog, endpoint, checked) + issues
            chosen = issues if issues else choose(body)
            if isinstance(chosen, list):
                issues = chosen
                more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
                return error(400, f"Invalid request: {issues[0].message}{more}", issues)
            model, target, request, routing = chosen
            submission = Submission(endpoint, model, body, assets, target, request, routing)
            return self._enqueue(submission, now, failure_code, fault)

    def _enqueue(
        self, submission: Submission, now: float, failure_code: str | None, fault: str | None
    ) -> Reply:
        """Check the limits and credits of a valid request and create its task."""
        account = self._account
        catalog = account.catalog
        endpoint, model, body, assets = (
            submission.endpoint,
            submission.model,
            submission.body,
            submission.assets,
        )
        limits = account.limits(self._limit_group(model))
        created = self._created.setdefault(model, deque())
        if in_last_day(created, now) >= limits.max_daily:
            return error(
                429,
                f"You have reached the daily generation limit of {limits.max_daily} for "
                f"{model} on tier {account.config.tier}. Try again later.",
            )
        pricing_body = dict(submission.priced_body)
        for asset in assets if submission.priced_endpoint == endpoint else ():
            if asset.local is not None:
                pricing_body = set_path(pricing_body, asset.field.path, str(asset.local))
        cost = account.pricer(submission.priced_endpoint, pricing_body)
        if cost is None:
            return account.unbillable(model)
        charged = whole_credits(cost)
        if charged > account.balance:
            return account.no_credits("task", cost)
        if failure_code is None:
            failure_code = self._inputs.length_failure(model, assets)
        outputs = plan_outputs(
            catalog, submission.priced_endpoint, model, submission.priced_body, assets
        )
        seconds = max((o.seconds for o in outputs), default=0.0)
        overlay = catalog.model_overlay(model)
        latency = overlay.latency_seconds + overlay.latency_per_output_second * seconds
        canonical = json.dumps(
            {"endpoint": endpoint, "body": body}, sort_keys=True, separators=(",", ":")
        )
        task = Task(
            id=new_id(),
            seq=len(self._order) + 1,
            endpoint=endpoint,
            model=model,
            body=body,
            request_hash=hashlib.sha256(canonical.encode()).hexdigest(),
            created=now,
            estimated=cost,
            charged=charged,
            queue=account.scale(account.config.queue_seconds),
            latency=account.scale(latency),
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
        self._by_id[task.id] = task
        self._order.append(task)
        self._unsettled.append(task)
        created.append(now)
        account.charge(now, model, charged)
        if submission.routing is not None:
            return Reply(200, {"id": task.id, "routing": submission.routing})
        return Reply(200, {"id": task.id, "estimatedCost": {"credits": credits_json(cost)}})

    def get(self, task_id: str, base_url: str) -> Reply:
        """``GET /v1/tasks/{id}``."""
        with self._account.lock:
            now = self._account.advance()
            task = self._by_id.get(task_id)
            if task is None or task.deleted:
                return error(404, "Task not found.")
            return Reply(200, self._view(task, now, base_url))

    def cancel(self, task_id: str) -> Reply:
        """``DELETE /v1/tasks/{id}``: cancel a task in flight, delete a finished one."""
        account = self._account
        with account.lock:
            now = account.advance()
            task = self._by_id.get(task_id)
            if task is None or task.deleted:
                return error(404, "Task not found.")
            status = task.status(now, now)
            if status in _TERMINAL:
                task.deleted = True
                return Reply(204)
            task.cancelled = now
            if status in ("THROTTLED", "PENDING") or account.config.refund_running_cancel:
                self._refund(task, now)
            account.advance(now)
            return Reply(204)

    def _view(self, task: Task, now: float, base_url: str) -> dict[str, Any]:
        moment = self._observed(task, now)
        status = task.status(moment, now)
        data: dict[str, Any] = {"id": task.id, "createdAt": iso(task.created), "status": status}
        if status in ("PENDING", "THROTTLED", "RUNNING"):
            data["estimatedCost"] = {"credits": credits_json(task.estimated)}
        else:
            data["cost"] = {"credits": 0 if task.refunded else task.charged}
        if status == "RUNNING":
            span = task.end_at - task.run_at
            data["progress"] = round(min(1.0, max(0.0, (moment - task.run_at) / span)), 4)
        elif status == "SUCCEEDED":
            data["output"] = [
                self._files.signed_url(task.id, index, output, now, base_url)
                for index, output in enumerate(task.outputs)
            ]
        elif status == "FAILED":
            assert task.failure_code is not None
            data["failure"] = _failure_text(task.failure_code)
            data["failureCode"] = task.failure_code
        return data

    def _served(self, owner: str, index: int, now: float) -> OutputFile | None:
        task = self._by_id.get(owner)
        if task is None or task.deleted or index >= len(task.outputs):
            return None
        return task.outputs[index] if task.status(now, now) == "SUCCEEDED" else None

    # ------------------------------------------------------------------ reading

    def daily_generations(self, now: float) -> dict[str, int]:
        """Tasks created per model in the day before ``now`` (models with none left out)."""
        usage = {}
        for model, created in sorted(self._created.items()):
            count = sum(1 for moment in created if moment > now - DAY)
            if count:
                usage[model] = count
        return usage

    def ledger(self) -> Ledger:
        """Every task ever created, in submission order, with what it was billed so far."""
        with self._account.lock:
            now = self._account.advance()
            entries = []
            for task in self._order:
                status = task.status(now, now)
                terminal = status in _TERMINAL
                entries.append(
                    LedgerEntry(
                        task_id=task.id,
                        seq=task.seq,
                        created_at=iso(task.created),
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

    def in_flight(self, model: str) -> int:
        """How many tasks of ``model`` hold a concurrency slot now."""
        with self._account.lock:
            now = self._account.advance()
            return sum(
                1
                for task in self._order
                if task.model == model and task.started is not None and task.finish > now
            )
