"""The schedule as a self-contained SVG Gantt chart, alone or in an HTML page."""

from __future__ import annotations

import html
import math
from collections.abc import Iterator

from runway_plan.diagnostics.display import display
from runway_plan.plan.model import GenerationPlan, Plan, format_duration
from runway_plan.plan.report.figures import credits_text, total_text

__all__ = ["gantt_html_pieces", "gantt_svg_pieces", "render_gantt_html", "render_gantt_svg"]


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
    return "".join(gantt_svg_pieces(plan))


def gantt_svg_pieces(plan: Plan) -> Iterator[str]:
    """The text of :func:`render_gantt_svg`, a line at a time, made as it is written."""
    for line in _svg_lines(plan):
        yield line + "\n"


def _svg_lines(plan: Plan) -> Iterator[str]:
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

    total = total_text(plan)
    title = (
        f"{plan.name}: makespan {format_duration(plan.schedule.makespan)} "
        f"(lower bound {format_duration(plan.schedule.lower_bound)}) · {total}"
    )
    yield from [
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
        yield f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="#e3e3e3"/>'
        yield (
            f'<text x="{px:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#555">'
            f"{_xml(format_duration(t))}</text>"
        )
        t += tick
    for row, lane in enumerate(order):
        y = top + row * lane_h
        if row % 2:
            yield (
                f'<rect x="{label_w}" y="{y}" width="{chart_w}" height="{lane_h}" fill="#f7f7f7"/>'
            )
        yield (
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
            yield (
                f'<rect x="{x(slot.start):.2f}" y="{y + 3}" width="{width:.2f}" '
                f'height="{lane_h - 6}" rx="3" fill="{colours.get(gen.step, "#888")}"{stroke}>'
                f"<title>{_xml(tip)}</title></rect>"
            )
            if width > 7 * len(gen.key):
                yield (
                    f'<text x="{x(slot.start) + 4:.2f}" y="{y + lane_h / 2 + 4:.1f}" '
                    f'fill="#fff">{_xml(gen.key)}</text>'
                )
    legend_y = bottom + 34
    for i, step in enumerate(plan.steps):
        lx = 10 + (i % 4) * 280
        ly = legend_y + (i // 4) * 18
        yield (
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" rx="2" '
            f'fill="{colours[step.name]}"/>'
        )
        yield f'<text x="{lx + 18}" y="{ly}">{_xml(step.name)} ({_xml(step.model)})</text>'
    yield "</svg>"


def render_gantt_html(plan: Plan) -> str:
    """The Gantt chart in a self-contained HTML page."""
    return "".join(gantt_html_pieces(plan))


def gantt_html_pieces(plan: Plan) -> Iterator[str]:
    """The text of :func:`render_gantt_html`, made as it is written."""
    yield (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_xml(plan.name)} schedule</title>"
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px}</style></head>"
        "<body>\n"
    )
    yield from gantt_svg_pieces(plan)
    yield "</body></html>\n"
