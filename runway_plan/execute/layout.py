"""Where a spec's run state and outputs live: one spec, one state.

Beside a spec ``launch.yaml``, by default::

    .runway-plan/launch/              journal (state.db), lock, store/, runs/<id>/
    .runway-plan/launch/emulated/     the same for ``run --emulate``
    outputs/launch/<step>/<n>.<ext>   readable links to the store
    outputs/emulated/launch/<step>/<n>.<ext>

Two specs in one folder therefore share nothing: not a journal, a lock, a run number, an
output path nor a billed total.  A default state folder belongs to the spec file that first
used it (recorded in the journal), so ``launch.json`` beside ``launch.yaml`` is told to choose
its own folder rather than share one.  ``--state`` and ``--outputs`` override both places; a
folder given that way may be shared on purpose, and commands then look only at the runs of
the spec they were given.

Before this layout every spec of a folder shared ``.runway-plan/`` and ``outputs/<step>/``.
:func:`migrate_shared_layout` splits such a folder into one state per spec (journal rows,
stored outputs, run folders) and keeps the old files in ``.runway-plan/old-layout/``; the
outputs already under ``outputs/`` stay where they are, and nothing is generated again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from runway_plan.errors import RunwayPlanError
from runway_plan.execute.state import State, folder_lock

__all__ = [
    "Layout",
    "LayoutError",
    "claim",
    "default_state_dir",
    "layout_of",
    "migrate_shared_layout",
    "shared_layout",
]

STATE_FOLDER = ".runway-plan"
OUTPUTS_FOLDER = "outputs"
EMULATED = "emulated"
OLD_LAYOUT = "old-layout"
_SHARED_FILES = ("state.db", "state.db-wal", "state.db-shm", "store", "runs", "lock")


class LayoutError(RunwayPlanError):
    """A state folder cannot be used for this spec (another spec's, or in the old layout)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one spec's state and outputs are.

    ``spec`` is the spec's resolved path; ``default_state`` is True when ``state`` is the
    spec's own folder of the default layout (whose owner is checked), False for ``--state``.
    ``state_base`` and ``outputs_base`` are the folders from which ``state`` and ``outputs``
    are made without following a symlink: the spec's folder for the default places, the
    folder itself when the user gave it.
    """

    spec: Path
    state: Path
    outputs: Path
    default_state: bool
    state_base: Path
    outputs_base: Path


def default_state_dir(spec: str | Path, *, emulate: bool = False) -> Path:
    """The state folder of a spec: ``.runway-plan/<spec stem>/`` beside it (``emulated/``
    inside it for ``run --emulate``)."""
    path = Path(spec).resolve()
    folder = path.parent / STATE_FOLDER / path.stem
    return folder / EMULATED if emulate else folder


def layout_of(
    spec: str | Path,
    *,
    state: Path | None = None,
    outputs: Path | None = None,
    emulate: bool = False,
) -> Layout:
    """The layout of ``spec``, with ``state`` and ``outputs`` overriding the defaults."""
    path = Path(spec).resolve()
    folder = path.parent
    outputs_base = Path(outputs) if outputs is not None else folder
    if outputs is None:
        base = folder / OUTPUTS_FOLDER
        outputs = (base / EMULATED if emulate else base) / path.stem
    return Layout(
        spec=path,
        state=Path(state) if state is not None else default_state_dir(path, emulate=emulate),
        outputs=Path(outputs),
        default_state=state is None,
        state_base=Path(state) if state is not None else folder,
        outputs_base=outputs_base,
    )


def claim(state: State, layout: Layout) -> None:
    """Make sure ``state`` (opened at ``layout.state``) is this spec's own.

    A default folder records the spec file that first used it; another file with the same
    stem (``launch.json`` beside ``launch.yaml``) is refused.  Folders given with ``--state``
    are the user's choice and are not checked.
    """
    if not layout.default_state:
        return
    owner = state.claim(layout.spec.name)
    if owner != layout.spec.name:
        raise LayoutError(
            f"{layout.state} holds the runs of {owner}, not of {layout.spec.name}; give this "
            "spec its own folders with --state and --outputs, or rename it"
        )


def shared_layout(root: Path) -> list[Path]:
    """State folders of the old shared layout under ``root`` (the folder of the specs)."""
    base = root / STATE_FOLDER
    found: list[Path] = []
    for folder in (base / EMULATED, base):
        journal = folder / "state.db"
        if journal.is_file() and not journal.is_symlink() and _schema(journal) < 3:
            found.append(folder)
    return found


def _schema(journal: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return 99  # not a journal this code can split; left alone


def migrate_shared_layout(root: Path) -> list[str]:
    """Give every spec recorded in ``root``'s shared state folder its own; what was done.

    Each spec's runs, the journal rows they use, their stored outputs (hard links, or
    copies) and their run folders go to the spec's folder of the default layout; the old
    files move to ``.runway-plan/old-layout/``.  Raises
    :class:`~runway_plan.execute.state.StateLocked` while a run
    holds the old folder.
    """
    notes: list[str] = []
    base = root / STATE_FOLDER
    for folder in shared_layout(root):
        emulate = folder != base
        with folder_lock(folder):
            notes += _split(folder, root, emulate=emulate)
            archive = base / OLD_LAYOUT / (EMULATED if emulate else "")
            archive.mkdir(parents=True, exist_ok=True)
            for name in _SHARED_FILES:
                source = folder / name
                if os.path.lexists(source):
                    os.replace(source, archive / name)
        if emulate:
            with contextlib.suppress(OSError):
                folder.rmdir()
        notes.append(
            f"the shared state {folder} was split into one state per spec; its old files "
            f"are in {base / OLD_LAYOUT} (delete them once the new folders serve you)"
        )
    return notes


def _split(folder: Path, root: Path, *, emulate: bool) -> list[str]:
    notes: list[str] = []
    with contextlib.closing(sqlite3.connect(folder / "state.db")) as db:
        paths = [str(row[0]) for row in db.execute("SELECT DISTINCT spec_path FROM runs")]
        by_name: dict[str, list[str]] = {}
        for path in paths:
            by_name.setdefault(Path(path).name, []).append(path)
        for name, recorded in sorted(by_name.items()):
            spec = root / name
            target = default_state_dir(spec, emulate=emulate)
            if (target / "state.db").exists():
                notes.append(f"{name}: {target} exists already; its old runs were left as is")
                continue
            target.mkdir(parents=True, exist_ok=True)
            scratch = target / "state.db.part"
            scratch.unlink(missing_ok=True)
            with contextlib.closing(sqlite3.connect(scratch)) as copy:
                db.backup(copy)
                runs = _keep_only(copy, recorded, str(spec.resolve()))
            _copy_store(folder, target, scratch)
            for run_id in runs:
                source = folder / "runs" / str(run_id)
                if source.is_dir() and not source.is_symlink():
                    shutil.copytree(
                        source, target / "runs" / str(run_id), copy_function=_link_or_copy
                    )
            os.replace(scratch, target / "state.db")
            with State(target) as state:
                state.claim(name)
            notes.append(f"{name}: {len(runs)} run(s) moved to {target}")
    return notes


def _keep_only(db: sqlite3.Connection, recorded: list[str], spec_path: str) -> list[int]:
    """Delete what other specs' runs made from a copy of a shared journal; this spec's runs.

    Steps this spec's runs used are kept with all their attempts (a step made by another
    spec and reused by this one keeps the run that paid for it)."""
    marks = ",".join("?" * len(recorded))
    mine = f"SELECT id FROM runs WHERE spec_path IN ({marks})"
    with db:
        runs = [int(row[0]) for row in db.execute(mine + " ORDER BY id", recorded)]
        db.execute(f"DELETE FROM run_steps WHERE run_id NOT IN ({mine})", recorded)
        db.execute(
            "CREATE TEMP TABLE keep AS SELECT step_id AS id FROM run_steps"
            f" WHERE step_id IS NOT NULL UNION SELECT id FROM steps WHERE run_id IN ({mine})",
            recorded,
        )
        for table, column in (("attempts", "step_id"), ("outputs", "step_id"), ("steps", "id")):
            db.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM keep)")
        db.execute(
            f"DELETE FROM runs WHERE id NOT IN ({mine}) AND id NOT IN"
            " (SELECT run_id FROM attempts) AND id NOT IN"
            " (SELECT run_id FROM steps WHERE run_id IS NOT NULL)",
            recorded,
        )
        db.execute(f"DELETE FROM links WHERE spec_path NOT IN ({marks})", recorded)
        db.execute(f"DELETE FROM resources WHERE spec_path NOT IN ({marks})", recorded)
        db.execute(
            "DELETE FROM resource_events WHERE spec_name NOT IN"
            f" (SELECT spec_name FROM runs WHERE spec_path IN ({marks}))",
            recorded,
        )
        for table in ("runs", "links", "resources"):
            db.execute(
                f"UPDATE {table} SET spec_path = ? WHERE spec_path IN ({marks})",
                [spec_path, *recorded],
            )
    return runs


def _copy_store(folder: Path, target: Path, journal: Path) -> None:
    """Link (or copy) into ``target``'s store the outputs ``journal`` records."""
    with contextlib.closing(sqlite3.connect(journal)) as db:
        hashes = [
            str(row[0])
            for row in db.execute("SELECT DISTINCT sha256 FROM outputs")
            if row[0] is not None
        ]
    for sha256 in hashes:
        relative = Path("store", "sha256", sha256[:2], sha256[2:])
        source = folder / relative
        if not source.is_file() or source.is_symlink():
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not destination.exists():
            _link_or_copy(str(source), str(destination))


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
