"""What learning found: observations, bills, skipped tasks, rate groups and drift."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from runway_plan.catalog.model import Price, Scalar
from runway_plan.files import Root
from runway_plan.plan.cost import (
    format_credits,
)
from runway_plan.plan.rule import rate_unit, when_text

__all__ = ["Bill", "Drift", "Observation", "Observed", "RateGroup", "Skipped", "count_text"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One billed task whose rate is identifiable: what it counted, what it cost, the rate.

    ``body`` is the recorded request with its media inputs replaced by the files they were
    measured on (inside ``root``), to re-price it; ``amount`` is what the rate explains (the
    bill, or the estimate it was rounded up from) and ``extra`` the surcharges subtracted.
    """

    model: str
    endpoint: str
    task_id: str
    finished_at: float
    origin: str
    state: str
    billed: Decimal
    estimated: Decimal | None
    blocks: Decimal
    rate: Decimal
    condition: int
    rounded: bool = False
    unit: str = ""
    """``generation`` when an unpriced model's natural unit gave no exact rate."""
    variant: str = ""
    """The endpoint whose own price (``endpoints:``) the task was billed by, else empty."""
    extra: Decimal = Decimal(0)
    measured: bool = False
    """True when the blocks were measured on the stored output (the request does not fix them)."""
    body: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    root: Root | None = field(default=None, compare=False, repr=False)

    @property
    def date(self) -> str:
        """The UTC day the task ended."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.finished_at))

    @property
    def amount(self) -> Decimal:
        """What the price must give back: the bill, or the estimate it was rounded up from."""
        return (self.estimated or self.billed) if self.rounded else self.billed


@dataclass(frozen=True, slots=True)
class Bill:
    """One billed task of a model the catalog prices, and the catalog's range for its request."""

    model: str
    task_id: str
    finished_at: float
    billed: Decimal
    low: Decimal
    high: Decimal
    variant: str
    condition: int | None
    rate: Decimal | None
    unit_price: Price

    @property
    def date(self) -> str:
        """The UTC day the task ended."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.finished_at))

    @property
    def drifted(self) -> bool:
        """True when the bill falls outside what the catalog gives for the request."""
        return not self.low <= self.billed <= self.high


@dataclass(frozen=True, slots=True)
class Skipped:
    """A billed task no rate could be derived from, and why."""

    model: str
    task_id: str
    reason: str


@dataclass
class Observed:
    """What the states taught: observations, bills of priced models, skipped tasks,
    unreadable states."""

    observations: list[Observation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    tasks: int = 0


@dataclass(frozen=True)
class RateGroup:
    """The tasks of one model under one condition of its price (``when``), by rate.

    ``price`` is the price the tasks were billed by (the model's own on the endpoint
    ``variant``, when it has one).
    """

    model: str
    price: Price
    condition: int
    rates: dict[Decimal, tuple[Observation, ...]]
    variant: str = ""

    @property
    def when(self) -> dict[str, tuple[Scalar, ...]]:
        """The fields and values the group's requests matched."""
        return dict(self.price.rates[self.condition].when) if self.price.rates else {}

    @property
    def agrees(self) -> bool:
        """True when every task of the group was billed the same rate."""
        return len(self.rates) == 1

    @property
    def tasks(self) -> tuple[Observation, ...]:
        """Every task of the group, oldest first."""
        found = [o for group in self.rates.values() for o in group]
        return tuple(sorted(found, key=lambda o: (o.finished_at, o.task_id)))

    @property
    def rate(self) -> Decimal:
        """The rate, when the tasks agree (the first one otherwise)."""
        return next(iter(self.rates))

    @property
    def label(self) -> str:
        """The model, its endpoint price and its condition: ``gen4.5 (outputFormat=mp4)``."""
        return _label(self.model, self.variant, self.when)


def _label(model: str, variant: str, when: Mapping[str, Sequence[Scalar]]) -> str:
    where = f" on {variant}" if variant else ""
    condition = when_text(when, compact=True)
    return f"{model}{where}" + (f" ({condition})" if condition else "")


def count_text(items: int) -> str:
    return f"{items} task{'s' * (items != 1)}"


@dataclass(frozen=True)
class Drift:
    """Bills of one model (and condition) that fall outside the catalog's price for their
    requests."""

    bills: tuple[Bill, ...]

    def text(self) -> str:
        """``gen4.5 billed 14/s over 6 tasks since 2026-11-30; catalog 12/s`` when every
        task gives a rate, else ``seed_audio billed 3 over 1 task since ...; catalog 5 for
        that request``."""
        bills = sorted(self.bills, key=lambda b: (b.finished_at, b.task_id))
        first = bills[0]
        price = first.unit_price
        rates = [b.rate for b in bills]
        when = price.rates[first.condition].when if first.condition is not None else {}
        head = _label(first.model, first.variant, when)
        since = f"over {count_text(len(bills))} since {first.date}"
        if first.condition is not None and all(rate is not None for rate in rates):
            unit = rate_unit(price)
            listed = price.rates[first.condition]
            catalog = format_credits(listed.credits) + (
                f"-{format_credits(listed.up_to)}" if listed.up_to is not None else ""
            )
            billed = "/".join(
                format_credits(r) for r in sorted({r for r in rates if r is not None})
            )
            return f"{head} billed {billed}{unit} {since}; catalog {catalog}{unit}"
        billed = "/".join(format_credits(b) for b in sorted({b.billed for b in bills}))
        low, high = min(b.low for b in bills), max(b.high for b in bills)
        span = (
            format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"
        )
        those = "that request" if len(bills) == 1 else "those requests"
        return f"{head} billed {billed} credits {since}; catalog {span} for {those}"
