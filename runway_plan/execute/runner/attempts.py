"""A generation's attempts: take a slot, build and send the create (once, inside the journal's
``submitting`` window), poll the task, and on FAILED follow :mod:`runway_plan.execute.policy`
until it succeeds (its outputs are then collected) or fails for good."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.execute.client import (
    ApiError,
    AuthenticationFailed,
    Created,
    ExecuteError,
    NotSent,
    RequestRejected,
    RunwayClient,
    task_cost,
)
from runway_plan.execute.fingerprint import Fingerprinter, canonical_json, request_sha256
from runway_plan.execute.policy import DEFAULT_MAX_ATTEMPTS, decide
from runway_plan.execute.runner.budget import Spending
from runway_plan.execute.runner.inputs import Inputs
from runway_plan.execute.runner.polling import Lost, Poller, Unreachable
from runway_plan.execute.runner.pool import Pool
from runway_plan.execute.runner.records import Records
from runway_plan.execute.runner.results import GenerationResult, RunOptions
from runway_plan.execute.runner.spans import step_span
from runway_plan.execute.state import Outcome, State, StepRow
from runway_plan.plan.cost import format_credits

__all__ = ["Attempts"]


class _Stopped(Exception):
    """The run is stopping: do not submit."""


class Attempts:
    """Runs the attempts of one run's generations (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        state: State,
        client: RunwayClient,
        options: RunOptions,
        parts: tuple[Fingerprinter, Records, Poller, Inputs, Spending],
        diagnostics: list[Diagnostic],
        *,
        emit: Callable[[str, str | None, str], None],
        pool: Callable[[str], Pool],
        pause: Callable[[float], Awaitable[None]],
        halt: Callable[[str], None],
        collect: Callable[[str, GenerationResult, StepRow, bool], Awaitable[None]],
        stopping: Callable[[], bool],
        interrupted: Callable[[], bool],
        shielded: set[asyncio.Future[Any]],
    ) -> None:
        """The run's parts and callbacks: ``pool`` gives a model's slots, ``pause`` waits
        (cut short when the run stops), ``halt`` stops submitting, ``collect`` takes the outputs
        of a succeeded task, ``stopping()`` says nothing more is submitted and
        ``interrupted()`` that the user asked so; each create in flight is kept in
        ``shielded``."""
        self.graph = graph
        self.state = state
        self.client = client
        self.options = options
        self.fingerprinter, self.records, self.poller, self.inputs, self.spending = parts
        self.diagnostics = diagnostics
        self._emit = emit
        self._pool = pool
        self._pause = pause
        self._halt = halt
        self._collect = collect
        self._stopping = stopping
        self._interrupted = interrupted
        self._shielded = shielded

    def unknown(self, key: str, result: GenerationResult, step_id: int) -> None:
        """Settle a create of unknown outcome: reported (RP502), never sent again here."""
        self.records.refresh(result)
        gen = self.graph.generations[key]
        exposure = (
            f"up to {format_credits(result.exposure)} credits may have been charged"
            if result.exposure is not None
            else "its cost is unknown"
        )
        message = (
            f"the create request of '{key}' may have reached the API, but no task id was "
            f"recorded, so it was not sent again ({exposure})"
        )
        self.diagnostics.append(
            make(
                "RP502",
                message,
                step_span(self.graph, gen.step),
                hint="check the account's tasks and usage, then rerun with --resubmit-unknown "
                "to submit it again",
            )
        )
        self._emit("unknown", key, message)
        self.records.settle(result, Outcome.UNKNOWN, message)

    async def attempt(
        self,
        key: str,
        result: GenerationResult,
        row: StepRow,
        resume: tuple[int, str] | None,
    ) -> None:
        """Submit (or resume) attempts until the step succeeds or fails for good."""
        gen = self.graph.generations[key]
        step = self.graph.steps[gen.step].step
        limit = step.retry.max_attempts if step.retry is not None else DEFAULT_MAX_ATTEMPTS
        pool = self._pool(gen.model)
        slot = self.spending.plan.generations[key].slot if self.spending.plan is not None else None
        priority = (slot.start if slot is not None else 0.0, result.position)
        tries = 0
        earlier = False
        while True:
            if resume is None:
                if self._stopping():
                    self.records.settle(result, Outcome.INTERRUPTED, "not started")
                    return
                result.status = "queued"
                if not await pool.acquire(priority):
                    self.records.settle(result, Outcome.INTERRUPTED, "not started")
                    return
            else:
                pool.hold()
            held = True
            self.records.flush()
            try:
                if resume is None:
                    if not await self.poller.ready():
                        why_not = "the API could not be polled" if self.poller.trouble else ""
                        self.records.settle(
                            result, Outcome.INTERRUPTED, f"not started: {why_not}".rstrip(": ")
                        )
                        return
                    sent = await self._send(key, result, row)
                    if sent is None:
                        return
                    number, created = sent
                    task_id, anchor, since = created.task_id, time.monotonic(), time.time()
                    tries += 1
                else:
                    number, task_id = resume
                    anchor = time.monotonic() - self.options.poll_interval
                    attempt = self.state.current_attempt(row.id)
                    since = (attempt.submitted_at if attempt else None) or time.time()
                    resume = None
                    earlier = True
                result.started = time.time()
                gen_plan = (
                    self.spending.plan.generations.get(key)
                    if self.spending.plan is not None
                    else None
                )
                expected = gen_plan.latency / self.options.speed if gen_plan else None
                task = await self.poller.poll(
                    key, result, (row.id, number, task_id), anchor, since, expected
                )
                pool.release()
                held = False
            except Unreachable as exc:
                self.records.refresh(result)
                self.records.settle(result, Outcome.INTERRUPTED, str(exc))
                return
            except Lost:
                # A task of an earlier run that the API no longer has (deleted; or made by an
                # emulator that is gone) is made again; one this run made is not.
                self.state.mark_task_failed(
                    row.id,
                    number,
                    status="lost",
                    failure_code="TASK_NOT_FOUND",
                    failure="the task no longer exists (deleted or cancelled elsewhere)",
                    billed=None,
                    final=not earlier,
                )
                if earlier and not (self._stopping()):
                    self.records.refresh(result)
                    self._emit("lost", key, f"task {task_id} no longer exists: submitting again")
                    earlier = False
                    continue
                message = f"task {task_id} of '{key}' no longer exists (deleted elsewhere)"
                self.records.fail(result, "RP501", message)
                return
            finally:
                if held:
                    pool.release()
            status = task["status"]
            billed = task_cost(task)
            if status == "SUCCEEDED":
                urls = [u for u in task.get("output") or [] if isinstance(u, str)]
                self.state.mark_task_succeeded(row.id, number, billed, urls)
                self._billed(result)
                self._emit(
                    "succeeded",
                    key,
                    f"task {task_id} SUCCEEDED, {len(urls)} output(s), cost "
                    f"{format_credits(billed) if billed is not None else 'not given'}",
                )
                await self._collect(key, result, self.state.step_by_id(row.id), False)
                return
            code = task.get("failureCode") if isinstance(task.get("failureCode"), str) else None
            failure = task.get("failure") if isinstance(task.get("failure"), str) else None
            if status == "CANCELLED":
                self.state.mark_task_failed(
                    row.id,
                    number,
                    status="CANCELLED",
                    failure_code=None,
                    failure="cancelled",
                    billed=billed,
                    final=True,
                )
                self._billed(result)
                message = f"task {task_id} of '{key}' was cancelled"
                self.diagnostics.append(make("RP501", message, step_span(self.graph, gen.step)))
                self._emit("cancelled", key, message)
                self.records.settle(result, Outcome.CANCELLED, message)
                return
            decision = decide(code, tries, limit)
            retry = decision.retry and not (self._stopping())
            self.state.mark_task_failed(
                row.id,
                number,
                status="FAILED",
                failure_code=code,
                failure=failure,
                billed=billed,
                final=not retry,
            )
            self._billed(result)
            cost = f"cost {format_credits(billed)}" if billed is not None else "cost not given"
            self._emit(
                "failed",
                key,
                f"task {task_id} FAILED ({code or 'no code'}: {failure or ''}; {cost}); "
                f"{decision.reason if not self._interrupted() else 'not retried: stopping'}",
            )
            if not retry:
                message = (
                    f"task {task_id} of '{key}' FAILED with {code or 'no failure code'}: "
                    f"{failure or 'no message'} ({decision.reason}; "
                    f"{result.attempts} attempt(s), "
                    f"{format_credits(result.billed or Decimal(0))} credits billed)"
                )
                self.records.fail(result, "RP501", message)
                return
            result.status = "retry wait"
            await self._pause(decision.delay / self.options.speed)

    async def _send(
        self, key: str, result: GenerationResult, row: StepRow
    ) -> tuple[int, Created] | None:
        """Build the request and send the create; None when the step is settled instead.

        A create is sent once, except that one the API refused (400: nothing was made)
        because it could not fetch an input is rebuilt with fresh inputs and sent again.
        """
        result.reserved = None
        estimate, measured = self.spending.repriced(key)
        limit = self.spending.limit
        if limit is not None:
            spent = self.spending.spent()
            if spent + (estimate or Decimal(0)) > limit:
                how = " (re-priced from the measured length of its inputs)" if measured else ""
                message = (
                    f"'{key}' was not submitted: with {format_credits(spent)} credits billed or "
                    f"committed, its {format_credits(estimate or Decimal(0))}{how} could exceed "
                    f"the budget of {format_credits(limit)}"
                )
                self.records.fail(result, "RP509", message)
                self._halt(
                    f"stopping: the budget of {format_credits(limit)} credits could be "
                    f"exceeded by '{key}'; nothing more is submitted"
                )
                return None
        result.reserved = estimate
        for fresh in (False, True):
            try:
                body, shown = await self.inputs.build(key, fresh=fresh)
            except (ExecuteError, OSError) as exc:
                result.reserved = None
                self.records.fail(result, "RP506", f"cannot prepare the inputs of '{key}': {exc}")
                return None
            try:
                return await self._create(key, result, row, body, shown, estimate)
            except RequestRejected as exc:
                if (
                    fresh
                    or isinstance(exc, AuthenticationFailed)
                    or not self._input_refused(key, exc)
                ):
                    self._rejected(key, result, exc)
                    return None
                self._emit("retry", key, f"an input was refused ({exc.message}): sending again")
        return None  # pragma: no cover - the loop always returns

    def _input_refused(self, key: str, error: RequestRejected) -> bool:
        """True when a rejection names a field fed by an upstream output or an upload."""
        fed = {path[0] for path, _ in self.fingerprinter.inputs[key]}
        fed |= {local.path[0] for local in self.fingerprinter.files[key]}
        named = {issue.path[0] for issue in error.issues if issue.path}
        return bool(fed & named) or (not named and "fetch" in error.message.lower())

    def _billed(self, result: GenerationResult) -> None:
        """The attempt's bill is recorded: count it, and hold nothing more for it."""
        self.records.refresh(result)
        result.reserved = None

    def _rejected(self, key: str, result: GenerationResult, exc: RequestRejected) -> None:
        gen = self.graph.generations[key]
        result.reserved = None  # refused: nothing was made
        if isinstance(exc, AuthenticationFailed):
            self.records.fail(result, "RP500", f"the API refused the key: {exc.message}")
            self._halt("stopping: the API key was refused")
            return
        span = step_span(self.graph, gen.step)
        related: list[tuple[str, Span]] = []
        for issue in exc.issues:
            where = step_span(self.graph, gen.step, issue.path) if issue.path else None
            if where is not None:
                related.append((issue.message, where))
        if related:
            span = related[0][1]
        message = f"the API rejected '{key}': {exc.message}"
        self.records.fail(result, "RP500", message, span=span, related=related[1:])

    async def _create(
        self,
        key: str,
        result: GenerationResult,
        row: StepRow,
        body: dict[str, Any],
        shown: dict[str, Any],
        estimate: Decimal | None,
    ) -> tuple[int, Created] | None:
        """Send the create, retrying only what certainly did not reach the API."""
        gen = self.graph.generations[key]
        text = canonical_json(shown)
        digest = request_sha256(gen.endpoint, body)
        result.status = "submitting"
        try:
            async for attempt in self.client.retrying(NotSent, sleep=self._pause):
                with attempt:
                    if self._stopping():
                        raise _Stopped
                    inner = asyncio.ensure_future(
                        self._create_once(row.id, gen.endpoint, body, text, digest, estimate)
                    )
                    self._shielded.add(inner)
                    inner.add_done_callback(self._shielded.discard)
                    number, created = await asyncio.shield(inner)
        except _Stopped:
            result.reserved = None
            self.records.settle(result, Outcome.INTERRUPTED, "not started")
            return None
        except NotSent as exc:
            result.reserved = None
            message = (
                f"'{key}' was not submitted: {exc} (nothing was sent that could be charged; "
                "rerun later)"
            )
            self.records.fail(result, "RP510", message)
            return None
        except RequestRejected:
            raise
        except ApiError as exc:
            self._emit("unknown", key, str(exc))
            self.unknown(key, result, row.id)
            return None
        result.estimated = created.estimated if created.estimated is not None else estimate
        self.records.refresh(result)
        shown_cost = created.estimated if created.estimated is not None else estimate
        self._emit(
            "submitted",
            key,
            f"task {created.task_id} (attempt {number}, up to "
            f"{format_credits(shown_cost) if shown_cost is not None else '?'} credits"
            + (f", routed to {created.routed_model}" if created.routed_model else "")
            + ")",
        )
        return number, created

    async def _create_once(
        self,
        step_id: int,
        endpoint: str,
        body: dict[str, Any],
        text: str,
        digest: str,
        estimate: Decimal | None,
    ) -> tuple[int, Created]:
        """The journal window around one create: committed before, committed after."""
        number = self.state.mark_submitting(
            step_id,
            self.records.run_id or 0,
            request=text,
            request_sha256=digest,
            estimated=estimate,
        )
        try:
            created = await self.client.create(endpoint, body)
        except NotSent:
            self.state.mark_not_sent(step_id, number)
            raise
        except RequestRejected as exc:
            self.state.mark_rejected(step_id, number, exc.status or 400, exc.message)
            raise
        except BaseException as exc:
            self.state.mark_unknown(step_id, number, str(exc) or type(exc).__name__)
            raise
        self.state.mark_submitted(step_id, number, created.task_id, created.estimated)
        return number, created

    # ------------------------------------------------------------------ outputs
