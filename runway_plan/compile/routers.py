"""The spec's model routers, and the generate steps that run on them.

A router (``routers:``) becomes a resource node of the graph (:class:`RouterNode`), its
``name`` rendered like any resource text.  A ``generate/{video,image,audio}`` step names its
router as ``configId: "@key"`` (one of the spec's routers, sent as that router's slug once a
run has put it in place) or as a literal slug: a slug that is one of the spec's routers' is
that router too; any other is a router the spec does not manage.  :func:`take_router_ref`
takes such a reference out of the generation's ``@step`` references (RP315 for a key the spec
has no router of, RP316 for one written with an index); :func:`link_router_uses` adds an edge
from the router to each generation that runs on it.  A generate step's output length is its
``input.duration`` when given, else bounded by the durations its candidate models make
(:func:`routed_length`).
"""

from __future__ import annotations

import difflib
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import EnumType, IntegerType, NumberType
from runway_plan.catalog.routing import ROUTED
from runway_plan.compile.durations import Length
from runway_plan.compile.graph import Graph, Ref, RouterNode
from runway_plan.compile.templating import Renderer, TemplateFailure, is_template
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.source import DataPath
from runway_plan.spec import Spec

__all__ = [
    "CONFIG_ID",
    "compile_routers",
    "link_router_uses",
    "routed_length",
    "router_settings",
    "take_router_ref",
]

CONFIG_ID: DataPath = ("configId",)
"""Where a generate request names its router."""

_RENDERER = Renderer(max_cached=64)


def compile_routers(graph: Graph, spec: Spec) -> None:
    """A node on ``graph`` for each router of ``spec`` (before the steps: their lengths and
    prices read the routers' settings)."""
    for key, router in spec.routers.items():
        at: DataPath = ("routers", key)
        request = router.model_dump(exclude_none=True)
        problems: list[str] = []
        name = request.get("name")
        if isinstance(name, str) and is_template(name):
            span = graph.document.source_map.value((*at, "name"))
            value = _RENDERER.render(name, graph.variables, span) if graph.variables_known else name
            if isinstance(value, TemplateFailure):
                graph.diagnostics.append(value.diagnostic)
                problems.append(value.diagnostic.message)
            else:
                request["name"] = str(value)
        graph.routers[key] = RouterNode(
            key, graph.document.source_map.key(at), router.slug, request, tuple(problems)
        )


def take_router_ref(
    graph: Graph,
    endpoint: str,
    request: dict[str, Any],
    refs: list[tuple[DataPath, Ref]],
    reported: set[str],
) -> tuple[list[tuple[DataPath, Ref]], str | None]:
    """The generation's ``@step`` references without its ``configId``, and the key of the
    spec router it runs on (None: a router the spec does not manage, or a reference that
    does not resolve, reported once per place in ``reported``)."""
    if endpoint not in ROUTED:
        return refs, None
    found = [ref for path, ref in refs if tuple(path) == CONFIG_ID]
    rest = [(p, r) for p, r in refs if tuple(p) != CONFIG_ID]
    if not found:
        slug = request.get("configId")
        by_slug = [k for k, node in graph.routers.items() if node.slug == slug]
        return rest, by_slug[0] if by_slug else None
    ref = found[0]
    if ref.index is None and ref.step in graph.routers:
        return rest, ref.step
    problem = _unresolved(graph, ref)
    if problem is not None and ref.text not in reported:
        reported.add(ref.text)
        graph.diagnostics.append(problem)
    return rest, None


def _unresolved(graph: Graph, ref: Ref) -> Diagnostic | None:
    if ref.index is not None:
        return make(
            "RP316",
            f"'{ref.text}' names a router with an index; a router is one resource",
            ref.span,
            hint=f"write '@{ref.step}'",
        )
    if graph.declares("routers", ref.step):
        return None  # its structure is broken: already reported
    close = difflib.get_close_matches(ref.step, list(graph.routers), n=1, cutoff=0.6)
    if close:
        hint = f"did you mean '@{close[0]}'?"
    elif ref.step in graph.steps or graph.declares("steps", ref.step):
        hint = f"'{ref.step}' is a step; configId takes one of the spec's routers or a slug"
    elif graph.routers:
        hint = f"the spec's routers: {', '.join(sorted(graph.routers))}"
    else:
        hint = "declare it under routers:, or give the slug of a router as configId"
    return make("RP315", f"unknown router '{ref.step}'", ref.span, hint=hint)


def link_router_uses(graph: Graph) -> None:
    """An edge from each spec router to every generation that runs on it."""
    for generation in graph.generations.values():
        if generation.router is not None:
            graph.router_edges[(generation.router, generation.key)] = None


def router_settings(graph: Graph, key: str | None) -> dict[str, Any]:
    """The settings of the spec router ``key`` ({} for None: any model may be picked)."""
    node = graph.routers.get(key) if key is not None else None
    return node.settings if node is not None else {}


def routed_length(
    catalog: Catalog, endpoint: str, request: dict[str, Any], settings: dict[str, Any]
) -> Length | None:
    """A generate step's output length: its ``input.duration``, else the range of the durations
    its candidate models make when the input omits one (None for images)."""
    if ROUTED.get(endpoint) == "image":
        return None
    data = request.get("input")
    duration = data.get("duration") if isinstance(data, dict) else None
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return Length.of(float(duration), "input.duration")
    routing = catalog.route(endpoint, request, settings)
    lows: list[float] = []
    highs: list[float] = []
    for candidate in routing.candidates:
        overlay = catalog.model_overlay(candidate.model)
        if overlay.default_duration is not None:
            lows.append(float(overlay.default_duration))
            highs.append(float(overlay.default_duration))
            continue
        spec = catalog.model(candidate.endpoint, candidate.model)
        field = spec.fields.get("duration") if spec else None
        bounds = overlay.duration_range
        if bounds is None and field is not None:
            bounds = _bounds(field.type)
        if bounds is None:
            return None
        lows.append(bounds[0])
        highs.append(bounds[1])
    if not highs:
        return None
    return Length(
        min(lows),
        max(highs),
        f"input.duration omitted: the router's candidates make {min(lows):g}-{max(highs):g} s",
    )


def _bounds(node: Any) -> tuple[float, float] | None:
    if isinstance(node, EnumType):
        numbers = [float(v) for v in node.values if isinstance(v, int | float)]
        return (min(numbers), max(numbers)) if numbers else None
    if isinstance(node, IntegerType | NumberType) and node.maximum is not None:
        return float(node.minimum or 0), float(node.maximum)
    return None
