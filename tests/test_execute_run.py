"""The executor against the emulator in process: runs, reuse, failures, faults, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from support.execute import (
    Harness,
    copy_specs,
    emulator,
    graph_of,
    sha256,
    write_spec,
)

from runway_plan.emulator import Fault, FaultPlan, FaultRule, create_app
from runway_plan.execute import Execution, Outcome, State, StepStatus, reusable

SMALL = """\
version: 1
name: small
tier: 2
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "A lighthouse at dawn"
    ratio: "1280:720"
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
    promptText: "Welcome to the lighthouse."
    voice: {type: runway-preset, presetId: Maya}
  dub:
    endpoint: voice_dubbing
    model: eleven_voice_dubbing
    audioUri: "@voiceover"
    targetLang: es
"""


def _harness(tmp_path: Path, **config: Any) -> Harness:
    return Harness(emulator(**config), tmp_path / "state", tmp_path / "outputs")


def _outcomes(result: Any) -> dict[str, str]:
    return {key: item.outcome.value for key, item in result.generations.items()}


def _codes(result: Any) -> list[str]:
    return [d.code for d in result.diagnostics]


def test_launch_runs_then_reuses_everything(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    graph = graph_of(copy_specs(tmp_path) / "launch.yaml")
    first = h.run(graph)
    assert first.exit_code == 0, first.diagnostics
    assert set(_outcomes(first).values()) == {"generated"}
    assert first.throttled == 0
    ledger = h.emu.ledger()
    assert len(ledger) == 6 and not ledger.duplicates()
    for item in first.generations.values():
        assert item.outputs and item.billed is not None
        for out in item.outputs:
            assert out.path is not None and sha256(Path(out.path)) == out.sha256
    assert (tmp_path / "outputs" / "shot" / "2.mp4").is_file()
    assert sum(g.billed_this_run for g in first.generations.values()) == ledger.billed_credits()
    manifest = json.loads(first.manifest.read_text())  # type: ignore[union-attr]
    assert manifest["generations"][0]["attempts"][0]["taskId"] == ledger[0].task_id

    creates = h.creates()
    second = h.run(graph)
    assert second.exit_code == 0
    assert set(_outcomes(second).values()) == {"reused"}
    assert h.creates() == creates and second.requests == {}
    assert len(h.emu.ledger()) == 6


def test_edits_regenerate_only_changed_steps_and_dependants(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)
    first = h.run(graph_of(spec))
    assert first.exit_code == 0

    renamed = SMALL.replace("hero:", "still:").replace('"@hero"', '"@still"')
    spec.write_text(renamed.replace("Welcome to the lighthouse.", "Welcome aboard."))
    edited = graph_of(spec)
    preview = reusable(edited, tmp_path / "state", base_url=h.base_url)
    assert preview["still"].reusable and preview["shot[0]"].reusable
    assert not preview["voiceover"].reusable
    assert preview["voiceover"].reason == "promptText changed"
    assert not preview["dub"].reusable and preview["dub"].fingerprint is None

    second = h.run(edited)
    assert _outcomes(second) == {
        "still": "reused",
        "shot[0]": "reused",
        "shot[1]": "reused",
        "voiceover": "generated",
        "dub": "generated",
    }
    assert second.generations["dub"].reason.startswith("upstream output changed (audioUri)")
    assert len(h.emu.ledger()) == 5 + 2
    assert (tmp_path / "outputs" / "still" / "0.png").is_file()


def test_twins_in_a_fan_out_are_separate_generations(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(
        tmp_path / "spec",
        """\
        version: 1
        name: twins
        steps:
          take:
            for_each: [1, 2, 3]
            endpoint: text_to_image
            model: gen4_image_turbo
            promptText: "The same prompt every time"
            ratio: "1280:720"
            referenceImages: [{uri: assets/product.png, tag: product}]
        """,
    )
    result = h.run(graph_of(spec))
    assert result.exit_code == 0
    assert len({g.fingerprint for g in result.generations.values()}) == 3
    assert len(h.emu.ledger()) == 3


def test_failure_codes_follow_the_policy(tmp_path: Path) -> None:
    faults = FaultPlan(
        rules=[
            FaultRule(Fault.TASK_FAILED, model="gen4_image", nth=(1,), failure_code="INTERNAL"),
            FaultRule(
                Fault.TASK_FAILED,
                model="eleven_multilingual_v2",
                nth=(1,),
                failure_code="SAFETY.INPUT.TEXT",
            ),
        ]
    )
    h = _harness(tmp_path, faults=faults)
    result = h.run(graph_of(write_spec(tmp_path / "spec", SMALL)))
    outcomes = _outcomes(result)
    assert outcomes["hero"] == "generated" and outcomes["shot[1]"] == "generated"
    assert outcomes["voiceover"] == "failed" and outcomes["dub"] == "skipped"
    assert result.exit_code == 1
    assert "RP501" in _codes(result) and "RP503" in _codes(result)
    hero = result.generations["hero"]
    assert hero.attempts == 2 and len(hero.task_ids) == 2
    voice = result.generations["voiceover"]
    assert voice.attempts == 1 and voice.failure_code == "SAFETY.INPUT.TEXT"
    ledger = {e.task_id: e for e in h.emu.ledger()}
    assert ledger[hero.task_ids[0]].billed_credits == 0  # refunded
    assert voice.billed == ledger[voice.task_ids[0]].billed_credits > 0  # not refunded
    dub = next(d for d in result.diagnostics if d.code == "RP503")
    assert dub.span is not None and "dub" in dub.message

    again = h.run(graph_of(tmp_path / "spec" / "spec.yaml"))
    assert _outcomes(again)["voiceover"] == "failed"
    assert len(h.emu.ledger()) == 5  # SAFETY.INPUT is not sent again
    forced = h.run(graph_of(tmp_path / "spec" / "spec.yaml"), retry_failed=True)
    assert forced.exit_code == 0 and len(h.emu.ledger()) == 7


class _Rewriting(httpx.AsyncBaseTransport):
    """Answers creates of one endpoint with a fixed response; the rest goes to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str, response: httpx.Response):
        self.inner, self.path, self.response = inner, path, response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == self.path:
            return httpx.Response(
                self.response.status_code,
                content=self.response.content,
                headers=self.response.headers,
            )
        return await self.inner.handle_async_request(request)


def test_a_rejected_request_fails_fast_at_its_field(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)
    body = {
        "error": "Invalid request: promptText is not allowed here",
        "issues": [{"path": ["promptText"], "message": "promptText is not allowed here"}],
    }
    transport = _Rewriting(
        httpx.ASGITransport(app=create_app(h.emu)),
        "/v1/text_to_speech",
        httpx.Response(400, json=body),
    )
    result = h.run(graph_of(spec), transport=transport)
    assert _outcomes(result)["voiceover"] == "failed"
    assert _outcomes(result)["hero"] == "generated"
    rejected = next(d for d in result.diagnostics if d.code == "RP500")
    assert "promptText is not allowed here" in rejected.message
    assert rejected.span is not None and rejected.span.line == 21  # promptText of voiceover
    assert h.emu.ledger().for_model("eleven_multilingual_v2") == []


def test_a_refused_key_stops_submitting(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)
    transport = _Rewriting(
        httpx.ASGITransport(app=create_app(h.emu)),
        "/v1/text_to_image",
        httpx.Response(401, json={"error": "Invalid API key."}),
    )
    result = h.run(graph_of(spec), transport=transport)
    assert result.exit_code == 1
    assert any(d.code == "RP500" and "refused the key" in d.message for d in result.diagnostics)
    assert _outcomes(result)["hero"] == "failed"


def test_lost_create_is_reported_and_resubmitted_only_on_request(tmp_path: Path) -> None:
    faults = FaultPlan(rules=[FaultRule(Fault.LOST_RESPONSE, model="gen4_image", nth=(1,))])
    h = _harness(tmp_path, faults=faults)
    spec = write_spec(tmp_path / "spec", SMALL)
    first = h.run(graph_of(spec))
    assert _outcomes(first)["hero"] == "unknown"
    assert _outcomes(first)["shot[0]"] == "skipped" and _outcomes(first)["dub"] == "generated"
    unknown = next(d for d in first.diagnostics if d.code == "RP502")
    assert "up to 5 credits" in unknown.message and unknown.span is not None
    assert len(h.emu.ledger().for_model("gen4_image")) == 1  # the lost create made a task

    again = h.run(graph_of(spec))
    assert _outcomes(again)["hero"] == "unknown"
    assert len(h.emu.ledger().for_model("gen4_image")) == 1

    resubmitted = h.run(graph_of(spec), resubmit_unknown=True)
    assert resubmitted.exit_code == 0
    assert len(h.emu.ledger().for_model("gen4_image")) == 2
    with State(tmp_path / "state", lock=False) as state:
        row = state.step(resubmitted.generations["hero"].fingerprint or "")
        assert row is not None
        statuses = [a.status for a in state.attempts(row.id)]
    assert statuses == ["abandoned", "SUCCEEDED"]


def test_transient_errors_are_retried_without_paying_twice(tmp_path: Path) -> None:
    faults = FaultPlan(
        seed=7,
        rules=[
            # The first of each kind fires for sure (nth), the rest at random.
            FaultRule(Fault.RATE_LIMIT, on="create", probability=0.3, nth=(1,), retry_after=0.01),
            FaultRule(Fault.UNAVAILABLE, on="create", probability=0.2),
            FaultRule(Fault.BAD_GATEWAY, on="task", probability=0.2, nth=(1,)),
            FaultRule(Fault.UNAVAILABLE, on="task", probability=0.1),
            FaultRule(Fault.RESET, on="task", probability=0.1),
            FaultRule(Fault.RESET, on="file", probability=0.2, nth=(1,)),
            FaultRule(Fault.GATEWAY_TIMEOUT, on="file", probability=0.1),
        ],
    )
    h = _harness(tmp_path, faults=faults)
    # About 44% of creates fail (429 or 503) in an order that depends on timing: 20 tries
    # each make exhausting them (a correct RP510) a one-in-millions event, not a flake.
    result = h.run(graph_of(write_spec(tmp_path / "spec", SMALL)), retry_attempts=20)
    assert result.exit_code == 0, result.diagnostics
    ledger = h.emu.ledger()
    assert len(ledger) == 5 and not ledger.duplicates()
    fired = {f.rule.fault for f in h.emu.faults.fired}
    assert {Fault.RATE_LIMIT, Fault.BAD_GATEWAY, Fault.RESET} <= fired


def test_a_gateway_error_on_a_create_is_not_retried(tmp_path: Path) -> None:
    faults = FaultPlan(
        rules=[FaultRule(Fault.GATEWAY_TIMEOUT, model="gen4_image", nth=(1,), processed=True)]
    )
    h = _harness(tmp_path, faults=faults)
    result = h.run(graph_of(write_spec(tmp_path / "spec", SMALL)))
    assert _outcomes(result)["hero"] == "unknown"
    assert len(h.emu.ledger().for_model("gen4_image")) == 1


def test_concurrency_never_provokes_throttling(tmp_path: Path) -> None:
    h = _harness(tmp_path, tier=1)
    spec = write_spec(
        tmp_path / "spec",
        """\
        version: 1
        name: wide
        tier: 1
        steps:
          frame:
            for_each: [a, b, c, d, e, f, g, h, i, j]
            endpoint: text_to_image
            model: gen4_image
            promptText: "Frame {{ item }}"
            ratio: "1280:720"
        """,
    )
    peak = 0

    def watch(execution: Execution) -> None:
        def on_event(event: Any) -> None:
            nonlocal peak
            h.events.append(event)
            peak = max(peak, h.emu.tasks_in_flight("gen4_image"))

        execution.on_event = on_event

    result = h.run(graph_of(spec), on_start=watch)
    assert result.exit_code == 0
    assert result.throttled == 0
    assert all(e.status != "THROTTLED" for e in h.emu.ledger())
    assert peak == 2  # tier 1: two image generations at a time, and both slots used


def test_ctrl_c_stops_submitting_and_the_next_run_resumes(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)

    def interrupt_on_first_submit(execution: Execution) -> None:
        def on_event(event: Any) -> None:
            if event.kind == "submitted" and not execution.stopping:
                execution.interrupt()

        execution.on_event = on_event

    first = h.run(graph_of(spec), on_start=interrupt_on_first_submit)
    assert first.status == "interrupted" and first.exit_code == 130
    outcomes = _outcomes(first)
    assert "generated" in outcomes.values() and "interrupted" in outcomes.values()
    assert "RP507" in _codes(first)
    made = len(h.emu.ledger())
    second = h.run(graph_of(spec))
    assert second.exit_code == 0
    assert len(h.emu.ledger()) == 5 and not h.emu.ledger().duplicates()
    assert made < 5


def test_second_ctrl_c_leaves_tasks_in_flight_for_the_next_run(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)

    def abort_on_submit(execution: Execution) -> None:
        def on_event(event: Any) -> None:
            if event.kind == "submitted" and not execution.stopping:
                execution.interrupt()
                execution.interrupt()

        execution.on_event = on_event

    first = h.run(graph_of(spec), on_start=abort_on_submit)
    assert first.status == "interrupted"
    with State(tmp_path / "state", lock=False) as state:
        flying = state.steps_with_status(StepStatus.RUNNING)
    assert flying, "a task was left in flight"
    tasks = {row.task_id for row in flying}
    second = h.run(graph_of(spec))
    assert second.exit_code == 0
    ledger = h.emu.ledger()
    assert len(ledger) == 5 and not ledger.duplicates()
    resumed = {t for g in second.generations.values() for t in g.task_ids}
    assert tasks <= resumed


def test_large_assets_are_uploaded_and_the_key_stays_with_the_api(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    graph = graph_of(copy_specs(tmp_path) / "character-performance.yaml")
    result = h.run(graph, data_uri_limit=0)
    assert result.exit_code == 0, result.diagnostics
    uploads = [r for r in h.requests if r.url.path == "/v1/uploads"]
    assert len(uploads) == 1  # founder.png; performance.mp4 is below the upload minimum
    for request in h.requests:
        on_api = request.url.path.startswith("/v1/")
        assert ("authorization" in request.headers) == on_api, request.url
    sent = json.loads(next(r for r in h.requests if r.url.path == "/v1/text_to_image").content)
    assert sent["referenceImages"][0]["uri"].startswith("runway://")


def test_stale_upstream_urls_are_refreshed_or_uploaded_again(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    only_hero = SMALL.split("  shot:")[0]
    spec = write_spec(tmp_path / "spec", only_hero)
    first = h.run(graph_of(spec))
    assert first.exit_code == 0
    hero_task = first.generations["hero"].task_ids[0]

    spec.write_text(SMALL)
    second = h.run(graph_of(spec), url_fresh_seconds=0)
    assert second.exit_code == 0
    refetched = [r for r in h.requests if r.url.path == f"/v1/tasks/{hero_task}"]
    assert refetched, "the hero task was fetched again for a fresh URL"

    asyncio.run(_delete(h, hero_task))
    spec.write_text(SMALL.replace("[slow dolly-in, orbit]", "[slow dolly-in, orbit, crane]"))
    third = h.run(graph_of(spec), url_fresh_seconds=0)
    assert third.exit_code == 0
    assert any(r.url.path == "/v1/uploads" for r in h.requests)


async def _delete(h: Harness, task_id: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(h.emu)), base_url=h.base_url
    ) as http:
        response = await http.delete(
            f"/v1/tasks/{task_id}",
            headers={"Authorization": f"Bearer {h.emu.api_key}", "X-Runway-Version": "2024-11-06"},
        )
        assert response.status_code == 204


def test_a_users_file_is_never_overwritten(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)
    mine = tmp_path / "outputs" / "hero" / "0.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own picture")
    result = h.run(graph_of(spec))
    assert mine.read_bytes() == b"my own picture"
    hero = result.generations["hero"].outputs[0]
    assert hero.path is not None and Path(hero.path).name.startswith("0.")
    assert Path(hero.path) != mine and sha256(Path(hero.path)) == hero.sha256
    assert "RP508" in _codes(result) and result.exit_code == 0

    mine.unlink()
    spec.write_text(SMALL.replace("A lighthouse at dawn", "A lighthouse at dusk"))
    h.run(graph_of(spec))
    first_placed = mine
    assert first_placed.is_file()
    spec.write_text(SMALL.replace("A lighthouse at dawn", "A lighthouse at night"))
    third = h.run(graph_of(spec))
    assert sha256(mine) == third.generations["hero"].outputs[0].sha256  # ours: replaced


def test_budget_and_balance_refuse_before_any_create(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", SMALL)
    h = _harness(tmp_path)
    refused = h.run(graph_of(spec), max_credits=10)
    assert refused.status == "refused" and "RP400" in _codes(refused)
    assert h.requests == []

    poor = _harness(tmp_path / "poor", credits=20)
    broke = poor.run(graph_of(spec))
    assert broke.status == "refused" and "RP504" in _codes(broke)
    assert poor.creates() == 0 and len(poor.emu.ledger()) == 0


def test_lost_store_is_restored_from_outputs_or_the_task(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)
    first = h.run(graph_of(spec))
    store = tmp_path / "state" / "store"
    for path in store.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
            path.unlink()
    (tmp_path / "outputs" / "shot" / "1.mp4").unlink()
    second = h.run(graph_of(spec))
    assert second.exit_code == 0 and set(_outcomes(second).values()) == {"reused"}
    assert len(h.emu.ledger()) == 5
    for key, item in first.generations.items():
        assert [o.sha256 for o in second.generations[key].outputs] == [
            o.sha256 for o in item.outputs
        ]
    assert (tmp_path / "outputs" / "shot" / "1.mp4").is_file()


def test_every_step_of_the_journal_is_committed(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)
    result = h.run(graph_of(spec))
    with State(tmp_path / "state", lock=False) as state:
        for item in result.generations.values():
            row = state.step(item.fingerprint or "")
            assert row is not None and row.status is StepStatus.SUCCEEDED
            outputs = state.outputs(row.id)
            assert all(o.sha256 and o.url for o in outputs)
        run = state.run(result.run_id or 0)
        assert run is not None and run.status == "finished"
        assert {r.outcome for r in state.run_steps(run.id)} == {Outcome.GENERATED}


def test_tasks_the_api_no_longer_has_are_made_again(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)

    def abort_on_submit(execution: Execution) -> None:
        def on_event(event: Any) -> None:
            if event.kind == "submitted" and not execution.stopping:
                execution.interrupt()
                execution.interrupt()

        execution.on_event = on_event

    h.run(graph_of(spec), on_start=abort_on_submit)
    fresh = Harness(emulator(seed=9), tmp_path / "state", tmp_path / "outputs")
    result = fresh.run(graph_of(spec))  # a new emulator: the recorded tasks are unknown to it
    assert result.exit_code == 0
    assert any(e.kind == "lost" for e in fresh.events)
    assert len(fresh.emu.ledger()) == 5


def test_the_run_budget_stops_submissions(tmp_path: Path) -> None:
    from decimal import Decimal

    h = _harness(tmp_path)
    spec = write_spec(tmp_path / "spec", SMALL)

    def tight(execution: Execution) -> None:
        preflight = execution._preflight

        async def squeezed() -> Any:
            refused = await preflight()
            execution.spending.limit = Decimal(6)
            return refused

        execution._preflight = squeezed  # type: ignore[method-assign]

    result = h.run(graph_of(spec), on_start=tight)
    assert "RP509" in _codes(result) and result.exit_code == 1
    outcomes = _outcomes(result)
    assert outcomes["hero"] == "generated"
    refused = [key for key, outcome in outcomes.items() if outcome == "failed"]
    assert len(refused) == 1 and refused[0] in ("shot[0]", "shot[1]", "dub")
    rest = {o for k, o in outcomes.items() if k not in ("hero", "voiceover", refused[0])}
    assert rest <= {"interrupted"}  # the run stopped at the first create it could not afford
    assert h.emu.ledger().for_model("gen4_turbo") == []
    assert result.billed_this_run <= 6


def test_an_input_the_api_cannot_fetch_is_sent_again_fresh(tmp_path: Path) -> None:
    only_hero = SMALL.split("  shot:")[0]
    spec = write_spec(tmp_path / "spec", only_hero)
    assert _harness(tmp_path).run(graph_of(spec)).exit_code == 0
    spec.write_text(SMALL)
    fresh = Harness(emulator(seed=5), tmp_path / "state", tmp_path / "outputs")
    result = fresh.run(graph_of(spec))  # the hero's recorded URL is the old emulator's
    assert result.exit_code == 0, result.diagnostics
    assert _outcomes(result)["hero"] == "reused"
    assert any(e.kind == "retry" for e in fresh.events)
    assert any(r.url.path == "/v1/uploads" for r in fresh.requests)
    assert len(fresh.emu.ledger().for_model("gen4_turbo")) == 2


def test_outputs_lost_with_their_task_are_made_again_only_when_asked(tmp_path: Path) -> None:
    only_hero = SMALL.split("  shot:")[0]
    spec = write_spec(tmp_path / "spec", only_hero)
    assert _harness(tmp_path).run(graph_of(spec)).exit_code == 0
    for path in [*(tmp_path / "state" / "store").rglob("*"), *(tmp_path / "outputs").rglob("*")]:
        if path.is_file():
            path.chmod(0o644)
            path.unlink()
    fresh = Harness(emulator(seed=11), tmp_path / "state", tmp_path / "outputs")
    lost = fresh.run(graph_of(spec))
    assert lost.exit_code == 1 and "RP506" in _codes(lost)
    assert "--retry-failed" in next(d.message for d in lost.diagnostics if d.code == "RP506")
    assert len(fresh.emu.ledger()) == 0
    again = fresh.run(graph_of(spec), retry_failed=True)
    assert again.exit_code == 0 and len(fresh.emu.ledger()) == 1
    assert (tmp_path / "outputs" / "hero" / "0.png").is_file()
