"""``runway-plan emulate`` as a user runs it: a child process on a loopback port, stopped by
Ctrl-C (SIGINT).  Every wait is bounded and the child is always killed in the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    children: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-m", "runway_plan", "emulate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        children.append(child)
        return child

    yield run
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        child.communicate(timeout=10)


def _export_lines(child: subprocess.Popen[str], timeout: float = 20.0) -> list[str]:
    assert child.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < 2 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        if line.startswith("export "):
            lines.append(line)
    return lines


def _exports(child: subprocess.Popen[str], timeout: float = 20.0) -> dict[str, str]:
    """The exported variables, as a POSIX shell would set them from the printed lines."""
    script = "".join(_export_lines(child, timeout)) + 'printf "%s\\0%s\\0" "$RUNWAYML_BASE_URL" '
    script += '"$RUNWAYML_API_SECRET"'
    result = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True, env={}
    )
    base_url, secret, _ = result.stdout.split("\0")
    return {"RUNWAYML_BASE_URL": base_url, "RUNWAYML_API_SECRET": secret}


def test_emulate_serves_until_interrupted(spawn: Spawn, tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"rules": [{"fault": "unavailable", "nth": [1]}]}))
    child = spawn(
        "--port",
        "0",
        "--tier",
        "2",
        "--speed",
        "1000",
        "--credits",
        "500",
        "--api-key",
        "key_cli",
        "--faults",
        str(plan),
    )
    env = _exports(child)
    base = env["RUNWAYML_BASE_URL"]
    assert base.startswith("http://127.0.0.1:")
    assert env["RUNWAYML_API_SECRET"] == "key_cli"
    headers = {"Authorization": "Bearer key_cli", "X-Runway-Version": "2024-11-06"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        org = client.get("/v1/organization").json()
        assert org["creditBalance"] == 500
        assert org["tier"]["models"]["gen4.5"]["maxConcurrentGenerations"] == 3
        body = {"model": "gen4_image", "promptText": "x", "ratio": "1920:1080"}
        assert client.post("/v1/text_to_image", json=body).status_code == 503
        created = client.post("/v1/text_to_image", json=body)
        assert created.status_code == 200
        task_id = created.json()["id"]
        for _ in range(200):
            task = client.get(f"/v1/tasks/{task_id}").json()
            if task["status"] == "SUCCEEDED":
                break
            time.sleep(0.01)
        assert task["status"] == "SUCCEEDED"
        assert client.get(task["output"][0]).status_code == 200
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=15)
    assert child.returncode == 0
    assert "Runway API emulator on http://127.0.0.1:" in err
    assert "emulator stopped" in err
    assert "Traceback" not in err


def test_emulate_prints_exports_a_shell_can_paste(spawn: Spawn, tmp_path: Path) -> None:
    key = "My API Key; echo $HOME 'quoted' \"double\""
    plan = tmp_path / "faults.yaml"
    plan.write_text("rules: [{fault: unavailable, probability: 0.5}]\n")
    child = spawn("--api-key", key, "--seed", "7", "--faults", str(plan))
    env = _exports(child)
    assert env["RUNWAYML_API_SECRET"] == key
    headers = {"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"}
    response = httpx.get(f"{env['RUNWAYML_BASE_URL']}/v1/organization", headers=headers)
    assert response.status_code in (200, 503)
    faults = httpx.get(f"{env['RUNWAYML_BASE_URL']}/_emulator/faults").json()
    assert faults["seed"] == 7  # --seed seeds a plan that gives no seed of its own


def test_emulate_refuses_a_bad_fault_plan(spawn: Spawn, tmp_path: Path) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text("rules:\n  - fault: meteor\n")
    child = spawn("--faults", str(plan))
    _out, err = child.communicate(timeout=20)
    assert child.returncode == 2
    assert "--faults" in err and "meteor" in err


def test_emulate_refuses_a_busy_port(spawn: Spawn) -> None:
    first = spawn("--port", "0")
    port = _exports(first)["RUNWAYML_BASE_URL"].rsplit(":", 1)[1]
    second = spawn("--port", port)
    _out, err = second.communicate(timeout=20)
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in err
