"""Output on terminals and pipes: the plan table at any width, a closed pipe, Ctrl-C, --gantt.

Pipes and signals are tested on a real ``python -m runway_plan`` process, since click's test
runner has neither a pipe to close nor a process to interrupt.  Nothing here waits for a
deadline: a closed pipe is closed before the command starts, and an interrupted command's
output is large enough that it cannot finish before it is read, so it is always running when
the signal arrives, whatever the delay and however loaded the machine.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from runway_plan import check_file, load_catalog
from runway_plan.cli import main
from runway_plan.plan import PlanOptions, plan
from runway_plan.plan.report import COLUMN_PRIORITY, ROW_HEADERS, step_rows, total_row

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
RULE = re.compile(r"^[-─]+$")


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)


# ------------------------------------------------------------------ the plan table's width


def _long_names(directory: Path) -> Path:
    """Step names of about 50 characters, 400 generations, five-digit credits, a day-long
    schedule, a cost range and units of 45 characters."""
    spec = {
        "version": 1,
        "name": "holiday-campaign-with-a-rather-long-name",
        "tier": 2,
        "vars": {"angles": [f"angle {i}" for i in range(400)]},
        "steps": {
            "establishing_shot_of_the_flagship_store_at_dusk": {
                "endpoint": "text_to_image",
                "model": "gen4_image",
                "promptText": "the flagship store at dusk",
                "ratio": "1920:1080",
            },
            "every_single_product_angle_for_the_catalog_pages": {
                "for_each": "{{ angles }}",
                "endpoint": "image_to_video",
                "model": "gen4.5",
                "promptImage": "@establishing_shot_of_the_flagship_store_at_dusk",
                "promptText": "{{ item }}",
                "ratio": "1280:720",
                "duration": 10,
            },
            "voiceover_for_the_thirty_second_television_spot": {
                "endpoint": "text_to_speech",
                "model": "eleven_multilingual_v2",
                "promptText": "Meet Aurora. " * 30,
                "voice": {"type": "runway-preset", "presetId": "Maya"},
            },
            "spanish_dub_of_the_thirty_second_television_spot": {
                "endpoint": "voice_dubbing",
                "model": "eleven_voice_dubbing",
                "audioUri": "@voiceover_for_the_thirty_second_television_spot",
                "targetLang": "es",
            },
            "upscale_of_the_establishing_shot_for_print": {
                "endpoint": "image_upscale",
                "model": "magnific_precision_upscaler_v2",
                "imageUri": "@establishing_shot_of_the_flagship_store_at_dusk",
            },
        },
    }
    path = directory / "long-names.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _very_long_name(directory: Path) -> Path:
    """A step name too long for any other column to sit beside it on 80 columns."""
    name = "the_opening_shot_of_the_film_which_everything_else_in_this_spec_follows"
    spec = {
        "version": 1,
        "name": "one-long-step",
        "steps": {
            name: {
                "endpoint": "text_to_video",
                "model": "veo3.1_fast",
                "promptText": "an opening shot",
                "ratio": "1280:720",
                "duration": 8,
            }
        },
    }
    path = directory / "very-long-name.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _specs(directory: Path) -> list[Path]:
    return [*EXAMPLES, _long_names(directory), _very_long_name(directory)]


def _plan(spec: Path, env: dict[str, str | None]) -> Result:
    """``plan SPEC`` from SPEC's directory (a long path would be one word wider than 80)."""
    os.chdir(spec.parent)
    result = CliRunner().invoke(main, ["plan", spec.name], env=env)
    assert result.exit_code == 0, result.output
    return result


def _on_terminal(spec: Path, width: int) -> list[str]:
    """``plan SPEC`` on a terminal ``width`` columns wide, its lines without colour."""
    env: dict[str, str | None] = {"COLUMNS": str(width), "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
    return ANSI.sub("", _plan(spec, env).stdout).splitlines()


def _piped(spec: Path) -> list[str]:
    env: dict[str, str | None] = {"COLUMNS": None, "FORCE_COLOR": None, "TTY_COMPATIBLE": "0"}
    out = _plan(spec, env).stdout
    assert "\x1b[" not in out
    return out.splitlines()


def _cells(spec: Path) -> list[tuple[str, ...]]:
    """The step table's rows and its TOTAL row, as the library makes them."""
    os.chdir(spec.parent)
    catalog = load_catalog()
    graph, _ = check_file(spec.name, catalog)
    result = plan(graph, catalog, PlanOptions(source=spec.name))
    return [*step_rows(result), total_row(result)]


def _facts(lines: list[str], steps: set[str]) -> Counter[str]:
    """The words of a report, less those a narrow terminal repeats: the step names and
    ``TOTAL`` that key each of its tables, the headers, and the tables' rules."""
    repeated = steps | {"TOTAL", *ROW_HEADERS, "reused"}
    words = (word for line in lines for word in line.split())
    return Counter(w for w in words if w not in repeated and not RULE.match(w))


@pytest.mark.parametrize("width", [80, 100, 120])
def test_plan_fits_the_terminal_and_shows_what_a_pipe_shows(width: int, tmp_path: Path) -> None:
    for spec in _specs(tmp_path):
        lines = _on_terminal(spec, width)
        piped = _piped(spec)
        too_wide = [line for line in lines if len(line.rstrip()) > width]
        assert not too_wide, f"{spec.name} at {width} columns: {too_wide}"
        assert "\n".join(lines).count("…") == "\n".join(piped).count("…"), spec.name
        rows = _cells(spec)
        for row in rows:
            for cell in row[1:]:
                # each cell whole on one line: not cut to `$0…`, not wrapped word by word
                assert any(cell in line for line in lines), f"{spec.name} at {width}: {cell!r}"
        steps = {row[0] for row in rows}
        assert _facts(lines, steps) == _facts(piped, steps), f"{spec.name} at {width}"


def test_wide_terminal_shows_one_table_as_a_pipe_does() -> None:
    lines = _on_terminal(ROOT / "specs" / "launch.yaml", 200)
    headers = [line.split() for line in lines if line.startswith("step ")]
    assert headers == [
        ["step", "model", "endpoint", "gens", "units", "credits", "USD", "start", "end"]
    ]


def test_narrow_terminal_splits_the_table_by_priority(tmp_path: Path) -> None:
    lines = _on_terminal(_long_names(tmp_path), 80)
    tables = [line.split()[1:] for line in lines if line.startswith("step ")]
    assert len(tables) > 1 and tables[0][0] == "credits"
    ranks = [[COLUMN_PRIORITY.index(header) for header in table] for table in tables]
    for earlier, later in itertools.pairwise(ranks):
        assert max(earlier) < min(later)  # a later table only has less important columns
    shown = sorted(h for table in tables for h in table)
    assert shown == sorted(set(ROW_HEADERS) - {"step", "units"})
    # units, too wide to sit beside these names, is under each step's name
    at = lines.index("spanish_dub_of_the_thirty_second_television_spot")
    assert lines[at + 1] == "  units 15.55-97.7 s of audioUri (per 2 s, rounded up)"


def test_plan_other_formats_ignore_the_terminal() -> None:
    env: dict[str, str | None] = {"COLUMNS": "80", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"}
    for fmt in ("json", "markdown"):
        on_terminal = _plan_with(["--format", fmt], env)
        piped = _plan_with(["--format", fmt], {"FORCE_COLOR": None, "TTY_COMPATIBLE": "0"})
        assert on_terminal == piped


def _plan_with(options: list[str], env: dict[str, str | None]) -> str:
    result = CliRunner().invoke(main, ["plan", "specs/launch.yaml", *options], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


# ------------------------------------------------------------------------------ --gantt


@pytest.mark.parametrize("name", ["out.png", "out.pdf", "out", "out.svg.txt"])
def test_gantt_refuses_a_format_it_cannot_write(name: str, tmp_path: Path) -> None:
    target = tmp_path / name
    result = CliRunner().invoke(main, ["plan", "specs/launch.yaml", "--gantt", str(target)])
    assert result.exit_code == 2, result.output
    assert ".svg" in result.stderr and ".html" in result.stderr
    assert "--gantt" in result.stderr
    assert not target.exists() and result.stdout == ""


def test_gantt_is_checked_before_the_spec_is_read(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["plan", str(tmp_path / "missing.yaml"), "--gantt", str(tmp_path / "g.png")]
    )
    assert result.exit_code == 2 and ".svg" in result.stderr
    assert "missing.yaml" not in result.output


@pytest.mark.parametrize("name", ["g.svg", "g.SVG", "g.html", "g.htm"])
def test_gantt_writes_svg_and_html(name: str, tmp_path: Path) -> None:
    target = tmp_path / name
    result = CliRunner().invoke(main, ["plan", "specs/launch.yaml", "--gantt", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>" if "htm" in name else "<svg")


# ---------------------------------------------------------------------- Ctrl-C, click.Abort


@pytest.mark.parametrize("raised", [KeyboardInterrupt, click.Abort])
def test_an_interrupted_command_exits_130_quietly(
    raised: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise raised()

    monkeypatch.setattr("runway_plan.cli.lint.check_file", interrupted)
    result = CliRunner().invoke(main, ["validate", "specs/launch.yaml"])
    assert result.exit_code == 130
    assert "Aborted" not in result.output and "Traceback" not in result.output
    assert result.output.strip() == ""


# ------------------------------------------------------------------------- real processes


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "runway_plan", *args]


def _big_plan(directory: Path) -> Path:
    """A spec of 2,000 generations: its JSON plan is far larger than a pipe's buffer."""
    spec = {
        "version": 1,
        "name": "many",
        "tier": 5,
        "vars": {"shots": [f"shot {i}" for i in range(2000)]},
        "steps": {
            "clip": {
                "for_each": "{{ shots }}",
                "endpoint": "text_to_video",
                "model": "gen4.5",
                "promptText": "{{ item }}",
                "ratio": "1280:720",
                "duration": 5,
            }
        },
    }
    path = directory / "many.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def _big_broken(directory: Path) -> Path:
    """A spec with 2,000 errors: their JSON is far larger than a pipe's buffer."""
    step = {
        "endpoint": "text_to_video",
        "model": "gen4.5",
        "promptText": "x",
        "ratio": "1:1",
        "duration": 5,
    }
    steps = {f"s{i}": dict(step) for i in range(2000)}  # copies: no YAML aliases
    spec = {"version": 1, "name": "broken", "steps": steps}
    path = directory / "broken.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def _into_closed_pipe(args: list[str]) -> tuple[int, str]:
    """Run ``args`` with standard output a pipe whose reader has gone before the command
    starts (``runway-plan schema | true``); its exit code and standard error."""
    reader, writer = os.pipe()
    os.close(reader)
    with subprocess.Popen(args, stdout=writer, stderr=subprocess.PIPE, cwd=ROOT) as process:
        os.close(writer)
        _, err = process.communicate(timeout=120)
    return process.returncode, err.decode()


@pytest.mark.parametrize(
    "args",
    [
        ["schema"],
        ["codes"],
        ["codes", "--markdown"],
        ["--help"],
        ["plan", "specs/launch.yaml"],
        ["plan", "specs/launch.yaml", "--format", "markdown"],
        ["validate", "--format", "json", *(f"specs/{p.name}" for p in EXAMPLES)],
        ["validate", "--format", "sarif", "tests/fixtures/broken/broken.json"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_a_closed_pipe_ends_the_command_quietly(args: list[str]) -> None:
    code, err = _into_closed_pipe(_command(*args))
    assert (code, err) == (141, "")


def test_status_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    spec = tmp_path / "still.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "still",
                "steps": {
                    "still": {
                        "endpoint": "text_to_image",
                        "model": "gen4_image",
                        "promptText": "a still",
                        "ratio": "1920:1080",
                    }
                },
            }
        ),
        encoding="utf-8",
    )
    ran = CliRunner().invoke(main, ["run", str(spec), "--emulate", "-y", "--speed", "500"])
    assert ran.exit_code == 0, ran.output
    code, err = _into_closed_pipe(_command("status", str(spec), "--emulate"))
    assert (code, err) == (141, "")


def _interrupt(args: list[str], delay: float) -> tuple[int, list[str]]:
    """Run ``args``, send SIGINT ``delay`` seconds after the process has imported click (the
    first module runway-plan's command line imports: ``-X importtime`` reports it), and return
    its exit code as a shell sees it and what it wrote on standard error.  A signal before
    then would find the interpreter still starting, which is Python's, not runway-plan's:
    Python reports a fatal error there.

    Standard output is read only after the signal: the command's output fills the pipe and
    holds it there, so the signal always finds it running.
    """
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "runway_plan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stderr is not None
    seen: list[bytes] = []
    for line in process.stderr:  # "import time: self | cumulative | name", once each import ends
        seen.append(line)
        if line.decode().rsplit("|", 1)[-1].strip() == "click":
            break
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    err = (b"".join(seen) + rest).decode()
    code = process.returncode
    if code < 0:  # ended by the signal itself, in the interpreter's last instants
        code = 128 - code
    return code, [line for line in err.splitlines() if not line.startswith("import time:")]


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_ctrl_c_at_any_moment_exits_130_quietly(command: str, tmp_path: Path) -> None:
    if command == "plan":
        args = ["plan", str(_big_plan(tmp_path)), "--format", "json"]
    else:
        args = ["validate", str(_big_broken(tmp_path)), "--format", "json"]
    # from the imports through the catalog, the spec, the command's work and its output
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.35, 0.5):
        code, err = _interrupt(args, delay)
        assert code == 130, (delay, err)
        assert "Traceback" not in "\n".join(err) and "Aborted" not in "\n".join(err), delay
        assert len([line for line in err if line.strip()]) <= 1, (delay, err)
        assert all(len(line) < 80 for line in err), (delay, err)
