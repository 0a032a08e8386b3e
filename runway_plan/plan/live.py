"""Read the organization's live tier limits: ``GET /v1/organization``.

The one HTTP call of the planner.  The client takes an injected ``httpx`` transport so tests
pass an ``httpx.MockTransport``; the API key is sent in the ``Authorization`` header and never
appears in a result or an error message.  Each model's live limits are the scheduler's
:class:`~runway_plan.plan.schedule.Limits`, read from the tier and the day's usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from runway_plan.errors import RunwayPlanError
from runway_plan.plan.schedule import Limits

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "LiveError",
    "Organization",
    "fetch_organization",
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


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


def fetch_organization(
    api_key: str,
    *,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 15.0,
) -> Organization:
    """``GET {base}/v1/organization`` with ``api_key``; the base URL defaults to
    :data:`DEFAULT_BASE_URL` (the command line passes ``--base-url`` or ``RUNWAYML_BASE_URL``).

    Raises :class:`LiveError` with a message that never contains the key.
    """
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    headers = {
        "Authorization": f"Bearer {api_key}",
        "X-Runway-Version": API_VERSION,
        "Accept": "application/json",
    }
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            response = client.get(f"{base}/v1/organization", headers=headers)
    except httpx.HTTPError as exc:
        reason = _redact(str(exc) or type(exc).__name__, api_key)
        raise LiveError(f"cannot reach {base}: {reason}") from None
    if response.status_code != 200:
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                detail = f": {body['error']}"
        except ValueError:
            pass
        hint = " (check RUNWAYML_API_SECRET)" if response.status_code == 401 else ""
        message = f"GET /v1/organization answered {response.status_code}{detail}{hint}"
        raise LiveError(_redact(message, api_key))
    try:
        body = response.json()
    except ValueError:
        raise LiveError("GET /v1/organization did not return JSON") from None
    return parse_organization(body)
