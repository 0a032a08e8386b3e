"""The plan as the JSON document of ``docs/plan-json.md``, versioned by its ``version`` key:
fields are only ever added within a version.  Exact decimals are JSON strings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from runway_plan.diagnostics.display import json_chunks
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.plan.cost import Cost
from runway_plan.plan.model import GenerationPlan, Plan, StepPlan
from runway_plan.plan.resources import ResourcePlan

__all__ = [
    "JSON_SCHEMA_VERSION",
    "pair",
    "plan_json_chunks",
    "plan_to_dict",
    "resource_to_dict",
    "seconds",
]

JSON_SCHEMA_VERSION = 1


def pair(low: Decimal, high: Decimal) -> dict[str, str]:
    return {"low": _plain(low), "high": _plain(high)}


def _plain(value: Decimal) -> str:
    """An exact decimal as a JSON string: ``"50000"``, ``"0.84"``, ``"55.2"``."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def seconds(value: float) -> float:
    return round(value, 3)


def _cost_dict(plan: Plan, gen: GenerationPlan) -> dict[str, Any]:
    cost: Cost = gen.cost
    rate = plan.usd_per_credit
    slot = gen.slot
    return {
        "key": gen.key,
        "step": gen.step,
        "index": gen.index,
        "endpoint": gen.endpoint,
        "model": gen.model,
        "unit": cost.unit,
        "units": cost.units,
        "quantity": None if cost.unknown else pair(cost.quantity_low, cost.quantity_high),
        "per": _plain(cost.per),
        "blocks": None if cost.unknown else pair(cost.blocks_low, cost.blocks_high),
        "rate": None if cost.unknown else pair(cost.rate_low, cost.rate_high),
        "credits": None if cost.unknown else pair(cost.low, cost.high),
        "usd": None if cost.unknown else pair(cost.low * rate, cost.high * rate),
        "range": cost.is_range,
        "unknown": cost.unknown,
        "override": cost.override,
        "confidence": cost.confidence,
        "source": cost.source,
        "reasons": list(cost.reasons),
        "price_source": cost.source or None,
        "latency_s": seconds(gen.latency),
        "reuse": None if gen.reused is None else {"reused": gen.reused, "reason": gen.reuse_reason},
        "schedule": None
        if slot is None
        else {
            "pool": slot.pool,
            "slot": slot.slot,
            "start_s": seconds(slot.start),
            "end_s": seconds(slot.end),
            "day": slot.day,
        },
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as the JSON document of ``docs/plan-json.md`` (version 1)."""
    return _plan_dict(
        plan,
        [_step_dict(plan, s) for s in plan.steps],
        [_cost_dict(plan, g) for g in plan.generations.values()],
    )


def plan_json_chunks(plan: Plan) -> Iterator[str]:
    """The text of ``--format json`` (that of :func:`plan_to_dict`, and a final newline) in
    pieces made as they are written: each step's and generation's object exists only while
    it is encoded, so a plan of many generations is never held as one document."""
    steps = _Generated(len(plan.steps), lambda: (_step_dict(plan, s) for s in plan.steps))
    generations = _Generated(
        len(plan.generations), lambda: (_cost_dict(plan, g) for g in plan.generations.values())
    )
    yield from json_chunks(_plan_dict(plan, steps, generations))
    yield "\n"


class _Generated(list[Any]):
    """A JSON array of ``length`` items that ``make`` yields as the encoder reaches them; the
    pure-Python encoder that :func:`json_chunks` runs takes a list's length, then iterates it."""

    def __init__(self, length: int, make: Callable[[], Iterator[Any]]) -> None:
        super().__init__()
        self.length = length
        self.make = make

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[Any]:
        return self.make()


def _step_dict(plan: Plan, s: StepPlan) -> dict[str, Any]:
    rate = plan.usd_per_credit
    return {
        "name": s.name,
        "endpoint": s.endpoint,
        "model": s.model,
        "generations": list(s.generations),
        "units": s.units,
        "credits": pair(s.low, s.high),
        "usd": pair(s.low * rate, s.high * rate),
        "unknown_generations": s.unknown,
        "range": s.is_range,
        "confidence": s.confidence,
        "reasons": list(s.reasons),
        "fingerprint": s.fingerprint,
        "start_s": seconds(s.start),
        "end_s": seconds(s.end),
        "reused_generations": s.reused if plan.has_reuse else None,
        "run_credits": pair(s.run_low, s.run_high) if plan.has_reuse else None,
    }


def _plan_dict(plan: Plan, steps: list[Any], generations: list[Any]) -> dict[str, Any]:
    rate = plan.usd_per_credit
    sched = plan.schedule
    deadline = None
    if plan.deadline is not None:
        deadline = {
            "deadline_s": seconds(plan.deadline.deadline),
            "cheapest_tier": plan.deadline.cheapest,
            "tiers": [
                {
                    "tier": o.tier,
                    "makespan_s": seconds(o.makespan),
                    "meets_deadline": o.meets_deadline,
                    "within_monthly_cap": o.within_monthly_cap,
                    "monthly_cap_usd": _plain(o.monthly_cap_usd),
                }
                for o in plan.deadline.options
            ],
        }
    diagnostics = json.loads(render_diagnostics(plan.diagnostics, "json"))["diagnostics"]
    run = None
    if plan.has_reuse:
        run = {
            "state": plan.reuse_source,
            "credits": pair(plan.run_low, plan.run_high),
            "usd": pair(plan.run_low * rate, plan.run_high * rate),
            "generations": len(plan.generations) - plan.reused,
            "reused_generations": plan.reused,
            "unknown_generations": plan.run_unknown,
            "budgets_apply_to": "run",
            "saved": {
                "credits": pair(plan.saved_low, plan.saved_high),
                "usd": pair(plan.saved_low * rate, plan.saved_high * rate),
            },
        }
    return {
        "schema": "runway-plan/plan",
        "version": JSON_SCHEMA_VERSION,
        "name": plan.name,
        "source": plan.source,
        "catalog": {"version": plan.catalog_version, "digest": plan.catalog_digest},
        "limits": {"tier": plan.tier, "description": plan.limits},
        "usd_per_credit": _plain(rate),
        "total": {
            "credits": pair(plan.total_low, plan.total_high),
            "usd": pair(plan.total_low * rate, plan.total_high * rate),
            "generations": len(plan.generations),
            "unknown_generations": plan.unknown,
            "unknown_models": plan.unknown_models,
            "confidence": plan.confidence,
        },
        "run": run,
        "budgets": [
            {
                "source": b.source,
                "max_credits": _plain(b.max_credits),
                "exceeded": b.exceeded,
                "unpriced": b.unpriced,
            }
            for b in plan.budgets
        ],
        "monthly_cap": None
        if plan.monthly_cap_credits is None
        else {
            "credits": _plain(plan.monthly_cap_credits),
            "usd": _plain(plan.monthly_cap_credits * rate),
            "exceeded": plan.spend_high > plan.monthly_cap_credits,
        },
        "schedule": {
            "makespan_s": seconds(sched.makespan),
            "lower_bound_s": seconds(sched.lower_bound),
            "critical_path": list(sched.critical_path),
            "critical_path_s": seconds(sched.critical_path_seconds),
            "days": sched.days,
            "pools": [
                {
                    "pool": u.pool,
                    "max_concurrent": u.limits.max_concurrent,
                    "max_daily": u.limits.max_daily,
                    "used_today": u.limits.used_today,
                    "generations": u.generations,
                    "work_s": seconds(u.work),
                    "days": u.days,
                }
                for u in sorted(sched.pools.values(), key=lambda u: u.pool)
            ],
        },
        "deadline": deadline,
        "steps": steps,
        "generations": generations,
        "resources": None if plan.resources is None else resource_to_dict(plan.resources),
        "edges": [list(edge) for edge in plan.step_edges],
        "notes": list(plan.notes),
        "learned_prices": plan.learned_prices,
        "diagnostics": diagnostics,
    }


def resource_to_dict(resources: ResourcePlan) -> dict[str, Any]:
    """The ``resources`` object of the plan document (``docs/plan-json.md``)."""
    return {
        "state": resources.source,
        "live": resources.live,
        "counts": resources.counts,
        "drifted": resources.drifted if resources.live else None,
        "items": [
            {
                "kind": c.kind,
                "key": c.key,
                "name": c.name,
                "action": c.action,
                "remote_id": c.remote_id,
                "status": c.status,
                "changes": [
                    {"field": f.name, "old": f.old, "new": f.new, "detail": f.detail}
                    for f in c.fields
                ],
                "drift": list(c.drift),
                "notes": list(c.notes),
            }
            for c in resources.changes
        ],
        "notes": list(resources.notes),
    }
