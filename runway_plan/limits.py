"""Work limits: what checking and planning one spec may cost, whatever the spec holds.

A spec from a pull request nobody has reviewed is run through ``validate`` and ``plan`` in CI, so
the work a spec can cause is bounded in total, not only per step: the generations it compiles
to, the references between them, the text its templates render, the template work across all
renders, the diagnostics shown and the bytes read from its file.  Each limit has a default that
fits any real pipeline (a 10,000-generation spec stays well inside every one), can be raised by
the spec's ``limits:`` up to a hard ceiling, and by ``--limit NAME=N`` without one (the person
running the command decides).  Past a limit, one RP118 diagnostic at the place that crossed it,
and the work stops there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from runway_plan.diagnostics import Diagnostic, Span, make

__all__ = ["LIMIT_NAMES", "LimitInfo", "Meter", "WorkLimits", "limit_info", "over_limit"]


def _limit(default: int, ceiling: int | None, unit: str, what: str) -> Any:
    return field(default=default, metadata={"ceiling": ceiling, "unit": unit, "what": what})


@dataclass(frozen=True, slots=True)
class WorkLimits:
    """The limits one spec is checked and planned under (the defaults unless raised)."""

    generations: int = _limit(
        50_000, 200_000, "generations", "generations the spec compiles to (steps and fan-out items)"
    )
    edges: int = _limit(
        200_000,
        1_000_000,
        "references",
        "references between generations (each `@step` an item uses); `needs` counts one per "
        "pair of steps",
    )
    rendered_chars: int = _limit(
        50_000_000,
        200_000_000,
        "characters",
        "characters (or list items) all template renders of the spec produce together",
    )
    template_work: int = _limit(
        20_000_000,
        100_000_000,
        "units",
        "template work across all renders (each render is also bounded on its own)",
    )
    diagnostics: int = _limit(
        1_000, 100_000, "diagnostics", "diagnostics shown for one spec; the rest are counted"
    )
    file_bytes: int = _limit(
        4 * 1024 * 1024,
        None,
        "bytes",
        "bytes read from the spec file (or a catalog file); only --limit raises it",
    )

    def merged(self, values: Mapping[str, int]) -> WorkLimits:
        """These limits with ``values`` (by name) in place of their own."""
        return replace(self, **dict(values))

    def value(self, name: str) -> int:
        """The limit called ``name``."""
        return int(getattr(self, name))


@dataclass(frozen=True, slots=True)
class LimitInfo:
    """One limit: its name, default, the most a spec's ``limits:`` may ask for (None: a spec
    cannot set it), its unit and what it counts."""

    name: str
    default: int
    ceiling: int | None
    unit: str
    what: str


def limit_info() -> list[LimitInfo]:
    """Every limit, in the order of :class:`WorkLimits`."""
    defaults = WorkLimits()
    return [
        LimitInfo(
            item.name,
            defaults.value(item.name),
            item.metadata["ceiling"],
            item.metadata["unit"],
            item.metadata["what"],
        )
        for item in fields(WorkLimits)
    ]


LIMIT_NAMES = tuple(info.name for info in limit_info())
"""The names ``limits:`` and ``--limit`` take."""

_INFO = {info.name: info for info in limit_info()}


def over_limit(name: str, limits: WorkLimits, span: Span | None, needed: str = "") -> Diagnostic:
    """RP118: the work at ``span`` would take the spec past its limit ``name``.

    ``needed`` says, when it is known, how much the spec asked for at that place.
    """
    info = _INFO[name]
    value = limits.value(name)
    asked = f" ({needed})" if needed else ""
    ceiling = info.ceiling
    if ceiling is None:
        hint = f"raise it with --limit {name}=N"
    else:
        hint = (
            f"raise it in the spec with `limits: {{{name}: N}}` (at most {ceiling:,}) or with "
            f"--limit {name}=N"
        )
    return make(
        "RP118",
        f"over the limit of {value:,} {info.unit} (limits.{name}){asked}; the work stops here",
        span,
        hint=hint,
    )


class Meter:
    """The work a spec has done against its limits; each limit is crossed (and reported) once."""

    def __init__(self, limits: WorkLimits) -> None:
        self.limits = limits
        self.used: dict[str, int] = dict.fromkeys(LIMIT_NAMES, 0)
        self.crossed: set[str] = set()

    def left(self, name: str) -> int:
        """How much of limit ``name`` is left."""
        return max(self.limits.value(name) - self.used[name], 0)

    def spend(self, name: str, amount: int) -> bool:
        """Count ``amount`` against ``name``; False when that goes past the limit."""
        self.used[name] += amount
        if self.used[name] > self.limits.value(name):
            self.crossed.add(name)
            return False
        return True
