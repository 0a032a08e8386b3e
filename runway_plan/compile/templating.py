"""Jinja2 rendering of spec scalars, in the bounded sandbox of :mod:`.sandbox`.

Every string scalar that holds a template is rendered on its own, after the YAML is parsed, so
its source position is kept.  A scalar that is exactly one ``{{ expression }}`` keeps the
expression's native type (``duration: "{{ seconds }}"`` gives an integer).  The environment is
an immutable sandbox with strict undefined variables and no globals that reach code, files or
the environment, and every render is bounded in memory and work (RP112 past a bound).

Jinja is imported, and the sandbox built, when a renderer meets its first template: a spec
without one (and ``validate`` of it) never loads them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.limits import Meter, over_limit
from runway_plan.source import INTEGER_RANGE

if TYPE_CHECKING:
    from runway_plan.compile.sandbox import RenderFunction, Sandbox, Work

__all__ = ["Absent", "Renderer", "TemplateFailure", "is_template"]

_WHOLE_EXPRESSION = re.compile(r"\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.DOTALL)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")


def is_template(text: str) -> bool:
    """True when ``text`` contains Jinja syntax."""
    return "{{" in text or "{%" in text or "{#" in text


@dataclass(frozen=True, slots=True)
class Absent:
    """Variables a context lacks on purpose, and why: the diagnostic when a template uses one."""

    names: frozenset[str]
    reason: str
    """Follows "'name' is undefined: " in the message."""
    hint: str
    """Comes before the list of the variables that are defined."""


@dataclass(frozen=True, slots=True)
class TemplateFailure:
    """A template that could not be rendered, as a diagnostic."""

    diagnostic: Diagnostic


_JSON_TYPES = (str, int, float, bool, type(None), list, dict)


@cache
def _failures() -> tuple[type[Exception], ...]:
    """The exceptions of a template that fails to compile or render (Jinja's among them, so
    imported on the first failure)."""
    from jinja2 import TemplateError, TemplateSyntaxError
    from jinja2.exceptions import SecurityError

    # Jinja's filters report some bad arguments as AttributeError (dictsort) or
    # AssertionError (truncate).
    evaluation = (
        TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError,
        AssertionError,
    )  # fmt: skip
    # Python's compiler refuses code nested too deeply (SyntaxError, MemoryError); the
    # sandbox refuses such templates first, these are the fallback.
    return (
        TemplateSyntaxError, SecurityError, *evaluation, RecursionError, SyntaxError,
        MemoryError,
    )  # fmt: skip


_COMPILE_COST = 2_000
_COMPILE_COST_PER_CHARACTER = 50
"""Template work charged for compiling a template: Jinja turns it into Python and compiles
that, which takes about as long as rendering this many units."""


class _NotANumber(ValueError):
    """A template gave a number no spec may hold (RP117)."""


def _to_data(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_data(item) for item in value]
    if isinstance(value, list):
        return [_to_data(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _to_data(item) for key, item in value.items()}
    if isinstance(value, str):
        return str(value)
    if not isinstance(value, _JSON_TYPES):
        raise TypeError(f"the template gave a {type(value).__name__}, not a plain value")
    if isinstance(value, float) and not math.isfinite(value):
        raise _NotANumber(f"the template gave {value}, not a finite number")
    if type(value) is int and not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
        raise _NotANumber("the template gave an integer outside 64 bits")
    return value


class _OverLimit(Exception):
    """The spec's work limit ``name`` ran out in this template."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Renderer:
    """Renders template scalars; compiled templates are cached by their text.

    With a :class:`~runway_plan.limits.Meter`, the template work of every render (its variables
    counted too, since each render sees a copy of them) and of every compile, and the size of
    every value rendered, are counted against the spec's ``template_work`` and
    ``rendered_chars`` limits: the render that crosses one fails with RP118, and the meter
    records the crossing.  The cache holds every template of one spec (a compile is charged
    once); a renderer that outlives specs is given ``max_cached``, and then keeps that many of
    the most recently used.
    """

    def __init__(self, meter: Meter | None = None, *, max_cached: int | None = None) -> None:
        self._sandbox: Sandbox | None = None
        self.meter = meter
        self.max_cached = max_cached
        self._cache: dict[str, RenderFunction] = {}

    @property
    def sandbox(self) -> Sandbox:
        """The Jinja sandbox templates compile in, built on first use."""
        sandbox = self._sandbox
        if sandbox is None:
            from runway_plan.compile.sandbox import Sandbox

            sandbox = self._sandbox = Sandbox()
        return sandbox

    def _compile(self, text: str) -> RenderFunction:
        cache = self._cache
        compiled = cache.get(text)
        if compiled is not None:
            if self.max_cached is not None:  # the most recently used last
                cache[text] = cache.pop(text)
            return compiled
        cost = _COMPILE_COST + _COMPILE_COST_PER_CHARACTER * len(text)
        if self.meter is not None and not self.meter.spend("template_work", cost):
            raise _OverLimit("template_work")
        whole = _WHOLE_EXPRESSION.match(text)
        sandbox = self.sandbox
        compiled = sandbox.expression(whole["expr"]) if whole else sandbox.template(text)
        if self.max_cached is not None:
            while cache and len(cache) >= self.max_cached:
                del cache[next(iter(cache))]
        cache[text] = compiled
        return compiled

    def render(
        self,
        text: str,
        context: Mapping[str, Any],
        span: Span,
        absent: Absent | None = None,
    ) -> Any:
        """Render ``text``; returns the value, or a :class:`TemplateFailure`.

        ``absent`` names variables the context lacks on purpose (``item`` in a step without
        ``for_each``), for the diagnostic when the template uses one.
        """
        from jinja2 import UndefinedError

        from runway_plan.compile.sandbox import OutOfWork, Work, deep_size

        meter = self.meter
        work: Work | None = None
        try:
            if meter is not None:
                if not meter.spend("template_work", len(context)):  # each render copies them
                    raise _OverLimit("template_work")
                work = Work(meter.left("template_work"))
            try:
                value = _to_data(self._compile(text)({**self.sandbox.globals, **context}, work))
            finally:
                if meter is not None and work is not None:
                    meter.spend("template_work", work.spent)
            if meter is not None:
                size = deep_size(value, meter.left("rendered_chars") + 1)
                if not meter.spend("rendered_chars", size):
                    raise _OverLimit("rendered_chars")
            return value
        except _OverLimit as exc:
            return self._over(exc.name, span)
        except OutOfWork:
            return self._over("template_work", span)
        except _NotANumber as exc:
            return TemplateFailure(make("RP117", str(exc), span))
        except UndefinedError as exc:
            message = exc.message or "undefined variable"
            found = _UNDEFINED_NAME.search(message)
            name = found.group(1) if found else None
            return _undefined(message, name, text, span, context, absent)
        except _failures() as exc:
            return _failure(exc, span)

    def _over(self, name: str, span: Span) -> TemplateFailure:
        assert self.meter is not None
        return TemplateFailure(over_limit(name, self.meter.limits, span))

    def check(
        self,
        text: str,
        defined: Collection[str] | None,
        span: Span,
        absent: Absent | None = None,
    ) -> TemplateFailure | None:
        """Check a template that cannot be rendered, because the values it would see are
        unknown: that it compiles and, unless ``defined`` is None, uses only those names."""
        try:
            self._compile(text)
            if defined is None:
                return None
            used = self.sandbox.free_names(text)
        except _OverLimit as exc:
            return self._over(exc.name, span)
        except _failures() as exc:
            return _failure(exc, span)
        missing = sorted(used - set(defined) - set(self.sandbox.globals))
        if not missing:
            return None
        name = missing[0]
        return _undefined(f"'{name}' is undefined", name, text, span, defined, absent)


def _undefined(
    message: str,
    name: str | None,
    text: str,
    span: Span,
    defined: Collection[str],
    absent: Absent | None,
) -> TemplateFailure:
    """RP111 for a template that uses ``name``, which is not among the ``defined`` variables."""
    hint = f"defined here: {', '.join(sorted(defined)) or 'nothing'}"
    if absent is not None and name in absent.names:
        message = f"'{name}' is undefined: {absent.reason}"
        hint = f"{absent.hint}; {hint}"
    return TemplateFailure(make("RP111", message, _point_into(span, text, name), hint=hint))


def _failure(exc: Exception, span: Span) -> TemplateFailure:
    """The diagnostic of a template that failed to compile or render (not an undefined name)."""
    from jinja2 import TemplateSyntaxError
    from jinja2.exceptions import SecurityError

    if isinstance(exc, TemplateSyntaxError):
        line = span.line + max((exc.lineno or 1) - 1, 0)
        at = Span(span.path, line, span.col, line, span.col + 1)
        return TemplateFailure(make("RP110", f"template syntax error: {exc.message}", at))
    if isinstance(exc, SecurityError):
        return TemplateFailure(make("RP112", f"template not allowed: {exc}", span))
    if isinstance(exc, RecursionError | SyntaxError | MemoryError):
        return TemplateFailure(make("RP112", "template nests too deeply", span))
    return TemplateFailure(make("RP113", f"template failed: {exc}", span))


def _point_into(span: Span, text: str, name: str | None) -> Span:
    """The span of ``name`` inside a single-line scalar, else the scalar's span."""
    if name is None or "\n" in text or span.line != span.end_line:
        return span
    offset = text.find(name)
    if offset < 0:
        return span
    quoted = (span.end_col - span.col) == len(text) + 2
    col = span.col + offset + (1 if quoted else 0)
    return Span(span.path, span.line, col, span.line, col + len(name))
