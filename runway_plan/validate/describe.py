"""How the validator names places, values and types in its messages, and matches values to types."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from runway_plan.catalog import Catalog
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
from runway_plan.catalog.model import FieldPatch
from runway_plan.source import DataPath
from runway_plan.validate.languages import language_code

DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*?),(?P<data>.*)$", re.S
)
TAG = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,15}\Z")
KNOWLEDGE_TOKEN_LIMIT = 50_000
CHARS_PER_TOKEN = 4
MAX_LISTED = 24
MIME_ALIASES = {"image/jpg": "image/jpeg", "audio/mp3": "audio/mpeg", "audio/wave": "audio/wav"}


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as the API measures prompt limits."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def label(at: DataPath) -> str:
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "request"


def dotted(at: DataPath) -> str:
    return ".".join(part for part in at if isinstance(part, str))


def type_name(value: Any) -> str:
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


def expected(node: TypeNode) -> str:
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
                + ", ".join(show(v) for v in node.values[:8])
                + (", …" if len(node.values) > 8 else "")
            )
        case ArrayType():
            return "a list"
        case ObjectType() | MapType():
            return "a mapping"
        case UnionType():
            return " or ".join(dict.fromkeys(expected(v) for v in node.variants))
    return node.kind


_SHOWN = 80
"""Characters of a value a message echoes; a longer value is cut, its length given."""


def show(value: Any) -> str:
    if isinstance(value, str):
        if len(value) > _SHOWN:
            return f"'{value[: _SHOWN - 20]}…' ({len(value):,} characters)"
        return f"'{value}'"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        text = repr(value) if _small(value) else ""
        return text if text and len(text) <= _SHOWN else f"a {type_name(value)[2:]}"
    if isinstance(value, int) and value.bit_length() > 4 * _SHOWN:
        return f"an integer of {value.bit_length():,} bits"
    text = str(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 20]}… ({len(text):,} digits)"


def _small(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether a collection is small enough to print (its repr is not worth building else)."""
    items = value.values() if isinstance(value, dict) else value
    return len(value) <= 8 and all(not isinstance(v, dict | list) for v in items)


def same(a: Any, b: Any) -> bool:
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
        aspect = w / h if w > 0 and h > 0 else 0.0
        return aspect if 0 < aspect < math.inf and w < math.inf else None
    return None


def nearest(value: Any, choices: tuple[Any, ...]) -> Any | None:
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
        code = language_code(value)
        if code in choices:
            return code
        close = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.5)
        if close:
            return next(c for c in choices if str(c) == close[0])
    return None


def requirement(spec: FieldSpec, patch: FieldPatch | None) -> str | None:
    """What a missing field should hold, for the hint."""
    node = spec.type
    if isinstance(node, EnumType):
        return f"allowed: {expected(node).removeprefix('one of ')}"
    if isinstance(node, IntegerType | NumberType):
        low = patch.minimum if patch and patch.minimum is not None else node.minimum
        high = patch.maximum if patch and patch.maximum is not None else node.maximum
        if low is not None or high is not None:
            return f"{expected(node)}, {bounds(low, high, None, None)}"
    return spec.doc or None


def bounds(low: float | None, high: float | None, low_x: float | None, high_x: float | None) -> str:
    parts = []
    if low is not None and high is not None:
        return f"{num(low)} to {num(high)}"
    if low is not None:
        parts.append(f"at least {num(low)}")
    if low_x is not None:
        parts.append(f"more than {num(low_x)}")
    if high is not None:
        parts.append(f"at most {num(high)}")
    if high_x is not None:
        parts.append(f"less than {num(high_x)}")
    return " and ".join(parts)


def num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def fits(value: Any, node: TypeNode) -> bool:
    """Whether ``value``'s JSON type is one ``node`` accepts (ignoring its constraints)."""
    match node:
        case StringType():
            return isinstance(value, str)
        case IntegerType():
            return isinstance(value, int) and not isinstance(value, bool)
        case NumberType():
            return isinstance(value, int | float) and not isinstance(value, bool)
        case EnumType():
            return any(type(v) is type(value) or same(v, value) for v in node.values)
        case ArrayType():
            return isinstance(value, list)
        case ObjectType() | MapType():
            return isinstance(value, dict)
        case UnionType():
            return any(fits(value, v) for v in node.variants)
    if node.kind == "boolean":
        return isinstance(value, bool)
    if node.kind == "null":
        return value is None
    return True


def discriminate(value: dict[str, Any], objects: list[ObjectType]) -> list[TypeNode] | None:
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
            and any(same(value[tag], v) for v in obj.fields[tag].type.values)  # type: ignore[union-attr]
        ]
        if matching:
            return matching
    return None


def media_of(node: TypeNode) -> frozenset[str] | None:
    """The media an asset field of this type takes (None: not an asset field)."""
    return node.asset_media if isinstance(node, StringType | UnionType) else None


def takes_custom_voice(node: TypeNode) -> bool:
    """Whether a field of this type takes a custom voice of the Voices API (a variant
    ``{type: custom, id}``)."""
    variants = node.variants if isinstance(node, UnionType) else (node,)
    for variant in variants:
        if not isinstance(variant, ObjectType) or "id" not in variant.fields:
            continue
        kind = variant.fields.get("type")
        kind_type = kind.type if kind is not None else None
        if isinstance(kind_type, EnumType) and tuple(kind_type.values) == ("custom",):
            return True
    return False


def mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"


def field_names(catalog: Catalog) -> frozenset[str]:
    """Every request field name of every model in the catalog, nested ones included."""
    return catalog.field_names


def shape_hint(value: Any, node: TypeNode, label: str) -> str | None:
    """For a string where a mapping is expected, the mapping to write: ``voice: Maya`` ->
    ``{type: runway-preset, presetId: Maya}``, saying when the string is a value the mapping
    accepts."""
    if not isinstance(value, str):
        return None
    variants = node.variants if isinstance(node, UnionType) else (node,)
    objects = [variant for variant in variants if isinstance(variant, ObjectType)]
    if not objects:
        return None
    for obj in objects:
        for name, spec in obj.fields.items():
            values = spec.type.values if isinstance(spec.type, EnumType) else ()
            if len(values) < 2:
                continue
            match = next((v for v in values if str(v).casefold() == value.casefold()), None)
            if match is not None:
                return (
                    f"{show(match)} is a valid {label}.{name}; write {label}: "
                    f"{_mapping(obj, {name: match})}"
                )
    shapes = " or ".join(_mapping(obj, {}) for obj in objects)
    return f"{label} takes a mapping: {shapes}"


def _mapping(obj: ObjectType, given: dict[str, Any]) -> str:
    """A YAML flow mapping of ``obj``'s required fields: tags first, then the others."""
    tags: list[str] = []
    others: list[str] = []
    for name, spec in obj.fields.items():
        node = spec.type
        if name in given:
            others.append(f"{name}: {given[name]}")
        elif isinstance(node, EnumType) and len(node.values) == 1 and spec.required:
            tags.append(f"{name}: {node.values[0]}")
        elif spec.required:
            others.append(f"{name}: ...")
    return "{" + ", ".join([*tags, *others]) + "}"
