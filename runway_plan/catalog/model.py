"""Pydantic models of the catalog: request constraints, overlay, prices and tiers.

The catalog is data.  ``constraints.json`` is generated from the official ``runwayml`` SDK's
request types by ``scripts/generate_catalog.py``; ``overlay.yaml`` (what the types leave out),
``prices.yaml`` and ``tiers.yaml`` are kept by hand, each fact with its source.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @cached_property
    def asset_media(self) -> frozenset[str] | None:
        """The media this string takes as an asset URI (None: it is not an asset field)."""
        return frozenset({self.media}) if self.media else None


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


class MapType(_Strict):
    """A JSON object whose keys are not known in advance, every value of one type (a ``Dict``
    in the SDK types where its keys are names the caller chooses, such as a workflow's node
    ids in ``nodeOutputs``)."""

    kind: Literal["map"] = "map"
    values: TypeNode


class UnionType(_Strict):
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
    """A generation endpoint and the models it accepts.

    An endpoint whose request has no ``model`` field (``recipes/product_ad``, ...) has
    ``model_field`` false and one entry in ``models``, keyed by the endpoint's own name: that
    name stands for the endpoint wherever a model is named (prices, limit groups, state,
    reports) and is never sent.
    """

    name: str
    path: str
    sdk_module: str
    models: dict[str, ModelSpec]
    model_field: bool = True

    @model_validator(mode="after")
    def _one_implicit_model(self) -> EndpointSpec:
        if not self.model_field and list(self.models) != [self.name]:
            raise ValueError(
                f"{self.name}: an endpoint without a model field has one entry, named {self.name!r}"
            )
        return self

    @property
    def implicit_model(self) -> str | None:
        """The name standing for the model of an endpoint without a ``model`` field."""
        return None if self.model_field else self.name


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
    min_length: int | None = Field(
        default=None, ge=0, description="Shortest text, in UTF-16 code units as the API counts."
    )
    max_length: int | None = Field(
        default=None, ge=0, description="Longest text, in UTF-16 code units as the API counts."
    )
    pattern: str | None = Field(
        default=None, description="A regular expression a free-text value must match."
    )
    pixel_area: tuple[int, int] | None = Field(
        default=None,
        description=(
            "For a free 'W:H' size string: the inclusive bounds of its area, width x height in "
            "pixels (the listed values of the field's enum are taken as they are)."
        ),
    )
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
    output_follows_input: bool = Field(
        default=True,
        description=(
            "False when the model's output on an endpoint that usually keeps its input's length "
            "(video_to_video, ...) has its own length: an omitted duration is then "
            "duration_range, not the input's length."
        ),
    )
    output_media: Media | None = None
    output_count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "How many outputs one generation makes when the request does not say: the default "
            "of its outputCount, or the fixed number of a model without one."
        ),
    )
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


class NestedSpeechRate(_Strict):
    """An endpoint whose output is as long as the speech of a text at a nested request path
    (an avatar video's ``speech.text``), read at the overlay's ``speech_rate``."""

    endpoint: str
    text_path: tuple[str, ...]
    source: str


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
    spoken_texts: tuple[NestedSpeechRate, ...] = Field(
        default=(),
        description=(
            "Other endpoints whose output lasts as long as a text spoken at speech_rate "
            "(avatar videos of a script)."
        ),
    )
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
    field_floors: dict[str, FieldPatch] = Field(
        default_factory=dict,
        description=(
            "By top-level request field, a lower bound for every model whose SDK type and own "
            "patch give that field none (a duration is never negative)."
        ),
    )
    resource_fields: dict[str, dict[str, FieldPatch]] = Field(
        default_factory=dict,
        description=(
            "By resource body (``realtime_session_create``, ...), hand-kept constraints on its "
            "fields, as ``models[...].fields`` are for a model's request."
        ),
    )
    sources: dict[str, str] = Field(default_factory=dict)

    @property
    def largest_upload(self) -> int:
        """The most bytes the API takes for any asset (through ``/v1/uploads``)."""
        return max(limits.upload for limits in self.asset_limits.values())


Confidence = Literal["high", "medium", "low"]
"""How far a price can be trusted: high (official, or several agreeing sources), medium (one
sourced figure, or sources that differ in a detail), low (one unconfirmed source: priced as
unknown unless the spec gives the price)."""

When = dict[str, tuple[Scalar, ...]]
"""Request fields (or ``derived`` names, or ``endpoint``) and the values that select a rule."""


class PriceRate(_Strict):
    """A rate that applies when every ``when`` field of the request has one of the listed values.

    ``up_to`` makes the rate a range (``credits`` to ``up_to``) when only the span is published.
    """

    when: When = Field(default_factory=dict)
    credits: Credits
    up_to: Credits | None = None
    confidence: Confidence | None = Field(
        default=None, description="The rate's own confidence, when lower than the price's."
    )


class Derived(_Strict):
    """A value derived from a request field (a resolution tier from a ratio) for ``when`` to test.

    ``map`` takes the field's value (as text) to the derived value; a value not in it takes
    ``otherwise``.  An omitted field takes ``default`` when the API documents one; else the
    price is the range over every derived value.
    """

    field: str
    map: dict[str, str]
    default: str | None = None
    otherwise: str | None = None


class Surcharge(_Strict):
    """Credits added to a generation's base price.

    ``per`` is what is counted: ``item`` (entries of the list ``fields``, or 1 for a single
    value; with ``match``, only entries whose fields have those values), ``input_second`` (the
    combined length of the media in ``fields``, at most ``max_seconds``), ``output_second`` or
    ``generation`` (once).  It applies when ``when`` matches; it is charged once per request
    unless ``per_output`` (then times ``count_field``).  ``possible`` marks a charge that
    depends on what the request does not say (it names the condition): it raises the high
    end only.
    """

    per: Literal["item", "input_second", "output_second", "generation"]
    credits: Credits
    label: str
    fields: tuple[str, ...] = ()
    match: When = Field(default_factory=dict)
    when: When = Field(default_factory=dict)
    per_output: bool = False
    max_seconds: BlockSize | None = None
    possible: str | None = None


class Price(_Strict):
    """How one model is billed.

    ``unit`` is what is counted: ``output_second`` (video or audio length), ``image`` (one per
    output image, times ``count_field``), ``characters`` (of ``text_field``), ``input_second``
    (length of ``input_field``'s media), ``frame`` (output frames: ``fps`` times the output
    length), ``generation`` (flat).  ``per`` units make one block; blocks are rounded by
    ``rounding`` and multiplied by the first matching rate; ``minimum`` floors that, then
    ``surcharges`` are added; the total is rounded to whole credits by ``total_rounding``
    (``unknown``: the API bills whole credits by an undocumented rule, so a fractional total is
    the range [floor, ceil]).  ``billed_at_maximum`` names request values (``duration:
    [auto]``) for which the API charges the longest output up front and refunds the rest.
    """

    unit: Literal["output_second", "image", "characters", "input_second", "frame", "generation"]
    rates: tuple[PriceRate, ...]
    per: BlockSize = Decimal(1)
    rounding: Literal["ceil", "none"] = "none"
    count_field: str | None = None
    text_field: str | None = None
    input_field: str | None = None
    fps: tuple[BlockSize, BlockSize] | None = Field(
        default=None, description="Bounds on the output frame rate, for the frame unit."
    )
    derived: dict[str, Derived] = Field(default_factory=dict)
    minimum: Credits | None = None
    surcharges: tuple[Surcharge, ...] = ()
    total_rounding: Literal["unknown", "ceil", "none"] = "unknown"
    billed_at_maximum: When = Field(default_factory=dict)
    endpoints: dict[str, Price] = Field(
        default_factory=dict,
        description="A different price for the model on these endpoints (the whole price).",
    )
    defaults: dict[str, Scalar] = Field(
        default_factory=dict, description="Request defaults the API documents, used for pricing."
    )
    unknown_defaults: tuple[str, ...] = Field(
        default=(), description="Fields whose default the API does not document: priced as a range."
    )
    source: str
    checked: str
    confidence: Confidence = Field(
        default="high",
        description=(
            "How far the figure can be trusted: high (official, or several agreeing sources), "
            "medium (one sourced figure, or sources that differ in a detail), low (one "
            "unconfirmed source: the model is then priced as unknown unless asked for)."
        ),
    )

    @model_validator(mode="after")
    def _one_level_of_endpoints(self) -> Price:
        if any(variant.endpoints for variant in self.endpoints.values()):
            raise ValueError("an endpoint's price cannot have endpoints of its own")
        if self.unit == "frame" and self.fps is None:
            raise ValueError("a frame price needs fps (the bounds of the output frame rate)")
        return self

    def on(self, endpoint: str) -> Price:
        """The price that applies on ``endpoint``."""
        return self.endpoints.get(endpoint, self)


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
