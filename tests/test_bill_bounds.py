"""Property: on random valid specs over every priced model, run on the emulator in process,
every generation's bill lies within its planned [low, high], and no run bills past its budget.

The models are every model the catalog prices (and the API still accepts), so a newly priced
model is covered without touching this file; its request is built from its SDK constraints.
Steps feed each other (speech into dubbing, isolation and speech-to-speech; images into video;
video into video-to-video, act_two and speech-to-speech), so lengths flow along edges.

Time is the emulator's manual clock, moved by the runner's own waits, so no run sleeps.  Video
outputs are the emulator's frameless MP4s, made as long as its H.264 encoder makes them (whole
frames at 24 fps): the same lengths, without the encoding time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import shutil
import string
import tempfile
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest
import support.execute
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from support.execute import CATALOG, KEY, PRICES, SPECS, Harness

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    ArrayType,
    BooleanType,
    EnumType,
    FieldSpec,
    IntegerType,
    NumberType,
    ObjectType,
    StringType,
    TypeNode,
    UnionType,
)
from runway_plan.compile import Graph
from runway_plan.compile.durations import PASSTHROUGH_ENDPOINTS
from runway_plan.diagnostics import has_errors
from runway_plan.emulator import Emulator, EmulatorConfig, ManualClock, synth, video
from runway_plan.plan import plan
from runway_plan.plan.cost import Pricer
from runway_plan.probe import probe
from runway_plan.validate import check_file

PRICED = sorted(
    (endpoint, model)
    for model, price in CATALOG.prices.models.items()
    if CATALOG.retired(model) is None
    for endpoint in CATALOG.model_endpoints.get(model, ())
    if price.on(endpoint).confidence != "low"
)
"""Every (endpoint, model) the catalog prices (a low-confidence figure is no price) and the
API accepts."""


def _consumes(node: TypeNode) -> set[str]:
    """The media a required part of ``node`` may take (any variant of a union)."""
    if isinstance(node, StringType):
        return {node.media} if node.media else set()
    if isinstance(node, ObjectType):
        return {m for f in node.fields.values() if f.required for m in _consumes(f.type)}
    if isinstance(node, ArrayType):
        return _consumes(node.items)
    if isinstance(node, UnionType):
        return {m for v in node.variants for m in _consumes(v)}
    return set()


CONSUMES = {
    (endpoint, model): {
        media
        for field in CATALOG.model(endpoint, model).fields.values()  # type: ignore[union-attr]
        if field.required
        for media in _consumes(field.type)
    }
    for endpoint, model in PRICED
}
"""The media each priced (endpoint, model) reads: where a chain can feed it."""

BY_LENGTH = {
    (endpoint, model)
    for endpoint, model in PRICED
    if endpoint in PASSTHROUGH_ENDPOINTS or CATALOG.prices.models[model].unit == "input_second"
}
"""The models whose price or output length follows the length of an input."""

LOCAL = {
    "image": ["assets/founder.png", "assets/product.png"],
    "video": ["assets/b-roll.mp4", "assets/performance.mp4"],
    "audio": ["assets/interview.wav", "assets/narration.wav"],
}
"""Example assets of each media (videos of 6 and 8 s, audio of 12 and 6 s)."""

PROMPT = st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=120).map(
    lambda text: text.strip() or "a lighthouse"
)


def _media_of(node: StringType | None) -> str | None:
    return node.media if node is not None else None


def _value(
    draw: st.DrawFn, name: str, node: TypeNode, model: str, sources: dict[str, list[str]]
) -> Any:
    """A valid value of ``node`` for field ``name`` of ``model`` (media from ``sources``)."""
    patch = CATALOG.model_overlay(model).fields.get(name)
    if patch is not None and patch.values is not None:
        return draw(st.sampled_from(list(patch.values)))
    if isinstance(node, EnumType):
        return draw(st.sampled_from(list(node.values)))
    if isinstance(node, BooleanType):
        return draw(st.booleans())
    if isinstance(node, IntegerType | NumberType):
        low = patch.minimum if patch is not None and patch.minimum is not None else node.minimum
        high = patch.maximum if patch is not None and patch.maximum is not None else node.maximum
        if name == "duration" and (low is None or high is None):
            bounds = CATALOG.model_overlay(model).duration_range or (2, 10)
            low, high = bounds if low is None else (low, bounds[1])
        if name == "outputCount":
            low, high = low or 1, min(high or 4, 4)
        low, high = math.ceil(low if low is not None else 1), math.floor(high or 10)
        return draw(st.integers(low, max(low, high)))
    if isinstance(node, StringType):
        if node.media:
            return draw(st.sampled_from(sources[node.media]))
        text = draw(PROMPT)
        return text[: node.max_length] if node.max_length else text
    if isinstance(node, ObjectType):
        return {
            key: _value(draw, key, field.type, model, sources)
            for key, field in node.fields.items()
            if field.required
        }
    if isinstance(node, ArrayType):
        return [_value(draw, name, node.items, model, sources)]
    if isinstance(node, UnionType):
        variants = [v for v in node.variants if not isinstance(v, ArrayType)] or list(node.variants)
        return _value(draw, name, draw(st.sampled_from(variants)), model, sources)
    raise AssertionError(f"{model}.{name}: no generator for {node.kind}")


RULED = frozenset({"seed", "proresProfile", "preciseEdit"})
"""Optional fields left out: a seed prices nothing; the others are valid only with another
field (the validator's rules)."""


def _optional(name: str, field: FieldSpec) -> bool:
    """Optional fields drawn too: the ones prices depend on (not text or media)."""
    node = field.type
    if isinstance(node, UnionType):
        return name == "duration"
    return isinstance(node, EnumType | BooleanType | IntegerType) and name not in RULED


@st.composite
def chains(draw: st.DrawFn, pool: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """A spec of 2-4 priced steps (of ``pool``, default all), each reading local assets or the
    outputs of earlier steps."""
    pairs = list(pool) or PRICED
    steps: dict[str, Any] = {}
    made: dict[str, list[str]] = {"image": [], "video": [], "audio": []}
    for index in range(draw(st.integers(2, 4))):
        fed = [pair for pair in pairs if CONSUMES[pair] & {k for k, v in made.items() if v}]
        chained = bool(fed) and draw(st.integers(0, 3)) > 0  # mostly chains
        if chained and draw(st.integers(0, 3)) > 0:  # mostly where lengths matter
            fed = [pair for pair in fed if pair in BY_LENGTH] or fed
        endpoint, model = draw(st.sampled_from(fed if chained else pairs))
        spec = CATALOG.model(endpoint, model)
        assert spec is not None
        sources = {kind: made[kind] if made[kind] and chained else LOCAL[kind] for kind in LOCAL}
        fields: dict[str, Any] = {}
        for name, field in spec.fields.items():
            if name == "model":
                continue
            if field.required or (_optional(name, field) and draw(st.booleans())):
                fields[name] = _value(draw, name, field.type, model, sources)
        key = f"s{index}"
        step: dict[str, Any] = {"endpoint": endpoint, "model": model, **fields}
        if draw(st.integers(0, 5)) == 0:
            step["for_each"] = ["a", "b"]
        steps[key] = step
        several = "for_each" in step or fields.get("outputCount", 1) != 1
        made[CATALOG.output_media(endpoint, model)].append(f"@{key}[0]" if several else f"@{key}")
    return {"version": 1, "name": "bounds", "tier": 5, "steps": steps}


def _exact(catalog: Catalog) -> Catalog:
    overlay = catalog.overlay.model_copy(update={"output_length_tolerance": {}})
    return dataclasses.replace(catalog, overlay=overlay)


def _frames_mp4(seconds: float, width: int, height: int, tag: str = "") -> bytes:
    return synth.mp4(max(1, round(seconds * video.FPS)) / video.FPS, width, height, tag)


def _run(graph: Graph, where: Path, catalog: Catalog, max_credits: Decimal | None) -> Any:
    clock = ManualClock()
    config = EmulatorConfig(api_key=KEY, speed=1.0, cadence=5.0, credits=10**9, tier=5)
    prices = PRICES.with_flat_prices(dict(graph.spec.prices) if graph.spec else {}, "spec")
    emu = Emulator(config, catalog=CATALOG, prices=prices, clock=clock)
    harness = Harness(emu, where / "state", where / "outputs")

    async def tick(seconds: float) -> None:
        clock.advance(max(seconds, 0.0) + 1.0)
        await asyncio.sleep(0)

    support_catalog = support.execute.CATALOG
    support.execute.CATALOG = catalog
    try:
        result = harness.run(graph, sleep=tick, speed=1.0, max_credits=max_credits)
    finally:
        support.execute.CATALOG = support_catalog
    return result, emu.ledger()


_MEMORY = Path("/dev/shm")


def _scratch(factory: pytest.TempPathFactory) -> Path:
    """A fresh folder, in memory where the system has one: a run commits its state durably
    (fsync), which on a disk costs far more than the run itself."""
    if _MEMORY.is_dir() and os.access(_MEMORY, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="runway-plan-bounds-", dir=_MEMORY))
    return factory.mktemp("bounds")


@pytest.fixture(autouse=True)
def _fast_videos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "mp4", _frames_mp4)


def _ceil(value: Decimal) -> Decimal:
    return value.to_integral_value(rounding=ROUND_CEILING)


Budget = tuple[str, int] | None
"""No budget; ("credits", n) a budget of n; ("near", d) one d credits off the plan's high end
(where the planner and the bill disagree, the run-time check is what keeps it)."""


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    spec=chains(),
    nominal=st.booleans(),
    budget=st.data(),
    where=st.sampled_from(["spec", "flag"]),
)
def test_bills_stay_within_the_plan_and_the_budget(
    tmp_path_factory: pytest.TempPathFactory,
    spec: dict[str, Any],
    nominal: bool,
    budget: st.DataObject,
    where: str,
) -> None:
    near = st.tuples(st.just("near"), st.sampled_from([-1, 0, 0, 1]))
    chosen: Budget = budget.draw(
        near | st.none()
        if nominal  # where the plan may be short of the bill, mostly a budget right at it
        else st.none() | st.tuples(st.just("credits"), st.integers(0, 400)) | near
    )
    root = _scratch(tmp_path_factory)
    try:
        _check(root, spec, nominal, chosen, where)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _compiled(root: Path, spec: dict[str, Any], *, drawn: bool = True) -> Graph:
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    graph, diagnostics = check_file(path, CATALOG)
    if drawn:
        assume(graph is not None and not has_errors(diagnostics))  # e.g. act_two of a 2 s clip
    assert graph is not None and not has_errors(diagnostics), diagnostics
    return graph


def _check(root: Path, spec: dict[str, Any], nominal: bool, budget: Budget, where: str) -> None:
    shutil.copytree(SPECS / "assets", root / "assets")
    graph = _compiled(root, spec)
    # nominal: the planner trusts nominal lengths, so only the run-time check keeps the budget
    catalog = _exact(CATALOG) if nominal else CATALOG
    limit: Decimal | None = None
    if budget is not None:
        kind, amount = budget
        if kind == "near":
            high = plan(graph, catalog).run_high
            limit = max(Decimal(0), _ceil(high) + amount)
        else:
            limit = Decimal(amount)
    if limit is not None and where == "spec":
        graph = _compiled(root, {**spec, "budget": {"max_credits": int(limit)}})
    max_credits = limit if where == "flag" else None
    # a rate resting on a low-confidence figure is no price: the emulator refuses to bill it
    assume(
        not any(
            c.unknown for c in (Pricer(graph, CATALOG).price(g) for g in graph.generations.values())
        )
    )
    result, ledger = _run(graph, root, catalog, max_credits)

    codes = {d.code for d in result.diagnostics}
    if any(g.refs for g in graph.generations.values()):
        event("fed by an upstream output")
    if "RP509" in codes:
        event("stopped by the budget at run time (RP509)")
    if "RP400" in codes:
        event("refused by the plan (RP400)")
    billed = Decimal(ledger.billed_credits())
    if nominal and result.plan is not None and billed > result.plan.run_high:
        event("billed past a plan that trusts nominal lengths")
    assert billed == result.billed_this_run
    if limit is not None:
        assert billed <= limit, (billed, limit, [d.message for d in result.diagnostics])
    if result.plan is None or nominal:
        return
    by_task = {entry.task_id: entry.billed_credits for entry in ledger}
    for key, item in result.generations.items():
        cost = result.plan.generations[key].cost
        if cost.unknown or not item.task_ids:
            continue
        bill = sum((Decimal(by_task[t] or 0) for t in item.task_ids), Decimal(0))
        assert cost.low <= bill <= cost.high, (key, cost.low, bill, cost.high, cost.reasons)
    if limit is None:
        assert result.exit_code == 0, [f"{d.code} {d.message}" for d in result.diagnostics]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    spec=chains(tuple(sorted(BY_LENGTH))),
    offset=st.sampled_from([-1, 0, 0, 1]),
    where=st.sampled_from(["spec", "flag"]),
)
def test_a_budget_at_a_short_plan_still_holds(
    tmp_path_factory: pytest.TempPathFactory, spec: dict[str, Any], offset: int, where: str
) -> None:
    """Chains of the models whose price or length follows an input's length, planned as if
    lengths were exact (as before the tolerance), with a budget at that plan's high end: only
    the run-time re-pricing stands between the run and a bill past the budget."""
    root = _scratch(tmp_path_factory)
    try:
        _check(root, spec, True, ("near", offset), where)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_every_priced_model_is_drawn() -> None:
    assert {model for _, model in PRICED} == {
        model
        for model, price in CATALOG.prices.models.items()
        if CATALOG.retired(model) is None
        and any(price.on(e).confidence != "low" for e in CATALOG.model_endpoints.get(model, ()))
    }
    assert len(PRICED) >= 20


def test_the_emulator_keeps_the_length_the_compiler_keeps(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """act_two's output is as long as its reference (8 s), not its character video (6 s)."""
    root = _scratch(tmp_path_factory)
    try:
        shutil.copytree(SPECS / "assets", root / "assets")
        step = {
            "endpoint": "character_performance",
            "model": "act_two",
            "character": {"type": "video", "uri": "assets/b-roll.mp4"},
            "reference": {"type": "video", "uri": "assets/performance.mp4"},
        }
        spec = {"version": 1, "name": "keep", "steps": {"act": step}}
        graph = _compiled(root, spec, drawn=False)
        assert graph.generations["act"].duration == 8
        result, _ledger = _run(graph, root, CATALOG, None)
        assert result.exit_code == 0
        out = result.generations["act"].outputs[0]
        assert out.path is not None and probe(Path(out.path)).duration == 8
    finally:
        shutil.rmtree(root, ignore_errors=True)
