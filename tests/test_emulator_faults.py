"""Fault injection, on both transports: in process (``httpx.ASGITransport``) and over a real
uvicorn server on a loopback port.  Each fault must look to the client as it would from a real
server, and the ledger must show whether the request was processed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runway_plan.emulator import (
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    Fault,
    FaultPlan,
    FaultRule,
    create_app,
)
from runway_plan.emulator.faults import request_class

T2I = {"model": "gen4_image", "promptText": "a red fox", "ratio": "1920:1080"}
I2V = {
    "model": "gen4.5",
    "promptImage": "https://example.com/still.png",
    "promptText": "slow dolly in",
    "ratio": "1280:720",
    "duration": 5,
}


class Target:
    """An emulator reachable in process or over uvicorn, with an async client factory."""

    def __init__(self, kind: str, faults: FaultPlan) -> None:
        self.kind = kind
        self.emulator = Emulator(EmulatorConfig(speed=1000, tier=5), faults=faults)
        self.app = create_app(self.emulator)
        self.server = EmulatorServer(self.app).start() if kind == "uvicorn" else None

    def client(self, timeout: float = 5.0) -> httpx.AsyncClient:
        if self.server is not None:
            return httpx.AsyncClient(
                base_url=self.server.base_url, headers=self.emulator.headers, timeout=timeout
            )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://emulator.test",
            headers=self.emulator.headers,
            timeout=timeout,
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.emulator.close()


@pytest.fixture(params=["asgi", "uvicorn"])
def target(request: pytest.FixtureRequest) -> Iterator[Any]:
    made: list[Target] = []

    def build(*rules: FaultRule, seed: int = 0) -> Target:
        made.append(Target(request.param, FaultPlan(list(rules), seed=seed)))
        return made[-1]

    yield build
    for item in made:
        item.close()


async def _post(target: Target, path: str, body: Any, timeout: float = 5.0) -> httpx.Response:
    async with target.client(timeout) as client:
        return await client.post(path, json=body)


def post(target: Target, path: str, body: Any, timeout: float = 5.0) -> httpx.Response:
    return asyncio.run(_post(target, path, body, timeout))


def get(target: Target, path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        async with target.client() as client:
            return await client.get(path)

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("fault", "status", "ctype", "fragment"),
    [
        (Fault.RATE_LIMIT, 429, "application/json", "Too many requests"),
        (Fault.BAD_GATEWAY, 502, "text/html", "502 Bad Gateway"),
        (Fault.UNAVAILABLE, 503, "application/json", "temporarily unavailable"),
        (Fault.GATEWAY_TIMEOUT, 504, "text/html", "504 Gateway Time-out"),
    ],
)
def test_status_faults(target: Any, fault: Fault, status: int, ctype: str, fragment: str) -> None:
    emulated = target(FaultRule(fault, nth=(1,)))
    response = post(emulated, "/v1/text_to_image", T2I)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(ctype)
    assert fragment in response.text
    if ctype == "application/json":
        assert "error" in response.json()
    assert len(emulated.emulator.ledger()) == 0
    assert post(emulated, "/v1/text_to_image", T2I).status_code == 200
    assert len(emulated.emulator.ledger()) == 1


def test_retry_after_header(target: Any) -> None:
    emulated = target(FaultRule(Fault.RATE_LIMIT, nth=(1,), retry_after=2))
    response = post(emulated, "/v1/text_to_image", T2I)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"


def test_processed_gateway_timeout_creates_the_task(target: Any) -> None:
    emulated = target(FaultRule(Fault.GATEWAY_TIMEOUT, nth=(1,), processed=True))
    assert post(emulated, "/v1/text_to_image", T2I).status_code == 504
    assert len(emulated.emulator.ledger()) == 1


def test_reset_before_processing(target: Any) -> None:
    emulated = target(FaultRule(Fault.RESET, nth=(1,)))
    with pytest.raises(httpx.TransportError) as caught:
        post(emulated, "/v1/text_to_image", T2I)
    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError | httpx.WriteError)
    assert len(emulated.emulator.ledger()) == 0
    assert post(emulated, "/v1/text_to_image", T2I).status_code == 200


def test_lost_response_creates_the_task(target: Any) -> None:
    emulated = target(FaultRule(Fault.LOST_RESPONSE, nth=(1,)))
    with pytest.raises(httpx.TransportError) as caught:
        post(emulated, "/v1/text_to_image", T2I)
    assert isinstance(caught.value, httpx.RemoteProtocolError | httpx.ReadError)
    ledger = emulated.emulator.ledger()
    assert len(ledger) == 1
    assert ledger[0].fault == "lost_response"
    assert emulated.emulator.balance == 10_000 - 8
    retried = post(emulated, "/v1/text_to_image", T2I)
    assert retried.status_code == 200
    assert list(emulated.emulator.ledger().duplicates().values()) == [2]


def test_slow_response(target: Any) -> None:
    emulated = target(FaultRule(Fault.SLOW, nth=(1, 2), delay=0.3))
    if emulated.kind == "uvicorn":
        with pytest.raises(httpx.ReadTimeout):
            post(emulated, "/v1/text_to_image", T2I, timeout=0.1)
        assert len(emulated.emulator.ledger()) == 1
    loop = asyncio.new_event_loop()
    try:
        started = loop.time()
        response = loop.run_until_complete(_post(emulated, "/v1/text_to_image", T2I))
        assert loop.time() - started >= 0.3
    finally:
        loop.close()
    assert response.status_code == 200


def test_faults_on_other_request_classes(target: Any) -> None:
    emulated = target(
        FaultRule(Fault.UNAVAILABLE, on="task", nth=(1,)),
        FaultRule(Fault.BAD_GATEWAY, on="organization", nth=(2,)),
    )
    task_id = post(emulated, "/v1/text_to_image", T2I).json()["id"]
    assert get(emulated, f"/v1/tasks/{task_id}").status_code == 503
    assert get(emulated, f"/v1/tasks/{task_id}").status_code == 200
    assert get(emulated, "/v1/organization").status_code == 200
    assert get(emulated, "/v1/organization").status_code == 502
    assert get(emulated, "/_emulator/ledger").status_code == 200


def test_model_filter_and_limit(target: Any) -> None:
    emulated = target(FaultRule(Fault.UNAVAILABLE, model="gen4.5", probability=1.0, limit=2))
    assert post(emulated, "/v1/text_to_image", T2I).status_code == 200
    assert post(emulated, "/v1/image_to_video", I2V).status_code == 503
    assert post(emulated, "/v1/image_to_video", I2V).status_code == 503
    assert post(emulated, "/v1/image_to_video", I2V).status_code == 200


def test_the_third_create_returns_503(target: Any) -> None:
    emulated = target(FaultRule(Fault.UNAVAILABLE, nth=(3,)))
    codes = [post(emulated, "/v1/text_to_image", T2I).status_code for _ in range(4)]
    assert codes == [200, 200, 503, 200]


def _sequence(seed: int, requests: int = 40) -> list[str | None]:
    plan = FaultPlan(
        [
            FaultRule(Fault.UNAVAILABLE, probability=0.2),
            FaultRule(Fault.RATE_LIMIT, probability=0.2),
            FaultRule(Fault.RESET, on="task", probability=0.3),
        ],
        seed=seed,
    )
    out = []
    for index in range(requests):
        kind = "create" if index % 2 else "task"
        rule = plan.decide(kind)
        out.append(rule.fault.value if rule else None)
    return out


def test_random_faults_are_deterministic_by_seed() -> None:
    assert _sequence(1) == _sequence(1)
    assert _sequence(1) != _sequence(2)
    assert any(_sequence(1)) and None in _sequence(1)


def test_scripted_counts_are_per_rule() -> None:
    plan = FaultPlan(
        [
            FaultRule(Fault.UNAVAILABLE, nth=(1,)),
            FaultRule(Fault.RATE_LIMIT, nth=(1, 2)),
        ]
    )
    fired = [plan.decide("create") for _ in range(3)]
    assert [r.fault if r else None for r in fired] == [
        Fault.UNAVAILABLE,
        Fault.RATE_LIMIT,
        None,
    ]
    assert [f.request for f in plan.fired] == [1, 2]


def test_fault_plan_round_trips_through_json() -> None:
    plan = FaultPlan(
        [
            FaultRule(Fault.TASK_FAILED, failure_code="SAFETY.INPUT.TEXT", probability=0.5),
            FaultRule(Fault.SLOW, on="any", nth=(2, 4), delay=0.5),
        ],
        seed=9,
    )
    again = FaultPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.to_dict() == plan.to_dict()
    with pytest.raises(ValueError):
        FaultPlan.from_dict({"rules": [{"fault": "slow", "when": "never"}]})
    with pytest.raises(ValueError):
        FaultRule(Fault.SLOW, on="somewhere")
    with pytest.raises(ValueError):
        FaultRule(Fault.TASK_FAILED, on="task")
    with pytest.raises(ValueError):
        FaultRule(Fault.AVATAR_FAILED, on="create")
    with pytest.raises(ValueError):
        FaultRule(Fault.SLOW, probability=2)


def test_avatar_failed_fires_on_writes_only() -> None:
    plan = FaultPlan(rules=[FaultRule(Fault.AVATAR_FAILED, on="avatar", nth=(1,))])
    assert plan.decide("avatar", "GET", "/v1/avatars/a") is None  # a read is not counted
    fired = plan.decide("avatar", "POST", "/v1/avatars")
    assert fired is not None and fired.failure_reason
    assert plan.decide("avatar", "PATCH", "/v1/avatars/a") is None  # only the first write


def test_request_classes() -> None:
    endpoints = ["text_to_image"]
    assert request_class("POST", "/v1/text_to_image", endpoints) == "create"
    assert request_class("GET", "/v1/tasks/x", endpoints) == "task"
    assert request_class("DELETE", "/v1/tasks/x", endpoints) == "cancel"
    assert request_class("GET", "/v1/organization", endpoints) == "organization"
    assert request_class("POST", "/v1/organization/usage", endpoints) == "usage"
    assert request_class("POST", "/v1/uploads", endpoints) == "upload"
    assert request_class("POST", "/_uploads/x", endpoints) == "upload_file"
    assert request_class("GET", "/_files/x/0.png", endpoints) == "file"
    assert request_class("GET", "/v1/avatars", endpoints) == "avatar"
    assert request_class("GET", "/v1/documents/x", endpoints) == "document"
    assert request_class("PATCH", "/v1/routers/x", endpoints) == "router"
    assert request_class("GET", "/_emulator/ledger", endpoints) is None
