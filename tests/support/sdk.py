"""The official ``runwayml`` client against an emulator served on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import runwayml

from runway_plan.emulator import Emulator, EmulatorServer, create_app


@contextmanager
def sdk_client(emu: Emulator, **options: Any) -> Iterator[runwayml.RunwayML]:
    """A ``runwayml.RunwayML`` client of ``emu``, served over HTTP on loopback."""
    with (
        EmulatorServer(create_app(emu)) as server,
        runwayml.RunwayML(api_key=emu.api_key, base_url=server.base_url, **options) as client,
    ):
        yield client


def succeeded(client: runwayml.RunwayML, task_id: str, seconds: float = 30) -> Any:
    """The task once it has ended; fails unless it SUCCEEDED within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        task = client.tasks.retrieve(task_id)
        if task.status in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert task.status == "SUCCEEDED", task
            return task
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} did not finish")
