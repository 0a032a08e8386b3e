"""The type-tree walker: checks one request (or resource body) against its model's request type."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Protocol

from runway_plan.catalog import OUTPUT_COUNT, Catalog
from runway_plan.catalog.field_types import (
    ArrayType,
    EnumType,
    FieldSpec,
    IntegerType,
    MapType,
    NumberType,
    ObjectType,
    StringType,
    TypeNode,
    UnionType,
)
from runway_plan.catalog.model import FieldPatch, ModelOverlay
from runway_plan.compile import Graph, Ref
from runway_plan.compile.durations import DURATION_INPUTS, PASSTHROUGH_ENDPOINTS
from runway_plan.compile.graph import TemplateFailed
from runway_plan.diagnostics import Diagnostic, Location, Span, make
from runway_plan.source import INTEGER_RANGE, DataPath
from runway_plan.spec import WORKFLOWS
from runway_plan.validate import describe
from runway_plan.validate.describe import field_names, utf16_length
from runway_plan.validate.sizes import free_size


class Locator(Protocol):
    """Where the values of a document are: the spans of a spec's source map, or none for a
    bare API body (its diagnostics carry only the data path)."""

    def value(self, path: DataPath) -> Span | None:
        """The span of the value at ``path``."""

    def key(self, path: DataPath) -> Span | None:
        """The span of the key of ``path`` (of its value when it has no key)."""

    def missing(self, path: DataPath) -> Span | None:
        """Where a missing ``path`` would be written: its parent mapping."""

    def trap(self, path: DataPath) -> str | None:
        """The plain YAML text of a value YAML 1.1 read as another type, if it was."""


class Context(Protocol):
    """What a checker needs from the validation that runs it: the catalog, the graph, where
    values are, a memo of checked values, and the checks of references and assets."""

    @property
    def catalog(self) -> Catalog:
        """The model catalog checked against."""

    @property
    def graph(self) -> Graph:
        """The compiled graph being validated."""

    @property
    def locator(self) -> Locator:
        """Where the document's values are."""

    @property
    def memo(self) -> dict[tuple[Any, ...], tuple[Any, list[Diagnostic]]]:
        """Results of checking a value at a place: fan-out items share untemplated values."""

    @property
    def clean(self) -> set[tuple[Any, ...]]:
        """Scalars found clean in a field of a model on an endpoint: a result without
        diagnostics holds no place, so steps of one model share it."""

    def check_ref(
        self, ref: Ref, node: TypeNode, at: DataPath, checker: Checker
    ) -> list[Diagnostic]:
        """The diagnostics of a step reference in a field of type ``node``."""

    def check_asset(
        self, value: str, media: str, at: DataPath, checker: Checker
    ) -> list[Diagnostic]:
        """The diagnostics of an asset value in a field taking ``media``."""


class Checker:
    """Checks one request (or resource body) against a type tree."""

    def __init__(
        self,
        context: Context,
        base: DataPath,
        subject: str,
        overlay: ModelOverlay,
        refs: dict[DataPath, Ref],
        renames: dict[str, str] | None = None,
        *,
        endpoint: str | None = None,
        step_keys: frozenset[str] = frozenset(),
        share: bool = False,
    ) -> None:
        self.renames = renames or {}
        self.share = share
        """Whether clean scalars are shared with the other steps of the model (a step of
        one generation; a fan-out's items share theirs through the memo already)."""
        self.endpoint = endpoint
        self.step_keys = step_keys
        """The orchestration keys a step may hold beside the request fields (none for a bare
        request or a resource body)."""
        self.context = context
        self.base = base
        self.subject = subject
        self.overlay = overlay
        self.refs = refs

    @property
    def catalog(self) -> Catalog:
        """The model catalog checked against."""
        return self.context.catalog

    def locate(self, at: DataPath) -> Location:
        """Where the value at ``at`` (below the checked body) is."""
        path = (*self.base, *at)
        return Location(self.context.locator.value(path), path)

    def locate_key(self, at: DataPath) -> Location:
        """Where the key of ``at`` is."""
        path = (*self.base, *at)
        return Location(self.context.locator.key(path), path)

    def locate_missing(self, at: DataPath) -> Location:
        """Where the missing field ``at`` would be written."""
        path = (*self.base, *at)
        return Location(self.context.locator.missing(path), path)

    def model_fields(self) -> dict[str, FieldSpec]:
        """The request fields of the checked model on its step's endpoint ({} when unknown)."""
        graph = self.context.graph
        step = self.base[-1] if self.base else None
        if not isinstance(step, str):
            return {}
        node = graph.steps.get(step)
        generation = graph.generations.get(step)
        endpoint = node.step.endpoint if node is not None else None
        endpoint = endpoint or (generation.endpoint if generation is not None else None)
        if not isinstance(endpoint, str):
            return {}
        spec = self.catalog.model(endpoint, self.subject)
        return spec.fields if spec is not None else {}

    def fields(
        self, value: dict[str, Any], fields: dict[str, FieldSpec], at: DataPath
    ) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        misspelled = {
            self.renames[key] for key in value if key in self.renames and key not in fields
        }
        for name, spec in fields.items():
            if spec.required and name not in value and name not in misspelled:
                hint = describe.requirement(
                    spec, self.overlay.fields.get(describe.dotted((*at, name)))
                )
                where = f" in {describe.label(at)}" if at else ""
                found.append(
                    make(
                        "RP204",
                        f"missing required field '{name}'{where} for {self.subject}",
                        self.locate_missing((*at, name)),
                        hint=hint,
                    )
                )
        for name, item in value.items():
            field = fields.get(name)
            if field is None:
                found.append(self.unknown_field(name, fields, at))
                continue
            found.extend(self.check(item, field.type, (*at, name)))
        return found

    def unknown_field(self, name: str, fields: dict[str, FieldSpec], at: DataPath) -> Diagnostic:
        step_keys = self.step_keys if not at else frozenset()
        if self.endpoint != WORKFLOWS:
            step_keys = step_keys - {"outputs"}  # declared by workflow steps only
        accepted = f"accepted: {', '.join(sorted(fields))}"
        if step_keys:
            accepted += f"; step keys: {', '.join(sorted(step_keys))}"
        right = self.renames.get(name)
        close = difflib.get_close_matches(name, [*fields, *step_keys], n=1, cutoff=0.6)
        if right is not None and right in fields:
            hint = f"the API calls it '{right}' (older docs spell it '{name}')"
        elif self.endpoint is not None and name in field_names(self.catalog):
            hint = f"{self.subject} has no {name}{self.no_field_reason(name, fields)}; {accepted}"
        elif close:
            hint = f"did you mean '{close[0]}'?"
            if close[0] in step_keys:
                hint += " (a step key)"
        else:
            hint = accepted
        where = f" in {describe.label(at)}" if at else ""
        return make(
            "RP205",
            f"unknown field '{name}'{where} for {self.subject}",
            self.locate_key((*at, name)),
            hint=hint,
        )

    def no_field_reason(self, name: str, fields: dict[str, FieldSpec]) -> str:
        """Why a model lacks a field that other models have, when the catalog tells."""
        if name == "duration" and self.endpoint in PASSTHROUGH_ENDPOINTS:
            inputs = [path[0] for path in DURATION_INPUTS if path[0] in fields]
            if inputs:
                return f": its output is as long as its input ({inputs[0]})"
        return " (other models do)"

    def wrong_type(self, value: Any, node: TypeNode, at: DataPath) -> Diagnostic:
        plain = self.context.locator.trap((*self.base, *at))
        if plain is not None and isinstance(node, StringType | EnumType | UnionType):
            return make(
                "RP102",
                f"{describe.label(at)}: YAML 1.1 reads `{plain}` as {describe.type_name(value)} "
                f"({describe.show(value)}), not the string '{plain}'",
                self.locate(at),
                hint=f'quote it: "{plain}"',
            )
        hint = describe.shape_hint(value, node, describe.label(at))
        avatars = self.context.graph.avatars
        named = isinstance(value, str) and value in avatars
        if self.endpoint == "avatar_videos" and at == ("avatar",) and named:
            hint = f"'{value}' is one of the spec's avatars: write avatar: \"@{value}\""
        return make(
            "RP206",
            f"{describe.label(at)} must be {describe.expected(node)}, "
            f"not {describe.type_name(value)}",
            self.locate(at),
            hint=hint,
        )

    def check(self, value: Any, node: TypeNode, at: DataPath) -> list[Diagnostic]:
        ref = self.refs.get(at)
        if ref is not None:
            return self.context.check_ref(ref, node, at, self)
        if isinstance(value, TemplateFailed):
            return []
        if self.refs and isinstance(value, dict | list):
            return self._check(value, node, at)
        container = isinstance(value, dict | list)
        key = (
            id(value) if container else (type(value), value),
            id(node),
            at,
            self.base,
        )
        context = self.context
        cached = context.memo.get(key)
        if cached is None:
            shared = (
                None if container or not self.share else (*key[:3], self.subject, self.endpoint)
            )
            if shared is not None and shared in context.clean:
                return []
            cached = (value, self._check(value, node, at))
            context.memo[key] = cached
            if shared is not None and not cached[1]:
                context.clean.add(shared)
        return cached[1]

    def _check(self, value: Any, node: TypeNode, at: DataPath) -> list[Diagnostic]:
        patch = self.overlay.fields.get(describe.dotted(at)) if self.overlay.fields else None
        match node:
            case UnionType():
                return self.union(value, node, at)
            case StringType():
                if not isinstance(value, str):
                    return [self.wrong_type(value, node, at)]
                return self.string(value, node, at, patch)
            case IntegerType() | NumberType():
                integer = isinstance(node, IntegerType)
                ok = isinstance(value, int) if integer else isinstance(value, int | float)
                if not ok or isinstance(value, bool):
                    return [self.wrong_type(value, node, at)]
                if not _representable(value):
                    return [
                        make(
                            "RP208",
                            f"{describe.label(at)} {describe.show(value)} is not a number the API "
                            "takes (finite, within 64 bits)",
                            self.locate(at),
                        )
                    ]
                return self.number(value, node, patch, at)
            case EnumType():
                return self.enum(value, node, patch, at)
            case ArrayType():
                if not isinstance(value, list):
                    return [self.wrong_type(value, node, at)]
                return self.array(value, node, patch, at)
            case ObjectType():
                if not isinstance(value, dict):
                    return [self.wrong_type(value, node, at)]
                return self.fields(value, node.fields, at)
            case MapType():
                if not isinstance(value, dict):
                    return [self.wrong_type(value, node, at)]
                return [
                    d
                    for key, item in value.items()
                    for d in self.check(item, node.values, (*at, key))
                ]
        if node.kind == "boolean" and not isinstance(value, bool):
            return [self.wrong_type(value, node, at)]
        if node.kind == "null" and value is not None:
            return [self.wrong_type(value, node, at)]
        return []

    def string(
        self, value: str, node: StringType, at: DataPath, patch: FieldPatch | None = None
    ) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        if node.media is not None:
            return self.context.check_asset(value, node.media, at, self)
        low = patch.min_length if patch is not None and patch.min_length is not None else None
        high = patch.max_length if patch is not None and patch.max_length is not None else None
        utf16 = node.length_unit == "utf16" or low is not None or high is not None
        low = node.min_length if low is None else low
        high = node.max_length if high is None else high
        length = utf16_length(value) if utf16 else len(value)
        unit = ("UTF-16 code unit" if utf16 else "character") + ("" if length == 1 else "s")
        if low is not None and length < low:
            found.append(
                make(
                    "RP209",
                    f"{describe.label(at)} is "
                    + ("empty" if length == 0 else f"{length} {unit} long")
                    + f"; {self.subject} needs at least {low}",
                    self.locate(at),
                )
            )
        if high is not None and length > high:
            found.append(
                make(
                    "RP209",
                    f"{describe.label(at)} is {length} {unit} long; {self.subject} allows at most "
                    f"{high}",
                    self.locate(at),
                    hint=f"shorten it by {length - high}",
                )
            )
        pattern = node.pattern
        if patch is not None and patch.pixel_area is not None:
            found.extend(
                free_size(value, patch, self.listed_values(at), self.subject, at, self.locate(at))
            )
        elif pattern is None and patch is not None:
            pattern = patch.pattern
        if (
            pattern is not None
            and not re.search(pattern, value)
            and not (at[-1] == "tag" and "reference_tags" in self.overlay.rules)
        ):
            found.append(
                make(
                    "RP207",
                    f"{describe.label(at)} '{value}' does not match {pattern}",
                    self.locate(at),
                )
            )
        return found

    def listed_values(self, at: DataPath) -> tuple[Any, ...]:
        """The enum values the field at ``at`` lists beside its free text (a union's enum)."""
        fields = self.model_fields() if len(at) == 1 else {}
        spec = fields.get(str(at[0])) if at else None
        node = spec.type if spec is not None else None
        variants = node.variants if isinstance(node, UnionType) else ()
        return tuple(
            v for variant in variants if isinstance(variant, EnumType) for v in variant.values
        )

    def number(
        self, value: float, node: IntegerType | NumberType, patch: FieldPatch | None, at: DataPath
    ) -> list[Diagnostic]:
        if patch is not None and patch.values is not None:
            return self.enum(value, EnumType(values=patch.values), None, at)
        low = node.minimum if patch is None or patch.minimum is None else patch.minimum
        high = node.maximum if patch is None or patch.maximum is None else patch.maximum
        if at and at[-1] == "seed" and low is None and high is None:
            low, high = self.catalog.overlay.seed_range
        if at == (OUTPUT_COUNT,) and high is None:
            low, high = low or 1, self.catalog.overlay.output_count_range[1]
        low_x = node.exclusive_minimum if isinstance(node, NumberType) else None
        high_x = node.exclusive_maximum if isinstance(node, NumberType) else None
        bad = (
            (low is not None and value < low)
            or (high is not None and value > high)
            or (low_x is not None and value <= low_x)
            or (high_x is not None and value >= high_x)
        )
        if not bad:
            return []
        bounds = describe.bounds(low, high, low_x, high_x)
        return [
            make(
                "RP208",
                f"{describe.label(at)} {describe.show(value)} is out of range for "
                f"{self.subject} ({bounds})",
                self.locate(at),
            )
        ]

    def enum(
        self, value: Any, node: EnumType, patch: FieldPatch | None, at: DataPath
    ) -> list[Diagnostic]:
        values = patch.values if patch is not None and patch.values is not None else node.values
        if any(describe.same(value, allowed) for allowed in values):
            return []
        if self.context.locator.trap((*self.base, *at)) is not None:
            return [self.wrong_type(value, StringType(), at)]
        nearest = describe.nearest(value, values)
        shown = ", ".join(describe.show(v) for v in values[: describe.MAX_LISTED])
        if len(values) > describe.MAX_LISTED:
            shown += f", … ({len(values)} in all)"
        hint = f"allowed: {shown}" + (
            f"; nearest: {describe.show(nearest)}" if nearest is not None else ""
        )
        return [
            make(
                "RP207",
                f"{describe.label(at)} {describe.show(value)} is not allowed for {self.subject}",
                self.locate(at),
                hint=hint,
            )
        ]

    def array(
        self, value: list[Any], node: ArrayType, patch: FieldPatch | None, at: DataPath
    ) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        high = (
            patch.max_items if patch is not None and patch.max_items is not None else node.max_items
        )
        if node.min_items is not None and len(value) < node.min_items:
            found.append(
                make(
                    "RP210",
                    f"{describe.label(at)} has {len(value)} item{'s' if len(value) != 1 else ''}; "
                    f"{self.subject} needs at least {node.min_items}",
                    self.locate(at),
                )
            )
        if high is not None and len(value) > high:
            found.append(
                make(
                    "RP210",
                    f"{describe.label(at)} has {len(value)} items; {self.subject} allows "
                    f"at most {high}",
                    self.locate(at),
                )
            )
        for index, item in enumerate(value):
            found.extend(self.check(item, node.items, (*at, index)))
        return found

    def union(self, value: Any, node: UnionType, at: DataPath) -> list[Diagnostic]:
        candidates = [variant for variant in node.variants if describe.fits(value, variant)]
        if isinstance(value, dict):
            objects = [v for v in candidates if isinstance(v, ObjectType)]
            tagged = describe.discriminate(value, objects)
            if tagged is not None:
                candidates = tagged
        if not candidates:
            return [self.wrong_type(value, node, at)]
        best: list[Diagnostic] | None = None
        # On a tie, free text that failed its own patch says more than "not one of the listed".
        candidates = sorted(candidates, key=lambda variant: isinstance(variant, EnumType))
        for variant in candidates:
            found = self.check(value, variant, at)
            if not found:
                return []
            if best is None or len(found) < len(best):
                best = found
        return best or []


def _representable(value: float) -> bool:
    """Whether a number is finite and, for an integer, fits in 64 bits."""
    if isinstance(value, int):
        return INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]
    return math.isfinite(value)
