"""One spec, one state: specs that share a folder share no journal, lock, output path, run
number or billed total; the shared state of earlier versions is split without losing or
regenerating anything; and a default state folder serves only the spec that owns it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from support.execute import KEY, copy_specs, emulator, served

from runway_plan.cli import main
from runway_plan.emulator import ManualClock
from runway_plan.execute import State, StepStatus

A, B = "character-performance.yaml", "support-avatar.yaml"  # both have a `portrait` step


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"RUNWAYML_API_SECRET": KEY})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@contextlib.contextmanager
def ticking(clock: ManualClock) -> Iterator[None]:
    """Move ``clock`` on in the background (a second of emulated time every 10 ms)."""
    done = threading.Event()

    def tick() -> None:
        while not done.wait(0.01):
            clock.advance(1.0)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _json(*args: str) -> dict[str, Any]:
    code, out, err = _invoke(*args, "--format", "json")
    assert code in (0, 1), out + err
    return dict(json.loads(out))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWAYML")}
    return {**env, "RUNWAYML_API_SECRET": KEY, "TMPDIR": str(tmp_path)}


def _start_and_kill(spec: Path, url: str, env: dict[str, str]) -> None:
    """Start a run of ``spec`` and SIGKILL it once it has a task in flight and no create
    being sent (the emulator's clock stands still, so the task stays in flight)."""
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
            "--yes",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    database = spec.parent / ".runway-plan" / spec.stem / "state.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if database.is_file():
            with State(database.parent, lock=False) as state:
                flying = state.steps_with_status(StepStatus.RUNNING)
                sending = state.steps_with_status(StepStatus.SUBMITTING)
            if flying and not sending:
                os.kill(child.pid, signal.SIGKILL)
                child.communicate(timeout=30)
                return
        time.sleep(0.05)
    child.kill()
    raise AssertionError(f"no task in flight: {child.communicate()}")


def test_two_specs_in_one_folder_are_independent(tmp_path: Path) -> None:
    clock = ManualClock(start=time.time())
    emu = emulator(tier=3, clock=clock)
    specs = copy_specs(tmp_path)
    env = _env(tmp_path)
    with served(emu) as url:
        _start_and_kill(specs / A, url, env)
        _start_and_kill(specs / B, url, env)
        mine = {e.task_id for e in emu.ledger()}
        assert len(mine) == 2  # one portrait of each spec, in flight
        for name in (A, B):
            shown = _json("status", str(specs / name))
            assert shown["spec"] == str(specs / name)
            assert shown["generations"][0]["key"] == "portrait"
        ours = _json("status", str(specs / A))
        theirs = _json("status", str(specs / B))
        assert ours["generations"][0]["taskId"] != theirs["generations"][0]["taskId"]
        assert {g["key"] for g in ours["generations"]} == {"portrait", "performance"}
        assert {g["key"] for g in theirs["generations"]} == {"portrait"}

        code, out, err = _invoke("cancel", str(specs / A), "--base-url", url)
        assert code == 0, out + err
        assert "1 task(s) were in flight" in out
        statuses = {e.task_id: e.status for e in emu.ledger()}
        assert statuses[ours["generations"][0]["taskId"]] == "CANCELLED"
        assert statuses[theirs["generations"][0]["taskId"]] != "CANCELLED"

        with ticking(clock):
            for name in (A, B):
                code, out, err = _invoke(
                    "run", str(specs / name), "--base-url", url, "--speed", "400", "--yes"
                )
                assert code == 0, out + err
                assert "RP508" not in out + err
    assert (specs / "outputs" / "character-performance" / "portrait" / "0.png").is_file()
    assert (specs / "outputs" / "support-avatar" / "portrait" / "0.png").is_file()
    manifests = {
        name: sorted((specs / ".runway-plan" / Path(name).stem / "runs").glob("*/manifest.json"))
        for name in (A, B)
    }
    for name, found in manifests.items():
        assert len(found) == 1  # the finished run's (a killed run writes none)
        assert json.loads(found[0].read_text())["spec"]["path"] == str(specs / name)
    for name in (A, B):
        plan = _json("plan", str(specs / name), "--base-url", url)
        assert plan["run"]["generations"] == 0  # everything reused, from its own state only
    ours_plan = _json("plan", str(specs / A), "--base-url", url)
    assert ours_plan["run"]["reused_generations"] == 2


def _as_an_earlier_version(state_dir: Path) -> None:
    """Make a journal look as an earlier version left it (schema 2, no owner)."""
    with sqlite3.connect(state_dir / "state.db") as db:
        db.execute("DROP TABLE meta")
        db.execute("DROP TABLE stop_requests")
        db.execute("PRAGMA user_version = 2")


def test_the_shared_state_of_an_earlier_version_is_split_losing_nothing(tmp_path: Path) -> None:
    emu = emulator(tier=3)
    specs = copy_specs(tmp_path)
    shared, outputs = specs / ".runway-plan", specs / "outputs"
    with served(emu) as url:
        old = ["--state", str(shared), "--outputs", str(outputs), "--base-url", url]
        for name in ("launch.yaml", "podcast-localization.yaml"):
            code, out, err = _invoke("run", str(specs / name), *old, "--speed", "400", "--yes")
            assert code == 0, out + err
        _as_an_earlier_version(shared)
        made = len(emu.ledger())
        before = {p: p.read_bytes() for p in outputs.rglob("*") if p.is_file()}

        code, _, err = _invoke("status", str(specs / "launch.yaml"))
        assert code == 2 and f"runway-plan migrate {specs}" in err

        code, out, err = _invoke(
            "run",
            str(specs / "launch.yaml"),
            "--base-url",
            url,
            "--speed",
            "400",
            "--yes",
            "--format",
            "json",
        )
        assert code == 0, out + err
        assert "launch.yaml: 1 run(s) moved" in err
        assert "podcast-localization.yaml: 1 run(s) moved" in err
        manifest = json.loads(out)
        assert {g["outcome"] for g in manifest["generations"]} == {"reused"}
        assert len(emu.ledger()) == made  # nothing generated again
        assert (outputs / "launch" / "hero" / "0.png").is_file()

        shown = _json("status", str(specs / "podcast-localization.yaml"))
        assert shown["status"] == "finished"
        assert {g["outcome"] for g in shown["generations"]} == {"generated"}
        code, out, err = _invoke(
            "run",
            str(specs / "podcast-localization.yaml"),
            "--base-url",
            url,
            "--speed",
            "400",
            "--yes",
        )
        assert code == 0, out + err
        assert len(emu.ledger()) == made
    assert all(path.read_bytes() == data for path, data in before.items())  # left in place
    assert (shared / "old-layout" / "state.db").is_file()
    assert not (shared / "state.db").exists()
    code, out, _ = _invoke("migrate", str(specs))
    assert code == 0 and "nothing to migrate" in out


def test_the_migrate_command_splits_the_shared_state(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    shared = specs / ".runway-plan"
    code, out, err = _invoke(
        "run",
        str(specs / "launch.yaml"),
        "--emulate",
        "--speed",
        "400",
        "--state",
        str(shared / "emulated"),
        "--outputs",
        str(specs / "outputs" / "emulated"),
    )
    assert code == 0, out + err
    _as_an_earlier_version(shared / "emulated")
    code, out, err = _invoke("migrate", str(specs))
    assert code == 0, out + err
    assert "launch.yaml: 1 run(s) moved" in err
    emulated = specs / ".runway-plan" / "launch" / "emulated"
    with State(emulated, lock=False) as state:
        assert state.owner == "launch.yaml" and len(state.runs()) == 1
    code, out, err = _invoke(
        "run", str(specs / "launch.yaml"), "--emulate", "--speed", "400", "--format", "json"
    )
    assert code == 0, out + err
    assert {g["outcome"] for g in json.loads(out)["generations"]} == {"reused"}


def test_a_default_state_folder_serves_only_its_spec(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    twin = specs / "launch.json"
    step = {
        "endpoint": "text_to_image",
        "model": "gen4_image",
        "promptText": "a lighthouse",
        "ratio": "1280:720",
    }
    twin.write_text(json.dumps({"version": 1, "name": "twin", "steps": {"hero": step}}))
    code, out, err = _invoke("run", str(specs / "launch.yaml"), "--emulate", "--speed", "400")
    assert code == 0, out + err
    code, out, err = _invoke("run", str(twin), "--emulate", "--speed", "400")
    assert code == 2
    assert "holds the runs of launch.yaml, not of launch.json" in err and "--state" in err
    code, out, err = _invoke("status", str(twin), "--emulate")
    assert code == 2 and "launch.yaml" in err
