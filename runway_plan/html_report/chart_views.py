"""The page's charts as views: the DAG of steps, the planned schedule and what the run did."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from runway_plan.html_report.charts import (
    Bar,
    Lane,
    Node,
    dag_svg,
    lanes_svg,
)
from runway_plan.html_report.context import PageContext
from runway_plan.html_report.journal import RunTimes
from runway_plan.html_report.views import StepView
from runway_plan.html_report.wording import credits_text, pair_of, status_colour
from runway_plan.plan import format_duration

# pictures --------------------------------------------------------------------

__all__ = ["chart_views", "dag_view"]


def dag_view(context: PageContext, steps: Sequence[StepView]) -> Markup | None:
    if context.plan is None:
        return None
    views = {s.name: s for s in steps}
    nodes = []
    for name, step in context.plan_steps.items():
        view = views.get(name)
        count = len(step.get("generations", []))
        if context.sources.manifest is not None and view is not None:
            outcomes = [g.outcome for g in view.generations]
            done = sum(o in ("generated", "reused") for o in outcomes)
            figures = f"{done}/{len(outcomes)} done · billed {view.billed}"
            status = status_colour(outcomes)
        else:
            low, high = pair_of(step.get("credits"))
            figures = f"{count} gen · {credits_text(low, high)} credits"
            status = ""
        model = str(step.get("model", ""))
        nodes.append(
            Node(
                name=name,
                detail=model,
                figures=figures,
                colour=context.colours[name],
                status=status,
                tip=f"{name} ({step.get('endpoint', '')}, {model}): {figures}",
                link=f"#{context.anchors[name]}",
            )
        )
    edges = [
        (str(e[0]), str(e[1]))
        for e in context.plan.get("edges", [])
        if isinstance(e, list | tuple) and len(e) == 2
    ]
    title = f"{context.plan.get('name', '')}: {len(nodes)} steps"
    return Markup(dag_svg(nodes, edges, title))  # dag_svg escapes every text


def _planned_lanes(context: PageContext) -> tuple[list[Lane], float]:
    if context.plan is None:
        return [], 0.0
    critical = set(context.plan.get("schedule", {}).get("critical_path", []))
    lanes: dict[tuple[str, int], Lane] = {}
    for key, gen in context.plan_gens.items():
        slot = gen.get("schedule")
        if not isinstance(slot, Mapping):
            continue
        pool, number = str(slot.get("pool", "")), int(slot.get("slot", 0))
        lane = lanes.setdefault((pool, number), Lane(f"{pool} · slot {number + 1}"))
        start, end = float(slot.get("start_s", 0)), float(slot.get("end_s", 0))
        low, high = pair_of(gen.get("credits"))
        lane.bars.append(
            Bar(
                start,
                end,
                key,
                context.colours.get(str(gen.get("step")), "#888888"),
                f"{key} ({gen.get('model', '')}): {format_duration(start)} → "
                f"{format_duration(end)}, {credits_text(low, high)} credits",
                outlined=key in critical,
            )
        )
    span = float(context.plan.get("schedule", {}).get("makespan_s") or 0.0)
    return [lanes[k] for k in sorted(lanes)], span


def _real_lanes(context: PageContext, times: RunTimes) -> tuple[list[Lane], float]:
    lanes: dict[str, list[Lane]] = {}
    last_end = times.finished or max([a.ended or a.sent for a in times.attempts] or [times.started])
    span = 0.0
    for attempt in sorted(times.attempts, key=lambda a: (a.sent, a.key)):
        start = max(0.0, attempt.sent - times.started) * times.speed
        end = max(0.0, (attempt.ended or last_end) - times.started) * times.speed
        span = max(span, end)
        model = context.models.get(attempt.key, "")
        pool = lanes.setdefault(model, [])
        lane = next((ln for ln in pool if ln.bars[-1].end <= start), None)
        if lane is None:
            lane = Lane(f"{model} · {len(pool) + 1}")
            pool.append(lane)
        label = attempt.key if attempt.number == 1 else f"{attempt.key} #{attempt.number}"
        ended = "still running" if attempt.ended is None else format_duration(end)
        lane.bars.append(
            Bar(
                start,
                end,
                label,
                context.colours.get(attempt.step, "#888888"),
                f"{label} ({model}): {attempt.status}, {format_duration(start)} → {ended}",
                failed=attempt.status not in ("SUCCEEDED", "RUNNING", "PENDING", "THROTTLED"),
            )
        )
    run_span = ((times.finished or last_end) - times.started) * times.speed
    return [lane for model in sorted(lanes) for lane in lanes[model]], max(span, run_span)


def chart_views(context: PageContext) -> tuple[Markup | None, Markup | None]:
    planned, plan_span = _planned_lanes(context)
    times = context.sources.times
    real: list[Lane] = []
    real_span = 0.0
    if times is not None:
        real, real_span = _real_lanes(context, times)
    span = max(plan_span, real_span)
    legend = {name: context.colours[name] for name in context.step_names}
    gantt = timeline = None
    if context.plan is not None:
        schedule = context.plan.get("schedule", {})
        limits = context.plan.get("limits", {}).get("description", "")
        made = "every generation"
        if context.sources.manifest is not None:
            made = "the generations the run was to make (reused ones left out)"
        caption = (
            f"{limits} · {made} · makespan {format_duration(plan_span)} "
            f"(lower bound {format_duration(float(schedule.get('lower_bound_s') or 0))})"
            " · critical path outlined"
        )
        gantt = Markup(  # lanes_svg escapes every text
            lanes_svg(
                planned,
                span=span,
                title="Planned schedule",
                caption=caption,
                legend=legend,
                css_class="gantt",
            )
        )
    if times is not None:
        wall = (times.finished or times.started) - times.started
        caption = f"wall clock {format_duration(wall)}"
        if times.speed != 1:
            caption += (
                f", emulated at {times.speed:g}× speed: times are shown ×{times.speed:g}, "
                f"as the API would take them ({format_duration(wall * times.speed)})"
            )
        caption += " · failed attempts outlined in red"
        timeline = Markup(  # lanes_svg escapes every text
            lanes_svg(
                real,
                span=span,
                title="What the run did",
                caption=caption,
                legend=legend,
                css_class="timeline",
            )
        )
    return gantt, timeline
