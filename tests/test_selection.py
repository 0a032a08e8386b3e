"""``--select``, ``--ignore``, suppression comments and ``--warnings-as-errors``; ``plan
--format github|sarif``; ``diff`` held to the new version's budgets."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runway_plan.cli import main
from runway_plan.diagnostics import Diagnostic, Severity, Span, make
from runway_plan.diagnostics.selection import (
    Selection,
    SelectionError,
    Suppression,
    parse_selectors,
    suppression_comments,
    suppressions_in,
)

# A spec with a warning (RP227, line 13) and a plan note (RP404, on the step's key, line 10);
# its plan costs 2-3 credits.
SAMPLE = """\
version: 1
name: sample
budget: {{max_credits: 100}}
steps:
  sentence:
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "Welcome back to the show. Today, sound design."
    voice: {{type: runway-preset, presetId: Maya}}
  isolate:{isolate_comment}
    endpoint: voice_isolation
    model: eleven_voice_isolation
    audioUri: "@sentence"{audio_comment}
"""


def sample(tmp_path: Path, isolate_comment: str = "", audio_comment: str = "") -> Path:
    path = tmp_path / "sample.yaml"
    path.write_text(
        SAMPLE.format(isolate_comment=isolate_comment, audio_comment=audio_comment),
        encoding="utf-8",
    )
    return Path(path.name)  # relative to the working directory, as diagnostics name it


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _codes(result: Result) -> list[str]:
    return [d["code"] for d in json.loads(result.stdout)["diagnostics"]]


# -- selectors -------------------------------------------------------------------------------


def test_selectors_are_codes_or_prefixes_comma_separated_and_repeatable() -> None:
    assert parse_selectors(["RP4,rp101", " RP2 ", "RP4"]) == ("RP4", "RP101", "RP2")
    assert parse_selectors([]) == ()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("E501", "not a code or a code prefix"),
        ("RP4x", "not a code or a code prefix"),
        ("RP40000", "not a code or a code prefix"),
        ("RP999", "matches no diagnostic code"),
    ],
)
def test_a_bad_selector_is_named(value: str, says: str) -> None:
    with pytest.raises(SelectionError, match=says):
        parse_selectors([value])


def test_the_more_specific_selector_wins_and_ignore_wins_a_tie() -> None:
    assert Selection().keeps("RP404")
    assert not Selection(select=("RP2",)).keeps("RP404")
    assert Selection(select=("RP4",)).keeps("RP404")
    assert not Selection(select=("RP4",), ignore=("RP404",)).keeps("RP404")
    assert Selection(select=("RP4",), ignore=("RP404",)).keeps("RP400")
    assert Selection(select=("RP404",), ignore=("RP4",)).keeps("RP404")
    assert not Selection(select=("RP404",), ignore=("RP4",)).keeps("RP400")
    assert not Selection(select=("RP4",), ignore=("RP4",)).keeps("RP400")
    assert not Selection(ignore=("RP",)).keeps("RP001")


# -- suppression comments --------------------------------------------------------------------


def test_suppression_comments_by_line() -> None:
    text = (
        "a: 1  # runway-plan: ignore[RP404]\n"
        "b: 2 # runway-plan: ignore[rp404, RP2]\n"
        "c: 3  # runway-plan: ignore\n"
        "d: 4  # runway-plan: ignored\n"
        "e: 5  # some other comment\n"
        "# runway-plan: ignore[RP1]\n"
    )
    assert suppressions_in(text) == {
        1: frozenset({"RP404"}),
        2: frozenset({"RP404", "RP2"}),
        3: None,
        6: frozenset({"RP1"}),
    }


def test_suppression_comments_know_their_columns() -> None:
    text = "a: 1\nbb: 2   # runway-plan: ignore[RP404]\n"
    assert suppression_comments(text) == [Suppression(2, 9, 37, frozenset({"RP404"}))]
    assert text.splitlines()[1][8:36] == "# runway-plan: ignore[RP404]"


def test_a_comment_like_text_inside_a_string_is_not_a_suppression() -> None:
    text = (
        'a: "look # runway-plan: ignore"\n'
        "b: plain # runway-plan: ignore[RP2]\n"
        "c: 'quoted # runway-plan: ignore[RP3]'\n"
        "d: |\n"
        "  block # runway-plan: ignore\n"
    )
    assert suppressions_in(text) == {2: frozenset({"RP2"})}


def test_suppressions_in_text_yaml_cannot_scan() -> None:
    text = "a: [1,\nb: x # runway-plan: ignore[RP001]\nc: y#runway-plan: ignore\n"
    assert suppressions_in(text) == {2: frozenset({"RP001"})}


def test_apply_counts_what_it_leaves_out_and_promotes_warnings() -> None:
    span = Span("s.yaml", 3, 1, 3, 5)
    found = [
        make("RP404", "a range", span),
        make("RP227", "too short", Span("s.yaml", 4, 1, 4, 5)),
        make("RP201", "unknown model", Span("s.yaml", 5, 1, 5, 5)),
        make("RP400", "over budget", None),
    ]
    selected = Selection(ignore=("RP2",), warnings_as_errors=True).apply(
        found, {"s.yaml": [Suppression(3, 10, 38, frozenset({"RP4"}))]}
    )
    assert [d.code for d in selected.diagnostics] == ["RP400"]
    assert (selected.suppressed, selected.deselected) == (1, 2)
    assert selected.summary() == "1 suppressed, 2 ignored"
    promoted = Selection(warnings_as_errors=True).apply(found[1:2]).diagnostics
    assert promoted == [
        Diagnostic("RP227", "too short", Span("s.yaml", 4, 1, 4, 5), Severity.ERROR)
    ]


# -- validate ----------------------------------------------------------------------------------


def test_validate_honours_a_suppression_comment_and_reports_the_count(tmp_path: Path) -> None:
    plain = run("validate", str(sample(tmp_path)), "--format", "json")
    assert plain.exit_code == 0 and _codes(plain) == ["RP227"]
    path = sample(tmp_path, audio_comment="  # runway-plan: ignore[RP227]")
    quiet = run("validate", str(path))
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == ""
    assert "no problems; 1 suppressed" in quiet.stderr
    other = sample(tmp_path, audio_comment="  # runway-plan: ignore[RP404]")
    assert _codes(run("validate", str(other), "--format", "json")) == ["RP227"]
    bare = sample(tmp_path, audio_comment="  # runway-plan: ignore")
    result = run("validate", str(bare), "--format", "sarif")
    assert json.loads(result.stdout)["runs"][0]["results"] == []
    assert "1 suppressed" in result.stderr


def test_validate_warnings_as_errors_fails(tmp_path: Path) -> None:
    path = str(sample(tmp_path))
    result = run("validate", path, "--warnings-as-errors", "--format", "json")
    assert result.exit_code == 1
    (diagnostic,) = json.loads(result.stdout)["diagnostics"]
    assert (diagnostic["code"], diagnostic["severity"]) == ("RP227", "error")
    assert run("validate", path, "--warnings-as-errors", "--ignore", "RP227").exit_code == 0


def test_validate_select_and_ignore(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\nname: b\nsteps:\n  a:\n    endpoint: text_to_image\n    model: gen4_imag\n"
        "    promptText: x\n    ratio: '1920:1080'\n",
        encoding="utf-8",
    )
    assert run("validate", str(broken)).exit_code == 1
    ignored = run("validate", str(broken), "--ignore", "RP2")
    assert ignored.exit_code == 0, ignored.output
    assert "1 ignored" in ignored.stderr
    selected = run("validate", str(broken), "--select", "RP1")
    assert selected.exit_code == 0
    assert run("validate", str(broken), "--select", "RP1", "--select", "RP201").exit_code == 1
    bad = run("validate", str(broken), "--ignore", "RP99")
    assert bad.exit_code == 2
    assert "'RP99' matches no diagnostic code" in bad.output


# -- plan ------------------------------------------------------------------------------------


def test_plan_github_and_sarif_show_budget_errors(tmp_path: Path) -> None:
    path = str(sample(tmp_path))
    github = run("plan", path, "--max-credits", "1", "--format", "github")
    assert github.exit_code == 1
    lines = github.stdout.splitlines()
    assert any(line.startswith("::error title=RP400 over budget::") for line in lines), lines
    assert any(
        line.startswith("::notice file=sample.yaml,line=10,") and "RP404" in line for line in lines
    )
    sarif = run("plan", path, "--max-credits", "1", "--format", "sarif")
    assert sarif.exit_code == 1
    results = json.loads(sarif.stdout)["runs"][0]["results"]
    assert {r["ruleId"]: r["level"] for r in results} == {
        "RP400": "error",
        "RP404": "note",
        "RP227": "warning",
    }
    fits = run("plan", path, "--format", "github")
    assert fits.exit_code == 0
    assert "::error" not in fits.stdout


def test_plan_monthly_cap_is_an_annotation_at_the_tier(tmp_path: Path) -> None:
    spec = Path("big.yaml")
    spec.write_text(
        "version: 1\nname: big\ntier: 1\nsteps:\n  a:\n    endpoint: text_to_image\n"
        "    model: gen4_image\n    promptText: x\n    ratio: '1920:1080'\n"
        "    for_each: '{{ range(2000) | list }}'\n",
        encoding="utf-8",
    )
    result = run("plan", str(spec), "--format", "github")
    assert result.exit_code == 1
    assert "::error file=big.yaml,line=3,col=7,endLine=3,title=RP402 monthly spend cap::" in (
        result.stdout
    )
    assert "::warning title=RP403 daily generation cap::" in result.stdout
    assert run("plan", str(spec), "--format", "github", "--tier", "5").exit_code == 0


def test_plan_suppression_and_ignore(tmp_path: Path) -> None:
    path = str(sample(tmp_path, isolate_comment="  # runway-plan: ignore[RP404]"))
    result = run("plan", path, "--format", "github")
    assert result.exit_code == 0
    assert "RP404" not in result.stdout and "RP227" in result.stdout
    assert "1 suppressed" in result.stderr
    over = run("plan", path, "--max-credits", "1", "--format", "github", "--ignore", "RP400")
    assert over.exit_code == 0
    assert "::error" not in over.stdout
    assert "1 suppressed, 1 ignored" in over.stderr
    strict = run("plan", path, "--warnings-as-errors", "--format", "github")
    assert strict.exit_code == 1
    assert "::error file=sample.yaml,line=13," in strict.stdout
    assert "no plan" in strict.stderr


def test_plan_never_prices_a_spec_whose_errors_are_ignored(tmp_path: Path) -> None:
    spec = tmp_path / "cycle.yaml"
    spec.write_text(
        "version: 1\nname: c\nsteps:\n  ping:\n    endpoint: image_to_video\n"
        "    model: gen4_turbo\n    promptImage: '@pong'\n    ratio: '1280:720'\n"
        "  pong:\n    endpoint: image_to_video\n    model: gen4_turbo\n"
        "    promptImage: '@ping'\n    ratio: '1280:720'\n",
        encoding="utf-8",
    )
    result = run("plan", str(spec), "--ignore", "RP", "--format", "github")
    assert result.exit_code == 1
    assert "RP301" in result.stdout
    assert "no plan" in result.stderr


# -- diff ------------------------------------------------------------------------------------


def test_diff_fails_when_the_new_version_is_over_its_budget(tmp_path: Path) -> None:
    old = sample(tmp_path)
    new = tmp_path / "new.yaml"
    new.write_text(old.read_text().replace("max_credits: 100", "max_credits: 2"), "utf-8")
    result = run("diff", str(old), str(new))
    assert result.exit_code == 1
    assert "RP400" in result.stderr and "1 error in the new version" in result.stderr
    assert "Cost diff" in result.stdout
    assert run("diff", str(new), str(old)).exit_code == 0
    flag = run("diff", str(old), str(old), "--max-credits", "2")
    assert flag.exit_code == 1
    assert "over --max-credits 2" in flag.stderr
    assert run("diff", str(old), str(old), "--max-credits", "3").exit_code == 0
    assert run("diff", str(old), str(old), "--max-credits", "x").exit_code == 2
    ignored = run("diff", str(old), str(new), "--ignore", "RP400")
    assert ignored.exit_code == 0, ignored.output
    assert "1 ignored" not in ignored.stdout
    strict = run("diff", str(new), str(old), "--warnings-as-errors")
    assert strict.exit_code == 1
    assert "sample.yaml: 1 error; no plan" in strict.stderr  # NEW's RP227, made an error


def test_diff_against_a_base_commit_over_budget(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.fail("git is needed")
    spec = sample(tmp_path)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "root",
    )
    git("add", "sample.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "spec")
    spec.write_text(spec.read_text().replace("max_credits: 100", "max_credits: 1"), "utf-8")
    result = run("diff", "HEAD:sample.yaml", "sample.yaml", "--format", "markdown")
    assert result.exit_code == 1
    assert "runway-plan cost diff" in result.stdout


def test_suppressions_of_a_large_spec_are_all_found() -> None:
    steps = "".join(
        f"  s{i}:\n    promptText: 'x # runway-plan: ignore'\n    model: m  # runway-plan: "
        "ignore[RP2]\n"
        for i in range(10_000)
    )
    found = suppressions_in("version: 1\nsteps:\n" + steps)
    assert len(found) == 10_000 and found[5] == frozenset({"RP2"}) and 4 not in found


def test_an_unused_suppression_is_a_warning_where_the_command_checks_its_code(
    tmp_path: Path,
) -> None:
    stale = sample(tmp_path, audio_comment="  # runway-plan: ignore[RP227, RP201, RP404]")
    result = run("validate", str(stale), "--format", "json")
    assert result.exit_code == 0
    (unused,) = json.loads(result.stdout)["diagnostics"]
    assert unused["code"] == "RP120" and unused["severity"] == "warning"
    assert unused["message"] == "unused suppression: no RP201 diagnostic on this line"
    assert (unused["line"], unused["column"], unused["end_column"]) == (13, 28, 70)
    assert "1 suppressed" in result.stderr
    plan = run("plan", str(stale), "--format", "json")
    codes = [d["code"] for d in json.loads(plan.stdout)["diagnostics"]]
    assert codes.count("RP120") == 2  # RP201, and RP404 which plan checks and is not here
    assert run("validate", str(stale), "--warnings-as-errors").exit_code == 1
    assert run("validate", str(stale), "--warnings-as-errors", "--ignore", "RP120").exit_code == 0
    both = run("validate", str(stale), "--select", "RP1,RP2", "--format", "json")
    assert _codes(both) == ["RP120"]
    # RP201 is not checked under --select RP1, so naming it is no stale suppression.
    assert _codes(run("validate", str(stale), "--select", "RP1", "--format", "json")) == []
    bare = sample(tmp_path, isolate_comment="  # runway-plan: ignore")
    assert "RP120" not in run("validate", str(bare), "--format", "json").stdout
