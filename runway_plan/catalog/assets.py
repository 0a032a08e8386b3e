"""Find the media inputs of a request by walking its model's request type in the catalog.

An asset field is a string field whose catalog type carries a ``media`` (image, video, audio).
Unions and lists are followed, so ``promptImage`` as a string or as ``[{uri, position}]``
both yield their URIs.  The executor uses this to tell a local file (to inline or upload) from
a prompt that happens to look like one; the emulator, to resolve the inputs it holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    ArrayType,
    EnumType,
    FieldSpec,
    MapType,
    ObjectType,
    StringType,
    TypeNode,
    UnionType,
)

__all__ = ["AssetField", "JsonPath", "asset_fields", "find_assets", "get_path", "set_path"]

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class AssetField:
    """One media input of a request: where it is, its value and the media types it may be."""

    path: JsonPath
    value: str
    media: frozenset[str]

    @property
    def dotted(self) -> str:
        """The wire path without list indexes (``referenceAudio.uri``), as the catalog keys it."""
        return ".".join(part for part in self.path if isinstance(part, str))


def get_path(data: Any, path: JsonPath) -> Any:
    """The value at ``path`` in ``data``, or None."""
    for part in path:
        if isinstance(part, int) and isinstance(data, list) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(part, str) and isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def set_path(data: Any, path: JsonPath, value: Any) -> Any:
    """A copy of ``data`` with ``path`` set to ``value`` (containers on the path are copied)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and isinstance(head, str):
        copy = dict(data)
        copy[head] = set_path(data.get(head), rest, value)
        return copy
    if isinstance(data, list) and isinstance(head, int):
        items = list(data)
        items[head] = set_path(items[head], rest, value)
        return items
    return data


def _fits(value: Any, node: TypeNode) -> bool:
    match node:
        case StringType():
            return isinstance(value, str)
        case ArrayType():
            return isinstance(value, list)
        case ObjectType() | MapType():
            return isinstance(value, dict)
        case UnionType():
            return any(_fits(value, variant) for variant in node.variants)
    return False


def _tagged(value: Mapping[str, Any], objects: list[ObjectType]) -> list[ObjectType]:
    """Object variants whose single-valued enum fields (``type: video``) match ``value``."""
    chosen = []
    for obj in objects:
        ok = True
        for name, spec in obj.fields.items():
            if isinstance(spec.type, EnumType) and len(spec.type.values) == 1 and name in value:
                ok = ok and value[name] == spec.type.values[0]
        if ok:
            chosen.append(obj)
    return chosen or objects


def _walk(value: Any, node: TypeNode, path: JsonPath) -> Iterator[AssetField]:
    if isinstance(node, StringType):
        if node.media is not None and isinstance(value, str):
            yield AssetField(path, value, frozenset({node.media}))
        return
    if isinstance(node, UnionType):
        variants = [v for v in node.variants if _fits(value, v)]
        if isinstance(value, str):
            kinds: frozenset[str] = frozenset(
                v.media for v in variants if isinstance(v, StringType) and v.media is not None
            )
            if kinds:
                yield AssetField(path, value, kinds)
            return
        if isinstance(value, dict):
            objects = _tagged(value, [v for v in variants if isinstance(v, ObjectType)])
            found: dict[JsonPath, AssetField] = {}
            for obj in objects:
                for item in _walk(value, obj, path):
                    old = found.get(item.path)
                    merged = item.media | old.media if old is not None else item.media
                    found[item.path] = AssetField(item.path, item.value, merged)
            yield from found.values()
            return
        for variant in variants:
            yield from _walk(value, variant, path)
            return
        return
    if isinstance(node, ArrayType) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, node.items, (*path, index))
    elif isinstance(node, ObjectType) and isinstance(value, dict):
        yield from _fields(value, node.fields, path)
    elif isinstance(node, MapType) and isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, node.values, (*path, key))


def _fields(
    value: Mapping[str, Any], fields: Mapping[str, FieldSpec], path: JsonPath
) -> Iterator[AssetField]:
    for name, item in value.items():
        spec = fields.get(name)
        if spec is not None:
            yield from _walk(item, spec.type, (*path, name))


def find_assets(body: Mapping[str, Any], fields: Mapping[str, FieldSpec]) -> list[AssetField]:
    """Every media input of ``body`` given its model's request ``fields``."""
    return list(_fields(body, fields, ()))


def asset_fields(
    catalog: Catalog, endpoint: str, model: str, request: Mapping[str, Any]
) -> list[AssetField]:
    """Every media input of ``request`` for ``model`` on ``endpoint`` (none when unknown)."""
    spec = catalog.model(endpoint, model)
    if spec is None:
        return []
    return find_assets(request, spec.fields)
