"""One diagnostic type for every stage, its stable codes, and its renderers.

Every stage (source loading, spec parsing, templating, graph building, model validation,
planning, execution) reports problems as :class:`Diagnostic` values collected into a list; nothing
raises for bad user input.  Renderers turn the list into text, JSON, SARIF 2.1.0 or GitHub
annotations (see :mod:`runway_plan.diagnostics.render`), showing the text a spec put in a
message through :mod:`runway_plan.diagnostics.display`, as every output of runway-plan does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from runway_plan.diagnostics.codes import CODES, CodeInfo
from runway_plan.diagnostics.display import display

__all__ = [
    "CODES",
    "CodeInfo",
    "DataPath",
    "Diagnostic",
    "Location",
    "Severity",
    "Span",
    "has_errors",
    "make",
    "sort_diagnostics",
]


DataPath = tuple[str | int, ...]
"""Where a value sits in a document's data: mapping keys and list indexes from the root."""


class Severity(StrEnum):
    """How serious a diagnostic is; only errors make a command fail."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, the end column exclusive."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def file(cls, path: str) -> Span:
        """A span for a whole file, used when a problem has no finer location."""
        return cls(path, 1, 1, 1, 1)

    def __str__(self) -> str:
        """``path:line:col``, the path as :func:`~runway_plan.diagnostics.display.display`
        shows it (a file name is the spec author's text too)."""
        return f"{display(self.path)}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a span of a source file when the data has one, and the data path.

    A bare API request body has no source file, so its locations have a path and no span.
    """

    span: Span | None
    path: DataPath = ()


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem found in a spec, located at a span when one is known.

    ``path`` is the data path of the value the problem is about, when the stage that found it
    knows one (the model checks do); it takes no part in equality, so a problem reported at
    one span from two paths (a YAML alias) stays one diagnostic.
    """

    code: str
    message: str
    span: Span | None = None
    severity: Severity = Severity.ERROR
    hint: str | None = None
    related: tuple[tuple[str, Span], ...] = field(default=())
    path: DataPath | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        """True when this diagnostic makes the command fail."""
        return self.severity is Severity.ERROR


def make(
    code: str,
    message: str,
    where: Span | Location | None,
    *,
    hint: str | None = None,
    related: Iterable[tuple[str, Span]] = (),
) -> Diagnostic:
    """Build a diagnostic whose severity is the registered default of its code (a retired
    code is refused with ValueError); ``where`` is a span, or a location that also gives
    the data path."""
    info = CODES[code]
    if info.retired:
        raise ValueError(f"{code} is retired: it is never emitted")
    span, path = (where.span, where.path) if isinstance(where, Location) else (where, None)
    return Diagnostic(
        code=code,
        message=message,
        span=span,
        severity=Severity(info.severity),
        hint=hint,
        related=tuple(related),
        path=path,
    )


def _sort_key(diagnostic: Diagnostic) -> tuple[object, ...]:
    span = diagnostic.span
    where = (span.path, span.line, span.col) if span else ("", 0, 0)
    return (*where, diagnostic.code, diagnostic.message)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Deduplicate and order diagnostics by file, position, code and message."""
    return sorted(set(diagnostics), key=_sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic is an error."""
    return any(d.is_error for d in diagnostics)
