"""docs/api.md runs as written, prints what it says; the library's defaults it documents hold;
shell completion is produced and completes; `--version` names the catalog's versions."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runway_plan import __version__, check_file, load_catalog
from runway_plan.cli import main

ROOT = Path(__file__).parent.parent
API = ROOT / "docs" / "api.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str | None]]:
    """Each Python block of docs/api.md, and the text block right after it (what it prints)."""
    text = API.read_text(encoding="utf-8")
    blocks = list(BLOCK.finditer(text))
    examples = []
    for block, after in zip(blocks, [*blocks[1:], None], strict=True):
        if block.group(1) != "python":
            continue
        follows = (
            after is not None
            and after.group(1) == "text"
            and not text[block.end() : after.start()].strip()
        )
        examples.append((block.group(2), after.group(2) if follows and after else None))
    return examples


def test_the_page_has_examples_of_every_stage() -> None:
    code = "\n".join(body for body, _printed in _examples())
    for name in ("check_file", "plan(", "render(", "compile_spec", "validate(", "Execution("):
        assert name in code, name
    assert all(printed is not None for _body, printed in _examples())


@pytest.mark.parametrize("index", range(len(_examples())))
def test_each_example_runs_and_prints_what_the_page_says(index: int) -> None:
    body, printed = _examples()[index]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    done = subprocess.run(
        [sys.executable, "-c", body],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed


def test_check_file_defaults_to_the_packaged_catalog() -> None:
    path = ROOT / "specs" / "launch.yaml"
    default_graph, default_found = check_file(path)
    graph, found = check_file(path, load_catalog())
    assert default_found == found == []
    assert default_graph.catalog is load_catalog()
    assert list(default_graph.generations) == list(graph.generations)


# ----------------------------------------------------------------------- shell and --version


def _completion_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _runway_plan_completion runway-plan"),
        ("zsh", "#compdef runway-plan"),
        ("fish", "complete --no-files --command runway-plan"),
    ],
)
def test_the_completion_script_is_produced(shell: str, marker: str) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "runway-plan")],
        env=_completion_env(_RUNWAY_PLAN_COMPLETE=f"{shell}_source"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("runway-plan com", {"compile"}),
        ("runway-plan compile --fo", {"--format"}),
        ("runway-plan compile --format ", {"yaml", "json"}),
        ("runway-plan validate --format ", {"text", "json", "sarif", "github"}),
    ],
)
def test_bash_completes_with_the_sourced_script(words: str, expected: set[str]) -> None:
    """The script as a user's ~/.bashrc evaluates it, asked as bash asks it on Tab."""
    parts = words.split() + ([""] if words.endswith(" ") else [])
    script = (
        'eval "$(_RUNWAY_PLAN_COMPLETE=bash_source runway-plan)"\n'
        f"COMP_WORDS=({' '.join(shlex.quote(part) for part in parts)})\n"
        f"COMP_CWORD={len(parts) - 1}\n"
        "_runway_plan_completion runway-plan\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        env=_completion_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == expected


def test_version_names_the_catalog() -> None:
    catalog = load_catalog()
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"runway-plan {__version__}"
    assert lines[1].startswith(f"catalog {catalog.version}: ")
    for part in (
        f"runwayml Python SDK {catalog.constraints.sdk_version}",
        f"overlay {catalog.overlay.version}",
        f"prices {catalog.prices.version}",
        f"tiers {catalog.tiers.version}",
        catalog.digest[:12],
    ):
        assert part in lines[1], part
    assert re.fullmatch(r"\d+\.\d+\.\d+", catalog.constraints.sdk_version)
