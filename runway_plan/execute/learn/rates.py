"""Rates grouped per model and condition, drift, and the learned price entry written only
after it re-prices every task it rests on back to its bill.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import Price, PriceRate
from runway_plan.execute.learn.model import (
    Bill,
    Drift,
    Observation,
    Observed,
    RateGroup,
    count_text,
)
from runway_plan.execute.learn.observe import PER_GENERATION
from runway_plan.execute.learn.pricing import cost_of, natural_price, with_price
from runway_plan.plan.cost import (
    format_credits,
    lowest_confidence,
)
from runway_plan.plan.rule import rate_unit

__all__ = ["drift", "learned_entry", "origin_host", "self_check", "summarize"]


def summarize(observed: Observed, catalog: Catalog) -> dict[str, list[RateGroup]]:
    """Per model, its observed rates grouped by the unit, the endpoint price and the condition
    of its price."""
    grouped: dict[tuple[str, str, str, int], dict[Decimal, list[Observation]]] = {}
    for item in observed.observations:
        key = (item.model, item.unit, item.variant, item.condition)
        grouped.setdefault(key, {}).setdefault(item.rate, []).append(item)
    result: dict[str, list[RateGroup]] = {}
    for (model, unit, variant, condition), rates in sorted(grouped.items()):
        endpoint = rates[next(iter(rates))][0].endpoint
        listed = catalog.price(model)
        price = (
            PER_GENERATION
            if unit == "generation"
            else listed.on(endpoint)
            if listed is not None
            else natural_price(catalog, endpoint, model)
        )
        if price is None:
            continue
        group = RateGroup(
            model,
            price,
            condition,
            {rate: tuple(items) for rate, items in sorted(rates.items())},
            variant,
        )
        result.setdefault(model, []).append(group)
    return result


def drift(observed: Observed) -> list[Drift]:
    """Where a bill falls outside what the catalog's price gives for that task's request,
    grouped by model, endpoint price and condition."""
    grouped: dict[tuple[str, str, int], list[Bill]] = {}
    for bill in observed.bills:
        if bill.drifted:
            key = (bill.model, bill.variant, -1 if bill.condition is None else bill.condition)
            grouped.setdefault(key, []).append(bill)
    return [Drift(tuple(bills)) for _key, bills in sorted(grouped.items())]


def origin_host(origin: str) -> str:
    """The host of an API origin, for short provenance."""
    return urlsplit(origin).netloc or origin


_IDS_KEPT = 10


def _learned_rates(price: Price, groups: Sequence[RateGroup], variant: str) -> Price:
    """``price`` with the rates ``groups`` taught; a rate kept from the catalog keeps the
    catalog's confidence in it (the learned entry's own confidence is the tasks')."""
    taught = {g.condition: g.rate for g in groups if g.variant == variant}
    rates = []
    for index, listed in enumerate(price.rates):
        if index in taught:
            rates.append(PriceRate(when=listed.when, credits=taught[index]))
            continue
        kept = lowest_confidence(price.confidence, listed.confidence)
        rates.append(listed.model_copy(update={"confidence": None if kept == "high" else kept}))
    return price.model_copy(update={"rates": tuple(rates)})


def self_check(model: str, price: Price, tasks: Sequence[Observation], catalog: Catalog) -> str:
    """Why re-pricing ``tasks`` with ``price`` does not give back each one's bill exactly
    (empty when it does): the exact figure must be the amount billed (or the estimate the
    bill was rounded up from) and the bill within the whole-credit range.  A task whose blocks
    were measured on its output (the request does not fix them) must be covered."""
    priced = with_price(catalog, model, price)
    for task in tasks:
        try:
            cost = cost_of(priced, task.endpoint, task.body, task.root)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            return f"task {task.task_id} cannot be re-priced ({exc})"
        if cost.unknown:
            return f"task {task.task_id} cannot be re-priced: {cost.reasons[0]}"
        covered = cost.low <= task.billed <= cost.high
        exact = cost.blocks_low == cost.blocks_high and cost.estimate == task.amount
        if not covered or not (exact or task.measured):
            shown = format_credits(cost.low) + (
                f"-{format_credits(cost.high)}" if cost.high != cost.low else ""
            )
            return (
                f"re-priced with the learned rates, task {task.task_id} comes to {shown} "
                f"credits, not the {format_credits(task.amount)} billed"
            )
    return ""


def learned_entry(
    model: str, groups: Sequence[RateGroup], catalog: Catalog, today: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``runway-prices.yaml`` entry for ``model`` (the schema of ``prices.yaml``'s
    ``models:`` and a ``learned:`` block), or None; and what stands in its way.

    The catalog's whole price of a priced model is kept (tiers, minimum, surcharges, the
    prices of other endpoints), its rates replaced where tasks taught one; an unpriced model
    gets its endpoint's natural unit.  A group whose tasks disagree is reported and the model
    is not written; nor is it when re-pricing the tasks with the entry does not give back
    every bill (:func:`self_check`): a learned price never under-prices what it rests on.
    """
    notes: list[str] = []
    for group in groups:
        if not group.agrees:
            shown = ", ".join(
                f"{format_credits(rate)}{rate_unit(group.price)} ({count_text(len(items))}, "
                f"e.g. {items[0].task_id})"
                for rate, items in group.rates.items()
            )
            notes.append(f"{group.label}: tasks disagree ({shown}); not learned, not averaged")
    units = sorted({o.unit or g.price.unit for g in groups for o in g.tasks if not g.variant})
    if len(units) > 1:
        notes.append(
            f"{model}: some tasks give an exact rate per {units[0]}, others only per "
            f"{units[1]}; not learned"
        )
    if notes or not groups:
        return None, notes
    price = _learned_rates(catalog.price(model) or groups[0].price, groups, "")
    variants = {g.variant for g in groups if g.variant}
    if variants:
        endpoints = dict(price.endpoints)
        for variant in variants:
            endpoints[variant] = _learned_rates(endpoints[variant], groups, variant)
        price = price.model_copy(update={"endpoints": endpoints})
    tasks = sorted((o for g in groups for o in g.tasks), key=lambda o: (o.finished_at, o.task_id))
    confidence = "high" if len(tasks) > 1 else "medium"
    if variants:
        price = price.model_copy(
            update={
                "endpoints": {
                    name: variant.model_copy(update={"confidence": confidence})
                    if name in variants
                    else variant
                    for name, variant in price.endpoints.items()
                }
            }
        )
    price = price.model_copy(update={"confidence": confidence})
    failed = self_check(model, price, tasks, catalog)
    if failed:
        return None, [f"{model}: not learnable from these tasks: {failed}"]
    total = len(price.rates) + sum(len(v.rates) for v in price.endpoints.values())
    origins = sorted({o.origin for o in tasks if o.origin})
    rounded = any(o.rounded for o in tasks)
    extra = any(o.extra for o in tasks)
    kept = total - len(groups)
    learned_price = price.model_copy(
        update={
            "source": (
                f"runway-plan prices learn: billed costs of {count_text(len(tasks))}"
                + (f" at {', '.join(origin_host(o) for o in origins)}" if origins else "")
                + ("; whole-credit bills read from their estimatedCost" if rounded else "")
                + ("; the catalog's surcharges subtracted" if extra else "")
                + (f"; {kept} rate(s) kept from the catalog" if kept > 0 else "")
            ),
            "checked": today,
            "confidence": confidence,
        }
    )
    entry = learned_price.model_dump(mode="json", exclude_defaults=True)
    entry["source"] = learned_price.source
    entry["checked"] = today
    entry["confidence"] = learned_price.confidence
    entry["learned"] = {
        "tasks": len(tasks),
        "task_ids": [o.task_id for o in tasks[-_IDS_KEPT:]][::-1],
        "first": tasks[0].date,
        "last": tasks[-1].date,
        "origin": ", ".join(origins),
    }
    return entry, []
