"""The step graph in Graphviz DOT."""

from __future__ import annotations

from runway_plan.diagnostics.display import display, display_lines
from runway_plan.plan.model import Plan
from runway_plan.plan.report.figures import node_label

__all__ = ["render_dot"]


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
        label = "\\n".join(_dot_text(part) for part in node_label(step))
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
