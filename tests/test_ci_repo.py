"""Drop-in CI end to end: a sample repository (git, specs, a pre-commit configuration) runs
the pre-commit hooks with pre-commit itself, and the GitHub Action's steps as the runner
would (bash, the step's env, its ``if``), against a fake GitHub API on loopback and the
built-in emulator.  No network: the hooks run as ``language: system`` hooks of the installed
runway-plan, with the entries, ``files`` and ``pass_filenames`` of .pre-commit-hooks.yaml."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pre_commit.all_languages import languages
from pre_commit.clientlib import load_config, load_manifest
from test_ci_github import REPO, TOKEN, FakeGitHub, fake_github

from runway_plan.ci.__main__ import _for_diff
from runway_plan.ci.__main__ import main as ci_main

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
HOOKS = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
MARKER = "runway-plan-report"
SYSTEM = "unsupported" if "unsupported" in languages else "system"
"""pre-commit's language for a command already installed (named `system` before 4.4)."""

TEASER = """\
version: 1
name: teaser
budget: {max_credits: 200}
steps:
  still:
    endpoint: text_to_image
    model: gen4_image
    promptText: "A lighthouse at dawn"
    ratio: "1920:1080"
  voice:
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "The light is on."
    voice: {type: runway-preset, presetId: Maya}
"""
MORE_STILLS = """\
  angles:
    for_each: [north, south]
    endpoint: text_to_image
    model: gen4_image
    promptText: "The lighthouse from the {{ item }}"
    ratio: "1920:1080"
"""
OUTRO = """\
version: 1
name: outro
steps:
  card:
    endpoint: text_to_image
    model: gen4_image
    promptText: "An end card"
    ratio: "1920:1080"
"""


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "RUNWAY", "PRE_COMMIT", "GIT_"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(home / "pre-commit-home")
    env["HOME"] = str(home)
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "Tester"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "tester@example.com"
    return env


def git(repo: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def sample(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository whose `main` holds one spec, on a branch `feature` that makes it dearer
    and adds another; with a pre-commit configuration of this repository's hooks."""
    if shutil.which("git") is None:
        pytest.fail("git is needed (CI installs it with the machine)")
    env = _env(tmp_path)
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    (repo / "config").mkdir()
    (repo / "specs" / "teaser.yaml").write_text(TEASER, encoding="utf-8")
    # YAML that is no spec: the hooks' `files` pattern must keep it out.
    (repo / "config" / "settings.yaml").write_text("colour: blue\n", encoding="utf-8")
    local_hooks = [
        {key: hook[key] for key in ("id", "name", "entry", "files", "types", "pass_filenames")}
        | {"language": SYSTEM}
        for hook in HOOKS
    ]
    config = {"repos": [{"repo": "local", "hooks": local_hooks}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git(repo, env, "init", "-q", "-b", "main")
    git(repo, env, "add", ".")
    git(repo, env, "commit", "-q", "-m", "a teaser")
    git(repo, env, "checkout", "-q", "-b", "feature")
    (repo / "specs" / "teaser.yaml").write_text(TEASER + MORE_STILLS, encoding="utf-8")
    (repo / "specs" / "outro.yaml").write_text(OUTRO, encoding="utf-8")
    git(repo, env, "add", ".")
    git(repo, env, "commit", "-q", "-m", "two more angles, an outro")
    return repo, env


# -- the hook manifest -----------------------------------------------------------------------


def test_the_hook_manifest_is_valid_for_pre_commit() -> None:
    hooks = {hook["id"]: hook for hook in HOOKS}
    assert set(hooks) == {"runway-plan-validate", "runway-plan-budget"}
    assert hooks["runway-plan-validate"]["entry"] == "runway-plan validate"
    assert hooks["runway-plan-budget"]["entry"] == "python -m runway_plan.ci budget"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"]
        pattern = re.compile(hook["files"])
        assert pattern.search("specs/launch.yaml") and pattern.search("app/specs/a.json")
        assert pattern.search("specs/b.yml")
        assert not pattern.search("specs/assets/meta.yaml")
        assert not pattern.search(".github/workflows/ci.yml")
        assert not pattern.search("specs/launch.txt")


def _fenced(doc: str, language: str, first_line: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", doc, re.S)
    found = [b for b in blocks if b.startswith(first_line)]
    assert found, f"docs/ci.md has no {language} block starting {first_line!r}"
    return found[0]


def test_the_documented_pre_commit_configuration_is_valid(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(_fenced(doc, "yaml", "# .pre-commit-config.yaml"), encoding="utf-8")
    loaded = load_config(str(config))
    (repo,) = loaded["repos"]
    ids = {hook["id"] for hook in repo["hooks"]}
    assert ids == {hook["id"] for hook in HOOKS}


def test_the_documented_workflow_uses_the_actions_inputs() -> None:
    doc = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    workflow = yaml.safe_load(_fenced(doc, "yaml", "# .github/workflows/runway-plan.yml"))
    steps = workflow["jobs"]["runway-plan"]["steps"]
    ours = next(s for s in steps if str(s.get("uses", "")).startswith("runway-plan/runway-plan@"))
    assert set(ours.get("with", {})) <= set(ACTION["inputs"])
    permissions = workflow["jobs"]["runway-plan"]["permissions"]
    assert permissions["pull-requests"] == "write"
    assert permissions["security-events"] == "write"
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0


# -- pre-commit ------------------------------------------------------------------------------


def _pre_commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_pre_commit_runs_the_hooks_on_the_specs(sample: tuple[Path, dict[str, str]]) -> None:
    repo, env = sample
    clean = _pre_commit(repo, env, "--all-files", "--verbose")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r"runway-plan validate\.+Passed", clean.stdout), clean.stdout
    assert re.search(r"runway-plan budget\.+Passed", clean.stdout), clean.stdout
    assert "settings.yaml" not in clean.stdout

    (repo / "specs" / "teaser.yaml").write_text(
        (TEASER + MORE_STILLS).replace("max_credits: 200", "max_credits: 20"), encoding="utf-8"
    )
    (repo / "specs" / "outro.yaml").write_text(
        OUTRO.replace("gen4_image", "gen4_imgae"), encoding="utf-8"
    )
    git(repo, env, "add", ".")
    broken = _pre_commit(repo, env, "--all-files")
    assert broken.returncode == 1
    assert re.search(r"runway-plan validate\.+Failed", broken.stdout), broken.stdout
    assert "specs/outro.yaml:6:12: RP201 unknown model 'gen4_imgae'" in broken.stdout
    assert re.search(r"runway-plan budget\.+Failed", broken.stdout)
    assert "over budget.max_credits 20" in broken.stdout
    assert "specs/teaser.yaml: over budget or not plannable" in broken.stdout

    only = _pre_commit(repo, env, "--files", "specs/teaser.yaml", "--hook-stage", "pre-commit")
    assert re.search(r"runway-plan validate\.+Passed", only.stdout), only.stdout
    assert re.search(r"runway-plan budget\.+Failed", only.stdout)


# -- the action ------------------------------------------------------------------------------


def _expression(text: str, context: dict[str, str]) -> str:
    """``${{ inputs.x }}`` and the like replaced by their values (only plain names)."""

    def value(match: re.Match[str]) -> str:
        return context[match.group(1)]

    return re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", value, text)


def _condition(text: str, context: dict[str, str]) -> bool:
    """A step's ``if``, for the forms action.yml uses: names, ``==`` against a string,
    ``&&``, ``||`` and ``always()``."""
    inner = text.strip()
    if inner.startswith("${{"):
        inner = inner[3:].rstrip("}").strip()
    python = re.sub(r"\b(inputs|github|runner)\.([\w-]+)", lambda m: repr(context[m[0]]), inner)
    python = python.replace("&&", " and ").replace("||", " or ").replace("always()", "True")
    assert re.fullmatch(r"[\w\s'\"=.()-]*", python), python
    return bool(eval(python, {"__builtins__": {}}, {"True": True}))


def run_action(
    repo: Path, env: dict[str, str], github: FakeGitHub, inputs: dict[str, str], runner: Path
) -> list[tuple[str, subprocess.CompletedProcess[str] | None]]:
    """Run the action's steps in ``repo`` as the runner would, but for installing Python and
    runway-plan (this test's own are used) and the SARIF upload (GitHub's, whose input is
    checked to exist)."""
    event = runner / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5}}), encoding="utf-8")
    summary = runner / "summary.md"
    context = {
        "github.base_ref": "main",
        "github.event_name": "pull_request",
        "github.token": TOKEN,
        "runner.temp": str(runner),
    }
    for name, spec in ACTION["inputs"].items():
        context[f"inputs.{name}"] = _expression(str(spec.get("default", "")), context)
    context.update({f"inputs.{name}": value for name, value in inputs.items()})
    base_env = env | {
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    ran: list[tuple[str, subprocess.CompletedProcess[str] | None]] = []
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        if "if" in step and not _condition(str(step["if"]), context):
            continue
        name = step["name"]
        if "uses" in step:
            with_ = {k: _expression(str(v), context) for k, v in step.get("with", {}).items()}
            if step["uses"].startswith("github/codeql-action/upload-sarif@"):
                assert Path(with_["sarif_file"]).is_file()
            ran.append((name, None))
            continue
        if step.get("id") == "install":
            assert "$GITHUB_ACTION_PATH" in step["run"]
            ran.append((name, None))
            continue
        assert step["shell"] == "bash"
        step_env = {k: _expression(str(v), context) for k, v in step.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env=base_env | step_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        ran.append((name, result))
        if result.returncode != 0:
            break
    return ran


def _step(ran: list[tuple[str, Any]], name: str) -> subprocess.CompletedProcess[str]:
    found = dict(ran)[name]
    assert found is not None
    return found  # type: ignore[no-any-return]


def test_the_action_validates_plans_diffs_comments_and_gates(
    sample: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, env = sample
    runner = tmp_path / "runner"
    runner.mkdir()
    work = runner / "runway-plan-ci"
    with fake_github() as github:
        github.add(5, "LGTM")
        # plan-args hold an option of plan's alone (--deadline): diff must not get it.
        inputs = {"emulate": "true", "plan-args": "--deadline 1d --ignore RP404"}
        ran = run_action(repo, env, github, inputs, runner)
        names = [name for name, _ in ran]
        assert names == [
            "Set up Python",
            "Install runway-plan",
            "Validate",
            "Plan and diff costs",
            "Run on the emulator",
            "Comment on the pull request",
            "Upload SARIF",
            "Gate",
        ]
        for name, result in ran:
            assert result is None or result.returncode == 0, (name, result)

        sarif = json.loads((work / "runway-plan.sarif").read_text(encoding="utf-8"))
        assert sarif["version"] == "2.1.0"
        assert sarif["runs"][0]["results"] == []
        text = (work / "comment.md").read_text(encoding="utf-8")
        assert "✅ **validate**: 0 error(s), 0 warning(s), 0 note(s)" in text
        assert "runway-plan cost diff: `teaser`" in text
        assert "**9 → 25 credits (+16 credits, +$0.16)**" in text
        assert "### 🆕 `specs/outro.yaml` is new on this branch" in text
        assert "<summary>✅ Plan of <code>specs/teaser.yaml</code></summary>" in text
        assert (runner / "summary.md").read_text(encoding="utf-8") == text
        outputs = work / "emulated"
        assert sorted(p.name for p in outputs.glob("*/outputs/*/*")) == [
            "0.mp3",
            "0.png",
            "0.png",
            "0.png",
            "1.png",
        ]
        assert "comment: created comment" in _step(ran, "Comment on the pull request").stdout
        assert "gate: validate, plan, emulate passed" in _step(ran, "Gate").stdout
        (first,) = [c for c in github.comments[5] if MARKER in c["body"]]
        assert first["body"] == f"<!-- {MARKER} -->\n{text}"

        # A push that breaks the budget: annotations, the same comment updated, a red gate.
        spec = repo / "specs" / "teaser.yaml"
        spec.write_text(spec.read_text().replace("max_credits: 200", "max_credits: 20"), "utf-8")
        git(repo, env, "commit", "-q", "-am", "a smaller budget")
        again = run_action(repo, env, github, {}, runner)
        assert [name for name, _ in again][-1] == "Gate"
        plan = _step(again, "Plan and diff costs")
        assert "::error file=specs/teaser.yaml,line=3," in plan.stdout
        assert "title=RP400 over budget::" in plan.stdout
        gate = _step(again, "Gate")
        assert gate.returncode == 1
        assert "::error title=runway-plan plan::specs/teaser.yaml: failed plan" in gate.stdout
        comments = [c for c in github.comments[5] if MARKER in c["body"]]
        assert [c["id"] for c in comments] == [first["id"]]
        assert (
            "<summary>❌ Plan of <code>specs/teaser.yaml</code></summary>" in (comments[0]["body"])
        )
        assert len(github.comments[5]) == 2
        assert all(TOKEN not in (r.stdout + r.stderr) for _, r in again if r is not None)


def test_steps_outside_a_pull_request(
    sample: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _env = sample
    monkeypatch.chdir(repo)
    for name in ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    report = runner.invoke(
        ci_main, ["report", "--specs", "specs/*.yaml", "--base-ref", "nowhere", "--work", "w"]
    )
    assert report.exit_code == 0, report.output
    text = Path("w/comment.md").read_text(encoding="utf-8")
    assert "cost diff skipped: git knows no branch `nowhere`" in text
    comment = runner.invoke(ci_main, ["comment", "--work", "w"])
    assert comment.exit_code == 0
    assert "not a pull request run; nothing posted" in comment.output
    missing = runner.invoke(ci_main, ["validate", "--specs", "nothing/*.yaml", "--work", "w"])
    assert missing.exit_code == 2
    assert "no spec file matches nothing/*.yaml" in missing.output
    assert runner.invoke(ci_main, ["gate", "--work", "w"]).exit_code == 0


def test_the_comment_shows_a_specs_text_without_markdown_or_html(
    sample: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, _env = sample
    monkeypatch.chdir(repo)
    hostile = repo / "specs" / "<img src=x onerror=alert(1)>.yaml"
    hostile.write_text(
        "version: 1\nname: '**loud** <b>x</b>'\nsteps:\n  '<b>x</b>':\n"
        "    endpoint: text_to_image\n    model: '<b>x</b>'\n    promptText: '@everyone'\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        ci_main, ["report", "--specs", "specs/*.yaml", "--base-ref", "main", "--work", "w"]
    )
    assert result.exit_code == 0, result.output
    text = Path("w/comment.md").read_text(encoding="utf-8")
    assert "<summary>❌ Plan of <code>specs/&lt;img src=x onerror=alert(1)&gt;.yaml</code>" in text
    assert "### 🆕 `specs/<img src=x onerror=alert(1)>.yaml` is new on this branch" in text
    lines = [line for line in text.splitlines() if "<b>" in line or "<img" in line]
    assert lines
    for line in lines:
        assert line.startswith(("- `", "### 🆕 `")), line
    assert json.loads(Path("w/outcome.json").read_text())["plan"] == [
        str(hostile.relative_to(repo))
    ]


def test_diff_gets_the_plan_options_it_takes() -> None:
    options = ["--tier", "3", "--deadline", "2h", "--ignore=RP404", "--gantt", "g.svg"]
    options += ["--warnings-as-errors", "--max-credits", "5", "--live", "--var", "a=b"]
    assert _for_diff(options) == [
        "--tier",
        "3",
        "--ignore=RP404",
        "--warnings-as-errors",
        "--max-credits",
        "5",
        "--var",
        "a=b",
    ]
