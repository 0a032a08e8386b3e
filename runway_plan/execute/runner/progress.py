"""How long a run has left, for progress displays."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from runway_plan.compile import Graph
from runway_plan.execute.runner.results import GenerationResult
from runway_plan.execute.state import Outcome
from runway_plan.plan import Plan

__all__ = ["eta"]


def eta(
    graph: Graph,
    plan: Plan | None,
    results: Mapping[str, GenerationResult],
    order: Iterable[str],
    preds: Mapping[str, list[str]],
    slots: Mapping[str, int],
    speed: float,
) -> float:
    """Seconds left: the longer of the longest unfinished chain and the busiest pool's
    remaining work over its ``slots``, from the planner's latency estimates (``order`` is the
    generations in dependency order, ``preds`` each one's producers, ``speed`` the emulator's
    time compression)."""
    if plan is None:
        return 0.0
    now = time.time()
    left: dict[str, float] = {}
    step_left: dict[str, float] = {}
    work: dict[str, float] = {}
    for key in order:
        result = results[key]
        gen_plan = plan.generations.get(key)
        if result.outcome is not Outcome.PLANNED or gen_plan is None:
            continue
        own = gen_plan.latency / speed
        if result.started is not None:
            own = max(0.0, own - (now - result.started))
        before = max((left.get(p, 0.0) for p in preds[key]), default=0.0)
        needed = graph.needs.get(result.step, ())
        before = max([before, *(step_left.get(n, 0.0) for n in needed)])
        left[key] = before + own
        step_left[result.step] = max(step_left.get(result.step, 0.0), left[key])
        work[gen_plan.model] = work.get(gen_plan.model, 0.0) + own
    chain = max(left.values(), default=0.0)
    pools = max(
        (seconds / max(1, slots.get(model, 1)) for model, seconds in work.items()), default=0.0
    )
    return max(chain, pools)
