"""The compiled artifact: generations (one API task each), their references, and the DAG."""

from __future__ import annotations

import heapq
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from graphlib import CycleError
from typing import TYPE_CHECKING, Any

from runway_plan.catalog import Catalog
from runway_plan.compile.durations import Length
from runway_plan.diagnostics import Diagnostic, Span
from runway_plan.files import Root
from runway_plan.limits import WorkLimits
from runway_plan.source import DataPath, Document
from runway_plan.spec import Spec, Step

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "REFERENCE",
    "AvatarNode",
    "DocumentNode",
    "Generation",
    "Graph",
    "Ref",
    "RouterNode",
    "StepNode",
    "TemplateFailed",
    "VoiceNode",
    "join_key",
]

REFERENCE = re.compile(r"^@(?P<step>[A-Za-z_][A-Za-z0-9_-]*)(?:\[(?P<index>-?[0-9]{1,18})\])?\Z")
"""A reference to another step's output: ``@step`` or ``@step[i]`` (nothing after it, not even
a newline)."""


def join_key(step: str) -> str:
    """The key of the join that waits for every generation of ``step`` (see
    :meth:`Graph.dependencies`); no generation key has this form."""
    return f"{step}[*]"


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
    declared_media: tuple[str, ...] | None = None
    """A workflow step's declared outputs' media, one per output (None on other endpoints:
    the catalog says what they make)."""
    avatar: Ref | None = None
    """The spec avatar an avatar video names (``avatar: "@support"``), taken out of ``refs``
    (:mod:`.resource_refs`); its ``step`` is the avatar's key."""
    router: str | None = None
    """The key of the spec router a generate step runs on (``configId: "@name"``, or the
    router's own slug), once resolved (:mod:`.routers`)."""

    @property
    def duration(self) -> float | None:
        """The output's length in seconds, when it is known exactly before it runs."""
        return self.length.low if self.length is not None and self.length.exact else None

    @property
    def duration_reason(self) -> str:
        """Why :attr:`duration` is known ("" when it is not)."""
        return self.length.reason if self.length is not None and self.length.exact else ""


@dataclass(slots=True)
class StepNode:
    """A step of the spec and the generations it expands to."""

    name: str
    step: Step
    span: Span
    generations: list[str] = field(default_factory=list)
    outputs: list[tuple[str, int]] = field(default_factory=list)
    """Flat list of (generation key, output index within it), the targets of ``@step[i]``."""


@dataclass(frozen=True, slots=True)
class DocumentNode:
    """A knowledge document of the spec, its texts rendered.

    ``name`` and ``content`` are rendered with the spec's variables (a template that failed is
    kept as written, and its diagnostic is on the graph); ``file`` is a local file to read
    instead of ``content``.  ``problems`` are the messages of the templates that failed.
    """

    key: str
    span: Span
    name: str
    content: str | None
    file: str | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AvatarNode:
    """A real-time avatar of the spec, its texts rendered and its references resolved.

    ``request`` is the avatar's API body as the spec writes it (``documents`` left out), with
    ``name``, ``personality`` and ``startScript`` rendered; ``documents`` the keys of the
    documents it attaches, in order (an edge to each).  ``image`` is its ``referenceImage``
    when that is an ``@step`` reference, and ``producer`` the (generation key, output index)
    it names, when it names exactly one (an edge from that generation).
    """

    key: str
    span: Span
    name: str
    request: dict[str, Any]
    documents: tuple[str, ...] = ()
    image: Ref | None = None
    producer: tuple[str, int] | None = None
    problems: tuple[str, ...] = ()
    voice: str | None = None
    """The key of the spec's voice its ``voice`` names (``"@narrator"``; an edge from it)."""

    @property
    def reference_image(self) -> str:
        """The ``referenceImage`` as written in the spec."""
        return str(self.request["referenceImage"])


@dataclass(frozen=True, slots=True)
class RouterNode:
    """A model router config of the spec: its API body (``slug``, ``name``, ``description``,
    ``settings``) as the spec writes it, ``name`` rendered."""

    key: str
    span: Span
    slug: str
    request: dict[str, Any]
    problems: tuple[str, ...] = ()

    @property
    def settings(self) -> dict[str, Any]:
        """The router's ``settings`` ({} when the spec gives none)."""
        value = self.request.get("settings")
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class VoiceNode:
    """A custom voice of the spec, its texts rendered and its sample resolved.

    ``request`` is the voice's API body as the spec writes it (``name``, ``description``,
    ``from``), with ``name``, ``description`` and a designed voice's ``prompt`` rendered.
    ``audio`` is the sample of a cloned voice when it is an ``@step`` reference, and
    ``producer`` the (generation key, output index) it names, when it names exactly one (an
    edge from that generation).
    """

    key: str
    span: Span
    name: str
    request: dict[str, Any]
    audio: Ref | None = None
    producer: tuple[str, int] | None = None
    problems: tuple[str, ...] = ()

    @property
    def source(self) -> dict[str, Any]:
        """The ``from`` of the request (an empty mapping when it is not one)."""
        value = self.request.get("from")
        return value if isinstance(value, dict) else {}

    @property
    def sample(self) -> str | None:
        """The audio sample as written, for a voice cloned from one."""
        audio = self.source.get("audio") if self.source.get("type") == "audio" else None
        return audio if isinstance(audio, str) else None


@dataclass
class Graph:
    """A compiled spec: steps, generations, and a DAG of generations along references."""

    spec: Spec | None
    document: Document
    catalog: Catalog
    steps: dict[str, StepNode] = field(default_factory=dict)
    generations: dict[str, Generation] = field(default_factory=dict)
    edges: dict[tuple[str, str], None] = field(default_factory=dict)
    """References between generations (producer, consumer), without repeats, in order."""
    needs: dict[str, list[str]] = field(default_factory=dict)
    """For each step with ``needs``, the steps it waits for: every generation of the step
    waits for every generation of each, a relation kept between steps (two fan-outs of 20,000
    would make 400 million pairs of generations)."""
    documents: dict[str, DocumentNode] = field(default_factory=dict)
    """The spec's knowledge documents, by key (resource nodes)."""
    avatars: dict[str, AvatarNode] = field(default_factory=dict)
    """The spec's avatars, by key (resource nodes; their edges are their documents and the
    generation their image comes from)."""
    voice_uses: dict[str, list[tuple[DataPath, str]]] = field(default_factory=dict)
    """For each generation whose request names one of the spec's voices (``"@narrator"`` where
    the API takes a custom voice), the (data path, voice key) of each: an edge from the voice,
    the value sent being ``{type: custom, id}`` with the voice's id.  The reference stays in
    the generation's ``refs`` for the validator, which checks the field takes a custom voice."""
    voices: dict[str, VoiceNode] = field(default_factory=dict)
    """The spec's custom voices, by key (resource nodes; their edge is the generation their
    audio sample comes from, and each avatar that names one has an edge from it)."""
    avatar_edges: dict[tuple[str, str], None] = field(default_factory=dict)
    """(avatar key, generation key): an avatar video that waits for one of the spec's avatars
    (the generation its image comes from is then among the video's :attr:`edges` too)."""
    routers: dict[str, RouterNode] = field(default_factory=dict)
    """The spec's model routers, by key (resource nodes; generate steps wait for theirs)."""
    router_edges: dict[tuple[str, str], None] = field(default_factory=dict)
    """(router key, generation key): a generate step that runs on one of the spec's routers."""
    limits: WorkLimits = field(default_factory=WorkLimits)
    """The work limits the spec was compiled (and is checked) under."""
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

    def produced_media(self, ref: Ref) -> str | None:
        """The media of the output ``ref`` names (None when it names none): a workflow's as
        its step declares it, any other generation's as the catalog says."""
        producer = self.producer(ref)
        if producer is None:
            return None
        if producer.declared_media is not None:
            node = self.steps[ref.step]
            at = node.outputs[ref.index or 0][1]
            return producer.declared_media[at] if at < len(producer.declared_media) else None
        if producer.endpoint not in self.catalog.endpoints:
            return None
        return self.catalog.output_media(producer.endpoint, producer.model)

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

    def dependencies(
        self, keys: Collection[str] | None = None
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Every dependency as a DAG of generation keys and *joins*, in O(generations +
        references + steps): the joins (one per step another step ``needs``, keyed by
        :func:`join_key`) and the edges.  A join waits for every generation of its step, and
        every generation of a step that needs it waits for the join.

        With ``keys``, edges to or from other generations are left out (those count as done).
        """
        joins: dict[str, None] = {}
        edges = [(a, b) for a, b in self.edges if keys is None or (a in keys and b in keys)]
        for step, needed in self.needs.items():
            waiting = [k for k in self.steps[step].generations if keys is None or k in keys]
            for name in needed:
                join = join_key(name)
                if join not in joins:
                    joins[join] = None
                    edges.extend(
                        (k, join) for k in self.steps[name].generations if keys is None or k in keys
                    )
                edges.extend((join, k) for k in waiting)
        return list(joins), edges

    @cached_property
    def dag(self) -> nx.DiGraph[str]:
        """The generations and every pair (producer, consumer) that must run in that order, as
        a networkx DiGraph, built on first use for analysis (tests, benchmarks, a caller's
        own); networkx is not a dependency of runway-plan: install it to use this.

        ``needs`` are expanded into pairs here, which is quadratic between two fan-outs; the
        stages never build it (they use :meth:`dependencies`).
        """
        try:
            import networkx as nx
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "Graph.dag builds a networkx graph: install networkx (`pip install networkx`, "
                "or runway-plan[test]) to use it",
                name="networkx",
            ) from exc

        dag: nx.DiGraph[str] = nx.DiGraph()
        dag.add_nodes_from(self.generations)
        dag.add_edges_from(self.edges)
        for step, needed in self.needs.items():
            for name in needed:
                for before in self.steps[name].generations:
                    dag.add_edges_from((before, after) for after in self.steps[step].generations)
        return dag

    def order(self) -> list[Generation]:
        """Generations in a dependency order (``needs`` included), independent ones in spec
        order; raises ``graphlib.CycleError`` on a cycle."""
        return [self.generations[key] for key in self.order_keys()]

    def order_keys(self) -> list[str]:
        """The keys of :meth:`order`: Kahn's order over :meth:`dependencies`, the ready
        generation that comes first in the spec taken first, a join passed as soon as it is
        ready (the order ``graphlib.TopologicalSorter`` gives through ``get_ready`` and
        ``done``, without its cycle search: a cycle leaves nodes unordered)."""
        joins, edges = self.dependencies()
        position = {key: i for i, key in enumerate(self.generations)}
        successors: dict[str, list[str]] = {key: [] for key in self.generations}
        successors.update((key, []) for key in joins)
        waiting = dict.fromkeys(successors, 0)
        for producer, consumer in edges:
            if consumer not in waiting:
                successors[consumer], waiting[consumer] = [], 0
            if producer not in waiting:
                successors[producer], waiting[producer] = [], 0
            successors[producer].append(consumer)
            waiting[consumer] += 1
        became_ready = [key for key, count in waiting.items() if count == 0]
        ready: list[tuple[int, str]] = []
        passed: list[str] = []
        order: list[str] = []
        finished = 0

        def take() -> None:
            for key in became_ready:
                if key in position:
                    heapq.heappush(ready, (position[key], key))
                else:
                    passed.append(key)
            became_ready.clear()

        def done(key: str) -> None:
            for successor in successors[key]:
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    became_ready.append(successor)

        take()
        while passed or ready:
            if passed:
                done(passed.pop())
            else:
                _, key = heapq.heappop(ready)
                order.append(key)
                done(key)
            finished += 1
            take()
        if finished < len(waiting):
            raise CycleError("the generations depend on each other in a cycle")
        return order
