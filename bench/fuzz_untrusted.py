"""A mutation fuzz of ``validate`` and ``plan`` on hostile variants of the example specs.

Each case mutates one of ``specs/*.yaml`` (values replaced by hostile ones, keys renamed or
duplicated, YAML tags and anchors, templates, paths out of the repository, huge numbers,
control characters, bytes flipped or cut) and runs what CI runs on an unreviewed spec:
``check_file`` (load, compile, validate), ``plan``, and every renderer: the four diagnostic
formats and the plan's table, JSON, Markdown, Mermaid, DOT and Gantt (SVG and HTML).

Cases run in worker processes limited to 1 GB of address space, one case at a time over each
worker's own pipe; a case has 30 s (an alarm in the worker, and a watchdog that kills a worker
silent for 60 s); a case that kills its worker counts as an exception and the worker is
replaced.  Counted per case:

* ``exceptions``: anything raised other than a diagnostic (a traceback a user would see);
* ``hangs``: over 30 s;
* ``memory``: a ``MemoryError`` under the 1 GB limit;
* ``unescaped``: a raw control character in any output (other than its own newlines), a
  line of standard output that starts a CI workflow command (``::``, ``##[``) other than
  runway-plan's own annotations (the Gantt chart is a file, not a log), or JSON/SARIF that
  does not parse;
* ``leaks``: an output that shows content of a file outside the repository.

Run: ``python bench/fuzz_untrusted.py --cases 10000 [--seed N] [--workers 2]``.  Not a test:
CI runs the hypothesis fuzz in ``tests/``; this is the long run whose figures a change reports.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
CASE_SECONDS = 30
MEMORY_BYTES = 1 << 30

HOSTILE_STRINGS = [
    "/etc/passwd",
    "/etc/shadow",
    "/proc/self/environ",
    "../../../../etc/passwd",
    "assets/../../outside.png",
    "assets/" + "x" * 300 + ".png",
    "/dev/zero",
    "\x1b]8;;https://evil.test\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[31mred\x1b[0m",
    "line\n::error file=README.md,line=1::forged",
    "##[error]forged",
    "\r::set-output name=x::y",
    "`code` | pipe | <b>html</b> ![img](https://evil.test/x.png) @someone",
    "\u202eevil\u202c",
    "{{ range(10**9) | list }}",
    "{{ 'a' * 10**9 }}",
    "{{ range | string }}",
    "{% for a in range(99) %}{% for b in range(99) %}x{% endfor %}{% endfor %}",
    "{{ item }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__ }}",
    "@nope",
    "@hero[99999999999999999999]",
    "data:image/png;base64,AAAA",
    "runway://upload/x",
    "https://127.0.0.1/x.png",
    "",
]
HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    10**400,
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    1.5,
    [],
    {},
    [[[[[]]]]],
    {"a": {"b": {"c": {}}}},
]
DISPLAY_PAYLOADS = [
    "\x1b]8;;https://evil.test\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[31mred\x1b[0m\x07\x08",
    "a\n::error file=README.md,line=1::forged",
    "##[error]forged",
    "\r::set-output name=x::y",
    "`code` | pipe | <b>html</b> ![img](https://evil.test/x.png) @someone <!-- -->",
    "# heading\n\n```\nfence",
    "\u202eevil\u202c \u2066iso\u2069 \u200bzero",
    "quote \" and ' and \\ backslash",
    "</script><script>alert(1)</script>",
    "]]></svg><svg onload=alert(1)>",
]
TEXT_MUTATIONS = [
    "!!python/object/apply:os.system ['true']",
    "!!bool maybe",
    "!!timestamp 99999-99-99",
    "!!int ''",
    "&a [*a]",
    "*undefined_alias",
    "{{",
    "'",
    '"\\x00"',
    "- " * 200,
    "[" * 300,
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every data path in ``node``, itself first."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _mutate_data(data: Any, rng: random.Random) -> Any:
    """``data`` with one to four of its values, keys or shapes replaced by hostile ones."""
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(_paths(data))
        choice = rng.random()
        if choice < 0.45:
            new: Any = rng.choice(HOSTILE_STRINGS)
        elif choice < 0.7:
            new = copy.deepcopy(rng.choice(HOSTILE_SCALARS))  # never shared: no cycles
        elif choice < 0.8:
            new = {rng.choice(HOSTILE_STRINGS)[:40] or "k": rng.choice(HOSTILE_STRINGS)}
        elif choice < 0.9:
            new = [rng.choice(HOSTILE_STRINGS) for _ in range(rng.randint(0, 3))]
        else:
            new = f"{{{{ range({rng.choice([10, 10**4, 10**5, 10**7])}) | list }}}}"
        if not path:
            data = new
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        if isinstance(parent, dict) and rng.random() < 0.2:
            value = parent.pop(last)
            parent[rng.choice(HOSTILE_STRINGS)[:60] or "k"] = value
        else:
            parent[last] = new
    return data


def _mutate_text(text: str, rng: random.Random) -> str:
    """``text`` with bytes flipped, lines cut, duplicated or given hostile YAML."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        index = rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines = [rng.choice(TEXT_MUTATIONS)]
        elif choice < 0.3:
            key = lines[index].split(":", 1)[0]
            lines[index] = f"{key}: {rng.choice(TEXT_MUTATIONS)}"
        elif choice < 0.45:
            lines.insert(index, lines[index])  # a duplicate key
        elif choice < 0.6:
            lines = lines[: rng.randrange(len(lines) + 1)]
        elif choice < 0.8:
            line = lines[index]
            if line:
                at = rng.randrange(len(line))
                lines[index] = (
                    line[:at] + chr(rng.choice([0, 7, 8, 13, 27, 0x85, 0x2028])) + line[at:]
                )
        else:
            lines.insert(index, "  " * rng.randint(0, 3) + rng.choice(TEXT_MUTATIONS))
    return "\n".join(lines) + "\n"


def _yaml_text(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, RecursionError):
        return json.dumps(data, default=str)


def _reword(data: Any, rng: random.Random) -> Any:
    """``data`` with some of its text (names, descriptions, prompts) made of display payloads:
    a spec that stays valid, so the plan and its renderers see hostile text too."""
    texts = [
        p
        for p in _paths(data)
        if p and isinstance(_at(data, p), str) and (p[-1] in _PROSE or isinstance(p[-1], int))
    ]
    for path in rng.sample(texts, min(len(texts), rng.randint(1, 4))):
        parent = _at(data, path[:-1])
        original = parent[path[-1]]
        if original.startswith(("@", "assets/", "knowledge/")) or ":" in original[:6]:
            continue  # references, paths and ratios keep their meaning
        parent[path[-1]] = original + rng.choice(DISPLAY_PAYLOADS)
    if isinstance(data, dict) and rng.random() < 0.5:
        data["name"] = rng.choice(DISPLAY_PAYLOADS)
    return data


_PROSE = {"promptText", "description", "name", "startScript", "personality", "text"}


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def make_case(number: int, seed: int, examples: list[tuple[str, str]]) -> tuple[str, str]:
    """Case ``number``: an example spec's name and the mutated text."""
    rng = random.Random(f"{seed}:{number}")
    name, text = rng.choice(examples)
    if rng.random() < 0.3:
        text = _yaml_text(_reword(yaml.safe_load(text), rng))
    elif rng.random() < 0.6:
        data = _mutate_data(yaml.safe_load(text), rng)
        text = _yaml_text(data)
    else:
        text = _mutate_text(text, rng)
    return name, text


_COMMAND = re.compile(r"^\s*(::|.*##(vso)?\[)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _problems(outputs: dict[str, str], annotations: int) -> list[str]:
    found = []
    for fmt, text in outputs.items():
        if fmt in ("json", "sarif", "plan-json"):
            try:
                json.loads(text)
            except ValueError as exc:
                found.append(f"{fmt}: not JSON ({exc})")
        if _CONTROL.search(text):
            found.append(f"{fmt}: raw control character {_CONTROL.search(text)!r}")
        commands = [line for line in text.splitlines() if _COMMAND.match(line)]
        allowed = annotations if fmt == "github" else 0
        if len(commands) > allowed and not fmt.startswith("gantt"):  # files, not a CI log
            found.append(f"{fmt}: {len(commands) - allowed} forged workflow command line(s)")
        if "root:x:0:0" in text or "RUNWAYML" in text:
            found.append(f"{fmt}: shows a file outside the repository")
    return found


def run_case(spec: Path, catalog: Any) -> dict[str, Any]:
    """Validate, plan and render one spec; what went wrong."""
    from runway_plan.diagnostics import has_errors
    from runway_plan.diagnostics.render import FORMATS, render
    from runway_plan.plan import PlanOptions, plan
    from runway_plan.plan.report import (
        render_dot,
        render_gantt_html,
        render_gantt_svg,
        render_mermaid,
        render_plan,
    )
    from runway_plan.validate import check_file

    graph, diagnostics = check_file(spec, catalog)
    outputs = {fmt: render(diagnostics, fmt) for fmt in FORMATS}
    annotations = len(diagnostics)
    if not has_errors(diagnostics):
        result = plan(graph, catalog, PlanOptions(source=str(spec)))
        outputs["plan-table"] = render_plan(result, "table")
        outputs["plan-json"] = render_plan(result, "json")
        outputs["plan-markdown"] = render_plan(result, "markdown")
        outputs["mermaid"] = render_mermaid(result)
        outputs["dot"] = render_dot(result)
        outputs["gantt-svg"] = render_gantt_svg(result)
        outputs["gantt-html"] = render_gantt_html(result)
    return {"problems": _problems(outputs, annotations), "planned": not has_errors(diagnostics)}


def _worker(connection: Any, folder: str) -> None:
    """Run the cases the parent sends over ``connection``, one at a time, under the limits."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    from runway_plan.catalog import load_catalog

    catalog = load_catalog()

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError("case over 30 s")

    signal.signal(signal.SIGALRM, alarm)
    workdir = Path(folder)
    while True:
        try:
            task = connection.recv()
        except EOFError:
            return
        if task is None:
            return
        number, name, text = task
        spec = workdir / f"case-{number}.yaml"
        spec.write_text(text, encoding="utf-8", errors="surrogateescape")
        outcome: dict[str, Any] = {"number": number, "name": name}
        signal.alarm(CASE_SECONDS)
        try:
            outcome.update(run_case(spec, catalog))
        except TimeoutError:
            outcome["hang"] = True
        except MemoryError:
            outcome["memory"] = True
        except BaseException:
            outcome["exception"] = traceback.format_exc(limit=6)
        finally:
            signal.alarm(0)
            spec.unlink(missing_ok=True)
        connection.send(outcome)


class _Worker:
    """One worker process and the case it is running (its own pipe: a worker that dies or is
    killed takes no shared lock with it)."""

    def __init__(self, context: Any, folder: str) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, folder), daemon=True)
        self.process.start()
        child.close()
        self.case: tuple[int, str, str] | None = None
        self.since = time.monotonic()

    def send(self, case: tuple[int, str, str]) -> None:
        self.case = case
        self.since = time.monotonic()
        self.connection.send(case)

    def stop(self) -> None:
        self.process.kill()
        self.process.join(timeout=10)
        self.connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--show", type=int, default=5, help="failures shown per kind")
    args = parser.parse_args()
    examples = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(SPECS.glob("*.yaml"))]
    scratch = Path(tempfile.mkdtemp(prefix="runway-plan-fuzz-"))
    repo = scratch / "repo"
    shutil.copytree(SPECS, repo / "specs", ignore=shutil.ignore_patterns("outputs", ".runway-plan"))
    (repo / ".git").mkdir()  # the root: outside it is "outside the repository"
    (scratch / "outside.png").write_bytes((SPECS / "assets" / "product.png").read_bytes())
    context = mp.get_context("fork")
    pending = ((n, *make_case(n, args.seed, examples)) for n in range(args.cases))
    folder = str(repo / "specs")
    workers = [_Worker(context, folder) for _ in range(args.workers)]
    counts = {"cases": 0, "exceptions": 0, "hangs": 0, "memory": 0, "unescaped": 0, "planned": 0}
    shown: dict[str, list[str]] = {}
    started = time.monotonic()

    def record(outcome: dict[str, Any]) -> None:
        counts["cases"] += 1
        counts["planned"] += bool(outcome.get("planned"))
        for kind, key in (("exceptions", "exception"), ("hangs", "hang"), ("memory", "memory")):
            if outcome.get(key):
                counts[kind] += 1
                shown.setdefault(kind, []).append(f"case {outcome['number']}: {outcome[key]}")
        if outcome.get("problems"):
            counts["unescaped"] += 1
            shown.setdefault("unescaped", []).append(
                f"case {outcome['number']}: {outcome['problems'][:2]}"
            )
        if counts["cases"] % 1000 == 0:
            print(f"{counts['cases']} cases, {time.monotonic() - started:.0f} s", file=sys.stderr)

    for worker in workers:
        first = next(pending, None)
        if first is not None:
            worker.send(first)
    while any(worker.case is not None for worker in workers):
        ready = mp_connection.wait([w.connection for w in workers if w.case], timeout=5)
        for index, worker in enumerate(workers):
            if worker.case is None:
                continue
            number = worker.case[0]
            replaced = False
            if worker.connection in ready:
                try:
                    record(worker.connection.recv())
                except (EOFError, OSError):  # the case killed its worker
                    code = worker.process.exitcode
                    record({"number": number, "exception": f"worker died (exit code {code})"})
                    replaced = True
            elif time.monotonic() - worker.since > 2 * CASE_SECONDS:  # stuck in C code
                record({"number": number, "hang": "no answer in 60 s: killed"})
                replaced = True
            else:
                continue
            if replaced:
                worker.stop()
                worker = workers[index] = _Worker(context, folder)
            worker.case = None
            case = next(pending, None)
            if case is not None:
                worker.send(case)
    for worker in workers:
        worker.connection.send(None)
        worker.process.join(timeout=10)
    elapsed = time.monotonic() - started
    print(f"fuzz_untrusted: seed {args.seed}, {elapsed:.0f} s, {args.workers} workers")
    for key, value in counts.items():
        print(f"  {key:<11} {value}")
    for kind, items in shown.items():
        print(f"first {kind}:")
        for item in items[: args.show]:
            print("  " + item.replace("\n", "\n    "))
    shutil.rmtree(scratch, ignore_errors=True)
    failed = counts["exceptions"] + counts["hangs"] + counts["memory"] + counts["unescaped"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
