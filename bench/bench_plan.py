"""Benchmark: plan a 10,000-generation spec, and the schedule's makespan over its lower bound.

Prints, measured side by side in one run:
  * for 10,000-generation specs of three shapes (``spec_builders``): the time of the
    plan stage alone (pricing + scheduling a compiled graph) and of the whole ``plan`` command
    path (load, compile, validate, plan), as library calls and as the command line makes them
    (the cyclic collector paused around them), each with its ratio to a bare
    ``yaml.load(..., Loader=yaml.CSafeLoader)`` of the same file (best of 5 each; targets:
    under 1 s, under 3x the parse);
  * peak memory (maximum resident set size) and wall time of the ``runway-plan`` process on the
    10,000-step spec, for every output format of ``plan`` (``--format``, ``--gantt``) and of
    ``graph`` (target: at most 150 MB each);
  * makespan / lower bound of the list scheduler on 200 random DAGs (seeded), with the median,
    90th percentile and maximum (target: 90th percentile at most 1.05).  The lower bound is
    max(critical path, each pool's head + work / slots + tail, each pool's daily-cap bound).

Run: ``python bench/bench_plan.py``.  This is a measurement, not a test: nothing fails.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import yaml
from spec_builders import SHAPES, best_of

from runway_plan.catalog import load_catalog
from runway_plan.performance import cyclic_gc_paused
from runway_plan.plan import Limits, plan, schedule
from runway_plan.validate import check_file

N = 10_000
DAGS = 200
SEED = 20261124


def measure(name: str, text: str, path: Path) -> None:
    path.write_text(text, encoding="utf-8")
    catalog = load_catalog()
    graph, diagnostics = check_file(path, catalog)
    assert not [d for d in diagnostics if d.is_error], diagnostics[:3]
    result = plan(graph, catalog)

    def parse() -> object:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)

    def plan_stage() -> object:
        return plan(graph, catalog)

    def whole() -> object:
        checked, _ = check_file(path, catalog)
        return plan(checked, catalog)

    def whole_cli() -> object:
        with cyclic_gc_paused():
            return whole()

    parse_s = best_of(5, parse)
    stage_s = best_of(5, plan_stage)
    whole_s = best_of(5, whole)
    cli_s = best_of(5, whole_cli)
    print(
        f"{name:<19} {len(graph.generations):>6} generations, {result.total_high} credits, "
        f"makespan {result.schedule.makespan / 3600:.1f} h"
    )
    print(
        f"  bare CSafeLoader parse  {parse_s * 1000:7.1f} ms\n"
        f"  plan stage              {stage_s * 1000:7.1f} ms  ratio {stage_s / parse_s:5.2f}x\n"
        f"  load+validate+plan      {whole_s * 1000:7.1f} ms  ratio {whole_s / parse_s:5.2f}x\n"
        f"  the same, as the CLI    {cli_s * 1000:7.1f} ms  ratio {cli_s / parse_s:5.2f}x"
    )


FORMATS = (
    ("plan --format table", ["plan", "--format", "table"]),
    ("plan --format json", ["plan", "--format", "json"]),
    ("plan --format markdown", ["plan", "--format", "markdown"]),
    ("plan --format github", ["plan", "--format", "github"]),
    ("plan --format sarif", ["plan", "--format", "sarif"]),
    ("plan --gantt FILE.svg", ["plan", "--gantt", "{folder}/gantt.svg"]),
    ("plan --gantt FILE.html", ["plan", "--gantt", "{folder}/gantt.html"]),
    ("graph --format mermaid", ["graph", "--format", "mermaid"]),
    ("graph --format dot", ["graph", "--format", "dot"]),
)
"""The command lines whose peak memory is measured: every output ``plan`` and ``graph`` write."""


def peak_memory(path: Path, folder: Path) -> None:
    """Each format's ``runway-plan`` process on ``path``: its maximum RSS (from ``wait4``, the
    kernel's count for that child alone), wall time and bytes written."""
    print(f"peak memory of the runway-plan process on {path.name} (target: 150 MB)")
    for label, args in FORMATS:
        command = [a.format(folder=folder) for a in args]
        out = folder / "out.txt"
        started = time.perf_counter()
        with out.open("wb") as sink:
            child = subprocess.Popen(
                [sys.executable, "-m", "runway_plan", command[0], str(path), *command[1:]],
                stdout=sink,
                stderr=subprocess.DEVNULL,
                cwd=folder,  # python -m lists its working folder for imports: a small one
            )
            _pid, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        print(
            f"  {label:<24} {usage.ru_maxrss / 1024:6.1f} MB  {elapsed:6.2f} s  "
            f"{out.stat().st_size / 1e6:6.2f} MB written  exit {child.returncode}"
        )


def random_dag(
    rng: random.Random,
) -> tuple[nx.DiGraph, dict[str, float], dict[str, str], dict[str, Limits]]:
    """A layered random DAG whose tasks fall in a few pools, with catalog-like latencies."""
    n = rng.randint(20, 400)
    pools = [f"model{i}" for i in range(rng.randint(1, 6))]
    limits = {
        p: Limits(
            max_concurrent=rng.choice([1, 2, 3, 5, 10, 20]),
            max_daily=rng.choice([50, 200, 500, 1000, 10_000]),
        )
        for p in pools
    }
    density = rng.uniform(0.0, 3.0)
    dag = nx.DiGraph()
    keys = [f"g{i}" for i in range(n)]
    dag.add_nodes_from(keys)
    for j in range(1, n):
        for _ in range(int(density) + (rng.random() < density % 1)):
            dag.add_edge(keys[rng.randrange(0, j)], keys[j])
    pool_of = {k: rng.choice(pools) for k in keys}
    durations = {k: float(rng.randint(5, 60) + rng.choice([0, 0, 30, 60, 90])) for k in keys}
    return dag, durations, pool_of, limits


def makespan_ratios() -> None:
    rng = random.Random(SEED)
    ratios = []
    started = time.perf_counter()
    for _ in range(DAGS):
        dag, durations, pools, limits = random_dag(rng)
        result = schedule(dag.nodes, dag.edges, durations, pools, limits)
        ratios.append(result.makespan / result.lower_bound)
    elapsed = time.perf_counter() - started
    ratios.sort()
    p90 = ratios[int(0.9 * (len(ratios) - 1))]
    at_bound = sum(1 for r in ratios if r <= 1 + 1e-9)
    print(
        f"makespan / lower bound over {DAGS} random DAGs (seed {SEED}): "
        f"median {statistics.median(ratios):.3f}, p90 {p90:.3f}, max {ratios[-1]:.3f}; "
        f"{at_bound} at the bound ({elapsed:.2f} s)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, (name, build) in enumerate(SHAPES.items()):
            paths.append(Path(folder) / f"spec{index}.yaml")
            measure(name, build(N), paths[-1])
        peak_memory(paths[-1], Path(folder))
    makespan_ratios()


if __name__ == "__main__":
    main()
