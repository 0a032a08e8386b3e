"""Before a run: plan it once, then read the account (balance, monthly cap, live limits).

The plan is computed once, from the tier's limits and before any request, so a budget it
exceeds refuses the run without a word to the API.  When there is work to do, the organization
is read: its live concurrency replaces the plan's per-model limits (the planner's own, for a
model it does not list), and the credits the plan says this run may spend (``Plan.run_high``)
are checked against the balance and the monthly cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from runway_plan.catalog import Catalog
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, has_errors, make
from runway_plan.execute.client import ExecuteError, RequestRejected, RunwayClient
from runway_plan.execute.reuse import Reuse
from runway_plan.execute.runner.results import Proposal, RunOptions
from runway_plan.plan import Plan, PlanOptions, plan
from runway_plan.plan.cost import format_credits
from runway_plan.plan.live import Organization, parse_organization

__all__ = ["LIVE_LIMITS", "Preflight", "preflight"]

LIVE_LIMITS = "live limits (GET /v1/organization)"
"""How the run's limits are described once the organization was read."""


@dataclass
class Preflight:
    """What the preflight found: the plan, and either the refusals or what the run may do.

    ``concurrency`` is each model's slots, ``limits`` where they come from, ``budget`` the
    smallest budget the plan was checked against, and ``notes`` what the run should say
    before it starts (today's caps that will refuse part of the work)."""

    plan: Plan
    refusals: list[Diagnostic] | None = None
    proposal: Proposal | None = None
    budget: Decimal | None = None
    concurrency: dict[str, int] = field(default_factory=dict)
    limits: str = ""
    notes: list[str] = field(default_factory=list)


async def _organization(client: RunwayClient) -> Organization | Diagnostic:
    try:
        return parse_organization(await client.organization())
    except ExecuteError as exc:
        code = "RP500" if isinstance(exc, RequestRejected) else "RP510"
        return make(code, f"cannot read the organization: {exc}", None)
    except Exception as exc:  # the planner's parser raises its own error type
        return make("RP510", f"cannot read the organization: {exc}", None)


def _refusals(planned: Plan, live: Organization | None) -> list[Diagnostic]:
    needed = planned.run_high
    unpriced = planned.run_unknown
    refusals: list[Diagnostic] = []
    note = f" ({unpriced} unpriced generation(s) not counted)" if unpriced else ""
    if live is not None and live.credit_balance is not None and needed > live.credit_balance:
        refusals.append(
            make(
                "RP504",
                f"the run may cost {format_credits(needed)} credits{note}, more than the "
                f"organization's balance of {format_credits(Decimal(live.credit_balance))}",
                None,
                hint="buy credits, or run part of the spec",
            )
        )
    cap = live.max_monthly_credit_spend if live is not None else None
    if cap is not None and needed > cap:
        refusals.append(
            make(
                "RP504",
                f"the run may cost {format_credits(needed)} credits{note}, more than the "
                f"tier's monthly cap of {format_credits(Decimal(cap))} credits",
                None,
            )
        )
    return refusals


def _daily_notes(graph: Graph, live: Organization, work: Sequence[str]) -> list[str]:
    per_model: dict[str, int] = {}
    for key in work:
        model = graph.generations[key].model
        per_model[model] = per_model.get(model, 0) + 1
    notes = []
    for model, count in per_model.items():
        limits = live.models.get(model)
        if limits is not None and count > limits.max_daily - limits.used_today:
            left = max(0, limits.max_daily - limits.used_today)
            notes.append(
                f"{count} {model} generations to make, {left} left of today's cap of "
                f"{limits.max_daily}: the rest will be refused (429) until the window moves; "
                "rerun later"
            )
    return notes


async def preflight(
    graph: Graph,
    catalog: Catalog,
    client: RunwayClient,
    options: RunOptions,
    reuse: Mapping[str, Reuse],
    work: Sequence[str],
    *,
    reuse_source: str,
) -> Preflight:
    """Plan ``graph`` once (``reuse`` says what the state serves, ``work`` what is to be made)
    and, when there is work, read the organization; see the module docstring."""
    planned = plan(
        graph,
        catalog,
        PlanOptions(max_credits=options.max_credits, reuse=reuse, reuse_source=reuse_source),
    )
    if has_errors(planned.diagnostics):
        return Preflight(planned, planned.diagnostics)
    live: Organization | None = None
    if work:
        read = await _organization(client)
        if isinstance(read, Diagnostic):
            return Preflight(planned, [read])
        live = read
    refusals = _refusals(planned, live)
    if refusals:
        return Preflight(planned, refusals)
    concurrency = {model: limits.max_concurrent for model, limits in planned.pool_limits.items()}
    if live is not None:
        for model in concurrency:
            if model in live.models:
                concurrency[model] = live.models[model].max_concurrent
    budgets = [b.max_credits for b in planned.budgets]
    return Preflight(
        planned,
        proposal=Proposal(
            generations=len(work),
            reused=len(reuse) - len(work),
            credits=planned.run_high,
            usd=planned.run_high * planned.usd_per_credit,
            unpriced=planned.run_unknown,
        ),
        budget=min(budgets) if budgets else None,
        concurrency=concurrency,
        limits=LIVE_LIMITS if live is not None else planned.limits,
        notes=_daily_notes(graph, live, work) if live is not None else [],
    )
