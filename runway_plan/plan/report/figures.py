"""The figures and sentences every plan format shares: costs as text, the confidence mark, the
step rows, the summary lines, the reuse and resource wording, a step's graph label.

Everything a spec wrote is shown through :func:`~runway_plan.diagnostics.display.display`; each
format escapes the result for itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from runway_plan.diagnostics.display import display
from runway_plan.plan.cost import format_credits, format_usd
from runway_plan.plan.model import Plan, StepPlan, format_duration
from runway_plan.plan.resources import ResourceChange

__all__ = [
    "CONFIDENCE_LEGEND",
    "CONFIDENCE_MARK",
    "RESOURCE_MARKS",
    "ROW_HEADERS",
    "action_text",
    "confidence_legend",
    "credits_text",
    "field_text",
    "marked",
    "node_label",
    "reason_lines",
    "reuse_groups",
    "reuse_lines",
    "row_headers",
    "step_row",
    "step_rows",
    "summary_lines",
    "total_row",
    "total_text",
    "usd_text",
]


def _range(low: Decimal, high: Decimal, fmt: Any = format_credits) -> str:
    return fmt(low) if low == high else f"{fmt(low)}-{fmt(high)}"


def credits_text(low: Decimal, high: Decimal, unknown: int = 0) -> str:
    """``84``, ``160-320``, ``unknown`` or ``84 + 1 unknown``."""
    if unknown and low == high == 0:
        return "unknown"
    text = _range(low, high)
    return f"{text} + {unknown} unknown" if unknown else text


def usd_text(plan: Plan, low: Decimal, high: Decimal, unknown: int = 0) -> str:
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


def marked(text: str, confidence: str, priced: bool) -> str:
    return f"{CONFIDENCE_MARK}{text}" if priced and confidence != "high" else text


def confidence_legend(plan: Plan) -> list[str]:
    """The legend of :data:`CONFIDENCE_MARK`, when a figure of the plan carries it."""
    shown = any(s.confidence != "high" and s.unknown < len(s.generations) for s in plan.steps)
    return [CONFIDENCE_LEGEND] if shown else []


def step_rows(plan: Plan) -> list[tuple[str, ...]]:
    """One row per step: step, model, endpoint, generations, units, credits, USD, start, end,
    and, when the plan knows the run state, ``reused`` (``2/3``: reused N of M)."""
    return [step_row(plan, step) for step in plan.steps]


def step_row(plan: Plan, step: StepPlan) -> tuple[str, ...]:
    """The row of one step in :func:`step_rows`."""
    start, end = _when(step)
    row: tuple[str, ...] = (
        display(step.name),
        display(step.model),
        display(step.endpoint),
        str(len(step.generations)),
        display(step.units),
        marked(
            credits_text(step.low, step.high, step.unknown),
            step.confidence,
            step.unknown < len(step.generations),
        ),
        usd_text(plan, step.low, step.high, step.unknown),
        start,
        end,
    )
    if plan.has_reuse:
        row += (f"{step.reused}/{len(step.generations)}",)
    return row


def total_row(plan: Plan) -> tuple[str, ...]:
    """The TOTAL row under :func:`step_rows`."""
    row: tuple[str, ...] = (
        "TOTAL",
        "",
        "",
        str(len(plan.generations)),
        "",
        marked(
            credits_text(plan.total_low, plan.total_high, plan.unknown),
            plan.confidence,
            plan.unknown < len(plan.generations),
        ),
        usd_text(plan, plan.total_low, plan.total_high, plan.unknown),
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
    usd = usd_text(plan, plan.run_low, plan.run_high, plan.run_unknown)
    to_make = len(plan.generations) - plan.reused
    saved = _range(plan.saved_low, plan.saved_high)
    saved_usd = usd_text(plan, plan.saved_low, plan.saved_high)
    return (
        f"This run: {cost} credits ({usd}) for {to_make} generation{'s' * (to_make != 1)}; "
        f"{plan.reused} of {len(plan.generations)} reused from {display(plan.reuse_source or '')}. "
        f"Credits saved: {saved} ({saved_usd})"
    )


def reuse_groups(plan: Plan) -> list[tuple[str, str]]:
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
    return [f"{label}: {reason}" for label, reason in reuse_groups(plan)]


def total_text(plan: Plan) -> str:
    text = f"{_range(plan.total_low, plan.total_high)} credits " + (
        f"({usd_text(plan, plan.total_low, plan.total_high)})"
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
    lines = [f"Total: {total_text(plan)}"]
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


def reason_lines(plan: Plan) -> list[tuple[StepPlan, str]]:
    """Why each ranged or unpriced step's cost is not one number (as shown)."""
    return [
        (step, display(reason))
        for step in plan.steps
        if step.unknown or step.is_range
        for reason in step.reasons
    ]


RESOURCE_MARKS = {"create": "+", "update": "~", "unchanged": "=", "delete": "-"}


def action_text(change: ResourceChange) -> str:
    if change.action == "delete":
        return "delete (only with --prune)"
    if change.action == "unchanged" and change.status and change.status != "READY":
        return f"unchanged, {display(change.status)}"
    return change.action


def field_text(name: str, old: str | None, new: str | None, detail: str) -> str:
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


def node_label(step: StepPlan) -> tuple[str, str, str]:
    fan = f" ×{len(step.generations)}" if len(step.generations) > 1 else ""
    cost = credits_text(step.low, step.high, step.unknown)
    unit = "" if cost == "unknown" else (" credit" if cost == "1" else " credits")
    return (f"{step.name}{fan}", step.model, f"{cost}{unit}" if unit else "cost unknown")
