"""The compiler's topological orders without graphlib's cycle search give graphlib's orders."""

from __future__ import annotations

import heapq
from graphlib import CycleError, TopologicalSorter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runway_plan.catalog import load_catalog
from runway_plan.compile.graph import Graph
from runway_plan.compile.ordering import _acyclic
from runway_plan.source import parse_document

_EDGES = st.lists(
    st.tuples(st.integers(min_value=0, max_value=9), st.integers(min_value=0, max_value=9)),
    max_size=25,
)


def _graphlib_order(
    generations: list[str], joins: list[str], edges: list[tuple[str, str]]
) -> list[str]:
    """The order as it was computed with ``graphlib.TopologicalSorter``."""
    position = {key: i for i, key in enumerate(generations)}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for key in [*generations, *joins]:
        sorter.add(key)
    for producer, consumer in edges:
        sorter.add(consumer, producer)
    sorter.prepare()
    ready: list[tuple[int, str]] = []
    passed: list[str] = []
    order: list[str] = []

    def take(keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in position:
                heapq.heappush(ready, (position[key], key))
            else:
                passed.append(key)

    take(sorter.get_ready())
    while passed or ready:
        if passed:
            sorter.done(passed.pop())
        else:
            _, key = heapq.heappop(ready)
            order.append(key)
            sorter.done(key)
        take(sorter.get_ready())
    return order


def _graph(generations: list[str], joins: list[str], edges: list[tuple[str, str]]) -> Any:
    document = parse_document("version: 1\n", "spec.yaml")
    graph = Graph(spec=None, document=document, catalog=load_catalog())
    graph.generations = dict.fromkeys(generations)  # type: ignore[assignment]  # keys only
    graph.dependencies = lambda keys=None: (joins, edges)  # type: ignore[method-assign]
    return graph


@settings(max_examples=300, deadline=None)
@given(edges=_EDGES, joins=st.sets(st.integers(min_value=6, max_value=9)))
def test_order_keys_is_graphlibs_order(edges: list[tuple[int, int]], joins: set[int]) -> None:
    generations = [f"g{i}" for i in range(10) if i not in joins]
    join_keys = [f"g{i}" for i in sorted(joins)]
    pairs = [(f"g{a}", f"g{b}") for a, b in edges]
    graph = _graph(generations, join_keys, pairs)
    try:
        expected = _graphlib_order(generations, join_keys, pairs)
    except CycleError:
        with pytest.raises(CycleError):
            graph.order_keys()
        assert not _acyclic(pairs)
    else:
        assert graph.order_keys() == expected
        assert _acyclic(pairs)
