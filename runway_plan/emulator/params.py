"""Parameters of the list and usage endpoints: page limits and cursors, dates and ranges."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from runway_plan.emulator.validation import Issue

__all__ = ["check_range", "limit", "midnight", "page", "parse_date", "parse_instant"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_USAGE_DAYS = 90


def parse_date(value: Any, name: str, issues: list[Issue]) -> date | None:
    """An optional ``YYYY-MM-DD`` date; a bad one adds to ``issues``."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        issues.append(Issue((name,), f"{name} must be a date as YYYY-MM-DD"))
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        issues.append(Issue((name,), f"{name} is not a valid date"))
        return None


def parse_instant(value: Any, name: str, issues: list[Issue]) -> datetime | None:
    """A required date or ISO 8601 datetime, in UTC (a datetime without an offset is UTC)."""
    if value is None:
        issues.append(Issue((name,), f"{name} is required"))
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        issues.append(Issue((name,), f"{name} must be a date or an ISO 8601 datetime"))
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def midnight(day: date) -> datetime:
    """The start of ``day`` in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def check_range(
    start: datetime, end: datetime, start_name: str, end_name: str, issues: list[Issue]
) -> None:
    """The rule both usage endpoints share: ``end`` (exclusive) after ``start``, by at most
    90 days."""
    if end <= start:
        issues.append(Issue((end_name,), f"{end_name} must be after {start_name}"))
    elif end - start > timedelta(days=_MAX_USAGE_DAYS):
        issues.append(
            Issue(
                (end_name,), f"{end_name} must be at most {_MAX_USAGE_DAYS} days after {start_name}"
            )
        )


def limit(query: Mapping[str, str], issues: list[Issue]) -> int:
    """A list's required ``limit``, 1 to 100 (0 after adding to ``issues``)."""
    text = query.get("limit")
    if text is None:
        issues.append(Issue(("limit",), "limit is required"))
        return 0
    if not text.isdigit() or not 1 <= int(text) <= 100:
        issues.append(Issue(("limit",), "limit must be an integer from 1 to 100"))
        return 0
    return int(text)


def page(items: list[Any], size: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """The page of ``items`` a ``cursor`` starts, and the cursor of the next (None at the end)."""
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, binascii.Error):
            start = 0
    end = start + size
    following = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], following
