"""Properties of plans and schedules, on random DAG specs and random task graphs (hypothesis).

* the total is the exact sum of the steps, and of the priced generations;
* cost never decreases when a duration, an output count, a text or a fan-out grows;
* every schedule respects dependencies, per-pool concurrency and rolling daily caps;
* the makespan is never below max(critical path, per-pool work / slots), nor below the
  lower bound the schedule reports (which also counts the chains before and after a pool).
"""

from __future__ import annotations

import itertools
import wave
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.plan import DAY, Limits, Plan, PlanOptions, Schedule, plan, schedule
from runway_plan.validate import check_file

EPS = 1e-6
IMG = "https://example.com/still.png"
KINDS = ("video", "turbo", "image", "gpt", "tts", "veo", "dub", "sts", "iso")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The packaged catalog."""
    return load_catalog()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a 9.5 s WAV the audio steps can use."""
    where = tmp_path_factory.mktemp("dag")
    with wave.open(str(where / "voice.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 76_000)
    return where


# ------------------------------------------------------------------ random specs

step_params = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        "fan": st.integers(1, 4),
        "duration": st.integers(2, 10),
        "veo_duration": st.sampled_from([4, 6, 8]),
        "audio": st.sampled_from([None, True, False]),
        "count": st.integers(1, 10),
        "text": st.integers(1, 400),
        "wide": st.booleans(),
        "omit": st.booleans(),
        "needs": st.lists(st.integers(0, 50), max_size=3),
        "source": st.integers(0, 50),
    }
)
specs = st.lists(step_params, min_size=1, max_size=7)


def _ref(names: list[str], kinds: list[str], wanted: set[str], pick: int) -> str | None:
    choices = [n for n, k in zip(names, kinds, strict=True) if k in wanted]
    return f"@{choices[pick % len(choices)]}[0]" if choices else None


def build_spec(params: list[dict[str, Any]], tier: int = 2) -> dict[str, Any]:
    """A valid spec from drawn parameters: only earlier steps are referenced, so it is a DAG."""
    steps: dict[str, Any] = {}
    names: list[str] = []
    kinds: list[str] = []
    for i, p in enumerate(params):
        name = f"s{i}"
        kind = p["kind"]
        step: dict[str, Any]
        if kind == "video":
            step = {
                "endpoint": "text_to_video",
                "model": "gen4.5",
                "promptText": "boat",
                "ratio": "1280:720",
                "duration": p["duration"],
            }
        elif kind == "turbo":
            image = _ref(names, kinds, {"image", "gpt"}, p["source"]) or IMG
            step = {
                "endpoint": "image_to_video",
                "model": "gen4_turbo",
                "promptImage": image,
                "ratio": "1280:720",
            }
            if not p["omit"]:
                step["duration"] = p["duration"]
        elif kind == "image":
            step = {
                "endpoint": "text_to_image",
                "model": "gen4_image",
                "promptText": "still",
                "ratio": "1920:1080" if p["wide"] else "1280:720",
            }
        elif kind == "gpt":
            step = {
                "endpoint": "text_to_image",
                "model": "gpt_image_2",
                "promptText": "frames",
                "ratio": "3840:2160" if p["wide"] else "1920:1088",
                "outputCount": p["count"],
            }
        elif kind == "tts":
            step = {
                "endpoint": "text_to_speech",
                "model": "eleven_multilingual_v2",
                "promptText": "a" * p["text"],
                "voice": {"type": "runway-preset", "presetId": "Maya"},
            }
        elif kind == "veo":
            step = {
                "endpoint": "text_to_video",
                "model": "veo3.1",
                "promptText": "storm",
                "ratio": "1920:1080",
                "duration": p["veo_duration"],
            }
            if p["audio"] is not None:
                step["audio"] = p["audio"]
        elif kind == "dub":
            audio = _ref(names, kinds, {"iso", "tts"}, p["source"]) or "voice.wav"
            step = {
                "endpoint": "voice_dubbing",
                "model": "eleven_voice_dubbing",
                "audioUri": audio,
                "targetLang": "es",
            }
        elif kind == "sts":
            video = _ref(names, kinds, {"video", "turbo", "veo"}, p["source"])
            media = (
                {"type": "video", "uri": video} if video else {"type": "audio", "uri": "voice.wav"}
            )
            step = {
                "endpoint": "speech_to_speech",
                "model": "eleven_multilingual_sts_v2",
                "media": media,
                "voice": {"type": "runway-preset", "presetId": "Bernard"},
            }
        else:
            step = {
                "endpoint": "voice_isolation",
                "model": "eleven_voice_isolation",
                "audioUri": "voice.wav",
            }
        if p["fan"] > 1:
            step = {"for_each": list(range(p["fan"])), **step}
        needs = sorted({names[j % len(names)] for j in p["needs"]}) if names else []
        if needs:
            step["needs"] = needs
        steps[name] = step
        names.append(name)
        kinds.append(kind)
    return {"version": 1, "name": "random", "tier": tier, "steps": steps}


def plan_spec(where: Path, catalog: Catalog, spec: dict[str, Any], name: str = "spec") -> Plan:
    """Write, check (no errors allowed) and plan a spec."""
    path = where / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    graph, diagnostics = check_file(path, catalog)
    errors = [f"{d.code} {d.message}" for d in diagnostics if d.is_error]
    assert not errors, errors
    return plan(graph, catalog)


# ------------------------------------------------------------------ schedule checks


def assert_valid_schedule(
    dag: nx.DiGraph,
    durations: dict[str, float],
    pools: dict[str, str],
    limits: dict[str, Limits],
    result: Schedule,
) -> None:
    """Every node scheduled once for its latency, after its predecessors, within its pool's
    slots and rolling daily cap; the makespan at or above every lower bound."""
    slots = result.slots
    assert set(slots) == set(dag.nodes)
    for key, slot in slots.items():
        assert slot.pool == pools[key]
        assert slot.start >= -EPS
        assert abs((slot.end - slot.start) - durations[key]) < EPS
    for before, after in dag.edges:
        assert slots[after].start >= slots[before].end - EPS, (before, after)
    members: dict[str, list[str]] = defaultdict(list)
    for key in dag.nodes:
        members[pools[key]].append(key)
    for pool, keys in members.items():
        limit = limits[pool]
        lanes: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for key in keys:
            slot = slots[key]
            assert 0 <= slot.slot < limit.max_concurrent
            lanes[slot.slot].append((slot.start, slot.end))
        for intervals in lanes.values():
            intervals.sort()
            for (_, end), (start, _) in itertools.pairwise(intervals):
                assert start >= end - EPS
        events = sorted([(slots[k].end, -1) for k in keys] + [(slots[k].start, 1) for k in keys])
        running = 0
        for _, change in events:
            running += change
            assert running <= limit.max_concurrent
        starts = sorted(slots[k].start for k in keys)
        for i, now in enumerate(starts):
            recent = sum(1 for s in starts[: i + 1] if s > now - DAY)
            carried = limit.used_today if now < DAY else 0
            assert recent + min(carried, limit.max_daily) <= limit.max_daily, (pool, now)
        work = sum(durations[k] for k in keys)
        assert result.makespan >= work / limit.max_concurrent - EPS
    longest = (
        nx.dag_longest_path_length(
            nx.DiGraph([(u, v, {"w": durations[v]}) for u, v in dag.edges]), weight="w"
        )
        if dag.number_of_edges()
        else 0.0
    )
    sources_max = max(durations.values(), default=0.0)
    chain = max(
        [sources_max]
        + [
            durations[path[0]] + sum(durations[n] for n in path[1:])
            for path in [nx.dag_longest_path(dag, weight=None)]
            if path
        ]
    )
    assert result.critical_path_seconds >= max(chain, longest) - EPS or longest == 0
    assert result.makespan >= result.critical_path_seconds - EPS
    assert result.makespan >= result.lower_bound - EPS
    cp = result.critical_path
    for before, after in itertools.pairwise(cp):
        assert dag.has_edge(before, after)


@st.composite
def task_graphs(
    draw: st.DrawFn,
) -> tuple[nx.DiGraph, dict[str, float], dict[str, str], dict[str, Limits]]:
    """A random DAG of tasks in a few pools with small concurrency and daily caps."""
    n = draw(st.integers(1, 40))
    pool_count = draw(st.integers(1, 4))
    dag = nx.DiGraph()
    keys = [f"t{i}" for i in range(n)]
    dag.add_nodes_from(keys)
    for j in range(n):
        for i in draw(st.lists(st.integers(0, max(j - 1, 0)), max_size=3)) if j else []:
            dag.add_edge(keys[i], keys[j])
    durations = {k: float(draw(st.integers(0, 20_000))) for k in keys}
    pools = {k: f"p{draw(st.integers(0, pool_count - 1))}" for k in keys}
    limits = {
        f"p{i}": Limits(
            max_concurrent=draw(st.integers(1, 4)),
            max_daily=draw(st.integers(1, 12)),
            used_today=draw(st.integers(0, 5)),
        )
        for i in range(pool_count)
    }
    return dag, durations, pools, limits


@settings(max_examples=300, deadline=None)
@given(task_graphs())
def test_schedules_respect_dependencies_concurrency_and_daily_caps(
    case: tuple[nx.DiGraph, dict[str, float], dict[str, str], dict[str, Limits]],
) -> None:
    dag, durations, pools, limits = case
    result = schedule(dag.nodes, dag.edges, durations, pools, limits)
    assert_valid_schedule(dag, durations, pools, limits, result)
    for usage in result.pools.values():
        cap = usage.limits.max_daily
        used = min(usage.limits.used_today, cap)
        assert usage.days == -(-(usage.generations + used) // cap)
        if usage.days > 1:
            assert result.makespan >= (usage.days - 1) * DAY - EPS


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_a_cycle_is_refused_and_independent_nodes_start_in_their_given_order() -> None:
    one = {"p": Limits(max_concurrent=1, max_daily=100)}
    with pytest.raises(ValueError, match="dependency cycle"):
        schedule(["a", "b"], [("a", "b"), ("b", "a")], {"a": 1, "b": 1}, {"a": "p", "b": "p"}, one)
    done = schedule(["c", "a", "b"], [], dict.fromkeys("abc", 1.0), dict.fromkeys("abc", "p"), one)
    assert sorted(done.slots, key=lambda key: done.slots[key].start) == ["c", "a", "b"]


def test_the_bound_counts_what_comes_before_and_after_a_pool() -> None:
    """A one-slot pool between two long steps: its work alone (40 s) and the critical path
    (210 s) miss that its four tasks must all run after the first step and before the last."""
    keys = ["first", "b1", "b2", "b3", "b4", "last"]
    edges = [("first", b) for b in keys[1:5]] + [(b, "last") for b in keys[1:5]]
    durations = {"first": 100.0, "last": 100.0} | dict.fromkeys(keys[1:5], 10.0)
    pools = {"first": "a", "last": "a"} | dict.fromkeys(keys[1:5], "b")
    limits = {"a": Limits(max_concurrent=2, max_daily=100), "b": Limits(1, 100)}
    result = schedule(keys, edges, durations, pools, limits)
    assert result.critical_path_seconds == 210.0
    assert result.pools["b"].bound == 240.0
    assert result.lower_bound == result.makespan == 240.0


@SETTINGS
@given(params=specs, tier=st.integers(1, 5))
def test_random_specs_total_is_the_sum_and_schedule_is_valid(
    params: list[dict[str, Any]], tier: int, workdir: Path, catalog: Catalog
) -> None:
    result = plan_spec(workdir, catalog, build_spec(params, tier))
    assert result.total_low == sum((s.low for s in result.steps), Decimal(0))
    assert result.total_high == sum((s.high for s in result.steps), Decimal(0))
    priced = [g.cost for g in result.generations.values() if not g.cost.unknown]
    assert result.total_low == sum((c.low for c in priced), Decimal(0))
    assert result.total_high == sum((c.high for c in priced), Decimal(0))
    assert result.unknown == sum(1 for g in result.generations.values() if g.cost.unknown)
    assert result.total_low <= result.total_high
    assert all(step.low <= step.high for step in result.steps)
    for key, gen in result.generations.items():
        assert gen.slot is not None and gen.slot.key == key
    limits = {u.pool: u.limits for u in result.schedule.pools.values()}
    pools = {key: gen.pool for key, gen in result.generations.items()}
    durations = {key: gen.latency for key, gen in result.generations.items()}
    path = workdir / "spec.yaml"
    graph, _ = check_file(path, catalog)
    assert_valid_schedule(graph.dag, durations, pools, limits, result.schedule)


def _bump(params: list[dict[str, Any]], index: int, what: str) -> list[dict[str, Any]]:
    bumped = [dict(p) for p in params]
    p = bumped[index]
    if what == "fan":
        p["fan"] += 1
    elif what == "duration":
        p["duration"] = min(p["duration"] + 1, 10)
        p["veo_duration"] = min(p["veo_duration"] + 2, 8)
    elif what == "count":
        p["count"] = min(p["count"] + 1, 10)
    elif what == "text":
        p["text"] += 37
    return bumped


@SETTINGS
@given(
    params=specs,
    pick=st.integers(0, 10),
    what=st.sampled_from(["fan", "duration", "count", "text"]),
)
def test_cost_never_decreases_when_something_grows(
    params: list[dict[str, Any]], pick: int, what: str, workdir: Path, catalog: Catalog
) -> None:
    index = pick % len(params)
    before = plan_spec(workdir, catalog, build_spec(params), "before")
    after = plan_spec(workdir, catalog, build_spec(_bump(params, index, what)), "after")
    assert after.total_low >= before.total_low
    assert after.total_high >= before.total_high
    assert after.unknown >= before.unknown
    for old, new in zip(before.steps, after.steps, strict=True):
        assert new.low >= old.low and new.high >= old.high, (old.name, what)


def test_daily_caps_force_days_and_a_higher_tier_lifts_them(
    workdir: Path, catalog: Catalog
) -> None:
    images = {
        "endpoint": "text_to_image",
        "model": "gen4_image",
        "promptText": "still",
        "ratio": "1280:720",
        "for_each": list(range(450)),
    }
    spec = {"version": 1, "name": "daily", "tier": 1, "steps": {"stills": images}}
    result = plan_spec(workdir, catalog, spec)
    cap = catalog.tier(1).groups[catalog.limit_group("gen4_image")].max_daily
    assert cap == 200
    assert result.schedule.days == 3
    assert result.schedule.makespan >= 2 * DAY
    assert [d.code for d in result.diagnostics] == ["RP403"]
    path = workdir / "spec.yaml"
    graph, _ = check_file(path, catalog)
    lifted = plan(graph, catalog, PlanOptions(tier=2))
    assert lifted.schedule.days == 1
    assert lifted.schedule.makespan < DAY


def test_deadline_picks_the_cheapest_tier(workdir: Path, catalog: Catalog) -> None:
    clips = {
        "endpoint": "text_to_video",
        "model": "gen4.5",
        "promptText": "x",
        "ratio": "1280:720",
        "duration": 5,
        "for_each": list(range(20)),
    }
    path = workdir / "deadline.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "d", "steps": {"c": clips}}))
    graph, _ = check_file(path, catalog)
    latency = 60 + 6 * 5
    result = plan(graph, catalog, PlanOptions(deadline=latency * 4))
    assert result.deadline is not None
    by_tier = {o.tier: o for o in result.deadline.options}
    assert by_tier[1].makespan == latency * 10  # 2 slots
    assert by_tier[2].makespan == latency * 7  # 3 slots: ceil(20/3)
    assert by_tier[3].makespan == latency * 4  # 5 slots
    assert result.deadline.cheapest == 3


def test_monthly_cap_and_budget(workdir: Path, catalog: Catalog) -> None:
    clips = {
        "endpoint": "text_to_video",
        "model": "veo3.1",
        "promptText": "x",
        "ratio": "1280:720",
        "duration": 8,
        "for_each": list(range(40)),
    }
    spec = {
        "version": 1,
        "name": "m",
        "tier": 1,
        "budget": {"max_credits": 10000},
        "steps": {"c": clips},
    }
    result = plan_spec(workdir, catalog, spec)
    # 40 x 8 s x 20..40 credits = 6,400-12,800; tier 1 caps spend at $100 = 10,000 credits.
    assert (result.total_low, result.total_high) == (Decimal(6400), Decimal(12800))
    codes = sorted(d.code for d in result.diagnostics)
    assert codes == ["RP400", "RP402", "RP404"]
    budget = next(d for d in result.diagnostics if d.code == "RP400")
    assert "12,800" in budget.message and "by 2,800" in budget.message
    assert budget.span is not None and budget.span.line == 5  # budget.max_credits


def test_latency_overrides_change_the_schedule(workdir: Path, catalog: Catalog) -> None:
    path = workdir / "lat.yaml"
    steps = {
        "a": {
            "endpoint": "text_to_video",
            "model": "gen4.5",
            "promptText": "x",
            "ratio": "1280:720",
            "duration": 5,
        }
    }
    path.write_text(yaml.safe_dump({"version": 1, "name": "l", "steps": steps}))
    graph, _ = check_file(path, catalog)
    assert plan(graph, catalog).schedule.makespan == 60 + 6 * 5
    fast = PlanOptions(latency_overrides={"gen4.5": 12})
    assert plan(graph, catalog, fast).schedule.makespan == 12
