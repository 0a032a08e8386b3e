"""Model routers as resources of the spec and the generate steps that run on them: the plan's
price ranges over a router's candidate models, the example spec run on the emulator (the bill
inside the planned range), and the reconciliation of routers (create, unchanged, update of the
changed fields, drift put back, --prune)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from support.execute import CATALOG, Harness, copy_specs, emulator, graph_of, write_spec

from runway_plan.execute.learn.observe import StateSource, observe
from runway_plan.execute.resources import resource_plan
from runway_plan.plan import plan
from runway_plan.spec_schema import json_schema

SPEC = """\
version: 1
name: routed
tier: 2
routers:
  clips:
    slug: routed-clips
    settings:
      optimizeFor: {goal}
      models: {{mode: allowlist_only, ids: [gen4.5, seedance2]}}
{cap}
steps:
  clip:
    endpoint: generate/video
    configId: "@clips"
    input: {{promptText: a lighthouse in fog, duration: 5, aspectRatio: "16:9"}}
"""


def _spec(directory: Path, goal: str = "cost", cap: str = "") -> Path:
    return write_spec(directory, SPEC.format(goal=goal, cap=cap))


def _writes(h: Harness, since: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for request in h.requests[since:]:
        path = request.url.path
        if request.method in ("POST", "PATCH", "DELETE") and path.startswith("/v1/routers"):
            body = json.loads(request.content) if request.content else {}
            found.append((request.method, path, body))
    return found


def _actions(result: Any) -> dict[str, str]:
    return {f"{r.kind}:{r.key}": r.action for r in result.resources}


# ---------------------------------------------------------------------------- plan


def test_a_generate_step_is_priced_over_its_routers_candidates(tmp_path: Path) -> None:
    graph = graph_of(_spec(tmp_path))
    cost = plan(graph, CATALOG).generations["clip"].cost
    assert (cost.low, cost.high) == (Decimal(60), Decimal(180))  # gen4.5 5 s, seedance2 5 s
    assert "gen4.5 60" in cost.reasons[0] and "seedance2 180" in cost.reasons[0]
    assert graph.router_edges == {("clips", "clip"): None}
    assert graph.generations["clip"].length is not None
    assert graph.generations["clip"].duration == 5


def test_the_cap_excludes_and_bounds(tmp_path: Path) -> None:
    graph = graph_of(_spec(tmp_path, cap="      maxCreditsPerGeneration: {video: 100}"))
    cost = plan(graph, CATALOG).generations["clip"].cost
    assert (cost.low, cost.high) == (Decimal(60), Decimal(60))  # seedance2 is above the cap


def test_a_router_the_spec_does_not_have_is_unknown_and_says_why(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """\
        version: 1
        name: elsewhere
        steps:
          clip:
            endpoint: generate/video
            configId: production-video
            input: {promptText: a lighthouse, duration: 5}
        """,
    )
    result = plan(graph_of(spec), CATALOG)
    cost = result.generations["clip"].cost
    assert cost.unknown
    assert (
        "'production-video' is not one of the spec's routers: it may pick any model"
        in (cost.reasons[0])
    )
    assert any(d.code == "RP401" for d in result.diagnostics)


def test_without_a_duration_the_length_is_bounded_by_the_candidates(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """\
        version: 1
        name: open
        routers:
          clips:
            slug: open-clips
            settings: {models: {mode: allowlist_only, ids: [gen4.5, veo3.1_fast]}}
        steps:
          clip:
            endpoint: generate/video
            configId: "@clips"
            input: {promptText: a lighthouse}
        """,
    )
    length = graph_of(spec).generations["clip"].length
    assert length is not None and not length.exact
    assert length.high == 10  # gen4.5 takes 2-10 s
    assert "router's candidates" in length.reason


def test_a_step_fed_by_a_routed_video_is_priced_over_its_length_range(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """\
        version: 1
        name: chain
        routers:
          clips:
            slug: c
            settings: {models: {mode: allowlist_only, ids: [gen4.5, seedance2]}}
        steps:
          clip:
            endpoint: generate/video
            configId: "@clips"
            input: {promptText: a lighthouse}
          hdr:
            endpoint: video_to_hdr
            model: ruby
            videoUri: "@clip"
        """,
    )
    hdr = plan(graph_of(spec), CATALOG).generations["hdr"].cost
    assert not hdr.unknown and hdr.is_range
    assert "the router's candidates make 2-15 s" in hdr.reasons[0]


# ---------------------------------------------------------------------------- the example


def test_the_router_example_validates_plans_and_runs_within_its_range(tmp_path: Path) -> None:
    graph = graph_of(copy_specs(tmp_path) / "router.yaml")
    planned = plan(graph, CATALOG)
    assert planned.total_low < planned.total_high  # a range
    emu = emulator(credits=10_000)
    h = Harness(emu, tmp_path / "state", tmp_path / "outputs")
    result = h.run(graph)
    assert result.exit_code == 0, [f"{d.code} {d.message}" for d in result.diagnostics]
    assert _actions(result) == {"router:stills": "created", "router:clips": "created"}
    sent = {
        r.url.path: json.loads(r.content) for r in h.requests if r.url.path.startswith("/v1/gen")
    }
    assert sent["/v1/generate/video"]["configId"] == "teaser-clips"  # "@clips", as its slug
    assert sent["/v1/generate/image"]["configId"] == "teaser-stills"
    uri = sent["/v1/generate/video"]["input"]["referenceImages"][0]["uri"]
    assert "/_files/" in uri  # the still's output
    submitted = [e.message for e in h.events if e.kind == "submitted"]
    assert any("routed to gen4.5" in m for m in submitted), submitted
    assert any("routed to gen4_image_turbo" in m for m in submitted), submitted
    billed = sum(e.billed_credits or 0 for e in emu.ledger())
    assert planned.total_low <= billed <= planned.total_high
    assert {e.model for e in emu.ledger()} == {"gen4_image_turbo", "gen4.5"}
    media = {
        k: [o.path.rsplit(".", 1)[-1] for o in g.outputs if o.path]
        for k, g in result.generations.items()
    }
    assert media == {"still": ["png"], "teaser": ["mp4"]}
    observed = observe([StateSource(tmp_path / "state", "state")], CATALOG)
    assert observed.tasks == 2 and not observed.problems
    assert {item.model for item in observed.skipped} == {"generate/image", "generate/video"}
    assert all("router picked" in item.reason for item in observed.skipped)
    routers = {r["slug"]: r for r in emu.routers()}
    assert routers["teaser-clips"]["settings"]["maxCreditsPerGeneration"] == {"video": 250}
    assert routers["teaser-stills"]["name"] == "Teaser stills"


# ---------------------------------------------------------------------------- reconciliation


def test_rerun_edit_drift_and_prune_send_exactly_the_writes_needed(tmp_path: Path) -> None:
    h = Harness(emulator(), tmp_path / "state", tmp_path / "outputs")
    spec = _spec(tmp_path / "project")
    first = h.run(graph_of(spec))
    assert first.exit_code == 0, first.diagnostics
    assert _actions(first) == {"router:clips": "created"}
    [(method, path, body)] = _writes(h)
    assert (method, path) == ("POST", "/v1/routers")
    assert body["slug"] == "routed-clips" and "description" not in body

    mark = len(h.requests)
    again = h.run(graph_of(spec))
    assert _actions(again) == {"router:clips": "unchanged"}
    assert _writes(h, mark) == []

    edited = _spec(tmp_path / "project", goal="quality")
    changes = resource_plan(graph_of(edited), h.state_dir, h.base_url).changes
    [change] = changes
    assert (change.kind, change.action, [f.name for f in change.fields]) == (
        "router",
        "update",
        ["settings.optimizeFor"],  # the settings' change, per setting
    )
    [shown] = change.fields
    assert (shown.old, shown.new) == ("'cost'", "'quality'")
    mark = len(h.requests)
    updated = h.run(graph_of(edited))
    assert _actions(updated) == {"router:clips": "updated"}
    [(method, _, body)] = _writes(h, mark)
    assert method == "PATCH" and set(body) == {"settings"}
    assert body["settings"]["optimizeFor"] == "quality"
    [router] = h.emu.routers()
    assert router["version"] == 2 and router["settings"]["optimizeFor"] == "quality"
    assert updated.generations["clip"].outputs  # ran on the router: seedance2, the dearest

    h.emu.update_router(router["id"], {"settings": {"optimizeFor": "latency"}})
    mark = len(h.requests)
    drifted = h.run(graph_of(edited))
    assert [d.code for d in drifted.diagnostics].count("RP515") == 1
    assert h.emu.routers()[0]["settings"]["optimizeFor"] == "quality"  # put back

    h.emu.delete_router(router["id"])
    recreated = h.run(graph_of(edited))
    assert _actions(recreated) == {"router:clips": "created"}
    assert len(h.emu.routers()) == 1

    empty = write_spec(
        tmp_path / "project",
        """\
        version: 1
        name: routed
        steps:
          still:
            endpoint: text_to_image
            model: gen4_image_turbo
            promptText: a lighthouse
            ratio: "1280:720"
            referenceImages: [{uri: assets/product.png}]
        """,
    )
    left = h.run(graph_of(empty))
    assert _actions(left) == {"router:clips": "left"}
    assert any(d.code == "RP513" for d in left.diagnostics)
    pruned = h.run(graph_of(empty), prune=True)
    assert _actions(pruned) == {"router:clips": "deleted"}
    assert h.emu.routers() == []


def test_a_changed_slug_is_refused_and_its_steps_skipped(tmp_path: Path) -> None:
    h = Harness(emulator(), tmp_path / "state", tmp_path / "outputs")
    spec = _spec(tmp_path / "project")
    assert h.run(graph_of(spec)).exit_code == 0
    moved = write_spec(
        tmp_path / "project", SPEC.format(goal="cost", cap="").replace("routed-clips", "other")
    )
    result = h.run(graph_of(moved))
    assert _actions(result) == {"router:clips": "failed"}
    messages = [d.message for d in result.diagnostics]
    assert any("its slug is immutable" in m for m in messages)
    assert any("runs on router 'clips'" in m for m in messages)
    assert result.generations["clip"].outcome.value == "skipped"


@pytest.mark.parametrize("endpoint", ["generate/video", "generate/image", "generate/audio"])
def test_each_generate_endpoint_is_a_request_without_a_model(endpoint: str) -> None:
    assert endpoint in CATALOG.model_less
    fields = CATALOG.model(endpoint, endpoint)
    assert fields is not None
    assert {n for n, f in fields.fields.items() if f.required} == {"configId", "input"}
    assert CATALOG.output_media(endpoint, endpoint) == endpoint.split("/")[1]


# ---------------------------------------------------------------------------- the JSON Schema


def _schema_errors(data: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(json_schema(CATALOG))
    return [
        "/".join(map(str, e.absolute_path)) for e in validator.iter_errors(data) if e.absolute_path
    ]


def test_the_schema_takes_routers_and_generate_steps() -> None:
    spec: dict[str, Any] = {
        "version": 1,
        "name": "s",
        "routers": {"clips": {"slug": "c", "settings": {"optimizeFor": "cost"}}},
        "steps": {
            "clip": {
                "endpoint": "generate/video",
                "configId": "@clips",
                "input": {"promptText": "x", "duration": 5},
            },
            "still": {
                "endpoint": "generate/image",
                "configId": "a-slug",
                "input": {"promptText": "x"},
            },
        },
    }
    assert _schema_errors(spec) == []
    spec["routers"]["clips"]["settings"]["optimizeFor"] = "speed"
    spec["steps"]["clip"]["input"]["resolution"] = "8k"
    errors = _schema_errors(spec)
    assert any(e.startswith("routers/clips/settings") for e in errors)
    assert any(e.startswith("steps/clip") for e in errors)


# ---------------------------------------------------------------------------- routing units


def test_allow_new_except_excludes_its_ids_and_the_input_excludes_more() -> None:
    settings = {"models": {"mode": "allow_new_except", "ids": ["gen4.5"]}}
    routing = CATALOG.route("generate/video", {"input": {"duration": 5}}, settings)
    models = {c.model for c in routing.candidates}
    assert routing.endpoint == "text_to_video"
    assert "gen4.5" not in models and "seedance2" in models
    assert routing.excluded["gen4.5"] == "the router's models setting leaves it out"
    assert routing.excluded["veo3.1_fast"] == "it does not take duration 5"


def test_the_input_picks_the_endpoint_and_maps_ratio_and_resolution() -> None:
    first = {"role": "first", "uri": "https://example.com/a.png"}
    request = {"input": {"aspectRatio": "9:16", "resolution": "1080p", "referenceImages": [first]}}
    only = {"models": {"mode": "allowlist_only", "ids": ["gen4.5", "seedance2"]}}
    routing = CATALOG.route("generate/video", request, only)
    assert routing.endpoint == "image_to_video"
    [candidate] = routing.candidates
    assert (candidate.model, candidate.request["ratio"]) == ("seedance2", "1080:1920")
    assert routing.excluded["gen4.5"] == "it does not take that aspect ratio and resolution"
    source = {"referenceVideos": [{"role": "source", "uri": "https://example.com/a.mp4"}]}
    assert CATALOG.route("generate/video", {"input": source}, {}).endpoint == "video_to_video"
    speech = {"input": {"type": "speech", "promptText": "hi"}}
    assert CATALOG.route("generate/audio", speech, {}).endpoint == "text_to_speech"
    effect = {"input": {"type": "audio", "promptText": "rain"}}
    assert CATALOG.route("generate/audio", effect, {}).endpoint == "sound_effect"


def test_an_output_count_a_model_cannot_make_excludes_it() -> None:
    routing = CATALOG.route("generate/image", {"input": {"promptText": "x", "outputCount": 4}}, {})
    assert routing.candidates
    for candidate in routing.candidates:
        assert candidate.request["outputCount"] == 4
    assert any("cannot make 4 outputs" in why for why in routing.excluded.values())
