"""What a run is given and what it gives back: options, events, per-generation results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from runway_plan.diagnostics import Diagnostic, has_errors
from runway_plan.execute.resources import ResourceResult
from runway_plan.execute.state import Outcome
from runway_plan.plan import Plan
from runway_plan.plan.cost import format_credits

__all__ = ["Event", "GenerationResult", "OutputFile", "Proposal", "RunOptions", "RunResult"]


@dataclass(frozen=True)
class RunOptions:
    """How to run.

    ``poll_interval`` is the time between polls of one task in seconds (5 for the real API;
    5 divided by the emulator's speed when time is compressed); ``speed`` also shortens the
    executor's own waits (failure retry delays, backoff).  ``max_credits`` caps what this
    run may spend (besides the spec's ``budget.max_credits``).  ``data_uri_limit`` overrides
    the catalog's largest inline asset (bytes of data URI).  ``prune`` deletes the documents
    and avatars recorded in the state but gone from the spec; ``refresh`` reads each
    recorded one first, so drift (changed or deleted remotely) is repaired;
    ``empty_remote`` says the API holds none of them (the emulator of ``--emulate``).
    ``task_timeout`` (API seconds, like latencies) gives up waiting for a task that long
    after its create; it stays in flight in the journal and the next run polls it again.
    ``outputs_base`` is the folder from which the folders of ``outputs_dir`` are made without
    following a symlink (default: ``outputs_dir`` itself; the spec's folder by default).
    """

    outputs_dir: Path
    outputs_base: Path | None = None
    resubmit_unknown: bool = False
    retry_failed: bool = False
    poll_interval: float = 5.0
    speed: float = 1.0
    max_credits: Decimal | None = None
    data_uri_limit: int | None = None
    url_fresh_seconds: float = 6 * 3600.0
    upload_max_age: float = 20 * 3600.0
    download_concurrency: int = 4
    unreachable_polls: int = 60
    task_timeout: float | None = None
    prune: bool = False
    refresh: bool = True
    empty_remote: bool = False
    avatar_timeout: float = 1800.0


@dataclass(frozen=True)
class Event:
    """Something the run did, for progress displays and the run log."""

    kind: str
    key: str | None
    message: str
    at: float = field(default_factory=time.time)


@dataclass
class OutputFile:
    """One stored output: its index in the generation, its number in the step
    (``@step[number]``), hash, size, media type and where it was placed."""

    index: int
    number: int
    sha256: str
    size: int
    mime: str | None
    path: str | None


@dataclass
class GenerationResult:
    """What the run did with one generation.

    ``billed`` sums every attempt of the step's work in any run; ``billed_this_run`` only
    this run's.  ``exposure`` is the most a create of unknown outcome may have charged.
    ``reserved`` is what the budget holds for the current attempt (its price re-priced from
    its inputs' real lengths) from the budget check until its bill is known.
    """

    key: str
    step: str
    index: int | None
    position: int
    outcome: Outcome = Outcome.PLANNED
    status: str = "waiting"
    reason: str = ""
    message: str = ""
    fingerprint: str | None = None
    step_id: int | None = None
    planned: tuple[Decimal, Decimal] | None = None
    billed: Decimal | None = None
    billed_this_run: Decimal = Decimal(0)
    estimated: Decimal | None = None
    exposure: Decimal | None = None
    reserved: Decimal | None = None
    attempts: int = 0
    task_ids: list[str] = field(default_factory=list)
    failure_code: str | None = None
    outputs: list[OutputFile] = field(default_factory=list)
    started: float | None = None


@dataclass
class RunResult:
    """The end of a run: per-generation results, diagnostics and totals."""

    run_id: int | None
    status: str
    generations: dict[str, GenerationResult]
    diagnostics: list[Diagnostic]
    plan: Plan | None
    started_at: float
    finished_at: float
    requests: dict[str, int]
    throttled: int = 0
    spec_path: str = ""
    spec_sha256: str = ""
    origin: str = ""
    catalog_version: str = ""
    catalog_digest: str = ""
    manifest: Path | None = None
    log: Path | None = None
    resources: list[ResourceResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every generation and resource is done, 130 when interrupted, 1 otherwise."""
        if self.status == "interrupted":
            return 130
        done = all(
            g.outcome in (Outcome.GENERATED, Outcome.REUSED) for g in self.generations.values()
        ) and all(r.ok for r in self.resources)
        return 0 if self.status == "finished" and done and not has_errors(self.diagnostics) else 1

    @property
    def billed_this_run(self) -> Decimal:
        """Credits billed by this run's attempts."""
        return sum((g.billed_this_run for g in self.generations.values()), Decimal(0))


@dataclass(frozen=True)
class Proposal:
    """What a run is about to spend, for the question asked before it starts.

    ``credits`` is the high end of the generations to make (unpriced ones not counted;
    ``unpriced`` says how many), ``usd`` the same in dollars.
    """

    generations: int
    reused: int
    credits: Decimal
    usd: Decimal
    unpriced: int

    def question(self) -> str:
        """``Spend up to 40 credits ($0.40) on 5 generations (2 reused)?``"""
        note = f", {self.unpriced} of them unpriced" if self.unpriced else ""
        return (
            f"Spend up to {format_credits(self.credits)} credits (${self.usd:.2f}) on "
            f"{self.generations} generation{'s' * (self.generations != 1)}{note}"
            f" ({self.reused} reused from the state)?"
        )
