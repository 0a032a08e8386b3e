"""JSON Schema of each model's request, built from the catalog's request types and overlay.

The schema states what ``validate`` checks field by field (RP204-RP210): types, enums, numeric
ranges (with the overlay's patches, the seed range and the ``outputCount`` bound), text lengths,
item counts, required fields and unknown fields.  What a JSON Schema cannot state is left to
``validate``: rules across fields, assets, references between steps, and values known only
once a template is rendered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runway_plan.catalog import OUTPUT_COUNT, Catalog
from runway_plan.catalog.field_types import (
    AnyType,
    ArrayType,
    BooleanType,
    EnumType,
    FieldSpec,
    IntegerType,
    MapType,
    NullType,
    NumberType,
    ObjectType,
    StringType,
    TypeNode,
    UnionType,
)
from runway_plan.catalog.model import FieldPatch, ModelOverlay
from runway_plan.source import DataPath

__all__ = ["RequestSchemas", "field_schemas", "request_schemas"]

_TAG_RULE = "reference_tags"
"""An overlay rule that checks ``tag`` itself (RP211), in place of the SDK's pattern."""


@dataclass(frozen=True)
class _Context:
    catalog: Catalog
    overlay: ModelOverlay
    template: dict[str, Any] | None
    """A schema accepted in place of any value (a template string), or None."""


def _dotted(at: DataPath) -> str:
    return ".".join(part for part in at if isinstance(part, str))


def _number(
    node: IntegerType | NumberType,
    patch: FieldPatch | None,
    at: DataPath,
    ctx: _Context,
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer" if isinstance(node, IntegerType) else "number"}
    if patch is not None and patch.values is not None:
        schema["enum"] = list(patch.values)
        return schema
    low = node.minimum if patch is None or patch.minimum is None else patch.minimum
    high = node.maximum if patch is None or patch.maximum is None else patch.maximum
    if at and at[-1] == "seed" and low is None and high is None:
        low, high = ctx.catalog.overlay.seed_range
    if at == (OUTPUT_COUNT,) and high is None:
        low, high = low or 1, ctx.catalog.overlay.output_count_range[1]
    for key, bound in (("minimum", low), ("maximum", high)):
        if bound is not None:
            schema[key] = bound
    if isinstance(node, NumberType):
        if node.exclusive_minimum is not None:
            schema["exclusiveMinimum"] = node.exclusive_minimum
        if node.exclusive_maximum is not None:
            schema["exclusiveMaximum"] = node.exclusive_maximum
    return schema


def _string(
    node: StringType, patch: FieldPatch | None, at: DataPath, ctx: _Context
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if node.media is not None:
        return schema
    low = node.min_length if patch is None or patch.min_length is None else patch.min_length
    high = node.max_length if patch is None or patch.max_length is None else patch.max_length
    if low is not None:
        schema["minLength"] = low
    if high is not None:
        schema["maxLength"] = high
    if node.pattern is not None and not (at[-1] == "tag" and _TAG_RULE in ctx.overlay.rules):
        schema["pattern"] = node.pattern
    if patch is not None and patch.pattern is not None:
        schema["pattern"] = patch.pattern
    if patch is not None and patch.pixel_area is not None:
        low_area, high_area = patch.pixel_area
        schema["description"] = (
            f"A free size 'W:H' (width:height in pixels) with an area of {low_area:,} to "
            f"{high_area:,} pixels."
        )
    return schema


def _accepts_templates(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` already accepts every string (so a template needs no alternative)."""
    return not schema or schema == {"type": "string"}


def _convert(node: TypeNode, at: DataPath, ctx: _Context, *, top: bool = True) -> dict[str, Any]:
    patch = ctx.overlay.fields.get(_dotted(at)) if ctx.overlay.fields else None
    schema: dict[str, Any]
    match node:
        case UnionType():
            schema = {"anyOf": [_convert(v, at, ctx, top=False) for v in node.variants]}
        case StringType():
            schema = _string(node, patch, at, ctx)
        case IntegerType() | NumberType():
            schema = _number(node, patch, at, ctx)
        case EnumType():
            values = patch.values if patch is not None and patch.values is not None else node.values
            schema = {"enum": list(values)}
        case ArrayType():
            schema = {"type": "array", "items": _convert(node.items, (*at, 0), ctx)}
            high = patch.max_items if patch is not None and patch.max_items is not None else None
            high = node.max_items if high is None else high
            if node.min_items is not None:
                schema["minItems"] = node.min_items
            if high is not None:
                schema["maxItems"] = high
        case ObjectType():
            schema = _object(node.fields, at, ctx)
        case MapType():
            schema = {
                "type": "object",
                "additionalProperties": _convert(node.values, (*at, "*"), ctx),
            }
        case BooleanType():
            schema = {"type": "boolean"}
        case NullType():
            schema = {"type": "null"}
        case AnyType():
            schema = {}
    if ctx.template is None or not top or _accepts_templates(schema):
        return schema
    return {"anyOf": [ctx.template, schema]}


def _object(
    fields: dict[str, FieldSpec],
    at: DataPath,
    ctx: _Context,
    extra: Iterable[str] = (),
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, field in fields.items():
        converted = _convert(field.type, (*at, name), ctx)
        doc = field.doc.split("\n\n")[0].strip() if field.doc else ""
        if doc and not at:
            converted = {**converted, "description": doc}
        if field.deprecated:
            converted = {**converted, "deprecated": True}
        properties[name] = converted
    for key in extra:
        properties.setdefault(key, True)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [name for name, field in fields.items() if field.required]
    if required:
        schema["required"] = required
    return schema


def field_schemas(
    catalog: Catalog, fields: dict[str, FieldSpec], overlay: ModelOverlay | None = None
) -> dict[str, dict[str, Any]]:
    """A schema for each of ``fields`` (a resource body's, say), untemplated."""
    ctx = _Context(catalog, overlay or ModelOverlay(), None)
    return {name: _convert(field.type, (name,), ctx) for name, field in fields.items()}


@dataclass(frozen=True)
class RequestSchemas:
    """Request schemas by endpoint and model: ``refs[endpoint][model]`` is the ``$ref`` of its
    request's schema, a member of ``defs``.  Models whose requests take the same schema share
    one definition, and so do fields that several models take alike (``field:ratio.2``)."""

    defs: dict[str, dict[str, Any]]
    refs: dict[str, dict[str, str]]


def _digest(schema: Any) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


def request_schemas(
    catalog: Catalog,
    *,
    template: dict[str, Any],
    step_keys: Iterable[str],
    defs_path: str = "#/$defs/",
) -> RequestSchemas:
    """The schema of every model's request as a spec step writes it.

    ``template`` is accepted in place of any value that is not free text (a template string,
    checked by ``validate`` once rendered); ``step_keys`` are the step's own keys, allowed
    beside the request fields; ``defs_path`` is where the caller puts ``defs``.
    """
    keys = sorted({"model", *step_keys})
    requests: dict[str, dict[str, Any]] = {}
    by_digest: dict[str, str] = {}
    refs: dict[str, dict[str, str]] = {}
    for endpoint_name in sorted(catalog.endpoints):
        endpoint = catalog.endpoints[endpoint_name]
        refs[endpoint_name] = {}
        for model_name in sorted(endpoint.models):
            spec = endpoint.models[model_name]
            ctx = _Context(catalog, catalog.model_overlay(model_name), template)
            schema = _object(spec.fields, (), ctx, keys)
            digest = _digest(schema)
            name = by_digest.get(digest)
            if name is None:
                own = endpoint.implicit_model is None
                name = f"request:{endpoint_name}.{model_name}" if own else f"request:{model_name}"
                name = name.replace("/", ".")  # a JSON pointer reads "/" as a step
                by_digest[digest] = name
                requests[name] = {"title": f"{model_name} on {endpoint_name}", **schema}
            refs[endpoint_name][model_name] = defs_path + name
    return RequestSchemas({**_share_fields(requests, defs_path), **requests}, refs)


def _share_fields(requests: dict[str, dict[str, Any]], defs_path: str) -> dict[str, Any]:
    """Field schemas that several requests hold alike, moved to definitions of their own (the
    requests then refer to them): the schema is a third of the size."""
    uses: dict[str, int] = {}
    for request in requests.values():
        for field in request["properties"].values():
            if field is not True:
                uses[_digest(field)] = uses.get(_digest(field), 0) + 1
    shared: dict[str, Any] = {}
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for request in requests.values():
        properties = request["properties"]
        for field_name, field in properties.items():
            if field is True:
                continue
            digest = _digest(field)
            if uses[digest] < 2:
                continue
            name = names.get(digest)
            if name is None:
                counts[field_name] = counts.get(field_name, 0) + 1
                name = f"field:{field_name}.{counts[field_name]}"
                names[digest] = name
                shared[name] = field
            properties[field_name] = {"$ref": defs_path + name}
    return shared
