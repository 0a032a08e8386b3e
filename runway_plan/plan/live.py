"""The organization's live tier limits, from the JSON of ``GET /v1/organization``.

The planner makes no HTTP call: the API client (:class:`runway_plan.execute.RunwayClient`,
with its retries) reads the organization, for ``run`` and for ``plan --live``, and
:func:`parse_organization` turns its answer into an :class:`Organization` whose models' live
limits are the scheduler's :class:`~runway_plan.plan.schedule.Limits`, read from the tier and
the day's usage (``PlanOptions.live``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runway_plan.errors import RunwayPlanError
from runway_plan.plan.schedule import Limits

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "LiveError",
    "Organization",
    "parse_organization",
]

DEFAULT_BASE_URL = "https://api.dev.runwayml.com"
"""The API's base URL (runwayml 5.24.0, ``_client.py``: the default of ``RUNWAYML_BASE_URL``)."""
API_VERSION = "2024-11-06"
"""The ``X-Runway-Version`` header every request sends, and the one the emulator accepts."""


class LiveError(RunwayPlanError):
    """The organization could not be read (network, HTTP status or response shape)."""


@dataclass(frozen=True)
class Organization:
    """What ``GET /v1/organization`` says about the account."""

    credit_balance: int | None
    max_monthly_credit_spend: int | None
    models: dict[str, Limits] = field(default_factory=dict)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_organization(body: Any) -> Organization:
    """Build an :class:`Organization` from the response JSON; raises :class:`LiveError`."""
    if not isinstance(body, dict):
        raise LiveError("GET /v1/organization did not return a JSON object")
    tier = _object(body.get("tier"))
    used_models = _object(_object(body.get("usage")).get("models"))
    models: dict[str, Limits] = {}
    raw_models = tier.get("models")
    if not isinstance(raw_models, dict):
        raise LiveError("GET /v1/organization returned no tier.models limits")
    for name, limits in raw_models.items():
        if not isinstance(limits, dict):
            continue
        concurrent = _int(limits.get("maxConcurrentGenerations"))
        daily = _int(limits.get("maxDailyGenerations"))
        if concurrent is None or daily is None:
            continue
        used = _object(used_models.get(name))
        models[str(name)] = Limits(concurrent, daily, _int(used.get("dailyGenerations")) or 0)
    return Organization(
        credit_balance=_int(body.get("creditBalance")),
        max_monthly_credit_spend=_int(tier.get("maxMonthlyCreditSpend")),
        models=models,
    )
