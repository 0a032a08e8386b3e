"""The compiler: render templates, expand fan-outs, resolve references, build the DAG; then the
documents and avatars as resource nodes (:mod:`.resources`).

The compiler never raises for bad input: every problem becomes a diagnostic on the graph, and
compilation goes on so that one run reports everything it can.  Its work is bounded by the
spec's work limits (:mod:`runway_plan.limits`): generations, references, rendered characters
and template work are counted as they are made, and the first to run out is reported (RP118)
where it ran out; no step is expanded after that.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from runway_plan.catalog import OUTPUT_COUNT, Catalog
from runway_plan.catalog.assets import get_path
from runway_plan.compile.durations import Length, local_length, output_length
from runway_plan.compile.fields import replaced, template_paths
from runway_plan.compile.graph import REFERENCE, Generation, Graph, Ref, StepNode, TemplateFailed
from runway_plan.compile.references import collect_refs, index_out_of_range, unknown_step
from runway_plan.compile.resources import compile_resources
from runway_plan.compile.templating import Absent, Renderer, TemplateFailure, is_template
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.files import Root
from runway_plan.limits import Meter, WorkLimits, over_limit
from runway_plan.source import DataPath, Document, SourceMap
from runway_plan.spec import ParsedSpec, Step, parse_spec

__all__ = ["compile_spec"]


_FAILED = TemplateFailed()
_FAN_OUT_NAMES = frozenset({"item", "index"})
_FAN_OUT_HINT = "item and index are defined only in a step with for_each"


class _Compiler:
    def __init__(
        self,
        parsed: ParsedSpec,
        document: Document,
        catalog: Catalog,
        variables: dict[str, Any],
        limits: WorkLimits,
        root: Root,
    ):
        assert parsed.spec is not None
        self.spec = parsed.spec
        self.broken_fan_outs = parsed.broken_fan_outs
        self.vars_known = parsed.vars_known
        self.map: SourceMap = document.source_map
        self.graph = Graph(
            spec=self.spec,
            document=document,
            catalog=catalog,
            variables=variables,
            variables_known=parsed.vars_known,
            limits=limits,
            root=root,
        )
        self.meter = Meter(limits)
        self.renderer = Renderer(self.meter)
        self.variables = variables
        self.expanding: list[str] = []
        self.diagnostics: list[Diagnostic] = self.graph.diagnostics

    def run(self) -> Graph:
        for name in self.spec.steps:
            self.expand(name)
        self.infer_durations(self.link())
        compile_resources(self.graph, self.spec)
        return self.graph

    def render(
        self, value: Any, context: Mapping[str, Any], at: DataPath, absent: Absent | None = None
    ) -> Any:
        if isinstance(value, str):
            if not is_template(value):
                return value
            if not self.vars_known:
                return self.check(value, None, at)
            result = self.renderer.render(value, context, self.map.value(at), absent)
            if isinstance(result, TemplateFailure):
                self.diagnostics.append(result.diagnostic)
                return _FAILED
            return result
        if isinstance(value, dict):
            return {
                key: self.render(item, context, (*at, key), absent) for key, item in value.items()
            }
        if isinstance(value, list):
            return [
                self.render(item, context, (*at, index), absent) for index, item in enumerate(value)
            ]
        return value

    def check(self, value: Any, defined: Collection[str] | None, at: DataPath) -> TemplateFailed:
        """Check a template whose values are unknown (reported elsewhere) without rendering it."""
        if isinstance(value, str):
            failure = self.renderer.check(value, defined, self.map.value(at))
            if failure is not None:
                self.diagnostics.append(failure.diagnostic)
        return _FAILED

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
            items = None if self.meter.crossed else self.items(name, step)
        finally:
            self.expanding.pop()
        node = StepNode(name=name, step=step, span=self.map.key(("steps", name)))
        self.graph.steps[name] = node
        fields = step.request_fields()
        templates = template_paths(fields, ())
        static_refs: list[tuple[DataPath, Ref]] = []
        collect_refs(fields, (), static_refs, self.map, ("steps", name), skip_templates=True)
        if items is not None and not self.meter.spend("generations", len(items)):
            self.diagnostics.append(self.too_many(name, step, len(items)))
            items = None
        if items is None or not self.expand_items(node, items, fields, templates, static_refs):
            self.stand_in(node, fields, templates, static_refs)
        return node

    def too_many(self, name: str, step: Step, count: int) -> Diagnostic:
        """RP118 for the step whose generations take the spec past its limit."""
        at: DataPath = ("steps", name, "for_each") if step.for_each is not None else ("steps", name)
        before = self.meter.used["generations"] - count
        made = f"step '{name}' makes {count:,}" + (f" after {before:,}" if before else "")
        span = self.map.value(at) if step.for_each is not None else self.map.key(at)
        return over_limit("generations", self.meter.limits, span, made)

    def expand_items(
        self,
        node: StepNode,
        items: list[tuple[int | None, Any]],
        fields: dict[str, Any],
        templates: list[DataPath],
        static_refs: list[tuple[DataPath, Ref]],
    ) -> bool:
        """Add a generation per item; False, with none added, when a work limit runs out."""
        name = node.name
        fan_out = node.step.for_each is not None
        absent = None
        if not fan_out:
            absent = Absent(
                _FAN_OUT_NAMES - set(self.variables),
                f"step '{name}' has no for_each",
                _FAN_OUT_HINT,
            )
        for index, item in items:
            key = name if index is None else f"{name}[{index}]"
            request, refs = fields, static_refs
            if templates:
                context = (
                    {**self.variables, "item": item, "index": index} if fan_out else self.variables
                )
                request, rendered = self.render_templates(name, fields, templates, context, absent)
                refs = [*static_refs, *rendered]
            left = self.meter.left("edges")
            if refs and not self.meter.spend("edges", len(refs)):
                crossing = refs[left][1]
                self.diagnostics.append(
                    over_limit("edges", self.meter.limits, crossing.span, f"'{crossing.text}'")
                )
            if self.meter.crossed:
                self.forget(node)
                return False
            self.add_generation(node, self.generation(node, key, index, request, refs))
        return True

    def forget(self, node: StepNode) -> None:
        """Take back the generations a step made before a work limit ran out in it."""
        for key in node.generations:
            del self.graph.generations[key]
        node.generations.clear()
        node.outputs.clear()

    def stand_in(
        self,
        node: StepNode,
        fields: dict[str, Any],
        templates: list[DataPath],
        static_refs: list[tuple[DataPath, Ref]],
    ) -> None:
        """A step that makes no generations (its fan-out failed, or a work limit ran out): one
        stand-in, its templates checked but not rendered, so its other fields are checked."""
        base: DataPath = ("steps", node.name)
        if self.meter.crossed:
            request = replaced(fields, templates, lambda _path: _FAILED)
        else:
            defined = None if not self.vars_known else {*self.variables, *_FAN_OUT_NAMES}
            request = replaced(
                fields,
                templates,
                lambda path: self.check(get_path(fields, path), defined, (*base, *path)),
            )
        self.graph.unexpanded[node.name] = self.generation(
            node, node.name, None, request, static_refs
        )

    def render_templates(
        self,
        name: str,
        fields: dict[str, Any],
        templates: list[DataPath],
        context: Mapping[str, Any],
        absent: Absent | None,
    ) -> tuple[dict[str, Any], list[tuple[DataPath, Ref]]]:
        """A copy of ``fields`` with its template strings rendered, and the references they
        gave."""
        refs: list[tuple[DataPath, Ref]] = []
        base: DataPath = ("steps", name)

        def render(path: DataPath) -> Any:
            value = self.render(get_path(fields, path), context, (*base, *path), absent)
            collect_refs(value, path, refs, self.map, base)
            return value

        return replaced(fields, templates, render), refs

    def items(self, name: str, step: Step) -> list[tuple[int | None, Any]] | None:
        """The items a step fans out to (one ``(None, None)`` without for_each), or None when
        its fan-out failed (reported)."""
        for_each = step.for_each
        at: DataPath = ("steps", name, "for_each")
        if name in self.broken_fan_outs:
            return None
        if for_each is None:
            return [(None, None)]
        absent = Absent(
            _FAN_OUT_NAMES - set(self.variables),
            "for_each cannot use the items it makes",
            _FAN_OUT_HINT,
        )
        if isinstance(for_each, str):
            match = REFERENCE.match(for_each)
            if match and match["index"] is None:
                target = match["step"]
                if target not in self.spec.steps:
                    self.unknown_step(target, self.map.value(at))
                    return None
                upstream = self.expand(target)
                count = len(upstream.outputs) if upstream else 0
                return [(i, f"@{target}[{i}]") for i in range(count)] or None
        value = self.render(for_each, self.variables, at, absent)
        if value is _FAILED:
            return None
        if not isinstance(value, list) or not value:
            self.diagnostics.append(
                make(
                    "RP114",
                    f"for_each gave {_describe(value)}, not a non-empty list",
                    self.map.value(at),
                    hint="write a YAML list, a template such as \"{{ shots }}\", or '@step'",
                )
            )
            return None
        return list(enumerate(value))

    def generation(
        self,
        node: StepNode,
        key: str,
        index: int | None,
        request: dict[str, Any],
        refs: list[tuple[DataPath, Ref]],
    ) -> Generation:
        model = request.get("model")
        return Generation(
            key=key,
            step=node.name,
            index=index,
            endpoint=node.step.endpoint,
            model=model if isinstance(model, str) else "",
            request=request,
            refs=refs,
            output_count=self.output_count(node.step.endpoint, model, request.get(OUTPUT_COUNT, 1)),
            span=node.span,
        )

    def add_generation(self, node: StepNode, generation: Generation) -> None:
        self.graph.generations[generation.key] = generation
        node.generations.append(generation.key)
        node.outputs.extend((generation.key, i) for i in range(generation.output_count))

    def output_count(self, endpoint: str, model: Any, value: Any) -> int:
        """How many outputs a generation has: its ``outputCount`` when the model allows it.

        Anything else (a wrong type, a count above the model's maximum, a model without the
        field) counts as one output; the validator reports the field itself.
        """
        if not isinstance(value, int) or isinstance(value, bool) or value <= 1:
            return 1
        if not isinstance(model, str):
            return 1
        return value if value <= self.graph.catalog.max_output_count(endpoint, model) else 1

    def unknown_step(self, name: str, span: Any, *, reference: bool = True) -> None:
        """RP300, unless the spec declares the step but left it out as broken (reported)."""
        if not self.graph.declares("steps", name):
            self.diagnostics.append(unknown_step(name, self.spec.steps, span, reference=reference))

    def link(self) -> set[tuple[str, str]]:
        """Resolve references into edges and `needs` into step-to-step waits; the (producer,
        consumer) pairs of steps that form cycles (reported), empty when there is none.

        The references of steps whose fan-out failed are checked too, but make no edges.
        ``needs`` stays a relation between steps (:attr:`Graph.needs`): two fan-outs of 20,000
        items are one wait, not 400 million edges.
        """
        step_edges: dict[tuple[str, str], Any] = {}
        generations = [*self.graph.generations.values(), *self.graph.unexpanded.values()]
        for generation in generations:
            for _path, ref in generation.refs:
                target = self.graph.steps.get(ref.step)
                if ref.step not in self.spec.steps:
                    self.unknown_step(ref.step, ref.span)
                    continue
                if target is None:
                    continue
                step_edges.setdefault((ref.step, generation.step), ref.span)
                producer = self.check_index(ref, target)
                if producer is not None and generation.key in self.graph.generations:
                    self.graph.edges[(producer, generation.key)] = None
        for name, step in self.spec.steps.items():
            for position, needed in enumerate(step.needs):
                span = self.map.value(("steps", name, "needs", position))
                if needed not in self.spec.steps:
                    self.unknown_step(needed, span, reference=False)
                    continue
                step_edges.setdefault((needed, name), span)
                if needed in self.graph.needs.get(name, ()) or self.meter.crossed:
                    continue
                if not self.meter.spend("edges", 1):
                    self.diagnostics.append(over_limit("edges", self.meter.limits, span))
                    continue
                self.graph.needs.setdefault(name, []).append(needed)
        return self.report_cycles(step_edges)

    def check_index(self, ref: Ref, target: StepNode) -> str | None:
        """The generation ``ref`` names; None, reported, when it names none (silently when its
        step's fan-out failed: the step's outputs are unknown)."""
        count = len(target.outputs)
        if count == 0:
            return None
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
        self.diagnostics.append(index_out_of_range(ref, count))
        return None

    def report_cycles(self, step_edges: dict[tuple[str, str], Any]) -> set[tuple[str, str]]:
        """Report each edge of every cycle among steps at its reference; those edges."""
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
                    self.diagnostics.append(
                        make(
                            "RP301",
                            f"step '{target}' depends on '{source}', which is part of a cycle: "
                            f"{names}",
                            step_edges[(source, target)],
                        )
                    )
                    remaining.pop((source, target), None)

    def infer_durations(self, cyclic: set[tuple[str, str]]) -> None:
        """Each generation's output length, from its inputs' (unknown along a cycle)."""
        catalog = self.graph.catalog
        for generation in self.order(cyclic):
            refs = dict(generation.refs)

            def input_length(
                path: DataPath,
                value: Any,
                refs: dict[DataPath, Ref] = refs,
                step: str = generation.step,
            ) -> Length | None:
                ref = refs.get(path)
                if ref is not None:
                    producer = self.graph.producer(ref)
                    if producer is None or (ref.step, step) in cyclic:
                        return None
                    return producer.length
                return local_length(value, self.graph.root, catalog)

            generation.length = output_length(
                catalog, generation.endpoint, generation.model, generation.request, input_length
            )

    def order(self, cyclic: set[tuple[str, str]]) -> list[Generation]:
        """The generations in an order where every reference comes before its use (the edges
        of cycles among steps left out; ``needs`` carry no data, so they do not count)."""
        if not cyclic:
            return self.graph.order()
        generations = self.graph.generations
        sorter: TopologicalSorter[str] = TopologicalSorter({key: () for key in generations})
        for producer, consumer in self.graph.edges:
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


def compile_spec(
    document: Document,
    catalog: Catalog,
    overrides: Mapping[str, Any] | None = None,
    limits: Mapping[str, int] | None = None,
    *,
    allow: Iterable[str | Path] = (),
) -> Graph:
    """Compile a parsed document into a :class:`Graph`; problems are on ``graph.diagnostics``.

    Local files the spec names are read only inside its root (its repository, or its folder)
    and the folders of ``allow`` (see :class:`runway_plan.files.Root`).

    The parts of the spec whose structure is broken are reported and left out; the rest is
    compiled, so that one run reports every independent problem.  ``limits`` (by name, from
    ``--limit``) override the spec's own ``limits:`` and the defaults; the graph keeps the
    limits it was compiled under (:attr:`Graph.limits`).
    """
    parsed = parse_spec(document)
    root = Root.of_spec(document.source_map.path, allow)
    if parsed.spec is None:
        graph = Graph(
            spec=None,
            document=document,
            catalog=catalog,
            limits=WorkLimits().merged(limits or {}),
            root=root,
        )
        graph.diagnostics.extend(parsed.diagnostics)
        return graph
    effective = parsed.spec.limits.applied(WorkLimits()).merged(limits or {})
    variables = {**parsed.spec.vars, **(overrides or {})}
    compiler = _Compiler(parsed, document, catalog, variables, effective, root)
    compiler.diagnostics.extend(parsed.diagnostics)
    return compiler.run()


def _rotate(cycle: list[str]) -> list[str]:
    """The cycle starting at its alphabetically first step, so reports are deterministic."""
    start = cycle.index(min(cycle))
    return cycle[start:] + cycle[:start]


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "an empty list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"a {type(value).__name__}"
