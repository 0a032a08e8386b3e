"""Source frames: the line a text diagnostic is about, numbered, with carets under its span.

As rustc and ruff print them::

    fields.yaml:8:12: RP207 ratio '1920:1080' is not allowed for gen4.5
      |
    8 |     ratio: "1920:1080"
      |            ^^^^^^^^^^^

The source line is the spec's text, shown character by character as
:func:`~runway_plan.diagnostics.display.display` shows it (a control character is a visible
escape such as ``\\x1b``, the ``#`` of ``##[`` is ``\\x23``), and the carets are placed under
what is shown: under the escape of a hidden character, under both cells of a wide character.
A line wider than :data:`MAX_CELLS` is shown as a window around the span, cut with ``…``.

Colour (:func:`wants_color`) is added after the text is made safe, so only runway-plan's own
escapes reach a terminal.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from typing import TextIO

from runway_plan.diagnostics import Span
from runway_plan.diagnostics.display import display

__all__ = ["MAX_CELLS", "Style", "frame_lines", "source_lines", "wants_color"]

MAX_CELLS = 100
"""Widest source text a frame shows; a longer line is cut around the span."""
_BEFORE = 32
"""Cells of a cut line kept before the span, when there are more."""
_CUT = "…"
_READ = 2 * MAX_CELLS
"""Characters of a line read on each side of a span's start: more than a window can show
(a character takes at least one cell, but for a few combining marks)."""

_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
"""What YAML (PyYAML and libyaml) count as a line break, and so what a span's line counts."""
_COMMAND_HASH = re.compile(r"#(?=#(?:vso)?\[)")

_RESET = "\x1b[0m"
_COLOURS = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "note": "\x1b[1;36m",
    "gutter": "\x1b[1;34m",
    "path": "\x1b[1m",
}


class Style:
    """Wraps runway-plan's own text in ANSI colours, or leaves it plain."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, role: str) -> str:
        """``text`` in the colour of ``role`` (a severity, ``gutter`` or ``path``)."""
        if not self.color or not text:
            return text
        return f"{_COLOURS[role]}{text}{_RESET}"


def wants_color(stream: TextIO) -> bool:
    """True when text written to ``stream`` should be coloured.

    ``NO_COLOR`` (non-empty) turns colour off and ``FORCE_COLOR`` (non-empty) on, as for
    rich, which colours ``plan``'s tables (``NO_COLOR`` wins); otherwise a terminal that is
    not ``TERM=dumb`` gets colour and a pipe or a file does not.
    """
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def source_lines(text: str) -> list[str]:
    """``text`` split where YAML counts a new line (so a span's line number indexes it)."""
    return _LINE_BREAK.split(text)


def _cells(char: str) -> int:
    if unicodedata.combining(char) or char in "\u200c\u200d":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _pieces(line: str) -> list[tuple[str, int]]:
    """Each character of ``line`` as shown, with the cells it takes on a terminal."""
    hashes = {match.start() for match in _COMMAND_HASH.finditer(line)}
    pieces = []
    for index, char in enumerate(line):
        if " " <= char <= "~" and char != "#":
            pieces.append((char, 1))
        elif index in hashes:
            pieces.append(("\\x23", 4))
        else:
            shown = display(char)
            pieces.append((shown, len(shown) if shown != char else _cells(char)))
    return pieces


def _window(pieces: list[tuple[str, int]], start: int, end: int) -> tuple[int, int]:
    """The characters ``[first, last)`` of a line to show, at most :data:`MAX_CELLS` wide,
    keeping the span ``[start, end)`` (or as much of its start as fits)."""
    widths = [cells for _shown, cells in pieces]
    if sum(widths) <= MAX_CELLS:
        return 0, len(pieces)
    first = start
    used = 0
    while first > 0 and used + widths[first - 1] <= _BEFORE:
        first -= 1
        used += widths[first]
    last = first
    used = 0
    while last < len(pieces) and used + widths[last] <= MAX_CELLS:
        used += widths[last]
        last += 1
    while first > 0 and used + widths[first - 1] <= MAX_CELLS:
        first -= 1
        used += widths[first]
    return first, max(last, min(start + 1, len(pieces)))


def frame_lines(span: Span, lines: Sequence[str], style: Style, role: str) -> list[str]:
    """The frame of ``span`` in a source split into ``lines`` (by :func:`source_lines`), or
    no lines when the span is not within them or stands for the whole file
    (:meth:`Span.file`).

    A span over several lines is marked from its start to the end of its first line; an
    empty span gets one caret.  ``role`` is the severity whose colour the carets take.  Only
    the part of a long line around the span is looked at, so a frame costs the same on a
    spec written on one line of a megabyte.
    """
    if span == Span.file(span.path) or not 1 <= span.line <= len(lines):
        return []
    line = lines[span.line - 1]
    start = span.col - 1
    if not 0 <= start <= len(line):
        return []
    if span.end_line == span.line:
        end = min(span.end_col - 1, len(line))
    else:
        end = len(line.rstrip()) if span.end_line > span.line else start
    low = max(0, start - _READ)
    high = min(len(line), start + _READ)
    source = line[low:high]
    start, end = start - low, min(end, high) - low
    pieces = _pieces(source)
    first, last = _window(pieces, start, max(end, start + 1))
    shown = "".join(piece for piece, _cells in pieces[first:last])
    lead = sum(cells for _piece, cells in pieces[first:start])
    marked = sum(cells for _piece, cells in pieces[start : min(end, last)])
    prefix = _CUT if first > 0 or low > 0 else ""
    suffix = _CUT if last < len(pieces) or high < len(line) else ""
    number = str(span.line)
    bar = style(f"{' ' * len(number)} |", "gutter")
    carets = style("^" * max(marked, 1), role)
    return [
        bar,
        f"{style(f'{number} |', 'gutter')} {prefix}{shown}{suffix}".rstrip(),
        f"{bar} {' ' * (len(prefix) + lead)}{carets}",
    ]
