"""Plan a validated graph: price every generation and schedule it against the tier's limits.

:func:`plan` turns a :class:`~runway_plan.compile.Graph` (free of errors: validate it first)
into a :class:`Plan`: per-generation and per-step costs in credits and dollars (exact, a range
with its reasons, or unknown, never zero), totals that are the exact sum of the steps, a
schedule with its makespan, critical path and lower bound, the days forced by daily caps, the
monthly spend cap, the budget check and, given a deadline, the cheapest tier that meets it.
Problems are diagnostics RP400-RP404 on ``Plan.diagnostics``.

Given what a run could take from its state (``reuse``: per generation key, an object with
``reusable`` and ``reason``, as :func:`runway_plan.execute.reusable` returns; this package
never reads the state itself), the plan also says what *this run* would make and spend: the
budget (RP400) and monthly cap (RP402) are checked against that, the schedule holds only the
generations to make, and the credits of the reused ones are reported as saved.

Renderers live in :mod:`runway_plan.plan.report`, the comparison of two plans in
:mod:`runway_plan.plan.diff`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from runway_plan.catalog import Catalog
from runway_plan.catalog.learned import LearnedPrice, with_learned
from runway_plan.catalog.model import Confidence
from runway_plan.compile import Generation, Graph
from runway_plan.diagnostics import Diagnostic, Span, make, sort_diagnostics
from runway_plan.plan.cost import (
    Cost,
    Pricer,
    format_credits,
    format_usd,
    lowest_confidence,
    price_generation,
)
from runway_plan.plan.live import ModelLimit, Organization
from runway_plan.plan.resources import ResourceChange, ResourceField, ResourcePlan
from runway_plan.plan.schedule import DAY, Limits, Schedule, Slot, schedule

__all__ = [
    "DAY",
    "Budget",
    "Cost",
    "DeadlineCheck",
    "GenerationPlan",
    "Limits",
    "Plan",
    "ResourceChange",
    "ResourceField",
    "ResourcePlan",
    "ReuseLike",
    "Schedule",
    "Slot",
    "StepPlan",
    "TierOption",
    "format_credits",
    "format_duration",
    "format_usd",
    "plan",
    "price_generation",
    "schedule",
]


def format_duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m 30s``, ``3h 05m``, ``2d 04h``."""
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


class ReuseLike(Protocol):
    """What the run state says of one generation (``runway_plan.execute.reuse.Reuse`` is one)."""

    @property
    def reusable(self) -> bool:
        """True when a run would take its outputs from the state instead of paying again."""
        ...

    @property
    def reason(self) -> str:
        """Why it is reused, or why it will be generated (new, promptText changed, ...)."""
        ...


@dataclass(frozen=True)
class GenerationPlan:
    """One generation's cost, latency estimate and place in the schedule.

    ``reused`` is None when the plan knows nothing of a run state; otherwise True when a run
    would take the generation from the state (it then has no slot), with ``reuse_reason``.
    """

    key: str
    step: str
    index: int | None
    endpoint: str
    model: str
    cost: Cost
    latency: float
    pool: str
    slot: Slot | None
    request: Mapping[str, Any]
    reused: bool | None = None
    reuse_reason: str = ""


@dataclass(frozen=True)
class StepPlan:
    """A step: the sum of its generations (one, or one per fan-out item).

    ``reused`` counts the generations a run would take from the state; ``run_low``,
    ``run_high`` and ``run_unknown`` are the cost of the others (the whole step without a
    state).
    """

    name: str
    endpoint: str
    model: str
    generations: tuple[str, ...]
    low: Decimal
    high: Decimal
    unknown: int
    units: str
    reasons: tuple[str, ...]
    fingerprint: str
    start: float
    end: float
    span: Span | None = None
    reused: int = 0
    run_low: Decimal = Decimal(0)
    run_high: Decimal = Decimal(0)
    run_unknown: int = 0
    confidence: Confidence = "high"
    """The lowest confidence of the prices its priced generations rest on."""

    @property
    def is_range(self) -> bool:
        """True when the step's priced part is a range."""
        return self.low != self.high


@dataclass(frozen=True)
class Budget:
    """A credit budget the plan was checked against, and where it came from.

    It is checked against what a run would spend (:attr:`Plan.spend_high`): with a state, the
    generations reused from it are left out.
    """

    source: str
    max_credits: Decimal
    exceeded: bool
    unpriced: int = 0
    """Generations to make whose price is unknown, so the budget cannot be checked."""


@dataclass(frozen=True)
class TierOption:
    """How the plan would fare on one tier, for ``--deadline``."""

    tier: int
    makespan: float
    meets_deadline: bool
    within_monthly_cap: bool
    monthly_cap_usd: Decimal


@dataclass(frozen=True)
class DeadlineCheck:
    """The deadline asked for, each tier's makespan, and the cheapest tier that meets it."""

    deadline: float
    options: tuple[TierOption, ...]
    cheapest: int | None


@dataclass
class Plan:
    """A priced and scheduled spec."""

    name: str
    source: str
    tier: int | None
    limits: str
    steps: list[StepPlan]
    generations: dict[str, GenerationPlan]
    step_edges: list[tuple[str, str]]
    total_low: Decimal
    total_high: Decimal
    unknown: int
    usd_per_credit: Decimal
    schedule: Schedule
    monthly_cap_credits: Decimal | None
    budgets: list[Budget] = field(default_factory=list)
    deadline: DeadlineCheck | None = None
    notes: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    catalog_version: str = ""
    catalog_digest: str = ""
    reuse_source: str | None = None
    """Where the reuse information came from (a state folder and API origin), or None."""
    run_low: Decimal = Decimal(0)
    run_high: Decimal = Decimal(0)
    run_unknown: int = 0
    resources: ResourcePlan | None = None
    """Documents and avatars: what a run would create, update or delete (set by the caller)."""
    learned_prices: list[dict[str, Any]] = field(default_factory=list)
    """The learned prices (``runway-prices.yaml``) the plan used: model, tasks, dates."""
    pool_limits: dict[str, Limits] = field(default_factory=dict)
    """Each model's limits the schedule used (the tier's, or the live organization's)."""

    @property
    def confidence(self) -> Confidence:
        """The lowest confidence of the prices the plan's figures rest on."""
        return lowest_confidence(*(s.confidence for s in self.steps))

    @property
    def has_reuse(self) -> bool:
        """True when the plan knows what a run would take from its state."""
        return self.reuse_source is not None

    @property
    def reused(self) -> int:
        """Generations a run would take from the state."""
        return sum(1 for g in self.generations.values() if g.reused)

    @property
    def saved_low(self) -> Decimal:
        """Credits (low end) of the reused generations."""
        return self.total_low - self.run_low

    @property
    def saved_high(self) -> Decimal:
        """Credits (high end) of the reused generations."""
        return self.total_high - self.run_high

    @property
    def spend_high(self) -> Decimal:
        """The high end of what a run would spend: this run's cost with a state, else the
        whole plan's.  Budgets and the monthly cap are checked against it."""
        return self.run_high

    @property
    def usd_high(self) -> Decimal:
        """The high total in US dollars."""
        return self.total_high * self.usd_per_credit

    @property
    def unknown_models(self) -> list[str]:
        """Models of the generations that could not be priced, sorted."""
        return sorted({g.model for g in self.generations.values() if g.cost.unknown})


def _fingerprint(generations: list[Generation]) -> str:
    data = [(g.endpoint, g.model, g.request) for g in generations]
    text = json.dumps(data, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _step_units(costs: list[Cost]) -> str:
    if len(costs) == 1:
        return costs[0].units
    shapes = {c.units for c in costs}
    if len(shapes) == 1:
        return f"{len(costs)} × {costs[0].units}"
    return f"{len(costs)} generations"


def _catalog_limits(catalog: Catalog, tier: int, model: str) -> Limits:
    groups = catalog.tier(tier).groups
    group = catalog.limit_group(model)
    limits = groups.get(group) or groups[catalog.tiers.default_group]
    return Limits(limits.max_concurrent, limits.max_daily)


def _live_limits(live: ModelLimit) -> Limits:
    return Limits(live.max_concurrent, live.max_daily, live.used_today)


class _Planner:
    def __init__(
        self,
        graph: Graph,
        catalog: Catalog,
        price_overrides: Mapping[str, Decimal],
        latency_overrides: Mapping[str, float],
    ) -> None:
        self.graph = graph
        self.catalog = catalog
        self.pricer = Pricer(graph, catalog, price_overrides)
        self.latency_overrides = latency_overrides
        self.costs = {key: self.pricer.price(gen) for key, gen in graph.generations.items()}
        self.latency = {key: self.estimate(gen) for key, gen in graph.generations.items()}

    def estimate(self, gen: Generation) -> float:
        if gen.model in self.latency_overrides:
            return float(self.latency_overrides[gen.model])
        overlay = self.catalog.model_overlay(gen.model)
        seconds = 0.0
        if overlay.latency_per_output_second:
            length = self.pricer.output_seconds(gen)
            seconds = float(length.high) if length is not None else 0.0
        return overlay.latency_seconds + overlay.latency_per_output_second * seconds

    def run_schedule(
        self, limit_of: Mapping[str, Limits], keys: set[str] | None = None
    ) -> Schedule:
        """Schedule every generation, or only ``keys`` (the others are taken as done)."""
        pools = {key: gen.model for key, gen in self.graph.generations.items()}
        nodes = [key for key in self.graph.generations if keys is None or key in keys]
        joins, edges = self.graph.dependencies(keys)
        return schedule([*nodes, *joins], edges, self.latency, pools, limit_of)

    def tier_limits(self, tier: int) -> dict[str, Limits]:
        models = {gen.model for gen in self.graph.generations.values()}
        return {model: _catalog_limits(self.catalog, tier, model) for model in models}


def plan(
    graph: Graph,
    catalog: Catalog,
    *,
    tier: int | None = None,
    max_credits: Decimal | int | None = None,
    price_overrides: Mapping[str, Decimal] | None = None,
    latency_overrides: Mapping[str, float] | None = None,
    live: Organization | None = None,
    deadline: float | None = None,
    source: str | None = None,
    reuse: Mapping[str, ReuseLike] | None = None,
    reuse_source: str | None = None,
    learned: Mapping[str, LearnedPrice] | None = None,
) -> Plan:
    """Price and schedule ``graph`` (which must be free of errors).

    ``tier`` defaults to the spec's; ``max_credits`` is a budget checked besides the spec's
    ``budget.max_credits``; ``price_overrides`` (model -> credits per generation) are added
    to the spec's ``prices:``; ``latency_overrides`` (model -> seconds per generation) replace
    the catalog's estimates; ``live`` limits (``GET /v1/organization``) replace the tier
    table's; ``deadline`` (seconds) asks for the cheapest tier whose schedule meets it.

    ``reuse`` (generation key -> what the run state says of it) makes the plan one of the
    next run: budgets, the monthly cap and the schedule then count only the generations that
    are not reusable; ``reuse_source`` names the state (shown in reports).

    ``learned`` prices (``runway-prices.yaml``, :mod:`runway_plan.catalog.learned`) replace
    the catalog's for their models; the spec's ``prices:`` and ``price_overrides`` win over
    them.  Each learned price the plan uses is named, with its tasks and date, in the notes
    and in ``Plan.learned_prices``.
    """
    spec = graph.spec
    source_map = graph.document.source_map
    overrides: dict[str, Decimal] = dict(spec.prices) if spec else {}
    overrides.update(price_overrides or {})
    used_models = {gen.model for gen in graph.generations.values()}
    used = {m: e for m, e in (learned or {}).items() if m in used_models and m not in overrides}
    catalog = with_learned(catalog, used)
    planner = _Planner(graph, catalog, overrides, latency_overrides or {})
    tier_number = tier if tier is not None else (spec.tier if spec else 1)
    notes: list[str] = [
        f"{model} priced from {entry.citation}" for model, entry in sorted(used.items())
    ]
    diagnostics: list[Diagnostic] = []

    models = sorted({gen.model for gen in graph.generations.values()})
    if live is not None:
        limit_of: dict[str, Limits] = {}
        for model in models:
            if model in live.models:
                limit_of[model] = _live_limits(live.models[model])
            else:
                limit_of[model] = _catalog_limits(catalog, tier_number, model)
                notes.append(
                    f"the organization lists no limits for {model}; tier {tier_number}'s "
                    "catalog limits are used"
                )
        limits_text = "live limits (GET /v1/organization)"
        plan_tier: int | None = None
    else:
        limit_of = planner.tier_limits(tier_number)
        limits_text = f"tier {tier_number} limits (tiers.yaml {catalog.tiers.version})"
        plan_tier = tier_number
    reused_keys: set[str] = set()
    if reuse is not None:
        reused_keys = {key for key in graph.generations if key in reuse and reuse[key].reusable}
        reuse_source = reuse_source or "run state"
    else:
        reuse_source = None
    to_run = set(graph.generations) - reused_keys if reuse_source is not None else None
    timeline = planner.run_schedule(limit_of, to_run)

    steps: list[StepPlan] = []
    generations: dict[str, GenerationPlan] = {}
    names = [name for name in (spec.steps if spec else graph.steps) if name in graph.steps]
    for name in names:
        node = graph.steps[name]
        gens = [graph.generations[key] for key in node.generations]
        costs = [planner.costs[g.key] for g in gens]
        for gen, cost in zip(gens, costs, strict=True):
            item = reuse.get(gen.key) if reuse is not None else None
            generations[gen.key] = GenerationPlan(
                key=gen.key,
                step=name,
                index=gen.index,
                endpoint=gen.endpoint,
                model=gen.model,
                cost=cost,
                latency=planner.latency[gen.key],
                pool=gen.model,
                slot=timeline.slots.get(gen.key),
                request=gen.request,
                reused=None if reuse_source is None else gen.key in reused_keys,
                reuse_reason="" if reuse_source is None else (item.reason if item else "new"),
            )
        priced = [c for c in costs if not c.unknown]
        running = [c for g, c in zip(gens, costs, strict=True) if g.key not in reused_keys]
        running_priced = [c for c in running if not c.unknown]
        reasons = list(dict.fromkeys(r for c in costs for r in c.reasons))
        slots = [timeline.slots[g.key] for g in gens if g.key in timeline.slots]
        steps.append(
            StepPlan(
                name=name,
                endpoint=node.step.endpoint,
                model=node.step.model,
                generations=tuple(node.generations),
                low=sum((c.low for c in priced), Decimal(0)),
                high=sum((c.high for c in priced), Decimal(0)),
                unknown=len(costs) - len(priced),
                units=_step_units(costs) if costs else "no generations",
                reasons=tuple(reasons),
                fingerprint=_fingerprint(gens),
                start=min((s.start for s in slots), default=0.0),
                end=max((s.end for s in slots), default=0.0),
                span=node.span,
                reused=len(gens) - len(running),
                run_low=sum((c.low for c in running_priced), Decimal(0)),
                run_high=sum((c.high for c in running_priced), Decimal(0)),
                run_unknown=len(running) - len(running_priced),
                confidence=lowest_confidence(*(c.confidence for c in priced)),
            )
        )
    total_low = sum((s.low for s in steps), Decimal(0))
    total_high = sum((s.high for s in steps), Decimal(0))
    unknown = sum(s.unknown for s in steps)
    run_low = sum((s.run_low for s in steps), Decimal(0))
    run_high = sum((s.run_high for s in steps), Decimal(0))
    run_unknown = sum(s.run_unknown for s in steps)
    spend_unknown = run_unknown if reuse_source is not None else unknown
    unpriced_models = sorted(
        {s.model for s in steps if (s.run_unknown if reuse_source is not None else s.unknown)}
    )
    what = "this run" if reuse_source is not None else "the plan"
    saved_note = (
        f" ({format_credits(total_high - run_high)} of the plan's {format_credits(total_high)} "
        "are reused from the run state)"
        if reuse_source is not None and run_high != total_high
        else ""
    )
    usd = catalog.prices.usd_per_credit

    for step in steps:
        if step.unknown:
            first = next(
                r
                for g in step.generations
                for r in planner.costs[g].reasons
                if planner.costs[g].unknown
            )
            count = f"{step.unknown} generation{'s' * (step.unknown != 1)}"
            known = catalog.price(step.model)
            untrusted = all(planner.costs[g].confidence == "low" for g in step.generations)
            unpriced = (known is None or untrusted) and step.model not in overrides
            hint = (
                f"give it a price in the spec: `prices: {{{step.model}: CREDITS}}` "
                "(credits per generation)"
                if unpriced
                else "give the input a known length (a local file or an upstream step with a "
                "duration), or a spec price"
            )
            diagnostics.append(
                make(
                    "RP401",
                    f"step '{step.name}' ({step.model}, {count}) cannot be priced and is "
                    f"counted as unknown, not zero: {first}",
                    step.span,
                    hint=hint,
                )
            )
        elif step.is_range:
            diagnostics.append(
                make(
                    "RP404",
                    f"step '{step.name}' costs {format_credits(step.low)}-"
                    f"{format_credits(step.high)} credits: {'; '.join(step.reasons)}",
                    step.span,
                )
            )

    budgets: list[Budget] = []
    checks: list[tuple[str, Decimal, Span | None]] = []
    if spec is not None and spec.budget.max_credits is not None:
        checks.append(
            (
                "budget.max_credits",
                spec.budget.max_credits,
                source_map.value(("budget", "max_credits")),
            )
        )
    if max_credits is not None:
        checks.append(("--max-credits", Decimal(max_credits), None))
    for origin, limit, span in checks:
        exceeded = run_high > limit
        budgets.append(Budget(origin, limit, exceeded, spend_unknown))
        if spend_unknown and not exceeded:
            diagnostics.append(
                make(
                    "RP405",
                    f"{origin} {format_credits(limit)} cannot be checked: {spend_unknown} "
                    f"generation(s) to make have no known price ({', '.join(unpriced_models)})",
                    span,
                    hint="give each model a price in the spec (`prices: {model: credits per "
                    "generation}`), or remove the budget",
                )
            )
        if exceeded:
            ranged = " (the high end of its range)" if run_high != run_low else ""
            diagnostics.append(
                make(
                    "RP400",
                    f"{what} costs up to {format_credits(run_high)} credits "
                    f"(${format_usd(run_high * usd)}){ranged}, over {origin} "
                    f"{format_credits(limit)} by {format_credits(run_high - limit)}{saved_note}",
                    span,
                    hint=f"{spend_unknown} unpriced generation(s) are not counted"
                    if spend_unknown
                    else None,
                )
            )

    if live is not None and live.max_monthly_credit_spend is not None:
        monthly_cap: Decimal | None = Decimal(live.max_monthly_credit_spend)
        cap_origin = "the organization's monthly spend cap"
    elif live is None:
        monthly_cap = catalog.tier(tier_number).max_monthly_spend_usd / usd
        cap_origin = f"tier {tier_number}'s monthly spend cap"
    else:
        monthly_cap = None
        cap_origin = ""
    if monthly_cap is not None and run_high > monthly_cap:
        tier_span = source_map.value(("tier",)) if spec is not None and tier is None else None
        diagnostics.append(
            make(
                "RP402",
                f"{what} costs up to {format_credits(run_high)} credits "
                f"(${format_usd(run_high * usd)}), more than {cap_origin} of "
                f"{format_credits(monthly_cap)} credits (${format_usd(monthly_cap * usd)})"
                f"{saved_note}",
                tier_span,
                hint="a higher tier (or spreading the work over several months) is needed",
            )
        )

    if timeline.days > 1:
        binding = max(timeline.pools.values(), key=lambda u: (u.days, u.generations))
        diagnostics.append(
            make(
                "RP403",
                f"daily generation caps stretch the plan over {timeline.days} days: "
                f"{binding.generations} {binding.pool} generations at "
                f"{binding.limits.max_daily} a day ({limits_text})",
                None,
                hint="a higher tier raises the daily caps",
            )
        )

    check: DeadlineCheck | None = None
    if deadline is not None:
        options = []
        for number in sorted(
            catalog.tiers.tiers, key=lambda n: catalog.tier(n).max_monthly_spend_usd
        ):
            timeline_n = planner.run_schedule(planner.tier_limits(number), to_run)
            cap_usd = catalog.tier(number).max_monthly_spend_usd
            options.append(
                TierOption(
                    tier=number,
                    makespan=timeline_n.makespan,
                    meets_deadline=timeline_n.makespan <= deadline,
                    within_monthly_cap=run_high * usd <= cap_usd,
                    monthly_cap_usd=cap_usd,
                )
            )
        cheapest = next(
            (o.tier for o in options if o.meets_deadline and o.within_monthly_cap), None
        )
        check = DeadlineCheck(deadline, tuple(options), cheapest)

    return Plan(
        name=spec.name if spec else "",
        source=source or source_map.path,
        tier=plan_tier,
        limits=limits_text,
        steps=steps,
        generations=generations,
        step_edges=_step_edges(graph),
        total_low=total_low,
        total_high=total_high,
        unknown=unknown,
        usd_per_credit=usd,
        schedule=timeline,
        monthly_cap_credits=monthly_cap,
        budgets=budgets,
        deadline=check,
        notes=notes,
        diagnostics=sort_diagnostics(diagnostics),
        catalog_version=catalog.version,
        catalog_digest=catalog.digest,
        reuse_source=reuse_source,
        run_low=run_low,
        run_high=run_high,
        run_unknown=run_unknown,
        learned_prices=[entry.to_dict() for _model, entry in sorted(used.items())],
        pool_limits=dict(limit_of),
    )


def _step_edges(graph: Graph) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for source, target in graph.edges:
        a, b = graph.generations[source].step, graph.generations[target].step
        if a != b:
            seen.setdefault((a, b), None)
    for step, needed in graph.needs.items():
        for name in needed:
            seen.setdefault((name, step), None)
    return list(seen)
