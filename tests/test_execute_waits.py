"""Nothing in a run waits unboundedly or blindly: poll gaps are capped, a run stops submitting
while the API cannot be polled, slow tasks are reported and can be given up on, a stopping run
cuts its waits short, and a killed run's partial downloads are cleaned up.

The emulator runs on a :class:`ManualClock` where tasks must stay in flight: they move only
when a test moves the clock, so no assertion depends on the machine's speed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.execute import Harness, emulator, graph_of, write_spec

from runway_plan.cli import main
from runway_plan.emulator import Fault, FaultPlan, FaultRule, ManualClock
from runway_plan.execute import Execution, Outcome, StepStatus
from runway_plan.execute.runner import Event, next_poll

IMAGES = """\
version: 1
name: images
tier: 1
steps:
  still:
    for_each: [a, b, c]
    endpoint: text_to_image
    model: gen4_image
    promptText: "a lighthouse, {{ item }}"
    ratio: "1280:720"
"""

ONE = """\
version: 1
name: one
tier: 2
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "A lighthouse at dawn"
    ratio: "1280:720"
"""


def _harness(tmp_path: Path, **config: Any) -> Harness:
    return Harness(emulator(**config), tmp_path / "state", tmp_path / "outputs")


def _notes(events: list[Event]) -> list[str]:
    return [e.message for e in events if e.kind == "note"]


def test_poll_gaps_are_capped_however_slow_progress_looks() -> None:
    # Progress crept from 1 % to 1.1 % in 5 s: at that rate the task needs hours.
    first, latest = (0.0, 0.01), (5.0, 0.011)
    chosen = next_poll(3, now=10.0, anchor=0.0, interval=5.0, first=first, latest=latest)
    assert chosen == 2 + 3  # the last poll was point 2; at most three intervals later
    steady = next_poll(3, now=10.0, anchor=0.0, interval=5.0, first=(0.0, 0.1), latest=(5, 0.9))
    assert steady == 3  # close to done: the very next point
    assert next_poll(7, now=30.0, anchor=0.0, interval=5.0, first=None, latest=None) == 7


def test_no_create_is_sent_while_polls_fail_and_submitting_resumes(tmp_path: Path) -> None:
    faults = FaultPlan(rules=[FaultRule(Fault.UNAVAILABLE, on="task", probability=1.0, limit=8)])
    h = _harness(tmp_path, tier=1, faults=faults)
    result = h.run(graph_of(write_spec(tmp_path / "spec", IMAGES)))
    assert result.exit_code == 0, result.diagnostics
    kinds = [(e.kind, e.message) for e in h.events]
    down = next(i for i, (k, m) in enumerate(kinds) if "cannot be polled" in m)
    up = next(i for i, (k, m) in enumerate(kinds) if m.startswith("the API answers again"))
    assert down < up
    assert not [m for k, m in kinds[down:up] if k == "submitted"]
    assert len(h.emu.ledger()) == 3 and not h.emu.ledger().duplicates()


def test_a_run_whose_polls_never_answer_submits_nothing_more(tmp_path: Path) -> None:
    faults = FaultPlan(rules=[FaultRule(Fault.UNAVAILABLE, on="task", probability=1.0)])
    h = _harness(tmp_path, tier=1, faults=faults)
    result = h.run(graph_of(write_spec(tmp_path / "spec", IMAGES)), unreachable_polls=3)
    # Tier 1 sends two images at once; once polls fail, the third is never sent.
    assert len(h.emu.ledger()) == 2
    outcomes = [g.outcome for g in result.generations.values()]
    assert outcomes.count(Outcome.INTERRUPTED) == 3
    started = [g for g in result.generations.values() if g.message.startswith("not started")]
    assert len(started) == 1 and "could not be polled" in started[0].message
    rp507 = next(d for d in result.diagnostics if d.code == "RP507")
    assert "3 generation(s) not finished, 2 of them in flight" in rp507.message
    assert any("cannot be polled" in note for note in _notes(h.events))


def test_a_slow_task_is_reported_and_task_timeout_leaves_it_resumable(tmp_path: Path) -> None:
    clock = ManualClock(start=time.time())
    h = _harness(tmp_path, clock=clock)
    graph = graph_of(write_spec(tmp_path / "spec", ONE))
    # gen4_image's expected latency is a few API seconds: 3x is reported, 1000 s gives up.
    result = h.run(graph, task_timeout=1000.0)
    assert result.exit_code == 1
    hero = result.generations["hero"]
    assert hero.outcome is Outcome.INTERRUPTED and "gave up waiting" in hero.message
    assert any("over 3x its model's expected" in note for note in _notes(h.events))
    rp507 = next(d for d in result.diagnostics if d.code == "RP507")
    assert "1 of them in flight" in rp507.message
    assert len(h.emu.ledger()) == 1
    clock.advance(3600.0)
    again = h.run(graph)
    assert again.exit_code == 0, again.diagnostics
    assert len(h.emu.ledger()) == 1  # polled again, never sent again


def test_a_stopping_run_cuts_its_retry_wait_short(tmp_path: Path) -> None:
    faults = FaultPlan(
        rules=[FaultRule(Fault.TASK_FAILED, on="create", nth=(1,), failure_code="INTERNAL")]
    )
    h = _harness(tmp_path, faults=faults)
    runs: list[Execution] = []
    slept: list[tuple[float, bool]] = []

    async def sleep(seconds: float) -> None:
        if seconds >= 5.0:  # the retry wait: Ctrl-C comes while it runs
            asyncio.get_running_loop().call_soon(runs[0].interrupt)
        slept.append((seconds, False))
        await asyncio.sleep(seconds)
        slept[-1] = (seconds, True)

    # speed 1: the INTERNAL failure's retry waits 10 s, unless the run stops first.
    result = h.run(
        graph_of(write_spec(tmp_path / "spec", ONE)),
        on_start=runs.append,
        sleep=sleep,
        speed=1.0,
        poll_interval=0.01,
    )
    assert result.status == "interrupted" and result.exit_code == 130
    waits = [(s, done) for s, done in slept if s >= 5.0]
    assert waits == [(10.0, False)]  # the retry wait began and was cut short
    assert len(h.emu.ledger()) == 1


def test_partial_downloads_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec", ONE)
    runner = CliRunner()
    first = runner.invoke(main, ["run", str(spec), "--emulate", "--speed", "400"])
    assert first.exit_code == 0, first.output
    scratch = spec.parent / ".runway-plan" / "spec" / "emulated" / "store" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    leftovers = [scratch / f"{n}.part" for n in range(3)]
    for leftover in leftovers:
        leftover.write_bytes(b"half a download")
    again = runner.invoke(main, ["run", str(spec), "--emulate", "--speed", "400"])
    assert again.exit_code == 0, again.output
    assert not any(leftover.exists() for leftover in leftovers)
    assert "removed 3 partial download(s)" in again.stderr


def test_the_journal_shows_a_given_up_task_in_flight(tmp_path: Path) -> None:
    clock = ManualClock(start=time.time())
    h = _harness(tmp_path, clock=clock)
    result = h.run(graph_of(write_spec(tmp_path / "spec", ONE)), task_timeout=1000.0)
    from runway_plan.execute import State

    with State(tmp_path / "state", lock=False) as state:
        row = state.step_by_id(result.generations["hero"].step_id or 0)
    assert row.status is StepStatus.RUNNING and row.task_id is not None
