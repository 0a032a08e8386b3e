"""Prices the account teaches: an emulated run billed from a sheet the planner does not know,
then `prices` lists what was billed, `prices learn` recovers the sheet's rates exactly, `plan`
uses them, and drift from the catalog is reported."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from test_execute_support import CATALOG, KEY, PRICES, SPEED, Harness, graph_of, write_spec

from runway_plan.catalog.learned import FILE_NAME
from runway_plan.catalog.model import Price
from runway_plan.cli import main
from runway_plan.cli.prices import count_line
from runway_plan.emulator import Emulator, EmulatorConfig, FaultPlan

SHEET: dict[str, dict[str, Any]] = {
    # priced by the catalog at 5/s: billed 7/s
    "gen4_turbo": {"unit": "output_second", "rates": [{"credits": "7"}]},
    # priced by the catalog at 2 an image: billed 3
    "gen4_image_turbo": {"unit": "image", "rates": [{"credits": "3"}]},
    # priced by the catalog at 1 per 50 characters: billed 2
    "eleven_multilingual_v2": {
        "unit": "characters",
        "text_field": "promptText",
        "per": "50",
        "rounding": "ceil",
        "rates": [{"credits": "2"}],
    },
    # priced by the catalog at 1 per 2 s of input: billed 3
    "eleven_voice_dubbing": {
        "unit": "input_second",
        "input_field": "audioUri",
        "per": "2",
        "rounding": "ceil",
        "rates": [{"credits": "3"}],
    },
    # unpriced: per second of output
    "eleven_text_to_sound_v2": {"unit": "output_second", "rates": [{"credits": "2"}]},
    # unpriced: per image
    "gemini_image3.1_flash": {
        "unit": "image",
        "count_field": "outputCount",
        "rates": [{"credits": "4"}],
    },
    # unpriced: per character, a fraction of a credit (bills are whole credits)
    "eleven_v3": {"unit": "characters", "text_field": "promptText", "rates": [{"credits": "0.02"}]},
}
TAUGHT = {
    model: Price.model_validate({**entry, "source": "test sheet", "checked": "2026-12-01"})
    for model, entry in SHEET.items()
}

SPEC = """\
version: 1
name: taught
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image_turbo
    promptText: "A lighthouse at dawn"
    ratio: "1280:720"
    referenceImages: [{uri: assets/product.png, tag: product}]
  shot:
    for_each: [slow dolly-in, orbit]
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@hero"
    promptText: "{{ item }}"
    ratio: "1280:720"
    duration: 5
  voiceover:
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "Welcome to the lighthouse, where the light never sleeps and the sea sings."
    voice: {type: runway-preset, presetId: Maya}
  dub:
    endpoint: voice_dubbing
    model: eleven_voice_dubbing
    audioUri: "@voiceover"
    targetLang: es
  rain:
    endpoint: sound_effect
    model: eleven_text_to_sound_v2
    promptText: rain on a tin roof
    duration: 3
  poster:
    for_each: [dawn, dusk]
    endpoint: text_to_image
    model: gemini_image3.1_flash
    promptText: "A poster at {{ item }}"
    ratio: "1024:1024"
  whisper:
    endpoint: text_to_speech
    model: eleven_v3
    promptText: "Keep the light burning."
    voice: {type: runway-preset, presetId: Maya}
"""


def _emulator() -> Emulator:
    sheet = PRICES.merged(TAUGHT, "the test's sheet")
    config = EmulatorConfig(api_key=KEY, speed=SPEED, cadence=5.0, credits=1_000_000, tier=2)
    return Emulator(config, catalog=CATALOG, prices=sheet, faults=FaultPlan())


@pytest.fixture(scope="module")
def taught(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Emulator]:
    """A spec folder whose state holds one emulated run billed from :data:`SHEET`."""
    folder = tmp_path_factory.mktemp("taught")
    spec = write_spec(folder, SPEC)
    emu = _emulator()
    harness = Harness(emu, folder / ".runway-plan" / "spec", folder / "outputs")
    result = harness.run(graph_of(spec))
    assert result.exit_code == 0, result.diagnostics
    return folder, emu


def _invoke(folder: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.chdir(folder)
    return CliRunner().invoke(main, list(args))


def test_prices_lists_every_model_what_was_billed_and_the_count(
    taught: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _emu = taught
    result = _invoke(folder, monkeypatch, "prices", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    models = {row["model"]: row for row in data["models"]}
    assert set(CATALOG.model_endpoints) <= set(models)
    turbo = models["gen4_turbo"]
    assert turbo["priced"] and turbo["rule"] == "5/s" and turbo["confidence"] == "high"
    [observed] = turbo["observed"]
    assert observed["agrees"] and observed["rates"][0]["credits"] == "7"
    assert observed["rates"][0]["tasks"] == 2
    assert not models["eleven_v3"]["priced"] and models["eleven_v3"]["unknown_reason"]
    assert models["eleven_v3"]["observed"][0]["rates"][0]["credits"] == "0.02"
    assert data["tasks"] == 9
    assert data["count"] == count_line(CATALOG)
    assert any(d.startswith("gen4_turbo billed 7/s over 2 tasks since ") for d in data["drift"])

    text = _invoke(folder, monkeypatch, "prices").stdout
    assert "7/s ×2 since" in text
    assert "catalog 5/s" in text and "eleven_multilingual_v2 billed 2/50 chars" in text
    assert text.rstrip().splitlines()[-1] == count_line(CATALOG)


def test_count_line_counts_low_confidence_as_unknown() -> None:
    models = dict(CATALOG.prices.models)
    models["gen4_turbo"] = models["gen4_turbo"].model_copy(update={"confidence": "low"})
    models["act_two"] = models["act_two"].model_copy(update={"confidence": "medium"})
    catalog = dataclasses.replace(
        CATALOG, prices=CATALOG.prices.model_copy(update={"models": models})
    )
    total = len(CATALOG.model_endpoints)
    priced = len([m for m in CATALOG.prices.models if m in CATALOG.model_endpoints])
    line = count_line(catalog)
    assert line.startswith(f"{priced - 1} of {total} models priced (")
    assert "1 medium" in line and f"{total - priced + 1} unknown" in line
    assert "1 with only a low-confidence figure" in line


def test_learn_recovers_the_sheet_exactly(
    taught: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, emu = taught
    result = _invoke(folder, monkeypatch, "prices", "learn")
    assert result.exit_code == 0, result.output
    assert f"wrote {FILE_NAME}: {len(SHEET)} model(s) learned" in result.stdout
    written = yaml.safe_load((folder / FILE_NAME).read_text())
    assert set(written["models"]) == set(SHEET)
    for model, entry in SHEET.items():
        got = written["models"][model]
        assert got["unit"] == entry["unit"], model
        assert [Decimal(r["credits"]) for r in got["rates"]] == [
            Decimal(r["credits"]) for r in entry["rates"]
        ], model
        assert Decimal(got.get("per", 1)) == Decimal(entry.get("per", 1)), model
        assert got["learned"]["tasks"] >= 1 and got["learned"]["task_ids"]
        assert set(got["learned"]["task_ids"]) <= {e.task_id for e in emu.ledger()}
    assert written["models"]["gen4_turbo"]["confidence"] == "high"
    assert written["models"]["eleven_v3"]["confidence"] == "medium"
    assert "estimatedCost" in written["models"]["eleven_v3"]["source"]
