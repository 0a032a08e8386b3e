"""Example specs validate clean; each deliberately broken spec prints exactly its golden text.

Regenerate the goldens after an intended change with ``RUNWAY_PLAN_UPDATE_GOLDENS=1 pytest
tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from runway_plan.cli import main

ROOT = Path(__file__).parent.parent
BROKEN = Path(__file__).parent / "fixtures" / "broken"
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
BROKEN_SPECS = sorted(p for p in BROKEN.iterdir() if p.suffix in (".yaml", ".json"))


def _validate(spec: str, monkeypatch: pytest.MonkeyPatch, where: Path) -> tuple[int, str]:
    monkeypatch.chdir(where)
    result = CliRunner().invoke(main, ["validate", spec])
    return result.exit_code, result.stdout


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.name)
def test_example_specs_validate_clean(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _validate(f"specs/{spec.name}", monkeypatch, ROOT)
    assert (code, out) == (0, "")


def test_there_are_at_least_six_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("spec", BROKEN_SPECS, ids=lambda p: p.name)
def test_broken_specs_print_their_golden_diagnostics(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = _validate(spec.name, monkeypatch, BROKEN)
    golden = spec.with_suffix(spec.suffix + ".expected")
    if os.environ.get("RUNWAY_PLAN_UPDATE_GOLDENS"):
        golden.write_text(out, encoding="utf-8")
    assert code == 1
    assert out == golden.read_text(encoding="utf-8")
