"""Which diagnostics a command reports: ``--select``, ``--ignore``, inline suppressions and
``--warnings-as-errors``, as ruff chooses its rules.

A code selector is a code or a prefix of one: ``RP4`` stands for every ``RP4xx`` code and
``RP`` for all.  A code both selected and ignored follows the more specific selector (``--select
RP4 --ignore RP404`` keeps RP400 and drops RP404; ``--select RP404 --ignore RP4`` keeps RP404);
at equal length the ignore wins.

A spec line ending in the comment ``# runway-plan: ignore[RP404]`` (codes or prefixes, comma
separated) suppresses those codes on that line; a bare ``# runway-plan: ignore`` suppresses
every code there.  A diagnostic is on a line when its span starts or ends there.  Errors can be
suppressed too, as ruff's ``noqa`` does; the count of what was left out is reported.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from runway_plan.diagnostics import CODES, Diagnostic, Severity, Span, make
from runway_plan.errors import RunwayPlanError

__all__ = [
    "Selected",
    "Selection",
    "SelectionError",
    "Suppression",
    "parse_selectors",
    "suppression_comments",
    "suppressions_in",
]

_SELECTOR = re.compile(r"RP\d{0,3}")
_MENTION = re.compile("runway-plan", re.IGNORECASE)
_COMMENT = re.compile(
    r"#\s*runway-plan:\s*ignore(?:\[(?P<codes>[^\]\n]*)\])?(?=\s|$|#)", re.IGNORECASE
)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Suppression:
    """One ``# runway-plan: ignore[...]`` comment: where it is and the selectors it names
    (``None`` for a bare one, which suppresses every code)."""

    line: int
    col: int
    end_col: int
    codes: frozenset[str] | None


class SelectionError(ValueError, RunwayPlanError):
    """A code selector that is not a code or a prefix of one."""


def parse_selectors(values: Iterable[str]) -> tuple[str, ...]:
    """Selectors from options such as ``--select RP4,RP101`` (repeatable, comma separated).

    Each must be ``RP`` followed by up to three digits and stand for at least one known code;
    anything else raises :class:`SelectionError` naming it.
    """
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            selector = part.strip().upper()
            if not selector:
                continue
            if not _SELECTOR.fullmatch(selector):
                raise SelectionError(
                    f"'{part.strip()}' is not a code or a code prefix such as RP404 or RP4"
                )
            if not any(code.startswith(selector) for code in CODES):
                raise SelectionError(f"'{selector}' matches no diagnostic code")
            found.append(selector)
    return tuple(dict.fromkeys(found))


def _longest(code: str, selectors: Iterable[str]) -> int:
    return max((len(s) for s in selectors if code.startswith(s)), default=-1)


def _scalar_ranges(text: str) -> list[tuple[int, int]] | None:
    """Offsets of the YAML (or JSON) scalars in ``text``, where a ``#`` is no comment; None
    when the text cannot be scanned."""
    ranges = []
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if isinstance(token, yaml.ScalarToken):
                ranges.append((token.start_mark.index, token.end_mark.index))
    except yaml.YAMLError:
        return None
    return ranges


def suppression_comments(text: str) -> list[Suppression]:
    """The suppression comments of a spec's ``text``, in order.

    A match inside a quoted or plain scalar (``promptText: "a # runway-plan: ignore"``) is
    text, not a comment, and is not counted; in a text YAML cannot scan, a ``#`` counts when
    it starts the line or follows a space, as YAML's comments do.
    """
    if _MENTION.search(text) is None:  # not text.lower(): a copy of a large spec
        return []
    matches = list(_COMMENT.finditer(text))
    if not matches:
        return []
    scalars = _scalar_ranges(text)
    starts = [low for low, _high in scalars or ()]
    found: list[Suppression] = []
    line, counted, line_start = 1, 0, 0
    for match in matches:
        start = match.start()
        if scalars is not None:
            before = bisect.bisect_right(starts, start) - 1
            if before >= 0 and start < scalars[before][1]:
                continue
        elif start > 0 and not text[start - 1].isspace():
            continue
        newlines = text.count("\n", counted, start)
        if newlines:
            line += newlines
            line_start = text.rindex("\n", counted, start) + 1
        counted = start
        raw = match.group("codes")
        codes: frozenset[str] | None = None
        if raw is not None:
            codes = frozenset(p.strip().upper() for p in raw.split(",") if p.strip())
        col = start - line_start + 1
        found.append(Suppression(line, col, col + len(match.group(0)), codes))
    return found


def suppressions_in(text: str) -> dict[int, frozenset[str] | None]:
    """The suppression comments of a spec's ``text`` by 1-based line number (see
    :func:`suppression_comments`): the selectors named there, ``None`` for every code."""
    found: dict[int, frozenset[str] | None] = {}
    for comment in suppression_comments(text):
        previous = found.get(comment.line, frozenset())
        codes = comment.codes
        found[comment.line] = None if codes is None or previous is None else previous | codes
    return found


@dataclass(frozen=True)
class Selection:
    """What to report: selected and ignored code prefixes, and warnings made errors."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    warnings_as_errors: bool = False

    def keeps(self, code: str) -> bool:
        """True when ``--select`` and ``--ignore`` let ``code`` be reported."""
        chosen = _longest(code, self.select) if self.select else 0
        if chosen < 0:
            return False
        ignored = _longest(code, self.ignore)
        return ignored < 0 or ignored < chosen

    def apply(
        self,
        diagnostics: Sequence[Diagnostic],
        suppressions: Mapping[str, Sequence[Suppression]] | None = None,
        *,
        stages: Sequence[str] = (),
        unused_in: Collection[str] | None = None,
    ) -> Selected:
        """The diagnostics to report, and how many were left out.

        ``suppressions`` maps a file's path, as its diagnostics' spans name it, to its
        suppression comments (see :func:`suppression_comments`).  A selector of a comment
        that suppressed nothing is an unused suppression (RP120, a warning) when the command
        reports every code it stands for: those starting with one of ``stages`` (``RP1``,
        ``RP2``, ``RP3`` for ``validate``; ``plan`` adds ``RP4``) and selected.  A bare
        comment is never called unused: it may be there for another command.  ``unused_in``
        limits that to these files (those that were read and checked; all by default).
        """
        by_line: dict[tuple[str, int], list[Suppression]] = {}
        for path, comments in (suppressions or {}).items():
            for comment in comments:
                by_line.setdefault((path, comment.line), []).append(comment)
        used: set[tuple[str, int, str | None]] = set()
        kept: list[Diagnostic] = []
        deselected = suppressed = 0
        for d in diagnostics:
            if not self.keeps(d.code):
                deselected += 1
                continue
            if _suppressed(d, by_line, used):
                suppressed += 1
                continue
            kept.append(d)
        if stages:
            lines = {
                key: comments
                for key, comments in by_line.items()
                if unused_in is None or key[0] in unused_in
            }
            kept += self._unused(lines, used, tuple(stages))
        if self.warnings_as_errors:
            kept = [
                replace(d, severity=Severity.ERROR) if d.severity is Severity.WARNING else d
                for d in kept
            ]
        return Selected(kept, deselected=deselected, suppressed=suppressed)

    def _unused(
        self,
        by_line: Mapping[tuple[str, int], Sequence[Suppression]],
        used: set[tuple[str, int, str | None]],
        stages: tuple[str, ...],
    ) -> list[Diagnostic]:
        if not self.keeps("RP120"):
            return []
        found = []
        for (path, line), comments in by_line.items():
            for comment in comments:
                for code in sorted(comment.codes or ()):
                    if (path, line, code) in used:
                        continue
                    covered = [c for c in CODES if c.startswith(code)]
                    if covered and all(c.startswith(stages) and self.keeps(c) for c in covered):
                        found.append(
                            make(
                                "RP120",
                                f"unused suppression: no {code} diagnostic on this line",
                                Span(path, line, comment.col, line, comment.end_col),
                                hint=f"remove {code} from the comment, or the comment",
                            )
                        )
        return found


def _suppressed(
    d: Diagnostic,
    by_line: Mapping[tuple[str, int], Sequence[Suppression]],
    used: set[tuple[str, int, str | None]],
) -> bool:
    if d.span is None:
        return False
    for line in sorted({d.span.line, d.span.end_line}):
        for comment in by_line.get((d.span.path, line), ()):
            if comment.codes is None:
                used.add((d.span.path, line, None))
                return True
            for code in comment.codes:
                if d.code.startswith(code):
                    used.add((d.span.path, line, code))
                    return True
    return False


@dataclass
class Selected:
    """The diagnostics a :class:`Selection` keeps, and the counts of those it left out."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    deselected: int = 0
    """Left out by ``--select`` or ``--ignore``."""
    suppressed: int = 0
    """Left out by a suppression comment."""

    def summary(self) -> str:
        """``2 suppressed, 1 ignored``, or the empty string when nothing was left out."""
        parts = []
        if self.suppressed:
            parts.append(f"{self.suppressed} suppressed")
        if self.deselected:
            parts.append(f"{self.deselected} ignored")
        return ", ".join(parts)
