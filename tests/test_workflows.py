"""Workflow steps (``endpoint: workflows``): published workflows run through
``POST /v1/workflows/{id}`` and polled at ``GET /v1/workflow_invocations/{id}``.

Through the official ``runwayml`` SDK against the emulator (list, retrieve, run, the
invocation's life and its 400s); the example spec planned (unpriced unless the spec prices it)
and run on the emulator; a run stopped with the invocation in flight resumes by polling it,
never running the workflow again; an invocation read as a task.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import runwayml
from support.execute import CATALOG, Harness, copy_specs, emulator, graph_of, write_spec
from support.sdk import sdk_client

from runway_plan.emulator import (
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    ManualClock,
    create_app,
)
from runway_plan.emulator.synth import striped_png
from runway_plan.emulator.workflows import PUBLISHED
from runway_plan.execute import Execution, Outcome, State, StepStatus
from runway_plan.execute.wire import invocation_as_task, invocation_id
from runway_plan.plan import plan
from runway_plan.plan.requests import compiled_requests
from runway_plan.probe import probe
from runway_plan.validate import check_file

PNG = "data:image/png;base64," + base64.b64encode(striped_png(640, 360, 7, "product")).decode()
ORBIT = PUBLISHED[0].id
POSTER = PUBLISHED[1].id


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(speed=5_000, tier=2)) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[runwayml.RunwayML]:
    with sdk_client(emu) as served:
        yield served


def _finished(client: runwayml.RunwayML, invocation: str) -> tuple[Any, list[str]]:
    """The terminal invocation, and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = client.workflow_invocations.retrieve(invocation)
        if not seen or seen[-1] != found.status:
            seen.append(found.status)
        if found.status in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return found, seen
        time.sleep(0.02)
    raise AssertionError(f"invocation {invocation} did not finish")


# ------------------------------------------------------------------------------ SDK


def test_sdk_lists_retrieves_and_runs_a_workflow(
    client: runwayml.RunwayML, emu: Emulator, tmp_path: Path
) -> None:
    listed = client.workflows.list()
    assert {v.id for w in listed.data for v in w.versions} == {ORBIT, POSTER}
    workflow = client.workflows.retrieve(ORBIT)
    assert workflow.name == "Product orbit"
    nodes = {node["id"] for node in workflow.graph.nodes}  # type: ignore[index]
    assert nodes == {"input-image", "style-frame", "prompt", "animate"}

    run = client.workflows.run(
        ORBIT,
        node_outputs={
            "input-image": {"image": {"type": "image", "uri": PNG}},
            "prompt": {"text": {"type": "primitive", "value": "a slow orbit"}},
        },
    )
    done, seen = _finished(client, run.id)
    assert done.status == "SUCCEEDED", done
    assert set(seen) <= {"PENDING", "THROTTLED", "RUNNING", "SUCCEEDED"}
    assert done.cost is not None and done.cost.credits == 145  # seedance2_fast: 29 x 5 s
    [(node, urls)] = done.output.items()  # type: ignore[union-attr]
    assert node == "animate" and len(urls) == 1
    path = tmp_path / "orbit.mp4"
    path.write_bytes(httpx.get(urls[0]).content)
    info = probe(path)
    assert info.media == "video" and info.duration == pytest.approx(5.0, abs=0.1)
    [entry] = emu.ledger().entries
    assert (entry.endpoint, entry.model, entry.billed_credits) == (
        "image_to_video",
        "seedance2_fast",
        145,
    )


def test_an_invocation_goes_through_its_life_on_the_emulators_clock() -> None:
    clock = ManualClock()
    with (
        Emulator(EmulatorConfig(tier=1), clock=clock) as emu,
        EmulatorServer(create_app(emu)) as server,
        runwayml.RunwayML(api_key=emu.api_key, base_url=server.base_url) as sdk,
    ):
        image = {"input-image": {"image": {"type": "image", "uri": PNG}}}
        runs = [sdk.workflows.run(ORBIT, node_outputs=image).id for _ in range(4)]
        seen: dict[str, list[str]] = {run: [] for run in runs}
        for _ in range(400):
            for run in runs:
                status = sdk.workflow_invocations.retrieve(run).status
                if not seen[run] or seen[run][-1] != status:
                    seen[run].append(status)
            if all(s[-1] == "SUCCEEDED" for s in seen.values()):
                break
            clock.advance(5)
        statuses = {status for path in seen.values() for status in path}
        assert {"THROTTLED", "RUNNING", "SUCCEEDED"} <= statuses, seen
        assert all(path[-1] == "SUCCEEDED" for path in seen.values()), seen
        assert all(path[0] in ("PENDING", "THROTTLED", "RUNNING") for path in seen.values())
        done = sdk.workflow_invocations.retrieve(runs[-1])
        assert done.status == "SUCCEEDED" and done.cost is not None
        assert done.cost.credits == 145


def test_sdk_run_is_refused_naming_the_field(client: runwayml.RunwayML) -> None:
    with pytest.raises(runwayml.BadRequestError) as raised:
        client.workflows.run(ORBIT, node_outputs={"nope": {"image": {"type": "image", "uri": PNG}}})
    [issue] = raised.value.body["issues"]  # type: ignore[index]
    assert issue["path"] == ["nodeOutputs", "nope"]
    assert "unknown node id 'nope'" in issue["message"]

    with pytest.raises(runwayml.BadRequestError) as raised:
        client.workflows.run(
            ORBIT, node_outputs={"input-image": {"image": {"type": "video", "uri": PNG}}}
        )
    [issue] = raised.value.body["issues"]  # type: ignore[index]
    assert issue["path"] == ["nodeOutputs", "input-image", "image", "type"]
    assert "takes type 'image'" in issue["message"]

    with pytest.raises(runwayml.BadRequestError) as raised:
        client.workflows.run(ORBIT, node_outputs={})
    [issue] = raised.value.body["issues"]  # type: ignore[index]
    assert issue["path"] == ["nodeOutputs", "input-image", "image"]

    # what the generation node refuses is named where the run set it
    text = "data:text/plain;base64," + base64.b64encode(b"not an image").decode()
    with pytest.raises(runwayml.BadRequestError) as raised:
        client.workflows.run(
            ORBIT,
            node_outputs={
                "input-image": {"image": {"type": "image", "uri": PNG}},
                "style-frame": {"image": {"type": "image", "uri": text}},
            },
        )
    paths = [issue["path"] for issue in raised.value.body["issues"]]  # type: ignore[index]
    assert paths == [["nodeOutputs", "style-frame", "image", "uri"]]

    with pytest.raises(runwayml.NotFoundError):
        client.workflows.run("00000000-0000-4000-8000-000000000000", node_outputs={})
    with pytest.raises(runwayml.NotFoundError):
        client.workflow_invocations.retrieve("00000000-0000-4000-8000-000000000000")


def test_a_failed_node_fails_the_invocation_with_its_cost(emu: Emulator) -> None:
    workflows = emu._workflows  # the node's task made to fail, as a fault would
    reply = workflows.run(
        POSTER,
        {"nodeOutputs": {"headline": {"text": {"type": "primitive", "value": "Sale"}}}},
        "http://emulator",
        lambda endpoint, body: emu.create_task(
            endpoint, body, "http://emulator", failure_code="INTERNAL.BAD_OUTPUT.CODE01"
        ),
    )
    assert reply.status == 200
    deadline = time.monotonic() + 30
    while True:
        view = emu.get_workflow_invocation(reply.data["id"], "http://emulator").data
        if view["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert view["status"] == "FAILED"
    assert view["failureCode"] == "INTERNAL.BAD_OUTPUT.CODE01"
    assert view["nodeErrors"]["render"]["nodeName"] == "Render (gen4_image)"
    assert isinstance(view["cost"]["credits"], int)
    task = invocation_as_task(view)
    assert task["status"] == "FAILED" and task["failureCode"] == "INTERNAL.BAD_OUTPUT.CODE01"
    assert "Render (gen4_image)" in task["failure"]


# ------------------------------------------------------------------------------ as a task


def test_an_invocation_reads_as_a_task() -> None:
    throttled = invocation_as_task(
        {"id": "i1", "status": "THROTTLED", "createdAt": "2026-12-02T00:00:00Z"}
    )
    assert throttled["status"] == "THROTTLED" and throttled["id"] == "workflow_invocations/i1"
    assert invocation_id(throttled["id"]) == "i1"
    assert invocation_id("0f9c2d3e-task") is None
    done = invocation_as_task(
        {
            "id": "i1",
            "status": "SUCCEEDED",
            "output": {"a": ["https://x/1.png", "https://x/2.png"], "b": ["https://x/3.mp4"]},
            "cost": {"credits": 12},
        }
    )
    assert done["output"] == ["https://x/1.png", "https://x/2.png", "https://x/3.mp4"]
    assert done["outputNodes"] == ["a", "a", "b"]
    assert done["cost"] == {"credits": 12}


# ------------------------------------------------------------------------------ spec


def test_the_example_plans_with_its_price_and_unpriced_without(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    graph, diagnostics = check_file(specs / "workflow.yaml", CATALOG)
    assert not diagnostics
    priced = plan(graph, CATALOG)
    cost = priced.generations["animate"].cost
    assert (cost.low, cost.high, cost.unknown) == (145, 145, False)
    assert f"workflows/{ORBIT} = 145" in cost.reasons[0]

    text = (specs / "workflow.yaml").read_text(encoding="utf-8")
    bare = specs / "bare.yaml"
    bare.write_text(text.replace(f"  workflows/{ORBIT}: 145\n", ""), encoding="utf-8")
    graph, _ = check_file(bare, CATALOG)
    unpriced = plan(graph, CATALOG)
    cost = unpriced.generations["animate"].cost
    assert cost.unknown
    assert "no known price for workflows" in cost.reasons[0]
    assert "only once every task of it has finished" in cost.reasons[0]
    [note] = [d for d in unpriced.diagnostics if d.code == "RP401"]
    assert "prices: {workflows: CREDITS}" in (note.hint or "")

    every = specs / "every.yaml"
    every.write_text(text.replace(f"  workflows/{ORBIT}: 145\n", "  workflows: 90\n"))
    graph, _ = check_file(every, CATALOG)
    assert plan(graph, CATALOG).generations["animate"].cost.high == 90
    both = specs / "both.yaml"
    both.write_text(
        text.replace(f"  workflows/{ORBIT}: 145\n", f"  workflows/{ORBIT}: 145\n  workflows: 90\n")
    )
    graph, _ = check_file(both, CATALOG)
    assert plan(graph, CATALOG).generations["animate"].cost.high == 145  # its own price wins
    assert plan(graph, CATALOG).generations["still"].cost.high == 5  # others keep theirs


def test_compile_shows_the_workflow_id_in_the_path_and_the_upstream_output(
    tmp_path: Path,
) -> None:
    graph = graph_of(copy_specs(tmp_path) / "workflow.yaml")
    document, problems = compiled_requests(graph)
    assert not problems
    [entry] = [e for e in document["generations"] if e["key"] == "animate"]
    assert entry["request"] == f"POST /v1/workflows/{ORBIT}"
    assert entry["inputs"] == ["still"] and entry["model"] == "workflows"
    assert set(entry["body"]) == {"nodeOutputs"}
    slots = entry["body"]["nodeOutputs"]
    assert slots["input-image"]["image"]["uri"] == {"$output": "still", "index": 0}
    assert slots["style-frame"]["image"]["uri"]["$file"] == "assets/style.png"


def test_the_example_runs_on_the_emulator(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    harness = Harness(emulator(tier=2), tmp_path / "state", tmp_path / "out")
    result = harness.run(graph_of(specs / "workflow.yaml"))
    assert result.status == "finished", result.diagnostics
    assert {r.key: r.outcome for r in result.generations.values()} == dict.fromkeys(
        ("still", "animate", "upscale"), Outcome.GENERATED
    )
    [sent] = [r for r in harness.requests if r.url.path.startswith("/v1/workflows/")]
    assert sent.method == "POST" and sent.url.path == f"/v1/workflows/{ORBIT}"
    body = json.loads(sent.content)
    assert set(body) == {"nodeOutputs"}  # the id goes in the path only
    assert body["nodeOutputs"]["style-frame"]["image"]["uri"].startswith("data:image/png")
    assert (
        body["nodeOutputs"]["prompt"]["text"]["value"]
        == "a slow orbit around the Aurora headphones"
    )
    animate = result.generations["animate"]
    assert animate.billed == 145  # the invocation's reported cost
    [task_id] = animate.task_ids
    assert task_id.startswith("workflow_invocations/")
    clip = tmp_path / "out" / "animate" / "0.mp4"
    assert probe(clip).media == "video"

    again = harness.run(graph_of(specs / "workflow.yaml"))
    assert {r.outcome for r in again.generations.values()} == {Outcome.REUSED}


def test_a_stopped_run_resumes_the_invocation_and_never_runs_it_again(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "spec",
        f"""\
        version: 1
        name: poster
        prices: {{workflows: 5}}
        steps:
          poster:
            endpoint: workflows
            workflow: {POSTER}
            nodeOutputs:
              headline:
                text: {{type: primitive, value: Spring sale}}
            outputs: [{{media: image}}]
        """,
    )
    harness = Harness(emulator(tier=2), tmp_path / "state", tmp_path / "out")

    def abort_on_submit(execution: Execution) -> None:
        def on_event(event: Any) -> None:
            if event.kind == "submitted" and not execution.stopping:
                execution.interrupt()
                execution.interrupt()

        execution.on_event = on_event

    first = harness.run(graph_of(spec), on_start=abort_on_submit)
    assert first.status == "interrupted"
    with State(tmp_path / "state", lock=False) as state:
        [row] = state.steps_with_status(StepStatus.RUNNING)
    assert row.task_id is not None and invocation_id(row.task_id) is not None

    second = harness.run(graph_of(spec))
    assert second.exit_code == 0, second.diagnostics
    runs = [r for r in harness.requests if r.method == "POST" and "/v1/workflows/" in r.url.path]
    assert len(runs) == 1  # the first run's only
    polled = {r.url.path for r in harness.requests if r.url.path.startswith("/v1/workflow_inv")}
    assert polled == {f"/v1/{row.task_id}"}
    assert second.generations["poster"].task_ids == [row.task_id]
    ledger = harness.emu.ledger()
    assert len(ledger) == 1 and not ledger.duplicates()


def test_a_node_the_workflow_lacks_is_reported_at_its_place_in_the_spec(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "spec",
        f"""\
        version: 1
        name: poster
        steps:
          poster:
            endpoint: workflows
            workflow: {POSTER}
            nodeOutputs:
              headline:
                text: {{type: primitive, value: Spring sale}}
              subtitle:
                text: {{type: primitive, value: this week only}}
        """,
    )
    harness = Harness(emulator(tier=2), tmp_path / "state", tmp_path / "out")
    result = harness.run(graph_of(spec))
    assert result.status == "failed"
    [refused] = [d for d in result.diagnostics if d.code == "RP500"]
    assert "unknown node id 'subtitle'" in refused.message
    assert refused.span is not None and refused.span.line == 11  # subtitle's outputs
    assert len(harness.emu.ledger()) == 0  # refused before any task: nothing billed


def test_an_output_the_workflow_did_not_make_skips_its_user_saying_why(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "spec",
        f"""\
        version: 1
        name: poster
        steps:
          poster:
            endpoint: workflows
            workflow: {POSTER}
            outputs: [{{media: image}}, {{media: image}}]
          clip:
            endpoint: image_to_video
            model: gen4_turbo
            promptImage: "@poster[1]"
            ratio: "1280:720"
            duration: 5
        """,
    )
    harness = Harness(emulator(tier=2), tmp_path / "state", tmp_path / "out")
    result = harness.run(graph_of(spec))
    outcomes = {r.key: r.outcome for r in result.generations.values()}
    assert outcomes == {"poster": Outcome.GENERATED, "clip": Outcome.SKIPPED}
    [skipped] = [d for d in result.diagnostics if d.code == "RP503"]
    assert "uses output 1 of 'poster', which made 1 output (its step declares 2" in skipped.message
    assert skipped.span is not None and skipped.span.line == 8


def test_a_local_file_in_node_outputs_is_uploaded_as_other_inputs_are(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    harness = Harness(emulator(tier=2), tmp_path / "state", tmp_path / "out")
    result = harness.run(graph_of(specs / "workflow.yaml"), data_uri_limit=0)
    assert result.exit_code == 0, result.diagnostics
    assert len([r for r in harness.requests if r.url.path == "/v1/uploads"]) == 1  # style.png
    [sent] = [r for r in harness.requests if r.url.path.startswith("/v1/workflows/")]
    uri = json.loads(sent.content)["nodeOutputs"]["style-frame"]["image"]["uri"]
    assert uri.startswith("runway://")
