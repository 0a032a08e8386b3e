"""Where a run's diagnostics point: a step of the spec, or a field of its request."""

from __future__ import annotations

from typing import Any

from runway_plan.compile import Graph
from runway_plan.diagnostics import Span

__all__ = ["step_span"]


def step_span(graph: Graph, step: str, path: tuple[Any, ...] = ()) -> Span | None:
    """The spec's span of ``step`` (its key), or of the field at ``path`` in it."""
    source = graph.document.source_map
    if path:
        return source.value(("steps", step, *path))
    return source.key(("steps", step))
