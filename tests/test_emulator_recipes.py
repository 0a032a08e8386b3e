"""The seven ``recipes/*`` endpoints through the official ``runwayml`` SDK, against the emulator.

Each recipe is called as ``client.recipes.<name>(...)`` (no ``model``: these requests have
none), then polled with ``client.tasks.retrieve`` until it succeeds; its outputs are
downloaded and sniffed (media, count, length) and its cost compared with the catalog's
published recipe prices.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml
from support.execute import Harness, copy_specs, emulator, graph_of
from support.sdk import sdk_client, succeeded

from runway_plan.emulator import Emulator, EmulatorConfig
from runway_plan.emulator.synth import image_size, striped_png
from runway_plan.emulator.video import mp4
from runway_plan.probe import probe

PNG = "data:image/png;base64," + base64.b64encode(striped_png(640, 640, 7, "product")).decode()
MP4 = "data:video/mp4;base64," + base64.b64encode(mp4(3.0, 320, 240, "reference")).decode()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(speed=5_000, tier=2)) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[runwayml.RunwayML]:
    with sdk_client(emu) as served:
        yield served


def _outputs(task: Any, tmp_path: Path) -> list[tuple[str | None, float | None, bytes]]:
    found = []
    for index, url in enumerate(task.output):
        data = httpx.get(url).content
        path = tmp_path / f"{task.id}-{index}"
        path.write_bytes(data)
        info = probe(path)
        found.append((info.media, info.duration, data))
    return found


CALLS: list[tuple[str, dict[str, Any], str, int, float | None, int]] = [
    # name, arguments, media, outputs, seconds, credits
    (
        "product_ad",
        {
            "version": "2026-07",
            "product_images": [{"uri": PNG}],
            "duration": 6,
            "ratio": "1280:720",
        },
        "video",
        1,
        6.0,
        272,  # 200 for 4 s + 2 x 36
    ),
    (
        "product_ugc",
        {
            "version": "2026-06",
            "character_image": {"uri": PNG},
            "product_image": {"uri": PNG},
            "duration": 5,
            "ratio": "1080:1920",
        },
        "video",
        1,
        5.0,
        248,  # 208 for 4 s + 40
    ),
    (
        "product_swap",
        {
            "version": "2026-06",
            "new_product_images": [{"uri": PNG, "view": "front"}],
            "original_product_image": {"uri": PNG},
            "reference_video": {"uri": MP4},
            "duration": 4,
        },
        "video",
        1,
        4.0,
        212,  # 720p by default
    ),
    (
        "multi_shot_video",
        {"version": "2026-06", "mode": "auto", "prompt": "a fox's day", "duration": 5},
        "video",
        1,
        5.0,
        65,  # 13 per second at the default 1280:720
    ),
    (
        "ad_localization",
        {"version": "2026-06", "reference_image": {"uri": PNG}, "target_language": "ja"},
        "image",
        1,
        None,
        21,
    ),
    (
        "marketing_stock_image",
        {"version": "2026-06", "prompt": "a sunlit kitchen", "quality": "high"},
        "image",
        4,  # outputCount defaults to 4
        None,
        88,
    ),
    (
        "product_campaign_image",
        {"version": "2026-06", "image": {"uri": PNG}, "prompt": "high-key editorial"},
        "image",
        4,
        None,
        144,
    ),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c[0])
def test_sdk_runs_each_recipe(
    call: tuple[str, dict[str, Any], str, int, float | None, int],
    client: runwayml.RunwayML,
    emu: Emulator,
    tmp_path: Path,
) -> None:
    name, arguments, media, count, seconds, credits = call
    created = getattr(client.recipes, name)(**arguments)
    assert created.estimated_cost.credits == credits
    task = succeeded(client, created.id)
    assert task.cost.credits == credits
    outputs = _outputs(task, tmp_path)
    assert [m for m, _d, _b in outputs] == [media] * count
    if seconds is not None:
        assert outputs[0][1] == pytest.approx(seconds, abs=0.1)
    else:
        assert all(image_size(data) is not None for _m, _d, data in outputs)
    [entry] = emu.ledger().entries
    assert (entry.endpoint, entry.model) == (f"recipes/{name}", f"recipes/{name}")


def test_recipe_validation_names_the_field(client: runwayml.RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as raised:
        client.recipes.product_ad(
            version="2026-07", product_images=[{"uri": PNG}] * 11, duration=20
        )
    issues = raised.value.body["issues"]  # type: ignore[index]
    assert sorted(issue["path"] for issue in issues) == [["duration"], ["productImages"]]
    with pytest.raises(runwayml.BadRequestError) as raised:
        client.recipes.ad_localization(
            version="2026-06",
            reference_image={"uri": PNG},
            target_language="xx",  # type: ignore[arg-type]
        )
    assert [i["path"] for i in raised.value.body["issues"]] == [["targetLanguage"]]  # type: ignore[index]


def test_a_model_field_is_refused_on_a_recipe(emu: Emulator, client: runwayml.RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as raised:
        client.post(
            "/v1/recipes/ad_localization",
            cast_to=httpx.Response,
            body={
                "model": "gen4_image",
                "version": "2026-06",
                "referenceImage": {"uri": PNG},
                "targetLanguage": "fr",
            },
        )
    [issue] = raised.value.body["issues"]  # type: ignore[index]
    assert issue == {
        "path": ["model"],
        "message": "unknown field 'model' for recipes/ad_localization",
    }
    assert emu.ledger().entries == ()


def test_the_product_ad_example_validates_plans_and_runs(tmp_path: Path) -> None:
    graph = graph_of(copy_specs(tmp_path) / "product-ad.yaml")
    ad = graph.generations["ad"]
    assert (ad.endpoint, ad.model, "model" in ad.request) == (
        "recipes/product_ad",
        "recipes/product_ad",
        False,
    )
    emu = emulator(credits=10_000)
    h = Harness(emu, tmp_path / "state", tmp_path / "outputs")
    result = h.run(graph)
    assert result.exit_code == 0, [f"{d.code} {d.message}" for d in result.diagnostics]
    assert result.plan is not None
    assert result.plan.run_low == result.plan.run_high == 551  # 4 images, 456, 3 x 21
    sent = {
        r.url.path: json.loads(r.content) for r in h.requests if r.url.path.startswith("/v1/rec")
    }
    assert "model" not in sent["/v1/recipes/product_ad"]
    assert "/_files/" in sent["/v1/recipes/product_ad"]["productImages"][0]["uri"]  # @shots[0]
    assert h.creates() == 8
    media = {
        key: [probe(Path(o.path)).media for o in item.outputs if o.path]
        for key, item in result.generations.items()
    }
    assert media["ad"] == ["video"]
    assert media["localized[0]"] == media["localized[2]"] == ["image"]
    [video] = result.generations["ad"].outputs
    assert video.path is not None
    assert probe(Path(video.path)).duration == pytest.approx(10.0, abs=0.1)
    billed = {e.model: 0 for e in emu.ledger()}
    for entry in emu.ledger():
        billed[entry.model] += entry.billed_credits or 0
    assert billed == {"gen4_image": 32, "recipes/product_ad": 456, "recipes/ad_localization": 63}
