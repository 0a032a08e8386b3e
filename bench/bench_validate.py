"""Benchmark: validate a 10,000-generation spec against a bare YAML parse of the same file.

Prints, measured side by side in one run (best of several repetitions each):
  * in-process validate time of a 10,000-item fan-out spec and of a 10,000-step spec, and each
    one's ratio to ``yaml.load(..., CSafeLoader)`` of the same file (targets: < 1 s, < 3x);
  * the wall time of ``runway-plan validate`` on a small example spec, as a new process
    (target: < 0.3 s).

Run: ``python bench/bench_validate.py``.  This is a measurement, not a test: nothing fails.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from runway_plan.catalog import load_catalog
from runway_plan.validate import check_file

ROOT = Path(__file__).parent.parent
N = 10_000


def fan_out_spec(n: int) -> str:
    shots = "\n".join(f"    - shot {i}: a lighthouse at dusk, angle {i % 360}" for i in range(n))
    return f"""version: 1
name: bench-fan-out
vars:
  shots:
{shots}
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: a lighthouse on a cliff
    ratio: "1920:1080"
  shot:
    for_each: "{{{{ shots }}}}"
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@hero"
    promptText: "{{{{ item }}}}, slow dolly-in"
    ratio: "1280:720"
    duration: 5
"""


def many_steps_spec(n: int) -> str:
    lines = ["version: 1", "name: bench-steps", "steps:"]
    lines += [
        "  hero:",
        "    endpoint: text_to_image",
        "    model: gen4_image",
        "    promptText: a lighthouse on a cliff",
        '    ratio: "1920:1080"',
    ]
    for i in range(n - 1):
        lines += [
            f"  shot_{i}:",
            "    endpoint: image_to_video",
            "    model: gen4_turbo",
            '    promptImage: "@hero"',
            f"    promptText: shot {i}, slow dolly-in",
            '    ratio: "1280:720"',
            "    duration: 5",
        ]
    return "\n".join(lines) + "\n"


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(name: str, text: str, folder: Path) -> None:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    catalog = load_catalog()
    graph, diagnostics = check_file(path, catalog)
    assert not [d for d in diagnostics if d.is_error], diagnostics[:3]
    generations = len(graph.generations)

    def parse() -> object:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def validate() -> object:
        return check_file(path, catalog)

    parse_s = best_of(5, parse)
    validate_s = best_of(5, validate)
    print(
        f"{name:<10} {generations:>6} generations  validate {validate_s * 1000:7.1f} ms  "
        f"bare CSafeLoader {parse_s * 1000:7.1f} ms  ratio {validate_s / parse_s:4.2f}x"
    )


def cli_wall() -> None:
    spec = ROOT / "specs" / "launch.yaml"
    command = [sys.executable, "-m", "runway_plan", "validate", str(spec)]
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        runs.append(time.perf_counter() - started)
    baseline = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        baseline.append(time.perf_counter() - started)
    print(
        f"CLI validate specs/launch.yaml: median {statistics.median(runs) * 1000:.0f} ms wall "
        f"(bare `python -c pass`: {statistics.median(baseline) * 1000:.0f} ms)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        measure("fan-out", fan_out_spec(N), Path(folder))
        measure("steps", many_steps_spec(N), Path(folder))
    cli_wall()


if __name__ == "__main__":
    main()
