"""The run journal: durable, resumable execution state in SQLite (WAL, ``synchronous=FULL``).

The journal lives in a state folder (``.runway-plan/`` beside the spec by default) with the
content-addressed store and one folder per run (manifest, log).  Every transition below is one
``BEGIN IMMEDIATE`` transaction, committed before the executor's next network call, so a
process killed at any instant leaves a state the next run can resume from.

Steps: one row per distinct piece of work, keyed by its fingerprint
(:mod:`runway_plan.execute.fingerprint`), shared by every run and every spec using this folder::

    pending ──► submitting ──► running ──► downloading ──► succeeded
    ▲ ▲ ▲         │  │  │          │
    │ │ │         │  │  │          ├──► pending    FAILED, retryable: a new attempt
    │ │ │         │  │  │          ├──► failed     FAILED for good, or the task is gone
    │ │ │         │  │  │          └──► cancelled
    │ │ └─────────┘  │  └──► failed                rejected (400, 401): nothing was made
    │ │   not sent   └─────► unknown               the create's outcome is unknown
    │ └──────────────────────┘ --resubmit-unknown (the attempt is kept, as "abandoned")
    └── a later run: failed (when transient, or --retry-failed), cancelled

* ``submitting`` is committed before a create request is sent and replaced at once by
  ``running`` with the task id the API returned.  A create that certainly did not reach the
  API (connection refused, 429, 503) goes back to ``pending`` before it is retried.
* A step found ``submitting`` by a later run (the process died inside that window), or whose
  create lost its connection after the request was sent, becomes ``unknown``: the create may
  have made a task, whose id nobody knows.  It is never resent unless the user asks.
* A step with a task id (``running``, ``downloading``) is polled, never resubmitted.
* A FAILED task whose failure code allows a retry sends the step back to ``pending`` for a
  new attempt; every attempt (task id, status, failure code, estimated and billed credits) is
  a row of ``attempts``, so each one's cost is accounted.

Runs: one row per invocation, and ``run_steps`` says what the run did with each generation
(generated, reused, failed, skipped, unknown, interrupted).  ``links`` records the files the
executor wrote under ``outputs/`` so it never overwrites one it did not write; ``uploads``
caches ``runway://`` URIs of local assets by content.

A lock file (``fcntl.flock``, released by the kernel when the process dies, even by SIGKILL)
keeps two runs off one state folder.  The API key is never written here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA_VERSION",
    "AttemptRow",
    "Outcome",
    "OutputRow",
    "RunRow",
    "RunStepRow",
    "State",
    "StateLocked",
    "StepRow",
    "StepStatus",
]

SCHEMA_VERSION = 1

_V1 = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    pid INTEGER NOT NULL,
    spec_path TEXT NOT NULL,
    spec_name TEXT NOT NULL,
    spec_sha256 TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    catalog_digest TEXT NOT NULL,
    origin TEXT NOT NULL,
    planned_low TEXT,
    planned_high TEXT,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE steps (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL,
    step TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    document TEXT NOT NULL,
    output_count INTEGER NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failure_code TEXT,
    failure TEXT,
    estimated_credits TEXT,
    billed_credits TEXT,
    run_id INTEGER REFERENCES runs(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX steps_status ON steps(status);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY,
    step_id INTEGER NOT NULL REFERENCES steps(id),
    number INTEGER NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    status TEXT NOT NULL,
    task_id TEXT,
    request TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    estimated_credits TEXT,
    billed_credits TEXT,
    failure_code TEXT,
    failure TEXT,
    submitting_at REAL NOT NULL,
    submitted_at REAL,
    finished_at REAL,
    UNIQUE (step_id, number)
);
CREATE INDEX attempts_task ON attempts(task_id);
CREATE TABLE outputs (
    step_id INTEGER NOT NULL REFERENCES steps(id),
    idx INTEGER NOT NULL,
    url TEXT,
    url_at REAL,
    sha256 TEXT,
    size INTEGER,
    ext TEXT,
    mime TEXT,
    PRIMARY KEY (step_id, idx)
);
CREATE TABLE run_steps (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    step TEXT NOT NULL,
    position INTEGER NOT NULL,
    fingerprint TEXT,
    step_id INTEGER REFERENCES steps(id),
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    planned_low TEXT,
    planned_high TEXT,
    paths TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, key)
);
CREATE TABLE links (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    spec_path TEXT NOT NULL,
    key TEXT NOT NULL,
    run_id INTEGER
);
CREATE TABLE uploads (
    sha256 TEXT PRIMARY KEY,
    uri TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

_MIGRATIONS: tuple[str, ...] = (_V1,)
"""Schema migrations; migration ``i`` brings a version-``i`` journal to version ``i + 1``."""


class StateLocked(Exception):
    """Another process holds the state folder's lock."""

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory
        self.holder = holder
        super().__init__(f"the state in {directory} is locked by another run ({holder})")


class StepStatus(StrEnum):
    """Where a piece of work stands (see the module docstring for the transitions)."""

    PENDING = "pending"
    SUBMITTING = "submitting"
    UNKNOWN = "unknown"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    """What one run did with one generation."""

    PLANNED = "planned"
    GENERATED = "generated"
    REUSED = "reused"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class StepRow:
    """A row of ``steps``."""

    id: int
    fingerprint: str
    key: str
    step: str
    endpoint: str
    model: str
    output_count: int
    status: StepStatus
    task_id: str | None
    attempts: int
    failure_code: str | None
    failure: str | None
    estimated_credits: Decimal | None
    billed_credits: Decimal | None
    run_id: int | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """A row of ``attempts``: one create request and the task it made.

    ``status`` is ``submitting`` (being sent), ``unknown`` (may have made a task),
    ``abandoned`` (an unknown one the user chose to send again), ``rejected`` (400/401), the
    task's own status (THROTTLED, PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED) or ``lost``
    (the API no longer has the task).  ``request`` is the request as sent with data URIs and
    URL signatures abbreviated; ``request_sha256`` hashes the exact body.
    """

    id: int
    step_id: int
    number: int
    run_id: int
    status: str
    task_id: str | None
    request: str
    request_sha256: str
    estimated_credits: Decimal | None
    billed_credits: Decimal | None
    failure_code: str | None
    failure: str | None
    submitting_at: float
    submitted_at: float | None
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class OutputRow:
    """A row of ``outputs``: where an output was offered, and what was stored."""

    step_id: int
    index: int
    url: str | None
    url_at: float | None
    sha256: str | None
    size: int | None
    ext: str | None
    mime: str | None


@dataclass(frozen=True, slots=True)
class RunRow:
    """A row of ``runs``."""

    id: int
    started_at: float
    finished_at: float | None
    status: str
    pid: int
    spec_path: str
    spec_name: str
    spec_sha256: str
    catalog_version: str
    catalog_digest: str
    origin: str
    planned_low: Decimal | None
    planned_high: Decimal | None
    options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunStepRow:
    """A row of ``run_steps``: one run's outcome for one generation."""

    run_id: int
    key: str
    step: str
    position: int
    fingerprint: str | None
    step_id: int | None
    outcome: Outcome
    reason: str
    message: str
    planned_low: Decimal | None
    planned_high: Decimal | None
    paths: list[str]


def _step(row: sqlite3.Row) -> StepRow:
    return StepRow(
        id=row["id"],
        fingerprint=row["fingerprint"],
        key=row["key"],
        step=row["step"],
        endpoint=row["endpoint"],
        model=row["model"],
        output_count=row["output_count"],
        status=StepStatus(row["status"]),
        task_id=row["task_id"],
        attempts=row["attempts"],
        failure_code=row["failure_code"],
        failure=row["failure"],
        estimated_credits=_dec(row["estimated_credits"]),
        billed_credits=_dec(row["billed_credits"]),
        run_id=row["run_id"],
        updated_at=row["updated_at"],
    )


def _attempt(row: sqlite3.Row) -> AttemptRow:
    return AttemptRow(
        id=row["id"],
        step_id=row["step_id"],
        number=row["number"],
        run_id=row["run_id"],
        status=row["status"],
        task_id=row["task_id"],
        request=row["request"],
        request_sha256=row["request_sha256"],
        estimated_credits=_dec(row["estimated_credits"]),
        billed_credits=_dec(row["billed_credits"]),
        failure_code=row["failure_code"],
        failure=row["failure"],
        submitting_at=row["submitting_at"],
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
    )


def _output(row: sqlite3.Row) -> OutputRow:
    return OutputRow(
        step_id=row["step_id"],
        index=row["idx"],
        url=row["url"],
        url_at=row["url_at"],
        sha256=row["sha256"],
        size=row["size"],
        ext=row["ext"],
        mime=row["mime"],
    )


def _run(row: sqlite3.Row) -> RunRow:
    return RunRow(
        id=row["id"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        pid=row["pid"],
        spec_path=row["spec_path"],
        spec_name=row["spec_name"],
        spec_sha256=row["spec_sha256"],
        catalog_version=row["catalog_version"],
        catalog_digest=row["catalog_digest"],
        origin=row["origin"],
        planned_low=_dec(row["planned_low"]),
        planned_high=_dec(row["planned_high"]),
        options=json.loads(row["options"] or "{}"),
    )


def _run_step(row: sqlite3.Row) -> RunStepRow:
    return RunStepRow(
        run_id=row["run_id"],
        key=row["key"],
        step=row["step"],
        position=row["position"],
        fingerprint=row["fingerprint"],
        step_id=row["step_id"],
        outcome=Outcome(row["outcome"]),
        reason=row["reason"],
        message=row["message"],
        planned_low=_dec(row["planned_low"]),
        planned_high=_dec(row["planned_high"]),
        paths=json.loads(row["paths"] or "[]"),
    )


class _Lock:
    """An exclusive ``flock`` on ``<state>/lock`` holding the owner's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(self.fd, 200, 0).decode("utf-8", "replace").strip()
            finally:
                os.close(self.fd)
            raise StateLocked(path.parent, holder or "unknown process") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()} since {time.strftime('%H:%M:%S')}\n".encode(), 0)

    def release(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


class State:
    """An open state folder: the journal, its lock, and the folders beside it.

    ``lock=False`` opens the journal without taking the lock, for commands that only read
    it (``status``) or make transitions a running executor tolerates (``cancel``).
    """

    def __init__(self, directory: Path, *, lock: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _Lock(self.directory / "lock") if lock else None
        try:
            self.db = sqlite3.connect(
                self.directory / "state.db", isolation_level=None, timeout=30.0
            )
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    @property
    def store_dir(self) -> Path:
        """The content-addressed store."""
        return self.directory / "store"

    def run_dir(self, run_id: int) -> Path:
        """The folder of one run (manifest and log)."""
        return self.directory / "runs" / str(run_id)

    def close(self) -> None:
        """Close the journal and release the lock."""
        self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed (durably) on exit."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @property
    def version(self) -> int:
        """The journal's schema version."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.transaction() as db:
            current = int(db.execute("PRAGMA user_version").fetchone()[0])
            if current > len(_MIGRATIONS):
                raise RuntimeError(
                    f"the state in {self.directory} was written by a newer runway-plan "
                    f"(schema {current}; this one knows {len(_MIGRATIONS)})"
                )
            for script in _MIGRATIONS[current:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(f"PRAGMA user_version = {len(_MIGRATIONS)}")

    # ------------------------------------------------------------------ runs

    def begin_run(
        self,
        *,
        spec_path: str,
        spec_name: str,
        spec_sha256: str,
        catalog_version: str,
        catalog_digest: str,
        origin: str,
        planned_low: Decimal | None,
        planned_high: Decimal | None,
        options: dict[str, Any],
    ) -> int:
        """Record a new run (status ``running``); its id."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, pid, spec_path, spec_name, spec_sha256,"
                " catalog_version, catalog_digest, origin, planned_low, planned_high, options)"
                " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    os.getpid(),
                    spec_path,
                    spec_name,
                    spec_sha256,
                    catalog_version,
                    catalog_digest,
                    origin,
                    _text(planned_low),
                    _text(planned_high),
                    json.dumps(options, sort_keys=True),
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_run(self, run_id: int, status: str) -> None:
        """Record how a run ended (``finished``, ``failed``, ``interrupted``)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
                (status, time.time(), run_id),
            )

    def runs(self) -> list[RunRow]:
        """Every run, newest first."""
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC").fetchall()
        return [_run(row) for row in rows]

    def run(self, run_id: int) -> RunRow | None:
        """One run."""
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _run(row)

    def set_run_steps(self, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
        """Record many ``run_steps`` rows in one transaction (the plan of a run)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO run_steps (run_id, key, step, position, fingerprint,"
                " step_id, outcome, reason, message, planned_low, planned_high, paths)"
                " VALUES (:run_id, :key, :step, :position, :fingerprint, :step_id, :outcome,"
                " :reason, :message, :planned_low, :planned_high, :paths)",
                [
                    {
                        "run_id": run_id,
                        "fingerprint": None,
                        "step_id": None,
                        "reason": "",
                        "message": "",
                        "paths": "[]",
                        **row,
                    }
                    for row in rows
                ],
            )

    def run_steps(self, run_id: int) -> list[RunStepRow]:
        """What run ``run_id`` did with each generation, in spec order."""
        rows = self.db.execute(
            "SELECT * FROM run_steps WHERE run_id = ? ORDER BY position", (run_id,)
        ).fetchall()
        return [_run_step(row) for row in rows]

    # ------------------------------------------------------------------ steps

    def step(self, fingerprint: str) -> StepRow | None:
        """The step with ``fingerprint``, or None."""
        row = self.db.execute(
            "SELECT * FROM steps WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return None if row is None else _step(row)

    def step_by_id(self, step_id: int) -> StepRow:
        """The step with id ``step_id``."""
        row = self.db.execute("SELECT * FROM steps WHERE id = ?", (step_id,)).fetchone()
        if row is None:
            raise KeyError(step_id)
        return _step(row)

    def steps_with_status(self, *statuses: StepStatus) -> list[StepRow]:
        """Every step in one of ``statuses``."""
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            f"SELECT * FROM steps WHERE status IN ({marks}) ORDER BY id",
            [s.value for s in statuses],
        ).fetchall()
        return [_step(row) for row in rows]

    def steps_by_key(self, key: str) -> list[StepRow]:
        """Steps recorded for generation key ``key`` (newest first)."""
        rows = self.db.execute(
            "SELECT * FROM steps WHERE key = ? ORDER BY updated_at DESC", (key,)
        ).fetchall()
        return [_step(row) for row in rows]

    def document(self, step_id: int) -> dict[str, Any]:
        """The fingerprint document of a step (what its fingerprint hashes)."""
        row = self.db.execute("SELECT document FROM steps WHERE id = ?", (step_id,)).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def ensure_step(
        self,
        *,
        fingerprint: str,
        key: str,
        step: str,
        endpoint: str,
        model: str,
        document: str,
        output_count: int,
        run_id: int,
    ) -> StepRow:
        """The step with ``fingerprint``, created ``pending`` when new."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO steps (fingerprint, key, step, endpoint, model, document,"
                " output_count, status, run_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"
                " ON CONFLICT (fingerprint) DO UPDATE SET key = excluded.key,"
                " step = excluded.step",
                (fingerprint, key, step, endpoint, model, document, output_count, run_id, now, now),
            )
        found = self.step(fingerprint)
        assert found is not None
        return found

    def _set_step(self, db: sqlite3.Connection, step_id: int, **values: Any) -> None:
        values["updated_at"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in values)
        db.execute(f"UPDATE steps SET {columns} WHERE id = ?", [*values.values(), step_id])

    def attempts(self, step_id: int) -> list[AttemptRow]:
        """A step's attempts, first first."""
        rows = self.db.execute(
            "SELECT * FROM attempts WHERE step_id = ? ORDER BY number", (step_id,)
        ).fetchall()
        return [_attempt(row) for row in rows]

    def all_attempts(self) -> list[AttemptRow]:
        """Every attempt of every step (for reconciliation with an account's records)."""
        rows = self.db.execute("SELECT * FROM attempts ORDER BY id").fetchall()
        return [_attempt(row) for row in rows]

    def _count(self, db: sqlite3.Connection, step_id: int) -> int:
        """Create requests sent for a step (those certainly not sent are not kept)."""
        return int(
            db.execute("SELECT COUNT(*) FROM attempts WHERE step_id = ?", (step_id,)).fetchone()[0]
        )

    def _billed_total(self, db: sqlite3.Connection, step_id: int) -> str | None:
        rows = db.execute(
            "SELECT billed_credits FROM attempts WHERE step_id = ? AND billed_credits IS NOT NULL",
            (step_id,),
        ).fetchall()
        if not rows:
            return None
        return str(sum((Decimal(r[0]) for r in rows), Decimal(0)))

    # transitions --------------------------------------------------------------

    def mark_submitting(
        self,
        step_id: int,
        run_id: int,
        *,
        request: str,
        request_sha256: str,
        estimated: Decimal | None,
    ) -> int:
        """``pending -> submitting``: a create is about to be sent; the attempt's number."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(number), 0) FROM attempts WHERE step_id = ?", (step_id,)
            ).fetchone()
            number = int(row[0]) + 1
            db.execute(
                "INSERT INTO attempts (step_id, number, run_id, status, request, request_sha256,"
                " estimated_credits, submitting_at) VALUES (?, ?, ?, 'submitting', ?, ?, ?, ?)",
                (step_id, number, run_id, request, request_sha256, _text(estimated), time.time()),
            )
            self._set_step(
                db,
                step_id,
                status=StepStatus.SUBMITTING.value,
                task_id=None,
                run_id=run_id,
                failure_code=None,
                failure=None,
                estimated_credits=_text(estimated),
            )
            return number

    def mark_not_sent(self, step_id: int, number: int) -> None:
        """``submitting -> pending``: the create certainly did not reach the API."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM attempts WHERE step_id = ? AND number = ? AND status = 'submitting'",
                (step_id, number),
            )
            self._set_step(db, step_id, status=StepStatus.PENDING.value)

    def mark_submitted(
        self, step_id: int, number: int, task_id: str, estimated: Decimal | None
    ) -> None:
        """``submitting -> running``: the API made task ``task_id``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE attempts SET status = 'PENDING', task_id = ?, submitted_at = ?,"
                " estimated_credits = COALESCE(?, estimated_credits)"
                " WHERE step_id = ? AND number = ?",
                (task_id, time.time(), _text(estimated), step_id, number),
            )
            values: dict[str, Any] = {
                "status": StepStatus.RUNNING.value,
                "task_id": task_id,
                "attempts": self._count(db, step_id),
            }
            if estimated is not None:
                values["estimated_credits"] = str(estimated)
            self._set_step(db, step_id, **values)

    def mark_unknown(self, step_id: int, number: int | None, reason: str) -> None:
        """``submitting -> unknown``: the create may have made a task whose id is unknown.

        ``number`` None marks every ``submitting`` attempt of the step (found by a later run).
        """
        with self.transaction() as db:
            if number is None:
                db.execute(
                    "UPDATE attempts SET status = 'unknown', failure = ?, finished_at = ?"
                    " WHERE step_id = ? AND status = 'submitting'",
                    (reason, time.time(), step_id),
                )
            else:
                db.execute(
                    "UPDATE attempts SET status = 'unknown', failure = ?, finished_at = ?"
                    " WHERE step_id = ? AND number = ?",
                    (reason, time.time(), step_id, number),
                )
            self._set_step(
                db,
                step_id,
                status=StepStatus.UNKNOWN.value,
                failure=reason,
                attempts=self._count(db, step_id),
            )

    def abandon_unknown(self, step_id: int) -> None:
        """``unknown -> pending``: the user chose to submit again (``--resubmit-unknown``)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE attempts SET status = 'abandoned' WHERE step_id = ? AND status IN"
                " ('unknown', 'submitting')",
                (step_id,),
            )
            self._set_step(db, step_id, status=StepStatus.PENDING.value, failure=None)

    def mark_rejected(self, step_id: int, number: int, status: int, message: str) -> None:
        """``submitting -> failed``: the API refused the request (nothing was made)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE attempts SET status = 'rejected', failure_code = ?, failure = ?,"
                " finished_at = ?, billed_credits = '0' WHERE step_id = ? AND number = ?",
                (f"HTTP {status}", message, time.time(), step_id, number),
            )
            self._set_step(
                db,
                step_id,
                status=StepStatus.FAILED.value,
                failure_code=f"HTTP {status}",
                failure=message,
                attempts=self._count(db, step_id),
            )

    def mark_task_status(self, step_id: int, number: int, status: str) -> None:
        """Record a task's new non-terminal status (THROTTLED, PENDING, RUNNING)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE attempts SET status = ? WHERE step_id = ? AND number = ?",
                (status, step_id, number),
            )

    def mark_task_succeeded(
        self, step_id: int, number: int, billed: Decimal | None, urls: Sequence[str]
    ) -> None:
        """``running -> downloading``: the task SUCCEEDED; its output URLs are recorded."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "UPDATE attempts SET status = 'SUCCEEDED', billed_credits = ?, finished_at = ?"
                " WHERE step_id = ? AND number = ?",
                (_text(billed), now, step_id, number),
            )
            db.execute("DELETE FROM outputs WHERE step_id = ?", (step_id,))
            db.executemany(
                "INSERT INTO outputs (step_id, idx, url, url_at) VALUES (?, ?, ?, ?)",
                [(step_id, index, url, now) for index, url in enumerate(urls)],
            )
            self._set_step(
                db,
                step_id,
                status=StepStatus.DOWNLOADING.value,
                output_count=len(urls),
                billed_credits=self._billed_total(db, step_id),
            )

    def refresh_urls(self, step_id: int, urls: Sequence[str]) -> None:
        """Record fresh output URLs (a re-fetched task signs them anew)."""
        now = time.time()
        with self.transaction() as db:
            for index, url in enumerate(urls):
                db.execute(
                    "INSERT INTO outputs (step_id, idx, url, url_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (step_id, idx) DO UPDATE SET url = excluded.url,"
                    " url_at = excluded.url_at",
                    (step_id, index, url, now),
                )

    def record_output(
        self, step_id: int, index: int, *, sha256: str, size: int, ext: str, mime: str | None
    ) -> None:
        """An output is in the store, verified."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO outputs (step_id, idx, sha256, size, ext, mime)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (step_id, idx) DO UPDATE SET"
                " sha256 = excluded.sha256, size = excluded.size, ext = excluded.ext,"
                " mime = excluded.mime",
                (step_id, index, sha256, size, ext, mime),
            )

    def mark_succeeded(self, step_id: int) -> None:
        """``downloading -> succeeded``: every output is stored and verified."""
        with self.transaction() as db:
            self._set_step(db, step_id, status=StepStatus.SUCCEEDED.value)

    def mark_task_failed(
        self,
        step_id: int,
        number: int,
        *,
        status: str,
        failure_code: str | None,
        failure: str | None,
        billed: Decimal | None,
        final: bool,
    ) -> None:
        """A task ended FAILED, CANCELLED or vanished (``lost``).

        ``final``: the step is ``failed`` (or ``cancelled``); otherwise it goes back to
        ``pending`` for another attempt.
        """
        if not final:
            step_status = StepStatus.PENDING
        elif status == "CANCELLED":
            step_status = StepStatus.CANCELLED
        else:
            step_status = StepStatus.FAILED
        with self.transaction() as db:
            db.execute(
                "UPDATE attempts SET status = ?, failure_code = ?, failure = ?,"
                " billed_credits = ?, finished_at = ? WHERE step_id = ? AND number = ?",
                (status, failure_code, failure, _text(billed), time.time(), step_id, number),
            )
            self._set_step(
                db,
                step_id,
                status=step_status.value,
                failure_code=failure_code or (None if status == "FAILED" else status),
                failure=failure,
                billed_credits=self._billed_total(db, step_id),
            )

    def reset(self, step_id: int) -> None:
        """``failed | cancelled -> pending``: a new run tries the step again."""
        with self.transaction() as db:
            self._set_step(db, step_id, status=StepStatus.PENDING.value)

    def current_attempt(self, step_id: int) -> AttemptRow | None:
        """The step's latest attempt."""
        row = self.db.execute(
            "SELECT * FROM attempts WHERE step_id = ? ORDER BY number DESC LIMIT 1", (step_id,)
        ).fetchone()
        return None if row is None else _attempt(row)

    def outputs(self, step_id: int) -> list[OutputRow]:
        """A step's outputs, by index."""
        rows = self.db.execute(
            "SELECT * FROM outputs WHERE step_id = ? ORDER BY idx", (step_id,)
        ).fetchall()
        return [_output(row) for row in rows]

    # ------------------------------------------------------------------ links and uploads

    def link_owner(self, path: str) -> tuple[str, str, str] | None:
        """(sha256, spec path, key) of a file the executor wrote at ``path``, or None."""
        row = self.db.execute(
            "SELECT sha256, spec_path, key FROM links WHERE path = ?", (path,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def record_link(self, path: str, sha256: str, spec_path: str, key: str, run_id: int) -> None:
        """The executor wrote ``path`` (content ``sha256``) for generation ``key``."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO links (path, sha256, spec_path, key, run_id)"
                " VALUES (?, ?, ?, ?, ?)",
                (path, sha256, spec_path, key, run_id),
            )

    def links(self) -> list[tuple[str, str]]:
        """(path, sha256) of every file the executor wrote under an outputs folder."""
        return [(r[0], r[1]) for r in self.db.execute("SELECT path, sha256 FROM links")]

    def upload(self, sha256: str, max_age: float) -> str | None:
        """A ``runway://`` URI of content ``sha256`` uploaded less than ``max_age`` s ago."""
        row = self.db.execute(
            "SELECT uri, created_at FROM uploads WHERE sha256 = ?", (sha256,)
        ).fetchone()
        if row is None or time.time() - row[1] > max_age:
            return None
        return str(row[0])

    def record_upload(self, sha256: str, uri: str) -> None:
        """Content ``sha256`` was uploaded as ``uri``."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO uploads (sha256, uri, created_at) VALUES (?, ?, ?)",
                (sha256, uri, time.time()),
            )
