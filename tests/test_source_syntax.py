"""YAML syntax errors in runway-plan's words: RP100 at a place within the file (so that the
text output frames it), with where the mapping, list or string being read starts, and none of
PyYAML's own text."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from runway_plan.cli import main
from runway_plan.diagnostics.frame import source_lines
from runway_plan.diagnostics.render import render
from runway_plan.source import parse_document

PYYAML_WORDS = ("while ", "<unicode string>", "did not find", "found ", "scalar", "stream")


@pytest.mark.parametrize(
    ("text", "where", "words", "related"),
    [
        ("a: b: c\n", (1, 5), "': ' here would start a mapping", None),
        ("a:\n\t- x\n", (2, 1), "a tab where YAML expects", None),
        ("a: @x\n", (1, 4), "'@' cannot start a plain value", None),
        ("a: `x`\n", (1, 4), "'`' cannot start a plain value", None),
        ('a: "abc\n\n', (1, 4), "quoted string is not closed before the end", None),
        ("a: [1, 2\n\n", (1, 9), "expected ',' or ']' in this list", (1, 4)),
        ("a: {x: 1", (1, 9), "expected ',' or '}' in this mapping", (1, 4)),
        ("a: *nope\n", (1, 4), "refers to no anchor", None),
        ("a: 1\n---\nb: 2\n", (2, 1), "more than one YAML document", (1, 1)),
        ('a: "\\q"\n', (1, 5), "unknown escape in a double-quoted string", (1, 4)),
        ("a:\n  - 1\n  b: 2\n", (3, 3), "expected a list item ('- ')", (2, 3)),
        ('a: "x" y\n', (1, 8), "expected a key (name: value) here", (1, 1)),
        ('a: "é\x1b"\n', (1, 6), "the control character \\x1b is not allowed", None),
        ("x: 1\ny: '漢字\x7f'", (2, 7), "the control character \\x7f is not allowed", None),
    ],
)
def test_a_syntax_error_is_said_in_plain_words_where_it_is(
    text: str, where: tuple[int, int], words: str, related: tuple[int, int] | None
) -> None:
    doc = parse_document(text, "s.yaml")
    [error] = doc.diagnostics
    assert error.code == "RP100" and doc.syntax_error and doc.data is None
    assert error.span is not None and (error.span.line, error.span.col) == where
    assert error.message.startswith("YAML syntax error: ") and words in error.message
    assert not any(said in error.message for said in PYYAML_WORDS), error.message
    assert [(s.line, s.col) for _label, s in error.related] == ([related] if related else [])


def test_an_unclosed_quote_is_hinted_where_the_next_key_breaks(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        'version: 1\nname: t\nsteps:\n  hero:\n    promptText: "open\n    ratio: "1:1"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(spec)], env={"NO_COLOR": "1"})
    assert result.exit_code == 1
    assert result.stdout.replace(f"{spec}:", "").splitlines() == [
        "6:13: RP100 YAML syntax error: expected a key (name: value) here",
        "  |",
        '6 |     ratio: "1:1"',
        "  |             ^",
        "  hint: a quote opened above may not be closed, or this line is indented unlike its "
        "neighbours",
        "  5:5: the mapping starts here",
    ]


_YAMLISH = st.text(st.sampled_from([*"ab:-[]{},'\"#&*!|>@`%? \n\t\\", "\x1b", "é"]))


@given(text=_YAMLISH)
def test_every_syntax_error_is_placed_within_the_file_and_framed(text: str) -> None:
    doc = parse_document(text, "s.yaml")
    if not doc.syntax_error:
        return
    [error] = doc.diagnostics
    assert error.span is not None
    lines = source_lines(text)
    assert 1 <= error.span.line <= len(lines)
    assert 1 <= error.span.col <= len(lines[error.span.line - 1]) + 1
    assert "<unicode string>" not in error.message and "while " not in error.message
    framed = render([error], "text", sources={"s.yaml": text}).splitlines()
    assert framed[1:4] and framed[3].rstrip().endswith("^")
