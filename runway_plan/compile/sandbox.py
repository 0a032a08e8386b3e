"""A Jinja2 sandbox in which every render is bounded in memory and work.

A spec from an untrusted pull request cannot exhaust memory or time, by construction:

* a template is parsed and only a small language is accepted: output, ``if``, ``for`` (not
  recursive), literals, arithmetic, comparisons, ``~``, attribute and item access, calls of
  ``range``, ``loop`` helpers and plain ``str``/``dict``/``list`` methods, and a list of filters
  and tests.  Macros, ``set``, ``with``, includes, imports and inheritance are refused;
* no string a template makes is longer than ``MAX_SIZE`` characters, no list longer than
  ``MAX_SIZE`` items, and no output longer than ``MAX_SIZE`` characters.  Operations that can
  grow a value (``+ * ** %``, ``~``, ``join``, ``replace``, ``format``, ``batch`` ...) check
  the size of their result before computing it;
* each render has a budget of ``MAX_WORK`` units: a loop iteration costs the size of the loop's
  body, and every value made, compared, turned into text or returned costs its deep size (shared
  items counted each time they occur), so a render can neither run long nor build a structure
  whose text or copy is huge.  A caller may give a render less (what is left of a budget across
  many renders): past that it raises :class:`OutOfWork`;
* a template nests at most ``MAX_NESTING`` blocks (``if``/``for``), and its syntax tree is at
  most 48 levels deep, far below what Python's own compiler refuses.

A template that hits a bound raises :class:`jinja2.exceptions.SecurityError`, naming what it
tried.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from itertools import chain, islice
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS, make_attrgetter
from jinja2.parser import Parser
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS
from jinja2.visitor import NodeTransformer

__all__ = [
    "ALLOWED_FILTERS",
    "MAX_NESTING",
    "MAX_SIZE",
    "MAX_WORK",
    "OutOfWork",
    "RenderFunction",
    "Sandbox",
    "Work",
    "deep_size",
]

MAX_SIZE = 100_000
MAX_WORK = 1_000_000
"""Units of work one render may do."""
MAX_NESTING = 8
"""Blocks (``if``, ``for``) a template may nest inside one another."""
_MAX_INT_BITS = 4096
_ITEM_COST = 8
_MAX_JSON_INDENT = 16
_MAX_ROUND_PRECISION = 400
_PERCENT_NUMBERS = re.compile(r"(\*|\d*)(?:\.(\*|\d*))?")
_PERCENT_SPECS = re.compile(r"%[-+ #0]*(\*|\d*)(?:\.(\*|\d*))?[hlL]*.", re.DOTALL)
_Check = Callable[..., None]


_SCALARS = frozenset({int, float, bool, type(None)})


def _measure(value: object, limit: int) -> int:
    """The deep size of ``value``: a string's length; for a collection, one per item plus the
    items' own sizes, shared items counted every time they occur.  Stops counting past ``limit``.
    """
    if type(value) is str:
        return len(value)
    if type(value) is int:
        return 1 + (value.bit_length() >> 6)
    if type(value) in _SCALARS:
        return 1
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, Undefined) or not isinstance(value, Collection):
        return 1
    total = 1
    stack: list[Collection[Any]] = [value]
    while stack:
        item = stack.pop()
        children: Iterable[Any] = item
        if isinstance(item, Mapping):
            children = chain(item, item.values())
            total += len(item)
        total += len(item)
        if total > limit:
            return total
        for child in children:
            if type(child) is str:
                total += len(child)
                if total > limit:
                    return total
            elif type(child) is int:
                total += child.bit_length() >> 6
            elif type(child) in _SCALARS:
                pass
            elif isinstance(child, str | bytes):
                total += len(child)
            elif isinstance(child, Collection) and not isinstance(child, Undefined):
                stack.append(child)
    return total


def deep_size(value: object, limit: int) -> int:
    """The deep size of a value a template gave (see the module's docstring), counted no
    further than ``limit``."""
    return _measure(value, limit)


def _shallow(value: object) -> int:
    if type(value) is int:
        return 1 + (value.bit_length() >> 6)
    if type(value) in _SCALARS:
        return 1
    return len(value) if isinstance(value, str | bytes | list | tuple | dict) else 1


class OutOfWork(SecurityError):
    """A render reached the work its caller gave it, less than ``MAX_WORK``: what was left of a
    budget shared by many renders."""


class Work:
    """The work one render may do (``allowed``, at most ``MAX_WORK``) and, after it, has done."""

    __slots__ = ("allowed", "spent")

    def __init__(self, allowed: int = MAX_WORK) -> None:
        self.allowed = min(allowed, MAX_WORK)
        self.spent = 0


class _Context(Context):
    """A render's context; ``spent`` is the work the render has done, ``allowed`` what it may."""

    spent = 0
    allowed = MAX_WORK


def _spend(context: _Context, units: int) -> None:
    context.spent += units
    if context.spent > context.allowed:
        if context.allowed < MAX_WORK:
            raise OutOfWork(f"the template needs more than the {context.allowed:,} units left")
        raise SecurityError(
            f"the template does more than {MAX_WORK:,} units of work (loop iterations and "
            "the sizes of the values it makes, compares or prints)"
        )


def _spend_on(context: _Context, value: object) -> int:
    """Charges the deep size of ``value``, measured no further than the budget left."""
    size = _measure(value, context.allowed - context.spent + 1)
    _spend(context, size)
    return size


def _made(context: _Context, value: Any) -> Any:
    """Checks and charges a value an operation has just made."""
    if type(value) is int:
        bits = value.bit_length()
        if bits > _MAX_INT_BITS:
            raise SecurityError(f"the template made an integer of {bits:,} bits")
        _spend(context, 1 + (bits >> 6))
    elif isinstance(value, str | bytes):
        if len(value) > MAX_SIZE:
            raise SecurityError(f"the template made a string of {len(value):,} characters")
        _spend(context, len(value))
    elif isinstance(value, list | tuple | dict):
        if len(value) > MAX_SIZE:
            raise SecurityError(
                f"the template made a {type(value).__name__} of {len(value):,} items"
            )
        _spend_on(context, value)
    else:
        _spend(context, 1)
    return value


def _require_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise SecurityError(f"{what} would make a value of {size:,} characters or items")


def _require_data(value: Any) -> None:
    """Refuses to turn a function or an iterator into text, alone or inside a collection
    whose size is known to be bounded: Python writes its memory address."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | Undefined) or type(item) in _SCALARS:
            continue
        if isinstance(item, LoopContext):
            raise TypeError("loop cannot be turned into text: use loop.index, loop.first ...")
        if isinstance(item, Iterator):
            raise TypeError(
                f"a {type(item).__name__} cannot be turned into text: make it a list (|list) "
                "or join it (|join)"
            )
        if callable(item):
            name = "range" if item is _range else getattr(item, "__name__", None)
            if name is None:
                raise TypeError(f"a {type(item).__name__} cannot be turned into text")
            raise TypeError(
                f"{name} is a function, not a value: call it ({name}(...)) to use its result"
            )
        if isinstance(item, Mapping):
            stack.extend(chain(item, item.values()))
        elif isinstance(item, Collection):
            stack.extend(item)


def _text(context: _Context, value: Any) -> str:
    """``str(value)``, refused when the text would be too long or Python's text for a
    function."""
    if type(value) is not str:
        size = _measure(value, MAX_SIZE)
        _require_size(size, f"turning a {type(value).__name__} into text")
        _require_data(value)
        _spend(context, size)
        value = str(value)
    if len(value) > MAX_SIZE:
        raise SecurityError(f"turning a value into text gives {len(value):,} characters")
    _spend(context, len(value))
    return cast(str, value)


def _textual(context: _Context, *values: Any) -> None:
    """Charges inputs a filter reads as text; refuses those whose text would be too long."""
    for value in values:
        if type(value) is str:
            _spend(context, len(value))
        else:
            size = _measure(value, MAX_SIZE)
            _require_size(size, f"turning a {type(value).__name__} into text")
            _require_data(value)
            _spend(context, size)


def _collect(value: Iterable[Any], what: str) -> list[Any]:
    items = list(islice(value, MAX_SIZE + 1))
    if len(items) > MAX_SIZE:
        raise SecurityError(f"{what} would take more than {MAX_SIZE:,} items")
    return items


# Checks of operations that can grow their result, made before the result is computed.


def _percent_widths(text: str) -> int:
    """The widths and precisions of a %-format's conversions, added up (as CPython parses them)."""
    if "%(" not in text:
        specs = _PERCENT_SPECS.findall(text)
        if any("*" in spec for pair in specs for spec in pair):
            raise SecurityError("'*' widths are not allowed in % formatting")
        return sum(int(width or 0) + int(precision or 0) for width, precision in specs)
    total = 0
    index = text.find("%")
    while index >= 0:
        index += 1
        if text.startswith("(", index):
            depth = 0
            while index < len(text):
                depth += 1 if text[index] == "(" else -1 if text[index] == ")" else 0
                index += 1
                if depth == 0:
                    break
        while index < len(text) and text[index] in "-+ #0":
            index += 1
        numbers = _PERCENT_NUMBERS.match(text, index)
        assert numbers is not None
        width, precision = numbers.group(1), numbers.group(2) or ""
        if "*" in (width, precision):
            raise SecurityError("'*' widths are not allowed in % formatting")
        total += int(width or 0) + int(precision or 0)
        index = numbers.end()
        while index < len(text) and text[index] in "hlL":
            index += 1
        index = text.find("%", index + 1)
    return total


def _check_percent(context: _Context, text: str, args: Any) -> None:
    values = (
        args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else [args]
    )
    size = len(text) + _percent_widths(text)
    for value in values:
        size += _measure(value, MAX_SIZE)
        _require_size(size, "% formatting")
        _require_data(value)
    _require_size(size, "% formatting")
    _spend(context, size)


def _check_replace(text: str, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _require_size(len(text) + found * (len(new) - len(old)), "replace")


_GROWING_OPERATORS = frozenset({"*", "+", "**", "%"})


def _check_binop(context: _Context, operator_name: str, left: Any, right: Any) -> None:
    if operator_name == "*":
        for sized, count in ((left, right), (right, left)):
            if isinstance(sized, str | bytes | list | tuple) and isinstance(count, int):
                _require_size(len(sized) * count, "repetition")
        if isinstance(left, int) and isinstance(right, int):
            _require_bits(left.bit_length() + right.bit_length())
    elif operator_name == "+":
        if isinstance(left, str | bytes | list | tuple) and isinstance(
            right, str | bytes | list | tuple
        ):
            _require_size(len(left) + len(right), "'+'")
    elif operator_name == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _require_bits(math.ceil(right * math.log2(abs(left))))
    elif operator_name == "%" and isinstance(left, str | bytes):
        _check_percent(context, left if isinstance(left, str) else left.decode("latin-1"), right)


def _require_bits(bits: int) -> None:
    if bits > _MAX_INT_BITS:
        raise SecurityError(f"the arithmetic would make an integer of about {bits:,} bits")


# Filters: the ones a spec may use, each charged for its inputs and result.


def _check_textual(context: _Context, value: Any, *args: Any, **kwargs: Any) -> None:
    _textual(context, value, *args, *kwargs.values())


def _check_deep(context: _Context, value: Any, *args: Any, **kwargs: Any) -> None:
    _spend_on(context, value)


def _check_keyed(context: _Context, value: Any, *args: Any, **kwargs: Any) -> None:
    _spend_on(context, value)
    _spend(context, 2 * _ITEM_COST * _shallow(value))


def _check_sized(context: _Context, value: Any, *args: Any, **kwargs: Any) -> None:
    _spend(context, _shallow(value))


def _check_format(context: _Context, value: Any, *args: Any, **kwargs: Any) -> None:
    _check_percent(context, _text(context, value), kwargs or args)


def _check_replace_filter(
    context: _Context, value: Any, old: Any, new: Any, count: Any = None
) -> None:
    _textual(context, value, old, new)
    _check_replace(str(value), str(old), str(new), -1 if count is None else count)


def _check_batch(context: _Context, value: Any, linecount: Any, fill_with: Any = None) -> None:
    _require_count(linecount)


def _check_slice(context: _Context, value: Any, slices: Any, fill_with: Any = None) -> None:
    _require_count(slices)
    _spend(context, _shallow(value))


def _require_count(count: Any) -> None:
    if isinstance(count, int | float) and count > MAX_SIZE:
        raise SecurityError(f"batch and slice counts above {MAX_SIZE:,} are not allowed")


def _check_round(context: _Context, value: Any, precision: Any = 0, *args: Any, **kw: Any) -> None:
    if isinstance(precision, int) and abs(precision) > _MAX_ROUND_PRECISION:
        raise SecurityError(f"round precisions beyond {_MAX_ROUND_PRECISION} are not allowed")


def _check_map(context: _Context, value: Any, *args: Any, **kwargs: Any) -> None:
    if "attribute" not in kwargs and args and args[0] not in _FILTERS:
        raise SecurityError(f"the filter {args[0]!r} is not allowed")


def _guarded(name: str, check: _Check | None = None) -> Callable[..., Any]:
    """Jinja's filter ``name`` after ``check``, which charges the work its inputs need; the
    result is charged as made."""
    func = FILTERS[name]
    takes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)

    @pass_context
    def guarded(context: _Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        _spend(context, 1)
        if check is not None:
            check(context, value, *args, **kwargs)
        if takes == "environment":
            result = func(context.environment, value, *args, **kwargs)
        elif takes == "eval_context":
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif takes == "context":
            result = func(context, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        if isinstance(result, Iterator):
            return _charged_items(context, result)
        return result if result is value else _made(context, result)

    return guarded


def _charged_items(context: _Context, items: Iterator[Any]) -> Iterator[Any]:
    for item in items:
        _spend(context, _ITEM_COST)
        yield item


@pass_context
def _list(context: _Context, value: Iterable[Any]) -> list[Any]:
    _spend(context, 1)
    return cast(list[Any], _made(context, _collect(value, "list")))


@pass_context
def _join(context: _Context, value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    separator = _text(context, d)
    items = _collect(value, "join")
    if attribute is not None:
        _spend(context, _ITEM_COST * len(items))
        items = list(map(make_attrgetter(context.environment, attribute), items))
    parts: list[str] = []
    size = 0
    for item in items:
        part = _text(context, item)
        size += len(part) + (len(separator) if parts else 0)
        _require_size(size, "join")
        parts.append(part)
    return cast(str, _made(context, separator.join(parts)))


@pass_context
def _sum(context: _Context, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
    items = _collect(iterable, "sum")
    if attribute is not None:
        _spend(context, _ITEM_COST * len(items))
        items = list(map(make_attrgetter(context.environment, attribute), items))
    _spend(context, 1 + len(items))
    if isinstance(start, list | tuple):
        kind = list if isinstance(start, list) else tuple
        for item in items:
            if not isinstance(item, kind):
                raise TypeError(f"can only concatenate {kind.__name__} to {kind.__name__}")
        _require_size(len(start) + sum(map(len, items)), "sum")
        return _made(context, kind(chain(start, *items)))
    return _made(context, sum(items, start))


@pass_context
def _tojson(context: _Context, value: Any, indent: Any = None) -> str:
    size = _measure(value, MAX_SIZE)
    _require_size(size, "tojson")
    _spend(context, 1 + size)
    if indent is not None:
        width = len(indent) if isinstance(indent, str) else indent
        if not isinstance(width, int) or width > _MAX_JSON_INDENT:
            raise SecurityError(f"tojson indents beyond {_MAX_JSON_INDENT} are not allowed")
        _require_size(_json_size(value, max(width, 0)), "tojson")
    return cast(str, _made(context, str(FILTERS["tojson"](context.eval_ctx, value, indent))))


def _json_size(value: Any, indent: int) -> int:
    """About the length of ``value`` as indented JSON (its deep size is known to be small)."""
    total = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        total += 4 + depth * indent + (len(item) if isinstance(item, str) else 0)
        if isinstance(item, Mapping):
            stack.extend((child, depth + 1) for child in chain(item, item.values()))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)
        if total > MAX_SIZE:
            break
    return total


_FILTERS: dict[str, Callable[..., Any]] = {
    **{name: _guarded(name) for name in ("abs", "count", "d", "default", "first", "items")},
    **{name: _guarded(name) for name in ("last", "length", "reject", "rejectattr", "reverse")},
    **{name: _guarded(name) for name in ("select", "selectattr")},
    **{name: _guarded(name, _check_sized) for name in ("filesizeformat", "float", "int")},
    **{name: _guarded(name, _check_textual) for name in ("capitalize", "lower", "string")},
    **{name: _guarded(name, _check_textual) for name in ("title", "trim", "truncate", "upper")},
    **{name: _guarded(name, _check_textual) for name in ("wordcount",)},
    **{name: _guarded(name, _check_keyed) for name in ("dictsort", "groupby", "max", "min")},
    **{name: _guarded(name, _check_keyed) for name in ("sort", "unique")},
    "batch": _guarded("batch", _check_batch),
    "format": _guarded("format", _check_format),
    "join": _join,
    "list": _list,
    "map": _guarded("map", _check_map),
    "replace": _guarded("replace", _check_replace_filter),
    "round": _guarded("round", _check_round),
    "slice": _guarded("slice", _check_slice),
    "sum": _sum,
    "tojson": _tojson,
}


# Tests: all of Jinja's, the ones that compare values charged for the sizes they compare.


def _charged_test(test: Callable[..., bool]) -> Callable[..., bool]:
    @pass_context
    def charged(context: _Context, value: Any, *args: Any) -> bool:
        _spend_on(context, value)
        for arg in args:
            _spend_on(context, arg)
        return test(value, *args)

    return charged


_COMPARING_TESTS = (
    "!=", "<", "<=", "==", ">", ">=", "eq", "equalto", "ge", "greaterthan", "gt", "in", "le",
    "lessthan", "lower", "lt", "ne", "upper",
)  # fmt: skip
_TESTS = dict(cast(Mapping[str, Callable[..., bool]], TESTS))
_TESTS.update((name, _charged_test(_TESTS[name])) for name in _COMPARING_TESTS)


# Helpers the rewritten template calls: loop budget, comparisons, ``~``, subscripts, literals.


@pass_context
def _loop(context: _Context, iterable: Iterable[Any], cost: int) -> Iterable[Any]:
    if not isinstance(cost, int) or cost < 1:
        raise SecurityError("not a loop")
    for item in iterable:
        _spend(context, cost)
        yield item


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
    "in": lambda item, container: item in container,
    "notin": lambda item, container: item not in container,
}


@pass_context
def _compare(context: _Context, left: Any, *operations: Any) -> Any:
    result: Any = True
    for index in range(0, len(operations), 2):
        name, right = operations[index], operations[index + 1]
        size = _measure(left, MAX_WORK)
        if not (name in ("in", "notin") and isinstance(right, Mapping)):
            size += _measure(right, MAX_WORK)
        _spend(context, size)
        result = _COMPARISONS[name](left, right)
        if not result:
            return result
        left = right
    return result


@pass_context
def _concat(context: _Context, values: list[Any]) -> str:
    parts = []
    size = 0
    for value in values:
        part = _text(context, value)
        size += len(part)
        _require_size(size, "'~'")
        parts.append(part)
    return cast(str, _made(context, "".join(parts)))


@pass_context
def _slice(context: _Context, value: Any, start: Any, stop: Any, step: Any) -> Any:
    _spend(context, 1)
    return _made(context, value[start:stop:step])


@pass_context
def _getitem(context: _Context, value: Any, key: Any) -> Any:
    if isinstance(key, tuple):
        _spend_on(context, key)
    return context.environment.getitem(value, key)


@pass_context
def _literal(context: _Context, value: Any) -> Any:
    return _made(context, value)


ALLOWED_FILTERS = tuple(sorted(_FILTERS))
"""The filters a spec template may use."""

_HELPERS: dict[str, Callable[..., Any]] = {
    "_rp_loop": _loop,
    "_rp_compare": _compare,
    "_rp_concat": _concat,
    "_rp_slice": _slice,
    "_rp_getitem": _getitem,
    "_rp_literal": _literal,
}


# Calls: ``range``, ``loop.cycle``/``loop.changed``, and plain methods of strings, mappings and
# sequences.


@pass_context
def _range(context: _Context, *args: int) -> list[int]:
    values = range(*args)
    try:
        size = len(values)
    except OverflowError:
        size = MAX_SIZE + 1
    if size > MAX_SIZE:
        raise SecurityError(f"range larger than {MAX_SIZE:,}")
    _spend(context, size)
    return list(values)


def _check_width(context: _Context, text: str, width: Any = 0, *args: Any) -> None:
    if isinstance(width, int):
        _require_size(width, "padding")


def _check_replace_method(
    context: _Context, text: str, old: Any, new: Any, count: Any = -1
) -> None:
    _check_replace(text, old, new, count)


_PLAIN_STR_METHODS = (
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
    "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable",
    "isspace", "istitle", "isupper", "lower", "lstrip", "partition", "removeprefix",
    "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "upper",
)  # fmt: skip
_STR_METHODS: dict[str, _Check | None] = {
    **dict.fromkeys(_PLAIN_STR_METHODS),
    **dict.fromkeys(("center", "ljust", "rjust", "zfill"), _check_width),
    "join": None,
    "replace": _check_replace_method,
}
_MAPPING_METHODS: dict[str, _Check | None] = dict.fromkeys(("get", "items", "keys", "values"))
_SEQUENCE_METHODS: dict[str, _Check | None] = dict.fromkeys(("count", "index"), _check_deep)
_LOOP_METHODS: dict[str, _Check | None] = dict.fromkeys(("changed", "cycle"))


def _method_check(owner: Any, name: str) -> _Check | None:
    for kind, methods in (
        (str, _STR_METHODS),
        (dict, _MAPPING_METHODS),
        (list | tuple, _SEQUENCE_METHODS),
        (LoopContext, _LOOP_METHODS),
    ):
        if isinstance(owner, kind) and name in methods:
            return methods[name]
    method = f"{type(owner).__name__}.{name}" if owner is not None else name
    raise SecurityError(f"calling {method} is not allowed in a spec template")


def _join_method(context: _Context, separator: str, iterable: Iterable[Any]) -> str:
    items = _collect(iterable, "join")
    size = len(separator) * max(len(items) - 1, 0)
    size += sum(len(item) if isinstance(item, str) else 0 for item in items)
    _require_size(size, "join")
    return separator.join(items)


# The template language: a whitelist of syntax, rewritten so that every loop, comparison,
# concatenation, subscript and literal goes through the helpers above.

_ALLOWED_NODES: frozenset[type[nodes.Node]] = frozenset(
    {
        nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.For, nodes.Name,
        nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword,
        nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.Call,
        nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg,
        nodes.Pos, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod,
        nodes.Pow, nodes.Concat,
    }
)  # fmt: skip
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.NSRef: "{% set %}",
    nodes.With: "{% with %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
    nodes.Scope: "{% autoescape %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
}


_MAX_DEPTH = 48
"""Deepest nesting of a template's syntax tree (expressions included); Python's compiler gives
up near 200 nested parentheses, and Jinja's code adds a few for each level."""


def _check_nesting(tree: nodes.Node) -> None:
    """Refuses blocks nested past ``MAX_NESTING`` and syntax trees deeper than ``_MAX_DEPTH``,
    before anything walks the tree recursively or asks Python to compile it."""
    stack: list[tuple[nodes.Node, int, int]] = [(tree, 0, 0)]
    branches: set[int] = set()  # an {% elif %} is an If beside its {% if %}, not inside it
    while stack:
        node, blocks, depth = stack.pop()
        if isinstance(node, nodes.If | nodes.For) and id(node) not in branches:
            blocks += 1
            if blocks > MAX_NESTING:
                raise SecurityError(
                    f"blocks ({{% if %}}, {{% for %}}) nest more than {MAX_NESTING} deep"
                )
        if depth > _MAX_DEPTH:
            raise SecurityError(f"the template nests more than {_MAX_DEPTH} levels deep")
        if isinstance(node, nodes.If):
            branches.update(id(branch) for branch in node.elif_)
        stack.extend((child, blocks, depth + 1) for child in node.iter_child_nodes())


def _check_syntax(tree: nodes.Node) -> None:
    """Refuses any construct outside the language specs need."""
    _check_nesting(tree)
    for node in chain((tree,), tree.find_all(nodes.Node)):
        kind = type(node)
        if kind not in _ALLOWED_NODES:
            construct = _REFUSED_NODES.get(kind, f"the {kind.__name__} construct")
            raise SecurityError(f"{construct} is not allowed in a spec template")
        if isinstance(node, nodes.For) and node.recursive:
            raise SecurityError("recursive loops are not allowed in a spec template")
        if isinstance(node, nodes.Filter) and node.name not in _FILTERS:
            refused = node.name in FILTERS or node.name in _HELPERS
            if refused:
                raise SecurityError(f"the filter {node.name!r} is not allowed in a spec template")


def _count_nodes(parts: Iterable[nodes.Node]) -> int:
    return sum(1 + sum(1 for _ in part.find_all(nodes.Node)) for part in parts)


def _passes_data(expr: nodes.Node) -> bool:
    """True when an expression's value can only be context data or a constant, not made."""
    if isinstance(expr, nodes.Name | nodes.Const):
        return True
    if isinstance(expr, nodes.Getattr):
        return _passes_data(expr.node)
    if isinstance(expr, nodes.Getitem):
        return not isinstance(expr.arg, nodes.Slice) and _passes_data(expr.node)
    if isinstance(expr, nodes.CondExpr):
        return _passes_data(expr.expr1) and (expr.expr2 is None or _passes_data(expr.expr2))
    if isinstance(expr, nodes.And | nodes.Or):
        return _passes_data(expr.left) and _passes_data(expr.right)
    if isinstance(expr, nodes.Filter) and expr.name in ("d", "default"):
        values = [*expr.args, *(keyword.value for keyword in expr.kwargs)]
        return expr.node is not None and all(map(_passes_data, [expr.node, *values]))
    if isinstance(expr, nodes.List | nodes.Tuple):
        return all(isinstance(item, nodes.Const) for item in expr.items)
    return False


def _helper(name: str, node: nodes.Expr, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, f"_rp_{name}", list(args), [], None, None, lineno=node.lineno)


class _Rewriter(NodeTransformer):
    """Routes loops, comparisons, ``~``, subscripts and literals through the budgeted helpers."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        cost = 1 + _count_nodes([*node.body, *([node.test] if node.test else [])])
        self.generic_visit(node)
        node.iter = _helper("loop", cast(nodes.Expr, node.iter), nodes.Const(cost, lineno=1))
        return node

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        operations = [
            part
            for operand in node.ops
            for part in (nodes.Const(operand.op, lineno=node.lineno), operand.expr)
        ]
        return _helper("compare", node.expr, *operations)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _helper("concat", nodes.List(node.nodes, lineno=node.lineno))

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        arg = node.arg
        if isinstance(arg, nodes.Slice):
            bounds = [
                bound if bound is not None else nodes.Const(None, lineno=node.lineno)
                for bound in (arg.start, arg.stop, arg.step)
            ]
            return _helper("slice", node.node, *bounds)
        if not isinstance(arg, nodes.Const):
            return _helper("getitem", node.node, arg)
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _helper("literal", node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return _helper("literal", node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return _helper("literal", node) if node.ctx == "load" else node


# The environment.


@pass_context
def _finalize(context: _Context, value: Any) -> str:
    if type(value) is str and len(value) <= MAX_SIZE:
        context.spent += len(value)
        if context.spent <= context.allowed:
            return value
    return _text(context, value)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    context_class = _Context

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        budget = cast(_Context, context)
        if type(left) is int and type(right) is int:
            _spend(budget, (left.bit_length() + right.bit_length()) >> 6)
        if operator_name in _GROWING_OPERATORS:
            _check_binop(budget, operator_name, left, right)
        return _made(budget, self.binop_table[operator_name](left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = cast(_Context, context)
        kwargs.pop("_loop_vars", None)
        kwargs.pop("_block_vars", None)
        if obj is _range or isinstance(obj, Undefined):
            return context.call(obj, *args, **kwargs)
        if not callable(obj):
            raise TypeError(f"{type(obj).__name__!r} object is not callable")
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__name__", type(obj).__name__)
        check = _method_check(owner, name)
        _spend(budget, 1 if isinstance(owner, dict) else 1 + _shallow(owner))
        for arg in chain(args, kwargs.values()):
            _spend_on(budget, arg)
        if check is not None:
            check(budget, owner, *args, **kwargs)
        if isinstance(owner, str) and name == "join":
            result = _join_method(budget, owner, *args, **kwargs)
        else:
            result = obj(*args, **kwargs)
        return result if result is owner else _made(budget, result)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in ("format", "format_map"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return None


RenderFunction = Callable[..., Any]
"""``render(variables, work=None)``: the value of a compiled template or expression."""


class Sandbox:
    """Compiles templates and lone expressions into bounded render functions.

    A render function takes the variables (a dict, the environment's ``globals`` included) and,
    optionally, a :class:`Work` that gives the render less than ``MAX_WORK`` and is told what it
    spent; it returns the value, raises ``SecurityError`` past a bound (:class:`OutOfWork` past
    the work given), ``TemplateSyntaxError`` for a template it refuses to compile, and Jinja's
    own errors for the rest.
    """

    def __init__(self) -> None:
        self.env = _Sandbox(undefined=StrictUndefined, autoescape=False, finalize=_finalize)
        self.env.filters.clear()
        self.env.filters.update(_FILTERS)
        self.env.filters.update(_HELPERS)
        self.env.tests.clear()
        self.env.tests.update(_TESTS)
        self.env.globals.clear()
        self.env.globals["range"] = _range

    @property
    def globals(self) -> dict[str, Any]:
        """The names every template sees (``range``)."""
        return self.env.globals

    def expression(self, source: str) -> RenderFunction:
        """A lone expression; the function returns its value with its native type."""
        parser = Parser(self.env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError(
                "chunk after expression", parser.stream.current.lineno, None, None
            )
        _check_syntax(expr)
        made = not _passes_data(expr)
        expr = _Rewriter().visit(expr)
        target = nodes.Name("result", "store", lineno=1)
        body = nodes.Template([nodes.Assign(target, expr, lineno=1)], lineno=1)
        body.set_environment(self.env)
        template = self.env.from_string(body)
        render_function = template.root_render_func

        def evaluate(context: dict[str, Any], work: Work | None = None) -> Any:
            render_context = cast(_Context, template.new_context(context, shared=True))
            if work is not None:
                render_context.allowed = work.allowed
            try:
                for _ in render_function(render_context):
                    pass
                value = render_context.vars["result"]
                if isinstance(value, Undefined):
                    value._fail_with_undefined_error()
                if made:
                    _made(render_context, value)
                return value
            finally:
                if work is not None:
                    work.spent = render_context.spent

        return evaluate

    def free_names(self, text: str) -> set[str]:
        """The variables a template (or a lone ``{{ expression }}``) reads from its context."""
        return meta.find_undeclared_variables(self.env.parse(text))

    def template(self, text: str) -> RenderFunction:
        """A template; the function returns its output text."""
        tree = self.env.parse(text)
        _check_syntax(tree)
        tree = _Rewriter().visit(tree)
        tree.set_environment(self.env)
        template = self.env.from_string(tree)
        render_function = template.root_render_func

        def render(context: dict[str, Any], work: Work | None = None) -> str:
            render_context = cast(_Context, template.new_context(context, shared=True))
            if work is not None:
                render_context.allowed = work.allowed
            parts = []
            size = 0
            try:
                for part in render_function(render_context):
                    size += len(part)
                    if size > MAX_SIZE:
                        raise SecurityError(
                            f"the template's output is longer than {MAX_SIZE:,} characters"
                        )
                    parts.append(part)
            finally:
                if work is not None:
                    work.spent = render_context.spent
            return "".join(parts)

        return render
