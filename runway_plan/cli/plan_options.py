"""The options of ``plan``: deadlines, latencies and the credit budget, parsed or refused."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import click

__all__ = ["budget_option", "parse_budget", "parse_deadline", "parse_latency"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def budget_option(description: str) -> Callable[[Any], Any]:
    return click.option("--max-credits", type=str, metavar="N", help=description)


def parse_budget(max_credits: str | None) -> Decimal | None:
    """``--max-credits`` as a number of credits, or a usage error."""
    if max_credits is None:
        return None
    try:
        budget = Decimal(max_credits)
    except InvalidOperation:
        raise click.BadParameter(
            f"'{max_credits}' is not a number", param_hint="--max-credits"
        ) from None
    if not budget.is_finite() or budget < 0:
        raise click.BadParameter(
            "must be a number of credits, 0 or more", param_hint="--max-credits"
        )
    return budget


def parse_deadline(text: str) -> float:
    """``2h``, ``90m``, ``1d``, ``1h30m`` or plain seconds, as seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or _DURATION.sub("", value).strip():
            raise click.BadParameter(
                f"'{text}' is not a duration such as 2h, 90m, 1d or 1h30m", param_hint="--deadline"
            ) from None
        seconds = sum(float(number) * _UNITS[unit.lower()] for number, unit in parts)
    if not 0 <= seconds < math.inf:  # NaN too
        raise click.BadParameter(
            f"'{text}' is not a finite duration of 0 seconds or more", param_hint="--deadline"
        )
    return seconds


def parse_latency(values: tuple[str, ...]) -> dict[str, float]:
    found: dict[str, float] = {}
    for option in values:
        model, sep, raw = option.partition("=")
        try:
            seconds = parse_deadline(raw) if sep else -1.0
        except click.BadParameter:
            seconds = -1.0
        if not sep or not model.strip() or seconds < 0:
            raise click.BadParameter(f"'{option}' is not MODEL=SECONDS", param_hint="--latency")
        found[model.strip()] = seconds
    return found
