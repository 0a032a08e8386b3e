"""The linked graph in order: cycles among steps reported, and each generation's output length
inferred from its inputs', producers first."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter
from typing import Any

from runway_plan.catalog.routing import ROUTED
from runway_plan.compile.durations import Length, local_length, output_length
from runway_plan.compile.graph import Generation, Graph, Ref
from runway_plan.compile.routers import routed_length, router_settings
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.source import DataPath


def report_cycles(
    step_edges: dict[tuple[str, str], Any], diagnostics: list[Diagnostic]
) -> set[tuple[str, str]]:
    """Report (RP301) each edge of every cycle among steps at its reference, its span the value
    of ``step_edges``; those edges."""
    remaining = dict(step_edges)
    if _acyclic(remaining):
        return set()
    while True:
        sorter: TopologicalSorter[str] = TopologicalSorter()
        for source, target in remaining:
            sorter.add(target, source)
        try:
            sorter.prepare()
            return set(step_edges) - set(remaining)
        except CycleError as exc:
            cycle: list[str] = list(exc.args[1])
            if (cycle[0], cycle[1]) not in step_edges:
                cycle.reverse()
            ring = _rotate(cycle[:-1])
            names = " -> ".join([*ring, ring[0]])
            for source, target in itertools.pairwise(cycle):
                diagnostics.append(
                    make(
                        "RP301",
                        f"step '{target}' depends on '{source}', which is part of a cycle: {names}",
                        step_edges[(source, target)],
                    )
                )
                remaining.pop((source, target), None)


def infer_durations(graph: Graph, cyclic: set[tuple[str, str]]) -> None:
    """Each generation's output length, from its inputs' (unknown along a ``cyclic`` edge)."""
    catalog = graph.catalog
    for generation in data_order(graph, cyclic):
        refs = dict(generation.refs)

        def input_length(
            path: DataPath,
            value: Any,
            refs: dict[DataPath, Ref] = refs,
            step: str = generation.step,
        ) -> Length | None:
            ref = refs.get(path)
            if ref is not None:
                producer = graph.producer(ref)
                if producer is None or (ref.step, step) in cyclic:
                    return None
                return producer.length
            return local_length(value, graph.root, catalog)

        if generation.endpoint in ROUTED:
            settings = router_settings(graph, generation.router)
            generation.length = routed_length(
                catalog, generation.endpoint, generation.request, settings
            )
            continue
        generation.length = output_length(
            catalog, generation.endpoint, generation.model, generation.request, input_length
        )


def data_order(graph: Graph, cyclic: set[tuple[str, str]]) -> list[Generation]:
    """The generations in an order where every reference comes before its use (the edges
    of cycles among steps left out; ``needs`` carry no data, so they do not count)."""
    if not cyclic:
        return graph.order()
    generations = graph.generations
    sorter: TopologicalSorter[str] = TopologicalSorter({key: () for key in generations})
    for producer, consumer in graph.edges:
        if (generations[producer].step, generations[consumer].step) not in cyclic:
            sorter.add(consumer, producer)
    return [generations[key] for key in sorter.static_order()]


def _acyclic(edges: Iterable[tuple[str, str]]) -> bool:
    """Whether the graph of ``edges`` has no cycle (Kahn's algorithm: cheaper than
    ``graphlib``'s cycle search, which is left to find the cycles when there are some)."""
    successors: dict[str, list[str]] = {}
    waiting: dict[str, int] = {}
    for source, target in edges:
        successors.setdefault(source, []).append(target)
        successors.setdefault(target, [])
        waiting[target] = waiting.get(target, 0) + 1
    ready = [node for node in successors if node not in waiting]
    finished = 0
    while ready:
        node = ready.pop()
        finished += 1
        for target in successors[node]:
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return finished == len(successors)


def _rotate(cycle: list[str]) -> list[str]:
    """The cycle starting at its alphabetically first step, so reports are deterministic."""
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]
