"""Untrusted specs, the work part: any spec validates and plans within its work limits.

A limit crossed is one RP118 at the place that crossed it, and the work stops there; ``needs``
between fan-outs is one wait between steps, never every pair of their items.  The heavy cases
run in a child process limited to 1 GB of address space and a minute of CPU, so that the old
behaviour (gigabytes, hours) fails them instead of taking the machine down.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.execute import Harness, emulator, graph_of, write_spec

from runway_plan.catalog import load_catalog
from runway_plan.cli import main
from runway_plan.compile.graph import join_key
from runway_plan.emulator import Fault, FaultPlan, FaultRule
from runway_plan.execute.fingerprint import Fingerprinter
from runway_plan.limits import WorkLimits, limit_info
from runway_plan.plan import Limits, plan, schedule
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parents[1]
CATALOG = load_catalog()
GIB = 1024**3


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _limits(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run_bounded(*args: str, memory: int = GIB, cpu: int = 60) -> subprocess.CompletedProcess[str]:
    """``runway-plan ARGS`` in a child limited to ``memory`` bytes and ``cpu`` CPU seconds."""
    return subprocess.run(
        [sys.executable, "-m", "runway_plan", *args],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: _limits(memory, cpu),
        env={**os.environ, "RUNWAY_PLAN_DEBUG": ""},
        check=False,
    )


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


FAN_OUT = """\
version: 1
name: t
tier: 5
steps:
  hero:
    for_each: "{{{{ range({count}) }}}}"
    endpoint: text_to_image
    model: gen4_image
    promptText: "{prompt}"
    ratio: "1920:1080"
"""


# ------------------------------------------------------------------------------ generations


def test_one_line_that_fans_out_the_storyboard_stops_at_that_line(tmp_path: Path) -> None:
    text = (ROOT / "specs" / "storyboard.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "    outputCount: 4\n", '    outputCount: 4\n    for_each: "{{ range(100000) }}"\n'
    )
    spec = write(tmp_path, text)
    for command in ("validate", "plan"):
        done = run_bounded(command, str(spec))
        assert done.returncode == 1, done.stderr
        lines = [line for line in done.stdout.splitlines() if "RP118" in line]
        assert lines == [
            f"{spec}:16:15: RP118 over the limit of 50,000 generations (limits.generations) "
            "(step 'frames' makes 100,000); the work stops here"
        ], done.stdout


def test_a_limit_crossed_is_one_diagnostic_and_no_generations_are_built() -> None:
    doc_text = FAN_OUT.format(count=60_000, prompt="x {{ item }}")
    from runway_plan.compile import compile_spec
    from runway_plan.source import parse_document

    graph = compile_spec(parse_document(doc_text, "s.yaml"), CATALOG)
    assert [d.code for d in graph.diagnostics] == ["RP118"]
    assert graph.generations == {} and "hero" in graph.unexpanded


def test_the_spec_can_lower_and_raise_a_limit_up_to_its_ceiling(tmp_path: Path) -> None:
    over = write(
        tmp_path, FAN_OUT.format(count=20, prompt="{{ item }} x") + "limits: {generations: 10}\n"
    )
    code, out, _ = run("validate", str(over))
    assert code == 1 and f"{over}:6:15: RP118 over the limit of 10 generations" in out
    assert run("validate", str(over), "--limit", "generations=20")[0] == 0
    raised = write(
        tmp_path,
        FAN_OUT.format(count=20, prompt="{{ item }} x") + "limits: {generations: 60000}\n",
        "raised.yaml",
    )
    assert run("validate", str(raised), "--limit", "generations=19")[0] == 1
    assert run("validate", str(raised))[0] == 0
    ceiling = write(
        tmp_path,
        FAN_OUT.format(count=2, prompt="x") + "limits: {generations: 200001}\n",
        "ceiling.yaml",
    )
    code, out, _ = run("validate", str(ceiling))
    assert code == 1
    assert (
        f"{ceiling}:11:23: RP118 limits.generations is above the most a spec may set (200,000)"
        in out
    )
    unknown = write(
        tmp_path, FAN_OUT.format(count=2, prompt="x") + "limits: {file_bytes: 10}\n", "unknown.yaml"
    )
    code, out, _ = run("validate", str(unknown))
    assert code == 1 and f"{unknown}:11:10: RP105 unknown key 'file_bytes'" in out


def test_every_limit_has_a_default_that_a_ten_thousand_generation_spec_keeps_well_within() -> None:
    names = [info.name for info in limit_info()]
    assert names == [
        "generations",
        "edges",
        "rendered_chars",
        "template_work",
        "diagnostics",
        "file_bytes",
    ]
    defaults = WorkLimits()
    assert defaults.generations >= 5 * 10_000
    for info in limit_info():
        assert info.ceiling is None or info.ceiling > info.default, info
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from spec_builders import SHAPES  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "bench"))
    for build in SHAPES.values():
        text = build(10_000)
        assert len(text.encode()) * 2 < defaults.file_bytes


# ------------------------------------------------------------------------------ rendered text, work


def test_big_renders_stop_at_the_template_work_limit(tmp_path: Path) -> None:
    spec = write(tmp_path, FAN_OUT.format(count=40_000, prompt="{{ 'x' * 99999 }}{{ item }}"))
    done = run_bounded("plan", str(spec))
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "RP118" in line]
    assert line.startswith(f"{spec}:9:17: RP118 over the limit of 20,000,000 units")


def test_a_big_value_passed_through_every_item_stops_at_the_rendered_characters_limit(
    tmp_path: Path,
) -> None:
    text = FAN_OUT.format(count=40_000, prompt="{{ big }}") + f"vars: {{big: {'x' * 100_000}}}\n"
    spec = write(tmp_path, text)
    done = run_bounded("plan", str(spec), "--format", "json")
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "RP118" in line]
    assert line.startswith(f"{spec}:9:17: RP118 over the limit of 50,000,000 characters")
    assert len(done.stdout) < 100_000


def test_template_work_is_bounded_across_all_renders(tmp_path: Path) -> None:
    heavy = "{% for i in range(1000) %}{% for j in range(850) %}{% endfor %}{% endfor %}{{ item }}"
    spec = write(tmp_path, FAN_OUT.format(count=40_000, prompt=heavy))
    done = run_bounded("validate", str(spec))
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "RP118" in line]
    assert line.startswith(
        f"{spec}:9:17: RP118 over the limit of 20,000,000 units (limits.template_work)"
    )


def test_many_distinct_templates_count_their_compilation(tmp_path: Path) -> None:
    steps = "".join(
        f"  s{i}:\n    endpoint: text_to_image\n    model: gen4_image\n"
        f"    promptText: \"{{{{ '{i}' }}}} {'y' * 900}\"\n    ratio: '1920:1080'\n"
        for i in range(500)
    )
    spec = write(tmp_path, "version: 1\nname: t\nsteps:\n" + steps)
    code, out, _ = run("validate", str(spec), "--limit", "template_work=2000000")
    assert code == 1 and out.count("RP118") == 1 and "limits.template_work" in out


def test_many_variables_seen_by_many_renders_count_as_template_work(tmp_path: Path) -> None:
    variables = "".join(f"  v{i}: {i}\n" for i in range(100_000))
    spec = write(
        tmp_path, FAN_OUT.format(count=50_000, prompt="{{ item }} x") + "vars:\n" + variables
    )
    done = run_bounded("validate", str(spec))
    assert done.returncode == 1, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "RP118" in line]
    assert line.startswith(f"{spec}:9:17: RP118 over the limit of 20,000,000 units")


# ------------------------------------------------------------------------------ references, needs


def test_references_count_against_the_edges_limit(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "version: 1\nname: t\nsteps:\n"
        "  hero:\n    endpoint: text_to_image\n    model: gen4_image\n"
        "    promptText: x\n    ratio: '1920:1080'\n"
        "  clip:\n    for_each: [a, b, c, d, e]\n    endpoint: image_to_video\n"
        "    model: gen4_turbo\n    promptImage: '@hero'\n    promptText: '{{ item }}'\n"
        "    ratio: '1280:720'\n    duration: 5\n",
    )
    code, out, _ = run("validate", str(spec), "--limit", "edges=3")
    assert code == 1
    assert f"{spec}:13:18: RP118 over the limit of 3 references (limits.edges) ('@hero')" in out
    assert run("validate", str(spec), "--limit", "edges=5")[0] == 0


NEEDS = """\
version: 1
name: needs
tier: 5
prices: {{gen4_image: 5}}
steps:
  a:
    for_each: "{{{{ range({a}) }}}}"
    endpoint: text_to_image
    model: gen4_image
    promptText: "a {{{{ item }}}}"
    ratio: "1920:1080"
  b:
    for_each: "{{{{ range({b}) }}}}"
    needs: [a]
    endpoint: text_to_image
    model: gen4_image
    promptText: "b {{{{ item }}}}"
    ratio: "1920:1080"
"""


def test_needs_between_two_large_fan_outs_has_no_cross_product(tmp_path: Path) -> None:
    spec = write(tmp_path, NEEDS.format(a=20_000, b=20_000))
    for command in ("validate", "plan"):
        done = run_bounded(command, str(spec), "--format", "json" if command == "plan" else "text")
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])


def test_needs_is_one_wait_between_steps_and_the_schedule_keeps_it(tmp_path: Path) -> None:
    spec = write(tmp_path, NEEDS.format(a=300, b=200))
    graph, diagnostics = check_file(spec, CATALOG)
    assert diagnostics == []
    assert graph.edges == {} and graph.needs == {"b": ["a"]}
    joins, edges = graph.dependencies()
    assert joins == [join_key("a")] and len(edges) == 500
    result = plan(graph, CATALOG)
    slots = result.schedule.slots
    assert set(slots) == set(graph.generations)
    last_a = max(slots[f"a[{i}]"].end for i in range(300))
    assert min(slots[f"b[{i}]"].start for i in range(200)) >= last_a
    assert result.step_edges == [("a", "b")]
    assert all(key in graph.generations for key in result.schedule.critical_path)
    for a_key in ("a[0]", "a[299]"):
        for b_key in ("b[0]", "b[199]"):
            assert graph.dag.has_edge(a_key, b_key)


def _old_order(graph: Any) -> list[str]:
    """The fingerprinter's order before needs became joins: Kahn over every pair."""
    import heapq

    position = {key: i for i, key in enumerate(graph.generations)}
    waiting = dict.fromkeys(graph.generations, 0)
    after: dict[str, list[str]] = {key: [] for key in graph.generations}
    pairs = dict.fromkeys(graph.edges)
    for step, needed in graph.needs.items():
        for name in needed:
            for before in graph.steps[name].generations:
                for later in graph.steps[step].generations:
                    pairs[(before, later)] = None
    for producer, consumer in pairs:
        waiting[consumer] += 1
        after[producer].append(consumer)
    ready = [(position[key], key) for key, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(key)
        for child in after[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (position[child], child))
    return order


def test_the_order_fingerprints_follow_is_unchanged(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        """\
version: 1
name: order
steps:
  late:
    for_each: [x, y]
    needs: [early, mid]
    endpoint: text_to_image
    model: gen4_image
    promptText: "same"
    ratio: "1920:1080"
  mid:
    for_each: [1, 2, 3]
    needs: [early]
    endpoint: text_to_image
    model: gen4_image
    promptText: "same"
    ratio: "1920:1080"
  early:
    for_each: [p, q]
    endpoint: text_to_image
    model: gen4_image
    promptText: "same {{ item }}"
    ratio: "1920:1080"
  free:
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@mid[1]"
    ratio: "1280:720"
    duration: 5
""",
    )
    graph, diagnostics = check_file(spec, CATALOG)
    assert diagnostics == []
    expected = _old_order(graph)
    assert graph.order_keys() == expected
    assert Fingerprinter(graph, "https://api.dev.runwayml.com").order() == expected


def test_a_run_waits_for_every_item_a_step_needs_and_skips_after_a_failure(
    tmp_path: Path,
) -> None:
    text = NEEDS.format(a=3, b=4).replace("prices: {gen4_image: 5}\n", "")
    faults = FaultPlan(
        rules=[
            FaultRule(
                Fault.TASK_FAILED, model="gen4_image", nth=(2,), failure_code="SAFETY.INPUT.TEXT"
            )
        ]
    )
    harness = Harness(emulator(faults=faults), tmp_path / "state", tmp_path / "outputs")
    result = harness.run(graph_of(write_spec(tmp_path / "spec", text)))
    outcomes = {key: item.outcome.value for key, item in result.generations.items()}
    assert [outcomes[f"a[{i}]"] for i in range(3)].count("failed") == 1
    assert all(outcomes[f"b[{i}]"] == "skipped" for i in range(4)), outcomes
    failed = next(f"a[{i}]" for i in range(3) if outcomes[f"a[{i}]"] == "failed")
    skipped = [d for d in result.diagnostics if d.code == "RP503"]
    assert len(skipped) == 4 and all(f"depends on '{failed}'" in d.message for d in skipped)

    clean = Harness(emulator(), tmp_path / "state2", tmp_path / "outputs2")
    done = clean.run(graph_of(write_spec(tmp_path / "spec2", text)))
    assert done.exit_code == 0
    starts = {e.key: i for i, e in enumerate(clean.events) if e.kind == "submitted"}
    ends = {e.key: i for i, e in enumerate(clean.events) if e.kind == "succeeded"}
    assert starts and ends, [e.kind for e in clean.events][:20]
    last_a = max(ends[f"a[{i}]"] for i in range(3))
    assert all(starts[f"b[{i}]"] > last_a for i in range(4))


# ------------------------------------------------------------------------------ the scheduler


def test_a_join_takes_no_slot_and_orders_its_two_sides() -> None:
    nodes = ["a0", "a1", "j", "b0", "b1"]
    edges = [("a0", "j"), ("a1", "j"), ("j", "b0"), ("j", "b1")]
    durations = {"a0": 10.0, "a1": 30.0, "b0": 5.0, "b1": 5.0}
    pools = dict.fromkeys(durations, "p")
    result = schedule(nodes, edges, durations, pools, {"p": Limits(4, 100)})
    assert set(result.slots) == set(durations)
    assert result.slots["b0"].start == result.slots["b1"].start == 30.0
    assert result.makespan == 35.0 and result.critical_path == ["a1", "b0"]


def test_huge_tier_limits_cost_nothing() -> None:
    keys = [f"k{i}" for i in range(50)]
    limits = {"p": Limits(max_concurrent=10**9, max_daily=10**9, used_today=10**9)}
    result = schedule(keys, [], dict.fromkeys(keys, 1.0), dict.fromkeys(keys, "p"), limits)
    assert len(result.slots) == 50 and result.makespan == 86_400.0 + 1.0


# ------------------------------------------------------------------------------ diagnostics shown


def test_diagnostics_shown_are_capped_and_the_rest_counted(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        FAN_OUT.format(count=40_000, prompt="x").replace('"1920:1080"', '"{{ item }}:1"'),
    )
    done = run_bounded("validate", str(spec), "--format", "json")
    assert done.returncode == 1, done.stderr
    import json

    body = json.loads(done.stdout)
    shown = body["diagnostics"]
    assert len(shown) == 1_001
    assert shown[-1]["code"] == "RP119"
    assert shown[-1]["message"].startswith("39,000 more diagnostics not shown (39,000 errors)")
    assert len(done.stdout) < 1_000_000


def test_the_cap_keeps_errors_before_warnings(tmp_path: Path) -> None:
    from runway_plan.diagnostics import Severity, Span, make
    from runway_plan.validate import within_limit

    warnings = [make("RP403", f"w{i}", Span("s", i, 1, i, 2)) for i in range(5)]
    errors = [make("RP207", f"e{i}", Span("s", 10 + i, 1, 10 + i, 2)) for i in range(3)]
    kept = within_limit([*warnings, *errors], WorkLimits(diagnostics=4), "s")
    assert [d.message for d in kept[:-1]] == ["w0", "e0", "e1", "e2"]
    assert kept[-1].code == "RP119" and kept[-1].severity is Severity.NOTE
    assert "4 more diagnostics not shown (0 errors)" in kept[-1].message


@pytest.mark.parametrize(
    "name", ["generations", "edges", "rendered_chars", "template_work", "diagnostics"]
)
def test_each_spec_limit_is_in_the_schema_with_its_ceiling(name: str) -> None:
    from runway_plan.spec_schema import json_schema

    schema = json_schema(CATALOG)
    limits = schema["$defs"]["SpecLimits"]["properties"][name]
    info = next(i for i in limit_info() if i.name == name)
    assert {"type": "integer", "minimum": 1, "maximum": info.ceiling} in limits["anyOf"]


def test_the_readme_and_rp118_state_the_limits_the_code_applies() -> None:
    from runway_plan.diagnostics import CODES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    explanation = CODES["RP118"].explanation
    for info in limit_info():
        default = "4 MiB" if info.name == "file_bytes" else f"{info.default:,}"
        ceiling = "(`--limit` only)" if info.ceiling is None else f"{info.ceiling:,}"
        assert f"| `{info.name}` | {default} | {ceiling} |" in readme, info
        assert default in explanation and (info.ceiling is None or ceiling in explanation), info
    assert WorkLimits().file_bytes == 4 * 1024 * 1024
