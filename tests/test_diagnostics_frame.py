"""Source frames under text diagnostics: the line, numbered, with carets under the span; the
spec's text shown as every output shows it; colour only on a terminal, or when asked for."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from runway_plan.cli import main
from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.diagnostics.display import display, display_lines, is_hidden
from runway_plan.diagnostics.frame import (
    MAX_CELLS,
    Style,
    frame_lines,
    source_lines,
    wants_color,
)
from runway_plan.diagnostics.render import render

PLAIN = Style(False)
SGR = re.compile(r"\x1b\[[0-9;]*m")
SPEC = """\
version: 1
name: t
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "a photo"
    ratio: "1920:1081"
"""
NO_ENV: dict[str, str | None] = {"NO_COLOR": None, "FORCE_COLOR": None, "TERM": None}


def _framed(span: Span, text: str) -> list[str]:
    return frame_lines(span, source_lines(text), PLAIN, "error")


def _frame(line: str, start: int, end: int, *, source: str | None = None) -> list[str]:
    """The frame of characters ``[start, end)`` of ``line`` (line 1 of ``source``)."""
    span = Span("s.yaml", 1, start + 1, 1, end + 1)
    return _framed(span, line if source is None else source)


def _cells(text: str) -> list[str]:
    """``text`` one terminal cell per item: a wide character takes two."""
    cells = []
    for char in text:
        cells.append(char)
        if unicodedata.east_asian_width(char) in ("W", "F"):
            cells.append("")
    return cells


def _under_carets(frame: list[str]) -> str:
    """The text of the source line that stands above the carets (the line's trailing blanks
    are not written)."""
    gutter = frame[1].index("|") + 2
    source, carets = _cells(frame[1][gutter:]), frame[2][gutter:]
    source += [" "] * (len(carets) - len(source))
    first = carets.index("^")
    return "".join(source[first : first + carets.count("^")])


def test_carets_are_under_the_span() -> None:
    frame = _frame('    ratio: "1920:1081"', 11, 22)
    assert frame == [
        "  |",
        '1 |     ratio: "1920:1081"',
        "  |            ^^^^^^^^^^^",
    ]


def test_the_gutter_is_as_wide_as_the_line_number() -> None:
    text = "\n" * 11 + "  seed: -1"
    frame = _framed(Span("s.yaml", 12, 9, 12, 11), text)
    assert frame == ["   |", "12 |   seed: -1", "   |         ^^"]


def test_hidden_characters_are_escapes_and_the_carets_follow_them() -> None:
    line = 'x: "\x1b[31m\u202e漢字 ##[error]" y'
    frame = _frame(line, line.index("y"), line.index("y") + 1)
    assert frame[1] == '1 | x: "\\x1b[31m\\u202e漢字 \\x23#[error]" y'
    assert _under_carets(frame) == "y"


def test_a_wide_span_gets_two_carets_a_character() -> None:
    frame = _frame("name: 漢字", 6, 8)
    assert _under_carets(frame) == "漢字" and frame[2].endswith("^^^^")


def test_an_empty_span_gets_one_caret_and_the_end_of_a_line_can_be_marked() -> None:
    assert _frame("key: [", 6, 6)[2] == "  |       ^"
    assert _frame("abc", 1, 1)[2] == "  |  ^"


def test_a_span_over_several_lines_is_marked_to_the_end_of_its_first() -> None:
    text = "steps:\n  hero:   \n    model: x\n"
    frame = _framed(Span("s.yaml", 2, 3, 3, 13), text)
    assert frame[1:] == ["2 |   hero:", "  |   ^^^^^"]


def test_no_frame_for_a_whole_file_or_a_place_outside_the_text() -> None:
    assert _framed(Span.file("s.yaml"), "version: 1\n") == []
    assert _framed(Span("s.yaml", 3, 1, 3, 2), "a\nb") == []
    assert _framed(Span("s.yaml", 1, 9, 1, 10), "short") == []
    assert _framed(Span("request", 0, 0, 0, 1), "short") == []


def test_line_numbers_count_the_breaks_yaml_counts() -> None:
    text = "a: 1\r\nb: 2\u2028c: 3\rd: 4"
    frame = _framed(Span("s.yaml", 4, 4, 4, 5), text)
    assert frame[1:] == ["4 | d: 4", "  |    ^"]


def test_a_long_line_is_a_window_around_the_span() -> None:
    line = "promptText: " + "word " * 100 + "TARGET" + " tail" * 100
    start = line.index("TARGET")
    frame = _frame(line, start, start + 6)
    shown = frame[1].removeprefix("1 | ")
    assert shown.startswith("…") and shown.endswith("…")
    assert len(shown) <= MAX_CELLS + 2
    assert _under_carets(frame) == "TARGET"


def test_a_span_far_into_a_huge_line_is_framed_from_a_window() -> None:
    line = "x" * 1_000_000 + "TARGET" + "y" * 1_000_000
    frame = _frame(line, 1_000_000, 1_000_006)
    assert _under_carets(frame) == "TARGET"
    assert frame[1].startswith("1 | …x") and frame[1].endswith("y…")
    assert len(frame[1]) < MAX_CELLS + 10


def test_a_span_longer_than_the_window_is_marked_to_its_edge() -> None:
    line = "k: " + "x" * 300
    frame = _frame(line, 3, len(line))
    assert frame[1].endswith("…") and frame[2].count("^") <= MAX_CELLS


_ALPHABET = st.sampled_from(
    [*"ab :#[]v-\"'", "\x1b", "\t", "\x07", "\x7f", "\x9b", "\u202e", "\u2066", "漢", "é"]
)


@given(line=st.text(_ALPHABET, max_size=40), data=st.data())
def test_the_carets_mark_exactly_what_the_span_shows_and_nothing_acts(
    line: str, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, max(len(line) - 1, 0)))
    end = data.draw(st.integers(start + 1, max(len(line), start + 1)))
    frame = _frame(line, start, end)
    hashes = {m.start() for m in re.finditer(r"#(?=#(?:vso)?\[)", line)}
    expected = "".join(
        "\\x23" if i in hashes else display(line[i]) for i in range(start, min(end, len(line)))
    )
    if line:
        assert _under_carets(frame) == expected
    for shown in frame:
        assert display_lines(shown) == shown
        assert not any(is_hidden(char) for char in shown)


# ------------------------------------------------------------------- rendering and the CLI


def _ratio_error() -> Diagnostic:
    return make("RP207", "ratio '1920:1081' is not allowed", Span("s.yaml", 8, 12, 8, 23))


def test_the_first_line_is_unchanged_and_other_formats_ignore_the_source() -> None:
    d = _ratio_error()
    sources = {"s.yaml": SPEC}
    framed = render([d], "text", sources=sources)
    assert framed.splitlines()[0] == render([d], "text").splitlines()[0]
    assert framed.splitlines()[0] == "s.yaml:8:12: RP207 ratio '1920:1081' is not allowed"
    for fmt in ("json", "sarif", "github"):
        assert render([d], fmt, sources=sources, color=True) == render([d], fmt)


def test_colour_marks_path_code_gutter_and_carets_only() -> None:
    d = _ratio_error()
    coloured = render([d], "text", sources={"s.yaml": SPEC}, color=True)
    assert "\x1b[1;31mRP207\x1b[0m" in coloured and "\x1b[1;31m^^^^^^^^^^^\x1b[0m" in coloured
    assert SGR.sub("", coloured) == render([d], "text", sources={"s.yaml": SPEC})


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"NO_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
        ({"NO_COLOR": ""}, True, True),
        ({"TERM": "dumb"}, True, False),
    ],
)
def test_wants_color(
    env: dict[str, str], tty: bool, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    class Stream:
        def isatty(self) -> bool:
            return tty

    assert wants_color(Stream()) is expected  # type: ignore[arg-type]


def _spec(tmp_path: Path, text: str = SPEC) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_shows_the_frame_plain_into_a_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _spec(tmp_path)
    result = CliRunner().invoke(main, ["validate", "spec.yaml"], env=NO_ENV)
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout
    assert result.stdout.splitlines()[:4] == [
        "spec.yaml:8:12: RP207 ratio '1920:1081' is not allowed for gen4_image",
        "  |",
        '8 |     ratio: "1920:1081"',
        "  |            ^^^^^^^^^^^",
    ]


@pytest.mark.parametrize(
    ("env", "coloured"),
    [({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False)],
)
def test_validate_colours_when_forced_unless_no_color(
    env: dict[str, str | None], coloured: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _spec(tmp_path, SPEC.replace('"a photo"', '"\\e[2J\\u202e"'))
    result = CliRunner().invoke(main, ["validate", "spec.yaml"], env={**NO_ENV, **env})
    assert ("\x1b[" in result.stdout) is coloured
    plain = SGR.sub("", result.stdout)
    assert "\x1b" not in plain  # the spec's own escape is shown, never sent
    plain_run = CliRunner().invoke(main, ["validate", "spec.yaml"], env=NO_ENV)
    assert plain == plain_run.stdout


def test_plan_of_a_broken_spec_shows_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _spec(tmp_path)
    result = CliRunner().invoke(main, ["plan", "spec.yaml"], env=NO_ENV)
    assert result.exit_code == 1
    assert '8 |     ratio: "1920:1081"' in result.stdout.splitlines()


def test_validate_on_a_terminal_is_coloured(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm"
    with subprocess.Popen(
        [sys.executable, "-m", "runway_plan", "validate", str(path)],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end has closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 1
    os.close(leader)
    out = b"".join(chunks).decode()
    assert "\x1b[1;31mRP207\x1b[0m" in out
    assert '\x1b[1;34m8 |\x1b[0m     ratio: "1920:1081"' in out
