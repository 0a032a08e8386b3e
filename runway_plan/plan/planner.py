"""The planner: price every generation, schedule the run against the tier's (or the live)
limits, and check the budgets, the monthly spend cap, the daily caps and a deadline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from runway_plan.catalog import Catalog
from runway_plan.catalog.learned import with_learned
from runway_plan.catalog.routing import ROUTED
from runway_plan.compile import Generation, Graph
from runway_plan.diagnostics import Diagnostic, Span, make, sort_diagnostics
from runway_plan.plan.cost import Cost, Pricer, format_credits, format_usd, lowest_confidence
from runway_plan.plan.model import (
    Budget,
    DeadlineCheck,
    GenerationPlan,
    Plan,
    PlanOptions,
    StepPlan,
    TierOption,
)
from runway_plan.plan.resources import ResourcePlan
from runway_plan.plan.schedule import Limits, Schedule, schedule

__all__ = ["plan"]


def plan(graph: Graph, catalog: Catalog, options: PlanOptions | None = None) -> Plan:
    """Price and schedule ``graph`` (which must be free of errors) as ``options`` ask
    (:class:`PlanOptions`; none: the spec's tier, budget and prices, the catalog's limits)."""
    return _Planner(graph, catalog, options or PlanOptions()).plan()


@dataclass(frozen=True)
class _Totals:
    """The plan's credits: the whole plan's, and this run's (the same without a run state)."""

    low: Decimal
    high: Decimal
    unknown: int
    run_low: Decimal
    run_high: Decimal
    run_unknown: int

    @classmethod
    def of(cls, steps: list[StepPlan]) -> _Totals:
        return cls(
            low=sum((s.low for s in steps), Decimal(0)),
            high=sum((s.high for s in steps), Decimal(0)),
            unknown=sum(s.unknown for s in steps),
            run_low=sum((s.run_low for s in steps), Decimal(0)),
            run_high=sum((s.run_high for s in steps), Decimal(0)),
            run_unknown=sum(s.run_unknown for s in steps),
        )


class _Planner:
    """One plan's work: the prices and latencies of its generations, then each phase of
    :meth:`plan` in turn; diagnostics and notes gather on the planner."""

    def __init__(self, graph: Graph, catalog: Catalog, options: PlanOptions) -> None:
        self.graph = graph
        self.options = options
        self.spec = graph.spec
        self.source_map = graph.document.source_map
        self.overrides: dict[str, Decimal] = dict(self.spec.prices) if self.spec else {}
        self.overrides.update(options.price_overrides or {})
        used_models = {gen.model for gen in graph.generations.values()}
        self.learned = {
            m: e
            for m, e in (options.learned or {}).items()
            if m in used_models and m not in self.overrides
        }
        self.catalog = with_learned(catalog, self.learned)
        self.pricer = Pricer(graph, self.catalog, self.overrides)
        self.latency_overrides = options.latency_overrides or {}
        self.costs = {key: self.pricer.price(gen) for key, gen in graph.generations.items()}
        self.latency = {key: self.estimate(gen) for key, gen in graph.generations.items()}
        spec_tier = self.spec.tier if self.spec else 1
        self.tier = options.tier if options.tier is not None else spec_tier
        self.notes = [f"{m} priced from {e.citation}" for m, e in sorted(self.learned.items())]
        routed = sorted({g.endpoint for g in graph.generations.values() if g.endpoint in ROUTED})
        if routed:
            self.notes.append(
                f"{', '.join(routed)} run on the model their router picks, unknown before the "
                "run: they are scheduled, as a safe default, with the lowest limits (the "
                "'other' group of tiers.yaml), one pool per endpoint"
            )
        self.diagnostics: list[Diagnostic] = []
        reuse = options.reuse
        self.reused_keys: set[str] = set()
        self.reuse_source: str | None = None
        if reuse is not None:
            self.reused_keys = {
                key for key in graph.generations if key in reuse and reuse[key].reusable
            }
            self.reuse_source = options.reuse_source or "run state"
        self.to_run = (
            set(graph.generations) - self.reused_keys if self.reuse_source is not None else None
        )

    def resources(self) -> ResourcePlan | None:
        """The documents and avatars part: shown when the spec has resource nodes or the
        state records resources a run would delete."""
        found = self.options.resources
        graph = self.graph
        if found is None or not (
            graph.documents or graph.avatars or graph.routers or found.changes
        ):
            return None
        return found

    def plan(self) -> Plan:
        limit_of, limits_text, plan_tier = self.limits()
        timeline = self.run_schedule(limit_of, self.to_run)
        steps, generations = self.step_plans(timeline)
        totals = _Totals.of(steps)
        self.check_prices(steps)
        budgets = self.check_budgets(steps, totals)
        monthly_cap = self.check_monthly_cap(totals)
        self.check_daily_caps(timeline, limits_text)
        return Plan(
            name=self.spec.name if self.spec else "",
            source=self.options.source or self.source_map.path,
            tier=plan_tier,
            limits=limits_text,
            steps=steps,
            generations=generations,
            step_edges=_step_edges(self.graph),
            total_low=totals.low,
            total_high=totals.high,
            unknown=totals.unknown,
            usd_per_credit=self.catalog.prices.usd_per_credit,
            schedule=timeline,
            monthly_cap_credits=monthly_cap,
            budgets=budgets,
            deadline=self.check_deadline(totals),
            notes=self.notes,
            diagnostics=sort_diagnostics(self.diagnostics),
            catalog_version=self.catalog.version,
            catalog_digest=self.catalog.digest,
            reuse_source=self.reuse_source,
            run_low=totals.run_low,
            run_high=totals.run_high,
            run_unknown=totals.run_unknown,
            resources=self.resources(),
            learned_prices=[entry.to_dict() for _model, entry in sorted(self.learned.items())],
            pool_limits=dict(limit_of),
        )

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

    def limits(self) -> tuple[dict[str, Limits], str, int | None]:
        """Each model's limits, what they are (for reports), and the plan's tier (None under
        the organization's live limits)."""
        live = self.options.live
        if live is None:
            text = f"tier {self.tier} limits (tiers.yaml {self.catalog.tiers.version})"
            return self.tier_limits(self.tier), text, self.tier
        limit_of: dict[str, Limits] = {}
        for model in sorted({gen.model for gen in self.graph.generations.values()}):
            if model in live.models:
                limit_of[model] = live.models[model]
            else:
                limit_of[model] = _catalog_limits(self.catalog, self.tier, model)
                self.notes.append(
                    f"the organization lists no limits for {model}; tier {self.tier}'s "
                    "catalog limits are used"
                )
        return limit_of, "live limits (GET /v1/organization)", None

    def step_plans(self, timeline: Schedule) -> tuple[list[StepPlan], dict[str, GenerationPlan]]:
        """Each step's plan, in the spec's order, and each generation's."""
        graph, reuse = self.graph, self.options.reuse
        steps: list[StepPlan] = []
        generations: dict[str, GenerationPlan] = {}
        order = self.spec.steps if self.spec else graph.steps
        for name in [name for name in order if name in graph.steps]:
            node = graph.steps[name]
            gens = [graph.generations[key] for key in node.generations]
            costs = [self.costs[g.key] for g in gens]
            for gen, cost in zip(gens, costs, strict=True):
                item = reuse.get(gen.key) if reuse is not None else None
                generations[gen.key] = GenerationPlan(
                    generation=gen,
                    cost=cost,
                    latency=self.latency[gen.key],
                    pool=gen.model,
                    slot=timeline.slots.get(gen.key),
                    reused=None if self.reuse_source is None else gen.key in self.reused_keys,
                    reuse_reason=""
                    if self.reuse_source is None
                    else (item.reason if item else "new"),
                )
            priced = [c for c in costs if not c.unknown]
            running = [c for g, c in zip(gens, costs, strict=True) if g.key not in self.reused_keys]
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
        return steps, generations

    def check_prices(self, steps: list[StepPlan]) -> None:
        """RP401 for each step that cannot be priced, RP404 for each priced as a range."""
        for step in steps:
            if step.unknown:
                costs = [self.costs[g] for g in step.generations]
                first = next(r for c in costs for r in c.reasons if c.unknown)
                count = f"{step.unknown} generation{'s' * (step.unknown != 1)}"
                known = self.catalog.price(step.model)
                untrusted = all(c.confidence == "low" for c in costs)
                unpriced = (known is None or untrusted) and step.model not in self.overrides
                hint = (
                    f"give it a price in the spec: `prices: {{{step.model}: CREDITS}}` "
                    "(credits per generation)"
                    if unpriced
                    else "give the input a known length (a local file or an upstream step with "
                    "a duration), or a spec price"
                )
                self.diagnostics.append(
                    make(
                        "RP401",
                        f"step '{step.name}' ({step.model}, {count}) cannot be priced and is "
                        f"counted as unknown, not zero: {first}",
                        step.span,
                        hint=hint,
                    )
                )
            elif step.is_range:
                self.diagnostics.append(
                    make(
                        "RP404",
                        f"step '{step.name}' costs {format_credits(step.low)}-"
                        f"{format_credits(step.high)} credits: {'; '.join(step.reasons)}",
                        step.span,
                    )
                )

    def spending(self, totals: _Totals) -> tuple[str, str]:
        """Who spends (``this run`` or ``the plan``), and a note of the credits reused."""
        if self.reuse_source is None:
            return "the plan", ""
        saved = (
            f" ({format_credits(totals.high - totals.run_high)} of the plan's "
            f"{format_credits(totals.high)} are reused from the run state)"
            if totals.run_high != totals.high
            else ""
        )
        return "this run", saved

    def check_budgets(self, steps: list[StepPlan], totals: _Totals) -> list[Budget]:
        """The spec's budget and ``max_credits``, each checked against what a run would
        spend: RP400 when it may cost more, RP405 when unpriced generations leave it open."""
        run_low, run_high = totals.run_low, totals.run_high
        with_state = self.reuse_source is not None
        spend_unknown = totals.run_unknown if with_state else totals.unknown
        unpriced_models = sorted(
            {s.model for s in steps if (s.run_unknown if with_state else s.unknown)}
        )
        what, saved_note = self.spending(totals)
        usd = self.catalog.prices.usd_per_credit
        checks: list[tuple[str, Decimal, Span | None]] = []
        spec = self.spec
        if spec is not None and spec.budget.max_credits is not None:
            at = self.source_map.value(("budget", "max_credits"))
            checks.append(("budget.max_credits", spec.budget.max_credits, at))
        if self.options.max_credits is not None:
            checks.append(("--max-credits", Decimal(self.options.max_credits), None))
        budgets: list[Budget] = []
        for origin, limit, span in checks:
            exceeded = run_high > limit
            budgets.append(Budget(origin, limit, exceeded, spend_unknown))
            if spend_unknown and not exceeded:
                self.diagnostics.append(
                    make(
                        "RP405",
                        f"{origin} {format_credits(limit)} cannot be checked: {spend_unknown} "
                        f"generation(s) to make have no known price "
                        f"({', '.join(unpriced_models)})",
                        span,
                        hint="give each model a price in the spec (`prices: {model: credits "
                        "per generation}`), or remove the budget",
                    )
                )
            if exceeded:
                ranged = " (the high end of its range)" if run_high != run_low else ""
                self.diagnostics.append(
                    make(
                        "RP400",
                        f"{what} costs up to {format_credits(run_high)} credits "
                        f"(${format_usd(run_high * usd)}){ranged}, over {origin} "
                        f"{format_credits(limit)} by {format_credits(run_high - limit)}"
                        f"{saved_note}",
                        span,
                        hint=f"{spend_unknown} unpriced generation(s) are not counted"
                        if spend_unknown
                        else None,
                    )
                )
        return budgets

    def check_monthly_cap(self, totals: _Totals) -> Decimal | None:
        """The monthly spend cap in credits (the organization's, or the tier's; None when the
        organization has none), and RP402 when a run may spend more."""
        live = self.options.live
        usd = self.catalog.prices.usd_per_credit
        if live is not None and live.max_monthly_credit_spend is not None:
            monthly_cap: Decimal = Decimal(live.max_monthly_credit_spend)
            cap_origin = "the organization's monthly spend cap"
        elif live is None:
            monthly_cap = self.catalog.tier(self.tier).max_monthly_spend_usd / usd
            cap_origin = f"tier {self.tier}'s monthly spend cap"
        else:
            return None
        run_high = totals.run_high
        if run_high > monthly_cap:
            what, saved_note = self.spending(totals)
            from_spec = self.spec is not None and self.options.tier is None
            tier_span = self.source_map.value(("tier",)) if from_spec else None
            self.diagnostics.append(
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
        return monthly_cap

    def check_daily_caps(self, timeline: Schedule, limits_text: str) -> None:
        """RP403 when daily generation caps stretch the schedule over several days."""
        if timeline.days <= 1:
            return
        binding = max(timeline.pools.values(), key=lambda u: (u.days, u.generations))
        self.diagnostics.append(
            make(
                "RP403",
                f"daily generation caps stretch the plan over {timeline.days} days: "
                f"{binding.generations} {binding.pool} generations at "
                f"{binding.limits.max_daily} a day ({limits_text})",
                None,
                hint="a higher tier raises the daily caps",
            )
        )

    def check_deadline(self, totals: _Totals) -> DeadlineCheck | None:
        """Given a deadline, each tier's makespan and the cheapest tier that meets it."""
        deadline = self.options.deadline
        if deadline is None:
            return None
        catalog = self.catalog
        usd = catalog.prices.usd_per_credit
        tiers = []
        for number in sorted(
            catalog.tiers.tiers, key=lambda n: catalog.tier(n).max_monthly_spend_usd
        ):
            timeline = self.run_schedule(self.tier_limits(number), self.to_run)
            cap_usd = catalog.tier(number).max_monthly_spend_usd
            tiers.append(
                TierOption(
                    tier=number,
                    makespan=timeline.makespan,
                    meets_deadline=timeline.makespan <= deadline,
                    within_monthly_cap=totals.run_high * usd <= cap_usd,
                    monthly_cap_usd=cap_usd,
                )
            )
        cheapest = next((o.tier for o in tiers if o.meets_deadline and o.within_monthly_cap), None)
        return DeadlineCheck(deadline, tuple(tiers), cheapest)


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
