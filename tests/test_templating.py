"""The Jinja sandbox: native values, positioned errors, and injection payloads that must fail."""

from __future__ import annotations

import pytest

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
    assert set(renderer.env.globals) == {"range"}
