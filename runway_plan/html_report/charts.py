"""The report's pictures as inline SVG: the step graph, and time lanes (the planned schedule
and the run's real timeline, drawn alike so that they can be compared).

Every text that reaches the SVG (step names, models, keys, messages) is escaped here with
:func:`html.escape`; the callers wrap the result as markup.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from html import escape

from runway_plan.plan import format_duration

__all__ = [
    "PALETTE",
    "Bar",
    "Lane",
    "Node",
    "dag_svg",
    "lanes_svg",
    "step_colours",
]

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#86bcb6",
)
"""Step colours (Tableau 10 without its red, which marks failures)."""

FAILED = "#d62728"
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'


def step_colours(steps: Sequence[str]) -> dict[str, str]:
    """A colour per step, in spec order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(steps)}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "…"


@dataclass(frozen=True, slots=True)
class Node:
    """A step of the graph: its name, two lines of detail, fill and status colour."""

    name: str
    detail: str
    figures: str
    colour: str
    status: str = ""
    tip: str = ""
    link: str = ""
    """A fragment (``#step-1``) the box links to."""


def _layers(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Steps by depth (longest path from a source), each layer ordered by the mean place of
    its predecessors, so that edges cross little."""
    parents: dict[str, list[str]] = {name: [] for name in names}
    children: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        if source in parents and target in parents and source != target:
            parents[target].append(source)
            children[source].append(target)
    order = {name: i for i, name in enumerate(names)}
    depth = dict.fromkeys(names, 0)
    sorter = TopologicalSorter(parents)
    with contextlib.suppress(CycleError):  # a step on a cycle (validation refuses those) stays at 0
        sorter.prepare()
    while ready := sorter.get_ready():
        for name in ready:
            for child in children[name]:
                depth[child] = max(depth[child], depth[name] + 1)
        sorter.done(*ready)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in names:
        layers[depth[name]].append(name)
    place: dict[str, float] = {}
    for layer in layers:

        def centre(name: str) -> float:
            ups = [place[p] for p in parents[name] if p in place]
            return sum(ups) / len(ups) if ups else float(order[name])

        layer.sort(key=lambda name: (centre(name), order[name]))
        for i, name in enumerate(layer):
            place[name] = float(i)
    return layers


def dag_svg(nodes: Sequence[Node], edges: Sequence[tuple[str, str]], title: str) -> str:
    """The step graph, left to right: a box per step, an arrow per dependency."""
    width, height, gap_x, gap_y, pad = 210, 62, 70, 18, 16
    by_name = {node.name: node for node in nodes}
    layers = _layers([node.name for node in nodes], edges)
    tallest = max((len(layer) for layer in layers), default=0)
    total_w = pad * 2 + len(layers) * width + max(0, len(layers) - 1) * gap_x
    total_h = pad * 2 + tallest * height + max(0, tallest - 1) * gap_y
    position: dict[str, tuple[float, float]] = {}
    for column, layer in enumerate(layers):
        offset = (tallest - len(layer)) * (height + gap_y) / 2
        for row, name in enumerate(layer):
            position[name] = (
                pad + column * (width + gap_x),
                pad + offset + row * (height + gap_y),
            )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{total_w}" '
        f'height="{total_h}" viewBox="0 0 {total_w} {total_h}" role="img" {_FONT} '
        'font-size="12">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#6b7280"/></marker></defs>',
    ]
    for source, target in edges:
        if source not in position or target not in position:
            continue
        (sx, sy), (tx, ty) = position[source], position[target]
        x1, y1, x2, y2 = sx + width, sy + height / 2, tx - 2, ty + height / 2
        bend = max(30.0, (x2 - x1) / 2)
        out.append(
            f'<path class="edge" d="M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f}, '
            f'{x2 - bend:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}" fill="none" stroke="#9ca3af" '
            'stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for name, (x, y) in position.items():
        node = by_name[name]
        if node.link:
            out.append(f'<a href="{escape(node.link)}">')
        out.append(f'<g class="node" data-step="{escape(name)}">')
        out.append(f"<title>{escape(node.tip or name)}</title>")
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{width}" height="{height}" rx="8" '
            f'fill="#ffffff" stroke="{escape(node.colour)}" stroke-width="2"/>'
        )
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="6" height="{height}" rx="3" '
            f'fill="{escape(node.colour)}"/>'
        )
        out.append(
            f'<text x="{x + 14:.1f}" y="{y + 19:.1f}" font-weight="600" fill="#111827">'
            f"{escape(_clip(name, 26))}</text>"
        )
        out.append(
            f'<text x="{x + 14:.1f}" y="{y + 36:.1f}" fill="#4b5563">'
            f"{escape(_clip(node.detail, 30))}</text>"
        )
        out.append(
            f'<text x="{x + 14:.1f}" y="{y + 52:.1f}" fill="#374151">'
            f"{escape(_clip(node.figures, 30))}</text>"
        )
        if node.status:
            out.append(
                f'<circle cx="{x + width - 12:.1f}" cy="{y + 14:.1f}" r="5" '
                f'fill="{escape(node.status)}"/>'
            )
        out.append("</g>")
        if node.link:
            out.append("</a>")
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Bar:
    """A span of time in a lane: one generation (planned) or one attempt (real)."""

    start: float
    end: float
    label: str
    colour: str
    tip: str
    outlined: bool = False
    failed: bool = False


@dataclass(slots=True)
class Lane:
    """A row of the chart: a model's concurrency slot, or a lane of the run's tasks."""

    label: str
    bars: list[Bar] = field(default_factory=list)


def _tick(span: float) -> float:
    """A round interval giving at most 10 ticks over ``span`` seconds."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400):
        if span / step <= 10:
            return float(step)
    return float(10 ** math.ceil(math.log10(span / 10)))


def lanes_svg(
    lanes: Sequence[Lane],
    *,
    span: float,
    title: str,
    caption: str,
    legend: Mapping[str, str],
    css_class: str,
) -> str:
    """Lanes of bars against a time axis from 0 to ``span`` seconds; ``legend`` maps step
    names to their colours."""
    label_w, chart_w, lane_h, top = 200, 860, 22, 44
    span = span if span > 0 else 1.0
    scale = chart_w / span
    legend_rows = math.ceil(len(legend) / 4)
    bottom = top + max(1, len(lanes)) * lane_h
    height = bottom + 30 + legend_rows * 18 + 8
    full_w = label_w + chart_w + 24

    def x(t: float) -> float:
        return label_w + max(0.0, min(t, span)) * scale

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" '
        f'width="{full_w}" height="{height}" viewBox="0 0 {full_w} {height}" role="img" '
        f'{_FONT} font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="8" y="16" font-size="13" font-weight="600" fill="#111827">'
        f"{escape(title)}</text>",
        f'<text x="8" y="32" fill="#4b5563">{escape(caption)}</text>',
    ]
    tick = _tick(span)
    count = int(span // tick)
    for i in range(count + 1):
        px = x(i * tick)
        out.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{bottom}" stroke="#e5e7eb"/>')
        out.append(
            f'<text x="{px:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#6b7280">'
            f"{escape(format_duration(i * tick))}</text>"
        )
    if not lanes:
        out.append(f'<text x="{label_w + 8}" y="{top + 15}" fill="#6b7280">nothing ran</text>')
    for row, lane in enumerate(lanes):
        y = top + row * lane_h
        if row % 2:
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{chart_w}" height="{lane_h}" fill="#f9fafb"/>'
            )
        out.append(
            f'<text x="{label_w - 8}" y="{y + lane_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#374151">{escape(_clip(lane.label, 32))}</text>'
        )
        for bar in lane.bars:
            left = x(bar.start)
            width = max(x(bar.end) - left, 2.0)
            stroke = ""
            if bar.failed:
                stroke = f' fill-opacity="0.45" stroke="{FAILED}" stroke-width="2"'
            elif bar.outlined:
                stroke = ' stroke="#111827" stroke-width="1.5"'
            out.append(
                f'<rect class="bar" x="{left:.2f}" y="{y + 3}" width="{width:.2f}" '
                f'height="{lane_h - 6}" rx="3" fill="{escape(bar.colour)}"{stroke}>'
                f"<title>{escape(bar.tip)}</title></rect>"
            )
            if width > 6.5 * len(bar.label) + 8:
                out.append(
                    f'<text x="{left + 4:.2f}" y="{y + lane_h / 2 + 4:.1f}" fill="#ffffff">'
                    f"{escape(bar.label)}</text>"
                )
    legend_y = bottom + 36
    for i, (name, colour) in enumerate(legend.items()):
        lx = 8 + (i % 4) * 260
        ly = legend_y + (i // 4) * 18
        out.append(
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" rx="2" fill="{escape(colour)}"/>'
        )
        out.append(f'<text x="{lx + 18}" y="{ly}" fill="#374151">{escape(_clip(name, 36))}</text>')
    out.append("</svg>")
    return "\n".join(out)
