"""Model routers and the generate endpoints through the official ``runwayml`` SDK, against the
emulator: routers created, read, listed, updated (settings merged, version bumped) and deleted;
``client.generate.video/image/audio`` routed to a candidate model of the router (the cheapest
under ``optimizeFor: cost``), billed that model's price, polled with ``client.tasks.retrieve``
until it succeeds, its outputs real media of the modality."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml
from support.sdk import sdk_client, succeeded

from runway_plan.emulator import Emulator, EmulatorConfig
from runway_plan.probe import probe


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(speed=5_000, tier=2)) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[runwayml.RunwayML]:
    with sdk_client(emu, max_retries=0) as served:
        yield served


def _media(task: Any, tmp_path: Path) -> list[tuple[str | None, float | None]]:
    found = []
    for index, url in enumerate(task.output):
        path = tmp_path / f"{task.id}-{index}"
        path.write_bytes(httpx.get(url).content)
        info = probe(path)
        found.append((info.media, info.duration))
    return found


def test_router_crud_through_the_sdk(client: runwayml.RunwayML) -> None:
    created = client.routers.create(
        slug="production-video",
        description="cheap video",
        settings={
            "models": {"ids": ["gen4.5", "seedance2"], "mode": "allowlist_only"},
            "max_credits_per_generation": {"video": 200},
        },
    )
    assert created.slug == "production-video"
    assert created.name == "production-video"  # the slug when omitted
    assert created.version == 1
    assert created.settings.schema_version == 1
    assert created.settings.optimize_for == "cost"
    assert created.settings.models is not None
    assert created.settings.models.ids == ["gen4.5", "seedance2"]

    again = client.routers.retrieve(created.id)
    assert again.id == created.id and again.description == "cheap video"

    renamed = client.routers.update(created.id, name="Production video")
    assert renamed.name == "Production video" and renamed.version == 1
    changed = client.routers.update(
        created.id,
        settings={"optimize_for": "quality", "max_credits_per_generation": {"video": None}},
    )
    assert changed.version == 2
    assert changed.settings.optimize_for == "quality"
    assert changed.settings.models is not None  # kept: a nested merge
    assert changed.settings.max_credits_per_generation in (None,) or (
        changed.settings.max_credits_per_generation.video is None
    )

    client.routers.create(slug="stills")
    listed = client.routers.list(limit=10)
    assert [r.slug for r in listed.data] == ["stills", "production-video"]

    client.routers.delete(created.id)
    with pytest.raises(runwayml.NotFoundError):
        client.routers.retrieve(created.id)


def test_router_refusals_name_the_field(client: runwayml.RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.routers.create(
            slug="x", settings={"models": {"ids": ["gen45"], "mode": "allowlist_only"}}
        )
    assert "gen45" in str(bad.value)
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.routers.create(slug="x", settings={"optimize_for": "speed"})  # type: ignore[typeddict-item]
    assert "optimizeFor" in str(bad.value)
    client.routers.create(slug="taken")
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.routers.create(slug="taken")
    assert "slug" in str(bad.value)


def test_generate_video_routes_to_the_cheapest_and_bills_it(
    client: runwayml.RunwayML, emu: Emulator, tmp_path: Path
) -> None:
    client.routers.create(
        slug="clips",
        settings={"models": {"ids": ["gen4.5", "seedance2"], "mode": "allowlist_only"}},
    )
    created = client.generate.video.create(
        config_id="clips",
        input={"prompt_text": "a harbour at dawn", "duration": 5, "aspect_ratio": "16:9"},
    )
    routing = created.routing
    assert routing.config_id == "clips"
    assert routing.model == "gen4.5"  # 60 credits against seedance2's 180
    assert routing.estimated_cost.credits == 60
    assert routing.resolved_input.duration == 5
    assert routing.resolved_input.ratio == "1280:720"
    assert routing.resolved_settings.optimize_for == "cost"
    task = succeeded(client, created.id)
    [(media, seconds)] = _media(task, tmp_path)
    assert media == "video" and seconds == pytest.approx(5, abs=0.1)
    [entry] = emu.ledger().entries
    assert (entry.endpoint, entry.model) == ("generate/video", "gen4.5")
    assert entry.billed_credits == 60


def test_generate_video_under_a_cap_and_for_quality(client: runwayml.RunwayML) -> None:
    client.routers.create(
        slug="best",
        settings={
            "optimize_for": "quality",
            "models": {"ids": ["gen4.5", "seedance2"], "mode": "allowlist_only"},
            "max_credits_per_generation": {"video": 100},
        },
    )
    routing = client.generate.video.create(
        config_id="best", input={"prompt_text": "waves", "duration": 5}
    ).routing
    assert routing.model == "gen4.5"  # seedance2 (180) is above the cap
    assert routing.resolved_settings.price_ceiling == 100


def test_generate_refusals(client: runwayml.RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.generate.video.create(config_id="nowhere", input={"prompt_text": "x"})
    assert "configId" in str(bad.value) and "nowhere" in str(bad.value)
    client.routers.create(slug="clips")
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.generate.video.create(
            config_id="clips",
            input={"prompt_text": "x", "resolution": "8k"},  # type: ignore[typeddict-item]
        )
    assert "input.resolution" in str(bad.value)
    client.routers.create(
        slug="veo_only", settings={"models": {"ids": ["veo3.1_fast"], "mode": "allowlist_only"}}
    )
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.generate.video.create(
            config_id="veo_only", input={"prompt_text": "x", "duration": 5}
        )
    assert "no model" in str(bad.value)


def test_generate_image_and_audio(client: runwayml.RunwayML, emu: Emulator, tmp_path: Path) -> None:
    client.routers.create(
        slug="stills",
        settings={"models": {"ids": ["gen4_image", "gen4_image_turbo"], "mode": "allowlist_only"}},
    )
    image = client.generate.image.create(
        config_id="stills", input={"prompt_text": "a red kite", "aspect_ratio": "16:9"}
    )
    assert image.routing.model == "gen4_image_turbo"
    [(media, _)] = _media(succeeded(client, image.id), tmp_path)
    assert media == "image"

    client.routers.create(slug="voices")
    speech = client.generate.audio.create(
        config_id="voices", input={"prompt_text": "Hello there.", "type": "speech"}
    )
    assert speech.routing.resolved_input.type == "speech"
    assert speech.routing.resolved_input.voice == "default"
    [(media, seconds)] = _media(succeeded(client, speech.id), tmp_path)
    assert media == "audio" and seconds is not None and seconds > 0

    effect = client.generate.audio.create(
        config_id="voices",
        input={"prompt_text": "rain on a tin roof", "type": "audio", "duration": 4},
    )
    assert effect.routing.resolved_input.voice == "none"
    [(media, seconds)] = _media(succeeded(client, effect.id), tmp_path)
    assert media == "audio" and seconds == pytest.approx(4, abs=0.1)
    charged = {e.model: e.billed_credits for e in emu.ledger().entries}
    assert charged[image.routing.model] == image.routing.estimated_cost.credits
    assert charged[speech.routing.model] == speech.routing.estimated_cost.credits


def test_an_open_duration_and_ratio_are_filled_and_shown(
    client: runwayml.RunwayML, tmp_path: Path
) -> None:
    client.routers.create(
        slug="open", settings={"models": {"ids": ["gen4.5"], "mode": "allowlist_only"}}
    )
    created = client.generate.video.create(config_id="open", input={"prompt_text": "dunes"})
    resolved = created.routing.resolved_input
    assert (resolved.duration, resolved.ratio) == (5, "1280:720")
    assert created.routing.estimated_cost.credits == 60
    [(media, seconds)] = _media(succeeded(client, created.id), tmp_path)
    assert media == "video" and seconds == pytest.approx(5, abs=0.1)
