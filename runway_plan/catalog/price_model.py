"""The price model: ``prices.yaml``'s rates, derived values, surcharges and prices.

Hand-kept, each figure with its source; ``plan/cost.py`` interprets it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from runway_plan.catalog.field_types import BlockSize, Credits, Scalar, Strict

Confidence = Literal["high", "medium", "low"]
"""How far a price can be trusted: high (official, or several agreeing sources), medium (one
sourced figure, or sources that differ in a detail), low (one unconfirmed source: priced as
unknown unless the spec gives the price)."""

When = dict[str, tuple[Scalar, ...]]
"""Request fields (or ``derived`` names, or ``endpoint``) and the values that select a rule."""


class PriceRate(Strict):
    """A rate that applies when every ``when`` field of the request has one of the listed values.

    ``up_to`` makes the rate a range (``credits`` to ``up_to``) when only the span is published.
    """

    when: When = Field(default_factory=dict)
    credits: Credits
    up_to: Credits | None = None
    confidence: Confidence | None = Field(
        default=None, description="The rate's own confidence, when lower than the price's."
    )


class Derived(Strict):
    """A value derived from a request field (a resolution tier from a ratio) for ``when`` to test.

    ``map`` takes the field's value (as text) to the derived value; a value not in it takes
    ``otherwise``.  An omitted field takes ``default`` when the API documents one; else the
    price is the range over every derived value.
    """

    field: str
    map: dict[str, str]
    default: str | None = None
    otherwise: str | None = None


class Surcharge(Strict):
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


class Price(Strict):
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


class Prices(Strict):
    """``prices.yaml``: hand-kept prices; a model absent here is priced as unknown."""

    version: str
    usd_per_credit: Annotated[Decimal, Field(gt=0, le=1, max_digits=19, decimal_places=12)]
    models: dict[str, Price]
    unknown: dict[str, str] = Field(
        default_factory=dict, description="Models with no known price, and why."
    )
