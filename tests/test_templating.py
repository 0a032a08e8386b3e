"""The Jinja sandbox: native values, positioned errors, and injection payloads that must fail."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runway_plan.compile.sandbox import ALLOWED_FILTERS
from runway_plan.compile.templating import Renderer, TemplateFailure
from runway_plan.diagnostics import Span

SPAN = Span("s.yaml", 3, 10, 3, 30)


@pytest.fixture
def renderer() -> Renderer:
    return Renderer()


def test_a_whole_expression_keeps_its_native_type(renderer: Renderer) -> None:
    assert renderer.render("{{ seconds }}", {"seconds": 5}, SPAN) == 5
    assert renderer.render("{{ shots }}", {"shots": ["a", "b"]}, SPAN) == ["a", "b"]
    assert renderer.render("{{ n + 1 }}s", {"n": 4}, SPAN) == "5s"


def test_undefined_variables_point_into_the_scalar(renderer: Renderer) -> None:
    result = renderer.render("Hello {{ nobody }}", {"x": 1}, Span("s.yaml", 3, 10, 3, 30))
    assert isinstance(result, TemplateFailure)
    assert result.diagnostic.code == "RP111"
    assert result.diagnostic.span == Span("s.yaml", 3, 20, 3, 26)  # quoted: one column in


def test_syntax_errors_are_positioned(renderer: Renderer) -> None:
    result = renderer.render("{{ x", {"x": 1}, SPAN)
    assert isinstance(result, TemplateFailure) and result.diagnostic.code == "RP110"


PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ x.__class__.__base__ }}",
    "{{ x.__init__.__globals__ }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ x|attr('__class__')|attr('__mro__') }}",
    "{{ x.pop() }}",
    "{{ x.append(1) }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ '%s'|format(x.__class__) }}",
    "{{ 2 ** 1000000 }}",
    "{{ 'a' * 100000000 }}",
    "{{ range(100000000)|list }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{{ environ }}",
    "{{ os.environ }}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_payloads_never_evaluate(renderer: Renderer, payload: str) -> None:
    result = renderer.render(payload, {"x": [1, 2]}, SPAN)
    assert isinstance(result, TemplateFailure), f"{payload!r} rendered {result!r}"
    assert result.diagnostic.code in {"RP111", "RP112", "RP113"}
    assert "root:" not in result.diagnostic.message


def test_the_sandbox_has_no_globals_but_range(renderer: Renderer) -> None:
    assert set(renderer.sandbox.globals) == {"range"}


# Ordinary spec templates keep working.

CONTEXT = {
    "shots": ["dusk", "dawn", "noon"],
    "item": {"subject": "lighthouse", "angle": 30},
    "index": 7,
    "seconds": 5,
    "brand": "Aurora",
}

ORDINARY = [
    ("{{ brand|upper }} launch", "AURORA launch"),
    ("{{ shots|join(', ') }}", "dusk, dawn, noon"),
    ("{{ missing|default('none') }}!", "none!"),
    ("{{ brand|replace('A', 'E') }}", "Eurora"),
    ("frame_{{ '%03d'|format(index) }}", "frame_007"),
    ("frame_{{ '%03d' % index }}", "frame_007"),
    ("{{ 'a long prompt about a lighthouse'|truncate(15) }}", "a long..."),
    ("{% if index > 5 %}late{% else %}early{% endif %} take", "late take"),
    (
        "{% for s in shots %}{{ loop.index }}:{{ s }}{{ ', ' if not loop.last }}{% endfor %}",
        "1:dusk, 2:dawn, 3:noon",
    ),
    ("{% for s in shots if s != 'dawn' %}{{ s }};{% else %}none{% endfor %}", "dusk;noon;"),
    ("{% for k, v in item|dictsort %}{{ k }}={{ v }} {% endfor %}", "angle=30 subject=lighthouse "),
    ("{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}", "aba"),
    ("{{ brand ~ '-' ~ index ~ '-' ~ shots[0] }}", "Aurora-7-dusk"),
    ("{{ item.subject }} at {{ item['angle'] }} degrees", "lighthouse at 30 degrees"),
    ("{{ shots[index % 3] }} {{ shots[1:]|join('+') }}", "dawn dawn+noon"),
    ("{{ shots|map('title')|select('ne', 'Dawn')|join }}", "DuskNoon"),
    ("{{ shots|sort|first }} {{ shots|length }} {{ [3, 1, 2]|max }}", "dawn 3 3"),
    ("{{ brand.lower().startswith('au') }} {{ 'a,b'.split(',') }}", "True ['a', 'b']"),
    (
        "{{ index + 1 }} {{ index * 2 }} {{ index / 2 }} {{ index // 2 }} {{ 2 ** 10 }}",
        "8 14 3.5 3 1024",
    ),
    ("{{ 'x' * 3 }} {{ [0] * 2 }} {{ (1, 2) + (3,) }}", "xxx [0, 0] (1, 2, 3)"),
    ("{{ index is divisibleby 7 }} {{ 'dusk' in shots }} {{ 1 < index < 10 }}", "True True True"),
    ("{{ item|tojson }}", '{"angle": 30, "subject": "lighthouse"}'),
    ("{{ [[1], [2]]|sum(start=[]) }} {{ shots|batch(2)|list|length }}", "[1, 2] 2"),
]


@pytest.mark.parametrize(("text", "expected"), ORDINARY)
def test_ordinary_templates_render(renderer: Renderer, text: str, expected: str) -> None:
    assert renderer.render(text, CONTEXT, SPAN) == expected


def test_whole_expressions_keep_native_values(renderer: Renderer) -> None:
    assert renderer.render("{{ seconds }}", CONTEXT, SPAN) == 5
    assert renderer.render("{{ seconds * 2 }}", CONTEXT, SPAN) == 10
    assert renderer.render("{{ index > 3 }}", CONTEXT, SPAN) is True
    assert renderer.render("{{ item }}", CONTEXT, SPAN) == {"subject": "lighthouse", "angle": 30}
    assert renderer.render("{{ shots[:2] }}", CONTEXT, SPAN) == ["dusk", "dawn"]
    assert renderer.render("{{ range(3) }}", CONTEXT, SPAN) == [0, 1, 2]
    assert renderer.render("{{ shots|reverse|list }}", CONTEXT, SPAN) == ["noon", "dawn", "dusk"]
    assert renderer.render("{{ result }}", {"result": 3}, SPAN) == 3


def test_large_spec_data_passes_through_a_whole_expression(renderer: Renderer) -> None:
    shots = [f"lighthouse at dusk, angle {i % 360}, take {i}" for i in range(40_000)]
    assert renderer.render("{{ shots }}", {"shots": shots}, SPAN) == shots
    assert renderer.render("{{ shots|length }}", {"shots": shots}, SPAN) == 40_000
    assert renderer.render("{{ item }}, slow", {"item": shots[-1]}, SPAN) == shots[-1] + ", slow"


def test_the_budget_is_per_render_and_templates_are_cached(renderer: Renderer) -> None:
    text = "{% for i in range(n) %}{% for j in range(n) %}.{% endfor %}{% endfor %}"
    assert renderer.render(text, {"n": 10}, SPAN) == "." * 100
    refused = renderer.render(text, {"n": 2000}, SPAN)
    assert isinstance(refused, TemplateFailure) and refused.diagnostic.code == "RP112"
    assert renderer.render(text, {"n": 10}, SPAN) == "." * 100
    assert renderer.render(text, {"n": 300}, SPAN) == "." * 90_000
    assert len(renderer._cache) == 1


REFUSED_SYNTAX = [
    ("{% macro f() %}x{% endmacro %}{{ f() }}", "{% macro %}"),
    ("{% set a = 1 %}{{ a }}", "{% set %}"),
    ("{% set a %}x{% endset %}{{ a }}", "{% set %}"),
    ("{% with a = 1 %}{{ a }}{% endwith %}", "{% with %}"),
    ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
    ("{% macro f() %}{{ caller() }}{% endmacro %}{% call f() %}x{% endcall %}", "{% macro %}"),
    ("{% extends 'base' %}", "{% extends %}"),
    ("{% block b %}x{% endblock %}", "{% block %}"),
    ("{% from 'x' import y %}", "{% from ... import %}"),
    ("{% autoescape true %}x{% endautoescape %}", "{% autoescape %}"),
    ("{% for i in x recursive %}{{ loop(i) }}{% endfor %}", "recursive loops"),
    ("{{ x|center(9) }}", "filter 'center'"),
    ("{{ x|pprint }}", "filter 'pprint'"),
    ("{{ x|_rp_loop(-9) }}", "filter '_rp_loop'"),
    ("{{ x|map('_rp_loop', -9)|list }}", "filter '_rp_loop'"),
    ("{{ '{}'.format(1) }}", "'format'"),
    ("{{ 'a'.encode() }}", "str.encode"),
]


@pytest.mark.parametrize(("text", "named"), REFUSED_SYNTAX)
def test_constructs_specs_do_not_need_are_refused_by_name(
    renderer: Renderer, text: str, named: str
) -> None:
    result = renderer.render(text, {"x": [1, 2]}, SPAN)
    assert isinstance(result, TemplateFailure), result
    assert result.diagnostic.code == "RP112"
    assert named in result.diagnostic.message


# Templates that try to exhaust memory or time are refused with RP112.  They run in one child
# process under a 2 GB address-space limit, so a regression fails these tests instead of taking
# the test runner down.

EXHAUSTING = [
    "{{ 'ab' | center(10**10) }}",
    "{{ 'x' | indent(10**9) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '%.999999999f' % 1.0 }}",
    "{{ '%*s' % (999999999, 'x') }}",
    "{{ '%(a(b))999999999s' % {'a(b)': 1} }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '%s%s'|format('x' * 99999, 'y' * 99999) }}",
    "{{ '{:>999999999}'.format('x') }}",
    "{{ '{:>999999999}'.format_map({}) }}",
    "{{ range(10)|batch(10**9, 'x')|list }}",
    "{{ range(10)|slice(10**9, 'x')|list }}",
    "{% for s in range(10)|slice(10**9) %}{% endfor %}",
    "{{ 'abc'|replace('', 'x' * 99999) }}",
    "{{ ('x' * 99999).replace('', 'y' * 99999) }}",
    "{{ range(99999)|join('x' * 99999) }}",
    "{{ ('x' * 99999).join(range(99999)|map('string')) }}",
    "{{ 'a b'|wordwrap(1, wrapstring='x' * 99999) }}",
    "{{ [1]|tojson(indent=10**9) }}",
    "{{ [1]|tojson(indent='x' * 99999) }}",
    "{{ range(30000)|list|tojson(indent=16) }}",
    "{{ [[1] * 99999] * 99999 }}",
    "x{{ [[1] * 99999] * 99999 }}",
    "{{ ([[1] * 99999] * 99999)|sum(start=[]) }}",
    "{{ rows|sum(start=[]) }}",
    "x{{ rows }}",
    "{{ rows|join }}",
    "{{ rows|tojson }}",
    "{{ rows|string }}",
    "{{ rows == rows2 }}",
    "{{ rows|unique|list }}",
    "{% macro f(s, n) %}{{ f(s~s, n-1) if n else s }}{% endmacro %}{{ f('x', 40) }}",
    "{% set b = 'x' * 99999 %}{% set a = [b,b,b,b] %}{% set c = [a,a,a,a] %}{{ c }}",
    "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{% for x in 'x' * 99999 %}{% for y in 'y' * 99999 %}{% endfor %}{% endfor %}",
    "{% for i in range(99999) %}{{ 'x' * 99999 }}{% endfor %}",
    "{% for a in range(99999) %}{% for b in range(99999) %}{{ a == b }}{% endfor %}{% endfor %}",
    "{% for a in [[[0] * 300] * 300] %}{% for b in [[[0] * 300] * 300] %}"
    "{% for i in range(99999) %}{{ loop.changed(a) }}{{ loop.changed(b) }}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{{ (((('x',) * 300,) * 300,) * 300) == (((('x',) * 300,) * 300,) * 300) }}",
    "{{ 5|round(-10**9) }}",
    "{{ 5.5|round(10**9, 'ceil') }}",
    "{{ ('x' * 99999).center(10**9) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ '\t'.expandtabs(10**9) }}",
    "{{ 'a'.translate({97: 'x' * 99999}) }}",
    "{{ ((10**64)**64)**64 }}",
    "{{ 2 ** (10**9) }}",
    "{{ ('1' * 4000)|int * 2 }}",
    "{{ 'x' * 99999 ~ 'y' * 99999 }}",
    "{{ ['x' * 99999] * 99999 }}",
    "{{ (range(99999)|list) + (range(99999)|list) }}",
    "{{ ([none] * 99999)|map('default', 'x' * 99999, true)|list }}",
    "{{ range(99999)|map('replace', '', 'x' * 50000)|join }}",
    "{{ range(99999)|list|string }}",
    "{{ (['x' * 99999] * 99)|sort(case_sensitive=false) }}",
    "{{ range(10**9) }}",
    "{{ range(10**30)|list }}",
    "{{ range(99999)|list + [1, 2] }}",
    "{{ big }}x",
    "{{ big ~ big }}",
    "{% for i in range(99999) %}{{ big|length }}{% endfor %}",
    "{% for i in range(99999) %}{{ big.count('x') }}{% endfor %}",
    "{% for i in range(99999) %}{{ 'y' in big }}{% endfor %}",
    "{% for i in range(99999) %}{{ big[1:] }}{% endfor %}",
    "{{ big|groupby('real') }}",
    "{% for i in range(99) %}{{ range(99999)|map(attribute='real')|list|length }}{% endfor %}",
    "{{ (2**4000) * (2**100) }}",
    "{{ '%s' % rows }}",
]

_CHILD = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2_000_000_000, 2_000_000_000))
resource.setrlimit(resource.RLIMIT_CPU, (120, 120))
from runway_plan.compile.templating import Renderer, TemplateFailure
from runway_plan.diagnostics import Span
rows, rows2 = [[1] * 1000] * 1000, [[1] * 1000] * 1000
context = {"x": [1, 2], "rows": rows, "rows2": rows2, "big": "x" * 100_001}
renderer, span = Renderer(), Span("s.yaml", 1, 1, 1, 2)
renderer.render("{{ x|join }}", context, span)
for text in json.load(sys.stdin):
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        result = renderer.render(text, context, span)
        if isinstance(result, TemplateFailure):
            outcome = [result.diagnostic.code, result.diagnostic.message]
        else:
            outcome = ["rendered", repr(result)[:200]]
    except BaseException as exc:
        outcome = ["raised", f"{type(exc).__name__}: {exc}"[:200]]
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline
    seconds = time.perf_counter() - started
    print(json.dumps([text, *outcome, grown // 1024, seconds]), flush=True)
"""


@pytest.fixture(scope="module")
def exhausting_outcomes() -> dict[str, list[Any]]:
    child = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(EXHAUSTING),
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        timeout=600,
        check=False,
    )
    outcomes = {}
    for line in child.stdout.splitlines():
        text, *outcome = json.loads(line)
        outcomes[text] = outcome
    outcomes["(child)"] = [child.returncode, child.stderr[-2000:]]
    return outcomes


@pytest.mark.parametrize("payload", EXHAUSTING)
def test_exhausting_templates_are_refused_within_bounds(
    exhausting_outcomes: dict[str, list[Any]], payload: str
) -> None:
    outcome = exhausting_outcomes.get(payload)
    assert outcome is not None, f"the child died before finishing: {exhausting_outcomes['(child)']}"
    code, message, grown_mb, seconds = outcome
    assert code == "RP112", f"{payload!r}: {code} {message}"
    assert grown_mb < 256, f"{payload!r} grew the process by {grown_mb} MB"
    assert seconds < 5, f"{payload!r} took {seconds:.1f} s"


def test_the_readme_lists_the_allowed_filters() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"Filters: `([^`]+)`", readme)
    assert listed is not None
    assert tuple(listed.group(1).split()) == ALLOWED_FILTERS


def test_check_finds_syntax_errors_and_undefined_names_without_rendering(
    renderer: Renderer,
) -> None:
    syntax = renderer.check("{{ item | }}", {"item"}, SPAN)
    assert syntax is not None and syntax.diagnostic.code == "RP110"
    undefined = renderer.check("Hello {{ item }} {{ nobody }}", {"item", "index"}, SPAN)
    assert undefined is not None
    assert undefined.diagnostic.message == "'nobody' is undefined"
    assert undefined.diagnostic.hint == "defined here: index, item"
    assert renderer.check("{% for x in range(2) %}{{ loop.index }}{% endfor %}", (), SPAN) is None
    assert renderer.check("{{ nobody }}", None, SPAN) is None


def test_a_bounded_renderer_keeps_only_its_most_recently_used_templates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bounded = Renderer(max_cached=2)
    compiled: list[str] = []
    template = bounded.sandbox.template

    def counting(text: str) -> Any:
        compiled.append(text)
        return template(text)

    monkeypatch.setattr(bounded.sandbox, "template", counting)
    for name in ["a", "b", "a", "c", "a", "b"]:
        assert bounded.render(f"{name} {{{{ x }}}}", {"x": 1}, SPAN) == f"{name} 1"
    assert compiled == ["a {{ x }}", "b {{ x }}", "c {{ x }}", "b {{ x }}"]


_JINJA_LOADED = """
import sys
from runway_plan.validate import check_file
from runway_plan.compile.templating import Renderer
from runway_plan.diagnostics import Span
_, diagnostics = check_file(sys.argv[1])
print(sorted({d.code for d in diagnostics if d.is_error}), "jinja2" in sys.modules)
print(Renderer().render("{{ 1 + 1 }}", {}, Span("s.yaml", 1, 1, 1, 2)), "jinja2" in sys.modules)
"""


def test_jinja_is_imported_only_for_a_spec_with_templates() -> None:
    root = Path(__file__).parent.parent
    child = subprocess.run(
        [sys.executable, "-c", _JINJA_LOADED, "specs/router.yaml"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        check=True,
    )
    assert "{{" not in (root / "specs/router.yaml").read_text(encoding="utf-8")
    assert child.stdout.splitlines() == ["[] False", "2 True"]
