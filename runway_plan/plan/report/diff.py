"""Render a plan diff (:class:`~runway_plan.plan.diff.PlanDiff`) as a text table, JSON or
Markdown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from runway_plan.diagnostics.display import display, display_lines, json_text
from runway_plan.plan.cost import format_credits, format_usd
from runway_plan.plan.diff import PlanDiff, StepChange
from runway_plan.plan.model import StepPlan, format_duration
from runway_plan.plan.report.figures import credits_text
from runway_plan.plan.report.jsondoc import JSON_SCHEMA_VERSION, pair, seconds
from runway_plan.plan.report.markdown import md_code, md_table, md_text
from runway_plan.plan.report.text import text_table

__all__ = ["DIFF_HEADERS", "diff_rows", "diff_to_dict", "render_diff"]


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
            "credits": pair(step.low, step.high),
            "unknown_generations": step.unknown,
            "fingerprint": step.fingerprint,
        }

    return {
        "schema": "runway-plan/diff",
        "version": JSON_SCHEMA_VERSION,
        "old": {
            "source": diff.old.source,
            "name": diff.old.name,
            "credits": pair(diff.old.total_low, diff.old.total_high),
            "unknown_generations": diff.old.unknown,
            "makespan_s": seconds(diff.old.schedule.makespan),
        },
        "new": {
            "source": diff.new.source,
            "name": diff.new.name,
            "credits": pair(diff.new.total_low, diff.new.total_high),
            "unknown_generations": diff.new.unknown,
            "makespan_s": seconds(diff.new.schedule.makespan),
        },
        "delta": {
            "credits": pair(diff.delta_low, diff.delta_high),
            "usd": pair(diff.delta_low * rate, diff.delta_high * rate),
        },
        "counts": diff.counts,
        "steps": [
            {
                "name": c.name,
                "status": c.status,
                "old": side(c.old),
                "new": side(c.new),
                "delta": pair(c.delta_low, c.delta_high),
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
        out += text_table(DIFF_HEADERS, rows, right={3, 4, 5}) if rows else ["No step changed."]
        out += ["", *_diff_summary(diff)]
        return display_lines("\n".join(out)) + "\n"
    if fmt == "markdown":
        up = diff.delta_high > 0
        badge = "📈" if up else ("📉" if diff.delta_high < 0 else "➖")
        out = [
            f"### {badge} runway-plan cost diff: {md_code(diff.new.name)}",
            "",
            f"**{md_text(_diff_total(diff))}**",
            "",
        ]
        if rows:
            md_rows = [
                (
                    md_code(r[0], cell=True),
                    md_code(r[1], cell=True),
                    md_code(r[2], cell=True),
                    *map(md_text, r[3:]),
                )
                for r in rows
            ]
            out += md_table(
                ("", "Step", "Model", "Old", "New", "Δ credits", "What changed"), md_rows, {3, 4, 5}
            )
        else:
            out.append("No step changed.")
        out += ["", *[f"- {md_text(line)}" for line in _diff_summary(diff)[1:]]]
        out += [
            "",
            f"<sub>{md_code(diff.old.source)} → {md_code(diff.new.source)} · catalog "
            f"{diff.new.catalog_version}</sub>",
        ]
        return display_lines("\n".join(out)) + "\n"
    raise ValueError(f"unknown format {fmt!r}")
