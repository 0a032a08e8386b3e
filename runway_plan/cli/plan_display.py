"""``plan`` on a terminal, in colour, and the file ``--gantt`` writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from runway_plan.diagnostics.display import display_lines
from runway_plan.plan import Plan
from runway_plan.plan.report import (
    LineKind,
    StepTable,
    gantt_html_pieces,
    gantt_svg_pieces,
    report_header,
    report_lines,
    step_tables,
)

__all__ = ["GANTT_WRITERS", "gantt_file", "print_plan"]


_STYLES: dict[LineKind, str] = {
    "": "",
    "unknown": "red",
    "range": "yellow",
    "reuse": "cyan",
    "create": "green",
    "update": "yellow",
    "delete": "red",
}


def _rich_table(table: StepTable) -> Table:
    """``table`` as rich draws it: the plain table's columns and gaps, with colour."""
    drawn = Table(
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        show_footer=table.total is not None,
        header_style="bold",
    )
    total = table.total or ("",) * len(table.headers)
    for i, header in enumerate(table.headers):
        drawn.add_column(
            header, footer=total[i], justify="right" if i in table.right else "left", no_wrap=True
        )
    for row, kind in zip(table.rows, table.kinds, strict=True):
        drawn.add_row(*(Text(cell) for cell in row), style=_STYLES[kind])
    return drawn


def print_plan(result: Plan, console: Console) -> None:
    """The plan report on a terminal: the text of ``--format table``, in colour, its step table
    split to fit the terminal's width."""
    console.print(Text(display_lines(report_header(result))))
    for table in step_tables(result, console.width):
        console.print()
        if table.as_lines:
            for line, kind in table.lines():
                console.print(Text(display_lines(line), style=_STYLES[kind]))
        else:
            console.print(_rich_table(table))
    console.print()
    for line, kind in report_lines(result):
        console.print(Text(display_lines(line), style=_STYLES[kind]))


GANTT_WRITERS: dict[str, Callable[[Plan], Iterator[str]]] = {
    ".svg": gantt_svg_pieces,
    ".html": gantt_html_pieces,
    ".htm": gantt_html_pieces,
}
"""The pieces of the Gantt chart a ``--gantt`` file's suffix asks for, to write in turn."""


def gantt_file(path: Path | None) -> Path | None:
    """``--gantt``'s file, refused (before any work) unless its extension names a format
    the chart is written in."""
    if path is not None and path.suffix.lower() not in GANTT_WRITERS:
        given = f"'{path.suffix}'" if path.suffix else "a file without an extension"
        raise click.BadParameter(
            f"the chart is written as SVG (.svg) or as an HTML page (.html, .htm), not {given}",
            param_hint="--gantt",
        )
    return path
