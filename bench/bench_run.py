"""Benchmark: ``runway-plan run`` on the emulator in process, with compressed time.

Prints, measured in one run:
  * the executor's makespan over the planner's schedule lower bound for a 37-generation
    spec at tier 2 (target: at most 1.05), both on an emulator whose tasks take exactly the
    catalog's latency and on the faithful emulator (2 s PENDING per task, status updates
    every 5 s as the API documents), whose own delays no client can remove;
  * the speed-up over a sequential SDK-style loop (create, then poll every 6 ± 1.5 s as
    the official SDK's ``wait_for_task_output`` does, then download; one step at a time) on
    the same emulator;
  * HTTP requests per task (creates, polls, downloads, organization);
  * the time to resume a finished 1,000-generation run, in process (the CLI's work after
    its imports: validate, plan, survey the state, verify outputs, links, manifest) and as a
    new ``runway-plan run`` process, with the generation requests it sent (target: 0, < 1 s).

Emulated seconds are wall seconds times the speed.  Run: ``python bench/bench_run.py``.
This is a measurement, not a test: nothing fails.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

from runway_plan.catalog import load_catalog
from runway_plan.catalog.assets import set_path
from runway_plan.compile import Graph
from runway_plan.emulator import Emulator, EmulatorConfig, EmulatorServer, create_app
from runway_plan.execute import (
    Execution,
    RetryPolicy,
    RunOptions,
    RunResult,
    RunwayClient,
    State,
    origin_of,
)
from runway_plan.execute.client import data_uri
from runway_plan.execute.fingerprint import Fingerprinter
from runway_plan.plan import PlanOptions, plan, schedule
from runway_plan.plan.live import parse_organization
from runway_plan.probe import probe
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parent.parent
KEY = "key_" + "be" * 64
CATALOG = load_catalog()
SPEED = 20.0
"""Time compression of the makespan runs: the executor's fixed costs (journal commits, each
synced to disk, planning, the manifest) take wall time that compression magnifies."""
BASELINE_SPEED = 50.0

SPEC = """\
version: 1
name: bench
tier: 2
vars:
  scenes: [dawn, noon, dusk, night, storm, fog]
  lines: [one, two, three, four, five, six]
steps:
  keyframe:
    for_each: "{{ scenes }}"
    endpoint: text_to_image
    model: gen4_image
    promptText: "A lighthouse at {{ item }}, painterly"
    ratio: "1280:720"
  clip:
    for_each: "@keyframe"
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "{{ item }}"
    promptText: "Slow push-in, scene {{ index + 1 }}"
    ratio: "1280:720"
    duration: 5
  hero:
    endpoint: text_to_video
    model: gen4.5
    promptText: "The lighthouse beam sweeps across a stormy sea"
    ratio: "1280:720"
    duration: 10
  line:
    for_each: "{{ lines }}"
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "Narration line {{ item }} for the lighthouse film."
    voice: {type: runway-preset, presetId: Maya}
  dub:
    for_each: "@line"
    endpoint: voice_dubbing
    model: eleven_voice_dubbing
    audioUri: "{{ item }}"
    targetLang: es
  still:
    for_each: "{{ scenes }}"
    endpoint: text_to_image
    model: gen4_image_turbo
    promptText: "Poster still, {{ item }}"
    ratio: "1280:720"
    referenceImages: [{uri: assets/product.png, tag: product}]
  upscale_source:
    for_each: "{{ scenes }}"
    endpoint: text_to_video
    model: veo3.1_fast
    promptText: "Aerial shot of the coast at {{ item }}"
    ratio: "1280:720"
    duration: 4
    audio: false
"""


def _spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    assets = directory / "assets"
    if not assets.exists():
        assets.mkdir()
        for source in (ROOT / "specs" / "assets").iterdir():
            (assets / source.name).write_bytes(source.read_bytes())
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _graph(path: Path) -> Graph:
    graph, diagnostics = check_file(path, CATALOG)
    assert not [d for d in diagnostics if d.is_error], diagnostics[:3]
    return graph


def _emulator(speed: float, **config: Any) -> Emulator:
    values: dict[str, Any] = {
        "api_key": KEY,
        "speed": speed,
        "tier": 2,
        "credits": 10_000_000,
        "seed": 1,
    }
    values.update(config)
    return Emulator(EmulatorConfig(**values), catalog=CATALOG)


async def _execute(
    graph: Graph,
    emu: Emulator,
    state: Path,
    speed: float,
    outputs: Path,
    base_url: str = "http://emulator",
) -> tuple[RunResult, float]:
    """Run ``graph`` in process: through ASGI, or against ``base_url`` when it is served."""
    transport = httpx.ASGITransport(app=create_app(emu)) if "emulator" in base_url else None
    async with httpx.AsyncClient(transport=transport) as http:
        client = RunwayClient(http, api_key=KEY, base_url=base_url, retry=RetryPolicy(scale=speed))
        with State(state) as journal:
            execution = Execution(
                graph,
                client,
                journal,
                RunOptions(outputs_dir=outputs, poll_interval=5.0 / speed, speed=speed),
                catalog=CATALOG,
                origin=origin_of(base_url),
                spec_sha256="0" * 64,
            )
            started = time.perf_counter()
            result = await execution.run()
            return result, time.perf_counter() - started


async def _sequential(graph: Graph, emu: Emulator, speed: float) -> float:
    """The SDK-style loop: one create, then wait (6 ± 1.5 s between polls), then download."""
    fingerprinter = Fingerprinter(graph, "http://emulator")
    headers = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
    urls: dict[tuple[str, int], str] = {}
    rng = random.Random(0)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(emu)), base_url="http://emulator"
    ) as http:
        started = time.perf_counter()
        for key in fingerprinter.order():
            gen = graph.generations[key]
            body: Any = gen.request
            for path, ref in fingerprinter.inputs[key]:
                body = set_path(body, path, urls[(ref.key, ref.index)])
            for item in fingerprinter.files[key]:
                local = graph.root.local_path(item.value)
                assert local is not None, item
                mime = probe(local).mime or "application/octet-stream"
                body = set_path(body, item.path, data_uri(local.read_bytes(), mime))
            created = await http.post(f"/v1/{gen.endpoint}", json=body, headers=headers)
            created.raise_for_status()
            task_id = created.json()["id"]
            while True:
                await asyncio.sleep((6.0 + rng.uniform(0, 3) - 1.5) / speed)
                task = (await http.get(f"/v1/tasks/{task_id}", headers=headers)).json()
                if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    break
            assert task["status"] == "SUCCEEDED", task
            for index, url in enumerate(task["output"]):
                urls[(key, index)] = url
                (await http.get(url)).raise_for_status()
        return time.perf_counter() - started


def makespan_figures(tmp: Path) -> None:
    spec = _spec(tmp / "bench", SPEC)
    graph = _graph(spec)
    for label, config in (
        ("catalog latencies", {"queue_seconds": 0.0, "cadence": None}),
        ("faithful emulator", {"queue_seconds": 2.0, "cadence": 5.0}),
    ):
        emu = _emulator(SPEED, **config)
        organization = asyncio.run(_organization(emu))
        planned = plan(graph, CATALOG, PlanOptions(live=parse_organization(organization)))
        bound = planned.schedule.lower_bound
        state = tmp / f"state-{label.split()[0]}"
        result, wall = asyncio.run(_execute(graph, emu, state, SPEED, tmp / f"out-{label[:4]}"))
        assert result.exit_code == 0, result.diagnostics[:3]
        emulated = wall * SPEED
        tasks = len(graph.generations)
        requests = sum(result.requests.values())
        print(
            f"{label:<18} {tasks} tasks  makespan {emulated:7.1f} s  schedule "
            f"{planned.schedule.makespan:7.1f} s  lower bound {bound:7.1f} s  "
            f"makespan/bound {emulated / bound:5.3f}  (target <= 1.05)"
        )
        print(
            f"{'':<18} {requests / tasks:.2f} HTTP requests per task "
            f"({', '.join(f'{k} {v}' for k, v in sorted(result.requests.items()))}); "
            f"THROTTLED seen {result.throttled}"
        )
        if config["cadence"] is not None:
            cadence, queue = float(config["cadence"]), float(config["queue_seconds"])
            durations = {
                key: math.ceil((g.latency + queue) / cadence) * cadence
                for key, g in planned.generations.items()
            }
            limits = {name: usage.limits for name, usage in planned.schedule.pools.items()}
            pools = {key: g.pool for key, g in planned.generations.items()}
            own = schedule(graph.generations, graph.edges, durations, pools, limits).lower_bound
            print(
                f"{'':<18} the API's own delays (2 s PENDING, 5 s status cadence) put any "
                f"client's bound at {own:.1f} s: makespan/that bound {emulated / own:5.3f}"
            )
            baseline_emu = _emulator(BASELINE_SPEED, **config)
            baseline = asyncio.run(_sequential(graph, baseline_emu, BASELINE_SPEED))
            baseline *= BASELINE_SPEED
            print(
                f"{'':<18} sequential SDK-style loop {baseline:7.1f} s  speed-up "
                f"{baseline / emulated:5.2f}x"
            )


async def _organization(emu: Emulator) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(emu))) as http:
        client = RunwayClient(http, api_key=KEY, base_url="http://emulator")
        return await client.organization()


BIG = """\
version: 1
name: big
tier: 5
vars:
  items: {items}
steps:
  image:
    for_each: "{{{{ items }}}}"
    endpoint: text_to_image
    model: gen4_image
    promptText: "Tile {{{{ item }}}} of a mosaic"
    ratio: "1280:720"
  voice:
    for_each: "{{{{ items }}}}"
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "Caption {{{{ item }}}}"
    voice: {{type: runway-preset, presetId: Maya}}
"""


def _serve(emu: Emulator) -> EmulatorServer:
    return EmulatorServer(create_app(emu))


def resume_figures(tmp: Path) -> None:
    spec = _spec(tmp / "big", BIG.format(items=list(range(500))))
    graph = _graph(spec)
    generations = len(graph.generations)
    speed = 2000.0
    emu = _emulator(speed, tier=5, queue_seconds=0.0)
    state = spec.parent / ".runway-plan"
    outputs = spec.parent / "outputs"
    with _serve(emu) as server:
        url = server.base_url
        first, wall = asyncio.run(_execute(graph, emu, state, speed, outputs, url))
        assert first.exit_code == 0, first.diagnostics[:3]
        print(f"first run of {generations} generations on a loopback emulator: {wall:.1f} s wall")
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            resumed_graph = _graph(spec)
            result, _ = asyncio.run(_execute(resumed_graph, emu, state, speed, outputs, url))
            timings.append(time.perf_counter() - started)
        assert {g.outcome.value for g in result.generations.values()} == {"reused"}
        print(
            f"resume of the finished {generations}-generation run, in process: "
            f"{min(timings):.3f} s (validate, plan, survey, verify, link, manifest); "
            f"{result.requests.get('create', 0)} generation requests, "
            f"{sum(result.requests.values())} requests in all (target: 0, < 1 s)"
        )
        env = dict(os.environ, RUNWAYML_API_SECRET=KEY)
        command = [sys.executable, "-m", "runway_plan", "run", str(spec)]
        command += ["--base-url", url, "--speed", str(speed)]
        command += ["--state", str(state), "--outputs", str(outputs)]
        before = len(emu.ledger())
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    print(
        f"resume as a new `runway-plan run` process: {elapsed:.3f} s (exit {done.returncode}, "
        f"{len(emu.ledger()) - before} generation requests; Python start-up and imports "
        "included)"
    )
    if done.returncode:
        print(f"  it said: {done.stderr.strip().splitlines()[-1:]}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as directory:
        tmp = Path(directory)
        print(
            f"emulated time: x{SPEED:g} for the executor, x{BASELINE_SPEED:g} for the "
            "sequential loop (tier 2, in process)"
        )
        makespan_figures(tmp)
        resume_figures(tmp)


if __name__ == "__main__":
    main()
