"""Benchmark: validate a 10,000-generation spec against a bare YAML parse of the same file.

Prints, measured side by side in one run (best of several repetitions each):
  * in-process validate time of 10,000-generation specs of three shapes (``spec_builders``:
    a fan-out over strings, a fan-out over records, 10,000 separate steps), and each one's
    ratio to ``yaml.load(..., CSafeLoader)`` of the same file (targets: < 1 s, < 3x), as a
    library call and as the command line makes it (the cyclic collector paused around it);
  * the wall time of ``runway-plan validate`` on a small example spec, as a new process
    (target: < 0.3 s);
  * finding the suppression comments of 1,000 and of 10,000 commented steps, and the ratio
    of the two (linear: about 10; the first, quadratic version took 52 s for 10,000).

Run: ``python bench/bench_validate.py``.  This is a measurement, not a test: nothing fails.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from spec_builders import SHAPES, best_of

from runway_plan.catalog import load_catalog
from runway_plan.diagnostics.selection import suppressions_in
from runway_plan.performance import cyclic_gc_paused
from runway_plan.validate import check_file

ROOT = Path(__file__).parent.parent
N = 10_000


def measure(name: str, text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8")
    catalog = load_catalog()
    graph, diagnostics = check_file(path, catalog)
    assert not [d for d in diagnostics if d.is_error], diagnostics[:3]
    generations = len(graph.generations)

    def parse() -> object:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def validate() -> object:
        return check_file(path, catalog)

    def validate_cli() -> object:
        with cyclic_gc_paused():
            return check_file(path, catalog)

    parse_s = best_of(5, parse)
    validate_s = best_of(5, validate)
    cli_s = best_of(5, validate_cli)
    print(
        f"{name:<19} {generations:>6} generations  validate {validate_s * 1000:7.1f} ms  "
        f"bare CSafeLoader {parse_s * 1000:7.1f} ms  ratio {validate_s / parse_s:5.2f}x  "
        f"as the CLI (collector paused) {cli_s * 1000:7.1f} ms  ratio {cli_s / parse_s:5.2f}x"
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


def commented_spec(steps: int) -> str:
    """A spec of ``steps`` steps, each with a suppression comment and one inside a string."""
    body = "".join(
        f"  s{i}:\n    promptText: 'x # runway-plan: ignore'\n    model: m  # runway-plan: "
        "ignore[RP2]\n"
        for i in range(steps)
    )
    return "version: 1\nsteps:\n" + body


def suppressions() -> None:
    small, large = commented_spec(N // 10), commented_spec(N)
    small_s = best_of(5, lambda: suppressions_in(small))
    large_s = best_of(3, lambda: suppressions_in(large))
    print(
        f"suppression comments: {N // 10:,} steps {small_s * 1000:.0f} ms, {N:,} steps "
        f"{large_s * 1000:.0f} ms (x{large_s / small_s:.1f} for x10 the steps)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, build) in enumerate(SHAPES.items()):
            measure(name, build(N), Path(folder) / f"spec{index}.yaml")
    cli_wall()
    suppressions()


if __name__ == "__main__":
    main()
