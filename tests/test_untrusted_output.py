"""What a spec echoes cannot forge or break the output of ``validate``, ``plan``, ``graph``,
``diff`` and ``run`` (issue 10, "Untrusted specs", section 4).

A spec from an unreviewed pull request puts its text in every format: names, keys and values
in diagnostics, the pipeline's name in plans and graphs, resource names in the plan's
resources.  Each test writes such a spec and checks the output as its reader would: a CI
runner (no line it reads as a workflow command but runway-plan's own annotations), a
terminal (no control character but the format's newlines and runway-plan's own colours), a
JSON or XML parser, a Markdown renderer (headings, tables and code spans intact), Mermaid and
Graphviz (one statement per line).  The oracles here are independent of the escaping code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from runway_plan.cli import main

FORGED = "::error file=README.md,line=1::forged"
HOSTILE = (
    f"{FORGED}\n::set-output name=x::y\r::warning::w\n"
    "`](x) ![i](https://e.example/x.png) @octocat <!-- c --> <img src=x> | # h "
    "\x1b[31mRED\x1b]8;;https://e.example\x07link\x1b]8;;\x07 \u202eevil\u202c \x08\x08 "
    "##[error]v1 ##vso[task.complete]x %0A \u2028 \x7f \x9b \ufeff"
)
"""Everything at once: annotations after a newline and a CR, Markdown, HTML, a mention,
ANSI colour, an OSC 8 hyperlink, the bell, a bidi override, backspaces, the runner's older
``##[`` commands, Azure's ``##vso[``, an escaped newline of the annotation format, a line
separator, DEL, the C1 CSI, a byte order mark."""

_SHOWN_INVISIBLES = frozenset("\u200c\u200d")


def hidden(char: str) -> bool:
    """A character a terminal, a log viewer or a browser acts on instead of showing."""
    if char in _SHOWN_INVISIBLES:
        return False
    code = ord(char)
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return True
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}


def shown(text: str) -> str:
    """``text`` as the documented convention shows it: hidden characters as ``\\n``,
    ``\\x1b``, ``\\u202e``, ``\\U000e0041``."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = []
    for char in text:
        code = ord(char)
        if char in named:
            out.append(named[char])
        elif not hidden(char):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def guarded(text: str) -> str:
    """:func:`shown`, and the ``#`` that would make ``##[`` (or ``##vso[``) written ``\\x23``,
    as in every line-based document."""
    return re.sub(r"#(?=#(?:vso)?\[)", r"\\x23", shown(text))


def raw_controls(text: str, allowed: str = "\n") -> list[str]:
    return sorted({c for c in text if hidden(c) and c not in allowed})


def workflow_commands(text: str) -> list[str]:
    """The lines a GitHub runner acts on: ``::`` first after blanks, or ``##[`` anywhere
    (and Azure Pipelines' ``##vso[``)."""
    return [
        line
        for line in text.splitlines()
        if line.lstrip().startswith("::") or "##[" in line or "##vso[" in line
    ]


def assert_inert(text: str, *, annotations: int = 0) -> None:
    """No raw control character but newlines; no workflow command but ``annotations`` of
    runway-plan's own, each a single well-formed line."""
    assert raw_controls(text) == [], text
    commands = workflow_commands(text)
    assert len(commands) == annotations, commands
    for line in commands:
        assert re.match(r"::(error|warning|notice) file=[^:]*,line=\d+,col=\d+,", line), line


def spec_text(spec: dict[str, Any]) -> str:
    """A spec as JSON the YAML loader reads back exactly: the characters YAML refuses, or
    reads as line breaks, raw in a stream are ``\\u`` escapes (astral characters stay raw:
    YAML's escapes cannot pair surrogates)."""
    text = json.dumps(spec, ensure_ascii=False)
    return re.sub(
        r"[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]", lambda m: f"\\u{ord(m.group()):04x}", text
    )


def write(directory: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = directory / name
    path.write_text(spec_text(spec), encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    return result


def image_step(**fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "text_to_image",
        "model": "gen4_image",
        "promptText": "a product photo",
        "ratio": "1920:1080",
        **fields,
    }


def clip_step(**fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "image_to_video",
        "model": "gen4_turbo",
        "promptImage": "@hero",
        "promptText": "slow dolly-in",
        "ratio": "1280:720",
        "duration": 5,
        **fields,
    }


def with_resources(text: str) -> dict[str, Any]:
    """A document and an avatar named ``text``: the plan shows both as resources to create."""
    return {
        "documents": {"faq": {"name": text, "content": text}},
        "avatars": {
            "ava": {
                "name": text,
                "personality": text,
                "referenceImage": "@hero",
                "voice": {"type": "runway-live-preset", "presetId": "clara"},
                "startScript": text,
                "documents": ["faq"],
            }
        },
    }


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)


def _broken(directory: Path, text: str = HOSTILE) -> Path:
    """A spec whose errors echo ``text``: as a ratio value and as an unknown key."""
    return write(
        directory,
        {
            "version": 1,
            "name": text,
            "steps": {"hero": image_step(ratio=text, **{text: 1})},
        },
    )


def _diagnostics(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(run("validate", str(path), "--format", "json").stdout)
    return list(doc["diagnostics"])


# ---------------------------------------------------------------- validate, every format


def test_validate_text_shows_what_a_spec_wrote_as_visible_escapes(tmp_path: Path) -> None:
    path = _broken(tmp_path)
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert_inert(result.stdout)
    assert "'::error file=README.md,line=1::forged\\n::set-output name=x::y\\r" in result.stdout
    assert "\\x1b[31mRED\\x1b]8;;https://e.example\\x07link" in result.stdout
    assert "\\u202eevil\\u202c \\x08\\x08 " in result.stdout
    expected = _diagnostics(path)
    lines = result.stdout.splitlines()
    frames = [line for line in lines if re.match(r" *\d* \|", line)]
    assert len(frames) == 3 * len(expected)  # each framed: bar, source line, carets
    assert len(lines) - len(frames) == sum(
        1 + bool(d["hint"]) + len(d["related"]) for d in expected
    )
    for diagnostic in expected:
        assert f"{diagnostic['code']} {guarded(diagnostic['message'])}\n" in result.stdout


def test_validate_github_gives_one_annotation_per_diagnostic(tmp_path: Path) -> None:
    path = _broken(tmp_path)
    out = run("validate", str(path), "--format", "github").stdout
    expected = _diagnostics(path)
    assert_inert(out, annotations=len(expected))
    assert len(out.splitlines()) == len(expected)
    for line, diagnostic in zip(out.splitlines(), expected, strict=True):
        assert line.startswith(f"::error file={path},line={diagnostic['line']},")
        data = line.split("::", 2)[2]
        # the runner's UnescapeData: %0D, %0A, then %25
        message = data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")
        assert message == f"{shown(diagnostic['message'])}\nhint: {shown(diagnostic['hint'])}"
    # the toolkit's escapeData: %, CR, LF; the spec's own newline is a visible \n, the hint's
    # line break is runway-plan's (%0A), and the spec's literal "%0A" stays literal (%250A)
    assert "forged\\n::set-output" in out and "%0Ahint: " in out and " %250A " in out


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_validate_json_and_sarif_are_valid_and_mean_exactly_the_spec(
    fmt: str, tmp_path: Path
) -> None:
    out = run("validate", str(_broken(tmp_path)), "--format", fmt).stdout
    doc = json.loads(out)
    assert_inert(out)
    if fmt == "json":
        messages = [d["message"] for d in doc["diagnostics"]]
    else:
        messages = [r["message"]["text"] for r in doc["runs"][0]["results"]]
    assert any(HOSTILE in message for message in messages), messages


def test_validate_names_a_hostile_file_name_safely(tmp_path: Path) -> None:
    """A pull request can add a file; its name reaches the text and the summary line."""
    name = "::warning::x\n::error::y\x1b[2J.json"
    spec = {"version": 1, "name": "n", "steps": {"hero": image_step(ratio="1:2")}}
    path = write(tmp_path, spec, name)
    result = run("validate", path.name, "--format", "text")
    assert result.exit_code == 1
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert result.stdout.startswith("\\x3a:warning::x\\n::error::y\\x1b[2J.json:1:")
    assert result.stderr.startswith("\\x3a:warning::x\\n::error::y\\x1b[2J.json: 1 error")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_a_file_name_that_is_not_utf8_is_shown_not_a_crash(fmt: str, tmp_path: Path) -> None:
    """Python reads such a name as a lone surrogate, which UTF-8 cannot encode: it was an
    internal error in every format (a real process, since click's runner replaces it)."""
    name = os.fsdecode(b"broken-\xff.json")
    _broken(tmp_path).rename(tmp_path / name)
    found = subprocess.run(
        [sys.executable, "-m", "runway_plan", "validate", name, "--format", fmt],
        cwd=tmp_path,
        capture_output=True,
        env={**os.environ, "PYTHONUTF8": "1"},
        check=False,
    )
    assert found.returncode == 1, found.stderr
    out = found.stdout.decode("utf-8")
    assert_inert(out, annotations=len(out.splitlines()) if fmt == "github" else 0)
    if fmt in ("json", "sarif"):
        doc = json.loads(out)
        paths = (
            {d["file"] for d in doc["diagnostics"]}
            if fmt == "json"
            else {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in doc["runs"][0]["results"]
            }
        )
        assert paths == {name}
    else:
        assert "broken-\\udcff.json" in out


# ------------------------------------------------------------------------------- plan


def _plannable(directory: Path, name: str = HOSTILE, **extra: Any) -> Path:
    spec = {
        "version": 1,
        "name": name,
        "description": name,
        "steps": {"hero": image_step(), "shot": clip_step()},
        **extra,
    }
    return write(directory, spec)


def test_plan_text_does_not_start_a_line_with_the_spec_name(tmp_path: Path) -> None:
    """No control character needed: the report's first line starts with the name."""
    path = _plannable(tmp_path, name=f"{FORGED} ##[error]v1")
    out = run("plan", path.name).stdout
    assert_inert(out)
    assert out.startswith("\\x3a:error file=README.md,line=1::forged \\x23#[error]v1 (spec.json)")


def test_plan_text_escapes_names_and_resources(tmp_path: Path) -> None:
    result = run("plan", str(_plannable(tmp_path, **with_resources(HOSTILE))))
    assert result.exit_code == 0, result.output
    assert_inert(result.stdout)
    resources = [line for line in result.stdout.splitlines() if line.startswith("  + ")]
    assert len(resources) == 2 and all("forged\\n::set-output" in line for line in resources)


def test_plan_on_a_terminal_shows_only_its_own_colours(tmp_path: Path) -> None:
    env: dict[str, str | None] = {"COLUMNS": "120", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
    result = run("plan", str(_plannable(tmp_path, **with_resources(HOSTILE))), env=env)
    assert "\x1b[" in result.stdout  # rich's colours: a terminal indeed
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert_inert(plain)
    assert "\\x1b]8;;https://e.example\\x07link" in plain


def test_plan_json_is_valid_and_round_trips_the_text(tmp_path: Path) -> None:
    out = run("plan", str(_plannable(tmp_path, **with_resources(HOSTILE))), "--format", "json")
    doc = json.loads(out.stdout)
    assert_inert(out.stdout)
    assert doc["name"] == HOSTILE
    assert {item["name"] for item in doc["resources"]["items"]} == {HOSTILE}


def _markdown(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def _inline(tokens: list[Token]) -> list[Token]:
    return [child for token in tokens for child in (token.children or [])]


OWN_HTML = {"<details>", "<summary>", "</summary>", "</details>", "<sub>", "</sub>", "<br>"}


def assert_markdown_intact(text: str, code_spans: list[str], rows: int) -> None:
    """One heading (runway-plan's), ``rows`` table rows (headers included), each spec text
    in ``code_spans`` whole in a code span, no image, link or HTML but runway-plan's own,
    and no @-mention outside code."""
    tokens = _markdown(text)
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h3"]
    assert sum(t.type == "tr_open" for t in tokens) == rows
    inline = _inline(tokens)
    assert not [t for t in inline if t.type in ("image", "link_open")]
    html = [t.content for t in [*tokens, *inline] if t.type in ("html_inline", "html_block")]
    assert {h.strip() for h in html} <= OWN_HTML, html
    spans = [t.content for t in inline if t.type == "code_inline"]
    for expected in code_spans:
        assert expected in spans, (expected, spans)
    prose = " ".join(t.content for t in inline if t.type == "text")
    assert not re.search(r"(?<!\w)@\w", prose), prose


@pytest.mark.parametrize(
    "name",
    [
        "a`b``c\n# Heading\n![i](https://e.example/x.png) @octocat <!-- hidden --> <b>x</b>",
        "`starts and ends with a backtick`",
        " spaced ",
        " ",
        "`",
        HOSTILE,
    ],
)
def test_plan_markdown_keeps_the_name_in_its_code_span(name: str, tmp_path: Path) -> None:
    out = run("plan", str(_plannable(tmp_path, name=name)), "--format", "markdown").stdout
    assert_inert(out)
    assert_markdown_intact(out, [guarded(name)], rows=1 + 2 + 1)
    assert out.splitlines()[0].startswith("### ")


def test_plan_markdown_resource_table_rows_stay_whole(tmp_path: Path) -> None:
    name = "a | b |\n| --- |\n`x` @team <script>alert(1)</script> \\| \\"
    path = _plannable(tmp_path, name="pipeline", **with_resources(name))
    out = run("plan", str(path), "--format", "markdown").stdout
    assert_inert(out)
    # step table: header, 2 steps, total; resources: header, document, avatar
    assert_markdown_intact(out, ["pipeline", guarded(name)], rows=4 + 3)


# ------------------------------------------------------------------------------ gantt


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_gantt_is_well_formed_xml_whatever_the_name(suffix: str, tmp_path: Path) -> None:
    name = "a\x1b[31m\x00\x0b\ufffe<b>&amp;</b>\"'\u202e"
    chart = tmp_path / f"gantt{suffix}"
    result = run("plan", str(_plannable(tmp_path, name=name)), "--gantt", str(chart))
    assert result.exit_code == 0, result.output
    text = chart.read_text(encoding="utf-8")
    assert raw_controls(text) == []
    body = text if suffix == ".svg" else text[text.index("<svg") : text.index("</body>")]
    root = ET.fromstring(body)
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "a\\x1b[31m\\x00\\x0b\\ufffe<b>&amp;</b>\"'\\u202e" in titles


# ------------------------------------------------------------------------------ graph


def test_graph_labels_cannot_break_out(tmp_path: Path) -> None:
    """The pipeline's name is the DOT graph's id; a step name may end with a newline (the
    name pattern's ``$`` allows one): either it is refused, with the name escaped in the
    diagnostic, or every label stays on its line."""
    name = 'g"\\\n} digraph x { "evil'
    spec = {"version": 1, "name": name, "steps": {"hero": image_step(), "shot\n": clip_step()}}
    path = write(tmp_path, spec)
    mermaid = run("graph", str(path))
    dot = run("graph", str(path), "--format", "dot")
    assert_inert(mermaid.stdout)
    assert_inert(dot.stdout)
    assert "shot\\n" in mermaid.stdout
    assert "shot\\n" in dot.stdout if dot.exit_code else '"shot\\\\n"' in dot.stdout
    if mermaid.exit_code == 0:
        node = r'  s\d+\["[^"\n]*"\]'
        statements = (node, r"  s\d+ --> s\d+", r"  classDef .*", r"  class [s\d,]+ \w+")
        for line in mermaid.stdout.splitlines()[1:]:
            assert any(re.fullmatch(p, line) for p in statements), line
        assert len(mermaid.stdout.splitlines()) == 1 + 2 + 1 + 2
        string = r'"(?:[^"\\\n]|\\.)*"'
        dot_statements = (
            rf"digraph {string} {{",
            r"  rankdir=LR;",
            r"  node \[.*\];",
            rf"  {string} \[label={string}(?:, fillcolor={string})?\];",
            rf"  {string} -> {string};",
            "}",
        )
        for line in dot.stdout.splitlines():
            assert any(re.fullmatch(p, line) for p in dot_statements), line
        assert dot.stdout.startswith('digraph "g\\"\\\\\\\\n} digraph x { \\"evil" {\n')


# ------------------------------------------------------------------------------- diff


def _git(where: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=where,
        check=True,
        capture_output=True,
    )


def test_diff_refuses_a_ref_that_git_would_read_as_an_option(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.fail("git is needed to read a spec at a ref")
    spec = write(tmp_path, {"version": 1, "name": "n", "steps": {"hero": image_step()}}, "s.json")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    result = CliRunner().invoke(main, ["diff", "--", "--output=x:s.json", str(spec)])
    assert result.exit_code == 2, result.output
    assert "'--output=x' is not a git ref (a ref cannot start with '-')" in result.stderr
    assert sorted(os.listdir(tmp_path)) == [".git", "s.json"]  # git wrote no file
    same = run("diff", "HEAD:s.json", str(spec))
    assert same.exit_code == 0 and "No step changed." in same.stdout


def test_diff_escapes_names_and_sources(tmp_path: Path) -> None:
    old = _plannable(tmp_path)
    new_spec = json.loads(old.read_text(encoding="utf-8"))
    new_spec["steps"]["shot"]["duration"] = 10
    new = write(tmp_path, new_spec, "new.json")
    table = run("diff", str(old), str(new)).stdout
    assert_inert(table)
    markdown = run("diff", str(old), str(new), "--format", "markdown").stdout
    assert_inert(markdown)
    assert_markdown_intact(markdown, [guarded(HOSTILE)], rows=2)
    doc = json.loads(run("diff", str(old), str(new), "--format", "json").stdout)
    assert doc["new"]["name"] == HOSTILE


# -------------------------------------------------------------------------------- run


def test_run_report_escapes_step_names(tmp_path: Path) -> None:
    spec = {"version": 1, "name": "n", "steps": {"hero": image_step(), "shot\n": clip_step()}}
    path = write(tmp_path, spec)
    result = run("run", str(path), "--emulate", "--speed", "500")
    assert_inert(result.stdout + result.stderr)
    assert "shot\\n" in result.stdout + result.stderr


# ---------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    "template",
    [
        "shot {{ range|string }}",
        "{{ range }}",
        "shot {{ [range] }}",
        "shot {{ 'x'.upper }}",
        "shot {{ '%s'|format(range) }}",
        "shot {{ ['a', 'b']|map('upper') }}",
    ],
)
def test_a_template_cannot_print_a_function(template: str, tmp_path: Path) -> None:
    path = write(
        tmp_path, {"version": 1, "name": "n", "steps": {"hero": image_step(promptText=template)}}
    )
    result = run("validate", str(path))
    assert result.exit_code == 1, result.output
    assert " at 0x" not in result.stdout and "<function" not in result.stdout
    [diagnostic] = _diagnostics(path)
    assert diagnostic["code"] == "RP113"
    assert (diagnostic["line"], diagnostic["column"]) == (1, spec_text_index(path, template))


def spec_text_index(path: Path, template: str) -> int:
    """The 1-based column of the JSON string holding ``template`` (its opening quote)."""
    return path.read_text(encoding="utf-8").index(json.dumps(template)) + 1


# ------------------------------------------------------------------- the property test

_FRAGMENTS = [
    "\n",
    "\r",
    "\r\n",
    "\t",
    "\x0b",
    "\x0c",
    "\x00",
    "\x07",
    "\x08",
    "\x1b[31m",
    "\x1b[2J",
    "\x1b]8;;https://e.example\x07",
    "\x1b]0;title\x07",
    "\x7f",
    "\x85",
    "\x9b31m",
    "\u2028",
    "\u2029",
    "\u202e",
    "\u202a",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200f",
    "\ufeff",
    "\U000e0041",
    "::",
    "::error file=README.md,line=1::",
    "::set-output name=x::",
    "::stop-commands::t",
    "##[error]",
    "##vso[task.complete]",
    "%0A",
    "%25",
    ",",
    ":",
    "`",
    "``",
    "|",
    "\\|",
    "\\",
    "#",
    "# ",
    "<",
    ">",
    "<!--",
    "-->",
    "<img src=x>",
    "![i](x)",
    "[l](https://e.example)",
    "@octocat",
    '"',
    "'",
    "&amp;",
    "#quot;",
    "%%{init: {}}%%",
    "{",
    "}",
    "[",
    "]",
    " ",
    "a",
    "Zürich",
    "文字",
    "👩‍💻",
]
hostile_text = st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=8).map("".join)


def _outputs(directory: Path, name: str, value: str, key: str) -> list[tuple[str, Result]]:
    """Every format of validate (a broken spec) and plan, graph and diff (a valid one)."""
    broken = write(
        directory,
        {"version": 1, "name": name, "steps": {"hero": image_step(ratio=value, **{key: 1})}},
        "broken.json",
    )
    valid_spec = {
        "version": 1,
        "name": name,
        "description": value,
        "steps": {"hero": image_step(), "shot": clip_step()},
        **with_resources(value),
    }
    valid = write(directory, valid_spec, "valid.json")
    valid_spec["steps"]["shot"]["duration"] = 10
    changed = write(directory, valid_spec, "changed.json")
    found = [(f"validate {f}", run("validate", str(broken), "--format", f)) for f in _VALIDATE]
    found += [(f"plan {f}", run("plan", str(valid), "--format", f)) for f in _PLAN]
    found += [(f"graph {f}", run("graph", str(valid), "--format", f)) for f in _GRAPH]
    found += [(f"diff {f}", run("diff", str(valid), str(changed), "--format", f)) for f in _PLAN]
    return found


_VALIDATE = ("text", "json", "sarif", "github")
_PLAN = ("table", "json", "markdown")
_GRAPH = ("mermaid", "dot")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=hostile_text, value=hostile_text, key=hostile_text)
def test_no_spec_text_forges_or_breaks_any_format(
    name: str, value: str, key: str, tmp_path: Path
) -> None:
    outputs = _outputs(tmp_path, name, value, key)
    annotations = len(_diagnostics(tmp_path / "broken.json"))
    for label, result in outputs:
        out = result.stdout
        github = label == "validate github"
        diagnostics = annotations if github else 0
        assert_inert(out, annotations=diagnostics)
        assert_inert(result.stderr)
        if label.endswith(("json", "sarif")):
            json.loads(out)
        if github:
            assert len(out.splitlines()) == diagnostics
        if label == "plan markdown" and result.exit_code == 0:
            assert_markdown_intact(out, [guarded(name), guarded(value)], rows=4 + 3)
        if label == "diff markdown" and result.exit_code == 0:
            assert_markdown_intact(out, [guarded(name)], rows=2)
