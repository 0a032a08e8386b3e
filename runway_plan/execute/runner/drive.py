"""One generation from its dependencies to its outcome: wait for what it reads (and the steps
it ``needs``), skip it when one of them did not succeed, find or make its journal row, and
continue from what that row says (collect, resume polling, report, or attempt)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.execute.fingerprint import Fingerprinter, OutputRef
from runway_plan.execute.policy import retry_on_rerun
from runway_plan.execute.reuse import Reuse, why
from runway_plan.execute.runner.attempts import Attempts
from runway_plan.execute.runner.outputs import Outputs
from runway_plan.execute.runner.records import Records
from runway_plan.execute.runner.results import GenerationResult, RunOptions
from runway_plan.execute.runner.spans import step_span
from runway_plan.execute.state import Outcome, State, StepRow, StepStatus
from runway_plan.files import LocalFileError

__all__ = ["AvatarWait", "Driver", "RouterCheck"]

AvatarWait = Callable[[str], Awaitable[tuple[str | None, str]]]
"""Waits until a spec avatar is reconciled: its remote id, or None and why it is not in
place (``interrupted`` when the run stopped first)."""


RouterCheck = Callable[[str], tuple[str | None, str]]
"""Whether a spec router is in place: its slug, or None and why not (``interrupted`` when the
run stopped first)."""


class Driver:
    """Drives each generation of one run (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        state: State,
        options: RunOptions,
        parts: tuple[Fingerprinter, Records, Attempts, Outputs],
        results: Mapping[str, GenerationResult],
        diagnostics: list[Diagnostic],
        *,
        reuse: Mapping[str, Reuse],
        preds: Mapping[str, list[str]],
        joins: Mapping[str, asyncio.Future[str | None]],
        emit: Callable[[str, str | None, str], None],
        avatars: AvatarWait | None = None,
        avatar_ids: dict[str, str] | None = None,
        routers: RouterCheck | None = None,
        voices: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> None:
        """``reuse`` is the survey of the state, ``preds`` each generation's producers and
        ``joins`` the shared wait (:meth:`join`) of each step another step ``needs``;
        ``avatars`` waits for one of the spec's avatars, and ``avatar_ids`` receives the id
        an avatar video is sent with; ``voices`` waits for one of the spec's voices and says
        why it is not in place (None when it is)."""
        self._voices = voices
        self.graph = graph
        self.state = state
        self.options = options
        self.fingerprinter, self.records, self.attempts, self.outputs = parts
        self.results = results
        self.diagnostics = diagnostics
        self._reuse = reuse
        self._preds = preds
        self._joins = joins
        self._emit = emit
        self._avatars = avatars
        self.avatar_ids = avatar_ids if avatar_ids is not None else {}
        self._routers = routers

    async def drive(self, key: str) -> None:
        """Take generation ``key`` from its dependencies to its outcome; never raises but
        for cancellation (an internal error is RP510 on this generation alone)."""
        result = self.results[key]
        try:
            await self._drive(key, result)
        except asyncio.CancelledError:
            if not self.records.done[key].is_set():
                in_flight = result.status in ("THROTTLED", "PENDING", "RUNNING", "submitting")
                self.records.refresh(result)
                self.records.settle(
                    result,
                    Outcome.INTERRUPTED,
                    "in flight: the next run polls it" if in_flight else "not started",
                )
        except Exception as exc:  # a bug must not lose the other generations' records
            if not self.records.done[key].is_set():
                message = f"internal error: {type(exc).__name__}: {exc}"
                self.records.fail(result, "RP510", message, said=f"'{key}': {message}")
        finally:
            self.records.done[key].set()

    async def join(self, step: str) -> str | None:
        """Wait until every generation of ``step`` is done; the first that did not succeed.

        One wait per step that others ``need``, shared by all their generations, instead of
        each of them waiting for each generation of ``step``.
        """
        keys = self.graph.steps[step].generations
        for key in keys:
            await self.records.done[key].wait()
        ok = (Outcome.GENERATED, Outcome.REUSED)
        return next((k for k in keys if self.results[k].outcome not in ok), None)

    async def _drive(self, key: str, result: GenerationResult) -> None:
        gen = self.graph.generations[key]
        for producer in self._preds[key]:
            await self.records.done[producer].wait()
        needed = [await asyncio.shield(self._joins[n]) for n in self.graph.needs.get(gen.step, ())]
        bad = [
            p
            for p in self._preds[key]
            if self.results[p].outcome not in (Outcome.GENERATED, Outcome.REUSED)
        ] + [first for first in needed if first is not None]
        for _path, voice in self.fingerprinter.voices.get(key, ()):
            absent = await self._voices(voice) if self._voices is not None else None
            if absent is not None:
                result.reason = f"voice '{voice}' {absent}"
                self.diagnostics.append(
                    make(
                        "RP503",
                        f"'{key}' was skipped: its voice '{voice}' is not in place ({absent})",
                        step_span(self.graph, gen.step),
                    )
                )
                self.records.settle(result, Outcome.SKIPPED, f"voice '{voice}' not in place")
                return
        if bad:
            first = self.results[bad[0]]
            result.reason = f"'{bad[0]}' {first.outcome.value}"
            if first.outcome is Outcome.INTERRUPTED:
                self.records.settle(result, Outcome.INTERRUPTED, f"waits for '{bad[0]}'")
                return
            self.diagnostics.append(
                make(
                    "RP503",
                    f"'{key}' was skipped: it depends on '{bad[0]}', which "
                    f"{'was ' if first.outcome is Outcome.SKIPPED else ''}"
                    f"{first.outcome.value}",
                    step_span(self.graph, gen.step),
                )
            )
            self.records.settle(result, Outcome.SKIPPED, f"depends on '{bad[0]}'")
            return
        if not await self._avatar_in_place(key, result):
            return
        if not self._router_in_place(key, result):
            return
        hashes: dict[OutputRef, str] = {}
        for ref in self.fingerprinter.upstream(key):
            made = self.results[ref.key]
            match = [o for o in made.outputs if o.index == ref.index]
            if match:
                hashes[ref] = match[0].sha256
        lacking = [ref for ref in self.fingerprinter.upstream(key) if ref not in hashes]
        if lacking:
            ref = lacking[0]
            count = len(self.results[ref.key].outputs)
            message = (
                f"'{key}' was skipped: it uses output {ref.index} of '{ref.key}', which made "
                f"{count} output{'s' * (count != 1)}"
                + (
                    f" (its step declares {self.graph.generations[ref.key].output_count}: a "
                    "workflow's outputs are known only after it runs)"
                    if self.graph.generations[ref.key].declared_media is not None
                    else ""
                )
            )
            self.diagnostics.append(make("RP503", message, step_span(self.graph, gen.step)))
            self.records.settle(result, Outcome.SKIPPED, f"'{ref.key}' made no output {ref.index}")
            return
        try:
            document, fingerprint = self.fingerprinter.fingerprinted(key, hashes)
        except LocalFileError as exc:
            message = f"cannot read a local file of '{key}': {exc}; nothing was sent"
            self.records.fail(result, "RP506", message)
            return
        assert self.records.run_id is not None
        row = self.state.ensure_step(
            fingerprint=fingerprint,
            key=key,
            step=gen.step,
            endpoint=gen.endpoint,
            model=gen.model,
            document=document,
            output_count=gen.output_count,
            run_id=self.records.run_id,
        )
        result.fingerprint, result.step_id = fingerprint, row.id
        self.records.record(result, Outcome.PLANNED, now=False)
        survey_item = self._reuse.get(key)
        if survey_item is not None and survey_item.fingerprint == fingerprint:
            result.reason = survey_item.reason
        else:
            earlier = None if row.status is StepStatus.PENDING and row.attempts == 0 else row
            result.reason = why(self.state, key, earlier, json.loads(document), fingerprint)
        if row.status is not StepStatus.SUCCEEDED:
            self.records.refresh(result)  # a reused step is refreshed once it is collected
        await self._resume(key, result, row)

    async def _avatar_in_place(self, key: str, result: GenerationResult) -> bool:
        """For an avatar video of a spec avatar: wait until the avatar is reconciled and
        record its id; False, with the outcome settled, when it is not in place."""
        gen = self.graph.generations[key]
        if gen.avatar is None or self._avatars is None:
            return True
        name = gen.avatar.step
        if (name, key) not in self.graph.avatar_edges:
            return True
        remote_id, why = await self._avatars(name)
        if remote_id is not None:
            self.avatar_ids[key] = remote_id
            return True
        self._not_in_place(key, result, f"avatar '{name}'", "uses", why)
        return False

    def _router_in_place(self, key: str, result: GenerationResult) -> bool:
        """For a generate step on a spec router: False, with the outcome settled, when the
        router is not in place (it was not created or updated as the spec says)."""
        gen = self.graph.generations[key]
        name = gen.router
        if name is None or self._routers is None or (name, key) not in self.graph.router_edges:
            return True
        slug, why = self._routers(name)
        if slug is not None:
            return True
        self._not_in_place(key, result, f"router '{name}'", "runs on", why)
        return False

    def _not_in_place(
        self, key: str, result: GenerationResult, resource: str, verb: str, why: str
    ) -> None:
        """Settle a generation whose ``resource`` (``avatar 'x'``, ``router 'y'``) is not in
        place: interrupted while it was awaited, else skipped (RP503) saying ``why``."""
        result.reason = f"{resource} {why}"
        if why == "interrupted":
            self.records.settle(result, Outcome.INTERRUPTED, f"waits for {resource}")
            return
        self.diagnostics.append(
            make(
                "RP503",
                f"'{key}' was skipped: it {verb} {resource}, which {why}",
                step_span(self.graph, self.graph.generations[key].step),
            )
        )
        self.records.settle(result, Outcome.SKIPPED, f"{verb} {resource}")

    async def _resume(self, key: str, result: GenerationResult, row: StepRow) -> None:
        """Continue a step from whatever its journal row says."""
        status = row.status
        if status is StepStatus.SUCCEEDED:
            await self.outputs.collect(key, result, row, True)
            return
        if status is StepStatus.DOWNLOADING:
            await self.outputs.collect(key, result, row, False)
            return
        if status is StepStatus.RUNNING:
            attempt = self.state.current_attempt(row.id)
            assert attempt is not None and attempt.task_id is not None
            self._emit("resume", key, f"polling task {attempt.task_id} (sent before)")
            await self.attempts.attempt(key, result, row, resume=(attempt.number, attempt.task_id))
            return
        if status is StepStatus.SUBMITTING:
            self.state.mark_unknown(
                row.id, None, "the process stopped while the create request was being sent"
            )
            status = StepStatus.UNKNOWN
        if status is StepStatus.UNKNOWN:
            if not self.options.resubmit_unknown:
                self.attempts.unknown(key, result, row.id)
                return
            self.state.abandon_unknown(row.id)
            self._emit("resubmit", key, "submitting again (--resubmit-unknown)")
        elif status is StepStatus.FAILED:
            if not (self.options.retry_failed or retry_on_rerun(row.failure_code)):
                message = (
                    f"'{key}' failed before with {row.failure_code}: {row.failure or ''}; "
                    "not tried again (the failure is not transient)"
                )
                self.records.fail(
                    result, "RP501", message, hint="change the step, or rerun with --retry-failed"
                )
                return
            self.state.reset(row.id)
        elif status is StepStatus.CANCELLED:
            self.state.reset(row.id)
        await self.attempts.attempt(key, result, row, resume=None)
