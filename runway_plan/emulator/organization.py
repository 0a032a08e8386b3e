"""``/v1/organization`` and ``/v1/organization/usage``: balance, tier limits, credits used."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from runway_plan.emulator.account import Account, Reply, error, invalid
from runway_plan.emulator.params import check_range, midnight, parse_date
from runway_plan.emulator.tasks import Tasks
from runway_plan.emulator.validation import Issue

__all__ = ["Organization"]


class Organization:
    """The account as its organization endpoints show it."""

    def __init__(self, account: Account, tasks: Tasks) -> None:
        """The organization of ``account``, whose daily generations ``tasks`` counts."""
        self._account = account
        self._tasks = tasks

    def show(self) -> Reply:
        """``GET /v1/organization``: balance, tier limits and the past day's generations."""
        account = self._account
        catalog = account.catalog
        with account.lock:
            now = account.advance()
            tier = catalog.tier(account.config.tier)
            per_credit = catalog.prices.usd_per_credit
            models = {}
            for model in sorted(catalog.model_endpoints):
                limits = account.limits(catalog.limit_group(model))
                models[model] = {
                    "maxConcurrentGenerations": limits.max_concurrent,
                    "maxDailyGenerations": limits.max_daily,
                }
            usage = {
                model: {"dailyGenerations": count}
                for model, count in self._tasks.daily_generations(now).items()
            }
            return Reply(
                200,
                {
                    "creditBalance": int(account.balance),
                    "tier": {
                        "maxMonthlyCreditSpend": int(tier.max_monthly_spend_usd / per_credit),
                        "models": models,
                    },
                    "usage": {"models": usage},
                },
            )

    def usage(self, body: Any) -> Reply:
        """``POST /v1/organization/usage``: credits used per day and model (net of refunds)."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        issues = [
            Issue((k,), f"unknown field '{k}'")
            for k in body
            if k not in ("startDate", "beforeDate")
        ]
        account = self._account
        with account.lock:
            now = account.advance()
            today = datetime.fromtimestamp(now, UTC).date()
            given_start = parse_date(body.get("startDate"), "startDate", issues)
            given_before = parse_date(body.get("beforeDate"), "beforeDate", issues)
            if given_start is not None:
                start = given_start
                before = given_before or start + timedelta(30)
            elif given_before is not None:
                start, before = given_before - timedelta(30), given_before
            else:
                start, before = today - timedelta(30), today + timedelta(1)
            if not issues:
                check_range(midnight(start), midnight(before), "startDate", "beforeDate", issues)
            if issues:
                return invalid(issues)
            days: dict[date, dict[str, int]] = {}
            for moment, model, amount in account.billing:
                day = datetime.fromtimestamp(moment, UTC).date()
                if start <= day < before:
                    per_model = days.setdefault(day, {})
                    per_model[model] = per_model.get(model, 0) + amount
            results = [
                {
                    "date": day.isoformat(),
                    "usedCredits": [
                        {"model": model, "amount": amount} for model, amount in sorted(used.items())
                    ],
                }
                for day, used in sorted(days.items())
            ]
            models = sorted({m for used in days.values() for m in used})
            return Reply(200, {"results": results, "models": models})
