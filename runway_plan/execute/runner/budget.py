"""What a run has committed against its budget, and what the next create may bill."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from decimal import ROUND_CEILING, Decimal

from runway_plan.catalog import Catalog
from runway_plan.compile import Graph
from runway_plan.execute.fingerprint import Fingerprinter
from runway_plan.execute.runner.results import GenerationResult
from runway_plan.execute.state import State
from runway_plan.execute.store import Store
from runway_plan.plan import Plan
from runway_plan.plan.cost import Pricer
from runway_plan.probe import probe

__all__ = ["Spending"]


@dataclass(eq=False)
class Spending:
    """The run's credits: billed and committed (:meth:`spent`), and each create re-priced from
    its inputs' measured lengths (:meth:`repriced`) before the budget check.

    ``results`` are the run's; :attr:`plan` is set once the run is planned.
    """

    graph: Graph
    catalog: InitVar[Catalog]
    fingerprinter: Fingerprinter
    state: State
    store: Store
    results: Mapping[str, GenerationResult]
    plan: Plan | None = field(default=None, init=False)
    limit: Decimal | None = field(default=None, init=False)
    """The smallest budget of the plan, in credits; None without one."""
    _pricer: Pricer = field(init=False, repr=False)

    def __post_init__(self, catalog: Catalog) -> None:
        graph = self.graph
        self._pricer = Pricer(graph, catalog, dict(graph.spec.prices) if graph.spec else {})

    def repriced(self, key: str) -> tuple[Decimal | None, bool]:
        """The most the create of ``key`` may bill, in whole credits, priced now that its
        inputs exist (from their measured lengths), or the plan's high end; None when
        unpriced.  The flag says whether a measured length was used."""
        gen = self.graph.generations[key]
        measured = self.measured_inputs(key)
        cost = self._pricer.reprice(gen, measured)
        if cost.unknown:
            gen_plan = self.plan.generations.get(key) if self.plan is not None else None
            if gen_plan is None or gen_plan.cost.unknown:
                return None, False
            cost = gen_plan.cost
        return cost.high.to_integral_value(rounding=ROUND_CEILING), bool(measured)

    def measured_inputs(self, key: str) -> dict[tuple[str | int, ...], float]:
        """The length in seconds of each stored upstream output ``key`` reads, by request
        path (an output whose file or length cannot be read is left out)."""
        lengths: dict[tuple[str | int, ...], float] = {}
        for path, ref in self.fingerprinter.inputs[key]:
            producer = self.results.get(ref.key)
            if producer is None or producer.step_id is None:
                continue
            outputs = {o.index: o for o in self.state.outputs(producer.step_id)}
            out = outputs.get(ref.index)
            if out is None or out.sha256 is None:
                continue
            try:
                seconds = probe(self.store.path(out.sha256)).duration
            except OSError:
                continue
            if seconds is not None:
                lengths[tuple(path)] = seconds
        return lengths

    def spent(self) -> Decimal:
        """Credits this run has committed: billed, plus for each attempt whose bill is not
        known yet the larger of what the budget holds for it and the API's estimate."""
        billed = sum((r.billed_this_run for r in self.results.values()), Decimal(0))
        in_flight = Decimal(0)
        for r in self.results.values():
            flying = r.status in ("THROTTLED", "PENDING", "RUNNING", "submitting")
            estimated = (r.estimated or Decimal(0)) if flying else Decimal(0)
            in_flight += max(estimated, r.reserved or Decimal(0))
        return billed + in_flight
