"""Fuzzing ``validate`` then ``plan`` with mutations of the example specs.

Whatever the mutation (a hostile scalar, a tag, a fan-out, a ``needs``, a template that
works hard, a huge number), checking a spec gives only diagnostics, located in the file, at
most the diagnostics limit of them; a spec without errors plans.  The light mutations run in
process; the heavy ones (fan-outs up to 100,000 items, renders at their bound) run in a child
process limited to 1 GB of address space and a CPU budget, which ends the test if any example
hangs or grows past it.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from runway_plan.catalog import load_catalog
from runway_plan.diagnostics import CODES, Diagnostic, has_errors
from runway_plan.diagnostics.render import render
from runway_plan.plan import plan
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
CATALOG = load_catalog()
GIB = 1024**3

HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    0,
    -1,
    2**62,
    10**30,
    float("nan"),
    float("inf"),
    -1e308,
    1e-320,
    "",
    "x" * 250,
    "y " * 5_000,
    "@hero",
    "@frames[3]",
    "@nope[-1]",
    "@" + "9" * 40,
    "no",
    "1:30",
    "{{ item }}",
    "{{ index * 2 }}",
    "{{ range(50) | list }}",
    "{{ 'nan' | float }}",
    "{{ 1e308 * 10 }}",
    "{{ 10 ** 30 }}",
    "{% for i in range(300) %}{{ i }}{% endfor %}",
    "{{ undefined_thing }}",
    "{% if %}",
    "{{ ''.__class__ }}",
    "__TAG__",
    [],
    {},
    [["deep"]],
    {"uri": "https://example.com/a.png", "position": ["first"]},
]
"""Values put in place of a scalar.  ``__TAG__`` is replaced in the YAML text by a tag."""

TAGS = [
    "!!python/object/apply:os.system [echo]",
    "!!bool maybe",
    "!!timestamp 99999-99-99",
    "!!int ''",
    "!!binary aGk=",
    "!!set {a, b}",
    "!custom x",
    "!!float .nan",
]

HEAVY_TEMPLATES = [
    "{{ 'x' * 99999 }}{{ item }}",
    "{% for i in range(1000) %}{% for j in range(900) %}{% endfor %}{% endfor %}{{ item }}",
    "{{ big }}",
    "{{ range(99999) | map('string') | join(',') }}",
]


def _scalar_paths(data: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _scalar_paths(value, (*at, key))]
    if isinstance(data, list):
        return [p for i, value in enumerate(data) for p in _scalar_paths(value, (*at, i))]
    return [at]


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


@st.composite
def mutated_specs(draw: st.DrawFn, heavy: bool = False) -> tuple[str, str]:
    """An example spec with a few mutations, as (file name, text)."""
    example = draw(st.sampled_from(EXAMPLES))
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    steps = list(data["steps"])
    tags: list[str] = []
    if heavy:
        step = data["steps"][draw(st.sampled_from(steps))]
        step["for_each"] = f"{{{{ range({draw(st.sampled_from([2_000, 20_000, 100_000]))}) }}}}"
        for field in ("promptText", "ratio", "targetLang"):
            if field in step and draw(st.booleans()):
                step[field] = draw(st.sampled_from(HEAVY_TEMPLATES))
        data.setdefault("vars", {})["big"] = "y" * 50_000
    for _ in range(draw(st.integers(0 if heavy else 1, 3))):
        kind = draw(
            st.sampled_from(["scalar", "drop", "fan", "needs", "copy", "limits", "price", "var"])
        )
        if kind == "scalar":
            path = draw(st.sampled_from(_scalar_paths(data)))
            value = draw(st.sampled_from(HOSTILE_SCALARS))
            if value == "__TAG__":
                tags.append(draw(st.sampled_from(TAGS)))
                value = f"__TAG{len(tags) - 1}__"
            _set(data, path, value)
        elif kind == "drop":
            step = data["steps"][draw(st.sampled_from(steps))]
            if isinstance(step, dict) and step:
                step.pop(draw(st.sampled_from(sorted(step))))
        elif kind == "fan":
            step = data["steps"][draw(st.sampled_from(steps))]
            count = draw(st.integers(0, 60))
            step["for_each"] = draw(
                st.sampled_from(
                    [f"{{{{ range({count}) }}}}", f"@{draw(st.sampled_from(steps))}", [1, 2]]
                )
            )
        elif kind == "needs":
            step = data["steps"][draw(st.sampled_from(steps))]
            step["needs"] = draw(st.lists(st.sampled_from([*steps, "nope"]), max_size=3))
        elif kind == "copy":
            name = draw(st.sampled_from(steps))
            data["steps"][f"{name}_copy"] = yaml.safe_load(yaml.safe_dump(data["steps"][name]))
        elif kind == "limits":
            name = draw(st.sampled_from(["generations", "edges", "template_work", "diagnostics"]))
            data["limits"] = {name: draw(st.sampled_from([1, 3, 10**6, 10**12, 0, -1, "x"]))}
        elif kind == "price":
            data["prices"] = {
                draw(st.sampled_from(["gen4_image", "gen4_turbo", "gpt_image_2"])): draw(
                    st.sampled_from([0, 5, 0.5, "1e999", 10**13, "12345678901234567890"])
                )
            }
        else:
            data.setdefault("vars", {})[draw(st.sampled_from(["shots", "product", "x"]))] = draw(
                st.sampled_from(HOSTILE_SCALARS)
            )
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    for index, tag in enumerate(tags):
        text = text.replace(f"__TAG{index}__", tag)
    return example.name, text


def with_assets(folder: Path) -> Path:
    """``folder`` with the examples' assets and documents beside where the specs go."""
    for name in ("assets", "knowledge"):
        if not (folder / name).exists():
            shutil.copytree(ROOT / "specs" / name, folder / name)
    return folder


def check_and_plan(path: Path, text: str) -> list[Diagnostic]:
    """What ``validate`` then ``plan`` do with a spec; asserts they only give diagnostics."""
    path.write_text(text, encoding="utf-8")
    graph, diagnostics = check_file(path, CATALOG)
    lines = len(text.splitlines()) + 1
    assert len(diagnostics) <= graph.limits.diagnostics + 1
    for diagnostic in diagnostics:
        assert diagnostic.code in CODES, diagnostic
        if diagnostic.span is not None:
            assert diagnostic.span.path == str(path), diagnostic
            assert 1 <= diagnostic.span.line <= lines + 1, diagnostic
    for fmt in ("text", "json"):
        render(diagnostics, fmt, version="fuzz")
    if not has_errors(diagnostics):
        result = plan(graph, CATALOG)
        assert result.total_low <= result.total_high
        assert set(result.schedule.slots) == set(graph.generations)
    return diagnostics


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated_specs())
def test_mutated_examples_only_give_diagnostics(tmp_path: Path, case: tuple[str, str]) -> None:
    name, text = case
    check_and_plan(with_assets(tmp_path) / name, text)


HEAVY_EXAMPLES = 12
HEAVY_CPU_SECONDS = 240


def fuzz_heavy(folder: str, examples: int) -> None:
    """The heavy fuzzing, run by the child process of :func:`test_heavy_mutations_...`."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # a heavy example is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(case=mutated_specs(heavy=True))
    def heavy(case: tuple[str, str]) -> None:
        name, text = case
        check_and_plan(with_assets(Path(folder)) / name, text)

    heavy()


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))
    resource.setrlimit(resource.RLIMIT_CPU, (HEAVY_CPU_SECONDS, HEAVY_CPU_SECONDS))


def test_heavy_mutations_stay_within_a_gigabyte_and_a_cpu_budget(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_untrusted_fuzz import fuzz_heavy
        fuzz_heavy({str(tmp_path)!r}, {HEAVY_EXAMPLES})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=1800,
        preexec_fn=_limits,
        env={**os.environ, "RUNWAY_PLAN_DEBUG": ""},
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, (done.returncode, done.stdout[-3000:], done.stderr[-5000:])
