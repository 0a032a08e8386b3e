"""``--select``, ``--ignore`` and ``--warnings-as-errors``: the options of the commands that
report diagnostics, and their application (see :mod:`runway_plan.diagnostics.selection`)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runway_plan.diagnostics import Diagnostic
from runway_plan.diagnostics.selection import (
    Selected,
    Selection,
    SelectionError,
    Suppression,
    parse_selectors,
    suppression_comments,
)

if TYPE_CHECKING:
    from runway_plan.compile import Graph

__all__ = ["PLAN_STAGES", "VALIDATE_STAGES", "apply_selection", "selection_options"]

VALIDATE_STAGES = ("RP1", "RP2", "RP3")
"""The codes ``validate`` checks: source and spec, model constraints and assets, graph."""
PLAN_STAGES = (*VALIDATE_STAGES, "RP4")
"""The codes ``plan`` checks: ``validate``'s, and budget and tier."""

_Command = TypeVar("_Command", bound=Callable[..., Any])


def _selectors(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    try:
        return parse_selectors(values)
    except SelectionError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def selection_options(command: _Command) -> _Command:
    """Add ``--select``, ``--ignore`` and ``--warnings-as-errors``; the command receives them
    as one ``selection`` argument (a :class:`Selection`)."""
    options = [
        click.option(
            "--select",
            "select",
            multiple=True,
            metavar="CODES",
            callback=_selectors,
            help="Report only these codes or prefixes (RP4 selects RP4xx; comma separated, "
            "repeatable).",
        ),
        click.option(
            "--ignore",
            "ignore",
            multiple=True,
            metavar="CODES",
            callback=_selectors,
            help="Do not report these codes or prefixes (comma separated, repeatable).",
        ),
        click.option(
            "--warnings-as-errors",
            is_flag=True,
            help="Report warnings as errors, which make the command fail.",
        ),
    ]

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        kwargs["selection"] = Selection(
            select=kwargs.pop("select"),
            ignore=kwargs.pop("ignore"),
            warnings_as_errors=kwargs.pop("warnings_as_errors"),
        )
        return command(*args, **kwargs)

    decorated: Any = wrapped
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def apply_selection(
    selection: Selection,
    diagnostics: Sequence[Diagnostic],
    graphs: Iterable[Graph],
    *,
    stages: Sequence[str] = (),
) -> Selected:
    """The diagnostics ``selection`` keeps, honouring the suppression comments of the spec
    files compiled into ``graphs``; with ``stages`` (the code prefixes the command checks),
    unused suppressions of the specs that were read are reported (RP120)."""
    suppressions: dict[str, list[Suppression]] = {}
    checked: set[str] = set()
    for graph in graphs:
        found = suppression_comments(graph.document.text)
        if found:
            path = graph.document.source_map.path
            suppressions[path] = found
            if graph.spec is not None:
                checked.add(path)
    return selection.apply(diagnostics, suppressions, stages=stages, unused_in=checked)
