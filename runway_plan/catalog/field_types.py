"""The value types of the catalog: credits, and the type tree of a request field.

``constraints.json`` describes every request field as one of these nodes (generated from the
official ``runwayml`` SDK's request types by ``scripts/generate_catalog.py``).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Media = Literal["image", "video", "audio", "text"]
Scalar = str | int | float | bool

MAX_CREDITS = Decimal(10) ** 12
"""The largest amount of credits a price or a budget may be (a trillion; $10 billion)."""

Credits = Annotated[
    Decimal, Field(ge=0, le=MAX_CREDITS, max_digits=19, decimal_places=6, allow_inf_nan=False)
]
"""An amount of credits: exact, finite, at most :data:`MAX_CREDITS`, to the millionth."""

BlockSize = Annotated[Decimal, Field(gt=0, le=MAX_CREDITS, max_digits=19, decimal_places=6)]
"""How many units make one billed block (``per``): positive, finite."""


class Strict(BaseModel):
    """A catalog record: unknown keys refused, frozen, finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StringType(Strict):
    """A string; ``media`` is set when the string is an asset URI of that media type."""

    kind: Literal["string"] = "string"
    min_length: int | None = None
    max_length: int | None = None
    length_unit: Literal["utf16", "characters"] = "utf16"
    pattern: str | None = None
    media: Media | None = None

    @cached_property
    def asset_media(self) -> frozenset[str] | None:
        """The media this string takes as an asset URI (None: it is not an asset field)."""
        return frozenset({self.media}) if self.media else None


class IntegerType(Strict):
    """An integer with an optional inclusive range."""

    kind: Literal["integer"] = "integer"
    minimum: int | None = None
    maximum: int | None = None


class NumberType(Strict):
    """A number with an optional inclusive (or exclusive) range."""

    kind: Literal["number"] = "number"
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None


class BooleanType(Strict):
    """A boolean."""

    kind: Literal["boolean"] = "boolean"


class NullType(Strict):
    """JSON null (an ``Optional`` in the SDK types)."""

    kind: Literal["null"] = "null"


class AnyType(Strict):
    """Anything (a type the SDK leaves open, such as a free-form dict)."""

    kind: Literal["any"] = "any"


class EnumType(Strict):
    """One of a fixed set of values (a ``Literal`` in the SDK types)."""

    kind: Literal["enum"] = "enum"
    values: tuple[Scalar, ...]


class ArrayType(Strict):
    """A list of items of one type."""

    kind: Literal["array"] = "array"
    items: TypeNode
    min_items: int | None = None
    max_items: int | None = None


class ObjectType(Strict):
    """A JSON object with known fields (a ``TypedDict`` in the SDK types)."""

    kind: Literal["object"] = "object"
    name: str
    fields: dict[str, FieldSpec]


class MapType(Strict):
    """A JSON object whose keys are not known in advance, every value of one type (a ``Dict``
    in the SDK types where its keys are names the caller chooses, such as a workflow's node
    ids in ``nodeOutputs``)."""

    kind: Literal["map"] = "map"
    values: TypeNode


class UnionType(Strict):
    """Any one of several types."""

    kind: Literal["union"] = "union"
    variants: tuple[TypeNode, ...]

    @cached_property
    def asset_media(self) -> frozenset[str] | None:
        """The media its variants take as asset URIs (None: none is an asset field)."""
        found: frozenset[str] = frozenset().union(
            *(
                variant.asset_media or ()
                for variant in self.variants
                if isinstance(variant, StringType | UnionType)
            )
        )
        return found or None


TypeNode = Annotated[
    StringType
    | IntegerType
    | NumberType
    | BooleanType
    | NullType
    | AnyType
    | EnumType
    | ArrayType
    | ObjectType
    | MapType
    | UnionType,
    Field(discriminator="kind"),
]


class FieldSpec(Strict):
    """One request field: its wire name is the key it is stored under."""

    type: TypeNode
    required: bool = False
    doc: str = ""
    deprecated: bool = False
