"""Pydantic models of the catalog: request constraints, overlay, prices and tiers.

The catalog is data.  ``constraints.json`` is generated from the official ``runwayml`` SDK's
request types by ``scripts/generate_catalog.py``; ``overlay.yaml`` (what the types leave out),
``prices.yaml`` and ``tiers.yaml`` are kept by hand, each fact with its source.
"""

from __future__ import annotations

from decimal import Decimal
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StringType(_Strict):
    """A string; ``media`` is set when the string is an asset URI of that media type."""

    kind: Literal["string"] = "string"
    min_length: int | None = None
    max_length: int | None = None
    length_unit: Literal["utf16", "characters"] = "utf16"
    pattern: str | None = None
    media: Media | None = None


class IntegerType(_Strict):
    """An integer with an optional inclusive range."""

    kind: Literal["integer"] = "integer"
    minimum: int | None = None
    maximum: int | None = None


class NumberType(_Strict):
    """A number with an optional inclusive (or exclusive) range."""

    kind: Literal["number"] = "number"
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None


class BooleanType(_Strict):
    """A boolean."""

    kind: Literal["boolean"] = "boolean"


class NullType(_Strict):
    """JSON null (an ``Optional`` in the SDK types)."""

    kind: Literal["null"] = "null"


class AnyType(_Strict):
    """Anything (a type the SDK leaves open, such as a free-form dict)."""

    kind: Literal["any"] = "any"


class EnumType(_Strict):
    """One of a fixed set of values (a ``Literal`` in the SDK types)."""

    kind: Literal["enum"] = "enum"
    values: tuple[Scalar, ...]


class ArrayType(_Strict):
    """A list of items of one type."""

    kind: Literal["array"] = "array"
    items: TypeNode
    min_items: int | None = None
    max_items: int | None = None


class ObjectType(_Strict):
    """A JSON object with known fields (a ``TypedDict`` in the SDK types)."""

    kind: Literal["object"] = "object"
    name: str
    fields: dict[str, FieldSpec]


class UnionType(_Strict):
    """Any one of several types."""

    kind: Literal["union"] = "union"
    variants: tuple[TypeNode, ...]


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
    | UnionType,
    Field(discriminator="kind"),
]


class FieldSpec(_Strict):
    """One request field: its wire name is the key it is stored under."""

    type: TypeNode
    required: bool = False
    doc: str = ""
    deprecated: bool = False


class ModelSpec(_Strict):
    """The request type of one model on one endpoint."""

    name: str
    sdk_type: str
    fields: dict[str, FieldSpec]


class EndpointSpec(_Strict):
    """A generation endpoint and the models it accepts."""

    name: str
    path: str
    sdk_module: str
    models: dict[str, ModelSpec]


class Constraints(_Strict):
    """What ``scripts/generate_catalog.py`` extracts from the SDK (``constraints.json``)."""

    sdk_version: str
    endpoints: dict[str, EndpointSpec]
    resources: dict[str, ObjectType] = Field(
        default_factory=dict,
        description="Non-task request bodies, such as avatar and document create params.",
    )


class SizeLimits(_Strict):
    """Largest accepted size in bytes for each way of sending an asset."""

    url: int
    data_uri: int
    upload: int


class FieldPatch(_Strict):
    """A hand-kept constraint added to a generated field (dotted wire path within the request)."""

    minimum: float | None = None
    maximum: float | None = None
    values: tuple[Scalar, ...] | None = None
    max_items: int | None = None
    source: str


class InputDuration(_Strict):
    """Bounds on the duration in seconds of an asset field's media."""

    min_seconds: float | None = None
    max_seconds: float | None = None
    exclusive: bool = False
    source: str


class LengthTolerance(_Strict):
    """How far the length of a delivered output file may fall from the length it was made
    for, in seconds: ``below`` shorter, ``above`` longer (encoder frames, padding)."""

    below: float = Field(ge=0, le=60)
    above: float = Field(ge=0, le=60)
    source: str


class ModelOverlay(_Strict):
    """Hand-kept facts about one model that the SDK types do not carry."""

    fields: dict[str, FieldPatch] = Field(default_factory=dict)
    input_durations: dict[str, InputDuration] = Field(default_factory=dict)
    rules: tuple[str, ...] = ()
    default_duration: float | None = None
    duration_range: tuple[float, float] | None = Field(
        default=None,
        description="Output duration bounds when the request omits duration and has no default.",
    )
    output_media: Media | None = None
    output_length_tolerance: LengthTolerance | None = Field(
        default=None, description="Replaces the overlay's tolerance for this model's media."
    )
    latency_seconds: float = Field(default=60.0, ge=0, le=1_000_000)
    latency_per_output_second: float = Field(default=0.0, ge=0, le=1_000)
    third_party: bool = False
    source: str = ""


class RetiredModel(_Strict):
    """A model older docs list that the API no longer accepts."""

    endpoints: tuple[str, ...]
    replacement: str
    retired: str
    source: str


class SpeechRate(_Strict):
    """How fast generated speech is, to bound its length from its text before it runs."""

    endpoint: str
    text_field: str
    chars_per_second: tuple[float, float]


class Overlay(_Strict):
    """``overlay.yaml``: what the SDK types leave out."""

    version: str
    endpoint_output: dict[str, Media]
    asset_limits: dict[Media, SizeLimits]
    accepted_content_types: dict[Media, tuple[str, ...]]
    url_max_length: int
    upload_min_bytes: int
    seed_range: tuple[int, int]
    output_count_range: tuple[int, int] = Field(
        description="Bounds of outputCount for the models whose own bounds are not documented."
    )
    speech_rate: SpeechRate | None = None
    output_length_tolerance: dict[Media, LengthTolerance] = Field(
        default_factory=dict,
        description=(
            "Per output media, how far a delivered file's length may differ from the length "
            "it was made for; a length read downstream is a range by this much."
        ),
    )
    models: dict[str, ModelOverlay] = Field(default_factory=dict)
    retired: dict[str, RetiredModel] = Field(default_factory=dict)
    field_renames: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per endpoint (or '*'), a misspelling from older docs -> the right field.",
    )
    sources: dict[str, str] = Field(default_factory=dict)

    @property
    def largest_upload(self) -> int:
        """The most bytes the API takes for any asset (through ``/v1/uploads``)."""
        return max(limits.upload for limits in self.asset_limits.values())


class PriceRate(_Strict):
    """A rate that applies when every ``when`` field of the request has one of the listed values."""

    when: dict[str, tuple[Scalar, ...]] = Field(default_factory=dict)
    credits: Credits


class Price(_Strict):
    """How one model is billed.

    ``unit`` is what is counted: ``output_second`` (video or audio length), ``image`` (one per
    output image, times ``count_field``), ``characters`` (of ``text_field``), ``input_second``
    (length of ``input_field``'s media), ``generation`` (flat).  ``per`` units make one block;
    blocks are rounded by ``rounding`` and multiplied by the first matching rate.
    """

    unit: Literal["output_second", "image", "characters", "input_second", "generation"]
    rates: tuple[PriceRate, ...]
    per: BlockSize = Decimal(1)
    rounding: Literal["ceil", "none"] = "none"
    count_field: str | None = None
    text_field: str | None = None
    input_field: str | None = None
    defaults: dict[str, Scalar] = Field(
        default_factory=dict, description="Request defaults the API documents, used for pricing."
    )
    unknown_defaults: tuple[str, ...] = Field(
        default=(), description="Fields whose default the API does not document: priced as a range."
    )
    source: str
    checked: str
    confidence: Literal["high", "medium", "low"] = Field(
        default="high",
        description=(
            "How far the figure can be trusted: high (official, or several agreeing sources), "
            "medium (one sourced figure, or sources that differ in a detail), low (one "
            "unconfirmed source: the model is then priced as unknown unless asked for)."
        ),
    )


class Prices(_Strict):
    """``prices.yaml``: hand-kept prices; a model absent here is priced as unknown."""

    version: str
    usd_per_credit: Annotated[Decimal, Field(gt=0, le=1, max_digits=19, decimal_places=12)]
    models: dict[str, Price]
    unknown: dict[str, str] = Field(
        default_factory=dict, description="Models with no known price, and why."
    )


class ModelLimits(_Strict):
    """Per-model limits of a tier."""

    max_concurrent: int = Field(ge=0, le=100_000)
    max_daily: int = Field(ge=0, le=1_000_000_000)


class Tier(_Strict):
    """One usage tier of the API."""

    max_monthly_spend_usd: Credits
    groups: dict[str, ModelLimits]
    criteria: str = ""


class Tiers(_Strict):
    """``tiers.yaml``: the tier table and which limit group each model falls in."""

    version: str
    source: str
    model_groups: dict[str, str]
    default_group: str
    tiers: dict[int, Tier]
