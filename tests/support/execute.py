"""Helpers for the executor's tests: emulators in process and on loopback, specs, runs.

Imported as ``support.execute`` by the executor's test modules (pytest puts ``tests/`` on
``sys.path``); it holds no tests of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from runway_plan.catalog import load_catalog
from runway_plan.compile import Graph
from runway_plan.diagnostics import has_errors
from runway_plan.emulator import (
    Emulator,
    EmulatorConfig,
    EmulatorServer,
    FaultPlan,
    PriceSheet,
    create_app,
)
from runway_plan.execute import (
    Event,
    Execution,
    RetryPolicy,
    RunOptions,
    RunResult,
    RunwayClient,
    State,
    origin_of,
)
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
KEY = "key_" + "5e" * 64
SPEED = 400.0
CATALOG = load_catalog()
PRICES = PriceSheet.from_catalog(CATALOG).with_flat_prices(
    dict.fromkeys(CATALOG.prices.unknown, Decimal(1)), "the tests' prices"
)
"""The catalog's prices, and 1 credit a generation for every model it cannot price (the
emulator refuses to run a model it cannot bill)."""


def emulator(**config: Any) -> Emulator:
    """An emulator with the test key, fast time and the API's 5-second cadence
    (``faults`` and ``clock`` are passed to :class:`Emulator`, the rest to its config)."""
    values: dict[str, Any] = {
        "api_key": KEY,
        "speed": SPEED,
        "cadence": 5.0,
        "credits": 1_000_000,
        "tier": 2,
    }
    values.update(config)
    faults = values.pop("faults", None)
    clock = values.pop("clock", None)
    return Emulator(
        EmulatorConfig(**values),
        catalog=CATALOG,
        prices=PRICES,
        faults=faults or FaultPlan(),
        clock=clock,
    )


@contextlib.contextmanager
def served(emu: Emulator) -> Iterator[str]:
    """Serve ``emu`` on a loopback port with uvicorn in a thread; its base URL."""
    server = EmulatorServer(create_app(emu))
    with server:
        yield server.base_url


def copy_specs(tmp_path: Path) -> Path:
    """A copy of ``specs/`` (with its assets) in ``tmp_path``."""
    target = tmp_path / "specs"
    shutil.copytree(SPECS, target, ignore=shutil.ignore_patterns("outputs", ".runway-plan"))
    return target


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    """Write a spec (dedented) into ``directory`` with the example assets beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    assets = directory / "assets"
    if not assets.exists():
        shutil.copytree(SPECS / "assets", assets)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def graph_of(path: Path, overrides: dict[str, Any] | None = None) -> Graph:
    """Compile and validate a spec; it must be free of errors."""
    graph, diagnostics = check_file(path, CATALOG, overrides)
    assert not has_errors(diagnostics), diagnostics
    return graph


def sha256(path: Path) -> str:
    """SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Harness:
    """Runs graphs in process against one emulator through ``httpx.ASGITransport``."""

    def __init__(self, emu: Emulator, state_dir: Path, outputs_dir: Path) -> None:
        self.emu = emu
        self.state_dir = state_dir
        self.outputs_dir = outputs_dir
        self.events: list[Event] = []
        self.requests: list[httpx.Request] = []
        self.base_url = "http://emulator"

    def run(
        self,
        graph: Graph,
        *,
        on_start: Callable[[Execution], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Any,
    ) -> RunResult:
        """Run ``graph`` to the end; ``options`` are :class:`RunOptions` fields (and
        ``retry_attempts``, the client's tries per request)."""
        speed = options.pop("speed", self.emu.config.speed)
        attempts = options.pop("retry_attempts", RetryPolicy.attempts)
        values: dict[str, Any] = {
            "outputs_dir": self.outputs_dir,
            "poll_interval": 5.0 / speed,
            "speed": speed,
        }
        values.update(options)

        async def main() -> RunResult:
            async def hook(request: httpx.Request) -> None:
                self.requests.append(request)

            async with httpx.AsyncClient(
                transport=transport or httpx.ASGITransport(app=create_app(self.emu)),
                event_hooks={"request": [hook]},
            ) as http:
                client = RunwayClient(
                    http,
                    api_key=KEY,
                    base_url=self.base_url,
                    retry=RetryPolicy(attempts=attempts, scale=speed, max_retry_after=0.05),
                )
                with State(self.state_dir) as state:
                    execution = Execution(
                        graph,
                        client,
                        state,
                        RunOptions(**values),
                        catalog=CATALOG,
                        origin=origin_of(self.base_url),
                        spec_sha256="0" * 64,
                        on_event=self.events.append,
                        sleep=sleep,
                    )
                    if on_start is not None:
                        on_start(execution)
                    return await execution.run()

        return asyncio.run(main())

    def creates(self) -> int:
        """Create requests sent so far."""
        return sum(
            1
            for r in self.requests
            if r.method == "POST"
            and r.url.path.startswith("/v1/")
            and r.url.path.removeprefix("/v1/") in CATALOG.endpoints
        )
