"""Compile a parsed spec: render templates, expand fan-outs, resolve references, build the DAG.

The compiler never raises for bad input: every problem becomes a diagnostic on the graph, and
compilation goes on so that one run reports everything it can.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from runway_plan.catalog import Catalog
from runway_plan.compile.graph import REFERENCE, Generation, Graph, Ref, StepNode, TemplateFailed
from runway_plan.compile.templating import Renderer, TemplateFailure, is_template
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.media import probe
from runway_plan.source import DataPath, Document, SourceMap
from runway_plan.spec import Spec, Step, parse_spec

__all__ = ["Generation", "Graph", "Ref", "StepNode", "compile_spec", "local_asset_path"]

_DURATION_INPUTS: tuple[DataPath, ...] = (
    ("reference", "uri"),
    ("videoUri",),
    ("promptVideo",),
    ("audioUri",),
    ("media", "uri"),
)
"""Where an endpoint that keeps its input's length finds that input, in order of preference."""

_PASSTHROUGH_ENDPOINTS = frozenset(
    {
        "character_performance",
        "video_to_video",
        "voice_dubbing",
        "voice_isolation",
        "speech_to_speech",
        "video_upscale",
        "video_to_hdr",
    }
)


def local_asset_path(value: str, spec_path: str) -> Path | None:
    """The local file an asset string names (relative to the spec), or None for URIs."""
    if "://" in value or value.startswith(("data:", "@")) or not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(spec_path).parent / path


_FAILED = TemplateFailed()


class _Compiler:
    def __init__(self, spec: Spec, document: Document, catalog: Catalog, variables: dict[str, Any]):
        self.spec = spec
        self.map: SourceMap = document.source_map
        self.graph = Graph(spec=spec, document=document, catalog=catalog, variables=variables)
        self.renderer = Renderer()
        self.variables = variables
        self.expanding: list[str] = []
        self.diagnostics: list[Diagnostic] = self.graph.diagnostics

    def run(self) -> Graph:
        for name in self.spec.steps:
            self.expand(name)
        self.link()
        if nx.is_directed_acyclic_graph(self.graph.dag):
            self.infer_durations()
        return self.graph

    def render(self, value: Any, context: Mapping[str, Any], at: DataPath) -> Any:
        if isinstance(value, str):
            if not is_template(value):
                return value
            result = self.renderer.render(value, context, self.map.value(at))
            if isinstance(result, TemplateFailure):
                self.diagnostics.append(result.diagnostic)
                return _FAILED
            return result
        if isinstance(value, dict):
            return {key: self.render(item, context, (*at, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.render(item, context, (*at, index)) for index, item in enumerate(value)]
        return value

    def expand(self, name: str) -> StepNode | None:
        node = self.graph.steps.get(name)
        if node is not None:
            return node
        if name in self.expanding:
            cycle = [*self.expanding[self.expanding.index(name) :], name]
            self.diagnostics.append(
                make(
                    "RP301",
                    f"for_each cycle: {' -> '.join(cycle)}",
                    self.map.value(("steps", self.expanding[-1], "for_each")),
                )
            )
            return None
        step = self.spec.steps[name]
        self.expanding.append(name)
        try:
            items = self.items(name, step)
        finally:
            self.expanding.pop()
        node = StepNode(name=name, step=step, span=self.map.key(("steps", name)))
        self.graph.steps[name] = node
        fields = step.request_fields()
        has_templates = _contains_template(fields)
        base = self.render(fields, self.variables, ("steps", name)) if not has_templates else None
        for index, item in items:
            key = name if index is None else f"{name}[{index}]"
            if has_templates:
                context = {**self.variables, "item": item, "index": index}
                request = self.render(fields, context, ("steps", name))
            else:
                request = base
            self.add_generation(node, key, index, request)
        return node

    def items(self, name: str, step: Step) -> list[tuple[int | None, Any]]:
        for_each = step.for_each
        at: DataPath = ("steps", name, "for_each")
        if for_each is None:
            return [(None, None)]
        if isinstance(for_each, str):
            match = REFERENCE.match(for_each)
            if match and match["index"] is None:
                target = match["step"]
                if target not in self.spec.steps:
                    self.unknown_step(target, self.map.value(at))
                    return []
                upstream = self.expand(target)
                count = len(upstream.outputs) if upstream else 0
                return [(i, f"@{target}[{i}]") for i in range(count)]
            value = self.render(for_each, self.variables, at)
        else:
            value = self.render(for_each, self.variables, at)
        if value is _FAILED:
            return []
        if not isinstance(value, list) or not value:
            self.diagnostics.append(
                make(
                    "RP114",
                    f"for_each gave {_describe(value)}, not a non-empty list",
                    self.map.value(at),
                    hint="write a YAML list, a template such as \"{{ shots }}\", or '@step'",
                )
            )
            return []
        return list(enumerate(value))

    def add_generation(self, node: StepNode, key: str, index: int | None, request: Any) -> None:
        if not isinstance(request, dict):
            return
        model = request.get("model")
        count = request.get("outputCount", 1)
        count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1
        refs: list[tuple[DataPath, Ref]] = []
        _collect_refs(request, (), refs, self.map, ("steps", node.name))
        generation = Generation(
            key=key,
            step=node.name,
            index=index,
            endpoint=node.step.endpoint,
            model=model if isinstance(model, str) else "",
            request=request,
            refs=refs,
            output_count=count,
            span=node.span,
        )
        self.graph.generations[key] = generation
        self.graph.dag.add_node(key)
        node.generations.append(key)
        node.outputs.extend((key, i) for i in range(count))

    def unknown_step(self, name: str, span: Any) -> None:
        close = difflib.get_close_matches(name, list(self.spec.steps), n=1, cutoff=0.6)
        self.diagnostics.append(
            make(
                "RP300",
                f"unknown step '{name}'",
                span,
                hint=f"did you mean '@{close[0]}'?" if close else None,
            )
        )

    def link(self) -> None:
        step_edges: dict[tuple[str, str], Any] = {}
        for generation in self.graph.generations.values():
            for _path, ref in generation.refs:
                target = self.graph.steps.get(ref.step)
                if ref.step not in self.spec.steps:
                    self.unknown_step(ref.step, ref.span)
                    continue
                if target is None:
                    continue
                step_edges.setdefault((ref.step, generation.step), ref.span)
                producer = self.check_index(ref, target)
                if producer is not None:
                    self.graph.dag.add_edge(producer, generation.key)
        for name, step in self.spec.steps.items():
            for position, needed in enumerate(step.needs):
                span = self.map.value(("steps", name, "needs", position))
                if needed not in self.spec.steps:
                    self.unknown_step(needed, span)
                    continue
                step_edges.setdefault((needed, name), span)
                for source in self.graph.steps[needed].generations:
                    for target in self.graph.steps[name].generations:
                        self.graph.dag.add_edge(source, target)
        self.report_cycles(step_edges)

    def check_index(self, ref: Ref, target: StepNode) -> str | None:
        count = len(target.outputs)
        if ref.index is None:
            if count == 1:
                return target.outputs[0][0]
            if count > 1:
                self.diagnostics.append(
                    make(
                        "RP302",
                        f"step '{ref.step}' has {count} outputs; reference one of them",
                        ref.span,
                        hint=f"write '@{ref.step}[0]' … '@{ref.step}[{count - 1}]', or fan out "
                        f"with for_each: '@{ref.step}'",
                    )
                )
            return None
        if 0 <= ref.index < count:
            return target.outputs[ref.index][0]
        self.diagnostics.append(
            make(
                "RP302",
                f"'{ref.text}' is out of range: step '{ref.step}' has {count} "
                f"output{'s' if count != 1 else ''}",
                ref.span,
                hint=f"valid indexes are 0 to {count - 1}" if count else None,
            )
        )
        return None

    def report_cycles(self, step_edges: dict[tuple[str, str], Any]) -> None:
        steps = nx.DiGraph()
        steps.add_edges_from(step_edges)
        for component in nx.strongly_connected_components(steps):
            members = sorted(component)
            if len(members) == 1 and not steps.has_edge(members[0], members[0]):
                continue
            cycle = nx.find_cycle(steps.subgraph(members), source=members[0])
            names = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
            for source, target in cycle:
                self.diagnostics.append(
                    make(
                        "RP301",
                        f"step '{target}' depends on '{source}', which is part of a cycle: {names}",
                        step_edges[(source, target)],
                    )
                )

    def infer_durations(self) -> None:
        catalog = self.graph.catalog
        for generation in self.graph.order():
            duration = generation.request.get("duration")
            if isinstance(duration, int | float) and not isinstance(duration, bool):
                generation.duration, generation.duration_reason = float(duration), "duration field"
                continue
            if generation.endpoint in _PASSTHROUGH_ENDPOINTS:
                found = self.input_duration(generation)
                if found is not None:
                    generation.duration, generation.duration_reason = found
                    continue
            default = catalog.model_overlay(generation.model).default_duration
            if default is not None:
                generation.duration, generation.duration_reason = default, "model default"

    def input_duration(self, generation: Generation) -> tuple[float, str] | None:
        refs = dict(generation.refs)
        for path in _DURATION_INPUTS:
            value = _get(generation.request, path)
            if value is None:
                continue
            ref = refs.get(path)
            if ref is not None:
                producer = self.graph.producer(ref)
                if producer is not None and producer.duration is not None:
                    return producer.duration, f"length of {ref.text}"
                return None
            if isinstance(value, str):
                local = local_asset_path(value, self.map.path)
                if local is not None and local.is_file():
                    try:
                        info = probe(local)
                    except OSError:
                        return None
                    if info.duration is not None:
                        return info.duration, f"length of {value}"
            return None
        return None


def _get(data: Any, path: DataPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        else:
            return None
    return data


def _contains_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_contains_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_template(item) for item in value)
    return False


def _collect_refs(
    value: Any, at: DataPath, out: list[tuple[DataPath, Ref]], source_map: SourceMap, base: DataPath
) -> None:
    if isinstance(value, str):
        if value.startswith("@"):
            match = REFERENCE.match(value)
            if match:
                index = match["index"]
                out.append(
                    (
                        at,
                        Ref(
                            step=match["step"],
                            index=int(index) if index is not None else None,
                            span=source_map.value((*base, *at)),
                            text=value,
                        ),
                    )
                )
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect_refs(item, (*at, key), out, source_map, base)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _collect_refs(item, (*at, index), out, source_map, base)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "an empty list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"a {type(value).__name__}"


def compile_spec(
    document: Document, catalog: Catalog, overrides: Mapping[str, Any] | None = None
) -> Graph:
    """Compile a parsed document into a :class:`Graph`; problems are on ``graph.diagnostics``."""
    spec, diagnostics = parse_spec(document)
    if spec is None:
        graph = Graph(spec=None, document=document, catalog=catalog)
        graph.diagnostics.extend(diagnostics)
        return graph
    variables = {**spec.vars, **(overrides or {})}
    compiler = _Compiler(spec, document, catalog, variables)
    compiler.diagnostics.extend(diagnostics)
    return compiler.run()
