"""``runway-plan run``, ``status`` and ``cancel`` end to end, against the emulator served by
uvicorn on a loopback port (and ``--emulate`` in process).

Tests that need tasks to stay in flight while something else happens (a kill, ``status``,
``cancel``) give the emulator a :class:`ManualClock`: its tasks do not move until the test
moves the clock, so no assertion depends on how fast a loaded machine runs."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.execute import KEY, ROOT, SPEED, copy_specs, emulator, served, sha256

from runway_plan.cli import main
from runway_plan.emulator import Fault, FaultPlan, FaultRule, ManualClock
from runway_plan.execute import State, StepStatus

EXAMPLES = sorted(p.name for p in (ROOT / "specs").glob("*.yaml"))


def _invoke(*args: str, key: str = KEY) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(main, list(args), env={"RUNWAYML_API_SECRET": key})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def server() -> object:
    emu = emulator(tier=3)
    with served(emu) as url:
        yield emu, url
    emu.close()


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_runs_on_a_loopback_emulator(
    name: str, tmp_path: Path, server: tuple[object, str]
) -> None:
    emu, url = server
    specs = copy_specs(tmp_path)
    before = len(emu.ledger())  # type: ignore[attr-defined]
    args = ("run", str(specs / name), "--base-url", url, "--speed", str(SPEED), "--yes")
    code, out, err = _invoke(*args)
    assert code == 0, out + err
    assert "finished" in out and "manifest:" in out
    made = len(emu.ledger()) - before  # type: ignore[attr-defined]
    stem = name.removesuffix(".yaml")
    manifest = json.loads(
        next((specs / ".runway-plan" / stem / "runs").glob("*/manifest.json")).read_text()
    )
    assert made == len(manifest["generations"]) > 0
    for generation in manifest["generations"]:
        assert generation["outcome"] == "generated"
        for output in generation["outputs"]:
            path = Path(output["path"])
            assert path.is_relative_to(specs / "outputs" / stem)
            assert sha256(path) == output["sha256"]
    code, out, _ = _invoke(*args, "--format", "json")
    assert code == 0
    again = json.loads(out)
    assert {g["outcome"] for g in again["generations"]} == {"reused"}
    assert len(emu.ledger()) - before == made  # type: ignore[attr-defined]


def test_a_spec_with_errors_never_reaches_the_api(tmp_path: Path) -> None:
    emu = emulator()
    with served(emu) as url:
        spec = tmp_path / "bad.yaml"
        spec.write_text(
            "version: 1\nname: bad\nsteps:\n  a:\n    endpoint: text_to_image\n"
            "    model: gen4_image\n    promptText: x\n    ratio: '3:2'\n"
        )
        code, _, err = _invoke("run", str(spec), "--base-url", url, "--yes")
    assert code == 1 and "RP207" in err and "nothing was sent" in err
    assert emu.faults._requests == 0  # no request of any kind reached the emulator
    assert not (tmp_path / ".runway-plan").exists()


def test_run_needs_a_key_and_refuses_fast_polling_of_the_real_api(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, _, err = _invoke("run", str(spec), key="")
    assert code == 2 and "RUNWAYML_API_SECRET" in err
    code, _, err = _invoke("run", str(spec), "--speed", "100")
    assert code == 2 and "never polled faster" in err


def test_emulate_runs_in_process(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    code, out, _ = _invoke("run", str(specs / "storyboard.yaml"), "--emulate", "--speed", "500")
    assert code == 0, out
    assert (specs / "outputs" / "emulated" / "storyboard" / "animate" / "3.mp4").is_file()
    assert (specs / ".runway-plan" / "storyboard" / "emulated" / "state.db").is_file()
    code, out, _ = _invoke("status", str(specs / "storyboard.yaml"), "--emulate")
    assert code == 0 and "animate[3]" in out and "generated" in out


def test_a_second_run_on_the_same_state_is_refused(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    with State(specs / ".runway-plan" / "launch"):
        code, _, err = _invoke(
            "run", str(specs / "launch.yaml"), "--base-url", "http://x.test", "--yes"
        )
    assert code == 2 and "RP505" in err


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runway_plan", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWAYML")}
    env["RUNWAYML_API_SECRET"] = KEY
    env["TMPDIR"] = str(tmp_path)
    return env


def test_the_key_is_in_no_file_log_or_output(tmp_path: Path) -> None:
    faults = FaultPlan(
        seed=3,
        rules=[
            FaultRule(Fault.RATE_LIMIT, probability=0.3, retry_after=0.01),
            FaultRule(Fault.LOST_RESPONSE, model="eleven_multilingual_v2", nth=(1,)),
            FaultRule(Fault.TASK_FAILED, model="gen4_turbo", nth=(1,), failure_code="INTERNAL"),
            FaultRule(Fault.BAD_GATEWAY, on="task", probability=0.2),
        ],
    )
    emu = emulator(faults=faults)
    specs = copy_specs(tmp_path)
    env = _env(tmp_path)
    outputs: list[str] = []
    with served(emu) as url:
        base = ["--base-url", url, "--speed", str(SPEED), "--yes"]
        for extra in ([], ["--resubmit-unknown"], ["--format", "json"]):
            child = _child(["run", str(specs / "launch.yaml"), *base, *extra], env)
            out, err = child.communicate(timeout=60)
            outputs += [out, err]
        child = _child(["status", str(specs / "launch.yaml")], env)
        outputs += list(child.communicate(timeout=60))
        bad_key = dict(env, RUNWAYML_API_SECRET="key_" + "ab" * 64)
        child = _child(["run", str(specs / "podcast-localization.yaml"), *base], bad_key)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 1 and "HTTP 401" in out + err
        outputs += [out, err]
    assert "possibly" in "".join(outputs) or "RP502" in "".join(outputs)
    secrets = [KEY, KEY[4:], "key_" + "ab" * 64]
    scanned = 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            scanned += 1
            for secret in secrets:
                assert secret.encode() not in data, path
    for text in outputs:
        for secret in secrets:
            assert secret not in text
    assert scanned > 20


def _wait_for(spec: Path, ready: Callable[[State], bool], child: subprocess.Popen[str]) -> None:
    """Wait until ``ready`` holds of the spec's journal (or the child died: fail)."""
    database = spec.parent / ".runway-plan" / spec.stem / "state.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise AssertionError(f"the run ended first: {child.communicate()}")
        if database.is_file():
            with State(database.parent, lock=False) as state:
                if ready(state):
                    return
        time.sleep(0.05)
    child.kill()
    raise AssertionError("the journal never got there")


def _in_flight(state: State, at_least: int) -> bool:
    """At least that many tasks recorded, and no create being sent."""
    running = state.steps_with_status(StepStatus.RUNNING)
    return len(running) >= at_least and not state.steps_with_status(StepStatus.SUBMITTING)


def test_status_and_cancel_of_a_killed_run(tmp_path: Path) -> None:
    clock = ManualClock(start=time.time())
    emu = emulator(speed=40.0, tier=3, clock=clock)
    specs = copy_specs(tmp_path)
    spec = specs / "social-cutdowns.yaml"
    env = _env(tmp_path)
    with served(emu) as url:
        base = ["--base-url", url, "--speed", "40", "--yes"]
        child = _child(["run", str(spec), *base], env)
        # The clock stands still: every task stays in flight until the test moves it.
        _wait_for(spec, lambda state: _in_flight(state, 2), child)
        os.kill(child.pid, signal.SIGKILL)  # not inside a create window: see the crash test
        child.communicate(timeout=30)

        status = _child(["status", str(spec), "--format", "json"], env)
        out, _ = status.communicate(timeout=30)
        shown = json.loads(out)
        assert shown["status"].startswith("stopped")
        assert {g["state"] for g in shown["generations"]} >= {"running"}
        text = _child(["status", str(spec)], env)
        out, _ = text.communicate(timeout=30)
        assert "None" not in out
        waiting = [g for g in shown["generations"] if g["taskId"] is None]
        assert all(g["state"] == "not sent" for g in waiting)
        if waiting:
            assert "not sent" in out

        cancel = _child(["cancel", str(spec), "--base-url", url], env)
        out, err = cancel.communicate(timeout=60)
        assert cancel.returncode == 0, err
        assert "cancelled" in out
        cancelled = [e for e in emu.ledger() if e.status == "CANCELLED"]
        assert len(cancelled) >= 2

        rerun = _child(["run", str(spec), *base], env)
        while rerun.poll() is None:  # time moves only while the rerun needs it
            clock.advance(2.0)
            time.sleep(0.01)
        out, err = rerun.communicate(timeout=60)
        assert rerun.returncode == 0, out + err
    succeeded = [e for e in emu.ledger() if e.status == "SUCCEEDED"]
    assert len(succeeded) == 5  # one per generation: a finished task is never deleted


FAN_OUT = """\
version: 1
name: stills
tier: 1
steps:
  still:
    for_each: [a, b, c, d, e, f, g, h]
    endpoint: text_to_image
    model: gen4_image
    promptText: "a still life, {{ item }}"
    ratio: "1280:720"
"""


def test_cancel_stops_the_run_from_submitting_more(tmp_path: Path) -> None:
    clock = ManualClock(start=time.time())
    emu = emulator(tier=1, clock=clock)
    spec = tmp_path / "stills.yaml"
    spec.write_text(FAN_OUT)
    env = _env(tmp_path)
    with served(emu) as url:
        child = _child(["run", str(spec), "--base-url", url, "--speed", "400", "--yes"], env)
        # Tier 1 runs two images at a time; with the clock still, two tasks stay in flight.
        _wait_for(spec, lambda state: _in_flight(state, 2), child)
        made = len(emu.ledger())
        cancel = _child(["cancel", str(spec), "--base-url", url], env)
        out, err = cancel.communicate(timeout=90)
        assert cancel.returncode == 0, out + err
        assert "was asked to submit nothing more" in out and "submits nothing more" in out
        # The cancelled tasks free their slots; a run that went on would now submit more
        # tasks that never finish (the clock stands still) and hang here.
        run_out, run_err = child.communicate(timeout=60)
        assert child.returncode == 1, run_out + run_err
        assert "cancel" in run_err
        ledger = emu.ledger()
        assert len(ledger) == made == 2
        assert {e.status for e in ledger} == {"CANCELLED"}
        shown = json.loads(_child(["status", str(spec), "--format", "json"], env).communicate()[0])
        assert shown["status"] == "cancelled"
        outcomes = {g["outcome"] for g in shown["generations"]}
        assert outcomes == {"cancelled", "interrupted"}


def test_no_terminal_and_no_yes_spends_nothing(tmp_path: Path) -> None:
    emu = emulator()
    specs = copy_specs(tmp_path)
    env = _env(tmp_path)
    with served(emu) as url:
        child = subprocess.run(
            [sys.executable, "-m", "runway_plan", "run", str(specs / "launch.yaml")],
            input="\n",  # echo | runway-plan run SPEC
            env={**env, "RUNWAYML_BASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert child.returncode == 2, child.stdout + child.stderr
    assert "--yes" in child.stderr and "nothing was sent" in child.stderr
    assert emu.faults._requests == 0  # not even the organization was read


def _terminal_run(spec: Path, url: str, env: dict[str, str], answer: str) -> tuple[int, str]:
    """Run ``spec`` on a pseudo-terminal, answer the question with ``answer``; the exit
    code and everything the terminal showed (before the answer, and all of it)."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runway_plan",
            "run",
            str(spec),
            "--base-url",
            url,
            "--speed",
            "400",
        ],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
        close_fds=True,
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in shown and time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                shown += os.read(controller, 4096)
            except OSError:
                break
    before = shown.decode("utf-8", "replace")
    os.write(controller, answer.encode() + b"\r")
    while True:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if child.poll() is not None and not ready:
            break
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    child.wait(timeout=60)
    os.close(controller)
    return child.returncode, before


def test_a_terminal_is_asked_before_anything_is_spent(tmp_path: Path) -> None:
    emu = emulator()
    specs = copy_specs(tmp_path)
    env = _env(tmp_path)
    with served(emu) as url:
        code, question = _terminal_run(specs / "launch.yaml", url, env, "n")
        assert code == 1
        assert len(emu.ledger()) == 0
        assert "[y/N]" in question
        assert "Spend up to" in question and "credits ($" in question
        assert "on 6 generations" in question
        assert "step" not in question  # the live table has not started under the question
        code, _ = _terminal_run(specs / "launch.yaml", url, env, "y")
        assert code == 0
        assert len(emu.ledger()) == 6
