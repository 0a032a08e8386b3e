"""Validate a compiled graph against the catalog: models, request fields, assets and edges.

Each generation's request is walked against its model's request type from the catalog (the
SDK's own types, plus the hand-kept overlay); the checks are small passes that return
diagnostics, so one run reports every problem in the spec.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    ArrayType,
    EnumType,
    FieldPatch,
    FieldSpec,
    InputDuration,
    IntegerType,
    ModelOverlay,
    NumberType,
    ObjectType,
    StringType,
    TypeNode,
    UnionType,
)
from runway_plan.compile import Generation, Graph, Ref, compile_spec, local_asset_path
from runway_plan.compile.graph import REFERENCE, TemplateFailed
from runway_plan.diagnostics import Diagnostic, Span, make, sort_diagnostics
from runway_plan.media import probe
from runway_plan.source import DataPath, Document, SourceMap, load_document
from runway_plan.spec import Spec, Step

__all__ = ["RULE_NAMES", "check_file", "utf16_length", "validate", "validate_request"]

_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*?),(?P<data>.*)$", re.S
)
_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,15}$")
_KNOWLEDGE_TOKEN_LIMIT = 50_000
_CHARS_PER_TOKEN = 4
_MAX_LISTED = 24
_MIME_ALIASES = {"image/jpg": "image/jpeg", "audio/mp3": "audio/mpeg", "audio/wave": "audio/wav"}


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as the API measures prompt limits."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _label(at: DataPath) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "request"


def _dotted(at: DataPath) -> str:
    return ".".join(part for part in at if isinstance(part, str))


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null"


def _expected(node: TypeNode) -> str:
    match node:
        case StringType():
            return f"{node.media} URI" if node.media else "a string"
        case IntegerType():
            return "an integer"
        case NumberType():
            return "a number"
        case EnumType():
            return (
                "one of "
                + ", ".join(_show(v) for v in node.values[:8])
                + (", …" if len(node.values) > 8 else "")
            )
        case ArrayType():
            return "a list"
        case ObjectType():
            return "a mapping"
        case UnionType():
            return " or ".join(dict.fromkeys(_expected(v) for v in node.variants))
    return node.kind


def _show(value: Any) -> str:
    return (
        f"'{value}'"
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def _same(a: Any, b: Any) -> bool:
    return (a == b and type(a) is type(b)) or (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and a == b
    )


def _aspect(value: Any) -> float | None:
    if isinstance(value, str) and ":" in value:
        width, _, height = value.partition(":")
        try:
            w, h = float(width), float(height)
        except ValueError:
            return None
        return w / h if w > 0 and h > 0 else None
    return None


def _nearest(value: Any, choices: tuple[Any, ...]) -> Any | None:
    """The allowed value closest to ``value``: same aspect for ratios, numerically, or by text."""
    if not choices:
        return None
    aspect = _aspect(value)
    ratios = [(c, _aspect(c)) for c in choices if _aspect(c) is not None]
    if aspect is not None and ratios:
        w = float(str(value).partition(":")[0])

        def distance(item: tuple[Any, float | None]) -> tuple[float, float]:
            choice, choice_aspect = item
            width = float(str(choice).partition(":")[0])
            return (abs(math.log(aspect / (choice_aspect or 1))), abs(width - w))

        return min(ratios, key=distance)[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        numbers = [c for c in choices if isinstance(c, int | float) and not isinstance(c, bool)]
        if numbers:
            return min(numbers, key=lambda c: (abs(c - value), c))
    if isinstance(value, str):
        lowered = {str(c).lower(): c for c in choices}
        if value.lower() in lowered:
            return lowered[value.lower()]
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.5)
        if close:
            return next(c for c in choices if str(c) == close[0])
    return None


class _Checker:
    """Checks one request (or resource body) against a type tree."""

    def __init__(
        self,
        validator: _Validator,
        base: DataPath,
        subject: str,
        overlay: ModelOverlay,
        refs: dict[DataPath, Ref],
        renames: dict[str, str] | None = None,
    ) -> None:
        self.renames = renames or {}
        self.v = validator
        self.base = base
        self.subject = subject
        self.overlay = overlay
        self.refs = refs

    def span(self, at: DataPath) -> Span:
        return self.v.map.value((*self.base, *at))

    def key_span(self, at: DataPath) -> Span:
        return self.v.map.key((*self.base, *at))

    def fields(
        self, value: dict[str, Any], fields: dict[str, FieldSpec], at: DataPath
    ) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        misspelled = {
            self.renames[key] for key in value if key in self.renames and key not in fields
        }
        for name, spec in fields.items():
            if spec.required and name not in value and name not in misspelled:
                hint = _requirement(spec, self.overlay.fields.get(_dotted((*at, name))))
                where = f" in {_label(at)}" if at else ""
                found.append(
                    make(
                        "RP204",
                        f"missing required field '{name}'{where} for {self.subject}",
                        self.key_span(at) if at else self.v.map.key(self.base),
                        hint=hint,
                    )
                )
        for name, item in value.items():
            spec = fields.get(name)
            if spec is None:
                found.append(self.unknown_field(name, fields, at))
                continue
            found.extend(self.check(item, spec.type, (*at, name)))
        return found

    def unknown_field(self, name: str, fields: dict[str, FieldSpec], at: DataPath) -> Diagnostic:
        right = self.renames.get(name)
        if right is not None and right in fields:
            hint = f"the API calls it '{right}' (older docs spell it '{name}')"
        else:
            close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
            hint = (
                f"did you mean '{close[0]}'?" if close else f"accepted: {', '.join(sorted(fields))}"
            )
        where = f" in {_label(at)}" if at else ""
        return make(
            "RP205",
            f"unknown field '{name}'{where} for {self.subject}",
            self.key_span((*at, name)),
            hint=hint,
        )

    def wrong_type(self, value: Any, node: TypeNode, at: DataPath) -> Diagnostic:
        plain = self.v.map.trap((*self.base, *at))
        if plain is not None and isinstance(node, StringType | EnumType | UnionType):
            return make(
                "RP102",
                f"{_label(at)}: YAML 1.1 reads `{plain}` as {_type_name(value)} "
                f"({_show(value)}), not the string '{plain}'",
                self.span(at),
                hint=f'quote it: "{plain}"',
            )
        return make(
            "RP206",
            f"{_label(at)} must be {_expected(node)}, not {_type_name(value)}",
            self.span(at),
        )

    def check(self, value: Any, node: TypeNode, at: DataPath) -> list[Diagnostic]:
        ref = self.refs.get(at)
        if ref is not None:
            return self.v.check_ref(ref, node, at, self)
        if isinstance(value, TemplateFailed):
            return []
        if self.refs and isinstance(value, dict | list):
            return self._check(value, node, at)
        key = (
            id(value) if isinstance(value, dict | list) else (type(value), value),
            id(node),
            at,
            self.base,
        )
        cached = self.v.memo.get(key)
        if cached is None:
            cached = (value, self._check(value, node, at))
            self.v.memo[key] = cached
        return cached[1]

    def _check(self, value: Any, node: TypeNode, at: DataPath) -> list[Diagnostic]:
        patch = self.overlay.fields.get(_dotted(at)) if self.overlay.fields else None
        match node:
            case UnionType():
                return self.union(value, node, at)
            case StringType():
                if not isinstance(value, str):
                    return [self.wrong_type(value, node, at)]
                return self.string(value, node, at)
            case IntegerType() | NumberType():
                integer = isinstance(node, IntegerType)
                ok = isinstance(value, int) if integer else isinstance(value, int | float)
                if not ok or isinstance(value, bool):
                    return [self.wrong_type(value, node, at)]
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
        if node.kind == "boolean" and not isinstance(value, bool):
            return [self.wrong_type(value, node, at)]
        if node.kind == "null" and value is not None:
            return [self.wrong_type(value, node, at)]
        return []

    def string(self, value: str, node: StringType, at: DataPath) -> list[Diagnostic]:
        found: list[Diagnostic] = []
        if node.media is not None:
            return self.v.check_asset(value, node.media, at, self)
        length = utf16_length(value) if node.length_unit == "utf16" else len(value)
        unit = "UTF-16 code units" if node.length_unit == "utf16" else "characters"
        if node.min_length is not None and length < node.min_length:
            found.append(
                make(
                    "RP209",
                    f"{_label(at)} is "
                    + ("empty" if length == 0 else f"{length} {unit} long")
                    + f"; {self.subject} needs at least {node.min_length}",
                    self.span(at),
                )
            )
        if node.max_length is not None and length > node.max_length:
            found.append(
                make(
                    "RP209",
                    f"{_label(at)} is {length} {unit} long; {self.subject} allows at most "
                    f"{node.max_length}",
                    self.span(at),
                    hint=f"shorten it by {length - node.max_length}",
                )
            )
        if (
            node.pattern is not None
            and not re.search(node.pattern, value)
            and not (at[-1] == "tag" and "reference_tags" in self.overlay.rules)
        ):
            found.append(
                make(
                    "RP207", f"{_label(at)} '{value}' does not match {node.pattern}", self.span(at)
                )
            )
        return found

    def number(
        self, value: float, node: IntegerType | NumberType, patch: FieldPatch | None, at: DataPath
    ) -> list[Diagnostic]:
        if patch is not None and patch.values is not None:
            return self.enum(value, EnumType(values=patch.values), None, at)
        low = node.minimum if patch is None or patch.minimum is None else patch.minimum
        high = node.maximum if patch is None or patch.maximum is None else patch.maximum
        if at and at[-1] == "seed" and low is None and high is None:
            low, high = self.v.catalog.overlay.seed_range
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
        bounds = _bounds(low, high, low_x, high_x)
        return [
            make(
                "RP208",
                f"{_label(at)} {_show(value)} is out of range for {self.subject} ({bounds})",
                self.span(at),
            )
        ]

    def enum(
        self, value: Any, node: EnumType, patch: FieldPatch | None, at: DataPath
    ) -> list[Diagnostic]:
        values = patch.values if patch is not None and patch.values is not None else node.values
        if any(_same(value, allowed) for allowed in values):
            return []
        if self.v.map.trap((*self.base, *at)) is not None:
            return [self.wrong_type(value, StringType(), at)]
        nearest = _nearest(value, values)
        shown = ", ".join(_show(v) for v in values[:_MAX_LISTED])
        if len(values) > _MAX_LISTED:
            shown += f", … ({len(values)} in all)"
        hint = f"allowed: {shown}" + (f"; nearest: {_show(nearest)}" if nearest is not None else "")
        return [
            make(
                "RP207",
                f"{_label(at)} {_show(value)} is not allowed for {self.subject}",
                self.span(at),
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
                    f"{_label(at)} has {len(value)} item{'s' if len(value) != 1 else ''}; "
                    f"{self.subject} needs at least {node.min_items}",
                    self.span(at),
                )
            )
        if high is not None and len(value) > high:
            found.append(
                make(
                    "RP210",
                    f"{_label(at)} has {len(value)} items; {self.subject} allows at most {high}",
                    self.span(at),
                )
            )
        for index, item in enumerate(value):
            found.extend(self.check(item, node.items, (*at, index)))
        return found

    def union(self, value: Any, node: UnionType, at: DataPath) -> list[Diagnostic]:
        candidates = [variant for variant in node.variants if _fits(value, variant)]
        if isinstance(value, dict):
            objects = [v for v in candidates if isinstance(v, ObjectType)]
            tagged = _discriminate(value, objects)
            if tagged is not None:
                candidates = tagged
        if not candidates:
            return [self.wrong_type(value, node, at)]
        best: list[Diagnostic] | None = None
        for variant in candidates:
            found = self.check(value, variant, at)
            if not found:
                return []
            if best is None or len(found) < len(best):
                best = found
        return best or []


def _requirement(spec: FieldSpec, patch: FieldPatch | None) -> str | None:
    """What a missing field should hold, for the hint."""
    node = spec.type
    if isinstance(node, EnumType):
        return f"allowed: {_expected(node).removeprefix('one of ')}"
    if isinstance(node, IntegerType | NumberType):
        low = patch.minimum if patch and patch.minimum is not None else node.minimum
        high = patch.maximum if patch and patch.maximum is not None else node.maximum
        if low is not None or high is not None:
            return f"{_expected(node)}, {_bounds(low, high, None, None)}"
    return spec.doc or None


def _bounds(
    low: float | None, high: float | None, low_x: float | None, high_x: float | None
) -> str:
    parts = []
    if low is not None and high is not None:
        return f"{_num(low)} to {_num(high)}"
    if low is not None:
        parts.append(f"at least {_num(low)}")
    if low_x is not None:
        parts.append(f"more than {_num(low_x)}")
    if high is not None:
        parts.append(f"at most {_num(high)}")
    if high_x is not None:
        parts.append(f"less than {_num(high_x)}")
    return " and ".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _fits(value: Any, node: TypeNode) -> bool:
    """Whether ``value``'s JSON type is one ``node`` accepts (ignoring its constraints)."""
    match node:
        case StringType():
            return isinstance(value, str)
        case IntegerType():
            return isinstance(value, int) and not isinstance(value, bool)
        case NumberType():
            return isinstance(value, int | float) and not isinstance(value, bool)
        case EnumType():
            return any(type(v) is type(value) or _same(v, value) for v in node.values)
        case ArrayType():
            return isinstance(value, list)
        case ObjectType():
            return isinstance(value, dict)
        case UnionType():
            return any(_fits(value, v) for v in node.variants)
    if node.kind == "boolean":
        return isinstance(value, bool)
    if node.kind == "null":
        return value is None
    return True


def _discriminate(value: dict[str, Any], objects: list[ObjectType]) -> list[TypeNode] | None:
    """Variants whose single-valued enum fields (``type: image``) match ``value``'s."""
    tags: dict[str, int] = {}
    for obj in objects:
        for name, spec in obj.fields.items():
            if isinstance(spec.type, EnumType) and len(spec.type.values) == 1 and spec.required:
                tags[name] = tags.get(name, 0) + 1
    for tag in tags:
        if tag not in value:
            continue
        matching: list[TypeNode] = [
            obj
            for obj in objects
            if tag in obj.fields
            and isinstance(obj.fields[tag].type, EnumType)
            and any(_same(value[tag], v) for v in obj.fields[tag].type.values)  # type: ignore[union-attr]
        ]
        if matching:
            return matching
    return None


class _Validator:
    def __init__(self, graph: Graph, *, api: bool = False) -> None:
        self.api = api
        self.graph = graph
        self.catalog: Catalog = graph.catalog
        self.map: SourceMap = graph.document.source_map
        self.spec_path = self.map.path
        self.diagnostics: list[Diagnostic] = []
        self.memo: dict[tuple[Any, ...], tuple[Any, list[Diagnostic]]] = {}
        """Results of checking a value at a place: fan-out items share untemplated values."""

    def run(self) -> list[Diagnostic]:
        seen: set[int] = set()
        for generation in self.graph.generations.values():
            if id(generation.request) in seen and not generation.refs:
                continue
            seen.add(id(generation.request))
            self.generation(generation)
        self.resources()
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
                    self.map.value((*base, "endpoint")),
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else f"endpoints: {', '.join(sorted(catalog.endpoints))}",
                )
            )
            return
        model_span = self.map.value((*base, "model"))
        retired = catalog.retired(gen.model)
        if retired is not None:
            self.diagnostics.append(
                make(
                    "RP203",
                    f"model '{gen.model}' has been retired ({retired.retired}); "
                    f"use '{retired.replacement}'",
                    model_span,
                    hint=f"'{retired.replacement}' takes different fields; check them against "
                    f"the {gen.endpoint} docs",
                )
            )
            return
        spec = endpoint.models.get(gen.model)
        if spec is None:
            elsewhere = catalog.model_endpoints.get(gen.model)
            if elsewhere:
                self.diagnostics.append(
                    make(
                        "RP202",
                        f"model '{gen.model}' is not available on {gen.endpoint}; "
                        f"it is on {', '.join(elsewhere)}",
                        model_span,
                        hint=f"models on {gen.endpoint}: {', '.join(sorted(endpoint.models))}",
                    )
                )
            else:
                close = difflib.get_close_matches(gen.model, list(endpoint.models), n=1, cutoff=0.6)
                close = close or difflib.get_close_matches(
                    gen.model, list(catalog.model_endpoints), n=1, cutoff=0.6
                )
                self.diagnostics.append(
                    make(
                        "RP201",
                        f"unknown model '{gen.model}'",
                        model_span,
                        hint=f"did you mean '{close[0]}'?"
                        if close
                        else f"models on {gen.endpoint}: {', '.join(sorted(endpoint.models))}",
                    )
                )
            return
        overlay = catalog.model_overlay(gen.model)
        renames = {
            **catalog.overlay.field_renames.get("*", {}),
            **catalog.overlay.field_renames.get(gen.endpoint, {}),
        }
        checker = _Checker(self, base, gen.model, overlay, dict(gen.refs), renames)
        self.diagnostics.extend(checker.fields(gen.request, spec.fields, ()))
        for rule in overlay.rules:
            check = _RULES.get(rule)
            if check is not None:
                self.diagnostics.extend(check(gen.request, checker))

    def check_ref(
        self, ref: Ref, node: TypeNode, at: DataPath, checker: _Checker
    ) -> list[Diagnostic]:
        media = _media_of(node)
        if media is None:
            return [
                make(
                    "RP304",
                    f"{_label(at)} does not take a media asset, so '{ref.text}' is not a "
                    "reference here",
                    ref.span,
                )
            ]
        producer = self.graph.producer(ref)
        if producer is None or producer.endpoint not in self.catalog.endpoints:
            return []
        produced = self.catalog.output_media(producer.endpoint, producer.model)
        if produced not in media:
            return [
                make(
                    "RP303",
                    f"{_label(at)} takes {' or '.join(sorted(media))}, but '{ref.step}' "
                    f"({producer.endpoint}) produces {produced}",
                    ref.span,
                )
            ]
        return self.input_duration(producer.duration, ref.text, at, checker, ref.span)

    def input_duration(
        self, seconds: float | None, what: str, at: DataPath, checker: _Checker, span: Span
    ) -> list[Diagnostic]:
        bounds: InputDuration | None = checker.overlay.input_durations.get(_dotted(at))
        if bounds is None or seconds is None:
            return []
        low, high = bounds.min_seconds, bounds.max_seconds
        if bounds.exclusive:
            bad = (low is not None and seconds <= low) or (high is not None and seconds >= high)
        else:
            bad = (low is not None and seconds < low) or (high is not None and seconds > high)
        if not bad:
            return []
        if bounds.exclusive:
            allowed = _bounds(None, None, low, high)
        else:
            allowed = _bounds(low, high, None, None)
        return [
            make(
                "RP225",
                f"{_label(at)}: {what} is {_num(round(seconds, 2))} s long; {checker.subject} "
                f"takes {allowed} s",
                span,
            )
        ]

    def check_asset(
        self, value: str, media: str, at: DataPath, checker: _Checker
    ) -> list[Diagnostic]:
        span = checker.span(at)
        overlay = self.catalog.overlay
        label = _label(at)
        if value.startswith("runway://"):
            return []
        if value.startswith("data:"):
            return self.data_uri(value, media, label, span)
        if "://" in value:
            parts = urlsplit(value)
            scheme = parts.scheme.lower()
            if scheme not in ("https", "http"):
                return [
                    make(
                        "RP226",
                        f"{label}: unsupported scheme '{scheme}://'",
                        span,
                        hint="use an https:// URL, a runway:// upload URI, a data: URI, a local "
                        "path or an '@step' reference",
                    )
                ]
            problems = []
            if scheme != "https":
                problems.append("only HTTPS URLs are allowed")
            host = parts.hostname or ""
            try:
                ipaddress.ip_address(host)
                problems.append("URLs must be hosted on a domain, not an IP address")
            except ValueError:
                if "." not in host:
                    problems.append(f"'{host}' is not a public domain name")
            if len(value) > overlay.url_max_length:
                problems.append(
                    f"it is {len(value)} characters long (at most {overlay.url_max_length})"
                )
            return [make("RP220", f"{label}: {problem}", span) for problem in problems]
        if self.api:
            return [
                make(
                    "RP226",
                    f"{label}: unsupported asset: use an https:// URL, a runway:// upload URI or a "
                    "data: URI",
                    span,
                )
            ]
        if value.startswith("@"):
            return [
                make(
                    "RP300",
                    f"{label}: '{value}' is not a valid step reference",
                    span,
                    hint="write '@step' or '@step[index]'",
                )
            ]
        path = local_asset_path(value, self.spec_path)
        if path is None:
            return []
        return self.local_file(value, path, media, at, checker, span)

    def data_uri(self, value: str, media: str, label: str, span: Span) -> list[Diagnostic]:
        match = _DATA_URI.match(value)
        overlay = self.catalog.overlay
        if match is None or ";base64" not in (match["params"] or ""):
            return [make("RP221", f"{label}: a data URI must be 'data:<type>;base64,<data>'", span)]
        mime = _MIME_ALIASES.get((match["mime"] or "").lower(), (match["mime"] or "").lower())
        if not mime:
            return [make("RP221", f"{label}: the data URI has no media type", span)]
        accepted = overlay.accepted_content_types.get(media, ())  # type: ignore[call-overload]
        if mime not in accepted:
            return [
                make(
                    "RP223",
                    f"{label}: the data URI holds {mime}; it takes {media} ({', '.join(accepted)})",
                    span,
                )
            ]
        payload = match["data"].strip()
        try:
            size = len(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            return [make("RP221", f"{label}: the data URI is not valid base64", span)]
        limit = overlay.asset_limits[media].data_uri  # type: ignore[index]
        if size > limit:
            return [
                make(
                    "RP221",
                    f"{label}: the data URI holds {_mb(size)}; {media} data URIs may hold at most "
                    f"{_mb(limit)}",
                    span,
                    hint="use a local file (it will be uploaded) or an https:// URL",
                )
            ]
        return []

    def local_file(
        self, value: str, path: Path, media: str, at: DataPath, checker: _Checker, span: Span
    ) -> list[Diagnostic]:
        label = _label(at)
        if not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            return [
                make(
                    "RP222",
                    f"{label}: '{value}' {what}",
                    span,
                    hint=f"local paths are relative to the spec's folder; looked for {path}",
                )
            ]
        try:
            info = probe(path)
        except OSError as exc:
            return [make("RP222", f"{label}: cannot read '{value}': {exc.strerror}", span)]
        overlay = self.catalog.overlay
        accepted = overlay.accepted_content_types.get(media, ())  # type: ignore[call-overload]
        mime = _MIME_ALIASES.get(info.mime or "", info.mime)
        if info.media != media or mime not in accepted:
            found = mime or "not a recognised media file"
            return [
                make(
                    "RP223",
                    f"{label}: '{value}' is {found}; the field takes {media} "
                    f"({', '.join(accepted)})",
                    span,
                    hint="the type is read from the file's content, not its extension",
                )
            ]
        limit = overlay.asset_limits[media].upload  # type: ignore[index]
        if info.size > limit:
            return [
                make(
                    "RP224",
                    f"{label}: '{value}' is {_mb(info.size)}; the API accepts at most {_mb(limit)}",
                    span,
                )
            ]
        return self.input_duration(info.duration, f"'{value}'", at, checker, span)

    def resources(self) -> None:
        spec = self.graph.spec
        if spec is None:
            return
        for key, document in spec.documents.items():
            at = ("documents", key)
            if (document.content is None) == (document.file is None):
                self.diagnostics.append(
                    make(
                        "RP104",
                        f"document '{key}' needs exactly one of 'content' or 'file'",
                        self.map.key(at),
                    )
                )
            elif document.file is not None:
                path = local_asset_path(document.file, self.spec_path)
                if path is None or not path.is_file():
                    self.diagnostics.append(
                        make(
                            "RP222",
                            f"document file '{document.file}' does not exist",
                            self.map.value((*at, "file")),
                        )
                    )
        create = self.catalog.constraints.resources.get("avatar_create")
        for key, avatar in spec.avatars.items():
            at = ("avatars", key)
            for position, name in enumerate(avatar.documents):
                if name not in spec.documents:
                    close = difflib.get_close_matches(name, list(spec.documents), n=1)
                    self.diagnostics.append(
                        make(
                            "RP300",
                            f"avatar '{key}' attaches unknown document '{name}'",
                            self.map.value((*at, "documents", position)),
                            hint=f"did you mean '{close[0]}'?" if close else None,
                        )
                    )
            self.knowledge(key, avatar.documents)
            if create is None:
                continue
            body = avatar.model_dump(exclude_none=True, exclude={"documents"})
            refs: dict[DataPath, Ref] = {}
            match = REFERENCE.match(avatar.referenceImage)
            if match:
                ref = Ref(
                    match["step"],
                    int(match["index"]) if match["index"] else None,
                    self.map.value((*at, "referenceImage")),
                    avatar.referenceImage,
                )
                refs[("referenceImage",)] = ref
                if ref.step not in self.graph.steps:
                    close = difflib.get_close_matches(ref.step, list(self.graph.steps), n=1)
                    self.diagnostics.append(
                        make(
                            "RP300",
                            f"unknown step '{ref.step}'",
                            ref.span,
                            hint=f"did you mean '@{close[0]}'?" if close else None,
                        )
                    )
            checker = _Checker(self, at, f"avatar '{key}'", ModelOverlay(), refs)
            self.diagnostics.extend(checker.fields(body, create.fields, ()))

    def knowledge(self, avatar: str, documents: Iterable[str]) -> None:
        spec = self.graph.spec
        assert spec is not None
        characters = 0
        for name in documents:
            document = spec.documents.get(name)
            if document is None:
                continue
            if document.content is not None:
                characters += len(document.content)
            elif document.file is not None:
                path = local_asset_path(document.file, self.spec_path)
                if path is not None and path.is_file():
                    characters += len(path.read_text(encoding="utf-8", errors="replace"))
        tokens = math.ceil(characters / _CHARS_PER_TOKEN)
        if tokens > _KNOWLEDGE_TOKEN_LIMIT:
            self.diagnostics.append(
                make(
                    "RP211",
                    f"avatar '{avatar}' attaches about {tokens:,} tokens of knowledge; "
                    f"the limit is {_KNOWLEDGE_TOKEN_LIMIT:,}",
                    self.map.value(("avatars", avatar, "documents")),
                    hint=f"tokens are estimated as characters / {_CHARS_PER_TOKEN}",
                )
            )


def _media_of(node: TypeNode) -> set[str] | None:
    if isinstance(node, StringType):
        return {node.media} if node.media else None
    if isinstance(node, UnionType):
        found: set[str] = set()
        for variant in node.variants:
            found |= _media_of(variant) or set()
        return found or None
    return None


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def _positions(request: dict[str, Any]) -> list[dict[str, Any]] | None:
    images = request.get("promptImage")
    if isinstance(images, list) and all(isinstance(item, dict) for item in images):
        return images
    return None


def _rule_prompt_image_modes(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    images = _positions(request)
    if not images:
        return []
    positioned = [("position" in item) for item in images]
    if any(positioned) and not all(positioned):
        return [
            make(
                "RP211",
                f"promptImage mixes keyframes (items with a position) and reference images "
                f"(items without); {checker.subject} takes one mode or the other",
                checker.span(("promptImage",)),
            )
        ]
    return []


def _rule_first_frame_required(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    images = _positions(request)
    if not images:
        return []
    positions = {item.get("position") for item in images}
    if "last" in positions and "first" not in positions:
        return [
            make(
                "RP211",
                f"promptImage has a last frame but no first frame; {checker.subject} needs the "
                "first",
                checker.span(("promptImage",)),
            )
        ]
    return []


def _rule_keyframe_ranges(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    keyframes = request.get("keyframes")
    if not isinstance(keyframes, list):
        return []
    frames = [k for k in keyframes if isinstance(k, dict)]
    with_range = [("range" in k) for k in frames]
    found: list[Diagnostic] = []
    if any(with_range) and not all(with_range):
        found.append(
            make(
                "RP211",
                "either every keyframe sets a range or none does",
                checker.span(("keyframes",)),
            )
        )
    for index, frame in enumerate(frames):
        span_range = frame.get("range")
        seconds = frame.get("seconds")
        if not isinstance(span_range, dict):
            continue
        start, end = span_range.get("start_seconds"), span_range.get("end_seconds")
        if not all(isinstance(x, int | float) for x in (start, end)):
            continue
        if start >= end:
            found.append(
                make(
                    "RP211",
                    f"keyframes[{index}].range ends before it starts",
                    checker.span(("keyframes", index, "range")),
                )
            )
        elif isinstance(seconds, int | float) and not start <= seconds < end:
            found.append(
                make(
                    "RP211",
                    f"keyframes[{index}] at {seconds} s is outside its range [{start}, {end})",
                    checker.span(("keyframes", index, "seconds")),
                )
            )
    return found


def _rule_reference_tags(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    images = request.get("referenceImages")
    if not isinstance(images, list):
        return []
    found: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(images):
        tag = item.get("tag") if isinstance(item, dict) else None
        if not isinstance(tag, str):
            continue
        at = ("referenceImages", index, "tag")
        if not _TAG.match(tag):
            found.append(
                make(
                    "RP211",
                    f"referenceImages[{index}].tag '{tag}' must be 3-16 letters, digits or '_', "
                    "starting with a letter",
                    checker.span(at),
                    hint="the prompt refers to it as @tag",
                )
            )
        if tag in seen:
            found.append(
                make(
                    "RP211",
                    f"tag '{tag}' is used by referenceImages[{seen[tag]}] too",
                    checker.span(at),
                )
            )
        seen.setdefault(tag, index)
    return found


_RULES: dict[str, Callable[[dict[str, Any], _Checker], list[Diagnostic]]] = {
    "prompt_image_modes": _rule_prompt_image_modes,
    "first_frame_required": _rule_first_frame_required,
    "keyframe_ranges": _rule_keyframe_ranges,
    "reference_tags": _rule_reference_tags,
}
RULE_NAMES = frozenset(_RULES)


def validate(graph: Graph) -> list[Diagnostic]:
    """Every diagnostic of ``graph``: the compiler's and the model checks', sorted."""
    return sort_diagnostics([*graph.diagnostics, *_Validator(graph).run()])


def check_file(
    path: str | Path,
    catalog: Catalog,
    overrides: dict[str, Any] | None = None,
) -> tuple[Graph, list[Diagnostic]]:
    """Load, compile and validate the spec at ``path``: the graph and every diagnostic."""
    document = load_document(path)
    if document.data is None and document.diagnostics:
        graph = Graph(spec=None, document=document, catalog=catalog)
        return graph, sort_diagnostics(document.diagnostics)
    graph = compile_spec(document, catalog, overrides)
    return graph, sort_diagnostics([*document.diagnostics, *validate(graph)])


class _BodyMap(SourceMap):
    """A source map for a bare request body: every span's ``path`` is the field's JSON path."""

    def value(self, path: DataPath) -> Span:
        return Span(_label(path[2:]), 0, 0, 0, 0)

    def key(self, path: DataPath) -> Span:
        return self.value(path)

    def trap(self, path: DataPath) -> str | None:
        return None


def validate_request(catalog: Catalog, endpoint: str, body: dict[str, Any]) -> list[Diagnostic]:
    """Check an API request body as the API would (used by the emulator).

    The diagnostics carry no file position: each span's ``path`` is the offending field's JSON
    path in ``body`` (``request`` for the body itself).  Local paths and step references are
    refused, since the API only takes https://, runway:// and data: assets.
    """
    step = Step.model_construct(endpoint=endpoint, model=str(body.get("model", "")))
    spec = Spec.model_construct(steps={"request": step})
    document = Document(data=None, source_map=_BodyMap("request"), text="", diagnostics=[])
    graph = Graph(spec=spec, document=document, catalog=catalog)
    generation = Generation(
        key="request",
        step="request",
        index=None,
        endpoint=endpoint,
        model=step.model,
        request=body,
        refs=[],
        output_count=1,
        span=Span("request", 0, 0, 0, 0),
    )
    validator = _Validator(graph, api=True)
    validator.generation(generation)
    return validator.diagnostics
