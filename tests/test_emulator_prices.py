"""The emulator bills from a price sheet and refuses a model it cannot bill.

The sheet is the catalog's prices by default; ``emulate --prices FILE`` merges a file of
``models:`` entries (the schema of the catalog's ``prices.yaml``) over it, and ``run
--emulate`` merges the spec's ``prices:``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from runway_plan.catalog import load_catalog
from runway_plan.cli import main
from runway_plan.emulator import (
    Emulator,
    ManualClock,
    PriceSheet,
    PriceSheetError,
    create_app,
    load_price_sheet,
)

CATALOG = load_catalog()
ROOT = Path(__file__).resolve().parents[1]
SOUND = {"model": "mirelo_sfx_2_0", "promptText": "rain on a tin roof", "duration": 3}
TURBO = {
    "model": "gen4_turbo",
    "promptImage": "https://example.com/still.png",
    "ratio": "1280:720",
    "duration": 5,
}
SHEET = """\
version: my-contract-2026-12
models:
  mirelo_sfx_2_0:
    unit: output_second
    rates: [{credits: "0.5"}]
    source: our contract
    checked: "2026-12-01"
  gen4_turbo:
    unit: output_second
    rates: [{credits: "7"}]
    source: our contract
    checked: "2026-12-01"
  gwm1_avatars:  # realtime avatar sessions, per second of the call
    unit: output_second
    rates: [{credits: "1"}]
    source: our contract
    checked: "2026-12-01"
"""


def _post(emulator: Emulator, endpoint: str, body: dict[str, object]) -> httpx.Response:
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(emulator)),
            base_url="http://emulator.test",
            headers=emulator.headers,
        ) as client:
            return await client.post(f"/v1/{endpoint}", json=body)

    return asyncio.run(send())


def test_a_model_without_a_price_is_refused_not_billed_zero() -> None:
    with Emulator(clock=ManualClock()) as emulator:
        response = _post(emulator, "sound_effect", SOUND)
        assert response.status_code == 400
        body = response.json()
        assert body["issues"][0]["path"] == ["model"]
        assert "cannot bill mirelo_sfx_2_0" in body["error"]
        assert "--prices FILE" in body["error"] and "prices:" in body["error"]
        assert len(emulator.ledger()) == 0 and emulator.balance == 10_000


def test_a_sheet_bills_per_unit_over_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(SHEET)
    sheet = load_price_sheet(path, CATALOG)
    assert "my-contract-2026-12" in sheet.origin
    assert sheet.price("gwm1_avatars") is not None
    with Emulator(clock=ManualClock(), prices=sheet) as emulator:
        # 3 s x 0.5 = 1.5 credits quoted; the bill is whole credits (2), which the plan's
        # [1, 2] covers.
        assert _post(emulator, "sound_effect", SOUND).json()["estimatedCost"] == {"credits": 1.5}
        assert _post(emulator, "image_to_video", TURBO).json()["estimatedCost"] == {"credits": 35}
        image = {"model": "gen4_image", "promptText": "x", "ratio": "1920:1080"}
        assert _post(emulator, "text_to_image", image).json()["estimatedCost"] == {"credits": 8}
        assert [entry.charged_credits for entry in emulator.ledger()] == [2, 35, 8]


def test_the_catalogs_new_price_shapes_bill_as_planned() -> None:
    grok = {
        "model": "grok_imagine_image_2",
        "promptText": "x",
        "ratio": "1024:1024",
        "outputCount": 4,
        "referenceImages": [
            {"uri": "https://example.com/a.png"},
            {"uri": "https://example.com/b.png"},
        ],
    }
    auto = {"model": "seedance2", "promptText": "x", "ratio": "1920:1080", "duration": "auto"}
    low = {"model": "wan3_prime", "promptText": "x", "ratio": "1280:720", "duration": 5}
    with Emulator(clock=ManualClock()) as emulator:
        # 4 images x 6 (1K, medium) + 2 references once per request = 26
        assert _post(emulator, "text_to_image", grok).json()["estimatedCost"] == {"credits": 26}
        # duration auto is held at the 15 s maximum: 15 x 40 (1080p) = 600
        assert _post(emulator, "text_to_video", auto).json()["estimatedCost"] == {"credits": 600}
        # a low-confidence price is no price: refused, not guessed
        refused = _post(emulator, "text_to_video", low)
        assert refused.status_code == 400 and "cannot bill wan3_prime" in refused.json()["error"]


def test_a_frame_price_needs_its_frame_rate(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  magnific_video_upscaler_creative:\n    unit: frame\n"
        "    input_field: videoUri\n    rates: [{credits: '1'}]\n    source: ours\n"
        "    checked: '2026-12-01'\n"
    )
    with pytest.raises(PriceSheetError, match="a frame price needs fps"):
        load_price_sheet(path, CATALOG)


def test_flat_prices_as_a_spec_gives_them() -> None:
    sheet = PriceSheet.from_catalog(CATALOG).with_flat_prices(
        {"mirelo_sfx_2_0": Decimal(2)}, "the spec's prices:"
    )
    with Emulator(clock=ManualClock(), prices=sheet) as emulator:
        assert _post(emulator, "sound_effect", SOUND).json()["estimatedCost"] == {"credits": 2}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("models: [", ["not valid YAML"]),
        ("- gen4_turbo\n", ["a mapping with 'models:'"]),
        ("models: {}\nextra: 1\n", ["extra: Extra inputs are not permitted"]),
        (
            "models:\n  gen4_turbp:\n    unit: generation\n    rates: [{credits: 1}]\n"
            "    source: s\n    checked: c\n",
            ["models.gen4_turbp: no such model", "did you mean gen4_turbo?"],
        ),
        (
            "models:\n  gen4_turbo:\n    unit: per_frame\n    rates: [{credits: 1}]\n"
            "    source: s\n    checked: c\n",
            ["models.gen4_turbo.unit:"],
        ),
        (
            "models:\n  seed_audio:\n    unit: characters\n    rates: [{credits: 1}]\n"
            "    source: s\n    checked: c\n",
            ["models.seed_audio: unit characters needs text_field"],
        ),
        (
            "models:\n  seed_audio:\n    unit: generation\n    rates: []\n"
            "    source: s\n    checked: c\n",
            ["models.seed_audio.rates: give at least one rate"],
        ),
        (
            "models:\n  seed_audio:\n    unit: generation\n    rates: [{credits: lots}]\n",
            ["models.seed_audio.rates.0.credits", "models.seed_audio.source: Field required"],
        ),
    ],
)
def test_a_bad_sheet_is_refused_with_its_place(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(PriceSheetError) as refused:
        load_price_sheet(path, CATALOG)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message


def test_a_missing_sheet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PriceSheetError, match="cannot read it"):
        load_price_sheet(tmp_path / "nowhere.yaml", CATALOG)


def test_emulate_refuses_a_bad_sheet(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  gen4_turbp: {}\n")
    result = CliRunner().invoke(main, ["emulate", "--prices", str(path)])
    assert result.exit_code == 2
    assert "--prices" in result.output and "models.gen4_turbp" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def served() -> Iterator[list[subprocess.Popen[str]]]:
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.communicate(timeout=10)


def _serve(children: list[subprocess.Popen[str]], *args: str) -> str:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runway_plan",
            "emulate",
            "--speed",
            "1000",
            "--api-key",
            "k",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    children.append(child)
    assert child.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if line.startswith("export RUNWAYML_BASE_URL="):
            return line.strip().partition("=")[2]
        if not line:
            break
    raise AssertionError("the emulator did not start")


def test_emulate_bills_from_its_sheet(tmp_path: Path, served: list[subprocess.Popen[str]]) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(SHEET)
    headers = {"Authorization": "Bearer k", "X-Runway-Version": "2024-11-06"}
    default = _serve(served)
    refused = httpx.post(f"{default}/v1/sound_effect", json=SOUND, headers=headers)
    assert refused.status_code == 400
    assert "cannot bill mirelo_sfx_2_0" in refused.json()["error"]
    priced = _serve(served, "--prices", str(path))
    created = httpx.post(f"{priced}/v1/sound_effect", json=SOUND, headers=headers)
    assert created.status_code == 200, created.text
    assert created.json()["estimatedCost"] == {"credits": 1.5}
    state = httpx.get(f"{priced}/_emulator/state").json()
    assert str(path) in state["prices"]
    sheet = httpx.get(f"{priced}/_emulator/prices").json()
    assert sheet["models"]["gen4_turbo"]["rates"] == [{"credits": "7"}]  # the file's, not 5
    assert (
        sheet["models"]["gen4_image"]
        == httpx.get(f"{default}/_emulator/prices").json()["models"]["gen4_image"]
    )
    written = tmp_path / "round-trip.yaml"
    written.write_text(yaml.safe_dump({"models": sheet["models"]}))
    again = load_price_sheet(written, CATALOG)
    assert again.to_dict()["models"] == sheet["models"]


def test_run_emulate_bills_the_specs_prices(tmp_path: Path) -> None:
    """social-cutdowns gives aleph2 and eleven_text_to_sound_v2 prices of its own, which win
    over the catalog's: run --emulate bills them."""
    spec = tmp_path / "social-cutdowns.yaml"
    spec.write_text((ROOT / "specs" / "social-cutdowns.yaml").read_text())
    for asset in (ROOT / "specs" / "assets").iterdir():
        (tmp_path / "assets").mkdir(exist_ok=True)
        (tmp_path / "assets" / asset.name).write_bytes(asset.read_bytes())
    result = CliRunner().invoke(
        main, ["run", str(spec), "--emulate", "--speed", "2000", "-y", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert "cannot bill" not in result.output
