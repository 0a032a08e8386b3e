"""What a run did with each generation: its result, its ``run_steps`` rows (buffered), its
outcome settled once, and what waits for it woken."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.execute.runner.results import GenerationResult
from runway_plan.execute.runner.spans import step_span
from runway_plan.execute.state import Outcome, State, StepRow

__all__ = ["Records"]


class Records:
    """The run's records of its generations (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        state: State,
        diagnostics: list[Diagnostic],
    ) -> None:
        """``diagnostics`` are the run's; :attr:`run_id` is set once it began."""
        self.graph = graph
        self.state = state
        self.diagnostics = diagnostics
        self.run_id: int | None = None
        self.done: dict[str, asyncio.Event] = {}
        """Per generation: set once its outcome is settled."""
        self._rows: dict[str, dict[str, Any]] = {}

    def record(self, result: GenerationResult, outcome: Outcome, *, now: bool) -> None:
        """Note what the run did with a generation in ``run_steps``.

        Rows are buffered and written in one transaction when ``now`` (or at the end), so a
        resume that reuses a thousand generations commits a handful of times; the ``steps``
        journal, which alone decides what is paid for, is never buffered.
        """
        self._rows[result.key] = {
            "key": result.key,
            "step": result.step,
            "position": result.position,
            "outcome": outcome.value,
            "fingerprint": result.fingerprint,
            "step_id": result.step_id,
            "reason": result.reason,
            "message": result.message,
            "planned_low": None if result.planned is None else str(result.planned[0]),
            "planned_high": None if result.planned is None else str(result.planned[1]),
            "paths": json.dumps([o.path for o in result.outputs if o.path]),
        }
        if now:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows."""
        if self._rows and self.run_id is not None:
            rows, self._rows = list(self._rows.values()), {}
            self.state.set_run_steps(self.run_id, rows)

    def settle(self, result: GenerationResult, outcome: Outcome, message: str = "") -> None:
        """Give ``result`` its outcome, record it, and wake what waits for it."""
        result.outcome = outcome
        if message:
            result.message = message
        if outcome is Outcome.GENERATED or outcome is Outcome.REUSED:
            result.status = "done"
        else:
            result.status = outcome.value
        self.record(result, outcome, now=outcome is not Outcome.REUSED)
        self.done[result.key].set()

    def refresh(self, result: GenerationResult, row: StepRow | None = None) -> None:
        """Reread ``result``'s bills, attempts and tasks from the journal (its step's
        ``row`` as just read, when the caller holds it)."""
        if result.step_id is None:
            return
        if row is None or row.id != result.step_id:
            row = self.state.step_by_id(result.step_id)
        result.billed = row.billed_credits
        result.attempts = row.attempts
        result.failure_code = row.failure_code
        attempts = self.state.attempts(result.step_id)
        result.task_ids = [a.task_id for a in attempts if a.task_id]
        result.billed_this_run = sum(
            (a.billed_credits or Decimal(0) for a in attempts if a.run_id == self.run_id),
            Decimal(0),
        )
        unknown = [a for a in attempts if a.status in ("unknown", "abandoned", "submitting")]
        exposure = [a.estimated_credits for a in unknown if a.estimated_credits is not None]
        result.exposure = sum(exposure, Decimal(0)) if unknown else None

    def fail(
        self,
        result: GenerationResult,
        code: str,
        message: str,
        *,
        span: Span | None = None,
        hint: str | None = None,
        related: list[tuple[str, Span]] | None = None,
        said: str | None = None,
    ) -> None:
        """Diagnose ``code`` at the step (or ``span``), refresh from the journal, settle FAILED.

        ``said`` is the diagnostic's text when it differs from the settled ``message``."""
        where = span or step_span(self.graph, result.step)
        self.diagnostics.append(
            make(code, said or message, where, hint=hint, related=related or ())
        )
        self.refresh(result)
        self.settle(result, Outcome.FAILED, message)
