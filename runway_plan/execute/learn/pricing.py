"""The catalog's prices of recorded requests: a request re-priced with the planner, and the
natural unit of a model the catalog cannot price."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import MAX_CREDITS, Price, PriceRate, StringType
from runway_plan.compile import compile_request
from runway_plan.files import Root
from runway_plan.plan.cost import Cost, price_generation

__all__ = ["UNPRICEABLE", "cost_of", "natural_price", "recorded_credits", "with_price"]

_AUDIO_IN = ("speech_to_speech", "voice_dubbing", "voice_isolation")


def _media_field(catalog: Catalog, endpoint: str, model: str) -> str | None:
    spec = catalog.model(endpoint, model)
    if spec is None:
        return None
    for name, node in spec.fields.items():
        if isinstance(node.type, StringType) and node.type.media in ("audio", "video"):
            return name
    return None


def natural_price(catalog: Catalog, endpoint: str, model: str) -> Price | None:
    """How an unpriced model is most likely billed, from what its endpoint makes (a rate of
    one credit, to count blocks with); None when its endpoint gives no natural unit."""
    base: dict[str, Any] = {"rates": (PriceRate(credits=Decimal(1)),), "source": "", "checked": ""}
    media = catalog.overlay.endpoint_output.get(endpoint)
    speech = catalog.overlay.speech_rate
    if speech is not None and endpoint == speech.endpoint:
        return Price(unit="characters", text_field=speech.text_field, **base)
    if endpoint in _AUDIO_IN:
        field_name = _media_field(catalog, endpoint, model)
        if field_name is None:
            return None
        return Price(unit="input_second", input_field=field_name, **base)
    if media in ("video", "audio"):
        return Price(unit="output_second", **base)
    if media == "image":
        spec = catalog.model(endpoint, model)
        count = "outputCount" if spec is not None and "outputCount" in spec.fields else None
        return Price(unit="image", count_field=count, **base)
    return None


def recorded_credits(value: Decimal | None) -> Decimal | None:
    """A credit amount read from a journal, refused unless runway-plan could have written it."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= MAX_CREDITS:
        raise ValueError("a recorded credit amount is not a finite number of credits")
    return value


def with_price(catalog: Catalog, model: str, price: Price) -> Catalog:
    """``catalog`` with ``price`` for ``model``."""
    return dataclasses.replace(
        catalog,
        prices=catalog.prices.model_copy(
            update={"models": {**catalog.prices.models, model: price}}
        ),
    )


def cost_of(catalog: Catalog, endpoint: str, body: Mapping[str, Any], root: Root | None) -> Cost:
    """What the planner prices a bare API request ``body`` of ``endpoint`` at."""
    graph = compile_request(catalog, endpoint, dict(body), root=root)
    return price_generation(graph.generations["request"], graph, catalog)


UNPRICEABLE = (ValueError, TypeError, KeyError, ArithmeticError, RecursionError)
"""What pricing a recorded request that runway-plan did not write may raise: that task is
skipped, the others are read."""
