"""The plan's documents written in pieces (JSON, text table, Markdown, Gantt chart) are the
documents built whole, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runway_plan.catalog import load_catalog
from runway_plan.diagnostics.display import display_lines, json_chunks, json_text
from runway_plan.plan import plan
from runway_plan.plan.report import (
    gantt_html_pieces,
    gantt_svg_pieces,
    markdown_pieces,
    plan_pieces,
    plan_to_dict,
    render_plan,
    report_header,
    report_lines,
    step_tables,
    text_pieces,
)
from runway_plan.plan.report.gantt import _svg_lines
from runway_plan.plan.report.markdown import _markdown_lines
from runway_plan.validate import check_file

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))

_TEXT = st.text(alphabet=st.sampled_from(["#", "[", "v", "s", "o", "a", "\x1b", "\u202e", "\n"]))
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=_VALUES, batch=st.integers(min_value=1, max_value=40))
def test_json_in_pieces_is_json_text(data: object, batch: int) -> None:
    pieces = list(json_chunks(data, batch=batch))
    assert "".join(pieces) == json_text(data)
    assert all(pieces)
    if batch == 1 and isinstance(data, list) and data:
        assert len(pieces) > 1


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_plan_json_in_pieces_is_the_whole_document(spec: Path) -> None:
    catalog = load_catalog()
    graph, diagnostics = check_file(spec, catalog)
    assert not [d for d in diagnostics if d.is_error]
    result = plan(graph, catalog)
    whole = json_text(plan_to_dict(result)) + "\n"
    assert "".join(plan_pieces(result, "json")) == whole
    assert render_plan(result, "json") == whole
    assert json.loads(whole)["generations"]


def test_an_unknown_format_is_refused() -> None:
    catalog = load_catalog()
    graph, _ = check_file(SPECS[0], catalog)
    with pytest.raises(ValueError, match="unknown format"):
        render_plan(plan(graph, catalog), "yaml")


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_text_table_in_pieces_is_the_whole_report(spec: Path) -> None:
    catalog = load_catalog()
    graph, _ = check_file(spec, catalog)
    result = plan(graph, catalog)
    (table,) = step_tables(result)
    lines = [report_header(result), "", *(text for text, _ in table.lines()), ""]
    lines += [text for text, _ in report_lines(result)]
    whole = display_lines("\n".join(lines)) + "\n"
    for batch in (1, 2, 7, 1000):
        assert "".join(text_pieces(result, batch)) == whole
    assert render_plan(result, "table") == whole
    assert "".join(plan_pieces(result, "table")) == whole


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_markdown_and_gantt_in_pieces_are_the_whole_documents(spec: Path) -> None:
    catalog = load_catalog()
    graph, _ = check_file(spec, catalog)
    result = plan(graph, catalog)
    whole = display_lines("\n".join(_markdown_lines(result))) + "\n"
    for batch in (1, 3, 1000):
        assert "".join(markdown_pieces(result, batch)) == whole
    assert render_plan(result, "markdown") == whole
    svg = "\n".join(_svg_lines(result)) + "\n"
    assert svg.startswith("<svg") and svg.endswith("</svg>\n")
    assert "".join(gantt_svg_pieces(result)) == svg
    html = "".join(gantt_html_pieces(result))
    assert html.startswith("<!doctype html>") and f"<body>\n{svg}</body></html>\n" in html
