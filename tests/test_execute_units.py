"""Units of the executor: the HTTP client on a mock transport, the journal, fingerprints,
the store and the failure policy."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.execute import KEY, graph_of, write_spec

from runway_plan.diagnostics.issue import Issue
from runway_plan.execute import RetryPolicy, RunwayClient, State, StateLocked, StepStatus
from runway_plan.execute.client import (
    ApiError,
    AuthenticationFailed,
    NotSent,
    OutcomeUnknown,
    RequestRejected,
    TaskNotFound,
    TransferFailed,
    Unavailable,
    UrlExpired,
)
from runway_plan.execute.fingerprint import Fingerprinter, OutputRef, request_sha256
from runway_plan.execute.policy import decide, retry_on_rerun
from runway_plan.execute.store import Store

# ---------------------------------------------------------------------- client


def _client(
    handler: Callable[[httpx.Request], httpx.Response], sleeps: list[float] | None = None
) -> tuple[RunwayClient, httpx.AsyncClient]:
    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = RunwayClient(
        http, api_key=KEY, base_url="https://api.test", retry=RetryPolicy(), sleep=sleep
    )
    return client, http


def _call(client: RunwayClient, http: httpx.AsyncClient, coro: Callable[[], Any]) -> Any:
    async def main() -> Any:
        async with http:
            return await coro()

    return asyncio.run(main())


def _sequence(*answers: Any) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(answers)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def test_create_sends_once_and_reads_the_estimate() -> None:
    handler = _sequence(httpx.Response(200, json={"id": "t1", "estimatedCost": {"credits": 25}}))
    client, http = _client(handler)
    created = _call(client, http, lambda: client.create("image_to_video", {"model": "m"}))
    assert created.task_id == "t1" and created.estimated == Decimal(25)
    request = handler.seen[0]  # type: ignore[attr-defined]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-runway-version"] == "2024-11-06"
    assert json.loads(request.content) == {"model": "m"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.ConnectError("refused"), NotSent),
        (httpx.ConnectTimeout("slow"), NotSent),
        (httpx.Response(429, headers={"retry-after": "7"}), NotSent),
        (httpx.Response(503, json={"error": "shedding"}), NotSent),
        (httpx.ReadError("reset"), OutcomeUnknown),
        (httpx.ReadTimeout("slow"), OutcomeUnknown),
        (httpx.RemoteProtocolError("closed"), OutcomeUnknown),
        (httpx.Response(500, json={"error": "boom"}), OutcomeUnknown),
        (httpx.Response(502, text="<html>bad gateway</html>"), OutcomeUnknown),
        (httpx.Response(504, text="<html>timeout</html>"), OutcomeUnknown),
        (httpx.Response(200, json={"nope": 1}), OutcomeUnknown),
        (httpx.Response(401, json={"error": "Invalid API key."}), AuthenticationFailed),
        (httpx.Response(400, json={"error": "bad"}), RequestRejected),
    ],
)
def test_create_errors_are_classified_and_never_retried(answer: Any, error: type) -> None:
    handler = _sequence(answer)
    client, http = _client(handler)
    with pytest.raises(error) as caught:
        _call(client, http, lambda: client.create("text_to_image", {"model": "m"}))
    assert len(handler.seen) == 1  # type: ignore[attr-defined]
    assert KEY not in str(caught.value)
    if isinstance(answer, httpx.Response) and answer.status_code == 429:
        assert caught.value.retry_after == 7  # type: ignore[attr-defined]


def test_rejections_carry_the_api_message_and_issues() -> None:
    body = {"error": "Invalid request: ratio", "issues": [{"path": ["ratio"], "message": "no"}]}
    client, http = _client(_sequence(httpx.Response(400, json=body)))
    with pytest.raises(RequestRejected) as caught:
        _call(client, http, lambda: client.create("text_to_image", {"model": "m"}))
    assert "Invalid request: ratio" in caught.value.message
    assert caught.value.issues == [Issue(("ratio",), "no")]


def test_polls_retry_transient_errors_with_backoff_and_retry_after() -> None:
    sleeps: list[float] = []
    handler = _sequence(
        httpx.Response(502, text="bad gateway"),
        httpx.ReadError("reset"),
        httpx.Response(429, headers={"retry-after": "3"}),
        httpx.Response(200, json={"id": "t", "status": "RUNNING", "progress": 0.5}),
    )
    client, http = _client(handler, sleeps)
    task = _call(client, http, lambda: client.task("t"))
    assert task["status"] == "RUNNING"
    assert len(sleeps) == 3
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # exponential, jittered
    assert sleeps[2] == 3  # Retry-After wins over a shorter backoff


def test_polls_give_up_after_the_policy_and_report_404() -> None:
    client, http = _client(_sequence(httpx.Response(503)))
    with pytest.raises(Unavailable):
        _call(client, http, lambda: client.task("t"))
    assert client.counts["task"] == RetryPolicy().attempts
    client, http = _client(_sequence(httpx.Response(404, json={"error": "Task not found."})))
    with pytest.raises(TaskNotFound):
        _call(client, http, lambda: client.task("t"))


@pytest.mark.parametrize(
    "recorded", ["../avatars/7b1e4c2a", "..", "x/../../organization", "id?x=1", "a#b", "", "é"]
)
def test_an_id_from_a_hostile_state_never_names_another_path(recorded: str) -> None:
    handler = _sequence(httpx.Response(200, json={"status": "SUCCEEDED"}))
    calls: list[Callable[[RunwayClient], Any]] = [
        lambda c: c.task(recorded),
        lambda c: c.cancel(recorded),
        lambda c: c.resource("avatar", recorded),
        lambda c: c.update_resource("document", recorded, {"name": "x"}),
        lambda c: c.delete_resource("voice", recorded),
        lambda c: c.task(f"workflow_invocations/{recorded}"),
    ]
    for call in calls:
        client, http = _client(handler)
        with pytest.raises(ApiError, match="is not one the API gives; nothing was sent"):
            _call(client, http, lambda: call(client))  # noqa: B023
    assert handler.seen == []  # type: ignore[attr-defined]
    client, http = _client(handler)
    assert _call(client, http, lambda: client.task("7b1e4c2a-5f3d-4e8b-9a61-2c0d8f4e7a11"))
    assert [r.url.path for r in handler.seen] == [  # type: ignore[attr-defined]
        "/v1/tasks/7b1e4c2a-5f3d-4e8b-9a61-2c0d8f4e7a11"
    ]


def test_retry_after_dates_and_millis() -> None:
    policy = RetryPolicy(base=0.01, max_retry_after=60)
    assert policy.delay(1, 120) == 60
    assert policy.delay(1, 2.5) == 2.5
    assert RetryPolicy(scale=100).delay(10) <= 0.3
    from runway_plan.execute.transport import retry_after as _retry_after

    assert _retry_after(httpx.Response(429, headers={"retry-after-ms": "1500"})) == 1.5
    assert _retry_after(httpx.Response(429, headers={"retry-after": "nonsense"})) is None


def test_downloads_verify_and_never_carry_the_key(tmp_path: Path) -> None:
    data = b"frame" * 100
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/bad-etag":
            return httpx.Response(200, content=data, headers={"etag": '"' + "0" * 32 + '"'})
        if request.url.path == "/gone":
            return httpx.Response(403, text="<Error>expired</Error>")
        return httpx.Response(200, content=data, headers={"etag": f'"{md5}"'})

    client, http = _client(handler)
    got = _call(
        client, http, lambda: client.download("https://cdn.test/a.png?sig=x", tmp_path / "a")
    )
    assert got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)
    assert (tmp_path / "a").read_bytes() == data
    assert all("authorization" not in r.headers for r in requests)
    client, http = _client(handler)
    with pytest.raises(UrlExpired):
        _call(client, http, lambda: client.download("https://cdn.test/gone", tmp_path / "b"))
    client, http = _client(handler)
    with pytest.raises(TransferFailed, match="ETag"):
        _call(client, http, lambda: client.download("https://cdn.test/bad-etag", tmp_path / "c"))


def test_uploads_send_the_form_then_the_file_without_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/uploads":
            return httpx.Response(
                200,
                json={
                    "uploadUrl": "https://bucket.test/up",
                    "fields": {"key": "k", "policy": "p"},
                    "runwayUri": "runway://uploads/1/a.png",
                },
            )
        return httpx.Response(204)

    client, http = _client(handler)
    uri = _call(client, http, lambda: client.upload("a.png", b"\x89PNG" * 200, "image/png"))
    assert uri == "runway://uploads/1/a.png"
    slot, target = seen
    assert json.loads(slot.content) == {"filename": "a.png", "type": "ephemeral"}
    assert "authorization" in slot.headers and "authorization" not in target.headers
    body = target.content
    assert body.index(b'name="key"') < body.index(b'name="file"')


# ---------------------------------------------------------------------- journal


def test_journal_transitions(tmp_path: Path) -> None:
    with State(tmp_path / "state") as state:
        assert state.version == 3  # 2 added the resource tables, 3 meta and stop requests
        run = state.begin_run(
            spec_path="s.yaml",
            spec_name="s",
            spec_sha256="0" * 64,
            catalog_version="c",
            catalog_digest="d",
            origin="https://api.test",
            planned_low=Decimal(1),
            planned_high=Decimal(2),
            options={},
        )
        row = state.ensure_step(
            fingerprint="f" * 64,
            key="a",
            step="a",
            endpoint="text_to_image",
            model="gen4_image",
            document="{}",
            output_count=1,
            run_id=run,
        )
        assert row.status is StepStatus.PENDING
        number = state.mark_submitting(
            row.id, run, request="{}", request_sha256="x", estimated=Decimal(5)
        )
        assert state.step_by_id(row.id).status is StepStatus.SUBMITTING
        state.mark_not_sent(row.id, number)
        assert state.step_by_id(row.id).status is StepStatus.PENDING
        assert state.attempts(row.id) == []
        number = state.mark_submitting(
            row.id, run, request="{}", request_sha256="x", estimated=Decimal(5)
        )
        state.mark_submitted(row.id, number, "task-1", Decimal(5))
        current = state.step_by_id(row.id)
        assert current.status is StepStatus.RUNNING and current.task_id == "task-1"
        state.mark_task_failed(
            row.id,
            number,
            status="FAILED",
            failure_code="INTERNAL",
            failure="x",
            billed=Decimal(0),
            final=False,
        )
        assert state.step_by_id(row.id).status is StepStatus.PENDING
        number = state.mark_submitting(
            row.id, run, request="{}", request_sha256="y", estimated=Decimal(5)
        )
        state.mark_submitted(row.id, number, "task-2", None)
        state.mark_task_succeeded(row.id, number, Decimal(5), ["https://cdn.test/0.png"])
        state.record_output(row.id, 0, sha256="a" * 64, size=3, ext="png", mime="image/png")
        state.mark_succeeded(row.id)
        done = state.step_by_id(row.id)
        assert done.status is StepStatus.SUCCEEDED and done.attempts == 2
        assert done.billed_credits == Decimal(5)
        assert [a.task_id for a in state.attempts(row.id)] == ["task-1", "task-2"]
    with State(tmp_path / "state") as again:
        assert again.step("f" * 64) is not None and again.version == 3


def test_a_process_killed_in_the_window_leaves_submitting(tmp_path: Path) -> None:
    with State(tmp_path / "state") as state:
        run = state.begin_run(
            spec_path="s",
            spec_name="s",
            spec_sha256="0",
            catalog_version="c",
            catalog_digest="d",
            origin="o",
            planned_low=None,
            planned_high=None,
            options={},
        )
        row = state.ensure_step(
            fingerprint="f",
            key="a",
            step="a",
            endpoint="e",
            model="m",
            document="{}",
            output_count=1,
            run_id=run,
        )
        state.mark_submitting(row.id, run, request="{}", request_sha256="x", estimated=None)
    with State(tmp_path / "state") as state:
        row2 = state.step("f")
        assert row2 is not None and row2.status is StepStatus.SUBMITTING
        state.mark_unknown(row2.id, None, "died")
        assert state.step("f").status is StepStatus.UNKNOWN  # type: ignore[union-attr]
        assert [a.status for a in state.attempts(row2.id)] == ["unknown"]


def test_the_lock_keeps_a_second_run_out_and_dies_with_its_process(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    with State(directory):
        with pytest.raises(StateLocked, match="pid"):
            State(directory)
        with State(directory, lock=False) as reader:
            assert reader.runs() == []
    code = textwrap.dedent(
        f"""
        import sys, time
        from runway_plan.execute import State
        State({str(directory)!r})
        print("locked", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(StateLocked):
            State(directory)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    State(directory).close()


# ---------------------------------------------------------------------- fingerprints

_PAIR = """\
version: 1
name: pair
steps:
  {a}:
    endpoint: text_to_image
    model: gen4_image
    promptText: "{prompt}"
    ratio: "1280:720"
  clip:
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@{a}"
    ratio: "1280:720"
  still:
    endpoint: text_to_image
    model: {model}
    promptText: "x"
    ratio: "1280:720"
    referenceImages: [{{uri: assets/product.png, tag: product}}]
"""


def _fingerprints(tmp_path: Path, name: str, **values: str) -> dict[str, str]:
    fields = {"a": "hero", "model": "gen4_image_turbo", "prompt": "A hero"} | values
    spec = write_spec(tmp_path / name, _PAIR.format(**fields))
    graph = graph_of(spec)
    maker = Fingerprinter(graph, "https://api.test")
    hashes = {OutputRef(fields["a"], 0): "1" * 64}
    return {
        "a": maker.fingerprint(fields["a"], {}),
        "clip": maker.fingerprint("clip", hashes),
        "still": maker.fingerprint("still", {}),
    }


def test_fingerprints_survive_renames_and_follow_content(tmp_path: Path) -> None:
    base = _fingerprints(tmp_path, "base")
    assert _fingerprints(tmp_path, "renamed", a="still_life") == base
    prompt = _fingerprints(tmp_path, "prompt", prompt="A villain")
    assert prompt["a"] != base["a"] and prompt["still"] == base["still"]
    assert prompt["clip"] == base["clip"]  # same upstream output hash, same clip
    model = _fingerprints(tmp_path, "model", model="gen4_image")
    assert model["still"] != base["still"] and model["a"] == base["a"]
    assets = tmp_path / "asset" / "assets"
    write_spec(tmp_path / "asset", "version: 1\nname: x\nsteps: {}\n", name="x.yaml")
    (assets / "product.png").write_bytes((assets / "product.png").read_bytes() + b"\0")
    changed = _fingerprints(tmp_path, "asset")
    assert changed["still"] != base["still"] and changed["a"] == base["a"]


def test_fingerprints_need_upstream_hashes_and_depend_on_them(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "s", _PAIR.format(a="hero", model="gen4_image_turbo", prompt="p"))
    maker = Fingerprinter(graph_of(spec), "https://api.test")
    with pytest.raises(KeyError):
        maker.fingerprint("clip", {})
    one = maker.fingerprint("clip", {OutputRef("hero", 0): "1" * 64})
    two = maker.fingerprint("clip", {OutputRef("hero", 0): "2" * 64})
    assert one != two
    assert Fingerprinter(graph_of(spec), "http://emulator").fingerprint("hero", {}) != (
        maker.fingerprint("hero", {})
    )


def test_request_hash_matches_the_emulators_ledger() -> None:
    body = {"model": "gen4_image", "promptText": "é", "ratio": "1280:720"}
    text = json.dumps(
        {"endpoint": "text_to_image", "body": body}, sort_keys=True, separators=(",", ":")
    )
    assert request_sha256("text_to_image", body) == hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------- store


def test_store_places_links_without_overwriting(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    scratch = store.scratch()
    scratch.write_bytes(b"content")
    digest = hashlib.sha256(b"content").hexdigest()
    stored = store.ingest(scratch, digest)
    assert stored == store.path(digest) and store.verify(digest)
    assert not os.access(stored, os.W_OK) or os.geteuid() == 0
    target = tmp_path / "outputs" / "a" / "0.png"
    assert store.place(digest, target, lambda p: False).how == "created"
    assert store.place(digest, target, lambda p: False).how == "present"
    other = tmp_path / "outputs" / "b" / "0.png"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"user's")
    placed = store.place(digest, other, lambda p: False)
    assert placed.how == "beside" and other.read_bytes() == b"user's"
    assert placed.path.read_bytes() == b"content" and placed.path.name == f"0.{digest[:12]}.png"
    replaced = store.place(digest, other, lambda p: True)
    assert replaced.how == "replaced" and other.read_bytes() == b"content"


def test_a_verified_store_file_is_not_hashed_again_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from runway_plan.execute import store as stores

    store = Store(tmp_path / "store")
    scratch = store.scratch()
    scratch.write_bytes(b"content")
    digest = hashlib.sha256(b"content").hexdigest()
    stored = store.ingest(scratch, digest)
    assert store.verify(digest) and store.verified == {}  # changed just now: not remembered
    monkeypatch.setattr(stores, "SETTLED_NS", 0)
    assert store.verify(digest) and set(store.verified) == {digest}
    with State(tmp_path / "state") as state:
        state.remember_seen(store.verified)
        seen = state.seen_files(10)
    assert seen == store.verified

    hashed: list[Path] = []
    hasher = stores.sha256_file

    def counted(path: Path) -> str:
        hashed.append(path)
        return hasher(path)

    monkeypatch.setattr(stores, "sha256_file", counted)
    again = Store(tmp_path / "store", seen)
    assert again.verify(digest) and hashed == []  # unchanged: trusted without hashing
    time.sleep(0.05)  # past the file system's clock tick
    before = os.lstat(stored)
    stored.chmod(0o644)
    stored.write_bytes(b"CONTENT")  # same size, other bytes, the old times put back
    os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert not again.verify(digest) and hashed == [stored]  # its change time moved
    assert not Store(tmp_path / "store", {digest: (0, 0, 0, 0, 0)}).verify(digest)


# ---------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("code", "retry"),
    [
        ("SAFETY.INPUT.TEXT", False),
        ("SAFETY.OUTPUT.VIDEO", False),
        ("INPUT_PREPROCESSING.SAFETY.TEXT", False),
        ("INTERNAL.BAD_OUTPUT.CODE01", False),
        ("ASSET.INVALID", False),
        ("INPUT_PREPROCESSING.INTERNAL", True),
        ("THIRD_PARTY.UNAVAILABLE", True),
        ("INTERNAL", True),
        (None, True),
        ("SOMETHING.NEW", True),
    ],
)
def test_failure_policy(code: str | None, retry: bool) -> None:
    assert decide(code, 1, 3).retry is retry
    assert retry_on_rerun(code) is retry
    assert not decide(code, 3, 3).retry


def test_third_party_outages_wait_longer() -> None:
    assert decide("THIRD_PARTY.UNAVAILABLE", 1, 3).delay > decide("INTERNAL", 1, 3).delay
    assert decide("INTERNAL", 2, 3).delay == 2 * decide("INTERNAL", 1, 3).delay
