"""When each task of a run was sent and when it ended, read from the run state's journal.

The manifest records when each create was sent, to the second; the journal has the times of
every transition, which is what a timeline needs.  It is read from a private copy
(:meth:`runway_plan.execute.State.snapshot`), never locked, so a report can be written while
another run holds the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runway_plan.execute import State
from runway_plan.execute.state import StateUnreadable

__all__ = ["AttemptTimes", "RunTimes", "read_run_times"]


@dataclass(frozen=True, slots=True)
class AttemptTimes:
    """One create and its task: seconds since the epoch (``ended`` None while in flight)."""

    key: str
    step: str
    number: int
    run: int
    status: str
    sent: float
    ended: float | None


@dataclass(frozen=True, slots=True)
class RunTimes:
    """A run's start and end, its time compression (``run --emulate --speed``), and the
    attempts that were in flight during it."""

    started: float
    finished: float | None
    speed: float
    attempts: list[AttemptTimes]


def read_run_times(state_dir: Path, run_id: int) -> tuple[RunTimes | None, str]:
    """The times of run ``run_id`` in ``state_dir``, or None and why not."""
    if not (state_dir / "state.db").is_file():
        return None, f"no journal in {state_dir}"
    try:
        with State.snapshot(state_dir) as state:
            run = state.run(run_id)
            if run is None:
                return None, f"the journal in {state_dir} has no run {run_id}"
            speed = run.options.get("speed", 1.0)
            attempts: list[AttemptTimes] = []
            for row in state.run_steps(run_id):
                if row.step_id is None:
                    continue
                for attempt in state.attempts(row.step_id):
                    ended = attempt.finished_at
                    if ended is not None and ended < run.started_at:
                        continue  # made by an earlier run, before this one started
                    if attempt.run_id > run_id:
                        continue
                    attempts.append(
                        AttemptTimes(
                            key=row.key,
                            step=row.step,
                            number=attempt.number,
                            run=attempt.run_id,
                            status=attempt.status,
                            sent=attempt.submitting_at,
                            ended=ended,
                        )
                    )
    except (StateUnreadable, OSError) as exc:
        return None, f"the journal in {state_dir} cannot be read ({exc})"
    valid_speed = float(speed) if isinstance(speed, int | float) and speed > 0 else 1.0
    return RunTimes(run.started_at, run.finished_at, valid_speed, attempts), ""
