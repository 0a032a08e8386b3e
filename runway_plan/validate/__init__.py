"""Validate a compiled graph against the catalog: models, request fields, assets and edges.

Each generation's request is walked against its model's request type from the catalog (the
SDK's own types, plus the hand-kept overlay); the checks are small passes that return
diagnostics, so one run reports every problem in the spec.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.catalog.model import ModelOverlay, RetiredModel, TypeNode
from runway_plan.compile import Generation, Graph, Ref, compile_request, compile_spec
from runway_plan.diagnostics import Diagnostic, Location, Span, make, sort_diagnostics
from runway_plan.diagnostics.issue import Issue
from runway_plan.limits import WorkLimits
from runway_plan.source import DataPath, Document, SourceMap, load_document
from runway_plan.spec import STEP_KEYS
from runway_plan.validate import describe
from runway_plan.validate.assets import AssetChecks
from runway_plan.validate.checker import Checker, Context, Locator
from runway_plan.validate.describe import utf16_length
from runway_plan.validate.resources import ResourceChecks
from runway_plan.validate.rules import RULE_NAMES, RULES

__all__ = [
    "RULE_NAMES",
    "Validator",
    "check_document",
    "check_file",
    "utf16_length",
    "validate",
    "validate_request",
    "validate_resource",
    "within_limit",
]


class _Body:
    """The locator of a bare API body: it has no source file, so no spans."""

    def value(self, path: DataPath) -> Span | None:
        return None

    def key(self, path: DataPath) -> Span | None:
        return None

    def missing(self, path: DataPath) -> Span | None:
        return None

    def trap(self, path: DataPath) -> str | None:
        return None


class Validator(AssetChecks, ResourceChecks):
    """Runs the checks of a graph; the :class:`Context` its checkers work in.

    ``api`` is for a bare API body (:func:`validate_request`): its values have no spans and
    may not be local paths or references.
    """

    def __init__(self, graph: Graph, *, api: bool = False) -> None:
        self.api = api
        self.graph = graph
        self.catalog: Catalog = graph.catalog
        self.map: SourceMap = graph.document.source_map
        self.locator: Locator = _Body() if api else self.map
        self.context: Context = self
        self.spec_path = self.map.path
        self.diagnostics: list[Diagnostic] = []
        self.memo: dict[tuple[Any, ...], tuple[Any, list[Diagnostic]]] = {}
        """Results of checking a value at a place: fan-out items share untemplated values."""
        self.clean: set[tuple[Any, ...]] = set()
        """Scalars found clean in a field of a model on an endpoint (see :class:`Context`)."""

    def run(self) -> list[Diagnostic]:
        seen: set[int] = set()
        graph = self.graph
        for generation in [*graph.generations.values(), *graph.unexpanded.values()]:
            if id(generation.request) in seen and not generation.refs:
                continue
            seen.add(id(generation.request))
            self.generation(generation)
        self.resources()
        self.memo.clear()  # the validator is its own context, a cycle: free the memo now
        self.clean.clear()
        return self.diagnostics

    def generation(self, gen: Generation) -> None:
        catalog = self.catalog
        base = ("steps", gen.step)
        endpoint = catalog.endpoints.get(gen.endpoint)
        if endpoint is None:
            close = difflib.get_close_matches(
                gen.endpoint, list(catalog.endpoints), n=1, cutoff=0.5
            )
            self.diagnostics.append(
                make(
                    "RP200",
                    f"unknown endpoint '{gen.endpoint}'",
                    self.locate((*base, "endpoint")),
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else f"endpoints: {', '.join(sorted(catalog.endpoints))}",
                )
            )
            return
        model_span = self.locate((*base, "model"))
        implicit = endpoint.implicit_model
        if implicit is not None and gen.model != implicit:
            self.diagnostics.append(self.model_given(gen, implicit, model_span))
            return
        retired = catalog.retired(gen.model)
        if retired is not None:
            self.diagnostics.append(self.retired(gen, retired, sorted(endpoint.models), model_span))
            return
        spec = endpoint.models.get(gen.model)
        if spec is None:
            self.diagnostics.append(self.unknown_model(gen, sorted(endpoint.models), model_span))
            return
        overlay = catalog.model_overlay(gen.model)
        renames = {
            **catalog.overlay.field_renames.get("*", {}),
            **catalog.overlay.field_renames.get(gen.endpoint, {}),
        }
        checker = Checker(
            self,
            base,
            gen.model,
            overlay,
            dict(gen.refs),
            renames,
            endpoint=gen.endpoint,
            step_keys=frozenset() if self.api else STEP_KEYS,
            share=gen.index is None,
        )
        self.diagnostics.extend(checker.fields(gen.request, spec.fields, ()))
        for rule in overlay.rules:
            check = RULES.get(rule)
            if check is not None:
                self.diagnostics.extend(check(gen.request, checker))

    def locate(self, path: DataPath) -> Location:
        """Where the value at ``path`` is."""
        return Location(self.locator.value(path), path)

    def retired(
        self, gen: Generation, retired: RetiredModel, models: list[str], span: Location
    ) -> Diagnostic:
        """RP203 naming the replacement, or, on an endpoint the model never served, that
        endpoint's models."""
        if gen.endpoint in retired.endpoints:
            return make(
                "RP203",
                f"model '{gen.model}' has been retired ({retired.retired}); "
                f"use '{retired.replacement}'",
                span,
                hint=f"'{retired.replacement}' takes different fields; check them against "
                f"the {gen.endpoint} docs",
            )
        return make(
            "RP203",
            f"model '{gen.model}' has been retired ({retired.retired}); it was a "
            f"{' and '.join(retired.endpoints)} model, never available on {gen.endpoint}",
            span,
            hint=f"models on {gen.endpoint}: {', '.join(models)}",
        )

    def model_given(self, gen: Generation, implicit: str, span: Location) -> Diagnostic:
        """RP202 (a model of other endpoints) or RP201 (an unknown one) on an endpoint whose
        request has no ``model``: the step names it by its endpoint alone."""
        hint = f"{gen.endpoint} takes no model: leave `model` out (or write '{implicit}')"
        elsewhere = self.catalog.model_endpoints.get(gen.model)
        if elsewhere:
            return make(
                "RP202",
                f"model '{gen.model}' is not available on {gen.endpoint}; "
                f"it is on {', '.join(elsewhere)}",
                span,
                hint=hint,
            )
        return make("RP201", f"unknown model '{gen.model}'", span, hint=hint)

    def unknown_model(self, gen: Generation, models: list[str], span: Location) -> Diagnostic:
        """RP202 for a model of other endpoints, RP201 for an unknown one; a did-you-mean
        offers only models of the step's endpoint."""
        listed = f"models on {gen.endpoint}: {', '.join(models)}"
        elsewhere = self.catalog.model_endpoints.get(gen.model)
        if elsewhere:
            return make(
                "RP202",
                f"model '{gen.model}' is not available on {gen.endpoint}; "
                f"it is on {', '.join(elsewhere)}",
                span,
                hint=listed,
            )
        close = difflib.get_close_matches(gen.model, models, n=1, cutoff=0.6)
        if close:
            return make(
                "RP201", f"unknown model '{gen.model}'", span, hint=f"did you mean '{close[0]}'?"
            )
        other = difflib.get_close_matches(
            gen.model, list(self.catalog.model_endpoints), n=1, cutoff=0.6
        )
        if other:
            where = " and ".join(self.catalog.model_endpoints[other[0]])
            listed = f"'{other[0]}' is a model of {where}, not {gen.endpoint}; {listed}"
        return make("RP201", f"unknown model '{gen.model}'", span, hint=listed)

    def check_ref(
        self, ref: Ref, node: TypeNode, at: DataPath, checker: Checker
    ) -> list[Diagnostic]:
        media = describe.media_of(node)
        where = Location(ref.span, (*checker.base, *at))
        voice = ref.step not in self.graph.steps and ref.step in self.graph.voices
        if voice and checker.endpoint is not None:  # a step's field (resources resolve theirs)
            return self.voice_ref(ref, node, at, checker, where)
        if media is None:
            return [
                make(
                    "RP304",
                    f"{describe.label(at)} does not take a media asset, so '{ref.text}' is not a "
                    "reference here",
                    where,
                )
            ]
        producer = self.graph.producer(ref)
        produced = self.graph.produced_media(ref)
        if producer is None or produced is None:
            return []
        if produced not in media:
            return [
                make(
                    "RP303",
                    f"{describe.label(at)} takes {' or '.join(sorted(media))}, but '{ref.step}' "
                    f"({producer.endpoint}) produces {produced}",
                    where,
                )
            ]
        return self.input_duration(producer.length, f"'{ref.text}'", at, checker, where)

    def voice_ref(
        self, ref: Ref, node: TypeNode, at: DataPath, checker: Checker, where: Location
    ) -> list[Diagnostic]:
        """RP304 when a field that takes no custom voice names one of the spec's voices."""
        if ref.index is None and describe.takes_custom_voice(node):
            return []
        return [
            make(
                "RP304",
                f"{describe.label(at)} of {checker.subject} takes no custom voice, so "
                f"'{ref.text}' (a voice of this spec) cannot be used here",
                where,
                hint="custom voices are taken by an avatar's voice (and avatar_videos' "
                "speech.voice); give a preset voice here",
            )
        ]


def validate(graph: Graph) -> list[Diagnostic]:
    """Every diagnostic of ``graph``: the compiler's and the model checks', sorted, at most
    the ``diagnostics`` limit of them (see :func:`within_limit`)."""
    return within_limit(_all(graph), graph.limits, graph.document.source_map.path)


def _all(graph: Graph, *more: Diagnostic) -> list[Diagnostic]:
    return sort_diagnostics([*more, *graph.diagnostics, *Validator(graph).run()])


def within_limit(diagnostics: list[Diagnostic], limits: WorkLimits, path: str) -> list[Diagnostic]:
    """``diagnostics`` (sorted) cut to the ``diagnostics`` limit, errors kept before warnings
    and notes, in their order, and an RP119 note at the end counting those left out."""
    most = limits.diagnostics
    if len(diagnostics) <= most:
        return diagnostics
    ranked = sorted(range(len(diagnostics)), key=lambda i: (not diagnostics[i].is_error, i))
    kept = sorted(ranked[:most])
    left_out = [diagnostics[i] for i in ranked[most:]]
    errors = sum(d.is_error for d in left_out)
    note = make(
        "RP119",
        f"{len(left_out):,} more diagnostic{'s' * (len(left_out) != 1)} not shown "
        f"({errors:,} error{'s' * (errors != 1)}): the first {most:,} are shown "
        "(limits.diagnostics)",
        Span.file(path),
        hint="raise it with `limits: {diagnostics: N}` or --limit diagnostics=N",
    )
    return [*(diagnostics[i] for i in kept), note]


def check_file(
    path: str | Path,
    catalog: Catalog | None = None,
    overrides: dict[str, Any] | None = None,
    limits: Mapping[str, int] | None = None,
    *,
    allow: Iterable[str | Path] = (),
) -> tuple[Graph, list[Diagnostic]]:
    """Load, compile and validate the spec at ``path``: the graph and every diagnostic.

    ``catalog`` is the model catalog to check against: by default the packaged one
    (:func:`runway_plan.catalog.load_catalog`); pass one loaded once to check many specs.
    ``overrides`` are template variables that replace the spec's ``vars`` (``--var``).
    ``limits`` (by name, from ``--limit``) override the spec's ``limits:`` and the defaults;
    the file itself is read only within the ``file_bytes`` limit.  Local files the spec names
    are read only inside its root (its repository, or its folder) and the folders of
    ``allow``.
    """
    requested = WorkLimits().merged(limits or {})
    document = load_document(path, max_bytes=requested.file_bytes)
    return check_document(document, catalog, overrides, limits, allow=allow)


def check_document(
    document: Document,
    catalog: Catalog | None = None,
    overrides: dict[str, Any] | None = None,
    limits: Mapping[str, int] | None = None,
    *,
    allow: Iterable[str | Path] = (),
) -> tuple[Graph, list[Diagnostic]]:
    """Compile and validate a parsed spec (:func:`runway_plan.source.parse_document`, for a
    spec that is not a file, such as one read from git): the graph and every diagnostic.

    The arguments are those of :func:`check_file`; the document's own diagnostics (syntax,
    YAML traps) are among those returned.
    """
    if catalog is None:
        catalog = load_catalog()
    if document.data is None and document.diagnostics:
        requested = WorkLimits().merged(limits or {})
        graph = Graph(spec=None, document=document, catalog=catalog, limits=requested)
        path = document.source_map.path
        return graph, within_limit(sort_diagnostics(document.diagnostics), requested, path)
    graph = compile_spec(document, catalog, overrides, limits, allow=allow)
    found = _all(graph, *document.diagnostics)
    return graph, within_limit(found, graph.limits, document.source_map.path)


def _issues(diagnostics: list[Diagnostic], base: DataPath) -> list[Issue]:
    """The errors among ``diagnostics`` as issues at their paths below ``base``, in the order
    of their fields' labels."""
    unique = list({id(d): d for d in diagnostics if d.is_error}.values())
    issues = [Issue((d.path or base)[len(base) :], d.message, d.code) for d in unique]
    return sorted(issues, key=lambda i: (describe.label(i.path), i.code, i.message))


def validate_request(catalog: Catalog, endpoint: str, body: dict[str, Any]) -> list[Issue]:
    """Check an API request body as the API would: what it would refuse, field by field.

    Local paths and step references are refused, since the API only takes https://, runway://
    and data: assets.
    """
    graph = compile_request(catalog, endpoint, body)
    validator = Validator(graph, api=True)
    validator.generation(graph.generations["request"])
    return _issues(validator.diagnostics, ("steps", "request"))


def validate_resource(catalog: Catalog, resource: str, body: dict[str, Any]) -> list[Issue]:
    """Check a resource body (``avatar_create``, ``document_update``, ...) as the API would."""
    spec = catalog.constraints.resources.get(resource)
    if spec is None:
        raise KeyError(f"the catalog has no resource {resource!r}")
    document = Document(data=None, source_map=SourceMap(resource), text="", diagnostics=[])
    graph = Graph(spec=None, document=document, catalog=catalog)
    validator = Validator(graph, api=True)
    overlay = ModelOverlay(fields=catalog.overlay.resource_fields.get(resource, {}))
    checker = Checker(validator, (), resource.split("_")[0], overlay, {})
    return _issues(checker.fields(body, spec.fields, ()), ())
