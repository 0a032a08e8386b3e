"""Render plans and plan diffs: plain text, JSON, Markdown, Mermaid, DOT and an SVG Gantt chart.

One module per format: :mod:`.text` (the plain-text report and its step table), :mod:`.jsondoc`
(the JSON document), :mod:`.markdown`, :mod:`.mermaid`, :mod:`.dot`, :mod:`.gantt` (SVG and
HTML), and :mod:`.diff` for plan diffs in text, JSON and Markdown; :mod:`.figures` holds the
wording they share.  Every renderer returns a string and imports nothing but the standard
library; the rich terminal table lives in the CLI.  The JSON schema is documented in
``docs/plan-json.md`` and versioned by its ``version`` key: fields are only ever added within a
version.

Names, models, reasons, paths and messages hold text from the spec, which is untrusted: each
is shown through :func:`~runway_plan.diagnostics.display.display` and then escaped for its
format (a Markdown code span, a Mermaid or DOT string, XML), and every text document passes
through :func:`~runway_plan.diagnostics.display.display_lines` as it is returned.
"""

from __future__ import annotations

from collections.abc import Iterator

from runway_plan.plan.model import Plan
from runway_plan.plan.report.diff import DIFF_HEADERS, diff_rows, diff_to_dict, render_diff
from runway_plan.plan.report.dot import render_dot
from runway_plan.plan.report.figures import (
    CONFIDENCE_LEGEND,
    CONFIDENCE_MARK,
    ROW_HEADERS,
    confidence_legend,
    credits_text,
    reuse_lines,
    row_headers,
    step_rows,
    summary_lines,
    total_row,
)
from runway_plan.plan.report.gantt import (
    gantt_html_pieces,
    gantt_svg_pieces,
    render_gantt_html,
    render_gantt_svg,
)
from runway_plan.plan.report.jsondoc import (
    JSON_SCHEMA_VERSION,
    plan_json_chunks,
    plan_to_dict,
    resource_to_dict,
)
from runway_plan.plan.report.markdown import markdown_code, markdown_pieces, render_markdown
from runway_plan.plan.report.mermaid import render_mermaid
from runway_plan.plan.report.text import (
    COLUMN_PRIORITY,
    LineKind,
    StepTable,
    render_text,
    report_header,
    report_lines,
    resource_lines,
    step_tables,
    text_pieces,
)

__all__ = [
    "COLUMN_PRIORITY",
    "CONFIDENCE_LEGEND",
    "CONFIDENCE_MARK",
    "DIFF_HEADERS",
    "JSON_SCHEMA_VERSION",
    "PLAN_FORMATS",
    "ROW_HEADERS",
    "LineKind",
    "StepTable",
    "confidence_legend",
    "credits_text",
    "diff_rows",
    "diff_to_dict",
    "gantt_html_pieces",
    "gantt_svg_pieces",
    "markdown_code",
    "markdown_pieces",
    "plan_pieces",
    "plan_to_dict",
    "render_diff",
    "render_dot",
    "render_gantt_html",
    "render_gantt_svg",
    "render_markdown",
    "render_mermaid",
    "render_plan",
    "render_text",
    "report_header",
    "report_lines",
    "resource_lines",
    "resource_to_dict",
    "reuse_lines",
    "row_headers",
    "step_rows",
    "step_tables",
    "summary_lines",
    "text_pieces",
    "total_row",
]

PLAN_FORMATS = ("table", "json", "markdown")


def render_plan(plan: Plan, fmt: str) -> str:
    """Render ``plan`` as ``table`` (plain text), ``json`` or ``markdown``."""
    return "".join(plan_pieces(plan, fmt))


def plan_pieces(plan: Plan, fmt: str) -> Iterator[str]:
    """The text of :func:`render_plan`, in pieces to write one after the other: the JSON
    document is made as it is written (:func:`plan_json_chunks`), and so is the text table
    (:func:`text_pieces`) and the Markdown (:func:`markdown_pieces`), never held whole."""
    if fmt == "table":
        yield from text_pieces(plan)
    elif fmt == "json":
        yield from plan_json_chunks(plan)
    elif fmt == "markdown":
        yield from markdown_pieces(plan)
    else:
        raise ValueError(f"unknown format {fmt!r}")
