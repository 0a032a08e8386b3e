"""Renderers for diagnostics: text, JSON, SARIF 2.1.0 and GitHub Actions annotations.

Messages, hints and paths hold text from specs: each format shows it through
:mod:`runway_plan.diagnostics.display`, so a spec cannot add a line, an annotation or a
terminal escape of its own to any of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runway_plan.diagnostics import CODES, Diagnostic, Severity
from runway_plan.diagnostics.display import display, display_lines, json_text
from runway_plan.diagnostics.frame import Style, frame_lines, source_lines

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "sarif", "github")
TOOL_URI = "https://github.com/runway-plan/runway-plan"


def _text(diagnostics: Sequence[Diagnostic], sources: Mapping[str, str], style: Style) -> str:
    lines = []
    texts: dict[str, list[str]] = {}
    for d in diagnostics:
        role = d.severity.value
        where = display_lines(f"{d.span}: ") if d.span else ""
        level = "" if d.severity is Severity.ERROR else f"[{d.severity.value}] "
        message = display_lines(f"{where}{d.code} {level}{display(d.message)}")[len(where) :]
        lines.append(style(where, "path") + style(d.code, role) + message[len(d.code) :])
        if d.span is not None and d.span.path in sources:
            split = texts.get(d.span.path)
            if split is None:
                split = texts[d.span.path] = source_lines(sources[d.span.path])
            lines.extend(frame_lines(d.span, split, style, role))
        if d.hint:
            hint = display_lines(f"  hint: {display(d.hint)}")
            lines.append(f"  {style('hint', 'note')}{hint[len('  hint') :]}")
        for label, span in d.related:
            lines.append(display_lines(f"  {span}: {display(label)}"))
    return "".join(f"{line}\n" for line in lines)


def _as_dict(d: Diagnostic) -> dict[str, Any]:
    span = d.span
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "hint": d.hint,
        "file": span.path if span else None,
        "line": span.line if span else None,
        "column": span.col if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_col if span else None,
        "related": [
            {"message": label, "file": s.path, "line": s.line, "column": s.col}
            for label, s in d.related
        ],
    }


def _json(diagnostics: Sequence[Diagnostic]) -> str:
    counts = {level.value: 0 for level in Severity}
    for d in diagnostics:
        counts[d.severity.value] += 1
    body = {"version": 1, "summary": counts, "diagnostics": [_as_dict(d) for d in diagnostics]}
    return json_text(body) + "\n"


def _region(d: Diagnostic) -> dict[str, int]:
    assert d.span is not None
    return {
        "startLine": d.span.line,
        "startColumn": d.span.col,
        "endLine": d.span.end_line,
        "endColumn": max(d.span.end_col, d.span.col + 1)
        if d.span.end_line == d.span.line
        else d.span.end_col,
    }


def _sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    used = sorted({d.code for d in diagnostics})
    index = {code: i for i, code in enumerate(used)}
    rules = [
        {
            "id": code,
            "name": CODES[code].title.title().replace(" ", ""),
            "shortDescription": {"text": CODES[code].title},
            "fullDescription": {"text": CODES[code].explanation},
            "helpUri": f"{TOOL_URI}/blob/main/docs/diagnostics.md#{code.lower()}",
            "defaultConfiguration": {"level": CODES[code].severity},
        }
        for code in used
    ]
    results = []
    for d in diagnostics:
        text = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": d.severity.value,
            "message": {"text": text},
        }
        if d.span is not None:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.span.path},
                        "region": _region(d),
                    }
                }
            ]
        if d.related:
            result["relatedLocations"] = [
                {
                    "id": i,
                    "message": {"text": label},
                    "physicalLocation": {
                        "artifactLocation": {"uri": span.path},
                        "region": {"startLine": span.line, "startColumn": span.col},
                    },
                }
                for i, (label, span) in enumerate(d.related)
            ]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "runway-plan",
                        "version": version,
                        "informationUri": TOOL_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json_text(log) + "\n"


def _escape_data(text: str) -> str:
    """A workflow command's message, escaped as ``escapeData`` of GitHub's actions/toolkit
    (packages/core/src/command.ts) does: ``%``, CR and LF."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property, escaped as the toolkit's ``escapeProperty``: as a
    message, and ``:`` and ``,``, which end a property."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(diagnostics: Sequence[Diagnostic]) -> str:
    lines = []
    for d in diagnostics:
        command = {"error": "error", "warning": "warning", "note": "notice"}[d.severity.value]
        props = [f"title={_escape_property(d.code + ' ' + CODES[d.code].title)}"]
        if d.span is not None:
            props = [
                f"file={_escape_property(display(d.span.path))}",
                f"line={d.span.line}",
                f"col={d.span.col}",
                f"endLine={d.span.end_line}",
                *props,
            ]
        message = display(d.message) + (f"\nhint: {display(d.hint)}" if d.hint else "")
        lines.append(f"::{command} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


def render(
    diagnostics: Sequence[Diagnostic],
    fmt: str,
    *,
    version: str = "0",
    sources: Mapping[str, str] | None = None,
    color: bool = False,
) -> str:
    """Render ``diagnostics`` in ``fmt`` (one of :data:`FORMATS`).

    In text, a diagnostic whose file is in ``sources`` (its text, by the path its spans
    name) is followed by the frame of its span (:mod:`runway_plan.diagnostics.frame`), and
    ``color`` adds ANSI colours (see :func:`~runway_plan.diagnostics.frame.wants_color`).
    The other formats ignore both.
    """
    if fmt == "text":
        return _text(diagnostics, sources or {}, Style(color))
    if fmt == "json":
        return _json(diagnostics)
    if fmt == "sarif":
        return _sarif(diagnostics, version)
    if fmt == "github":
        return _github(diagnostics)
    raise ValueError(f"unknown format {fmt!r}")
