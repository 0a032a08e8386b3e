"""Pydantic models of the catalog: request constraints, overlay, prices and tiers.

The catalog is data.  ``constraints.json`` is generated from the official ``runwayml`` SDK's
request types by ``scripts/generate_catalog.py``; ``overlay.yaml`` (what the types leave out),
``prices.yaml`` and ``tiers.yaml`` are kept by hand, each fact with its source.

The type tree of a request field is in :mod:`runway_plan.catalog.field_types`, the price
model in :mod:`runway_plan.catalog.price_model`; both are importable from here too.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from runway_plan.catalog.field_types import (
    MAX_CREDITS,
    AnyType,
    ArrayType,
    BlockSize,
    BooleanType,
    Credits,
    EnumType,
    FieldSpec,
    IntegerType,
    MapType,
    Media,
    NullType,
    NumberType,
    ObjectType,
    Scalar,
    StringType,
    TypeNode,
    UnionType,
)
from runway_plan.catalog.field_types import Strict as _Strict
from runway_plan.catalog.price_model import (
    Confidence,
    Derived,
    Price,
    PriceRate,
    Prices,
    Surcharge,
    When,
)

__all__ = [
    "MAX_CREDITS",
    "AnyType",
    "ArrayType",
    "BlockSize",
    "BooleanType",
    "Confidence",
    "Constraints",
    "Credits",
    "Derived",
    "EndpointSpec",
    "EnumType",
    "FieldPatch",
    "FieldSpec",
    "InputDuration",
    "IntegerType",
    "LengthTolerance",
    "MapType",
    "Media",
    "ModelLimits",
    "ModelOverlay",
    "ModelSpec",
    "NestedSpeechRate",
    "NullType",
    "NumberType",
    "ObjectType",
    "Overlay",
    "Price",
    "PriceRate",
    "Prices",
    "RetiredModel",
    "Scalar",
    "SizeLimits",
    "SpeechRate",
    "StringType",
    "Surcharge",
    "Tier",
    "Tiers",
    "TypeNode",
    "UnionType",
    "When",
]


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
