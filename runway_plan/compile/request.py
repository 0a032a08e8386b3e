"""Compile one bare API request (no spec file, no references) into a graph of one generation."""

from __future__ import annotations

from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.compile.durations import local_length, output_length
from runway_plan.compile.graph import Generation, Graph
from runway_plan.diagnostics import Span
from runway_plan.files import Root
from runway_plan.source import Document, SourceMap

__all__ = ["compile_request"]


def compile_request(
    catalog: Catalog, endpoint: str, request: dict[str, Any], root: Root | None = None
) -> Graph:
    """A graph of one generation for a bare API request (no spec file, no references).

    Local file paths in ``request`` (absolute) are measured for the output duration, anywhere
    unless ``root`` confines them.  Used to check and price requests that arrive at the
    emulator, and requests a run state recorded (``prices learn``, confined to the state).
    """
    model = catalog.request_model(endpoint, request)
    document = Document(data=None, source_map=SourceMap("request"), text="", diagnostics=[])
    graph = Graph(spec=None, document=document, catalog=catalog, root=root or Root.anywhere())
    generation = Generation(
        key="request",
        step="request",
        index=None,
        endpoint=endpoint,
        model=model,
        request=request,
        refs=[],
        output_count=1,
        span=Span("request", 0, 0, 0, 0),
    )
    generation.length = output_length(
        catalog,
        endpoint,
        model,
        request,
        lambda _path, value: local_length(value, graph.root, catalog),
    )
    graph.generations["request"] = generation
    return graph
