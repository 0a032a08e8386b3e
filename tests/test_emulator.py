"""The emulator in process (``httpx.ASGITransport``) on a manual clock: every API behaviour.

Timings are read from the catalog (the model's latency, the tier's limits) rather than
hard-coded, so the tests follow the catalog when its estimates change.
"""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
import uuid
import wave
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import filetype  # type: ignore[import-untyped]
import httpx
import pytest
from tinytag import TinyTag

from runway_plan.catalog import load_catalog
from runway_plan.emulator import (
    API_VERSION,
    FAILURE_CODES,
    Emulator,
    EmulatorConfig,
    Fault,
    FaultPlan,
    FaultRule,
    ManualClock,
    PriceSheet,
    create_app,
    failure_refunded,
)
from runway_plan.emulator import synth as emedia
from runway_plan.emulator.core import DAY
from runway_plan.emulator.workflows import PUBLISHED
from runway_plan.validate import validate_request

CATALOG = load_catalog()
PRICES = PriceSheet.from_catalog(CATALOG).with_flat_prices(
    {"eleven_text_to_sound_v2": Decimal(2), "seed_audio": Decimal(3)},
    "the tests' prices",
)
"""The catalog's prices, and flat prices for the models without one that the tests run."""
IMG_URL = "https://example.com/still.png"
T2I: dict[str, Any] = {"model": "gen4_image", "promptText": "a red fox", "ratio": "1920:1080"}
I2V: dict[str, Any] = {
    "model": "gen4.5",
    "promptImage": IMG_URL,
    "promptText": "slow dolly in",
    "ratio": "1280:720",
    "duration": 5,
}
TTS: dict[str, Any] = {
    "model": "eleven_multilingual_v2",
    "promptText": "Hello from the emulator.",
    "voice": {"type": "runway-preset", "presetId": "Maya"},
}


class Api:
    """Synchronous calls to an emulator through ``httpx.ASGITransport``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(emulator)),
            base_url="http://emulator.test",
            headers=emulator.headers,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def create(self, endpoint: str, body: dict[str, Any]) -> str:
        response = self.post(f"/v1/{endpoint}", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.get(f"/v1/tasks/{task_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def status(self, task_id: str) -> str:
        return str(self.task(task_id)["status"])

    def upload(self, filename: str, data: bytes) -> str:
        slot = self.post("/v1/uploads", json={"filename": filename, "type": "ephemeral"}).json()
        response = self.post(
            slot["uploadUrl"], data=slot["fields"], files={"file": (filename, data)}
        )
        assert response.status_code == 204, response.text
        return str(slot["runwayUri"])

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make(clock: ManualClock) -> Iterator[Any]:
    made: list[tuple[Emulator, Api]] = []

    def build(**config: Any) -> tuple[Emulator, Api]:
        faults = config.pop("faults", None)
        emulator = Emulator(EmulatorConfig(**config), clock=clock, prices=PRICES, faults=faults)
        api = Api(emulator)
        made.append((emulator, api))
        return emulator, api

    yield build
    for emulator, api in made:
        api.close()
        emulator.close()


@pytest.fixture
def api(make: Any) -> Api:
    built: tuple[Emulator, Api] = make()
    return built[1]


def run_seconds(model: str, output_seconds: float = 0.0) -> float:
    overlay = CATALOG.model_overlay(model)
    return overlay.latency_seconds + overlay.latency_per_output_second * output_seconds


def concurrency(model: str, tier: int = 1) -> int:
    return CATALOG.tier(tier).groups[CATALOG.limit_group(model)].max_concurrent


def daily(model: str, tier: int = 1) -> int:
    return CATALOG.tier(tier).groups[CATALOG.limit_group(model)].max_daily


def wav_bytes(seconds: float) -> bytes:
    return emedia.tone_wav(seconds)


# ---------------------------------------------------------------------- requests


def test_create_answers_id_and_estimated_cost(api: Api) -> None:
    response = api.post("/v1/text_to_image", json=T2I)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"id", "estimatedCost"}
    assert data["estimatedCost"] == {"credits": 8}


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        ({"Authorization": ""}, 401, "Missing API key"),
        ({"Authorization": "Bearer key_wrong"}, 401, "Invalid API key"),
        ({"Authorization": "Basic abc"}, 401, "Invalid API key"),
        ({"X-Runway-Version": ""}, 400, "X-Runway-Version"),
        ({"X-Runway-Version": "2023-01-01"}, 400, "Unsupported X-Runway-Version"),
    ],
)
def test_auth_and_version_errors(
    api: Api, headers: dict[str, str], status: int, fragment: str
) -> None:
    sent = {**api.emulator.headers, **headers}
    sent = {k: v for k, v in sent.items() if v}
    for method, url, body in (
        ("POST", "/v1/text_to_image", T2I),
        ("GET", "/v1/organization", None),
        ("GET", "/v1/tasks/00000000-0000-4000-8000-000000000000", None),
    ):
        api.client.headers.clear()
        response = api.request(method, url, json=body, headers=sent)
        assert response.status_code == status
        assert fragment in response.json()["error"]
    assert len(api.emulator.ledger()) == 0


def test_version_header_missing_entirely(api: Api) -> None:
    api.client.headers.pop("X-Runway-Version")
    response = api.post("/v1/text_to_image", json=T2I)
    assert response.status_code == 400
    assert "X-Runway-Version header is required" in response.json()["error"]


def test_unknown_paths_are_json_404(api: Api) -> None:
    assert api.post("/v1/text_to_hologram", json=T2I).status_code == 404
    response = api.get("/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found."}
    assert api.get("/v1/tasks/unknown").status_code == 404
    for path in ("/v1/avatar_conversations", "/v1/tasks", "/v1/text_to_hologram"):
        unserved = api.get(path)
        assert (unserved.status_code, unserved.json()) == (404, {"error": "Not found."}), path
    for method, path in (("GET", "/v1/text_to_image"), ("POST", "/v1/organization")):
        wrong_method = api.request(method, path)
        assert wrong_method.status_code == 405, path
        assert wrong_method.json() == {"error": "Method not allowed."}


INVALID: list[tuple[str, str, dict[str, Any], list[list[Any]]]] = [
    ("unknown model", "text_to_image", {**T2I, "model": "gen9_image"}, [["model"]]),
    ("model on another endpoint", "text_to_image", {**T2I, "model": "gen4.5"}, [["model"]]),
    ("retired model", "image_to_video", {**I2V, "model": "gen3a_turbo"}, [["model"]]),
    ("unknown field", "text_to_image", {**T2I, "negative": "blur"}, [["negative"]]),
    ("wrong type", "image_to_video", {**I2V, "duration": "5"}, [["duration"]]),
    ("value not allowed", "text_to_image", {**T2I, "ratio": "1:1"}, [["ratio"]]),
    ("out of range", "image_to_video", {**I2V, "duration": 11}, [["duration"]]),
    ("text too long", "text_to_image", {**T2I, "promptText": "x" * 1001}, [["promptText"]]),
    (
        "too many items",
        "text_to_image",
        {**T2I, "referenceImages": [{"uri": IMG_URL}] * 4},
        [["referenceImages"]],
    ),
    (
        "http URL",
        "image_to_video",
        {**I2V, "promptImage": "http://example.com/a.png"},
        [["promptImage"]],
    ),
    (
        "IP host",
        "image_to_video",
        {**I2V, "promptImage": "https://10.0.0.1/a.png"},
        [["promptImage"]],
    ),
    (
        "unsupported scheme",
        "image_to_video",
        {**I2V, "promptImage": "ftp://example.com/a.png"},
        [["promptImage"]],
    ),
    (
        "bad data URI",
        "image_to_video",
        {**I2V, "promptImage": "data:image/png;base64,@@@"},
        [["promptImage"]],
    ),
    (
        "wrong data URI type",
        "image_to_video",
        {**I2V, "promptImage": "data:audio/wav;base64," + base64.b64encode(b"RIFF").decode()},
        [["promptImage"]],
    ),
    ("local path", "image_to_video", {**I2V, "promptImage": "./still.png"}, [["promptImage"]]),
    (
        "missing fields",
        "text_to_image",
        {"model": "gen4_image", "ratio": "1920:1080", "referenceImages": [{"tag": "hero"}]},
        [["promptText"], ["referenceImages", 0, "uri"]],
    ),
    (
        "model rule",
        "image_to_video",
        {
            "model": "veo3.1",
            "ratio": "1280:720",
            "promptImage": [{"uri": IMG_URL, "position": "last"}],
        },
        [["promptImage"]],
    ),
    (
        "nested enum",
        "text_to_speech",
        {**TTS, "voice": {"type": "runway-preset", "presetId": "Nobody"}},
        [["voice", "presetId"]],
    ),
    (
        "several problems",
        "text_to_image",
        {**T2I, "ratio": "2:1", "seed": -1, "extra": True},
        [["ratio"], ["seed"], ["extra"]],
    ),
]


@pytest.mark.parametrize(
    ("case", "endpoint", "body", "paths"), INVALID, ids=[c[0] for c in INVALID]
)
def test_400_where_the_validator_refuses(
    api: Api, case: str, endpoint: str, body: dict[str, Any], paths: list[list[Any]]
) -> None:
    response = api.post(f"/v1/{endpoint}", json=body)
    assert response.status_code == 400, case
    data = response.json()
    assert isinstance(data["error"], str) and data["error"]
    assert sorted(issue["path"] for issue in data["issues"]) == sorted(paths)
    expected = {issue.message for issue in validate_request(CATALOG, endpoint, body)}
    assert {issue["message"] for issue in data["issues"]} == expected
    assert len(api.emulator.ledger()) == 0
    assert api.emulator.balance == 10_000


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"", "JSON object")],
)
def test_400_for_bodies_that_are_not_objects(api: Api, content: bytes, fragment: str) -> None:
    response = api.post(
        "/v1/text_to_image", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_400_without_a_model(api: Api) -> None:
    response = api.post("/v1/text_to_image", json={"promptText": "x", "ratio": "1920:1080"})
    assert response.status_code == 400
    assert response.json()["issues"] == [
        {"path": ["model"], "message": "missing required field 'model'"}
    ]


def test_every_endpoint_of_the_catalog_is_served(api: Api) -> None:
    for name, endpoint in CATALOG.endpoints.items():
        # a workflow runs at /v1/workflows/{id}: the emulator's first published one
        path = endpoint.path.replace("{id}", PUBLISHED[0].id)
        response = api.post(path, json={"model": "no_such_model"})
        assert response.status_code == 400, name
        paths = [issue["path"] for issue in response.json()["issues"]]
        if name in CATALOG.model_less:  # no model field: "model" is an unknown field
            assert ["model"] in paths, name
        else:
            assert paths[0] == ["model"], name


def test_accepted_bodies_match_the_validator(api: Api) -> None:
    bodies = [
        ("text_to_image", T2I),
        ("image_to_video", I2V),
        ("text_to_speech", TTS),
        ("image_to_video", {"model": "veo3.1", "ratio": "1280:720", "promptImage": IMG_URL}),
        ("sound_effect", {"model": "eleven_text_to_sound_v2", "promptText": "rain", "duration": 3}),
    ]
    for endpoint, body in bodies:
        assert not validate_request(CATALOG, endpoint, body)
        assert api.post(f"/v1/{endpoint}", json=body).status_code == 200


# ---------------------------------------------------------------------- task lifecycle


def test_pending_running_succeeded(api: Api, clock: ManualClock) -> None:
    task_id = api.create("image_to_video", I2V)
    queue = api.emulator.config.queue_seconds
    run = run_seconds("gen4.5", 5)
    first = api.task(task_id)
    assert first["status"] == "PENDING"
    assert first["estimatedCost"] == {"credits": 60}
    assert first["createdAt"].endswith("Z")
    assert "cost" not in first and "progress" not in first
    clock.advance(queue)
    running = api.task(task_id)
    assert running["status"] == "RUNNING" and running["progress"] == 0
    clock.advance(run / 2)
    half = api.task(task_id)
    assert half["status"] == "RUNNING" and half["progress"] == pytest.approx(0.5)
    assert half["estimatedCost"] == {"credits": 60}
    clock.advance(run / 2)
    done = api.task(task_id)
    assert done["status"] == "SUCCEEDED"
    assert done["cost"] == {"credits": 60}
    assert "estimatedCost" not in done
    assert len(done["output"]) == 1
    assert api.emulator.balance == 10_000 - 60


def test_failed_tasks_with_each_failure_code(make: Any, clock: ManualClock) -> None:
    for code in FAILURE_CODES:
        rule = FaultRule(Fault.TASK_FAILED, failure_code=code, nth=(1,))
        emulator, api = make(faults=FaultPlan([rule]))
        task_id = api.create("image_to_video", I2V)
        assert api.status(task_id) == "PENDING"
        clock.advance(api.emulator.config.queue_seconds + run_seconds("gen4.5", 5))
        task = api.task(task_id)
        assert task["status"] == "FAILED", code
        assert task["failureCode"] == code
        assert isinstance(task["failure"], str) and task["failure"]
        refunded = failure_refunded(code)
        assert task["cost"] == {"credits": 0 if refunded else 60}
        assert emulator.balance == (10_000 if refunded else 10_000 - 60)
        entry = emulator.ledger()[0]
        assert entry.billed_credits == (0 if refunded else 60)
        assert entry.fault == "task_failed" and entry.failure_code == code


def test_input_failures_end_before_running(make: Any, clock: ManualClock) -> None:
    rule = FaultRule(Fault.TASK_FAILED, failure_code="SAFETY.INPUT.TEXT", nth=(1,))
    _emulator, api = make(faults=FaultPlan([rule]))
    task_id = api.create("image_to_video", I2V)
    clock.advance(api.emulator.config.queue_seconds)
    assert api.status(task_id) == "FAILED"


def test_refund_rules() -> None:
    assert not failure_refunded("SAFETY.INPUT.TEXT")
    assert not failure_refunded("SAFETY.INPUT.IMAGE")
    for code in (
        "SAFETY.OUTPUT.VIDEO",
        "INTERNAL",
        "ASSET.INVALID",
        "THIRD_PARTY.UNAVAILABLE",
        "INPUT_PREPROCESSING.SAFETY.TEXT",
        "INTERNAL.BAD_OUTPUT.CODE01",
    ):
        assert failure_refunded(code)


def test_cancel_pending_is_refunded(api: Api) -> None:
    task_id = api.create("image_to_video", I2V)
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    task = api.task(task_id)
    assert task["status"] == "CANCELLED"
    assert task["cost"] == {"credits": 0}
    assert api.emulator.balance == 10_000
    assert api.emulator.ledger()[0].billed_credits == 0


def test_cancel_running_is_not_refunded(api: Api, clock: ManualClock) -> None:
    task_id = api.create("image_to_video", I2V)
    clock.advance(api.emulator.config.queue_seconds + 1)
    assert api.status(task_id) == "RUNNING"
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    task = api.task(task_id)
    assert task["status"] == "CANCELLED"
    assert task["cost"] == {"credits": 60}
    assert api.emulator.balance == 10_000 - 60


def test_cancel_running_refunded_when_configured(make: Any, clock: ManualClock) -> None:
    emulator, api = make(refund_running_cancel=True)
    task_id = api.create("image_to_video", I2V)
    clock.advance(emulator.config.queue_seconds + 1)
    api.delete(f"/v1/tasks/{task_id}")
    assert api.task(task_id)["cost"] == {"credits": 0}


def test_delete_finished_task_removes_it(api: Api, clock: ManualClock) -> None:
    task_id = api.create("text_to_image", T2I)
    clock.advance(1_000)
    task = api.task(task_id)
    assert task["status"] == "SUCCEEDED"
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 204
    assert api.get(f"/v1/tasks/{task_id}").status_code == 404
    assert api.delete(f"/v1/tasks/{task_id}").status_code == 404
    assert api.get(task["output"][0]).status_code == 404
    assert api.emulator.balance == 10_000 - 8
    assert api.emulator.ledger()[0].deleted


def test_throttled_tasks_start_in_submission_order(api: Api, clock: ManualClock) -> None:
    limit = concurrency("gen4.5")
    count = limit + 3
    ids = [api.create("image_to_video", I2V) for _ in range(count)]
    statuses = [api.status(i) for i in ids]
    assert statuses == ["PENDING"] * limit + ["THROTTLED"] * 3
    thrown = [api.task(i) for i in ids[limit:]]
    assert all(t["estimatedCost"] == {"credits": 60} for t in thrown)
    started: list[str] = []
    step = 1.0
    for _ in range(2_000):
        clock.advance(step)
        now = {i: api.status(i) for i in ids}
        in_flight = [i for i in ids if now[i] in ("PENDING", "RUNNING")]
        assert len(in_flight) <= limit
        for task_id in ids:
            if now[task_id] != "THROTTLED" and task_id not in started:
                started.append(task_id)
        if all(s == "SUCCEEDED" for s in now.values()):
            break
    assert started == ids
    assert all(api.status(i) == "SUCCEEDED" for i in ids)


def test_throttled_task_starts_when_a_slot_frees(api: Api, clock: ManualClock) -> None:
    limit = concurrency("gen4.5")
    ids = [api.create("image_to_video", I2V) for _ in range(limit + 1)]
    total = api.emulator.config.queue_seconds + run_seconds("gen4.5", 5)
    clock.advance(total - 0.5)
    assert api.status(ids[-1]) == "THROTTLED"
    clock.advance(0.5)
    assert [api.status(i) for i in ids] == ["SUCCEEDED"] * limit + ["PENDING"]


def test_cancelled_throttled_task_is_skipped(api: Api, clock: ManualClock) -> None:
    limit = concurrency("gen4.5")
    ids = [api.create("image_to_video", I2V) for _ in range(limit + 2)]
    api.delete(f"/v1/tasks/{ids[limit]}")
    assert api.task(ids[limit])["cost"] == {"credits": 0}
    api.delete(f"/v1/tasks/{ids[0]}")
    assert api.status(ids[limit + 1]) == "PENDING"
    assert api.emulator.tasks_in_flight("gen4.5") == limit


def test_concurrency_is_per_model(api: Api) -> None:
    limit = concurrency("gen4.5")
    for _ in range(limit):
        api.create("image_to_video", I2V)
    other = api.create("image_to_video", {**I2V, "model": "gen4_turbo"})
    assert api.status(other) == "PENDING"


def test_daily_cap_answers_429(api: Api, clock: ManualClock) -> None:
    cap = daily("eleven_multilingual_v2")
    for _ in range(cap):
        api.create("text_to_speech", TTS)
        clock.advance(1)
    response = api.post("/v1/text_to_speech", json=TTS)
    assert response.status_code == 429
    assert "daily generation limit" in response.json()["error"]
    assert len(api.emulator.ledger()) == cap
    other = api.post("/v1/text_to_image", json=T2I)
    assert other.status_code == 200
    org = api.get("/v1/organization").json()
    assert org["usage"]["models"]["eleven_multilingual_v2"] == {"dailyGenerations": cap}
    clock.advance(DAY - cap + 1)
    assert api.post("/v1/text_to_speech", json=TTS).status_code == 200


def test_speed_divides_latency(make: Any, clock: ManualClock) -> None:
    _emulator, api = make(speed=1000)
    task_id = api.create("image_to_video", {**I2V, "duration": 10})
    total = (2.0 + run_seconds("gen4.5", 10)) / 1000
    clock.advance(total * 0.99)
    assert api.status(task_id) == "RUNNING"
    clock.advance(total * 0.02)
    assert api.status(task_id) == "SUCCEEDED"


def test_cadence_shows_changes_every_five_seconds(make: Any, clock: ManualClock) -> None:
    _emulator, api = make(cadence=5.0)
    task_id = api.create("image_to_video", I2V)
    clock.advance(4.9)
    assert api.status(task_id) == "PENDING"
    clock.advance(0.1)
    first = api.task(task_id)
    assert first["status"] == "RUNNING"
    clock.advance(4.0)
    assert api.task(task_id)["progress"] == first["progress"]
    clock.advance(1.0)
    assert api.task(task_id)["progress"] > first["progress"]


# ---------------------------------------------------------------------- costs


COST_CASES: dict[str, tuple[str, dict[str, Any], Decimal]] = {
    # Figures worked out by hand from the catalog's prices.yaml, not by the planner the
    # emulator bills through.
    # gen4_image: 8 credits per 1080p image, 5 per 720p image
    "image_1080p": ("text_to_image", T2I, Decimal(8)),
    "image_720p": ("text_to_image", {**T2I, "ratio": "1280:720"}, Decimal(5)),
    # gen4_image_turbo: 2 credits per image, whatever the references
    "turbo": (
        "text_to_image",
        {
            "model": "gen4_image_turbo",
            "promptText": "x",
            "ratio": "1920:1080",
            "referenceImages": [{"uri": IMG_URL}],
        },
        Decimal(2),
    ),
    # gpt_image_2: low quality at the 4K sizes (auto counts as 4K) is 2 per image; 3 images
    "gpt_many": (
        "text_to_image",
        {
            "model": "gpt_image_2",
            "promptText": "x",
            "ratio": "auto",
            "outputCount": 3,
            "quality": "low",
        },
        Decimal(6),
    ),
    # gen4.5: 12 credits per second of mp4 (the default outputFormat)
    "video": ("image_to_video", I2V, Decimal(60)),
    "video_long": ("image_to_video", {**I2V, "duration": 10}, Decimal(120)),
    # veo3.1 without `audio`: 20 or 40 per second; the task is charged the high end, 6 x 40
    "veo_no_audio_field": (
        "image_to_video",
        {"model": "veo3.1", "ratio": "1280:720", "promptImage": IMG_URL, "duration": 6},
        Decimal(240),
    ),
    # veo3.1_fast with audio: 15 per second, 4 s
    "veo_audio": (
        "image_to_video",
        {
            "model": "veo3.1_fast",
            "ratio": "1280:720",
            "promptImage": IMG_URL,
            "duration": 4,
            "audio": True,
        },
        Decimal(60),
    ),
    # eleven_multilingual_v2: 1 credit per 50 characters, rounded up: 120 characters -> 3
    "tts": ("text_to_speech", {**TTS, "promptText": "y" * 120}, Decimal(3)),
}


def test_costs_are_the_price_sheets_figures(api: Api, clock: ManualClock) -> None:
    ids = {}
    for name, (endpoint, body, credits) in COST_CASES.items():
        response = api.post(f"/v1/{endpoint}", json=body)
        assert response.status_code == 200, (name, response.text)
        assert Decimal(str(response.json()["estimatedCost"]["credits"])) == credits, name
        ids[name] = response.json()["id"]
    clock.advance(DAY / 2)
    for name, task_id in ids.items():
        task = api.task(task_id)
        assert task["status"] == "SUCCEEDED", name
        assert task["cost"]["credits"] == COST_CASES[name][2], name
    total = 8 + 5 + 2 + 6 + 60 + 120 + 240 + 60 + 3
    assert api.emulator.ledger().billed_credits() == total == 504
    assert api.get("/v1/organization").json()["creditBalance"] == 10_000 - 504


def test_input_length_prices_use_the_uploaded_file(api: Api) -> None:
    uri = api.upload("voice.wav", wav_bytes(12.0))
    response = api.post(
        "/v1/voice_dubbing",
        json={"model": "eleven_voice_dubbing", "audioUri": uri, "targetLang": "es"},
    )
    # eleven_voice_dubbing: 1 credit per 2 s of input, rounded up: the 12 s upload -> 6
    assert Decimal(str(response.json()["estimatedCost"]["credits"])) == 6


def test_custom_pricer_and_unknown_prices(clock: ManualClock) -> None:
    calls = []

    def pricer(endpoint: str, body: Any, /) -> Decimal | None:
        calls.append((endpoint, body["model"]))
        return None if body["model"] == "gen4_turbo" else Decimal("2.5")

    with Emulator(clock=clock, pricer=pricer) as emulator:
        api = Api(emulator)
        try:
            first = api.post("/v1/text_to_image", json=T2I).json()
            assert first["estimatedCost"] == {"credits": 2.5}
            refused = api.post("/v1/image_to_video", json={**I2V, "model": "gen4_turbo"})
            assert refused.status_code == 400
            assert refused.json()["issues"][0]["path"] == ["model"]
            clock.advance(DAY / 2)
            assert api.task(first["id"])["cost"] == {"credits": 3}
            [entry] = emulator.ledger()
            assert entry.estimated_credits == Decimal("2.5") and entry.charged_credits == 3
        finally:
            api.close()
    assert calls == [("text_to_image", "gen4_image"), ("image_to_video", "gen4_turbo")]


def test_not_enough_credits(make: Any) -> None:
    emulator, api = make(credits=100)
    assert api.post("/v1/image_to_video", json=I2V).status_code == 200
    response = api.post("/v1/image_to_video", json=I2V)
    assert response.status_code == 400
    assert "Not enough credits" in response.json()["error"]
    assert emulator.balance == 40
    assert len(emulator.ledger()) == 1


# ---------------------------------------------------------------------- organization


def test_organization(make: Any, clock: ManualClock) -> None:
    _emulator, api = make(tier=3, credits=5_000)
    org = api.get("/v1/organization").json()
    assert org["creditBalance"] == 5_000
    tier = CATALOG.tier(3)
    assert org["tier"]["maxMonthlyCreditSpend"] == int(
        tier.max_monthly_spend_usd / CATALOG.prices.usd_per_credit
    )
    limits = tier.groups[CATALOG.limit_group("gen4.5")]
    assert org["tier"]["models"]["gen4.5"] == {
        "maxConcurrentGenerations": limits.max_concurrent,
        "maxDailyGenerations": limits.max_daily,
    }
    assert set(org["tier"]["models"]) == set(CATALOG.model_endpoints)
    assert org["usage"]["models"] == {}
    api.create("image_to_video", I2V)
    api.create("text_to_image", T2I)
    org = api.get("/v1/organization").json()
    assert org["creditBalance"] == 5_000 - 68
    assert org["usage"]["models"] == {
        "gen4.5": {"dailyGenerations": 1},
        "gen4_image": {"dailyGenerations": 1},
    }
    clock.advance(DAY + 1)
    assert api.get("/v1/organization").json()["usage"]["models"] == {}


def test_usage_report_nets_refunds(make: Any, clock: ManualClock) -> None:
    rule = FaultRule(Fault.TASK_FAILED, failure_code="INTERNAL", nth=(2,))
    _emulator, api = make(faults=FaultPlan([rule]))
    api.create("image_to_video", I2V)
    api.create("image_to_video", I2V)
    api.create("text_to_image", T2I)
    clock.advance(DAY / 4)
    usage = api.post("/v1/organization/usage", json={}).json()
    assert usage["models"] == ["gen4.5", "gen4_image"]
    assert usage["results"] == [
        {
            "date": "2026-01-01",
            "usedCredits": [
                {"model": "gen4.5", "amount": 60},
                {"model": "gen4_image", "amount": 8},
            ],
        }
    ]
    window = api.post(
        "/v1/organization/usage", json={"startDate": "2025-12-01", "beforeDate": "2026-01-01"}
    ).json()
    assert window["results"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"startDate": "2026/01/01"},
        {"startDate": "2026-01-01", "beforeDate": "2026-06-01"},
        {"startDate": "2026-01-02", "beforeDate": "2026-01-01"},
        {"unknown": 1},
    ],
)
def test_usage_report_refuses_bad_dates(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/v1/organization/usage", json=body)
    assert response.status_code == 400
    assert response.json()["issues"]


# ---------------------------------------------------------------------- outputs


def test_outputs_are_real_media_of_the_right_kind(api: Api, clock: ManualClock) -> None:
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "image": ("text_to_image", {**T2I, "ratio": "1080:1920"}),
        "video": ("image_to_video", {**I2V, "duration": 7}),
        "speech": ("text_to_speech", TTS),
        "sound": (
            "sound_effect",
            {"model": "eleven_text_to_sound_v2", "promptText": "rain", "duration": 3},
        ),
    }
    ids = {name: api.create(ep, body) for name, (ep, body) in requests.items()}
    clock.advance(DAY / 4)
    files = {}
    for name, task_id in ids.items():
        task = api.task(task_id)
        assert task["status"] == "SUCCEEDED"
        response = api.get(task["output"][0])
        assert response.status_code == 200
        files[name] = response
    image = files["image"].content
    assert filetype.guess(image).mime == "image/png"
    assert files["image"].headers["content-type"] == "image/png"
    assert emedia.image_size(image) == (1080, 1920)
    assert filetype.guess(files["video"].content).mime == "video/mp4"
    assert _duration(files["video"].content, ".mp4") == pytest.approx(7)
    assert filetype.guess(files["sound"].content).mime == "audio/mpeg"
    assert _duration(files["sound"].content, ".mp3") == pytest.approx(3, abs=0.05)
    assert filetype.guess(files["speech"].content).mime == "audio/mpeg"


def _duration(data: bytes, suffix: str) -> float:
    with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
        handle.write(data)
        handle.flush()
        return float(TinyTag.get(handle.name).duration or 0)


def test_output_count_and_formats(api: Api, clock: ManualClock) -> None:
    many = api.create(
        "text_to_image",
        {"model": "gpt_image_2", "promptText": "x", "ratio": "2048:880", "outputCount": 3},
    )
    wav = api.create(
        "text_to_speech",
        {"model": "seed_audio", "promptText": "hello there", "outputFormat": "wav"},
    )
    clock.advance(DAY / 4)
    outputs = api.task(many)["output"]
    assert len(outputs) == 3
    contents = [api.get(url).content for url in outputs]
    assert len(set(contents)) == 3
    assert all(emedia.image_size(c) == (2048, 880) for c in contents)
    audio = api.get(api.task(wav)["output"][0])
    assert audio.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as reader:
        assert reader.getnframes() > 0


def test_output_urls_are_signed_and_expire(make: Any, clock: ManualClock) -> None:
    _emulator, api = make(url_ttl=3_600)
    task_id = api.create("text_to_image", T2I)
    clock.advance(600)
    url = api.task(task_id)["output"][0]
    assert url.startswith("http://emulator.test/_files/")
    assert api.get(url).status_code == 200
    assert api.request("HEAD", url).status_code == 200
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    denied = api.get(forged)
    assert denied.status_code == 403 and b"SignatureDoesNotMatch" in denied.content
    longer = url.replace("expires=", "expires=9")
    assert api.get(longer).status_code == 403
    clock.advance(3_601)
    expired = api.get(url)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    fresh = api.task(task_id)["output"][0]
    assert fresh != url
    assert api.get(fresh).status_code == 200


def test_output_url_is_accepted_as_an_input(api: Api, clock: ManualClock) -> None:
    image_task = api.create("text_to_image", {**T2I, "ratio": "1280:720"})
    clock.advance(600)
    url = api.task(image_task)["output"][0]
    response = api.post("/v1/image_to_video", json={**I2V, "promptImage": url})
    assert response.status_code == 200, response.text
    wrong = api.post(
        "/v1/voice_isolation", json={"model": "eleven_voice_isolation", "audioUri": url}
    )
    assert wrong.status_code == 400
    assert "Unsupported asset type" in wrong.json()["issues"][0]["message"]
    clock.advance(DAY * 2)
    stale = api.post("/v1/image_to_video", json={**I2V, "promptImage": url})
    assert stale.status_code == 400
    assert "403" in stale.json()["issues"][0]["message"]


# ---------------------------------------------------------------------- uploads


def test_upload_flow(api: Api, clock: ManualClock) -> None:
    slot = api.post("/v1/uploads", json={"filename": "still.png", "type": "ephemeral"})
    assert slot.status_code == 200
    data = slot.json()
    assert set(data) == {"uploadUrl", "fields", "runwayUri"}
    assert data["runwayUri"].startswith("runway://")
    image = emedia.striped_png(640, 360, 1, "upload " * 100)
    assert len(image) >= CATALOG.overlay.upload_min_bytes
    api.client.headers.clear()
    target = api.post(
        data["uploadUrl"], data=data["fields"], files={"file": ("still.png", image, "image/png")}
    )
    assert target.status_code == 204
    api.client.headers.update(api.emulator.headers)
    response = api.post("/v1/image_to_video", json={**I2V, "promptImage": data["runwayUri"]})
    assert response.status_code == 200, response.text


def test_unknown_and_unfinished_uploads_are_refused(api: Api) -> None:
    unknown = api.post("/v1/image_to_video", json={**I2V, "promptImage": "runway://nope/x.png"})
    assert unknown.status_code == 400
    assert unknown.json()["issues"][0]["path"] == ["promptImage"]
    slot = api.post("/v1/uploads", json={"filename": "x.png"}).json()
    pending = api.post("/v1/image_to_video", json={**I2V, "promptImage": slot["runwayUri"]})
    assert pending.status_code == 400
    assert "has not received a file" in pending.json()["error"]


def test_upload_of_the_wrong_media_is_refused(api: Api) -> None:
    uri = api.upload("voice.wav", wav_bytes(2))
    response = api.post("/v1/image_to_video", json={**I2V, "promptImage": uri})
    assert response.status_code == 400
    assert "Unsupported asset type" in response.json()["error"]


def test_upload_target_checks(api: Api, clock: ManualClock) -> None:
    slot = api.post("/v1/uploads", json={"filename": "x.png"}).json()
    small = api.post(slot["uploadUrl"], data=slot["fields"], files={"file": ("x.png", b"tiny")})
    assert small.status_code == 400 and b"EntityTooSmall" in small.content
    forged = {**slot["fields"], "x-amz-signature": "0" * 64}
    image = emedia.striped_png(64, 64, 1, "x" * 600)
    bad = api.post(slot["uploadUrl"], data=forged, files={"file": ("x.png", image)})
    assert bad.status_code == 403
    missing = api.post(slot["uploadUrl"], data=slot["fields"])
    assert missing.status_code == 400
    assert (
        api.post("/_uploads/unknown", data=slot["fields"], files={"file": ("x", image)}).status_code
        == 404
    )
    clock.advance(DAY + 1)
    late = api.post(slot["uploadUrl"], data=slot["fields"], files={"file": ("x.png", image)})
    assert late.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"filename": ""},
        {"filename": "a/b.png"},
        {"filename": "x.png", "type": "forever"},
        {"filename": "x.png", "extra": 1},
    ],
)
def test_upload_requests_are_validated(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/v1/uploads", json=body)
    assert response.status_code == 400
    assert response.json()["issues"]


def test_uploads_expire(make: Any, clock: ManualClock) -> None:
    _emulator, api = make(upload_ttl=60)
    uri = api.upload("x.png", emedia.striped_png(64, 64, 1, "x" * 600))
    clock.advance(61)
    response = api.post("/v1/image_to_video", json={**I2V, "promptImage": uri})
    assert response.status_code == 400 and "expired" in response.json()["error"]


def test_input_length_out_of_bounds_fails_the_task(api: Api, clock: ManualClock) -> None:
    long_video = api.upload("ref.mp4", emedia.mp4(40.0, tag="x" * 600))
    body = {
        "model": "act_two",
        "character": {"type": "image", "uri": IMG_URL},
        "reference": {"type": "video", "uri": long_video},
    }
    task_id = api.create("character_performance", body)
    clock.advance(600)
    task = api.task(task_id)
    assert task["status"] == "FAILED"
    assert task["failureCode"] == "ASSET.INVALID"
    assert task["cost"] == {"credits": 0}


def test_data_uri_inputs(api: Api, clock: ManualClock) -> None:
    audio = base64.b64encode(wav_bytes(6.0)).decode()
    task_id = api.create(
        "voice_isolation",
        {"model": "eleven_voice_isolation", "audioUri": f"data:audio/wav;base64,{audio}"},
    )
    clock.advance(600)
    task = api.task(task_id)
    assert task["status"] == "SUCCEEDED"
    assert _duration(api.get(task["output"][0]).content, ".mp3") == pytest.approx(6, abs=0.05)
    short = base64.b64encode(wav_bytes(4.0)).decode()
    too_short = api.create(
        "voice_isolation",
        {"model": "eleven_voice_isolation", "audioUri": f"data:audio/wav;base64,{short}"},
    )
    clock.advance(600)
    assert api.task(too_short)["failureCode"] == "ASSET.INVALID"


# ---------------------------------------------------------------------- avatars, documents


def test_documents_crud(api: Api) -> None:
    created = api.post("/v1/documents", json={"name": "FAQ", "content": "Q: why? A: because."})
    assert created.status_code == 200
    document = created.json()
    assert document["type"] == "text" and document["usedBy"] == []
    doc_id = document["id"]
    assert api.get(f"/v1/documents/{doc_id}").json()["content"] == "Q: why? A: because."
    patched = api.request("PATCH", f"/v1/documents/{doc_id}", json={"name": "FAQ v2"})
    assert patched.status_code == 204 and patched.content == b""
    listed = api.get("/v1/documents", params={"limit": 10, "order": "desc", "sort": "createdAt"})
    assert [d["name"] for d in listed.json()["data"]] == ["FAQ v2"]
    assert "content" not in listed.json()["data"][0]
    assert api.post("/v1/documents", json={"name": "x"}).status_code == 400
    assert api.get("/v1/documents", params={"order": "desc"}).status_code == 400
    assert api.delete(f"/v1/documents/{doc_id}").status_code == 204
    assert api.get(f"/v1/documents/{doc_id}").status_code == 404


def test_avatars_crud(api: Api, clock: ManualClock) -> None:
    doc_id = api.post("/v1/documents", json={"name": "bio", "content": "A guide."}).json()["id"]
    body = {
        "name": "Guide",
        "personality": "Friendly and brief.",
        "referenceImage": IMG_URL,
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
        "documentIds": [doc_id],
    }
    created = api.post("/v1/avatars", json=body)
    assert created.status_code == 200, created.text
    avatar = created.json()
    assert avatar["status"] == "PROCESSING"
    assert avatar["voice"]["presetId"] == "clara" and avatar["voice"]["name"] == "Clara"
    clock.advance(api.emulator.config.avatar_seconds)
    assert api.get(f"/v1/avatars/{avatar['id']}").json()["status"] == "READY"
    used = api.get(f"/v1/documents/{doc_id}").json()["usedBy"]
    assert [(u["id"], u["name"]) for u in used] == [(avatar["id"], "Guide")]
    assert api.get(used[0]["imageUrl"]).status_code == 200  # the avatar's processed image
    updated = api.request("PATCH", f"/v1/avatars/{avatar['id']}", json={"name": "Guide 2"})
    assert updated.json()["name"] == "Guide 2" and updated.json()["status"] == "READY"
    pages = api.get("/v1/avatars", params={"limit": 1}).json()
    assert len(pages["data"]) == 1 and pages["nextCursor"] is None
    bad = api.post(
        "/v1/avatars", json={**body, "voice": {"type": "runway-live-preset", "presetId": "nobody"}}
    )
    assert bad.status_code == 400
    assert bad.json()["issues"][0]["path"] == ["voice", "presetId"]
    missing_doc = api.post("/v1/avatars", json={**body, "documentIds": ["nope"]})
    assert missing_doc.status_code == 400
    assert api.delete(f"/v1/avatars/{avatar['id']}").status_code == 204
    assert api.get(f"/v1/avatars/{avatar['id']}").status_code == 404
    usage = api.get("/v1/avatar_usage", params={"startDate": "2026-01-01", "endDate": "2026-01-03"})
    assert usage.json()["totalSessions"] == 0 and len(usage.json()["byDay"]) == 2  # end excluded


def test_avatar_list_pages(api: Api) -> None:
    body = {
        "name": "A",
        "personality": "p",
        "referenceImage": IMG_URL,
        "voice": {"type": "runway-live-preset", "presetId": "max"},
    }
    for index in range(3):
        api.post("/v1/avatars", json={**body, "name": f"A{index}"})
    first = api.get("/v1/avatars", params={"limit": 2}).json()
    second = api.get("/v1/avatars", params={"limit": 2, "cursor": first["nextCursor"]}).json()
    names = [a["name"] for a in first["data"] + second["data"]]
    assert sorted(names) == ["A0", "A1", "A2"] and second["nextCursor"] is None


# ---------------------------------------------------------------------- ledger and admin


def test_ledger_counts_duplicates_and_credits(api: Api, clock: ManualClock) -> None:
    api.create("text_to_image", T2I)
    api.create("text_to_image", T2I)
    api.create("text_to_image", {**T2I, "promptText": "another"})
    ledger = api.emulator.ledger()
    assert len(ledger) == 3
    assert list(ledger.duplicates().values()) == [2]
    assert ledger.billed_credits() == 0 and ledger.charged_credits() == 24
    clock.advance(DAY / 4)
    ledger = api.emulator.ledger()
    assert ledger.billed_credits() == 24
    assert [e.seq for e in ledger] == [1, 2, 3]
    over_http = api.get("/_emulator/ledger").json()
    assert over_http["tasks"] == 3 and over_http["billedCredits"] == 24
    assert list(over_http["duplicates"].values()) == [2]
    assert over_http["entries"][0]["requestHash"] == ledger[0].request_hash


def test_admin_faults_and_clock(api: Api, clock: ManualClock) -> None:
    api.client.headers.clear()
    plan = {"seed": 7, "rules": [{"fault": "unavailable", "on": "create", "nth": [1]}]}
    assert api.post("/_emulator/faults", json=plan).json()["rules"][0]["fault"] == "unavailable"
    assert api.post("/_emulator/faults", json={"rules": [{"fault": "nope"}]}).status_code == 400
    api.client.headers.update(api.emulator.headers)
    assert api.post("/v1/text_to_image", json=T2I).status_code == 503
    assert api.post("/v1/text_to_image", json=T2I).status_code == 200
    fired = api.get("/_emulator/faults/fired").json()["fired"]
    assert [f["requestClass"] for f in fired] == ["create"]
    assert api.delete("/_emulator/faults").json() == {"seed": 0, "rules": []}
    before = clock()
    assert api.post("/_emulator/clock", json={"advance": 30}).status_code == 200
    assert clock() == before + 30
    state = api.get("/_emulator/state").json()
    assert state["tasks"] == 1 and state["tier"] == 1


def test_clock_cannot_move_on_the_wall_clock() -> None:
    with Emulator() as emulator:
        api = Api(emulator)
        try:
            assert api.post("/_emulator/clock", json={"advance": 1}).status_code == 409
        finally:
            api.close()


def test_ids_are_unique_across_instances_with_the_same_seed() -> None:
    """A journal resumed against a restarted emulator must never poll another task."""
    ids: list[list[str]] = []
    for _ in range(2):
        with Emulator(EmulatorConfig(seed=42), clock=ManualClock()) as emulator:
            api = Api(emulator)
            try:
                tasks = [api.create("text_to_image", T2I) for _ in range(3)]
                upload = api.post("/v1/uploads", json={"filename": "a.png"}).json()
                ids.append([*tasks, upload["runwayUri"].split("/")[3]])
            finally:
                api.close()
    assert not set(ids[0]) & set(ids[1])
    for made in ids:
        assert len(set(made)) == len(made)
        assert all(uuid.UUID(value).version == 4 for value in made)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(speed=0)
    with pytest.raises(ValueError):
        Emulator(EmulatorConfig(tier=9))


def test_version_constant() -> None:
    assert API_VERSION == "2024-11-06"
