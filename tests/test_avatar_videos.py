"""Avatar videos (``POST /v1/avatar_videos``, ``gwm1_avatars``): the spec's own avatar as
``avatar: "@name"``, output lengths from the speech, the plan, the emulator through the official
SDK, and ``specs/avatar-video.yaml`` run on the emulator."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import filetype  # type: ignore[import-untyped]
import httpx
import pytest
import runwayml
from runwayml.lib import polling
from support.execute import CATALOG, Harness, copy_specs, emulator, graph_of, write_spec

from runway_plan.catalog.model import Price, PriceRate
from runway_plan.emulator import (
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    Fault,
    FaultPlan,
    FaultRule,
    ManualClock,
    PriceSheet,
    create_app,
)
from runway_plan.emulator.synth import tone_wav
from runway_plan.execute.state import Outcome
from runway_plan.plan import plan
from runway_plan.plan.requests import compiled_requests
from runway_plan.probe import probe
from runway_plan.validate import check_file

NARRATION = (
    "Welcome to Aurora headphones. Hold the left earcup for two seconds to pair, and tap it "
    "twice to switch noise cancelling on or off."
)


def _seconds(path: Path) -> float:
    seconds = probe(path).duration
    assert seconds is not None
    return seconds


# ------------------------------------------------------------------------------ compile


def test_the_example_compiles_avatar_references_to_edges_and_custom_ids() -> None:
    graph = graph_of(Path(__file__).parent.parent / "specs" / "avatar-video.yaml")
    welcome, charging, teaser = (graph.generations[k] for k in ("welcome", "charging", "teaser"))
    assert welcome.request["avatar"] == {"type": "custom", "avatarId": "@guide"}
    assert charging.request["avatar"] == {"type": "custom", "avatarId": "@guide"}
    assert welcome.avatar is not None and welcome.avatar.step == "guide"
    assert teaser.avatar is None and teaser.request["avatar"]["type"] == "runway-preset"
    assert set(graph.avatar_edges) == {("guide", "welcome"), ("guide", "charging")}
    # the avatar's image is made by 'portrait': both videos of the avatar wait for it
    assert {("portrait", "welcome"), ("portrait", "charging"), ("narration", "welcome")} <= set(
        graph.edges
    )
    assert ("portrait", "teaser") not in graph.edges
    document, _ = compiled_requests(graph)
    bodies = {entry["key"]: entry["body"] for entry in document["generations"]}
    assert bodies["welcome"]["avatar"] == {"type": "custom", "avatarId": {"$avatar": "guide"}}
    assert bodies["teaser"]["avatar"] == {"type": "runway-preset", "presetId": "influencer"}
    # the audio's length range is the video's; a script's is its text at 4-25 characters a second
    narration = graph.generations["narration"].length
    assert narration is not None and welcome.length is not None
    assert (welcome.length.low, welcome.length.high) == (narration.low, narration.high)
    text = charging.request["speech"]["text"]
    assert charging.length is not None and "Aurora headphones" in text
    assert (charging.length.low, charging.length.high) == (len(text) / 25, len(text) / 4)


def test_a_local_audio_file_gives_the_video_its_exact_length(tmp_path: Path) -> None:
    (tmp_path / "voice.wav").write_bytes(tone_wav(6.5))
    spec = write_spec(
        tmp_path,
        """\
        version: 1
        name: local-audio
        steps:
          talk:
            endpoint: avatar_videos
            model: gwm1_avatars
            avatar: {type: runway-preset, presetId: cooking-teacher}
            speech: {type: audio, audio: voice.wav}
        """,
    )
    graph = graph_of(spec)
    assert graph.generations["talk"].duration == pytest.approx(6.5)


def test_an_avatar_whose_image_waits_for_its_own_video_is_a_cycle(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """\
        version: 1
        name: cycle
        steps:
          face:
            endpoint: text_to_image
            model: gen4_image
            promptText: a face
            ratio: "1280:720"
            needs: [talk]
          talk:
            endpoint: avatar_videos
            model: gwm1_avatars
            avatar: "@host"
            speech: {type: text, text: Hi}
        avatars:
          host:
            name: Host
            personality: Kind
            referenceImage: "@face"
            voice: {type: runway-live-preset, presetId: clara}
        """,
    )
    graph, diagnostics = check_file(spec, CATALOG)
    assert [(d.code, d.span.line if d.span else 0) for d in diagnostics] == [("RP301", 13)]
    assert graph.avatar_edges == {} and ("face", "talk") not in graph.edges
    assert graph.order()  # no cycle left in the graph the planner and runner read


# ------------------------------------------------------------------------------ plan


def test_the_plan_calls_an_avatar_video_unknown_and_says_why_unless_the_spec_prices_it(
    tmp_path: Path,
) -> None:
    spec = copy_specs(tmp_path) / "avatar-video.yaml"
    priced = plan(graph_of(spec), CATALOG)
    videos = [priced.generations[k].cost for k in ("welcome", "charging", "teaser")]
    assert [(c.low, c.high, c.unknown) for c in videos] == [(Decimal(40), Decimal(40), False)] * 3

    text = spec.read_text(encoding="utf-8")
    assert "  gwm1_avatars: 40\n" in text
    spec.write_text(text.replace("  gwm1_avatars: 40\n", "  {}\n"), encoding="utf-8")
    unpriced = plan(graph_of(spec), CATALOG)
    cost = unpriced.generations["welcome"].cost
    assert cost.unknown
    why = " ".join(cost.reasons)
    assert "realtime conversation" in why and "gwm1_avatar_async_audio_to_video" in why


# ------------------------------------------------------------------------------ emulator, SDK

VIDEO_PRICE = Price(
    unit="output_second", rates=(PriceRate(credits=Decimal(3)),), source="tests", checked=""
)
"""No public avatar-video price exists: the tests bill 3 credits a second of video."""


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "POLL_TIME", 0.02)
    monkeypatch.setattr(polling, "POLL_JITTER", 0.0)


@pytest.fixture
def manual() -> Iterator[tuple[Emulator, ManualClock, runwayml.RunwayML]]:
    """An emulator on a manual clock behind a real loopback server, and the SDK for it."""
    clock = ManualClock()
    prices = PriceSheet.from_catalog(CATALOG).merged({"gwm1_avatars": VIDEO_PRICE}, "tests")
    with (
        Emulator(EmulatorConfig(tier=1), clock=clock, prices=prices) as emu,
        EmulatorServer(create_app(emu)) as server,
        runwayml.RunwayML(api_key=emu.api_key, base_url=server.base_url) as sdk,
    ):
        yield emu, clock, sdk


def _until_done(
    sdk: runwayml.RunwayML, clock: ManualClock, task_id: str
) -> runwayml.types.TaskRetrieveResponse:
    for _ in range(200):
        task = sdk.tasks.retrieve(task_id)
        if task.status in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return task
        clock.advance(5)
    raise AssertionError(f"task {task_id} never ended")


def test_sdk_avatar_video_of_a_preset_avatar_reading_a_script(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML], tmp_path: Path
) -> None:
    emu, clock, sdk = manual
    created = sdk.avatar_videos.create(
        model="gwm1_avatars",
        avatar={"type": "runway-preset", "preset_id": "influencer"},
        speech={
            "type": "text",
            "text": NARRATION,
            "voice": {"type": "preset", "preset_id": "clara"},
        },
    )
    done = _until_done(sdk, clock, created.id)
    assert done.status == "SUCCEEDED"
    video = httpx.get(done.output[0], timeout=60)  # type: ignore[union-attr]
    assert filetype.guess(video.content).mime == "video/mp4"
    path = tmp_path / "video.mp4"
    path.write_bytes(video.content)
    seconds = _seconds(path)
    assert seconds == math.ceil(len(NARRATION) / 15)  # the emulator speaks 15 characters a second
    # within the plan's bounds for the script (4-25 characters a second); billed when it is
    # created, before its length is known, at the high end of those bounds
    assert len(NARRATION) / 25 <= seconds <= len(NARRATION) / 4
    assert done.cost.credits == math.ceil(3 * len(NARRATION) / 4)  # type: ignore[union-attr]
    assert emu.balance == 10_000 - done.cost.credits  # type: ignore[union-attr]


def test_sdk_avatar_video_of_a_custom_avatar_speaking_an_uploaded_audio(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML], tmp_path: Path
) -> None:
    emu, clock, sdk = manual
    avatar = sdk.avatars.create(
        name="Guide",
        personality="Friendly.",
        reference_image="https://example.com/face.png",
        voice={"type": "runway-live-preset", "preset_id": "clara"},
    )
    custom = {"type": "custom", "avatar_id": avatar.id}
    audio = sdk.uploads.create_ephemeral(file=("voice.wav", tone_wav(7.0)))
    speech = {"type": "audio", "audio": audio.uri}
    with pytest.raises(runwayml.BadRequestError) as processing:
        sdk.avatar_videos.create(model="gwm1_avatars", avatar=custom, speech=speech)  # type: ignore[arg-type]
    assert processing.value.body["issues"][0]["path"] == ["avatar", "avatarId"]  # type: ignore[index]
    assert "PROCESSING" in processing.value.body["error"]  # type: ignore[index]
    clock.advance(emu.config.avatar_seconds)

    created = sdk.avatar_videos.create(model="gwm1_avatars", avatar=custom, speech=speech)  # type: ignore[arg-type]
    done = _until_done(sdk, clock, created.id)
    assert done.status == "SUCCEEDED"
    path = tmp_path / "video.mp4"
    path.write_bytes(httpx.get(done.output[0], timeout=60).content)  # type: ignore[union-attr]
    assert _seconds(path) == pytest.approx(7.0, abs=0.05)
    assert done.cost.credits == 21  # type: ignore[union-attr]
    [entry] = emu.ledger().entries
    assert (entry.endpoint, entry.model, entry.billed_credits) == (
        "avatar_videos",
        "gwm1_avatars",
        21,
    )


@pytest.mark.parametrize(
    ("avatar", "speech", "path"),
    [
        ({"type": "custom", "avatar_id": "no-such-avatar"}, None, ["avatar", "avatarId"]),
        ({"type": "runway-preset", "preset_id": "astronaut"}, None, ["avatar", "presetId"]),
        (
            None,
            {"type": "text", "text": "Hi", "voice": {"type": "preset", "preset_id": "bob"}},
            [
                "speech",
                "voice",
                "presetId",
            ],
        ),
        (None, {"type": "audio"}, ["speech", "audio"]),
    ],
)
def test_sdk_avatar_video_errors_name_the_field(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML],
    avatar: dict[str, str] | None,
    speech: dict[str, object] | None,
    path: list[str],
) -> None:
    emu, _clock, sdk = manual
    with pytest.raises(runwayml.BadRequestError) as refused:
        sdk.avatar_videos.create(
            model="gwm1_avatars",
            avatar=avatar or {"type": "runway-preset", "preset_id": "influencer"},  # type: ignore[arg-type]
            speech=speech or {"type": "text", "text": "Hello"},  # type: ignore[arg-type]
        )
    assert refused.value.body["issues"][0]["path"] == path  # type: ignore[index]
    assert len(emu.ledger()) == 0 and emu.balance == 10_000


def test_sdk_custom_voice_shape_is_taken_as_given(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML],
) -> None:
    _emu, clock, sdk = manual
    voice = sdk.voices.create(
        name="Coach",
        from_={"type": "text", "model": "eleven_ttv_v3", "prompt": "A calm, encouraging coach"},
    )
    created = sdk.avatar_videos.create(
        model="gwm1_avatars",
        avatar={"type": "runway-preset", "preset_id": "tennis-coach"},
        speech={
            "type": "text",
            "text": "Bend your knees.",
            "voice": {"type": "custom", "id": voice.id},
        },
    )
    assert _until_done(sdk, clock, created.id).status == "SUCCEEDED"
    with pytest.raises(runwayml.BadRequestError) as unknown:  # a voice the account lacks
        sdk.avatar_videos.create(
            model="gwm1_avatars",
            avatar={"type": "runway-preset", "preset_id": "tennis-coach"},
            speech={"type": "text", "text": "Hi.", "voice": {"type": "custom", "id": "v1"}},
        )
    assert unknown.value.body["issues"][0]["path"] == ["speech", "voice", "id"]  # type: ignore[index]


# ------------------------------------------------------------------------------ run


def test_the_example_runs_on_the_emulator_with_its_avatar_id(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    graph = graph_of(specs / "avatar-video.yaml")
    emu = emulator(tier=2)
    harness = Harness(emu, tmp_path / "state", tmp_path / "out")
    result = harness.run(graph)
    assert result.status == "finished", result.diagnostics
    assert {r.key: r.outcome for r in result.generations.values()} == dict.fromkeys(
        ("portrait", "narration", "welcome", "charging", "teaser"), Outcome.GENERATED
    )
    [avatar_id] = emu.avatars()
    sent = [
        json.loads(r.content)
        for r in harness.requests
        if r.method == "POST" and r.url.path == "/v1/avatar_videos"
    ]
    assert sorted(b["avatar"].get("avatarId", "preset") for b in sent) == sorted(
        [avatar_id, avatar_id, "preset"]
    )
    out = tmp_path / "out"
    narration, welcome = _seconds(out / "narration" / "0.mp3"), _seconds(out / "welcome" / "0.mp4")
    assert welcome == pytest.approx(narration, abs=0.1)
    charging = graph.generations["charging"].length
    assert charging is not None
    assert charging.low <= _seconds(out / "charging" / "0.mp4") <= charging.high
    videos = [e for e in emu.ledger().entries if e.endpoint == "avatar_videos"]
    assert [e.billed_credits for e in videos] == [1, 1, 1]  # the tests' sheet: 1 a generation

    again = harness.run(graph_of(specs / "avatar-video.yaml"))
    assert {r.outcome for r in again.generations.values()} == {Outcome.REUSED}


def test_an_avatar_that_fails_skips_its_videos_only(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    reason = "No face found in the reference image."
    faults = FaultPlan(
        rules=[FaultRule(Fault.AVATAR_FAILED, on="avatar", nth=(1,), failure_reason=reason)]
    )
    emu = emulator(tier=2, faults=faults)
    harness = Harness(emu, tmp_path / "state", tmp_path / "out")
    result = harness.run(graph_of(specs / "avatar-video.yaml"))
    outcomes = {r.key: r.outcome for r in result.generations.values()}
    assert outcomes == {
        "portrait": Outcome.GENERATED,
        "narration": Outcome.GENERATED,
        "welcome": Outcome.SKIPPED,
        "charging": Outcome.SKIPPED,
        "teaser": Outcome.GENERATED,
    }
    skipped = [d for d in result.diagnostics if d.code == "RP503"]
    assert [d.span.line if d.span else 0 for d in skipped] == [31, 37]
    assert all(
        "uses avatar 'guide', which was" in d.message and "FAILED" in d.message for d in skipped
    )
    sent = [r for r in harness.requests if r.url.path == "/v1/avatar_videos"]
    assert len(sent) == 1  # the preset avatar's video only


def test_a_video_is_made_again_when_its_avatars_look_changes_not_its_personality(
    tmp_path: Path,
) -> None:
    spec = copy_specs(tmp_path) / "avatar-video.yaml"
    harness = Harness(emulator(tier=2), tmp_path / "state", tmp_path / "out")
    assert harness.run(graph_of(spec)).status == "finished"

    text = spec.read_text(encoding="utf-8")
    assert "Be brief and concrete." in text
    spec.write_text(text.replace("Be brief and concrete.", "Be brief."), encoding="utf-8")
    personality = harness.run(graph_of(spec))
    assert {r.outcome for r in personality.generations.values()} == {Outcome.REUSED}

    voice = "voice: {type: runway-live-preset, presetId: clara}"
    assert voice in text
    spec.write_text(text.replace(voice, voice.replace("clara", "max")), encoding="utf-8")
    revoiced = harness.run(graph_of(spec))
    outcomes = {r.key: r.outcome for r in revoiced.generations.values()}
    assert outcomes == {
        "portrait": Outcome.REUSED,
        "narration": Outcome.REUSED,
        "welcome": Outcome.GENERATED,
        "charging": Outcome.GENERATED,
        "teaser": Outcome.REUSED,
    }
    assert revoiced.generations["welcome"].reason == "its avatar's image or voice changed"
