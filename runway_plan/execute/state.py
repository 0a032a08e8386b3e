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

Resources (schema 2): documents, voices and avatars are objects the API keeps, not tasks.  One
row of ``resources`` per spec resource, keyed by (spec name, API origin, kind, spec key), holds
the remote id, the hash and the fields last applied (for the field-level diff of ``plan``) and,
for an avatar or a voice, its processing status (a voice made again, its sample or design
changed, goes ``deleting`` → (none) → ``creating``)::

    (none) ──► creating ──► present ◄──► updating
                 │  │          │
                 │  │          └──► deleting ──► (none)
                 │  └──► (none)          the create certainly made nothing (not sent, 400)
                 └── in doubt: the next pass looks the object up by name and content
                     (the API has no idempotency key) → present (adopted) or creating again

* ``creating`` is committed before ``POST /v1/{avatars,documents}`` with the name and fields
  being sent, and replaced by ``present`` with the remote id at once.  A row found
  ``creating`` (the process died inside that window, or the answer was lost) is never
  created blindly again: the remote list is searched first.
* ``updating`` is committed before a PATCH with the fields being sent; the applied fields
  change only once the API answered (a PATCH is idempotent: an interrupted one is sent again).
* ``deleting`` is committed before a DELETE; the row goes once the API answered (404 counts).

``resource_events`` records every write and its outcome (and every adoption), so a run can
say what it did.

Schema 3: ``meta`` names the spec file a state folder belongs to (one spec, one state: see
:mod:`runway_plan.execute.layout`), and ``stop_requests`` carries ``runway-plan cancel``'s
request to the run holding the lock: the run stops submitting, finishes the creates it has in
flight, and acknowledges, so ``cancel`` then sees every task there is to cancel.

Two caches sit beside the schema (made when first written, outside its versions, ignored by
older versions, and dropped without harm): ``store_seen`` holds the signature of each stored
file when it last hashed right (:mod:`runway_plan.execute.store`), ``price_memo`` the catalog's
price of each request body that reads no file (the drift a run reports,
:func:`runway_plan.execute.learn.observe_bills`; a run remembers those of its bills as it
ends).  Neither decides what is paid for.

A lock file (``fcntl.flock``, released by the kernel when the process dies, even by SIGKILL)
keeps two runs off one state folder.  The API key is never written here.

A state folder may have been committed by someone hostile: nothing here follows a symlink
(the folders on the way, the lock, the journal and its ``-wal``/``-shm`` files are refused
when they are symlinks, see :mod:`runway_plan.files`), and commands that only read a journal
(``plan``, ``status``) open :meth:`State.snapshot`, a private copy read under a size and a
time bound, so that they write nothing beside the spec and a corrupt or hostile journal is an
error (:class:`StateUnreadable`), never a traceback or a hang.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import operator
import os
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from runway_plan.errors import RunwayPlanError
from runway_plan.files import SymlinkInTheWay, make_folders, refuse_symlink

__all__ = [
    "SCHEMA_VERSION",
    "AttemptRow",
    "Outcome",
    "OutputRow",
    "ResourceEvent",
    "ResourceRow",
    "ResourceStatus",
    "RunRow",
    "RunStepRow",
    "State",
    "StateLocked",
    "StateUnreadable",
    "StepRow",
    "StepStatus",
    "folder_lock",
    "locked_by",
]

SCHEMA_VERSION = 3

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

_V2 = """
CREATE TABLE resources (
    id INTEGER PRIMARY KEY,
    spec_name TEXT NOT NULL,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    spec_path TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    remote_id TEXT,
    applied_hash TEXT,
    applied TEXT,
    pending TEXT,
    remote_status TEXT,
    failure TEXT,
    run_id INTEGER REFERENCES runs(id),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (spec_name, origin, kind, key)
);
CREATE INDEX resources_remote ON resources(origin, kind, remote_id);
CREATE TABLE resource_events (
    id INTEGER PRIMARY KEY,
    spec_name TEXT NOT NULL,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    run_id INTEGER,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    remote_id TEXT,
    detail TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX resource_events_run ON resource_events(run_id);
"""

_V3 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE stop_requests (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    requested_at REAL NOT NULL,
    pid INTEGER NOT NULL,
    acknowledged_at REAL
);
CREATE INDEX stop_requests_run ON stop_requests(run_id);
"""

_MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
"""Schema migrations; migration ``i`` brings a version-``i`` journal to version ``i + 1``."""


class StateLocked(RunwayPlanError):
    """Another process holds the state folder's lock."""

    def __init__(self, directory: Path, holder: str) -> None:
        self.directory = directory
        self.holder = holder
        super().__init__(f"the state in {directory} is locked by another run ({holder})")


class StateUnreadable(RunwayPlanError):
    """A journal that cannot be read: corrupt, too large, too slow, or not a journal."""


SNAPSHOT_MAX_BYTES = 512_000_000
"""The largest journal (with its write-ahead log) :meth:`State.snapshot` copies."""
SNAPSHOT_SECONDS = 20.0
"""How long the queries on a snapshot may take in all (a hostile journal's views could
otherwise run forever)."""

_JOURNAL_FILES = ("state.db", "state.db-wal", "state.db-shm")


def _copy_journal(directory: Path, target: Path) -> None:
    """Copy the journal files of ``directory`` into ``target``: regular files only, never
    through a symlink, at most :data:`SNAPSHOT_MAX_BYTES` in all."""
    copied = 0
    for name in _JOURNAL_FILES:
        source = directory / name
        if not os.path.lexists(source):
            continue
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise StateUnreadable(f"{source} cannot be read: {exc.strerror}") from None
        with open(fd, "rb") as handle:
            info = os.fstat(fd)
            copied += info.st_size
            if not stat.S_ISREG(info.st_mode):
                raise StateUnreadable(f"{source} is not a regular file")
            if copied > SNAPSHOT_MAX_BYTES:
                raise StateUnreadable(
                    f"{directory} holds a journal over {SNAPSHOT_MAX_BYTES:,} bytes"
                )
            with open(target / name, "wb") as copy:
                shutil.copyfileobj(handle, copy)


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


class ResourceStatus(StrEnum):
    """Where a document, voice or avatar stands in the journal (see the module docstring)."""

    CREATING = "creating"
    PRESENT = "present"
    UPDATING = "updating"
    DELETING = "deleting"


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


@dataclass(frozen=True, slots=True)
class ResourceRow:
    """A row of ``resources``: one document, voice or avatar of one spec against one API origin.

    ``applied`` holds the fields last applied (what the remote object has, as far as the
    journal knows) and ``applied_hash`` their hash; ``pending`` the fields of the write in
    flight (``creating``, ``updating``).  ``remote_status`` is an avatar's processing
    status as last seen, ``failure`` its failure reason.
    """

    id: int
    spec_name: str
    origin: str
    kind: str
    key: str
    spec_path: str
    name: str
    status: ResourceStatus
    remote_id: str | None
    applied_hash: str | None
    applied: dict[str, Any] | None
    pending: dict[str, Any] | None
    remote_status: str | None
    failure: str | None
    run_id: int | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ResourceEvent:
    """A row of ``resource_events``: one write (or adoption) and how it ended."""

    id: int
    kind: str
    key: str
    run_id: int | None
    action: str
    outcome: str
    remote_id: str | None
    detail: str
    at: float


def _json_or_none(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _json_object(text: str | None) -> Any:
    return json.loads(text or "{}")


def _json_list(text: str | None) -> Any:
    return json.loads(text or "[]")


_Row = TypeVar("_Row")


def _reader(
    cls: type[_Row],
    columns: Mapping[str, str] | None = None,
    **convert: Callable[[Any], Any],
) -> Callable[[sqlite3.Row], _Row]:
    """A journal row as a ``cls`` (a dataclass): each field from the column of its name (or
    of the name ``columns`` gives it), through its ``convert`` function when it has one; the
    columns taken by one C-level getter, the fields passed in order."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not all(f.init and not f.kw_only for f in fields):
        raise TypeError(f"{cls.__name__}: every field is read positionally")
    names = [f.name for f in fields]
    columns = columns or {}
    get = operator.itemgetter(*(columns.get(name, name) for name in names))
    converted = tuple((i, convert[name]) for i, name in enumerate(names) if name in convert)

    def read(row: sqlite3.Row) -> _Row:
        values = list(get(row))
        for i, function in converted:
            values[i] = function(values[i])
        return cls(*values)

    return read


_resource = _reader(
    ResourceRow, status=ResourceStatus, applied=_json_or_none, pending=_json_or_none
)
_step = _reader(StepRow, status=StepStatus, estimated_credits=_dec, billed_credits=_dec)
_attempt = _reader(AttemptRow, estimated_credits=_dec, billed_credits=_dec)
_output = _reader(OutputRow, {"index": "idx"})
_run = _reader(RunRow, planned_low=_dec, planned_high=_dec, options=_json_object)
_run_step = _reader(
    RunStepRow, outcome=Outcome, planned_low=_dec, planned_high=_dec, paths=_json_list
)


class _Lock:
    """An exclusive ``flock`` on ``<state>/lock`` holding the owner's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            self.fd = os.open(path, flags, 0o644)
        except OSError as exc:
            raise SymlinkInTheWay(path) if os.path.islink(path) else exc from None
        if not stat.S_ISREG(os.fstat(self.fd).st_mode):
            os.close(self.fd)
            raise SymlinkInTheWay(path, "not a regular file")
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


def locked_by(directory: Path) -> str | None:
    """Who holds ``directory``'s run lock (the text the holder wrote), or None when nobody
    does.  Writes nothing and follows no symlink."""
    try:
        fd = os.open(directory / "lock", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            return holder or "unknown process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def folder_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s run lock; :class:`StateLocked` when another process holds it."""
    lock = _Lock(directory / "lock")
    try:
        yield
    finally:
        lock.release()


class State:
    """An open state folder: the journal, its lock, and the folders beside it.

    ``lock=False`` opens the journal without taking the lock, for transitions a running
    executor tolerates (``cancel``); commands that only read use :meth:`snapshot`.  ``base``
    is the folder the state folder is made in without following a symlink (by default its
    parent); ``store``, ``runs``, the lock and the journal files must not be symlinks
    (:class:`~runway_plan.files.SymlinkInTheWay`).
    """

    def __init__(self, directory: Path, *, lock: bool = True, base: Path | None = None) -> None:
        self.directory = Path(directory)
        make_folders(base if base is not None else self.directory.parent, self.directory)
        for name in ("store", "runs", *_JOURNAL_FILES):
            refuse_symlink(self.directory / name)
        self._snapshot: tempfile.TemporaryDirectory[str] | None = None
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

    @classmethod
    def snapshot(cls, directory: Path) -> State:
        """A private, read-only copy of the journal in ``directory``, for commands that only
        read it: nothing is written beside it, no symlink is followed, and a journal over
        :data:`SNAPSHOT_MAX_BYTES`, corrupt, or whose queries take over
        :data:`SNAPSHOT_SECONDS` in all raises :class:`StateUnreadable`."""
        scratch = tempfile.TemporaryDirectory(prefix="runway-plan-state-")
        try:
            _copy_journal(Path(directory), Path(scratch.name))
            state = cls.__new__(cls)
            state.directory = Path(directory)
            state._lock = None
            state._snapshot = scratch
            deadline = time.monotonic() + SNAPSHOT_SECONDS
            state.db = sqlite3.connect(
                Path(scratch.name) / "state.db", isolation_level=None, timeout=1.0
            )
            state.db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            state.db.row_factory = sqlite3.Row
            state._migrate()
            state.db.execute("PRAGMA query_only = ON")
        except StateUnreadable:
            scratch.cleanup()
            raise
        except (sqlite3.Error, RuntimeError, OSError) as exc:
            scratch.cleanup()
            raise StateUnreadable(
                f"{directory}: not a journal runway-plan can read ({exc})"
            ) from None
        return state

    @contextlib.contextmanager
    def bounded(self) -> Iterator[State]:
        """This open journal, to read as a :meth:`snapshot` is read, without its copy: one
        over :data:`SNAPSHOT_MAX_BYTES` raises :class:`StateUnreadable`, and its queries are
        interrupted after :data:`SNAPSHOT_SECONDS` in all."""
        size = 0
        for name in _JOURNAL_FILES:
            with contextlib.suppress(OSError):
                size += os.lstat(self.directory / name).st_size
        if size > SNAPSHOT_MAX_BYTES:
            raise StateUnreadable(
                f"{self.directory} holds a journal over {SNAPSHOT_MAX_BYTES:,} bytes"
            )
        deadline = time.monotonic() + SNAPSHOT_SECONDS
        self.db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            yield self
        finally:
            self.db.set_progress_handler(None, 0)

    def close(self) -> None:
        """Close the journal and release the lock."""
        self.db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._snapshot is not None:
            self._snapshot.cleanup()
            self._snapshot = None

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

    def runs_of(self, spec_path: str) -> list[RunRow]:
        """The runs of the spec at ``spec_path`` (resolved, as recorded), newest first."""
        rows = self.db.execute(
            "SELECT * FROM runs WHERE spec_path = ? ORDER BY id DESC", (spec_path,)
        ).fetchall()
        return [_run(row) for row in rows]

    @property
    def owner(self) -> str | None:
        """The file name of the spec this folder belongs to, when one claimed it."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
        return None if row is None else str(row[0])

    def claim(self, spec_file: str) -> str:
        """Make ``spec_file`` this folder's owner unless it has one; the owner."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('spec', ?)", (spec_file,))
        owner = self.owner
        assert owner is not None
        return owner

    def request_stop(self, run_id: int) -> None:
        """Ask run ``run_id`` (another process) to submit nothing more (``cancel``)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO stop_requests (run_id, requested_at, pid) VALUES (?, ?, ?)",
                (run_id, time.time(), os.getpid()),
            )

    def stop_requested(self, run_id: int) -> bool:
        """True when ``cancel`` asked run ``run_id`` to stop submitting."""
        row = self.db.execute(
            "SELECT 1 FROM stop_requests WHERE run_id = ? LIMIT 1", (run_id,)
        ).fetchone()
        return row is not None

    def acknowledge_stop(self, run_id: int) -> None:
        """Run ``run_id`` submits nothing more and has no create in flight."""
        with self.transaction() as db:
            db.execute(
                "UPDATE stop_requests SET acknowledged_at = ? WHERE run_id = ?"
                " AND acknowledged_at IS NULL",
                (time.time(), run_id),
            )

    def stop_acknowledged(self, run_id: int) -> bool:
        """True when run ``run_id`` acknowledged a stop request."""
        row = self.db.execute(
            "SELECT 1 FROM stop_requests WHERE run_id = ? AND acknowledged_at IS NOT NULL LIMIT 1",
            (run_id,),
        ).fetchone()
        return row is not None

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

    def steps_with_status(
        self, *statuses: StepStatus, runs: Collection[int] | None = None
    ) -> list[StepRow]:
        """Every step in one of ``statuses`` (last submitted by one of ``runs``, if given)."""
        marks = ",".join("?" * len(statuses))
        query = f"SELECT * FROM steps WHERE status IN ({marks})"
        values: list[Any] = [s.value for s in statuses]
        if runs is not None:
            query += f" AND run_id IN ({','.join('?' * len(runs))})"
            values += list(runs)
        rows = self.db.execute(query + " ORDER BY id", values).fetchall()
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
        found = self.step(fingerprint)
        if found is not None and found.key == key and found.step == step:
            return found  # what the upsert below would leave as it is, without a write
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

    # ------------------------------------------------------------------ price memo

    def price_memo(self, scope: str, limit: int) -> dict[str, tuple[str | None, str | None]]:
        """The remembered catalog prices of request bodies (see :meth:`remember_prices`)
        under ``scope``, at most ``limit``: by body digest, (low, high) or (None, None) for
        a body with no price.  Empty when the journal has none (the memo is optional)."""
        try:
            rows = self.db.execute(
                "SELECT request, low, high FROM price_memo WHERE scope = ? LIMIT ?",
                (scope, limit),
            ).fetchall()
        except sqlite3.Error:
            return {}
        return {
            str(row[0]): (
                row[1] if isinstance(row[1], str) else None,
                row[2] if isinstance(row[2], str) else None,
            )
            for row in rows
        }

    def remember_prices(self, scope: str, prices: dict[str, tuple[str | None, str | None]]) -> None:
        """Remember the catalog prices of request bodies (by digest) under ``scope`` (the
        catalog and runway-plan's version), forgetting those of other scopes.

        A cache beside the journal, not part of its schema (``price_memo`` is made when
        first needed and older versions ignore it); a journal that refuses it keeps none.
        """
        if not prices:
            return
        with contextlib.suppress(sqlite3.Error), self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS price_memo (scope TEXT NOT NULL, request TEXT "
                "NOT NULL, low TEXT, high TEXT, PRIMARY KEY (scope, request))"
            )
            db.execute("DELETE FROM price_memo WHERE scope != ?", (scope,))
            db.executemany(
                "INSERT OR REPLACE INTO price_memo (scope, request, low, high) VALUES (?, ?, ?, ?)",
                [(scope, key, low, high) for key, (low, high) in prices.items()],
            )

    def seen_files(self, limit: int) -> dict[str, tuple[int, int, int, int, int]]:
        """The signatures of stored files when last verified (see :meth:`remember_seen`),
        at most ``limit``; empty when the journal has none."""
        try:
            rows = self.db.execute(
                "SELECT sha256, dev, ino, size, mtime_ns, ctime_ns FROM store_seen LIMIT ?",
                (limit,),
            ).fetchall()
        except sqlite3.Error:
            return {}
        return {
            row[0]: (row[1], row[2], row[3], row[4], row[5])
            for row in rows
            if isinstance(row[0], str) and all(type(v) is int for v in tuple(row)[1:])
        }

    def remember_seen(self, seen: dict[str, tuple[int, int, int, int, int]]) -> None:
        """Remember the signatures (:func:`~runway_plan.execute.store.signature`) of stored
        files just verified by their hash, so a later run need not hash them again.  A cache
        beside the journal, as ``price_memo`` is."""
        if not seen:
            return
        with contextlib.suppress(sqlite3.Error), self.transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS store_seen (sha256 TEXT PRIMARY KEY, dev INTEGER, "
                "ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER)"
            )
            db.executemany(
                "INSERT OR REPLACE INTO store_seen (sha256, dev, ino, size, mtime_ns, ctime_ns)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(digest, *values) for digest, values in seen.items()],
            )

    # ------------------------------------------------------------------ resources

    def resources(self, spec_name: str, origin: str) -> list[ResourceRow]:
        """Every document and avatar recorded for spec ``spec_name`` against ``origin``."""
        rows = self.db.execute(
            "SELECT * FROM resources WHERE spec_name = ? AND origin = ? ORDER BY id",
            (spec_name, origin),
        ).fetchall()
        return [_resource(row) for row in rows]

    def resource(self, spec_name: str, origin: str, kind: str, key: str) -> ResourceRow | None:
        """The row of one resource, or None."""
        row = self.db.execute(
            "SELECT * FROM resources WHERE spec_name = ? AND origin = ? AND kind = ? AND key = ?",
            (spec_name, origin, kind, key),
        ).fetchone()
        return None if row is None else _resource(row)

    def resource_by_id(self, row_id: int) -> ResourceRow:
        """The resource row with id ``row_id``."""
        row = self.db.execute("SELECT * FROM resources WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise KeyError(row_id)
        return _resource(row)

    def claimed_remote_ids(self, origin: str, kind: str) -> set[str]:
        """Remote ids of ``kind`` any spec of this state recorded against ``origin``."""
        rows = self.db.execute(
            "SELECT remote_id FROM resources WHERE origin = ? AND kind = ?"
            " AND remote_id IS NOT NULL",
            (origin, kind),
        ).fetchall()
        return {str(row[0]) for row in rows}

    def _event(
        self,
        db: sqlite3.Connection,
        row: ResourceRow,
        action: str,
        outcome: str,
        remote_id: str | None,
        detail: str,
        run_id: int | None,
    ) -> None:
        db.execute(
            "INSERT INTO resource_events (spec_name, origin, kind, key, run_id, action, outcome,"
            " remote_id, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.spec_name,
                row.origin,
                row.kind,
                row.key,
                run_id,
                action,
                outcome,
                remote_id,
                detail,
                time.time(),
            ),
        )

    def _set_resource(self, db: sqlite3.Connection, row_id: int, **values: Any) -> None:
        values["updated_at"] = time.time()
        columns = ", ".join(f"{name} = ?" for name in values)
        db.execute(f"UPDATE resources SET {columns} WHERE id = ?", [*values.values(), row_id])

    def mark_resource_creating(
        self,
        *,
        spec_name: str,
        origin: str,
        kind: str,
        key: str,
        spec_path: str,
        name: str,
        pending: dict[str, Any],
        run_id: int | None,
    ) -> ResourceRow:
        """``(none) | present -> creating``: a create is about to be sent with ``pending``.

        A row that had a remote id (deleted remotely) loses it: the new object gets its own.
        """
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO resources (spec_name, origin, kind, key, spec_path, name, status,"
                " pending, run_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?, ?)"
                " ON CONFLICT (spec_name, origin, kind, key) DO UPDATE SET"
                " spec_path = excluded.spec_path, name = excluded.name, status = 'creating',"
                " remote_id = NULL, pending = excluded.pending, remote_status = NULL,"
                " failure = NULL, run_id = excluded.run_id, updated_at = excluded.updated_at",
                (
                    spec_name,
                    origin,
                    kind,
                    key,
                    spec_path,
                    name,
                    json.dumps(pending, sort_keys=True),
                    run_id,
                    now,
                    now,
                ),
            )
        found = self.resource(spec_name, origin, kind, key)
        assert found is not None
        return found

    def mark_resource_present(
        self,
        row_id: int,
        *,
        remote_id: str,
        applied: dict[str, Any],
        applied_hash: str,
        remote_status: str | None,
        action: str,
        detail: str = "",
        run_id: int | None,
    ) -> ResourceRow:
        """``creating | updating -> present``: the API made (or changed, or we adopted)
        object ``remote_id``, which now has ``applied``.  ``action`` (created, updated,
        adopted) goes to the event log."""
        with self.transaction() as db:
            before = self.resource_by_id(row_id)
            self._set_resource(
                db,
                row_id,
                status=ResourceStatus.PRESENT.value,
                remote_id=remote_id,
                applied=json.dumps(applied, sort_keys=True),
                applied_hash=applied_hash,
                pending=None,
                remote_status=remote_status,
                failure=None,
                name=str(applied.get("name", before.name)),
                run_id=run_id,
            )
            self._event(db, before, action, "ok", remote_id, detail, run_id)
        return self.resource_by_id(row_id)

    def forget_resource(
        self, row_id: int, *, action: str, outcome: str, detail: str, run_id: int | None
    ) -> None:
        """Remove a resource's row: its create made nothing, or its object was deleted (or
        is gone remotely).  The event log keeps what happened."""
        with self.transaction() as db:
            before = self.resource_by_id(row_id)
            db.execute("DELETE FROM resources WHERE id = ?", (row_id,))
            self._event(db, before, action, outcome, before.remote_id, detail, run_id)

    def mark_resource_updating(
        self, row_id: int, pending: dict[str, Any], run_id: int | None
    ) -> None:
        """``present -> updating``: a PATCH with ``pending`` is about to be sent."""
        with self.transaction() as db:
            self._set_resource(
                db,
                row_id,
                status=ResourceStatus.UPDATING.value,
                pending=json.dumps(pending, sort_keys=True),
                run_id=run_id,
            )

    def mark_resource_unchanged(
        self, row_id: int, *, outcome: str, detail: str, run_id: int | None
    ) -> None:
        """``updating | deleting -> present``: the write did not happen (refused, not sent,
        or failed); the applied fields stay as they were."""
        with self.transaction() as db:
            before = self.resource_by_id(row_id)
            self._set_resource(db, row_id, status=ResourceStatus.PRESENT.value, pending=None)
            action = "delete" if before.status is ResourceStatus.DELETING else "update"
            self._event(db, before, action, outcome, before.remote_id, detail, run_id)

    def mark_resource_deleting(self, row_id: int, run_id: int | None) -> None:
        """``present -> deleting``: a DELETE is about to be sent (``--prune``)."""
        with self.transaction() as db:
            self._set_resource(db, row_id, status=ResourceStatus.DELETING.value, run_id=run_id)

    def set_resource_status(
        self, row_id: int, remote_status: str | None, failure: str | None = None
    ) -> None:
        """Record an avatar's processing status (PROCESSING, READY, FAILED) as seen."""
        with self.transaction() as db:
            self._set_resource(db, row_id, remote_status=remote_status, failure=failure)

    def resource_events(self, run_id: int | None = None) -> list[ResourceEvent]:
        """The resource event log (of one run, or all), oldest first."""
        if run_id is None:
            rows = self.db.execute("SELECT * FROM resource_events ORDER BY id").fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM resource_events WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        return [
            ResourceEvent(
                id=row["id"],
                kind=row["kind"],
                key=row["key"],
                run_id=row["run_id"],
                action=row["action"],
                outcome=row["outcome"],
                remote_id=row["remote_id"],
                detail=row["detail"],
                at=row["at"],
            )
            for row in rows
        ]
