"""Benchmark: validate and plan at this checkout against an earlier commit, by instruction count.

Wall time on a shared 2-core machine moves by tens of percent from one run to the next; the
number of instructions a workload executes does not.  This runs the same workloads under
``valgrind --tool=callgrind`` with the package from this checkout and from ``--ref`` (a
temporary git worktree), side by side in one run, and prints each one's instructions and the
ratio (this checkout / ref; below 1.00 is faster).

Workloads, each ``validate`` (``check_file``) then ``plan`` in process, measured as the
instructions of the workload minus those of a run that only imports and loads the catalog:

* ``examples``: every ``specs/*.yaml`` of that checkout, three times over;
* ``fan_out_strings``, ``fan_out_records``, ``many_steps``: the benchmark shapes of
  ``spec_builders`` at ``--generations`` generations (1,000 by default: callgrind runs
  Python about 50 times slower than native).

Run: ``python bench/compare_ref.py --ref 56ce9a2`` (needs valgrind: ``apt-get install
valgrind``).  A measurement, not a test: nothing fails.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from spec_builders import SHAPES

ROOT = Path(__file__).resolve().parents[1]

_DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.setrecursionlimit(10_000)
from runway_plan.catalog import load_catalog
from runway_plan.plan import PlanOptions, plan
from runway_plan.validate import check_file
catalog = load_catalog()
for _ in range(int(sys.argv[2])):
    for name in sys.argv[3:]:
        graph, diagnostics = check_file(Path(name), catalog)
        assert not [d for d in diagnostics if d.is_error], (name, diagnostics[:3])
        plan(graph, catalog, PlanOptions(source=name))
"""
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(package: Path, repeat: int, specs: list[Path]) -> int:
    """Instructions of one driver run (imports, catalog, then the workload)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-c",
        _DRIVER,
        str(package),
        str(repeat),
        *map(str, specs),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    found = _COLLECTED.search(result.stderr)
    if result.returncode != 0 or not found:
        raise SystemExit(f"valgrind run failed for {package}:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def workload(package: Path, repeat: int, specs: list[Path]) -> int:
    """Instructions of the workload alone: a run with it minus a run without it."""
    return instructions(package, repeat, specs) - instructions(package, 0, [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="the commit to compare against")
    parser.add_argument("--generations", type=int, default=1_000)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        print("compare_ref: valgrind is not installed (apt-get install valgrind)")
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="runway-plan-compare-"))
    before = scratch / "ref"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(before), args.ref],
        check=True,
    )
    try:
        shapes = scratch / "shapes"
        shapes.mkdir()
        cases: list[tuple[str, int, dict[Path, list[Path]]]] = [
            (
                "examples",
                3,
                {p: sorted((p / "specs").glob("*.yaml")) for p in (ROOT, before)},
            )
        ]
        for name, build in SHAPES.items():
            path = shapes / f"{name}.yaml"
            path.write_text(build(args.generations), encoding="utf-8")
            cases.append((f"{name} ({args.generations:,})", 1, {ROOT: [path], before: [path]}))
        print(f"instructions (millions), this checkout vs {args.ref}; ratio = this / ref")
        print(f"  {'workload':<28} {'this':>10} {'ref':>10} {'ratio':>7}")
        for name, repeat, specs in cases:
            now = workload(ROOT, repeat, specs[ROOT])
            then = workload(before, repeat, specs[before])
            print(f"  {name:<28} {now / 1e6:>10.1f} {then / 1e6:>10.1f} {now / then:>7.2f}")
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)], check=False
        )
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
