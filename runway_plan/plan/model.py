"""The plan's data: what :func:`~runway_plan.plan.plan` is asked (:class:`PlanOptions`) and what
it returns (:class:`Plan`, with a :class:`StepPlan` per step and a :class:`GenerationPlan` per
generation, the budgets checked and the deadline asked for)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from runway_plan.catalog.learned import LearnedPrice
from runway_plan.catalog.model import Confidence
from runway_plan.compile import Generation
from runway_plan.diagnostics import Diagnostic, Span
from runway_plan.plan.cost import Cost, lowest_confidence
from runway_plan.plan.live import Organization
from runway_plan.plan.resources import ResourcePlan
from runway_plan.plan.schedule import Limits, Schedule, Slot

__all__ = [
    "Budget",
    "DeadlineCheck",
    "GenerationPlan",
    "Plan",
    "PlanOptions",
    "ReuseLike",
    "StepPlan",
    "TierOption",
    "format_duration",
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


@dataclass(frozen=True, slots=True)
class GenerationPlan:
    """One generation's cost, latency estimate and place in the schedule.

    ``generation`` is the compiled :class:`~runway_plan.compile.Generation` it plans (its key,
    step, index, endpoint, model and request are read from there, not copied).  ``reused`` is
    None when the plan knows nothing of a run state; otherwise True when a run would take the
    generation from the state (it then has no slot), with ``reuse_reason``.
    """

    generation: Generation
    cost: Cost
    latency: float
    pool: str
    slot: Slot | None
    reused: bool | None = None
    reuse_reason: str = ""

    @property
    def key(self) -> str:
        """The generation's key (``step`` or ``step[i]``)."""
        return self.generation.key

    @property
    def step(self) -> str:
        """The step it belongs to."""
        return self.generation.step

    @property
    def index(self) -> int | None:
        """Its item of a fan-out step (None for a step without ``for_each``)."""
        return self.generation.index

    @property
    def endpoint(self) -> str:
        """The API endpoint it is sent to."""
        return self.generation.endpoint

    @property
    def model(self) -> str:
        """The model it runs on."""
        return self.generation.model

    @property
    def request(self) -> Mapping[str, Any]:
        """The rendered request body."""
        return self.generation.request


@dataclass(frozen=True, slots=True)
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
    """Documents and avatars: what a run would create, update or delete (from
    :attr:`PlanOptions.resources`), or None when the spec has none and the state records
    none."""
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


@dataclass(frozen=True)
class PlanOptions:
    """What :func:`plan` is asked besides the graph and the catalog; every field is optional.

    ``tier`` defaults to the spec's; ``max_credits`` is a budget checked besides the spec's
    ``budget.max_credits``; ``price_overrides`` (model -> credits per generation) are added
    to the spec's ``prices:``; ``latency_overrides`` (model -> seconds per generation) replace
    the catalog's estimates; ``live`` limits (``GET /v1/organization``) replace the tier
    table's; ``deadline`` (seconds) asks for the cheapest tier whose schedule meets it;
    ``source`` names the spec in reports (default: its path).

    ``reuse`` (generation key -> what the run state says of it) makes the plan one of the
    next run: budgets, the monthly cap and the schedule then count only the generations that
    are not reusable; ``reuse_source`` names the state (shown in reports).  ``resources`` is
    what the run state (and, with ``--live``, the API) says a run would do with the spec's
    documents and avatars (:func:`runway_plan.execute.resources.resource_plan`); the plan
    shows it when the spec has any or the state records some.

    ``learned`` prices (``runway-prices.yaml``, :mod:`runway_plan.catalog.learned`) replace
    the catalog's for their models; the spec's ``prices:`` and ``price_overrides`` win over
    them.  Each learned price the plan uses is named, with its tasks and date, in the notes
    and in ``Plan.learned_prices``.
    """

    tier: int | None = None
    max_credits: Decimal | int | None = None
    price_overrides: Mapping[str, Decimal] | None = None
    latency_overrides: Mapping[str, float] | None = None
    live: Organization | None = None
    deadline: float | None = None
    source: str | None = None
    reuse: Mapping[str, ReuseLike] | None = None
    reuse_source: str | None = None
    resources: ResourcePlan | None = None
    learned: Mapping[str, LearnedPrice] | None = None
