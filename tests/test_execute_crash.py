"""The crash test: a 220-generation run killed with SIGKILL at 22 random moments, resumed
each time, against an emulator (served from this process, so its ledger outlives the child)
injecting 429s, 5xx, resets, failed tasks and lost create responses.

The emulator's clock moves by one step before each run, so a run can finish only the tasks
the step lets finish: the spec cannot be done before it was killed 22 times, however fast the
machine (the kill moments are random in wall time).  The last runs move the clock freely.

At the end, by the emulator's ledger: every generation succeeded exactly once, except creates
inside a reported unknown window; every ledger task is one the journal recorded (by task id,
or by the request hash of an attempt reported as possibly submitted); every output's SHA-256
matches the emulator's bytes; nothing under ``outputs/`` was ever lost or changed; and the
file a user had put there is untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from support.execute import KEY, emulator, served, write_spec

from runway_plan.emulator import Fault, FaultPlan, FaultRule, ManualClock
from runway_plan.execute import State, StepStatus

SPEED = 100.0
KILLS = 22
SEED = 20261125
STEP = 1.0
"""Emulated seconds the clock moves before each killed run: more than any task's latency at
SPEED, so each run can finish about one round of tasks per model."""

SPEC = """\
version: 1
name: crash
tier: 2
vars:
  frames: {frames}
  lines: {lines}
steps:
  frame:
    for_each: "{{{{ frames }}}}"
    endpoint: text_to_image
    model: gen4_image
    promptText: "Frame {{{{ item }}}} of a lighthouse"
    ratio: "1280:720"
  clip:
    for_each: "@frame"
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "{{{{ item }}}}"
    promptText: "Clip {{{{ index }}}}"
    ratio: "1280:720"
    duration: 2
  line:
    for_each: "{{{{ lines }}}}"
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "Line {{{{ item }}}}"
    voice: {{type: runway-preset, presetId: Maya}}
"""

FAULTS = FaultPlan(
    seed=SEED,
    rules=[
        FaultRule(Fault.RATE_LIMIT, on="create", probability=0.05, retry_after=0.02),
        FaultRule(Fault.UNAVAILABLE, on="create", probability=0.03),
        FaultRule(Fault.LOST_RESPONSE, on="create", probability=0.015),
        FaultRule(Fault.GATEWAY_TIMEOUT, on="create", probability=0.01, processed=True),
        FaultRule(Fault.TASK_FAILED, on="create", probability=0.05, failure_code="INTERNAL"),
        FaultRule(Fault.BAD_GATEWAY, on="task", probability=0.03),
        FaultRule(Fault.RESET, on="task", probability=0.02),
        FaultRule(Fault.RESET, on="file", probability=0.03),
        FaultRule(Fault.UNAVAILABLE, on="organization", probability=0.1),
    ],
)


def _snapshot(outputs: Path) -> dict[str, str]:
    found = {}
    for path in outputs.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.crash
def test_kill_resume_pays_once_and_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    spec = write_spec(
        tmp_path / "project",
        SPEC.format(frames=list(range(100)), lines=list(range(20))),
        name="crash.yaml",
    )
    outputs = tmp_path / "project" / "outputs" / "crash"
    mine = outputs / "frame" / "0.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"a user's own file")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWAYML")}
    env["RUNWAYML_API_SECRET"] = KEY
    logs = tmp_path / "logs"
    logs.mkdir()
    clock = ManualClock(start=time.time())
    emu = emulator(speed=SPEED, tier=2, faults=FAULTS, clock=clock)
    started = time.monotonic()
    with served(emu) as url:
        command = [
            sys.executable,
            "-m",
            "runway_plan",
            "run",
            str(spec),
            "--base-url",
            url,
            "--speed",
            str(SPEED),
            "--format",
            "text",
            "--yes",
        ]

        def child(n: int, *extra: str) -> subprocess.Popen[bytes]:
            out = open(logs / f"{n}.out", "wb")  # noqa: SIM115 - closed by the OS at exit
            return subprocess.Popen([*command, *extra], env=env, stdout=out, stderr=out)

        def began(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
            """Wait until the child has begun its run (its row is in the journal)."""
            deadline = time.monotonic() + timeout
            database = spec.parent / ".runway-plan" / "crash" / "state.db"
            while time.monotonic() < deadline and proc.poll() is None:
                if database.is_file():
                    with (
                        contextlib.closing(sqlite3.connect(database, timeout=5)) as db,
                        contextlib.suppress(sqlite3.OperationalError),
                    ):
                        row = db.execute("SELECT 1 FROM runs WHERE pid = ?", (proc.pid,))
                        if row.fetchone() is not None:
                            return True
                time.sleep(0.01)
            return False

        seen: dict[str, str] = _snapshot(outputs)
        kills = 0
        runs = 0
        while kills < KILLS:
            runs += 1
            clock.advance(STEP)
            proc = child(runs)
            if began(proc):
                try:
                    proc.wait(timeout=rng.uniform(0.0, 0.5))
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    kills += 1
            proc.wait(30)
            now = _snapshot(outputs)
            lost = {p: d for p, d in seen.items() if now.get(p) != d}
            assert not lost, f"outputs lost or changed after run {runs}: {sorted(lost)[:3]}"
            seen = now
            assert runs < 40, "the run finished before it could be killed enough"
        emu.set_faults(FaultPlan())
        ticking = threading.Event()

        def tick() -> None:
            while not ticking.wait(0.01):
                clock.advance(STEP / 10)

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        runs += 1
        proc = child(runs)  # reports what may have been submitted, resubmits nothing
        assert proc.wait(timeout=120) in (0, 1)
        finished = None
        for _ in range(3):
            runs += 1
            proc = child(runs, "--resubmit-unknown")
            assert proc.wait(timeout=120) in (0, 1)
            if proc.returncode == 0:
                finished = runs
                break
        ticking.set()
        ticker.join()
        assert finished is not None, (logs / f"{runs}.out").read_text()[-3000:]
        final = _snapshot(outputs)
        assert all(final.get(p) == d for p, d in seen.items())

        ledger = emu.ledger()
        reported = set()
        for log in logs.glob("*.out"):
            text = log.read_text(errors="replace")
            reported |= set(re.findall(r"the create request of '([^']+)' may have", text))
        with State(spec.parent / ".runway-plan" / "crash", lock=False) as state:
            attempts = state.all_attempts()
            steps = {a.step_id: state.step_by_id(a.step_id) for a in attempts}
            by_task = {a.task_id: a for a in attempts if a.task_id}
            unknown_hashes = {
                a.request_sha256: a for a in attempts if a.status in ("unknown", "abandoned")
            }
            for attempt in unknown_hashes.values():
                key = steps[attempt.step_id].key
                assert key in reported, f"{key} was possibly submitted but never reported"
            succeeded: dict[int, int] = {}
            windowed = 0
            for entry in ledger:
                attempt = by_task.get(entry.task_id)
                if attempt is None:
                    assert entry.request_hash in unknown_hashes, entry
                    windowed += 1
                    continue
                if entry.status == "SUCCEEDED":
                    succeeded[attempt.step_id] = succeeded.get(attempt.step_id, 0) + 1
            done = [s for s in steps.values() if s.status is StepStatus.SUCCEEDED]
            current = {s.id for s in done}
            assert len(current) == 220
            assert all(succeeded.get(step_id) == 1 for step_id in current), succeeded
            outputs_of = {step_id: state.outputs(step_id) for step_id in current}
            links = dict(state.links())
        assert kills >= 20
        # every output hashes as the emulator's own bytes, and its linked file too
        with httpx.Client(base_url=url) as http:
            headers = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
            for step_id, rows in outputs_of.items():
                task_id = steps[step_id].task_id
                task = http.get(f"/v1/tasks/{task_id}", headers=headers).json()
                for row in rows:
                    body = http.get(task["output"][row.index]).content
                    assert hashlib.sha256(body).hexdigest() == row.sha256
        placed = {p: d for p, d in links.items() if Path(p).is_file()}
        assert len(placed) == 220
        assert all(final[p] == d for p, d in placed.items())
    assert mine.read_bytes() == b"a user's own file"
    print(
        f"\ncrash test: {runs} runs, {kills} SIGKILLs, {len(ledger)} tasks in the ledger, "
        f"{windowed} created inside reported unknown windows, "
        f"{time.monotonic() - started:.1f} s"
    )
