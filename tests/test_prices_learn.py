"""Prices the account teaches: an emulated run billed from a sheet the planner does not know,
then `prices` lists what was billed, `prices learn` recovers the sheet's rates exactly, `plan`
uses them, and drift from the catalog is reported."""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from support.execute import CATALOG, KEY, PRICES, SPEED, Harness, graph_of, write_spec

from runway_plan.catalog.learned import FILE_NAME
from runway_plan.catalog.model import Price, PriceRate
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
    # priced by the catalog at 5 per second of input: billed 6 (its input is a local file)
    "act_two": {
        "unit": "input_second",
        "input_field": "reference.uri",
        "rates": [{"credits": "6"}],
    },
    # priced by the catalog at 1 per 6 s of input: billed 2 (a local file, uploaded)
    "eleven_voice_isolation": {
        "unit": "input_second",
        "input_field": "audioUri",
        "per": "6",
        "rounding": "ceil",
        "rates": [{"credits": "2"}],
    },
    # unpriced: per second of output
    "kling_4": {"unit": "output_second", "rates": [{"credits": "2"}]},
    # unpriced, and billed flat: 100 over 3 s is no exact rate a second, so per generation
    "mirelo_sfx_2_0": {"unit": "generation", "rates": [{"credits": "100"}]},
    # unpriced: per image
    "nano_banana_2.1": {
        "unit": "image",
        "count_field": "outputCount",
        "rates": [{"credits": "4"}],
    },
    # unpriced: per character, a fraction of a credit (bills are whole credits)
    "eleven_v4": {"unit": "characters", "text_field": "promptText", "rates": [{"credits": "0.02"}]},
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
    endpoint: text_to_video
    model: kling_4
    promptText: rain on a tin roof
    duration: 3
  poster:
    for_each: [dawn, dusk]
    endpoint: text_to_image
    model: nano_banana_2.1
    promptText: "A poster at {{ item }}"
    ratio: "1024:1024"
  performance:
    endpoint: character_performance
    model: act_two
    character: {type: image, uri: "@hero"}
    reference: {type: video, uri: assets/performance.mp4}
    ratio: "960:960"
  clean:
    endpoint: voice_isolation
    model: eleven_voice_isolation
    audioUri: assets/interview.wav
  foley:
    endpoint: video_to_audio
    model: mirelo_sfx_2_0
    videoUri: "@shot[0]"
    promptText: waves
    duration: 3
  whisper:
    endpoint: text_to_speech
    model: eleven_v4
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
    assert not models["eleven_v4"]["priced"] and models["eleven_v4"]["unknown_reason"]
    assert models["eleven_v4"]["observed"][0]["rates"][0]["credits"] == "0.02"
    assert data["tasks"] == 12
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
    levels = [
        p.confidence for m, p in CATALOG.prices.models.items() if m in CATALOG.model_endpoints
    ]
    trusted, medium, low = (
        len(levels) - levels.count("low"),
        levels.count("medium"),
        levels.count("low"),
    )
    line = count_line(catalog)
    # gen4_turbo (high) becomes low: one fewer priced, one more unknown; act_two (high) medium
    assert line.startswith(f"{trusted - 1} of {total} models priced (")
    assert f"{medium + 1} medium" in line and f"{total - trusted + 1} unknown" in line
    assert f"{low + 1} with only a low-confidence figure" in line


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
    assert written["models"]["eleven_v4"]["confidence"] == "medium"
    assert "estimatedCost" in written["models"]["eleven_v4"]["source"]
    assert "credits: '100'" in (folder / FILE_NAME).read_text()  # never 1E+2


def _plan_json(folder: Path, monkeypatch: pytest.MonkeyPatch, spec: str = "spec.yaml") -> Any:
    result = _invoke(folder, monkeypatch, "plan", spec, "--format", "json")
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else None


def test_plan_prices_with_what_was_learned_and_names_the_tasks(
    taught: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, emu = taught
    assert _invoke(folder, monkeypatch, "prices", "learn").exit_code == 0
    code, data = _plan_json(folder, monkeypatch)
    assert code == 0, data
    rates = {g["model"]: Decimal(g["rate"]["high"]) for g in data["generations"]}
    for model, entry in SHEET.items():
        assert rates[model] == Decimal(entry["rates"][0]["credits"]), model
    learned = {row["model"]: row for row in data["learned_prices"]}
    assert set(learned) == set(SHEET)
    task_ids = {e.task_id for e in emu.ledger()}
    for row in learned.values():
        assert row["task_ids"] and set(row["task_ids"]) <= task_ids and row["last"]
    turbo = next(g for g in data["generations"] if g["model"] == "gen4_turbo")
    assert turbo["price_source"].startswith(f"{FILE_NAME}: learned from task ")
    assert any(
        n.startswith(f"gen4_turbo priced from {FILE_NAME}: learned from task")
        for n in data["notes"]
    )
    # each model's planned credits now cover what the emulator billed for it
    billed: dict[str, Decimal] = {}
    for entry in emu.ledger():
        billed[entry.model] = billed.get(entry.model, Decimal(0)) + entry.charged_credits
    planned: dict[str, tuple[Decimal, Decimal]] = {}
    for g in data["generations"]:
        low, high = planned.get(g["model"], (Decimal(0), Decimal(0)))
        planned[g["model"]] = (
            low + Decimal(g["credits"]["low"]),
            high + Decimal(g["credits"]["high"]),
        )
    for model in SHEET:
        low, high = planned[model]
        if model == "eleven_v4":
            # 23 chars at 0.02 = 0.46; bills are whole credits and the rounding is not
            # documented, so the plan is [floor, ceil] = 0-1, and covers the 1 billed
            assert (low, high) == (0, 1) and billed[model] == 1
        elif model == "eleven_voice_dubbing":  # the speech's length is a range before it runs
            assert low <= billed[model] <= high
        else:
            assert low == high == billed[model], model


def test_the_specs_prices_still_win_over_learned_ones(
    taught: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _emu = taught
    assert _invoke(folder, monkeypatch, "prices", "learn").exit_code == 0
    text = (folder / "spec.yaml").read_text()
    (folder / "own.yaml").write_text(text + "prices:\n  gen4_turbo: 1\n")
    code, data = _plan_json(folder, monkeypatch, "own.yaml")
    assert code == 0
    turbo = next(g for g in data["generations"] if g["model"] == "gen4_turbo")
    assert turbo["rate"]["high"] == "1" and turbo["override"]
    assert "gen4_turbo" not in {row["model"] for row in data["learned_prices"]}
    assert "gen4_image_turbo" in {row["model"] for row in data["learned_prices"]}


PLAIN = """\
version: 1
name: plain
steps:
  shot:
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: https://example.com/still.png
    promptText: orbit
    ratio: "1280:720"
    duration: 5
"""
GOOD_ENTRY = """\
  gen4_turbo:
    unit: output_second
    rates: [{credits: "9"}]
    source: my contract
    checked: "2026-12-01"
"""


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("models: [\n", ["RP100"]),
        ("- a list\n", ["RP420", "a mapping with 'models:'"]),
        ("models: !!python/object/apply:os.system [echo hi]\n", ["runway-prices.yaml:1"]),
        (
            "models:\n  gen4_turbp:\n    unit: generation\n    rates: [{credits: 1}]\n"
            "    source: s\n    checked: c\n",
            ["RP420", "no such model", "did you mean gen4_turbo?"],
        ),
        (
            "models:\n  gen4_turbo:\n    unit: output_second\n    rates: [{credits: -3}]\n"
            "    source: s\n    checked: c\n",
            ["RP420", "models.gen4_turbo.rates.0.credits", "greater than or equal to 0"],
        ),
        (
            "models:\n  gen4_turbo:\n    unit: output_second\n    rates: [{credits: .nan}]\n"
            "    source: s\n    checked: c\n",
            ["runway-prices.yaml"],
        ),
        (
            "models:\n  gen4_turbo:\n    unit: characters\n    rates: [{credits: 1}]\n"
            "    source: s\n    checked: c\n",
            ["RP420", "unit characters needs text_field"],
        ),
        ("models:\n  gen4_turbo: 12\n", ["RP420", "a price is a mapping"]),
        (
            "models:\n  gen4_turbo:\n    unit: output_second\n    rates: [{credits: 1}]\n"
            "    source: s\n    checked: c\n    learned: {tasks: -1}\n",
            ["RP420", "models.gen4_turbo.learned.tasks"],
        ),
    ],
)
def test_a_hostile_learned_file_gets_a_diagnostic_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, fragments: list[str]
) -> None:
    write_spec(tmp_path, PLAIN)
    (tmp_path / FILE_NAME).write_text(text)
    result = _invoke(tmp_path, monkeypatch, "plan", "spec.yaml")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert FILE_NAME in result.output
    run = _invoke(tmp_path, monkeypatch, "run", "spec.yaml", "--emulate")
    assert run.exit_code == 1 and "nothing was run" in run.output
    learn = _invoke(tmp_path, monkeypatch, "prices", "learn")
    assert "Traceback" not in learn.output
    assert (tmp_path / FILE_NAME).read_text() == text  # never rewritten over


def test_a_good_entry_is_used_and_an_unknown_key_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(tmp_path, PLAIN)
    (tmp_path / FILE_NAME).write_text("models:\n" + GOOD_ENTRY + "    note: ours\n")
    code, data = _plan_json(tmp_path, monkeypatch)
    assert code == 0
    [gen] = data["generations"]
    assert gen["credits"]["high"] == "45"
    assert gen["price_source"] == f"{FILE_NAME} (a hand-written entry: my contract)"
    [warning] = [d for d in data["diagnostics"] if d["code"] == "RP420"]
    assert warning["severity"] == "warning" and "'note'" in warning["message"]


def test_a_learned_file_outside_the_root_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    spec_folder = tmp_path / "repo"
    write_spec(spec_folder, PLAIN)
    (spec_folder / ".git").mkdir()
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("models:\n" + GOOD_ENTRY)
    (spec_folder / FILE_NAME).symlink_to(outside)
    result = _invoke(spec_folder, monkeypatch, "plan", "spec.yaml")
    assert result.exit_code == 1
    assert "RP420" in result.output and "outside the spec's root" in result.output


def test_learn_keeps_hand_edits_and_unknown_keys(
    taught: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _emu = taught
    assert _invoke(folder, monkeypatch, "prices", "learn").exit_code == 0
    data = yaml.safe_load((folder / FILE_NAME).read_text())
    data["owner"] = "finance"
    data["models"]["gen4_turbo"]["rates"] = [{"credits": "6"}]
    data["models"]["gen4_image_turbo"]["note"] = "checked by hand"
    (folder / FILE_NAME).write_text(yaml.safe_dump(data))
    result = _invoke(folder, monkeypatch, "prices", "learn")
    assert result.exit_code == 0
    assert "gen4_turbo: your entry" in result.output and "--overwrite" in result.output
    again = yaml.safe_load((folder / FILE_NAME).read_text())
    assert again["owner"] == "finance"
    assert again["models"]["gen4_turbo"]["rates"] == [{"credits": "6"}]
    assert again["models"]["gen4_image_turbo"]["note"] == "checked by hand"
    assert again["models"]["gen4_image_turbo"]["rates"] == [{"credits": "3"}]
    forced = _invoke(folder, monkeypatch, "prices", "learn", "--overwrite")
    assert forced.exit_code == 0
    last = yaml.safe_load((folder / FILE_NAME).read_text())
    assert last["models"]["gen4_turbo"]["rates"] == [{"credits": "7"}]
    assert not list(folder.glob(f".{FILE_NAME}.*"))  # no scratch file left behind


@pytest.mark.parametrize(
    "damage",
    [
        "garbage",
        "UPDATE attempts SET billed_credits = 'NaN'",
        "UPDATE attempts SET billed_credits = 'lots'",
        "UPDATE attempts SET request = '[1, 2'",
        'UPDATE attempts SET request = \'{"model": "gen4_turbo", "promptImage": "/etc/passwd"}\'',
        "UPDATE steps SET endpoint = 'nowhere'",
        "UPDATE steps SET model = 'evil\x1b[31m' WHERE model = 'gen4_turbo'",
    ],
)
def test_a_hostile_state_is_reported_not_a_traceback(
    taught: tuple[Path, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    import shutil
    import sqlite3

    folder, _emu = taught
    state = tmp_path / "state"
    shutil.copytree(folder / ".runway-plan" / "spec", state)
    if damage == "garbage":
        (state / "state.db").write_bytes(b"not a database at all" * 100)
    else:
        with sqlite3.connect(state / "state.db") as db:
            db.execute(damage)
    for args in (["prices", "--state", str(state)], ["prices", "learn", "--state", str(state)]):
        result = _invoke(tmp_path, monkeypatch, *args)
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "\x1b" not in result.output
    if (tmp_path / FILE_NAME).exists():
        written = yaml.safe_load((tmp_path / FILE_NAME).read_text())
        assert set(written["models"]) <= set(CATALOG.model_endpoints)
    listing = _invoke(tmp_path, monkeypatch, "prices", "--state", str(state), "--format", "json")
    data = json.loads(listing.stdout)
    assert data["problems"] or data["skipped"] or data["tasks"] == 0


def test_the_run_report_says_where_bills_drift_from_the_catalog(
    taught: tuple[Path, Emulator],
) -> None:
    from runway_plan.cli.run import _drift
    from runway_plan.execute import render_run_text

    folder, emu = taught
    state = folder / ".runway-plan" / "spec"
    graph = graph_of(folder / "spec.yaml")
    again = Harness(emu, state, folder / "outputs").run(graph)
    assert again.exit_code == 0
    lines = _drift(state, graph, CATALOG)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"gen4_turbo billed 7/s over 2 tasks since {day}; catalog 5/s" in lines
    assert f"gen4_image_turbo billed 3/image over 1 task since {day}; catalog 2/image" in lines
    assert f"eleven_voice_dubbing billed 3/2 s of input over 1 task since {day}; " in "\n".join(
        lines
    )
    assert not any(line.startswith(("eleven_v4", "nano_banana_2.1")) for line in lines)
    text = render_run_text(again, graph, drift=lines)
    assert "drift from the catalog's prices" in text
    assert f"  gen4_turbo billed 7/s over 2 tasks since {day}; catalog 5/s\n" in text

    own = write_spec(folder / "own", SPEC + "prices:\n  gen4_turbo: 1\n")
    assert not any(line.startswith("gen4_turbo") for line in _drift(state, graph_of(own), CATALOG))


def test_the_run_remembers_the_prices_of_requests_that_read_no_file(
    taught: tuple[Path, Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import shutil

    from runway_plan.cli.run import _drift
    from runway_plan.execute import State

    observing = importlib.import_module("runway_plan.execute.learn.pricing")

    folder, _emu = taught
    state = tmp_path / "state"
    shutil.copytree(folder / ".runway-plan" / "spec", state)
    spec = folder / "spec.yaml"
    graph = graph_of(spec)
    priced: list[str] = []
    cost_of = observing.cost_of

    def counted(catalog: Any, endpoint: str, body: Any, root: Any) -> Any:
        priced.append(endpoint)
        return cost_of(catalog, endpoint, body, root)

    # the run that billed them remembered the prices of the requests as recorded: hero, two
    # shots and the voiceover, and the two whose local input it uploaded (the run does not
    # look the upload up in the spec); the dubbing's input is a stored output, measured
    with State(state) as journal:
        assert journal.db.execute("SELECT count(*) FROM price_memo").fetchone()[0] == 6
        journal.db.execute("DELETE FROM price_memo")
    monkeypatch.setattr(observing, "cost_of", counted)
    expected = _drift(state, graph, CATALOG, spec)
    assert any(line.startswith("gen4_turbo billed 7/s") for line in expected)
    calls = []
    with State(state) as journal:
        for catalog in (CATALOG, CATALOG, dataclasses.replace(CATALOG, digest="0" * 64)):
            priced.clear()
            assert _drift(state, graph, catalog, spec, journal) == expected
            calls.append(len(priced))
    # the drift remembers what the run did not, and prices again only for another catalog
    assert calls[1] == calls[0] - 4 and calls[2] == calls[0]
    with State(state) as journal:
        scopes = {row[0] for row in journal.db.execute("SELECT scope FROM price_memo")}
    assert len(scopes) == 1  # the other catalog's replaced the first's


def test_rates_that_disagree_are_reported_not_averaged() -> None:
    from runway_plan.execute.learn import Observation, Observed, learned_entry, summarize

    def seen(task: str, billed: int) -> Observation:
        return Observation(
            model="gen4_turbo",
            endpoint="image_to_video",
            task_id=task,
            finished_at=1_764_633_600.0 + billed,
            origin="https://api.dev.runwayml.com",
            state="s",
            billed=Decimal(billed),
            estimated=Decimal(billed),
            blocks=Decimal(5),
            rate=Decimal(billed) / 5,
            condition=0,
            body={
                "model": "gen4_turbo",
                "promptImage": "https://example.com/still.png",
                "promptText": "orbit",
                "ratio": "1280:720",
                "duration": 5,
            },
        )

    observed = Observed(observations=[seen("a", 35), seen("b", 40), seen("c", 35)])
    summary = summarize(observed, CATALOG)
    [group] = summary["gen4_turbo"]
    assert not group.agrees and sorted(group.rates) == [Decimal(7), Decimal(8)]
    entry, notes = learned_entry("gen4_turbo", summary["gen4_turbo"], CATALOG, "2026-12-02")
    assert entry is None
    assert notes == [
        "gen4_turbo: tasks disagree (7/s (2 tasks, e.g. a), 8/s (1 task, e.g. b)); "
        "not learned, not averaged"
    ]
    agreeing = summarize(Observed(observations=[seen("a", 35), seen("c", 35)]), CATALOG)
    entry, notes = learned_entry("gen4_turbo", agreeing["gen4_turbo"], CATALOG, "2026-12-02")
    assert entry is not None and not notes
    assert entry["rates"] == [{"credits": "7"}] and entry["learned"]["tasks"] == 2
    assert entry["learned"]["first"] == entry["learned"]["last"] == "2025-12-02"


# --- every price shape: listed truthfully, drift against the whole rule, learned or refused ---


def _catalog_entry(model: str, **update: Any) -> dict[str, Any]:
    price = CATALOG.prices.models[model]
    data: dict[str, Any] = price.model_dump(mode="json", exclude_defaults=True)
    data.update(update)
    return data


SHAPES_SHEET: dict[str, dict[str, Any]] = {
    # tier from ratio: 1080p billed 44/s instead of 40; 720p and 4K as the catalog's
    "seedance2": _catalog_entry(
        "seedance2",
        rates=[
            {"when": {"tier": ["720p"]}, "credits": "36"},
            {"when": {"tier": ["1080p"]}, "credits": "44"},
            {"when": {"tier": ["4K"]}, "credits": "150"},
        ],
    ),
    # 12/s instead of 10, the +1 first-frame surcharge unchanged; its video_to_video price
    # (per second of input) at 13 instead of 11
    "gemini_omni_flash": _catalog_entry("gemini_omni_flash", rates=[{"credits": "12"}]),
    # a derived "timed" value and a per-second surcharge: untimed billed 3 instead of 2
    "eleven_text_to_sound_v2": _catalog_entry(
        "eleven_text_to_sound_v2",
        rates=[{"when": {"timed": ["no"]}, "credits": "3"}, {"credits": "0"}],
    ),
    # a possible surcharge: base 30 instead of 25, billed with the surcharge (155)
    "magnific_precision_upscaler_v2": _catalog_entry(
        "magnific_precision_upscaler_v2", rates=[{"credits": "30"}]
    ),
    # a minimum: billed as the catalog's, 4 s x 16 = 64, the 64 minimum
    "seedance2_mini": _catalog_entry("seedance2_mini"),
}
SHAPES_SHEET["gemini_omni_flash"]["endpoints"]["video_to_video"]["rates"] = [{"credits": "13"}]

SHAPES_SPEC = """\
version: 1
name: shapes
steps:
  wide:
    endpoint: text_to_video
    model: seedance2
    promptText: a lighthouse in a storm
    ratio: "1920:1080"
    duration: 5
  omni:
    endpoint: image_to_video
    model: gemini_omni_flash
    promptImage: assets/product.png
    promptText: slow orbit
    duration: 5
  restyle:
    endpoint: video_to_video
    model: gemini_omni_flash
    videoUri: "@wide"
    promptText: as a watercolour
  bed:
    endpoint: sound_effect
    model: eleven_text_to_sound_v2
    promptText: rain on a tin roof
  timed:
    endpoint: sound_effect
    model: eleven_text_to_sound_v2
    promptText: distant thunder
    duration: 8
  upscale:
    endpoint: image_upscale
    model: magnific_precision_upscaler_v2
    imageUri: assets/product.png
    scaleFactor: 4
  mini:
    endpoint: text_to_video
    model: seedance2_mini
    promptText: a paper boat
    ratio: "1280:720"
    duration: 4
  flare:
    endpoint: text_to_image
    model: gpt_image_2_5_flare
    promptText: a poster
    ratio: "1920:1920"
    outputCount: 2
    referenceImages: [{uri: assets/product.png}]
"""


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Emulator]:
    """A spec folder whose state holds one emulated run billed from :data:`SHAPES_SHEET`."""
    folder = tmp_path_factory.mktemp("shapes")
    spec = write_spec(folder, SHAPES_SPEC)
    taught = {
        model: Price.model_validate({**entry, "source": "test sheet", "checked": "2026-12-01"})
        for model, entry in SHAPES_SHEET.items()
    }
    sheet = PRICES.merged(taught, "the shapes sheet")
    config = EmulatorConfig(api_key=KEY, speed=SPEED, cadence=5.0, credits=1_000_000, tier=2)
    emu = Emulator(config, catalog=CATALOG, prices=sheet, faults=FaultPlan())
    harness = Harness(emu, folder / ".runway-plan" / "spec", folder / "outputs")
    result = harness.run(graph_of(spec))
    assert result.exit_code == 0, result.diagnostics
    return folder, emu


def _billed(emu: Emulator) -> dict[str, list[Decimal]]:
    found: dict[str, list[Decimal]] = {}
    for entry in emu.ledger():
        found.setdefault(entry.model, []).append(Decimal(entry.charged_credits))
    return found


def test_the_emulator_billed_the_shapes_sheet(shapes: tuple[Path, Emulator]) -> None:
    _folder, emu = shapes
    billed = _billed(emu)
    assert billed["seedance2"] == [220]  # 5 s x 44 (1080p from the ratio)
    assert sorted(billed["eleven_text_to_sound_v2"]) == [3, 8]  # untimed 3; 0 + 8 s x 1
    assert billed["magnific_precision_upscaler_v2"] == [155]  # 30 + the possible 125
    assert billed["seedance2_mini"] == [64]  # 4 s x 16 = 64, the minimum
    assert billed["gpt_image_2_5_flare"] == [154]  # the span's top: 2 x 76 + 2 x 1 reference
    # image_to_video: 5 s x 12 + 1 for the first frame; video_to_video: 13 per input second
    omni = sorted(billed["gemini_omni_flash"])
    assert omni[0] == 61 and omni[1] >= 65


def test_prices_lists_every_shape_truthfully(
    shapes: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _emu = shapes
    text = _invoke(folder, monkeypatch, "prices").stdout
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isalnum()}
    assert (
        "1-76/image (times outputCount), +1 each of referenceImages per output"
        in (rows["gpt_image_2_5_flare"])
    )
    assert "1/image" not in rows["gpt_image_2_5_flare"].replace("1-76/image", "")
    assert (
        "0.7/frame when resolution=720p|1k; 0.9/frame when resolution=2k; 1.2/frame when "
        "resolution=4k (frames = 24-60 fps x s of videoUri; resolution defaults to 2k), "
        "at least 1, total rounded up to whole credits"
    ) in rows["magnific_video_upscaler_creative"]
    assert (
        "16/s (duration=auto billed at the longest output), at least 64" in (rows["seedance2_mini"])
    )
    assert (
        "3/s when tier=720p; 2/s (low confidence) when tier=480p" in (rows["grok_imagine_1_5_lite"])
    )
    assert (
        "10/s, +1 each of promptImage for the first-frame image; on video_to_video: 11/s of "
        "input (length of videoUri), +1 each of references for each reference image"
    ) in rows["gemini_omni_flash"]
    assert (
        "2/generation when timed=no; 0/generation (timed from duration, no when omitted)"
        in (rows["eleven_text_to_sound_v2"])
    )
    assert "+125 for an output over 4096 px (possible: " in rows["magnific_precision_upscaler_v2"]
    assert "…" not in rows["aleph2"].split("  ")[-1]  # the rule itself is never cut

    data = json.loads(_invoke(folder, monkeypatch, "prices", "--format", "json").stdout)
    models = {row["model"]: row for row in data["models"]}
    flare = models["gpt_image_2_5_flare"]
    assert flare["rates"] == [{"when": {}, "credits": "1", "up_to": "76"}]
    assert flare["rule"].startswith("1-76/image")
    assert flare["price"]["surcharges"][0]["per_output"] is True
    lite = models["grok_imagine_1_5_lite"]["rates"]
    assert lite[1] == {"when": {"tier": ["480p"]}, "credits": "2", "confidence": "low"}
    assert models["gemini_omni_flash"]["price"]["endpoints"]["video_to_video"]["unit"] == (
        "input_second"
    )
    assert models["magnific_video_upscaler_creative"]["price"]["fps"] == ["24", "60"]


def test_drift_is_a_bill_outside_the_catalogs_price_for_that_request(
    shapes: tuple[Path, Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _emu = shapes
    data = json.loads(_invoke(folder, monkeypatch, "prices", "--format", "json").stdout)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    drift = data["drift"]
    # the tier's own rate: 220 over 5 s is 44/s, the catalog's 1080p rate is 40/s
    assert f"seedance2 (tier=1080p) billed 44/s over 1 task since {day}; catalog 40/s" in drift
    # the surcharge subtracted: (61 - 1) / 5 = 12/s against 10/s
    assert f"gemini_omni_flash billed 12/s over 1 task since {day}; catalog 10/s" in drift
    # the endpoint's own price: per second of input
    assert (
        f"gemini_omni_flash on video_to_video billed 13/s of input over 1 task since {day}; "
        "catalog 11/s of input"
    ) in drift
    # the derived condition: untimed 3 against 2; the timed one (0 + 8 x 1 = 8) agrees
    assert (
        f"eleven_text_to_sound_v2 (timed=no) billed 3/generation over 1 task since {day}; "
        "catalog 2/generation"
    ) in drift
    # no rate can be told, so the bill against the whole rule: 25 to 25 + 125 = 150
    assert (
        f"magnific_precision_upscaler_v2 billed 155 credits over 1 task since {day}; "
        "catalog 25-150 for that request"
    ) in drift
    assert not any(d.startswith("seedance2_mini") for d in drift)  # 64: the catalog's price
    assert len(drift) == 5
    assert not any("catalog 0/" in d for d in drift)


def test_learn_recovers_tiers_and_surcharged_rates_and_refuses_the_rest(
    shapes: tuple[Path, Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    source, _emu = shapes
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    result = _invoke(folder, monkeypatch, "prices", "learn")
    assert result.exit_code == 0, result.output
    written = yaml.safe_load((folder / FILE_NAME).read_text())["models"]
    assert set(written) == {"seedance2", "gemini_omni_flash", "eleven_text_to_sound_v2"}
    assert [r["credits"] for r in written["seedance2"]["rates"]] == ["36", "44", "150"]
    assert written["seedance2"]["derived"]["tier"]["field"] == "ratio"
    omni = written["gemini_omni_flash"]
    assert omni["rates"] == [{"credits": "12"}]
    assert omni["surcharges"][0]["credits"] == "1"  # the catalog's surcharge kept
    assert omni["endpoints"]["video_to_video"]["rates"] == [{"credits": "13"}]
    assert "the catalog's surcharges subtracted" in omni["source"]
    sound = written["eleven_text_to_sound_v2"]
    assert sound["rates"] == [{"when": {"timed": ["no"]}, "credits": "3"}, {"credits": "0"}]
    refused = result.stderr
    assert (
        "not learnable from these tasks: magnific_precision_upscaler_v2 (1 task, e.g. "
    ) in refused
    assert "its surcharges come to 0-125 credits" in refused
    assert "not learnable from these tasks: seedance2_mini (1 task, e.g. " in refused
    assert "(64) is at or below the minimum of 64" in refused
    assert "not learnable from these tasks: gpt_image_2_5_flare (1 task, e.g. " in refused
    assert "only a span of 1-76/image for it" in refused
    # what was learned prices every task it rests on exactly
    code, plan = _plan_json(folder, monkeypatch)
    assert code == 0, plan
    planned = {
        (g["model"], g["endpoint"]): (Decimal(g["credits"]["low"]), Decimal(g["credits"]["high"]))
        for g in plan["generations"]
    }
    assert planned[("seedance2", "text_to_video")] == (220, 220)
    assert planned[("gemini_omni_flash", "image_to_video")] == (61, 61)


def test_the_self_check_refuses_a_price_that_does_not_give_the_bills_back() -> None:
    from runway_plan.execute.learn import Observation, self_check

    def seen(task: str, duration: int, billed: int) -> Observation:
        return Observation(
            model="gen4_turbo",
            endpoint="image_to_video",
            task_id=task,
            finished_at=1_764_633_600.0,
            origin="",
            state="s",
            billed=Decimal(billed),
            estimated=Decimal(billed),
            blocks=Decimal(duration),
            rate=Decimal(billed) / duration,
            condition=0,
            body={
                "model": "gen4_turbo",
                "promptImage": "https://example.com/still.png",
                "promptText": "orbit",
                "ratio": "1280:720",
                "duration": duration,
            },
        )

    price = CATALOG.prices.models["gen4_turbo"].model_copy(
        update={"rates": (PriceRate(credits=Decimal(7)),)}
    )
    assert self_check("gen4_turbo", price, [seen("a", 5, 35), seen("b", 10, 70)], CATALOG) == ""
    # 7/s gives 70 for 10 s, and this task was billed 75: the entry would under-price it
    assert self_check("gen4_turbo", price, [seen("a", 5, 35), seen("b", 10, 75)], CATALOG) == (
        "re-priced with the learned rates, task b comes to 70 credits, not the 75 billed"
    )


def test_the_emulator_bills_from_a_learned_file(
    shapes: tuple[Path, Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from runway_plan.emulator.pricing import PriceSheetError, load_price_sheet, sheet_pricer

    folder = tmp_path / "copy"
    shutil.copytree(shapes[0], folder)
    assert _invoke(folder, monkeypatch, "prices", "learn").exit_code == 0
    path = folder / FILE_NAME
    assert "learned:" in path.read_text() and "version: 1" in path.read_text()
    sheet = load_price_sheet(path, CATALOG)
    assert sheet.origin.startswith(f"{path} (version 1) over ")
    seedance = sheet.price("seedance2")
    assert seedance is not None and [r.credits for r in seedance.rates] == [36, 44, 150]
    price = sheet_pricer(CATALOG, sheet)
    body = {"model": "seedance2", "promptText": "a storm", "ratio": "1920:1080", "duration": 10}
    assert price("text_to_video", body) == 440  # 10 s x 44 at 1080p
    omni = {"model": "gemini_omni_flash", "promptText": "x", "duration": 3}
    assert price("text_to_video", omni) == 36  # 3 s x 12, no first frame
    broken = path.read_text().replace("tasks: 1\n", "tasks: 0\n", 1)
    (tmp_path / "broken.yaml").write_text(broken)
    with pytest.raises(PriceSheetError, match=r"models\.[a-z_0-9.]+\.learned\.tasks"):
        load_price_sheet(tmp_path / "broken.yaml", CATALOG)
    refused = CliRunner().invoke(main, ["emulate", "--prices", str(tmp_path / "broken.yaml")])
    assert refused.exit_code == 2 and "learned.tasks" in refused.output
    assert "Traceback" not in refused.output


def test_emulated_bills_at_the_specs_own_prices_teach_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_spec(tmp_path, PLAIN + "prices:\n  gen4_turbo: 1\n")
    run = _invoke(tmp_path, monkeypatch, "run", "spec.yaml", "--emulate", "--speed", "1000")
    assert run.exit_code == 0, run.output
    listing = _invoke(tmp_path, monkeypatch, "prices", "--emulate", "--format", "json")
    data = json.loads(listing.stdout)
    assert data["tasks"] == 1 and data["drift"] == []  # billed 1, not 5 s x 5 = 25: not drift
    [skipped] = data["skipped"]
    assert skipped["model"] == "gen4_turbo" and "the spec's own prices:" in skipped["reason"]
    learn = _invoke(tmp_path, monkeypatch, "prices", "learn", "--emulate")
    assert "nothing learned" in learn.stdout and not (tmp_path / FILE_NAME).exists()


def test_rates_kept_from_a_low_confidence_price_stay_low() -> None:
    from runway_plan.execute.learn import Observation, Observed, learned_entry, summarize

    def seen(task: str) -> Observation:
        return Observation(
            model="wan3_prime",
            endpoint="text_to_video",
            task_id=task,
            finished_at=1_764_633_600.0,
            origin="",
            state="s",
            billed=Decimal(70),
            estimated=Decimal(70),
            blocks=Decimal(5),
            rate=Decimal(14),
            condition=1,  # 720p, from the ratio
            body={
                "model": "wan3_prime",
                "promptText": "a paper boat",
                "ratio": "1280:720",
                "duration": 5,
            },
        )

    summary = summarize(Observed(observations=[seen("a"), seen("b")]), CATALOG)
    entry, notes = learned_entry("wan3_prime", summary["wan3_prime"], CATALOG, "2026-12-02")
    assert entry is not None and not notes, notes
    assert CATALOG.prices.models["wan3_prime"].confidence == "low"
    # 720p was billed 14/s on two tasks; 480p and 1080p are still only the low catalog figure
    assert entry["confidence"] == "high"
    assert entry["rates"] == [
        {"when": {"tier": ["480p"]}, "credits": "6.8", "confidence": "low"},
        {"when": {"tier": ["720p"]}, "credits": "14"},
        {"when": {"tier": ["1080p"]}, "credits": "28", "confidence": "low"},
    ]
