"""Compare two plans step by step: what a change to a spec costs.

Steps are matched by name.  A step is *changed* when its model, endpoint, number of
generations, requests (by fingerprint) or cost differ; *unchanged* steps are counted but not
listed by the renderers.  Deltas are ``new - old`` on each end of the range, and the total
delta is the exact sum of the step deltas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from runway_plan.plan.cost import format_credits
from runway_plan.plan.model import Plan, StepPlan

__all__ = ["PlanDiff", "StepChange", "diff_plans"]

_ZERO = Decimal(0)


@dataclass(frozen=True)
class StepChange:
    """One step's fate between two plans."""

    name: str
    status: str
    """``added``, ``removed``, ``changed`` or ``unchanged``."""
    old: StepPlan | None
    new: StepPlan | None
    details: tuple[str, ...] = ()

    @property
    def delta_low(self) -> Decimal:
        """Change of the low end, in credits."""
        return (self.new.low if self.new else _ZERO) - (self.old.low if self.old else _ZERO)

    @property
    def delta_high(self) -> Decimal:
        """Change of the high end, in credits."""
        return (self.new.high if self.new else _ZERO) - (self.old.high if self.old else _ZERO)


@dataclass
class PlanDiff:
    """Two plans and the changes from the old to the new."""

    old: Plan
    new: Plan
    changes: list[StepChange] = field(default_factory=list)

    @property
    def delta_low(self) -> Decimal:
        """Change of the total's low end (the sum of the step deltas)."""
        return sum((c.delta_low for c in self.changes), _ZERO)

    @property
    def delta_high(self) -> Decimal:
        """Change of the total's high end (the sum of the step deltas)."""
        return sum((c.delta_high for c in self.changes), _ZERO)

    @property
    def counts(self) -> dict[str, int]:
        """How many steps were added, removed, changed and left unchanged."""
        counts = dict.fromkeys(("added", "removed", "changed", "unchanged"), 0)
        for change in self.changes:
            counts[change.status] += 1
        return counts


def _cost(step: StepPlan) -> str:
    text = (
        format_credits(step.low)
        if step.low == step.high
        else (f"{format_credits(step.low)}-{format_credits(step.high)}")
    )
    return text + (f" + {step.unknown} unknown" if step.unknown else "")


def _details(old: StepPlan, new: StepPlan) -> list[str]:
    found = []
    if old.model != new.model:
        found.append(f"model {old.model} → {new.model}")
    if old.endpoint != new.endpoint:
        found.append(f"endpoint {old.endpoint} → {new.endpoint}")
    if len(old.generations) != len(new.generations):
        found.append(f"generations {len(old.generations)} → {len(new.generations)}")
    if old.units != new.units and len(old.generations) == len(new.generations):
        found.append(f"units {old.units} → {new.units}")
    if old.fingerprint != new.fingerprint and not found:
        found.append("request changed")
    if (old.low, old.high, old.unknown) != (new.low, new.high, new.unknown):
        found.append(f"cost {_cost(old)} → {_cost(new)}")
    return found


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """The step-by-step difference from ``old`` to ``new`` (new steps in their order, then
    removed ones in the old order)."""
    before = {step.name: step for step in old.steps}
    after = {step.name: step for step in new.steps}
    changes: list[StepChange] = []
    for name, step in after.items():
        previous = before.get(name)
        if previous is None:
            changes.append(StepChange(name, "added", None, step, (f"new step, {_cost(step)}",)))
            continue
        details = _details(previous, step)
        status = "changed" if details else "unchanged"
        changes.append(StepChange(name, status, previous, step, tuple(details)))
    for name, step in before.items():
        if name not in after:
            changes.append(StepChange(name, "removed", step, None, (f"was {_cost(step)}",)))
    return PlanDiff(old=old, new=new, changes=changes)
