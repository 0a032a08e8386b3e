"""The state folder of a spec, opened for ``run``, ``status`` and ``cancel``, with the
diagnostics (exit 2) when it is locked, unreadable, or in the shared layout of earlier versions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runway_plan.cli.app import (
    EXIT_USAGE,
    api_key_or_fail,
)
from runway_plan.diagnostics import make
from runway_plan.diagnostics.display import display
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.execute import (
    DEFAULT_BASE_URL,
    Layout,
    LayoutError,
    State,
    StateLocked,
    layout_of,
    migrate_shared_layout,
)
from runway_plan.execute.layout import claim, shared_layout
from runway_plan.execute.reuse import unreadable_as_such
from runway_plan.execute.state import RunRow, StateUnreadable
from runway_plan.files import SymlinkInTheWay

__all__ = [
    "EMULATOR_URL",
    "UsageFailure",
    "move_shared_layout",
    "open_state",
    "require_recorded",
    "run_api_key",
    "spec_runs",
    "state_location",
]

EMULATOR_URL = "http://emulator"


class UsageFailure(click.ClickException):
    """A problem with the command's inputs or environment: exit 2."""

    exit_code = EXIT_USAGE


def state_location(
    spec: Path, state_dir: Path | None, emulate: bool, base_url: str | None
) -> tuple[Path, str]:
    """The state folder and API base URL ``run`` uses for ``spec`` with these options.

    Each spec has its own folder (:mod:`runway_plan.execute.layout`); ``--emulate`` runs
    keep theirs in its ``emulated/`` against the origin ``http://emulator``: results are
    only reused against the API origin that made them.
    """
    directory = layout_of(spec, state=state_dir, emulate=emulate).state
    base = EMULATOR_URL if emulate else (base_url or DEFAULT_BASE_URL).rstrip("/")
    return directory, base


def _locked(exc: StateLocked) -> None:
    diagnostic = make(
        "RP505",
        f"{exc}; wait for it to finish, or give this run another folder with --state",
        None,
    )
    click.echo(render_diagnostics([diagnostic], "text"), err=True, nl=False)
    sys.exit(EXIT_USAGE)


def open_state(where: Layout, *, lock: bool = True, read_only: bool = False) -> State:
    """The spec's state folder, opened (and locked), once it is sure to be this spec's;
    ``read_only``: a private copy of its journal (``status``)."""
    try:
        if read_only:
            state = State.snapshot(where.state)
        else:
            state = State(where.state, lock=lock, base=where.state_base)
    except StateLocked as exc:
        _locked(exc)
    except SymlinkInTheWay as exc:
        raise UsageFailure(f"RP516 {exc}") from None
    except StateUnreadable as exc:
        raise UsageFailure(f"RP517 {exc}") from None
    try:
        with unreadable_as_such(where.state):
            if lock and not read_only:
                claim(state, where)
            elif where.default_state and state.owner not in (None, where.spec.name):
                raise LayoutError(f"{where.state} holds the runs of {state.owner}")
    except (LayoutError, StateUnreadable) as exc:
        state.close()
        prefix = "RP517 " if isinstance(exc, StateUnreadable) else ""
        raise UsageFailure(f"{prefix}{exc}") from None
    return state


def move_shared_layout(root: Path) -> None:
    """Split the shared state folder of an earlier version, saying what moved."""
    if not shared_layout(root):
        return
    try:
        notes = migrate_shared_layout(root)
    except StateLocked as exc:
        _locked(exc)
    for note in notes:
        click.echo(f"runway-plan: {display(note)}", err=True)


def require_recorded(where: Layout) -> None:
    """Fail (exit 2) unless ``where.state`` holds a journal, naming the command that moves
    the runs of an earlier version's shared folder to their specs' own."""
    if (where.state / "state.db").is_file():
        return
    root = where.spec.parent
    if where.default_state and shared_layout(root):
        raise UsageFailure(
            f"the runs of the specs in {root} are in the shared state folder of an earlier "
            f"version; `runway-plan migrate {root}` gives each spec its own (a `run` of any "
            "of them does too)"
        )
    raise UsageFailure(f"no runs recorded in {where.state}")


def spec_runs(state: State, where: Layout) -> list[RunRow]:
    """The runs of this spec, newest first (a folder given with --state may be shared)."""
    return state.runs() if where.default_state else state.runs_of(str(where.spec))


def run_api_key() -> str:
    return api_key_or_fail(
        "no API key: set RUNWAYML_API_SECRET (or run with --emulate to use the built-in "
        "emulator, free)"
    )
