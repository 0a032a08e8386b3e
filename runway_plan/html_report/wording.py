"""The page's wording: credits, sizes, requests and outcomes as display text."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from runway_plan.plan import format_credits

__all__ = [
    "OUTCOME_COLOURS",
    "amount_text",
    "credits_text",
    "decimal_of",
    "outcome_counts",
    "pair_of",
    "prompt_text",
    "request_text",
    "shown_path",
    "size_text",
    "status_colour",
    "sum_of",
]

OUTCOME_COLOURS = {
    "generated": "#16a34a",
    "reused": "#0891b2",
    "failed": "#dc2626",
    "unknown": "#d97706",
    "interrupted": "#d97706",
    "cancelled": "#6b7280",
    "skipped": "#9ca3af",
    "planned": "#9ca3af",
}
_WORST_FIRST = ("failed", "unknown", "interrupted", "cancelled", "skipped", "planned")
_LONG_TEXT = 400
"""Request strings longer than this are shortened on the page (data URIs, long prompts are
shown whole as the prompt)."""


def credits_text(low: Decimal | None, high: Decimal | None) -> str:
    if low is None or high is None:
        return "unpriced"
    return format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"


def amount_text(value: Decimal | None) -> str:
    return "–" if value is None else format_credits(value)


def decimal_of(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def pair_of(value: Any) -> tuple[Decimal | None, Decimal | None]:
    if not isinstance(value, Mapping):
        return None, None
    return decimal_of(value.get("low")), decimal_of(value.get("high"))


def size_text(count: int | None) -> str:
    if count is None:
        return "size unknown"
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{count} B"


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _LONG_TEXT:
        return f"{value[:120]}… ({len(value)} characters)"
    if isinstance(value, Mapping):
        return {str(k): _shorten(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shorten(v) for v in value]
    return value


def request_text(request: Any) -> str:
    if request is None:
        return ""
    if isinstance(request, str):
        return _shorten(request)  # type: ignore[no-any-return]
    return json.dumps(_shorten(request), indent=2, ensure_ascii=False, default=str)


def prompt_text(request: Any) -> str:
    if isinstance(request, Mapping):
        text = request.get("promptText")
        if isinstance(text, str):
            return text
    return ""


def outcome_counts(outcomes: Sequence[str]) -> str:
    found: dict[str, int] = {}
    for outcome in outcomes:
        found[outcome] = found.get(outcome, 0) + 1
    return ", ".join(f"{count} {name}" for name, count in sorted(found.items()))


def status_colour(outcomes: Sequence[str]) -> str:
    for outcome in _WORST_FIRST:
        if outcome in outcomes:
            return OUTCOME_COLOURS[outcome]
    return OUTCOME_COLOURS["generated"]


def shown_path(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies inside it (as ``plan`` shows
    sources), else as it is."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def sum_of(values: Sequence[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None
