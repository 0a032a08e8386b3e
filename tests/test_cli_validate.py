"""The validate command: formats, exit codes, variables, and no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import runway_plan
from runway_plan.cli import main

SPEC = """\
version: 1
name: t
vars: {ratio: "1920:1080"}
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: hello
    ratio: "{{ ratio }}"
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_clean_spec_exits_zero(spec: Path) -> None:
    code, out, err = run("validate", str(spec))
    assert (code, out) == (0, "")
    assert "no problems" in err


def test_var_overrides_the_spec(spec: Path) -> None:
    code, out, _ = run("validate", str(spec), "--var", "ratio=1:1")
    assert code == 1
    assert f"{spec}:9:12: RP207 ratio '1:1' is not allowed for gen4_image" in out


def test_bad_var_is_a_usage_error(spec: Path) -> None:
    code, _, err = run("validate", str(spec), "--var", "novalue")
    assert code == 2 and "key=value" in err


def test_unknown_format_is_a_usage_error(spec: Path) -> None:
    assert run("validate", str(spec), "--format", "xml")[0] == 2


def test_missing_spec_is_a_diagnostic(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(tmp_path / "nope.yaml"))
    assert code == 1 and "RP103" in out


def test_internal_errors_exit_2_without_traceback(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("runway_plan.cli.lint.check_file", boom)
    monkeypatch.delenv("RUNWAY_PLAN_DEBUG", raising=False)
    code, _, err = run("validate", str(spec))
    assert code == 2
    assert "internal error: RuntimeError: kaboom" in err and "Traceback" not in err


def test_json_format(spec: Path) -> None:
    code, out, _ = run("validate", str(spec), "--var", "ratio=1:1", "--format", "json")
    body = json.loads(out)
    assert code == 1
    assert body["summary"] == {"error": 1, "warning": 0, "note": 0}
    [item] = body["diagnostics"]
    assert (item["code"], item["line"], item["column"]) == ("RP207", 9, 12)
    assert "nearest: '720:720'" in item["hint"]


def test_sarif_format(spec: Path) -> None:
    code, out, _ = run("validate", str(spec), "--var", "ratio=1:1", "--format", "sarif")
    log = json.loads(out)
    assert code == 1 and log["version"] == "2.1.0"
    [run_] = log["runs"]
    assert run_["tool"]["driver"]["name"] == "runway-plan"
    [rule] = run_["tool"]["driver"]["rules"]
    [result] = run_["results"]
    assert rule["id"] == result["ruleId"] == "RP207"
    assert result["ruleIndex"] == 0 and result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == str(spec)
    assert location["region"]["startLine"] == 9 and location["region"]["startColumn"] == 12


def test_github_format_escapes_properties_and_data(spec: Path) -> None:
    code, out, _ = run("validate", str(spec), "--var", "ratio=1:1", "--format", "github")
    [line] = out.splitlines()
    assert code == 1
    assert line.startswith(
        f"::error file={spec},line=9,col=12,endLine=9,title=RP207 value not allowed::"
    )
    assert "%0Ahint: allowed" in line


def test_every_example_validates_in_one_call() -> None:
    root = Path(__file__).parent.parent
    specs = sorted(str(p) for p in (root / "specs").glob("*.yaml"))
    code, out, _ = run("validate", *specs)
    assert (code, out) == (0, "")


def test_the_library_s_exceptions_share_one_root() -> None:
    from runway_plan.catalog import CatalogError
    from runway_plan.execute.client import ExecuteError, TaskNotFound
    from runway_plan.execute.state import StateLocked, StateUnreadable
    from runway_plan.files import LocalFileError, SymlinkInTheWay
    from runway_plan.plan.live import LiveError

    for error in (CatalogError, ExecuteError, TaskNotFound, StateLocked, StateUnreadable):
        assert issubclass(error, runway_plan.RunwayPlanError), error
    assert issubclass(LocalFileError, runway_plan.RunwayPlanError)
    assert issubclass(LiveError, runway_plan.RunwayPlanError)
    assert issubclass(SymlinkInTheWay, OSError)  # still caught where an OSError is
    with pytest.raises(runway_plan.RunwayPlanError, match="cannot"):
        runway_plan.load_catalog("/nonexistent/catalog")


def test_python_dash_m_runs_the_cli(spec: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "runway_plan", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_validate_imports_only_what_the_spec_needs() -> None:
    import subprocess
    import sys

    child = """
import sys
from runway_plan.cli import main
try:
    main(["validate", "specs/router.yaml"])
except SystemExit as exc:
    print(exc.code, sorted(set(sys.argv[1:]) & set(sys.modules)))
"""
    root = Path(__file__).parent.parent
    heavy = ["filetype", "httpx", "jinja2", "networkx", "rich", "tinytag"]
    done = subprocess.run(
        [sys.executable, "-c", child, *heavy],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "0 []"  # no template, no local media file


@pytest.mark.parametrize("chosen", [None, "some_plugin"])
def test_the_command_line_alone_skips_pydantic_plugin_discovery(
    monkeypatch: pytest.MonkeyPatch, chosen: str | None
) -> None:
    import os
    import signal
    import sys

    import runway_plan.validate  # noqa: F401  (the library leaves the variable alone)
    from runway_plan import __main__ as process

    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "restored after the test")
    if chosen is None:
        monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    else:
        monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", chosen)
    assert os.environ.get("PYDANTIC_DISABLE_PLUGINS") == chosen
    monkeypatch.setattr(sys, "argv", ["runway-plan", "codes"])
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as ended:
            process.main()
    finally:
        signal.signal(signal.SIGINT, handler)
    assert ended.value.code == 0
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == (chosen or "__all__")


def test_a_huge_output_count_is_reported_not_expanded(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "version: 1\nname: many\nsteps:\n"
        "  stills:\n    endpoint: text_to_image\n    model: seedream5_flash\n"
        "    promptText: a lighthouse\n    ratio: '1024:1024'\n    outputCount: 2555823274\n"
        "  clip:\n    endpoint: image_to_video\n    model: gen4_turbo\n"
        "    promptImage: '@stills[3]'\n    ratio: '1280:720'\n",
        encoding="utf-8",
    )
    code, out, _ = run("validate", str(path))
    assert code == 1
    assert "many.yaml:9:18: RP208 outputCount 2555823274 is out of range for seedream5_flash" in out
    assert "(1 to 10)" in out
    assert "'@stills[3]' is out of range: step 'stills' has 1 output" in out


def _without(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``names`` look uninstalled, to find_spec and to import alike."""
    import importlib.util
    import sys

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in names else find_spec(name, *a)
    )
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_emulator_commands_say_which_extra_they_need(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without(monkeypatch, "starlette", "uvicorn")
    code, _out, err = run("run", str(spec), "--emulate")
    assert code == 2
    assert "run --emulate needs the emulator's packages (starlette missing)" in err
    assert "pip install 'runway-plan[emulator]'" in err
    code, _out, err = run("emulate")
    assert code == 2 and "(starlette, uvicorn missing)" in err
    code, _out, _err = run("validate", str(spec))  # the core commands need neither
    assert code == 0


def test_graph_dag_without_networkx_says_how_to_get_it(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph, _diagnostics = runway_plan.check_file(spec)
    _without(monkeypatch, "networkx")
    with pytest.raises(ModuleNotFoundError, match="install networkx"):
        _ = graph.dag
