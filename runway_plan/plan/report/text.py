"""The plain-text report (``--format table``): the header, the step table (split to fit a
width when asked), and the lines under it, each with the kind a terminal colours it by."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from runway_plan.diagnostics import Diagnostic
from runway_plan.diagnostics.display import display, display_lines
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.plan.model import Plan, StepPlan
from runway_plan.plan.report.figures import (
    RESOURCE_MARKS,
    action_text,
    confidence_legend,
    field_text,
    reason_lines,
    reuse_lines,
    row_headers,
    step_rows,
    summary_lines,
    total_row,
)
from runway_plan.plan.resources import ResourcePlan

__all__ = [
    "COLUMN_PRIORITY",
    "LineKind",
    "StepTable",
    "render_text",
    "report_header",
    "report_lines",
    "resource_lines",
    "step_tables",
    "text_table",
]

LineKind = Literal["", "unknown", "range", "reuse", "create", "update", "delete"]
"""What a line of the text report says, for a terminal to colour: an unpriced or ranged step,
a generation made again, a resource to create, update or delete; ``""`` for the rest."""


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    rule = ["-" * w for w in widths]
    return [_table_line(cells, widths, frozenset(right)) for cells in (headers, rule, *rows)]


def _diagnostic_text(diagnostics: Sequence[Diagnostic]) -> str:
    return render_diagnostics(diagnostics, "text")


def _short_id(remote_id: str | None) -> str:
    if not remote_id:
        return ""
    return f" (id {display(f'{remote_id[:8]}…' if len(remote_id) > 12 else remote_id)})"


def resource_lines(resources: ResourcePlan) -> list[str]:
    """The resources section of the text report, Terraform-style: one line per resource
    (``+`` create, ``~`` update, ``=`` unchanged, ``-`` delete), its changed fields under it."""
    live = "remote objects read (--live)" if resources.live else "state only; --live reads them"
    out = [f"Resources (against {display(resources.source)}; {live}):"]
    if not resources.changes:
        out.append("  (none)")
    width_kind = max((len(display(c.kind)) for c in resources.changes), default=0)
    width_key = max((len(display(c.key)) for c in resources.changes), default=0)
    for change in resources.changes:
        out.append(
            f"  {RESOURCE_MARKS.get(change.action, '?')} {display(change.kind):<{width_kind}}  "
            f"{display(change.key):<{width_key}}  '{display(change.name)}'  "
            f"{action_text(change)}{_short_id(change.remote_id)}"
        )
        for item in change.fields:
            out.append(f"      {field_text(item.name, item.old, item.new, item.detail)}")
        for drift in change.drift:
            out.append(f"      drift: {display(drift)}")
        for note in change.notes:
            out.append(f"      note: {display(note)}")
    counts = resources.counts
    summary = (
        f"Resources: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged, {counts['delete']} to delete (with --prune)"
    )
    if resources.live:
        summary += f"; {resources.drifted} drifted"
    out.append(summary)
    out += [f"Note: {display(note)}" for note in resources.notes]
    return out


COLUMN_PRIORITY = (
    "step",
    "credits",
    "USD",
    "gens",
    "model",
    "reused",
    "end",
    "start",
    "units",
    "endpoint",
)
"""The step table's columns, most important first: the order in which a width too narrow
for the whole table gives them a place (see :func:`step_tables`)."""

_RIGHT = frozenset({"gens", "credits", "USD", "start", "end", "reused"})
_GAP = 2  # spaces between two columns


@dataclass(frozen=True)
class StepTable:
    """Some of the step table's columns, keyed by the ``step`` column; ``total`` is the TOTAL
    row (None when it has nothing in these columns).  ``as_lines`` marks columns too wide to
    sit beside the step column: each step's name is then a line, its cells lines under it."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: tuple[str, ...] | None
    kinds: tuple[LineKind, ...]
    as_lines: bool = False

    @property
    def right(self) -> frozenset[int]:
        """The indexes of the right-justified (numeric) columns."""
        return frozenset(i for i, header in enumerate(self.headers) if header in _RIGHT)

    @property
    def widths(self) -> tuple[int, ...]:
        """Each column's width: its longest cell, header and TOTAL included."""
        cells = [self.headers, *self.rows, *([self.total] if self.total else [])]
        return tuple(max(len(row[i]) for row in cells) for i in range(len(self.headers)))

    def lines(self) -> list[tuple[str, LineKind]]:
        """The table as plain text lines, each with the kind of its row."""
        return list(self.iter_lines())

    def iter_lines(self) -> Iterator[tuple[str, LineKind]]:
        """The lines of :meth:`lines`, made one at a time."""
        rows = [*zip(self.rows, self.kinds, strict=True)]
        if self.total is not None:
            rows.append((self.total, ""))
        if self.as_lines:
            out: list[tuple[str, LineKind]] = []
            for row, kind in rows:
                out.append((row[0], kind))
                out += [
                    (f"  {header} {cell}", kind)
                    for header, cell in zip(self.headers[1:], row[1:], strict=True)
                    if cell
                ]
            yield from out
            return
        widths, right = self.widths, self.right
        rule = tuple("-" * w for w in widths)
        rows = [(self.headers, ""), (rule, ""), *rows]
        for row, kind in rows:
            yield _table_line(row, widths, right), kind


def _table_line(cells: Sequence[str], widths: Sequence[int], right: frozenset[int]) -> str:
    return "  ".join(
        cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
        for i, cell in enumerate(cells)
    ).rstrip()


def _row_kind(step: StepPlan) -> LineKind:
    return "unknown" if step.unknown else ("range" if step.is_range else "")


def step_tables(plan: Plan, width: int | None = None) -> list[StepTable]:
    """The step table, as one table, or split to fit ``width`` columns.

    Nothing is cut or left out: columns are taken in :data:`COLUMN_PRIORITY` order, and when
    the next one would make the table wider than ``width`` a further table starts, keyed by
    the step column again.  Columns too wide to sit beside the step column at all are shown
    under each step's name instead (:attr:`StepTable.as_lines`).  Within a table the columns
    keep the order of :func:`row_headers`.
    """
    headers = row_headers(plan)
    full = StepTable(
        headers=headers,
        rows=tuple(step_rows(plan)),
        total=total_row(plan),
        kinds=tuple(_row_kind(step) for step in plan.steps),
    )
    if width is None or _span(full.widths) <= width:
        return [full]
    column_width = dict(zip(headers, full.widths, strict=True))
    groups: list[list[str]] = []
    too_wide: list[str] = []
    for header in sorted(headers[1:], key=COLUMN_PRIORITY.index):
        step_and_it = [column_width["step"], column_width[header]]
        if _span(step_and_it) > width:
            too_wide.append(header)
        elif groups and _span([*step_and_it, *(column_width[h] for h in groups[-1])]) <= width:
            groups[-1].append(header)
        else:
            groups.append([header])
    tables = [_columns(full, group) for group in groups]
    if too_wide:
        tables.append(replace(_columns(full, too_wide), as_lines=True))
    return tables


def _span(widths: Sequence[int]) -> int:
    return sum(widths) + _GAP * (len(widths) - 1)


def _columns(table: StepTable, wanted: Sequence[str]) -> StepTable:
    keep = [i for i, header in enumerate(table.headers) if i == 0 or header in wanted]

    def pick(row: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(row[i] for i in keep)

    total = pick(table.total) if table.total is not None else None
    return StepTable(
        headers=pick(table.headers),
        rows=tuple(pick(row) for row in table.rows),
        total=total if total is not None and any(total[1:]) else None,
        kinds=table.kinds,
    )


def report_header(plan: Plan) -> str:
    """The report's first line: the plan's name, source, limits and catalog."""
    return (
        f"{display(plan.name)} ({display(plan.source)}) · {display(plan.limits)} · catalog "
        f"{plan.catalog_version} (sha256 {plan.catalog_digest[:12]})"
    )


def _resource_kind(line: str) -> LineKind:
    marks: dict[str, LineKind] = {"+ ": "create", "~ ": "update", "- ": "delete"}
    return marks.get(line.lstrip()[:2], "")


def report_lines(plan: Plan) -> list[tuple[str, LineKind]]:
    """The lines under the step table, each with its kind (which a terminal colours): ranges
    and unknowns, what a run would generate again, resources, the summary, diagnostics."""
    out: list[tuple[str, LineKind]] = []
    legend = confidence_legend(plan)
    if legend:
        out += [(line, "") for line in legend]
        out.append(("", ""))
    reasons = reason_lines(plan)
    if reasons:
        out.append(("Ranges and unknowns:", ""))
        out += [(f"  {display(step.name)}: {reason}", _row_kind(step)) for step, reason in reasons]
        out.append(("", ""))
    if plan.has_reuse:
        out.append((f"Generated again (not reused from {display(plan.reuse_source or '')}):", ""))
        regenerated = reuse_lines(plan) or ["(nothing: every generation is reused)"]
        out += [(f"  {line}", "reuse") for line in regenerated]
        out.append(("", ""))
    if plan.resources is not None:
        out += [(line, _resource_kind(line)) for line in resource_lines(plan.resources)]
        out.append(("", ""))
    out += [(line, "") for line in summary_lines(plan)]
    if plan.diagnostics:
        out.append(("", ""))
        out += [(line, "") for line in _diagnostic_text(plan.diagnostics).splitlines()]
    return out


def render_text(plan: Plan) -> str:
    """The plan as a plain-text report: what a terminal shows, without colour and with the
    step table whole (a terminal splits it to fit, :func:`step_tables`)."""
    return "".join(text_pieces(plan))


def text_pieces(plan: Plan, batch: int = 1000) -> Iterator[str]:
    """The text of :func:`render_text` in pieces of about ``batch`` lines, made as they are
    written (:func:`display_lines` works line by line, so each piece is escaped alone)."""
    (table,) = step_tables(plan)
    lines = itertools.chain(
        [report_header(plan), ""],
        (text for text, _ in table.iter_lines()),
        [""],
        (text for text, _ in report_lines(plan)),
    )
    while piece := list(itertools.islice(lines, batch)):
        yield display_lines("\n".join(piece)) + "\n"
