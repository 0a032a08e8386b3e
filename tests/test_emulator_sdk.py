"""The official ``runwayml`` SDK, unchanged but for its base URL, against the emulator.

The server is uvicorn on 127.0.0.1 with port 0 in a background thread; the SDK's polling
sleep (4.5-7.5 s) is shortened, which is the only concession to test speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import filetype  # type: ignore[import-untyped]
import httpx
import pytest
import runwayml
from runwayml.lib import polling

from runway_plan.catalog import load_catalog
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
from runway_plan.emulator.synth import image_size, striped_png


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "POLL_TIME", 0.02)
    monkeypatch.setattr(polling, "POLL_JITTER", 0.0)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(speed=5_000, tier=2)) as emulator:
        yield emulator


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(create_app(emulator)) as server:
        yield server


@pytest.fixture
def client(emulator: Emulator, server: EmulatorServer) -> Iterator[runwayml.RunwayML]:
    with runwayml.RunwayML(api_key=emulator.api_key, base_url=server.base_url) as client:
        yield client


def test_sdk_acceptance(client: runwayml.RunwayML, emulator: Emulator) -> None:
    image = client.text_to_image.create(
        model="gen4_image", prompt_text="a lighthouse at dusk", ratio="1920:1080"
    ).wait_for_task_output(timeout=30)
    assert image.status == "SUCCEEDED"
    assert image.cost.credits == 8
    picture = httpx.get(image.output[0])
    assert picture.status_code == 200
    assert filetype.guess(picture.content).mime == "image/png"

    upload = client.uploads.create_ephemeral(
        file=("still.png", striped_png(1280, 720, 3, "still " * 100))
    )
    assert upload.uri.startswith("runway://")

    video = client.image_to_video.create(
        model="gen4.5",
        prompt_image=upload.uri,
        prompt_text="the camera pushes in",
        ratio="1280:720",
        duration=5,
    ).wait_for_task_output(timeout=30)
    assert video.status == "SUCCEEDED"
    assert video.cost.credits == 60
    assert filetype.guess(httpx.get(video.output[0], timeout=60).content).mime == "video/mp4"

    created = client.text_to_speech.create(
        model="eleven_multilingual_v2",
        prompt_text="Welcome to the emulator.",
        voice={"type": "runway-preset", "preset_id": "Maya"},
    )
    assert created.estimated_cost.credits == 1  # type: ignore[attr-defined]
    speech = created.wait_for_task_output(timeout=30)
    assert speech.status == "SUCCEEDED"
    assert filetype.guess(httpx.get(speech.output[0]).content).mime == "audio/mpeg"

    org = client.organization.retrieve()
    assert org.credit_balance == 10_000 - 8 - 60 - 1
    assert org.usage.models["gen4.5"].daily_generations == 1
    assert (org.tier.models["gen4.5"].max_concurrent_generations or 0) >= 1
    usage = client.organization.retrieve_usage()
    assert sorted(usage.models) == ["eleven_multilingual_v2", "gen4.5", "gen4_image"]

    retrieved = client.tasks.retrieve(video.id)
    assert retrieved.status == "SUCCEEDED"
    assert len(emulator.ledger()) == 3
    assert emulator.ledger().billed_credits() == 69


def test_sdk_sees_failed_tasks(client: runwayml.RunwayML, emulator: Emulator) -> None:
    emulator.set_faults(
        FaultPlan([FaultRule(Fault.TASK_FAILED, failure_code="SAFETY.INPUT.TEXT", nth=(1,))])
    )
    created = client.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1920:1080")
    with pytest.raises(runwayml.TaskFailedError) as caught:
        created.wait_for_task_output(timeout=30)
    details = caught.value.task_details
    assert details.status == "FAILED"
    assert details.failure_code == "SAFETY.INPUT.TEXT"
    assert details.cost.credits == 8


def test_sdk_cancels(client: runwayml.RunwayML, emulator: Emulator) -> None:
    slow = Emulator(EmulatorConfig(speed=1))
    try:
        with EmulatorServer(create_app(slow)) as server:
            sdk = runwayml.RunwayML(api_key=slow.api_key, base_url=server.base_url)
            task = sdk.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1920:1080")
            sdk.tasks.delete(task.id)
            cancelled = sdk.tasks.retrieve(task.id)
            assert cancelled.status == "CANCELLED"
            assert cancelled.cost.credits == 0
            sdk.close()
    finally:
        slow.close()


def test_sdk_errors(client: runwayml.RunwayML, emulator: Emulator, server: EmulatorServer) -> None:
    with pytest.raises(runwayml.BadRequestError) as bad:
        client.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1:1")  # type: ignore[call-overload]
    assert bad.value.status_code == 400
    assert bad.value.body["issues"][0]["path"] == ["ratio"]  # type: ignore[index]
    wrong = runwayml.RunwayML(api_key="key_wrong", base_url=server.base_url)
    with pytest.raises(runwayml.AuthenticationError):
        wrong.organization.retrieve()
    with pytest.raises(runwayml.NotFoundError):
        client.tasks.retrieve("00000000-0000-4000-8000-000000000000")
    with pytest.raises(runwayml.NotFoundError) as unserved:
        client.avatar_conversations.list(limit=1)  # an API path the emulator does not serve
    assert unserved.value.body == {"error": "Not found."}
    assert len(emulator.ledger()) == 0


def test_sdk_retries_a_503_without_duplicating(
    client: runwayml.RunwayML, emulator: Emulator
) -> None:
    emulator.set_faults(FaultPlan([FaultRule(Fault.UNAVAILABLE, nth=(1,))]))
    client.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1920:1080")
    assert len(emulator.ledger()) == 1
    assert [f.rule.fault for f in emulator.faults.fired] == [Fault.UNAVAILABLE]


def test_sdk_retry_after_a_lost_response_pays_twice(
    client: runwayml.RunwayML, emulator: Emulator
) -> None:
    emulator.set_faults(FaultPlan([FaultRule(Fault.LOST_RESPONSE, nth=(1,))]))
    client.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1920:1080")
    ledger = emulator.ledger()
    assert len(ledger) == 2
    assert list(ledger.duplicates().values()) == [2]
    assert ledger.charged_credits() == 16


def test_sdk_sees_the_daily_cap(emulator: Emulator, server: EmulatorServer) -> None:
    sdk = runwayml.RunwayML(api_key=emulator.api_key, base_url=server.base_url, max_retries=0)
    cap = emulator.catalog.tier(2).groups[emulator.catalog.limit_group("gen4_image")].max_daily
    for _ in range(cap):
        emulator.create_task(
            "text_to_image",
            {"model": "gen4_image", "promptText": "x", "ratio": "1920:1080"},
            server.base_url,
        )
    with pytest.raises(runwayml.RateLimitError):
        sdk.text_to_image.create(model="gen4_image", prompt_text="x", ratio="1920:1080")
    sdk.close()


def test_async_sdk_in_process(emulator: Emulator) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=create_app(emulator))
        async with (
            httpx.AsyncClient(transport=transport) as http,
            runwayml.AsyncRunwayML(
                api_key=emulator.api_key, base_url="http://emulator.test", http_client=http
            ) as sdk,
        ):
            created = await sdk.text_to_image.create(
                model="gen4_image_turbo",
                prompt_text="x",
                ratio="1920:1080",
                reference_images=[{"uri": "https://example.com/ref.png"}],
            )
            task = await created.wait_for_task_output(timeout=30)
            assert task.status == "SUCCEEDED"
            assert task.cost.credits == 2

    asyncio.run(run())


def test_the_listening_socket_disables_nagle() -> None:
    """Accepted connections inherit TCP_NODELAY, so small responses are not held ~40 ms."""
    import socket

    from runway_plan.emulator.server import bind_loopback

    listening = bind_loopback()
    try:
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert listening.proto == socket.IPPROTO_TCP
    finally:
        listening.close()


def test_sdk_avatar_usage_ranges(client: runwayml.RunwayML) -> None:
    """``endDate`` is exclusive, ISO datetimes (what the SDK sends for a datetime) are
    accepted, and a range is at most 90 days, as the SDK documents."""
    week = client.avatars.get_usage(start_date="2026-01-01", end_date="2026-01-08")
    assert [str(day.date) for day in week.by_day] == [f"2026-01-0{n}" for n in range(1, 8)]
    timed = client.avatars.get_usage(
        start_date=datetime(2026, 1, 1, tzinfo=UTC), end_date=datetime(2026, 1, 3, tzinfo=UTC)
    )
    assert [str(day.date) for day in timed.by_day] == ["2026-01-01", "2026-01-02"]
    noon = client.avatars.get_usage(
        start_date=datetime(2026, 1, 1, 12), end_date=datetime(2026, 1, 2, 12)
    )
    assert [str(day.date) for day in noon.by_day] == ["2026-01-01", "2026-01-02"]
    assert (
        len(client.avatars.get_usage(start_date="2026-01-01", end_date="2026-04-01").by_day) == 90
    )
    with pytest.raises(runwayml.BadRequestError) as too_long:
        client.avatars.get_usage(start_date="2026-01-01", end_date="2026-04-02")
    assert too_long.value.body["issues"][0]["path"] == ["endDate"]  # type: ignore[index]
    assert "90 days" in too_long.value.body["error"]  # type: ignore[index]


def test_sdk_usage_endpoints_agree_on_empty_ranges(client: runwayml.RunwayML) -> None:
    """An end equal to the start is an empty range: both usage endpoints refuse it."""
    with pytest.raises(runwayml.BadRequestError) as avatar:
        client.avatars.get_usage(start_date="2026-01-05", end_date="2026-01-05")
    assert avatar.value.body["issues"][0]["path"] == ["endDate"]  # type: ignore[index]
    with pytest.raises(runwayml.BadRequestError) as organization:
        client.organization.retrieve_usage(start_date="2026-01-05", before_date="2026-01-05")
    assert organization.value.body["issues"][0]["path"] == ["beforeDate"]  # type: ignore[index]
    one_day = client.organization.retrieve_usage(start_date="2026-01-05", before_date="2026-01-06")
    assert one_day.results == []
    longest = client.organization.retrieve_usage(start_date="2026-01-01", before_date="2026-04-01")
    assert longest.results == []
    with pytest.raises(runwayml.BadRequestError) as too_long:
        client.organization.retrieve_usage(start_date="2026-01-01", before_date="2026-04-02")
    assert too_long.value.body["issues"][0]["path"] == ["beforeDate"]  # type: ignore[index]


SESSION_PRICE = Price(
    unit="output_second", rates=(PriceRate(credits=Decimal(2)),), source="tests", checked=""
)
"""Realtime sessions have no catalog price: the tests give them 2 credits a second."""


@pytest.fixture
def manual() -> Iterator[tuple[Emulator, ManualClock, runwayml.RunwayML, str]]:
    """An emulator on a manual clock behind a real server, and an SDK client for it."""
    clock = ManualClock()
    catalog = load_catalog()
    prices = PriceSheet.from_catalog(catalog).merged({"gwm1_avatars": SESSION_PRICE}, "tests")
    with (
        Emulator(EmulatorConfig(tier=1), clock=clock, prices=prices) as emulator,
        EmulatorServer(create_app(emulator)) as server,
        runwayml.RunwayML(api_key=emulator.api_key, base_url=server.base_url) as sdk,
    ):
        yield emulator, clock, sdk, server.base_url


def _consume(base_url: str, session_id: str, key: str) -> httpx.Response:
    """The consume call as Runway's avatars SDK makes it: the session key, no API key."""
    return httpx.post(
        f"{base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def test_sdk_realtime_sessions(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML, str],
) -> None:
    emulator, clock, sdk, base_url = manual
    preset = {"type": "runway-preset", "preset_id": "influencer"}
    first = sdk.realtime_sessions.create(model="gwm1_avatars", avatar=preset, max_duration=60)
    second = sdk.realtime_sessions.create(model="gwm1_avatars", avatar=preset)
    provisioning = sdk.realtime_sessions.retrieve(first.id)
    assert (provisioning.status, provisioning.queued) == ("NOT_READY", False)  # type: ignore[union-attr]
    waiting = sdk.realtime_sessions.retrieve(second.id)  # tier 1: one session at a time
    assert (waiting.status, waiting.queued) == ("NOT_READY", True)  # type: ignore[union-attr]

    clock.advance(emulator.config.session_seconds)
    ready = sdk.realtime_sessions.retrieve(first.id)
    assert ready.status == "READY"
    assert ready.expires_at.timestamp() == pytest.approx(  # type: ignore[union-attr]
        clock() + emulator.config.session_key_seconds
    )
    assert _consume(base_url, first.id, "sk_wrong").status_code == 401
    credentials = _consume(base_url, first.id, ready.session_key)  # type: ignore[union-attr]
    assert credentials.status_code == 200, credentials.text
    assert set(credentials.json()) == {"url", "token", "roomName"}
    assert credentials.json()["url"].startswith("wss://")
    assert _consume(base_url, first.id, ready.session_key).status_code == 409  # type: ignore[union-attr]
    assert sdk.realtime_sessions.retrieve(first.id).status == "RUNNING"

    clock.advance(60)
    done = sdk.realtime_sessions.retrieve(first.id)
    assert (done.status, done.duration) == ("COMPLETED", 60)  # type: ignore[union-attr]
    assert sdk.realtime_sessions.retrieve(second.id).queued is False  # type: ignore[union-attr]
    sdk.realtime_sessions.delete(second.id)
    assert sdk.realtime_sessions.retrieve(second.id).status == "CANCELLED"
    with pytest.raises(runwayml.NotFoundError):
        sdk.realtime_sessions.retrieve("00000000-0000-4000-8000-000000000000")

    usage = sdk.avatars.get_usage(start_date="2026-01-01", end_date="2026-01-02")
    assert (usage.total_sessions, usage.total_seconds, usage.avg_duration_seconds) == (2, 60, 60)
    assert usage.by_day[0].sessions == 2
    # 2 credits a second: 60 s and 300 s taken up front; the call used 60 s, the cancelled
    # session none, so all of the second is given back.
    assert emulator.balance == 10_000 - 120
    credits = sdk.organization.retrieve_usage(start_date="2026-01-01", before_date="2026-01-02")
    assert [(u.model, u.amount) for u in credits.results[0].used_credits] == [("gwm1_avatars", 120)]


def test_sdk_realtime_session_without_a_price_is_refused(client: runwayml.RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as refused:
        client.realtime_sessions.create(
            model="gwm1_avatars", avatar={"type": "runway-preset", "preset_id": "influencer"}
        )
    assert refused.value.body["issues"][0]["path"] == ["model"]  # type: ignore[index]
    assert "cannot bill gwm1_avatars" in refused.value.body["error"]  # type: ignore[index]


def test_sdk_realtime_session_errors_name_the_field(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML, str],
) -> None:
    emulator, clock, sdk, _base_url = manual
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"avatar": {"type": "runway-preset", "preset_id": "nobody"}}, ["avatar", "presetId"]),
        ({"avatar": {"type": "custom", "avatar_id": "no-such-avatar"}}, ["avatar", "avatarId"]),
        (
            {"avatar": {"type": "runway-preset", "preset_id": "influencer"}, "max_duration": 600},
            ["maxDuration"],
        ),
    ]
    for arguments, path in cases:
        with pytest.raises(runwayml.BadRequestError) as refused:
            sdk.realtime_sessions.create(model="gwm1_avatars", **arguments)
        assert refused.value.body["issues"][0]["path"] == path  # type: ignore[index]
    with pytest.raises(runwayml.BadRequestError) as missing:
        sdk.realtime_sessions.create(
            model="gwm1_avatars",
            avatar={"type": "runway-preset", "preset_id": "influencer"},
            extra_body={"avatar": None},
        )
    assert missing.value.body["issues"][0]["path"] == ["avatar"]  # type: ignore[index]

    avatar = sdk.avatars.create(
        name="Guide",
        personality="Friendly.",
        reference_image="https://example.com/face.png",
        voice={"type": "runway-live-preset", "preset_id": "clara"},
    )
    custom = {"type": "custom", "avatar_id": avatar.id}
    with pytest.raises(runwayml.BadRequestError) as processing:
        sdk.realtime_sessions.create(model="gwm1_avatars", avatar=custom)  # type: ignore[arg-type]
    assert "PROCESSING" in processing.value.body["error"]  # type: ignore[index]
    clock.advance(emulator.config.avatar_seconds)
    created = sdk.realtime_sessions.create(model="gwm1_avatars", avatar=custom)  # type: ignore[arg-type]
    assert sdk.realtime_sessions.retrieve(created.id).status == "NOT_READY"


def test_sdk_avatar_previews_are_real_images(
    manual: tuple[Emulator, ManualClock, runwayml.RunwayML, str],
) -> None:
    emulator, clock, sdk, _base_url = manual
    still = striped_png(640, 480, 7, "reference " * 100)  # over the upload minimum
    upload = sdk.uploads.create_ephemeral(file=("face.png", still))
    avatar = sdk.avatars.create(
        name="Guide",
        personality="Friendly.",
        reference_image=upload.uri,
        voice={"type": "runway-live-preset", "preset_id": "clara"},
    )
    assert (avatar.reference_image_uri, avatar.processed_image_uri) == (None, None)  # PROCESSING
    clock.advance(emulator.config.avatar_seconds)
    ready = sdk.avatars.retrieve(avatar.id)
    assert ready.status == "READY"
    assert ready.reference_image_uri and ready.processed_image_uri
    reference = httpx.get(ready.reference_image_uri)
    assert reference.status_code == 200 and reference.content == still
    processed = httpx.get(ready.processed_image_uri)
    assert processed.status_code == 200
    assert filetype.guess(processed.content).mime == "image/png"
    assert image_size(processed.content) == (640, 480)
    forged = ready.processed_image_uri.replace("sig=", "sig=0")
    assert httpx.get(forged).status_code == 403

    by_url = sdk.avatars.create(
        name="Remote",
        personality="Calm.",
        reference_image="https://example.com/face.jpg",
        voice={"type": "runway-live-preset", "preset_id": "max"},
    )
    clock.advance(emulator.config.avatar_seconds)
    remote = sdk.avatars.retrieve(by_url.id)
    for uri in (remote.reference_image_uri, remote.processed_image_uri):
        assert uri is not None
        assert filetype.guess(httpx.get(uri).content).mime == "image/png"
    sdk.avatars.delete(by_url.id)
    assert httpx.get(remote.processed_image_uri or "").status_code == 404
