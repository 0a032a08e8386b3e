"""The one helper that shows a spec's text (``runway_plan.diagnostics.display``), and the plan
renderers as a library: whatever text reaches them, their output keeps its structure.

The renderers are given plans whose step names and models were replaced after planning by
text the spec language refuses (quotes, brackets, newlines), so that a looser name rule, or a
renderer used on its own, still cannot be broken by it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from runway_plan import check_file, load_catalog
from runway_plan.diagnostics import Span
from runway_plan.diagnostics.display import display, display_lines, is_hidden, json_text
from runway_plan.plan import Plan, plan
from runway_plan.plan.report import render_dot, render_markdown, render_mermaid, render_text

ROOT = Path(__file__).resolve().parents[1]

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
"""Any code points at all, lone surrogates and noncharacters included."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain: a-b_c 1280:720", "plain: a-b_c 1280:720"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x00\x07\x08\x0b\x0c\x1b[31m\x7f", "\\x00\\x07\\x08\\x0b\\x0c\\x1b[31m\\x7f"),
        ("\x85\x9b", "\\x85\\x9b"),
        (
            "\x1b]8;;https://e.example\x07x\x1b]8;;\x07",
            "\\x1b]8;;https://e.example\\x07x\\x1b]8;;\\x07",
        ),
        (
            "\u202eabc\u202c \u2066x\u2069 \u200e\u200f\u061c",
            "\\u202eabc\\u202c \\u2066x\\u2069 \\u200e\\u200f\\u061c",
        ),
        ("a\u200bb\ufeffc\u00add\u2060", "a\\u200bb\\ufeffc\\xadd\\u2060"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("\ud800\udfff", "\\ud800\\udfff"),
        ("\ufffe\uffff\ufdd0\U0001fffe", "\\ufffe\\uffff\\ufdd0\\U0001fffe"),
        ("\U000e0041\U000e007f", "\\U000e0041\\U000e007f"),
        ("Zürich 文字 👩‍💻 🏳️‍🌈 a\u00a0b\u3000c", "Zürich 文字 👩‍💻 🏳️‍🌈 a\u00a0b\u3000c"),
        ("\\n stays \\n", "\\n stays \\n"),
        ("::error::x ##[error]y", "::error::x ##[error]y"),
    ],
)
def test_display_writes_hidden_characters_as_escapes(text: str, expected: str) -> None:
    assert display(text) == expected


@given(any_text)
def test_display_leaves_nothing_hidden_and_is_idempotent(text: str) -> None:
    shown = display(text)
    assert not any(is_hidden(c) for c in shown)
    assert display(shown) == shown
    shown.encode("utf-8")  # lone surrogates are escapes: the text can always be written
    if not any(is_hidden(c) for c in text):
        assert shown == text


def test_is_hidden_matches_the_unicode_categories() -> None:
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        expected = category in {"Cc", "Cf", "Cs", "Zl", "Zp"} and char not in "\u200c\u200d"
        expected |= 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE
        assert is_hidden(char) == expected, hex(code)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("::error::x", "\\x3a:error::x"),
        ("ok\n  ::warning file=a::b\n", "ok\n  \\x3a:warning file=a::b\n"),
        ("\u3000\u00a0::notice::x", "\u3000\u00a0\\x3a:notice::x"),
        ("\t::x", "\\t::x"),
        (": one colon\na :: b", ": one colon\na :: b"),
        (
            "x ##[error]y ##vso[task.x]z ###[w] #[v]",
            "x \\x23#[error]y \\x23#vso[task.x]z #\\x23#[w] #[v]",
        ),
        ("a\rb\x1b[2Jc\u202e", "a\\rb\\x1b[2Jc\\u202e"),
        ("### heading\n| `a` |", "### heading\n| `a` |"),
    ],
)
def test_display_lines_leaves_no_workflow_command(document: str, expected: str) -> None:
    assert display_lines(document) == expected


@given(any_text)
def test_no_line_of_a_shown_document_is_a_workflow_command(text: str) -> None:
    shown = display_lines(text)
    for line in shown.split("\n"):
        assert not line.lstrip().startswith("::")
        assert "##[" not in line and "##vso[" not in line
        assert not any(is_hidden(c) for c in line)


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


@given(json_data)
def test_json_text_decodes_to_the_same_data_and_shows_nothing_hidden(data: object) -> None:
    for text in (json_text(data), json_text(data, indent=None, separators=(",", ":"))):
        assert json.loads(text) == data
        assert not any(is_hidden(c) for c in text.replace("\n", ""))
        assert "##[" not in text and "##vso[" not in text
        text.encode("utf-8")


def test_json_text_writes_astral_escapes_as_surrogate_pairs() -> None:
    assert (
        json_text(["\U000e0041", "😀", "##[x"])
        == '[\n  "\\udb40\\udc41",\n  "😀",\n  "\\u0023#[x"\n]'
    )


def test_a_span_shows_its_path() -> None:
    assert str(Span("a\n::error::b.yaml", 3, 4, 3, 5)) == "a\\n::error::b.yaml:3:4"


# --------------------------------------------------- renderers given text no spec can hold

NAMES = ['a"b#quot;', "c]d[ %%{init: {}}%%", "e\nf\\", "g`h|i<br/>&amp;"]
"""One per step of launch.yaml: quotes, an entity, brackets, a directive, a newline, a
backslash, a backtick, a pipe, HTML."""


def _hostile_plan() -> Plan:
    graph, diagnostics = check_file(ROOT / "specs" / "launch.yaml", load_catalog())
    assert not diagnostics
    result = plan(graph, load_catalog())
    names = {step.name: NAMES[i] for i, step in enumerate(result.steps)}
    result.steps = [
        replace(step, name=names[step.name], model=f"{names[step.name]}\x1b[31m")
        for step in result.steps
    ]
    result.step_edges = [(names[a], names[b]) for a, b in result.step_edges]
    result.name = 'x"\n} digraph y {'
    return result


def test_mermaid_labels_hold_any_text() -> None:
    result = _hostile_plan()
    lines = render_mermaid(result).splitlines()
    nodes = [line for line in lines if re.fullmatch(r'  s\d+\["[^"\n]*"\]', line)]
    assert len(nodes) == len(result.steps)
    edges = [line for line in lines if re.fullmatch(r"  s\d+ --> s\d+", line)]
    assert len(edges) == len(result.step_edges)
    assert len(lines) == 1 + len(nodes) + len(edges) + 2 + any(s.is_range for s in result.steps)
    labels = " ".join(re.sub(r'^  s\d+\["|"\]$', "", node) for node in nodes)
    # what is left once runway-plan's entities and line breaks are taken out
    assert not set(re.sub(r"#\d+;", "", labels.replace("<br/>", ""))) & set('"<>&`%#')
    assert "a#34;b#35;quot;" in labels and "#37;#37;{init: {}}#37;#37;" in labels
    assert "g#96;h|i#60;br/#62;#38;amp;" in labels and "e\\nf\\" in labels
    assert "\\x1b[31m" in labels


def test_dot_strings_hold_any_text() -> None:
    result = _hostile_plan()
    string = r'"(?:[^"\\\n]|\\.)*"'
    statements = (
        rf"digraph {string} {{",
        r"  rankdir=LR;",
        r"  node \[.*\];",
        rf"  {string} \[label={string}(?:, fillcolor={string})?\];",
        rf"  {string} -> {string};",
        "}",
    )
    lines = render_dot(result).splitlines()
    for line in lines:
        assert any(re.fullmatch(p, line) for p in statements), line
    assert len(lines) == 3 + len(result.steps) + len(result.step_edges) + 1
    assert '  "e\\\\nf\\\\" [label="e\\\\nf\\\\\\n' in render_dot(result)
    assert render_dot(result).startswith('digraph "x\\"\\\\n} digraph y {" {\n')


def test_markdown_table_holds_any_text() -> None:
    result = _hostile_plan()
    tokens = MarkdownIt("commonmark").enable("table").parse(render_markdown(result))
    assert sum(t.type == "tr_open" for t in tokens) == 1 + len(result.steps) + 1
    cells = [
        child.content for t in tokens for child in (t.children or []) if child.type == "code_inline"
    ]
    for name in NAMES[: len(result.steps)]:
        assert display(name) in cells


def test_text_report_holds_any_text() -> None:
    result = _hostile_plan()
    text = render_text(result)
    table = text.split("\n\n")[1].splitlines()
    assert len(table) == 2 + len(result.steps) + 1
    assert table[2 + len(result.steps) - 1].startswith(display(result.steps[-1].name))
