"""How the emulator prices a task: a :class:`Pricer`, by default the planner's own pricing.

The emulator has no prices of its own.  :func:`planner_pricer` wraps
:func:`runway_plan.plan.cost.price_generation`, so ``estimatedCost`` on a task is exactly what
``runway-plan plan`` predicts for the same request; a test or a user can inject any other
pricer.

Before calling a pricer the emulator replaces every media input it holds (a ``runway://``
upload, one of its own output URLs, a data URI) with the path of a local file of the same
bytes, so a pricer that bills by input length (act_two, dubbing, ...) can measure it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from runway_plan.catalog import Catalog
from runway_plan.compile import compile_request

__all__ = ["Pricer", "planner_pricer", "warm_up"]


class Pricer(Protocol):
    """Prices one request: the most credits it may charge, or None when that is unknown.

    ``body`` is the request as sent, except that media inputs the emulator holds are local
    file paths (see the module docstring).
    """

    def __call__(self, endpoint: str, body: Mapping[str, Any], /) -> Decimal | None: ...


def warm_up() -> None:
    """Import the planner now (it is imported on first use, to keep start-up fast)."""
    import runway_plan.plan.cost  # noqa: F401


def planner_pricer(catalog: Catalog) -> Pricer:
    """A pricer that asks the planner (:mod:`runway_plan.plan.cost`) for the highest price."""

    def price(endpoint: str, body: Mapping[str, Any], /) -> Decimal | None:
        from runway_plan.plan.cost import price_generation

        graph = compile_request(catalog, endpoint, dict(body))
        cost = price_generation(graph.generations["request"], graph, catalog)
        return None if cost.unknown else cost.high

    return price
