"""The compiled artifact: generations (one API task each), their references, and the DAG."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

from runway_plan.catalog import Catalog
from runway_plan.compile.durations import Length
from runway_plan.diagnostics import Diagnostic, Span
from runway_plan.files import Root
from runway_plan.source import DataPath, Document
from runway_plan.spec import Spec, Step

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["REFERENCE", "Generation", "Graph", "Ref", "StepNode", "TemplateFailed"]

REFERENCE = re.compile(r"^@(?P<step>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<index>-?\d+)\])?$")
"""A reference to another step's output: ``@step`` or ``@step[i]``."""


class TemplateFailed:
    """Stands in a request for a value whose template failed (already reported); never checked."""

    def __repr__(self) -> str:
        return "<template failed>"


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to the ``index``-th output of ``step`` (None: its only output)."""

    step: str
    index: int | None
    span: Span
    text: str


@dataclass(slots=True)
class Generation:
    """One API task: a step, or one item of a fan-out step."""

    key: str
    step: str
    index: int | None
    endpoint: str
    model: str
    request: dict[str, Any]
    refs: list[tuple[DataPath, Ref]]
    output_count: int
    span: Span
    length: Length | None = None
    """Bounds on the output's length in seconds, when they are known before it runs."""

    @property
    def duration(self) -> float | None:
        """The output's length in seconds, when it is known exactly before it runs."""
        return self.length.low if self.length is not None and self.length.exact else None

    @property
    def duration_reason(self) -> str:
        """Why :attr:`duration` is known ("" when it is not)."""
        return self.length.reason if self.length is not None and self.length.exact else ""

    @property
    def source_path(self) -> DataPath:
        """Where this generation's request sits in the spec data."""
        return ("steps", self.step)


@dataclass(slots=True)
class StepNode:
    """A step of the spec and the generations it expands to."""

    name: str
    step: Step
    span: Span
    generations: list[str] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)
    """Flat list of (generation key, output index within it), the targets of ``@step[i]``."""


@dataclass
class Graph:
    """A compiled spec: steps, generations, and a DAG of generations along references."""

    spec: Spec | None
    document: Document
    catalog: Catalog
    steps: dict[str, StepNode] = field(default_factory=dict)
    generations: dict[str, Generation] = field(default_factory=dict)
    edges: dict[tuple[str, str], None] = field(default_factory=dict)
    """Dependencies between generations (producer, consumer), without repeats, in order."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    variables_known: bool = True
    """False when the spec's ``vars`` are malformed (reported): templates are then checked,
    not rendered."""
    unexpanded: dict[str, Generation] = field(default_factory=dict)
    """Steps whose fan-out failed (reported), by name: one stand-in each, its templated fields
    left out, so that its other fields are still checked.  Not part of the DAG."""
    root: Root = None  # type: ignore[assignment]  # set from the document when not given
    """Where the spec may read local files (its repository or folder, and folders opted in):
    every local path it names is opened through it."""

    def __post_init__(self) -> None:
        if self.root is None:
            self.root = Root.of_spec(self.document.source_map.path)

    def declares(self, section: str, name: str) -> bool:
        """Whether the spec file has an entry ``name`` in ``section`` (``steps``, ...), even one
        left out of :attr:`spec` because its structure is broken."""
        data = self.document.data
        entries = data.get(section) if isinstance(data, dict) else None
        return isinstance(entries, dict) and name in entries

    def producer(self, ref: Ref) -> Generation | None:
        """The generation whose output ``ref`` names, when the reference resolves."""
        node = self.steps.get(ref.step)
        if node is None:
            return None
        if ref.index is None:
            return self.generations[node.outputs[0][0]] if len(node.outputs) == 1 else None
        if 0 <= ref.index < len(node.outputs):
            return self.generations[node.outputs[ref.index][0]]
        return None

    @cached_property
    def dag(self) -> nx.DiGraph[str]:
        """The generations and their dependencies as a networkx DiGraph (built on first use)."""
        import networkx as nx

        dag: nx.DiGraph[str] = nx.DiGraph()
        dag.add_nodes_from(self.generations)
        dag.add_edges_from(self.edges)
        return dag

    def order(self) -> list[Generation]:
        """Generations in a dependency order; raises ``graphlib.CycleError`` on a cycle."""
        sorter: TopologicalSorter[str] = TopologicalSorter({key: () for key in self.generations})
        for producer, consumer in self.edges:
            sorter.add(consumer, producer)
        return [self.generations[key] for key in sorter.static_order()]
