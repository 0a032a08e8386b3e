"""Output on terminals and pipes: the plan table at any width, --gantt."""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from runway_plan import check_file, load_catalog
from runway_plan.cli import main
from runway_plan.plan import plan
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
    result = plan(graph, catalog, source=spec.name)
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
    assert lines[at + 1] == "  units 15.6-97.5 s of audioUri (per 2 s, rounded up)"


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
