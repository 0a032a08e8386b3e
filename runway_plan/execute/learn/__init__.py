"""Prices the account itself teaches: per-unit rates derived from the costs runs recorded.

Every attempt in a run state (:mod:`runway_plan.execute.state`) keeps the request as sent,
the ``estimatedCost`` the API answered at create and the ``cost`` it billed at the end.  For
each task that succeeded and was billed, :func:`observe` re-prices the recorded request with
the planner (:mod:`runway_plan.plan.cost`), its media inputs measured where the state or the
spec holds them:

* **drift** (:func:`drift`): the catalog's full price rule for *that* request is a range
  ``[low, high]`` (tiers, surcharges, minimum, whole-credit rounding); a bill outside it is
  drift, a bill inside it is not;
* **a rate** (:class:`Observation`): the unit of the catalog's price of the model (for a model
  the catalog cannot price, its endpoint's natural unit: video and audio by the second of
  output, images by the image, speech by the character, dubbing and isolation by the second of
  input) is counted with the planner's own pricing, the surcharges the request implies are
  subtracted from the bill, and the rest divided by the blocks.  Only an identifiable rate is
  kept: a task whose rate turns on an omitted field, a published span, a possible surcharge,
  an unknown frame rate, or the minimum charge is reported as not learnable, with why.  A
  task's bill is its ``cost``, or its ``estimatedCost`` when the bill is that estimate rounded
  up to whole credits (the SDK types ``cost.credits`` as an integer).

:func:`summarize` groups the rates of a model by the endpoint price and the condition
(``when``, derived tiers included) of the rate the request fell under; rates that disagree
within a group are reported, never averaged.  :func:`learned_entry` writes a group's rate into
the model's price only after re-pricing every task it rests on with the learned price gives
back its bill exactly.  The state is untrusted: it is read through :meth:`State.snapshot`,
every value is checked, and media are measured only inside the state folder or the spec's root.
"""

from runway_plan.execute.learn.inputs import local_inputs
from runway_plan.execute.learn.model import Bill, Drift, Observation, Observed, RateGroup, Skipped
from runway_plan.execute.learn.observe import StateSource, observe, observe_bills, remember_bills
from runway_plan.execute.learn.pricing import natural_price
from runway_plan.execute.learn.rates import drift, learned_entry, self_check, summarize

__all__ = [
    "Bill",
    "Drift",
    "Observation",
    "Observed",
    "RateGroup",
    "Skipped",
    "StateSource",
    "drift",
    "learned_entry",
    "local_inputs",
    "natural_price",
    "observe",
    "observe_bills",
    "remember_bills",
    "self_check",
    "summarize",
]
