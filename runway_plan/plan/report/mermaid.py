"""The step graph as a Mermaid flowchart."""

from __future__ import annotations

from runway_plan.diagnostics.display import display, display_lines
from runway_plan.plan.model import Plan
from runway_plan.plan.report.figures import node_label

__all__ = ["render_mermaid"]


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
        name, model, cost = (_mermaid_text(part) for part in node_label(step))
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
