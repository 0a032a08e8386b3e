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

The data types live in :mod:`runway_plan.plan.model`, the planner in
:mod:`runway_plan.plan.planner`; renderers in :mod:`runway_plan.plan.report`, the comparison of
two plans in :mod:`runway_plan.plan.diff`.
"""

from __future__ import annotations

from runway_plan.plan.cost import Cost, format_credits, format_usd, price_generation
from runway_plan.plan.model import (
    Budget,
    DeadlineCheck,
    GenerationPlan,
    Plan,
    PlanOptions,
    ReuseLike,
    StepPlan,
    TierOption,
    format_duration,
)
from runway_plan.plan.planner import plan
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
    "PlanOptions",
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
