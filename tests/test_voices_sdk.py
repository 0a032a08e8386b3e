"""Custom voices through the official ``runwayml`` SDK, unchanged but for its base URL, against
the emulator: create (cloned and designed), retrieve, list, update, delete, preview, and a
custom voice used by an avatar."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import filetype  # type: ignore[import-untyped]
import httpx
import pytest
import runwayml

from runway_plan.emulator import Emulator, EmulatorConfig, EmulatorServer, ManualClock, create_app

ASSETS = Path(__file__).parent.parent / "specs" / "assets"
SAMPLE = ASSETS / "interview.wav"  # 12 s: a sample is 10 s to 5 min long
DESIGN = "A warm, low documentary narrator with a slight rasp"


@pytest.fixture
def manual() -> Iterator[tuple[Emulator, ManualClock, runwayml.RunwayML]]:
    clock = ManualClock()
    with (
        Emulator(EmulatorConfig(tier=1), clock=clock) as emulator,
        EmulatorServer(create_app(emulator)) as server,
        runwayml.RunwayML(api_key=emulator.api_key, base_url=server.base_url) as sdk,
    ):
        yield emulator, clock, sdk


def test_sdk_voices_lifecycle(manual: tuple[Emulator, ManualClock, runwayml.RunwayML]) -> None:
    emulator, clock, sdk = manual
    upload = sdk.uploads.create_ephemeral(file=("narration.wav", SAMPLE.read_bytes()))
    cloned = sdk.voices.create(
        name="Narrator", description="Cloned", from_={"type": "audio", "audio": upload.uri}
    )
    clock.advance(1)
    designed = sdk.voices.create(
        name="Designed", from_={"type": "text", "model": "eleven_ttv_v3", "prompt": DESIGN}
    )
    processing = sdk.voices.retrieve(cloned.id)
    assert (processing.status, processing.name, processing.description) == (
        "PROCESSING",
        "Narrator",
        "Cloned",
    )
    clock.advance(emulator.config.voice_seconds)
    ready = sdk.voices.retrieve(cloned.id)
    assert ready.status == "READY"
    assert ready.preview_url is not None  # type: ignore[union-attr]
    sample = httpx.get(ready.preview_url)  # type: ignore[union-attr]
    assert sample.status_code == 200
    assert filetype.guess(sample.content).mime == "audio/mpeg"

    listed = sdk.voices.list(limit=1)
    assert [v.id for v in listed.data] == [designed.id]  # newest first, one a page
    assert [v.id for v in sdk.voices.list(limit=10)] == [designed.id, cloned.id]

    renamed = sdk.voices.update(designed.id, name="Deep narrator", description=None)
    assert (renamed.name, renamed.description, renamed.status) == ("Deep narrator", None, "READY")

    avatar = sdk.avatars.create(
        name="Host",
        personality="Friendly.",
        reference_image="https://example.com/face.jpg",
        voice={"type": "custom", "id": cloned.id},
    )
    assert avatar.voice.type == "custom"
    assert (avatar.voice.id, avatar.voice.name, avatar.voice.deleted) == (  # type: ignore[union-attr]
        cloned.id,
        "Narrator",
        False,
    )

    sdk.voices.delete(cloned.id)
    with pytest.raises(runwayml.NotFoundError):
        sdk.voices.retrieve(cloned.id)
    with pytest.raises(runwayml.NotFoundError):
        sdk.voices.delete(cloned.id)
    shown = sdk.avatars.retrieve(avatar.id).voice
    assert (shown.type, shown.deleted) == ("custom", True)  # type: ignore[union-attr]
    assert [v.id for v in sdk.voices.list(limit=10)] == [designed.id]


def test_sdk_voice_preview(manual: tuple[Emulator, ManualClock, runwayml.RunwayML]) -> None:
    _emulator, _clock, sdk = manual
    preview = sdk.voices.preview(model="eleven_multilingual_ttv_v2", prompt=DESIGN)
    assert preview.duration_secs > 0
    clip = httpx.get(preview.url)
    assert clip.status_code == 200
    assert filetype.guess(clip.content).mime == "audio/mpeg"
    assert sdk.voices.list(limit=10).data == []  # a preview keeps no voice


def test_sdk_voice_requests_the_api_refuses(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML],
) -> None:
    _emulator, _clock, sdk = manual
    with pytest.raises(runwayml.BadRequestError) as short:
        sdk.voices.create(
            name="Short", from_={"type": "text", "model": "eleven_ttv_v3", "prompt": "too short"}
        )
    assert [i["path"] for i in short.value.body["issues"]] == [["from", "prompt"]]  # type: ignore[index]
    with pytest.raises(runwayml.BadRequestError) as model:
        sdk.voices.preview(model="eleven_ttv_v9", prompt=DESIGN)  # type: ignore[arg-type]
    assert [i["path"] for i in model.value.body["issues"]] == [["model"]]  # type: ignore[index]
    with pytest.raises(runwayml.BadRequestError) as upload:
        sdk.voices.create(name="Lost", from_={"type": "audio", "audio": "runway://nothing"})
    assert [i["path"] for i in upload.value.body["issues"]] == [["from", "audio"]]  # type: ignore[index]
    brief = sdk.uploads.create_ephemeral(file=("n.wav", (ASSETS / "narration.wav").read_bytes()))
    with pytest.raises(runwayml.BadRequestError) as short_sample:
        sdk.voices.create(name="Brief", from_={"type": "audio", "audio": brief.uri})
    issue = short_sample.value.body["issues"][0]  # type: ignore[index]
    assert issue["path"] == ["from", "audio"]
    assert "6 s long" in issue["message"]
    with pytest.raises(runwayml.BadRequestError) as unknown:
        sdk.avatars.create(
            name="Host",
            personality="Friendly.",
            reference_image="https://example.com/face.jpg",
            voice={"type": "custom", "id": "00000000-0000-4000-8000-000000000000"},
        )
    refused = unknown.value.body["issues"][0]  # type: ignore[index]
    assert refused["path"] == ["voice", "id"]
    assert "does not exist" in refused["message"]
    with pytest.raises(runwayml.NotFoundError):
        sdk.voices.update("00000000-0000-4000-8000-000000000000", name="x")
    with pytest.raises(runwayml.BadRequestError) as limit:
        sdk.voices.list(limit=0)
    assert [i["path"] for i in limit.value.body["issues"]] == [["limit"]]  # type: ignore[index]
