"""Render plans and plan diffs: plain text, JSON, Markdown, Mermaid, DOT and an SVG Gantt chart.

Every renderer returns a string and imports nothing but the standard library; the rich terminal
table lives in the CLI.  The JSON schema is documented in ``docs/plan-json.md`` and versioned
by its ``version`` key: fields are only ever added within a version.

Names, models, reasons, paths and messages hold text from the spec, which is untrusted: each
is shown through :func:`~runway_plan.diagnostics.display.display` and then escaped for its
format (a Markdown code span, a Mermaid or DOT string, XML), and every text document passes
through :func:`~runway_plan.diagnostics.display.display_lines` as it is returned.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from runway_plan.diagnostics import Diagnostic
from runway_plan.diagnostics.display import display, display_lines, json_text
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.plan import GenerationPlan, Plan, StepPlan, format_duration
from runway_plan.plan.cost import Cost, format_credits, format_usd
from runway_plan.plan.diff import PlanDiff, StepChange
from runway_plan.plan.resources import ResourceChange, ResourcePlan

__all__ = [
    "COLUMN_PRIORITY",
    "CONFIDENCE_LEGEND",
    "CONFIDENCE_MARK",
    "DIFF_HEADERS",
    "JSON_SCHEMA_VERSION",
    "PLAN_FORMATS",
    "ROW_HEADERS",
    "LineKind",
    "StepTable",
    "confidence_legend",
    "credits_text",
    "diff_rows",
    "diff_to_dict",
    "markdown_code",
    "plan_to_dict",
    "render_diff",
    "render_dot",
    "render_gantt_html",
    "render_gantt_svg",
    "render_markdown",
    "render_mermaid",
    "render_plan",
    "render_text",
    "report_header",
    "report_lines",
    "resource_lines",
    "resource_to_dict",
    "reuse_lines",
    "row_headers",
    "step_rows",
    "step_tables",
    "summary_lines",
    "total_row",
]

JSON_SCHEMA_VERSION = 1
PLAN_FORMATS = ("table", "json", "markdown")

LineKind = Literal["", "unknown", "range", "reuse", "create", "update", "delete"]
"""What a line of the text report says, for a terminal to colour: an unpriced or ranged step,
a generation made again, a resource to create, update or delete; ``""`` for the rest."""


def _range(low: Decimal, high: Decimal, fmt: Any = format_credits) -> str:
    return fmt(low) if low == high else f"{fmt(low)}-{fmt(high)}"


def credits_text(low: Decimal, high: Decimal, unknown: int = 0) -> str:
    """``84``, ``160-320``, ``unknown`` or ``84 + 1 unknown``."""
    if unknown and low == high == 0:
        return "unknown"
    text = _range(low, high)
    return f"{text} + {unknown} unknown" if unknown else text


def _usd_text(plan: Plan, low: Decimal, high: Decimal, unknown: int = 0) -> str:
    if unknown and low == high == 0:
        return "?"
    rate = plan.usd_per_credit
    return "$" + _range(low * rate, high * rate, format_usd) + ("+?" if unknown else "")


def _when(step: StepPlan) -> tuple[str, str]:
    if not step.generations or step.reused == len(step.generations):
        return "", ""
    return format_duration(step.start), format_duration(step.end)


CONFIDENCE_MARK = "~"
"""Marks a figure that rests on a medium-confidence price."""

CONFIDENCE_LEGEND = (
    f"{CONFIDENCE_MARK} rests on a medium-confidence price (one published source, or sources "
    "that differ in a detail): check it before you commit to it"
)


def _marked(text: str, confidence: str, priced: bool) -> str:
    return f"{CONFIDENCE_MARK}{text}" if priced and confidence != "high" else text


def confidence_legend(plan: Plan) -> list[str]:
    """The legend of :data:`CONFIDENCE_MARK`, when a figure of the plan carries it."""
    marked = any(s.confidence != "high" and s.unknown < len(s.generations) for s in plan.steps)
    return [CONFIDENCE_LEGEND] if marked else []


def step_rows(plan: Plan) -> list[tuple[str, ...]]:
    """One row per step: step, model, endpoint, generations, units, credits, USD, start, end,
    and, when the plan knows the run state, ``reused`` (``2/3``: reused N of M)."""
    rows: list[tuple[str, ...]] = []
    for step in plan.steps:
        start, end = _when(step)
        row: tuple[str, ...] = (
            display(step.name),
            display(step.model),
            display(step.endpoint),
            str(len(step.generations)),
            display(step.units),
            _marked(
                credits_text(step.low, step.high, step.unknown),
                step.confidence,
                step.unknown < len(step.generations),
            ),
            _usd_text(plan, step.low, step.high, step.unknown),
            start,
            end,
        )
        if plan.has_reuse:
            row += (f"{step.reused}/{len(step.generations)}",)
        rows.append(row)
    return rows


def total_row(plan: Plan) -> tuple[str, ...]:
    """The TOTAL row under :func:`step_rows`."""
    row: tuple[str, ...] = (
        "TOTAL",
        "",
        "",
        str(len(plan.generations)),
        "",
        _marked(
            credits_text(plan.total_low, plan.total_high, plan.unknown),
            plan.confidence,
            plan.unknown < len(plan.generations),
        ),
        _usd_text(plan, plan.total_low, plan.total_high, plan.unknown),
        "",
        format_duration(plan.schedule.makespan) if plan.schedule.slots else "",
    )
    if plan.has_reuse:
        row += (f"{plan.reused}/{len(plan.generations)}",)
    return row


ROW_HEADERS = ("step", "model", "endpoint", "gens", "units", "credits", "USD", "start", "end")


def row_headers(plan: Plan) -> tuple[str, ...]:
    """The headers of :func:`step_rows` for ``plan``: :data:`ROW_HEADERS`, plus ``reused``
    when the plan knows the run state."""
    return (*ROW_HEADERS, "reused") if plan.has_reuse else ROW_HEADERS


def _run_text(plan: Plan) -> str:
    """``This run: ...`` (only for a plan that knows the run state)."""
    cost = credits_text(plan.run_low, plan.run_high, plan.run_unknown)
    usd = _usd_text(plan, plan.run_low, plan.run_high, plan.run_unknown)
    to_make = len(plan.generations) - plan.reused
    saved = _range(plan.saved_low, plan.saved_high)
    saved_usd = _usd_text(plan, plan.saved_low, plan.saved_high)
    return (
        f"This run: {cost} credits ({usd}) for {to_make} generation{'s' * (to_make != 1)}; "
        f"{plan.reused} of {len(plan.generations)} reused from {display(plan.reuse_source or '')}. "
        f"Credits saved: {saved} ({saved_usd})"
    )


def _reuse_groups(plan: Plan) -> list[tuple[str, str]]:
    """(label, reason) of the generations a run would make, grouped by step and reason."""
    out: list[tuple[str, str]] = []
    for step in plan.steps:
        made = [plan.generations[k] for k in step.generations if not plan.generations[k].reused]
        if not made:
            continue
        reasons: dict[str, list[str]] = {}
        for gen in made:
            reasons.setdefault(display(gen.reuse_reason or "new"), []).append(display(gen.key))
        total = len(step.generations)
        name = display(step.name)
        for reason, keys in reasons.items():
            if len(keys) == total:
                label = name if total == 1 else f"{name} (all {total})"
            elif len(keys) > 4:
                label = f"{name} ({len(keys)} of {total}: {', '.join(keys[:3])}, …)"
            else:
                label = ", ".join(keys)
            out.append((label, reason))
    return out


def reuse_lines(plan: Plan) -> list[str]:
    """Why each generation a run would make is not reused (empty without a run state)."""
    if not plan.has_reuse:
        return []
    return [f"{label}: {reason}" for label, reason in _reuse_groups(plan)]


def _total_text(plan: Plan) -> str:
    text = f"{_range(plan.total_low, plan.total_high)} credits " + (
        f"({_usd_text(plan, plan.total_low, plan.total_high)})"
    )
    if plan.unknown:
        text += (
            f" + {plan.unknown} unpriced generation{'s' * (plan.unknown != 1)} "
            f"({', '.join(map(display, plan.unknown_models))})"
        )
    return text


def _path_text(plan: Plan) -> str:
    path = [display(key) for key in plan.schedule.critical_path]
    if len(path) > 8:
        path = [*path[:4], f"… {len(path) - 7} more …", *path[-3:]]
    return " → ".join(path)


def summary_lines(plan: Plan) -> list[str]:
    """The lines under the table: total, schedule, caps, budgets, deadline, notes."""
    sched = plan.schedule
    lines = [f"Total: {_total_text(plan)}"]
    if plan.has_reuse:
        lines.append(_run_text(plan))
    gap = sched.makespan / sched.lower_bound if sched.lower_bound else 1.0
    if plan.has_reuse and not sched.slots:
        lines.append("Schedule: nothing to generate (every generation is reused)")
    else:
        lines.append(
            f"Schedule under {display(plan.limits)}: makespan {format_duration(sched.makespan)}, "
            f"lower bound {format_duration(sched.lower_bound)} (×{gap:.2f}); critical path "
            f"{_path_text(plan)} ({format_duration(sched.critical_path_seconds)})"
        )
    if sched.days > 1:
        binding = [u for u in sched.pools.values() if u.days > 1]
        detail = ", ".join(
            f"{display(u.pool)}: {u.generations} at {u.limits.max_daily}/day" for u in binding
        )
        lines.append(f"Daily caps force {sched.days} days ({detail}).")
    elif sched.slots:
        lines.append("Daily caps: not binding (fits in one day).")
    whose = "this run's" if plan.has_reuse else "the plan's"
    if plan.monthly_cap_credits is not None:
        cap = plan.monthly_cap_credits
        over = plan.spend_high > cap
        lines.append(
            f"Monthly spend cap: {format_credits(cap)} credits "
            f"(${format_usd(cap * plan.usd_per_credit)}): " + ("EXCEEDED" if over else "within")
        )
    for budget in plan.budgets:
        state = (
            "EXCEEDED"
            if budget.exceeded
            else f"CANNOT BE CHECKED ({budget.unpriced} unpriced)"
            if budget.unpriced
            else "within"
        )
        full = (
            f"; the whole plan's is {format_credits(plan.total_high)}"
            if plan.has_reuse and plan.total_high != plan.spend_high
            else ""
        )
        lines.append(
            f"Budget ({display(budget.source)}): {format_credits(budget.max_credits)} credits: "
            f"{state} ({whose} high end is {format_credits(plan.spend_high)}{full})"
        )
    if plan.deadline is not None:
        check = plan.deadline
        options = ", ".join(
            f"tier {o.tier} {format_duration(o.makespan)}"
            + ("" if o.within_monthly_cap else " (over its monthly cap)")
            for o in check.options
        )
        verdict = (
            f"cheapest tier that meets it: {check.cheapest}"
            if check.cheapest is not None
            else "no tier meets it"
        )
        lines.append(f"Deadline {format_duration(check.deadline)}: {verdict} ({options})")
    lines.extend(f"Note: {display(note)}" for note in plan.notes)
    return lines


def _reason_lines(plan: Plan) -> list[tuple[StepPlan, str]]:
    """Why each ranged or unpriced step's cost is not one number (as shown)."""
    return [
        (step, display(reason))
        for step in plan.steps
        if step.unknown or step.is_range
        for reason in step.reasons
    ]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
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


_MARKS = {"create": "+", "update": "~", "unchanged": "=", "delete": "-"}


def _action_text(change: ResourceChange) -> str:
    if change.action == "delete":
        return "delete (only with --prune)"
    if change.action == "unchanged" and change.status and change.status != "READY":
        return f"unchanged, {display(change.status)}"
    return change.action


def _field_text(name: str, old: str | None, new: str | None, detail: str) -> str:
    name, detail = display(name), display(detail)
    old = None if old is None else display(old)
    new = None if new is None else display(new)
    if old is None:
        text = f"{name}: {new}"
    elif new is None:
        text = f"{name}: {old} → (removed)"
    else:
        text = f"{name}: {old} → {new}"
    if detail and new is not None and new.endswith("known after the run"):
        return f"{text}: {detail}"
    return f"{text} ({detail})" if detail else text


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
            f"  {_MARKS.get(change.action, '?')} {display(change.kind):<{width_kind}}  "
            f"{display(change.key):<{width_key}}  '{display(change.name)}'  "
            f"{_action_text(change)}{_short_id(change.remote_id)}"
        )
        for item in change.fields:
            out.append(f"      {_field_text(item.name, item.old, item.new, item.detail)}")
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
            return out
        rule = tuple("-" * w for w in self.widths)
        rows = [(self.headers, ""), (rule, ""), *rows]
        return [(_table_line(row, self.widths, self.right), kind) for row, kind in rows]


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
    reasons = _reason_lines(plan)
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
    (table,) = step_tables(plan)
    out = [report_header(plan), "", *(text for text, _ in table.lines()), ""]
    out += [text for text, _ in report_lines(plan)]
    return display_lines("\n".join(out)) + "\n"


def _pair(low: Decimal, high: Decimal) -> dict[str, str]:
    return {"low": _plain(low), "high": _plain(high)}


def _plain(value: Decimal) -> str:
    """An exact decimal as a JSON string: ``"50000"``, ``"0.84"``, ``"55.2"``."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _seconds(value: float) -> float:
    return round(value, 3)


def _cost_dict(plan: Plan, gen: GenerationPlan) -> dict[str, Any]:
    cost: Cost = gen.cost
    rate = plan.usd_per_credit
    slot = gen.slot
    return {
        "key": gen.key,
        "step": gen.step,
        "index": gen.index,
        "endpoint": gen.endpoint,
        "model": gen.model,
        "unit": cost.unit,
        "units": cost.units,
        "quantity": None if cost.unknown else _pair(cost.quantity_low, cost.quantity_high),
        "per": _plain(cost.per),
        "blocks": None if cost.unknown else _pair(cost.blocks_low, cost.blocks_high),
        "rate": None if cost.unknown else _pair(cost.rate_low, cost.rate_high),
        "credits": None if cost.unknown else _pair(cost.low, cost.high),
        "usd": None if cost.unknown else _pair(cost.low * rate, cost.high * rate),
        "range": cost.is_range,
        "unknown": cost.unknown,
        "override": cost.override,
        "confidence": cost.confidence,
        "source": cost.source,
        "reasons": list(cost.reasons),
        "price_source": cost.source or None,
        "latency_s": _seconds(gen.latency),
        "reuse": None if gen.reused is None else {"reused": gen.reused, "reason": gen.reuse_reason},
        "schedule": None
        if slot is None
        else {
            "pool": slot.pool,
            "slot": slot.slot,
            "start_s": _seconds(slot.start),
            "end_s": _seconds(slot.end),
            "day": slot.day,
        },
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON document of ``docs/plan-json.md`` (version 1)."""
    rate = plan.usd_per_credit
    sched = plan.schedule
    deadline = None
    if plan.deadline is not None:
        deadline = {
            "deadline_s": _seconds(plan.deadline.deadline),
            "cheapest_tier": plan.deadline.cheapest,
            "tiers": [
                {
                    "tier": o.tier,
                    "makespan_s": _seconds(o.makespan),
                    "meets_deadline": o.meets_deadline,
                    "within_monthly_cap": o.within_monthly_cap,
                    "monthly_cap_usd": _plain(o.monthly_cap_usd),
                }
                for o in plan.deadline.options
            ],
        }
    diagnostics = json.loads(render_diagnostics(plan.diagnostics, "json"))["diagnostics"]
    run = None
    if plan.has_reuse:
        run = {
            "state": plan.reuse_source,
            "credits": _pair(plan.run_low, plan.run_high),
            "usd": _pair(plan.run_low * rate, plan.run_high * rate),
            "generations": len(plan.generations) - plan.reused,
            "reused_generations": plan.reused,
            "unknown_generations": plan.run_unknown,
            "budgets_apply_to": "run",
            "saved": {
                "credits": _pair(plan.saved_low, plan.saved_high),
                "usd": _pair(plan.saved_low * rate, plan.saved_high * rate),
            },
        }
    return {
        "schema": "runway-plan/plan",
        "version": JSON_SCHEMA_VERSION,
        "name": plan.name,
        "source": plan.source,
        "catalog": {"version": plan.catalog_version, "digest": plan.catalog_digest},
        "limits": {"tier": plan.tier, "description": plan.limits},
        "usd_per_credit": _plain(rate),
        "total": {
            "credits": _pair(plan.total_low, plan.total_high),
            "usd": _pair(plan.total_low * rate, plan.total_high * rate),
            "generations": len(plan.generations),
            "unknown_generations": plan.unknown,
            "unknown_models": plan.unknown_models,
            "confidence": plan.confidence,
        },
        "run": run,
        "budgets": [
            {
                "source": b.source,
                "max_credits": _plain(b.max_credits),
                "exceeded": b.exceeded,
                "unpriced": b.unpriced,
            }
            for b in plan.budgets
        ],
        "monthly_cap": None
        if plan.monthly_cap_credits is None
        else {
            "credits": _plain(plan.monthly_cap_credits),
            "usd": _plain(plan.monthly_cap_credits * rate),
            "exceeded": plan.spend_high > plan.monthly_cap_credits,
        },
        "schedule": {
            "makespan_s": _seconds(sched.makespan),
            "lower_bound_s": _seconds(sched.lower_bound),
            "critical_path": list(sched.critical_path),
            "critical_path_s": _seconds(sched.critical_path_seconds),
            "days": sched.days,
            "pools": [
                {
                    "pool": u.pool,
                    "max_concurrent": u.limits.max_concurrent,
                    "max_daily": u.limits.max_daily,
                    "used_today": u.limits.used_today,
                    "generations": u.generations,
                    "work_s": _seconds(u.work),
                    "days": u.days,
                }
                for u in sorted(sched.pools.values(), key=lambda u: u.pool)
            ],
        },
        "deadline": deadline,
        "steps": [
            {
                "name": s.name,
                "endpoint": s.endpoint,
                "model": s.model,
                "generations": list(s.generations),
                "units": s.units,
                "credits": _pair(s.low, s.high),
                "usd": _pair(s.low * rate, s.high * rate),
                "unknown_generations": s.unknown,
                "range": s.is_range,
                "confidence": s.confidence,
                "reasons": list(s.reasons),
                "fingerprint": s.fingerprint,
                "start_s": _seconds(s.start),
                "end_s": _seconds(s.end),
                "reused_generations": s.reused if plan.has_reuse else None,
                "run_credits": _pair(s.run_low, s.run_high) if plan.has_reuse else None,
            }
            for s in plan.steps
        ],
        "generations": [_cost_dict(plan, g) for g in plan.generations.values()],
        "resources": None if plan.resources is None else resource_to_dict(plan.resources),
        "edges": [list(edge) for edge in plan.step_edges],
        "notes": list(plan.notes),
        "learned_prices": plan.learned_prices,
        "diagnostics": diagnostics,
    }


def resource_to_dict(resources: ResourcePlan) -> dict[str, Any]:
    """The ``resources`` object of the plan document (``docs/plan-json.md``)."""
    return {
        "state": resources.source,
        "live": resources.live,
        "counts": resources.counts,
        "drifted": resources.drifted if resources.live else None,
        "items": [
            {
                "kind": c.kind,
                "key": c.key,
                "name": c.name,
                "action": c.action,
                "remote_id": c.remote_id,
                "status": c.status,
                "changes": [
                    {"field": f.name, "old": f.old, "new": f.new, "detail": f.detail}
                    for f in c.fields
                ],
                "drift": list(c.drift),
                "notes": list(c.notes),
            }
            for c in resources.changes
        ],
        "notes": list(resources.notes),
    }


_BACKTICKS = re.compile(r"`+")
_MD_ACTIVE = re.compile(r"([\\`*_\[\]<>!|~&#@])")


def _md_code(text: str, *, cell: bool = False) -> str:
    """``text`` from a spec as a Markdown code span: shown as it is, never read as Markdown or
    HTML, a mention, an issue reference or a link.

    The fence is one backtick longer than the longest run of backticks in the text, which is
    padded with a space when it starts or ends with a backtick or a space (CommonMark strips
    one from each side, unless the text is only spaces).  In a table ``cell`` a ``|`` is
    written ``\\|``, which GitHub's tables read as part of the cell, code spans included.
    """
    shown = display(text)
    if not shown:
        return ""
    if cell:
        shown = shown.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(shown)), default=0) + 1)
    if shown.strip(" ") and (shown[0] in "` " or shown[-1] in "` "):
        shown = f" {shown} "
    return f"{fence}{shown}{fence}"


def markdown_code(text: str) -> str:
    """``text`` from a spec (a name, a path) as a Markdown code span that shows it as it is,
    never as Markdown, HTML, a mention or a link (as the plan's Markdown shows a spec's text)."""
    return _md_code(text)


def _md_text(text: str) -> str:
    """``text`` as Markdown prose: every character that could start emphasis, a link, an
    image, HTML, a code span or a table cell is backslash-escaped.  For runway-plan's own
    sentences; a spec's text goes in :func:`_md_code`."""
    return _MD_ACTIVE.sub(r"\\\1", display(text))


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    """A Markdown table of cells that are Markdown already (each made by :func:`_md_code`
    with ``cell=True``, :func:`_md_text`, or runway-plan's own emphasis)."""
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md_diagnostics(diagnostics: Sequence[Diagnostic]) -> list[str]:
    out = []
    for d in diagnostics:
        where = f"{_md_code(str(d.span))} " if d.span else ""
        out.append(f"- {where}**{d.code}** ({d.severity.value}) {_md_code(d.message)}")
        if d.hint:
            out.append(f"  - hint: {_md_code(d.hint)}")
    return out


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown for a pull-request comment."""
    errors = any(d.is_error for d in plan.diagnostics)
    badge = "❌" if errors else ("⚠️" if plan.unknown else "✅")
    out = [f"### {badge} runway-plan: {_md_code(plan.name)}", ""]
    out.append(
        f"**{_md_text(_total_text(plan))}** · makespan "
        f"**{format_duration(plan.schedule.makespan)}** · {_md_text(plan.limits)}"
    )
    out.append("")
    rows = [
        (
            _md_code(r[0], cell=True),
            _md_code(r[1], cell=True),
            *(_md_text(cell) for cell in r[2:7]),
            f"{r[7]}–{r[8]}" if r[7] else "",
            *r[9:],
        )
        for r in step_rows(plan)
    ]
    total: tuple[str, ...] = (
        "**Total**",
        "",
        "",
        f"**{len(plan.generations)}**",
        "",
        "**"
        + _marked(
            credits_text(plan.total_low, plan.total_high, plan.unknown),
            plan.confidence,
            plan.unknown < len(plan.generations),
        )
        + "**",
        f"**{_usd_text(plan, plan.total_low, plan.total_high, plan.unknown)}**",
        f"**{format_duration(plan.schedule.makespan)}**",
    )
    headers: tuple[str, ...] = ("Step", "Model", "Endpoint", "Gens", "Units", "Credits", "USD")
    headers += ("When",)
    if plan.has_reuse:
        total += (f"**{plan.reused}/{len(plan.generations)}**",)
        headers += ("Reused",)
    rows.append(total)
    out += _md_table(headers, rows, {3, 5, 6, 8})
    out.append("")
    out += [f"{_md_text(line)}" for line in confidence_legend(plan)]
    if confidence_legend(plan):
        out.append("")
    reasons = _reason_lines(plan)
    if reasons:
        out += ["<details><summary>Ranges and unknowns</summary>", ""]
        out += [f"- {_md_code(step.name)}: {_md_code(reason)}" for step, reason in reasons]
        out += ["", "</details>", ""]
    if plan.has_reuse:
        regenerated = _reuse_groups(plan)
        out += [
            f"<details><summary>Generated again ({len(plan.generations) - plan.reused} of "
            f"{len(plan.generations)})</summary>",
            "",
        ]
        out += [f"- {_md_code(label)}: {_md_code(reason)}" for label, reason in regenerated] or [
            "- nothing: every generation is reused"
        ]
        out += ["", "</details>", ""]
    if plan.resources is not None:
        out += _md_resources(plan.resources)
    out += [f"- {_md_text(line)}" for line in summary_lines(plan)[1:]]
    if plan.diagnostics:
        out += ["", "**Diagnostics**", "", *_md_diagnostics(plan.diagnostics)]
    out += [
        "",
        f"<sub>{_md_code(plan.source)} · catalog {plan.catalog_version} "
        f"(sha256 {plan.catalog_digest[:12]})</sub>",
    ]
    return display_lines("\n".join(out)) + "\n"


def _md_resources(resources: ResourcePlan) -> list[str]:
    counts = resources.counts
    out = [
        f"**Resources** ({counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged, {counts['delete']} to delete with `--prune`"
        + (f", {resources.drifted} drifted" if resources.live else "")
        + ")",
        "",
    ]
    rows = []
    for change in resources.changes:
        details = [_field_text(f.name, f.old, f.new, f.detail) for f in change.fields]
        details += [f"drift: {d}" for d in change.drift]
        details += [f"note: {n}" for n in change.notes]
        rows.append(
            (
                _md_text(f"{_MARKS.get(change.action, '?')} {_action_text(change)}"),
                _md_text(change.kind),
                _md_code(change.key, cell=True),
                _md_code(change.name, cell=True),
                "<br>".join(_md_code(detail, cell=True) for detail in details),
            )
        )
    if rows:
        out += _md_table(("Action", "Kind", "Key", "Name", "Changes"), rows, set())
        out.append("")
    if resources.notes:
        out += [f"- note: {_md_code(note)}" for note in resources.notes]
        out.append("")
    return out


def render_plan(plan: Plan, fmt: str) -> str:
    """Render ``plan`` as ``table`` (plain text), ``json`` or ``markdown``."""
    if fmt == "table":
        return render_text(plan)
    if fmt == "json":
        return json_text(plan_to_dict(plan)) + "\n"
    if fmt == "markdown":
        return render_markdown(plan)
    raise ValueError(f"unknown format {fmt!r}")


def _node_label(step: StepPlan) -> tuple[str, str, str]:
    fan = f" ×{len(step.generations)}" if len(step.generations) > 1 else ""
    cost = credits_text(step.low, step.high, step.unknown)
    unit = "" if cost == "unknown" else (" credit" if cost == "1" else " credits")
    return (f"{step.name}{fan}", step.model, f"{cost}{unit}" if unit else "cost unknown")


_MERMAID_ENTITIES = str.maketrans({char: f"#{ord(char)};" for char in '#"<>&`%'})
"""Mermaid's entity codes (``#34;`` is ``"``) for what would end a quoted label, open HTML,
a Markdown string (a backtick) or a ``%%{init}%%`` directive; ``#`` first of all."""


def _mermaid_text(text: str) -> str:
    return display(text).translate(_MERMAID_ENTITIES)


def render_mermaid(plan: Plan) -> str:
    """The step graph as a Mermaid flowchart; unpriced steps are highlighted."""
    ids = {step.name: f"s{i}" for i, step in enumerate(plan.steps)}
    out = ["flowchart LR"]
    for step in plan.steps:
        name, model, cost = (_mermaid_text(part) for part in _node_label(step))
        out.append(f'  {ids[step.name]}["{name}<br/>{model}<br/>{cost}"]')
    for source, target in plan.step_edges:
        out.append(f"  {ids[source]} --> {ids[target]}")
    unknown = [ids[s.name] for s in plan.steps if s.unknown]
    ranged = [ids[s.name] for s in plan.steps if not s.unknown and s.is_range]
    out.append("  classDef unknown fill:#fde2e1,stroke:#c0392b")
    out.append("  classDef range fill:#fff4d6,stroke:#b7791f")
    if unknown:
        out.append(f"  class {','.join(unknown)} unknown")
    if ranged:
        out.append(f"  class {','.join(ranged)} range")
    return display_lines("\n".join(out)) + "\n"


def _dot_text(text: str) -> str:
    """``text`` inside a DOT string: shown, then ``\\`` and ``"`` escaped, so that neither
    the string's end nor Graphviz's ``\\n``, ``\\l``, ``\\N`` ... come from a spec."""
    return display(text).replace("\\", "\\\\").replace('"', '\\"')


def _dot_id(text: str) -> str:
    return f'"{_dot_text(text)}"'


def render_dot(plan: Plan) -> str:
    """The step graph in Graphviz DOT."""
    out = [
        f"digraph {_dot_id(plan.name or 'plan')} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
    ]
    for step in plan.steps:
        label = "\\n".join(_dot_text(part) for part in _node_label(step))
        fill = ""
        if step.unknown:
            fill = ', fillcolor="#fde2e1"'
        elif step.is_range:
            fill = ', fillcolor="#fff4d6"'
        out.append(f'  {_dot_id(step.name)} [label="{label}"{fill}];')
    for source, target in plan.step_edges:
        out.append(f"  {_dot_id(source)} -> {_dot_id(target)};")
    out.append("}")
    return display_lines("\n".join(out)) + "\n"


_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)


def _tick_step(span: float) -> float:
    """A round tick interval giving about 8 ticks over ``span`` seconds."""
    for step in (
        1,
        2,
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        7200,
        10800,
        21600,
        43200,
        86400,
        172800,
        432000,
        864000,
    ):
        if span / step <= 10:
            return float(step)
    return float(10 ** math.ceil(math.log10(span / 10)))


def _xml(text: str) -> str:
    """``text`` in XML character data or an attribute: shown (XML 1.0 forbids most control
    characters, and a lone surrogate cannot be written in UTF-8), then ``&<>"'`` escaped."""
    return html.escape(display(text))


def render_gantt_svg(plan: Plan) -> str:
    """The schedule as a self-contained SVG Gantt chart: one lane per concurrency slot.

    Bars are coloured by step and carry a tooltip (``<title>``); the critical path is outlined.
    """
    lanes: dict[tuple[str, int], list[GenerationPlan]] = {}
    for gen in plan.generations.values():
        if gen.slot is not None:
            lanes.setdefault((gen.slot.pool, gen.slot.slot), []).append(gen)
    order = sorted(lanes)
    colours = {step.name: _PALETTE[i % len(_PALETTE)] for i, step in enumerate(plan.steps)}
    critical = set(plan.schedule.critical_path)
    label_w, chart_w, lane_h, top = 230, 900, 22, 64
    legend_rows = math.ceil(len(plan.steps) / 4)
    height = top + len(order) * lane_h + 40 + legend_rows * 18 + 10
    span = plan.schedule.makespan or 1.0
    scale = chart_w / span

    def x(t: float) -> float:
        return label_w + t * scale

    total = _total_text(plan)
    title = (
        f"{plan.name}: makespan {format_duration(plan.schedule.makespan)} "
        f"(lower bound {format_duration(plan.schedule.lower_bound)}) · {total}"
    )
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{label_w + chart_w + 20}" height="{height}" '
        f'viewBox="0 0 {label_w + chart_w + 20} {height}" font-family="Helvetica, Arial, '
        'sans-serif" font-size="11">',
        f"<title>{_xml(title)}</title>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{_xml(plan.name)}</text>',
        f'<text x="10" y="38" fill="#444">{_xml(title)}</text>',
        f'<text x="10" y="54" fill="#666">{_xml(plan.limits)} · critical path outlined</text>',
    ]
    tick = _tick_step(span)
    bottom = top + len(order) * lane_h
    t = 0.0
    while t <= span + 1e-9:
        px = x(t)
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="#e3e3e3"/>')
        out.append(
            f'<text x="{px:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#555">'
            f"{_xml(format_duration(t))}</text>"
        )
        t += tick
    for row, lane in enumerate(order):
        y = top + row * lane_h
        if row % 2:
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{chart_w}" height="{lane_h}" fill="#f7f7f7"/>'
            )
        out.append(
            f'<text x="{label_w - 8}" y="{y + lane_h / 2 + 4:.1f}" text-anchor="end">'
            f"{_xml(lane[0])} · slot {lane[1] + 1}</text>"
        )
        for gen in lanes[lane]:
            slot = gen.slot
            assert slot is not None
            width = max((slot.end - slot.start) * scale, 1.0)
            stroke = ' stroke="#111" stroke-width="1.5"' if gen.key in critical else ""
            tip = (
                f"{gen.key} ({gen.model}): {format_duration(slot.start)} → "
                f"{format_duration(slot.end)}, "
                f"{credits_text(gen.cost.low, gen.cost.high, int(gen.cost.unknown))} credits"
            )
            out.append(
                f'<rect x="{x(slot.start):.2f}" y="{y + 3}" width="{width:.2f}" '
                f'height="{lane_h - 6}" rx="3" fill="{colours.get(gen.step, "#888")}"{stroke}>'
                f"<title>{_xml(tip)}</title></rect>"
            )
            if width > 7 * len(gen.key):
                out.append(
                    f'<text x="{x(slot.start) + 4:.2f}" y="{y + lane_h / 2 + 4:.1f}" '
                    f'fill="#fff">{_xml(gen.key)}</text>'
                )
    legend_y = bottom + 34
    for i, step in enumerate(plan.steps):
        lx = 10 + (i % 4) * 280
        ly = legend_y + (i // 4) * 18
        out.append(
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" rx="2" '
            f'fill="{colours[step.name]}"/>'
        )
        out.append(f'<text x="{lx + 18}" y="{ly}">{_xml(step.name)} ({_xml(step.model)})</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_gantt_html(plan: Plan) -> str:
    """The Gantt chart in a self-contained HTML page."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_xml(plan.name)} schedule</title>"
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px}</style></head>"
        f"<body>\n{render_gantt_svg(plan)}</body></html>\n"
    )


# ---------------------------------------------------------------------------- diffs


def _change_cost(change: StepChange, side: str) -> str:
    step = change.old if side == "old" else change.new
    if step is None:
        return ""
    return credits_text(step.low, step.high, step.unknown)


def _delta(low: Decimal, high: Decimal) -> str:
    """A change of a cost; a range's two ends may move by different amounts."""

    def signed(value: Decimal) -> str:
        return ("+" if value > 0 else "") + format_credits(value) if value else "0"

    return signed(low) if low == high else f"low {signed(low)}, high {signed(high)}"


def diff_rows(diff: PlanDiff) -> list[tuple[str, ...]]:
    """One row per added, removed or changed step."""
    marks = {"added": "+", "removed": "-", "changed": "~"}
    rows: list[tuple[str, ...]] = []
    for change in diff.changes:
        if change.status == "unchanged":
            continue
        step = change.new or change.old
        assert step is not None
        rows.append(
            (
                marks[change.status],
                display(change.name),
                display(step.model),
                _change_cost(change, "old"),
                _change_cost(change, "new"),
                _delta(change.delta_low, change.delta_high),
                "; ".join(map(display, change.details)),
            )
        )
    return rows


DIFF_HEADERS = ("", "step", "model", "old", "new", "delta", "what changed")


def _diff_total(diff: PlanDiff) -> str:
    old = credits_text(diff.old.total_low, diff.old.total_high, diff.old.unknown)
    new = credits_text(diff.new.total_low, diff.new.total_high, diff.new.unknown)
    rate = diff.new.usd_per_credit

    def money(value: Decimal) -> str:
        sign = "+" if value > 0 else ("-" if value < 0 else "")
        return f"{sign}${format_usd(abs(value))}"

    low, high = diff.delta_low * rate, diff.delta_high * rate
    usd = money(low) if low == high else f"low {money(low)}, high {money(high)}"
    return f"{old} → {new} credits ({_delta(diff.delta_low, diff.delta_high)} credits, {usd})"


def _diff_summary(diff: PlanDiff) -> list[str]:
    counts = diff.counts
    lines = [
        f"Total: {_diff_total(diff)}",
        f"Steps: {counts['added']} added, {counts['removed']} removed, {counts['changed']} "
        f"changed, {counts['unchanged']} unchanged",
        f"Makespan: {format_duration(diff.old.schedule.makespan)} → "
        f"{format_duration(diff.new.schedule.makespan)}",
    ]
    if diff.new.unknown != diff.old.unknown:
        lines.append(f"Unpriced generations: {diff.old.unknown} → {diff.new.unknown}")
    return lines


def diff_to_dict(diff: PlanDiff) -> dict[str, Any]:
    """The diff as JSON (``docs/plan-json.md``, "diff" document)."""
    rate = diff.new.usd_per_credit

    def side(step: StepPlan | None) -> dict[str, Any] | None:
        if step is None:
            return None
        return {
            "model": step.model,
            "endpoint": step.endpoint,
            "generations": len(step.generations),
            "credits": _pair(step.low, step.high),
            "unknown_generations": step.unknown,
            "fingerprint": step.fingerprint,
        }

    return {
        "schema": "runway-plan/diff",
        "version": JSON_SCHEMA_VERSION,
        "old": {
            "source": diff.old.source,
            "name": diff.old.name,
            "credits": _pair(diff.old.total_low, diff.old.total_high),
            "unknown_generations": diff.old.unknown,
            "makespan_s": _seconds(diff.old.schedule.makespan),
        },
        "new": {
            "source": diff.new.source,
            "name": diff.new.name,
            "credits": _pair(diff.new.total_low, diff.new.total_high),
            "unknown_generations": diff.new.unknown,
            "makespan_s": _seconds(diff.new.schedule.makespan),
        },
        "delta": {
            "credits": _pair(diff.delta_low, diff.delta_high),
            "usd": _pair(diff.delta_low * rate, diff.delta_high * rate),
        },
        "counts": diff.counts,
        "steps": [
            {
                "name": c.name,
                "status": c.status,
                "old": side(c.old),
                "new": side(c.new),
                "delta": _pair(c.delta_low, c.delta_high),
                "details": list(c.details),
            }
            for c in diff.changes
        ],
    }


def render_diff(diff: PlanDiff, fmt: str) -> str:
    """Render a plan diff as ``table``, ``json`` or ``markdown``."""
    if fmt == "json":
        return json_text(diff_to_dict(diff)) + "\n"
    rows = diff_rows(diff)
    if fmt == "table":
        out = [f"Cost diff: {display(diff.old.source)} → {display(diff.new.source)}", ""]
        out += _table(DIFF_HEADERS, rows, right={3, 4, 5}) if rows else ["No step changed."]
        out += ["", *_diff_summary(diff)]
        return display_lines("\n".join(out)) + "\n"
    if fmt == "markdown":
        up = diff.delta_high > 0
        badge = "📈" if up else ("📉" if diff.delta_high < 0 else "➖")
        out = [
            f"### {badge} runway-plan cost diff: {_md_code(diff.new.name)}",
            "",
            f"**{_md_text(_diff_total(diff))}**",
            "",
        ]
        if rows:
            md_rows = [
                (
                    _md_code(r[0], cell=True),
                    _md_code(r[1], cell=True),
                    _md_code(r[2], cell=True),
                    *map(_md_text, r[3:]),
                )
                for r in rows
            ]
            out += _md_table(
                ("", "Step", "Model", "Old", "New", "Δ credits", "What changed"), md_rows, {3, 4, 5}
            )
        else:
            out.append("No step changed.")
        out += ["", *[f"- {_md_text(line)}" for line in _diff_summary(diff)[1:]]]
        out += [
            "",
            f"<sub>{_md_code(diff.old.source)} → {_md_code(diff.new.source)} · catalog "
            f"{diff.new.catalog_version}</sub>",
        ]
        return display_lines("\n".join(out)) + "\n"
    raise ValueError(f"unknown format {fmt!r}")
