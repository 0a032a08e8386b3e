"""Price one generation from the catalog's pricing structure (``prices.yaml``).

Pricing is data: every model's :class:`~runway_plan.catalog.model.Price` names the unit it
counts, the block size (``per``) and rounding, the request fields its rates depend on
(``when``, including tiers ``derived`` from a field such as the ratio), the documented
defaults of those fields, the fields whose default the API does not document, a minimum,
surcharges, and how the total is rounded.  Nothing here knows a model by name; the guide is
``docs/prices.md``.

Rounding rules (also in ``docs/plan-json.md``):

* Each generation is priced on its own: ``blocks = quantity / per``, rounded up to a whole
  number when ``rounding: ceil`` (a 38-character prompt is one block of 50; 12.4 s of audio
  billed per 6 s is three blocks), and left exact otherwise.
* ``credits = blocks × rate``, in exact :class:`~decimal.Decimal` arithmetic, floored by the
  price's ``minimum``, plus its surcharges.
* The API bills whole credits: ``total_rounding: ceil`` rounds up; by default (``unknown``) a
  fractional total is the range ``[floor, ceil]`` (4.5 s at 5 credits/s is 22-23), which
  covers every rounding rule.  A fan-out is the sum of its generations, the plan the sum of
  its steps.
* Dollars are ``credits × usd_per_credit`` (1 credit = $0.01), exact.

When a quantity or a rate is not known statically the cost is a range ``[low, high]`` and
``reasons`` says which field widened it; when no bound can be given, the model has no price,
or only a low-confidence one, the cost is ``unknown`` (never zero) and ``reasons`` says why.
Each cost carries the lowest ``confidence`` of the price and rates it rests on.

Lengths along edges: the file a generation delivers is not exactly the length it was made for
(encoders pad audio to whole frames, a video is whole frames), so where one generation's output
is read by another, its length is widened by the catalog's ``output_length_tolerance`` for that
media.  Only a local file, measured before the run, has an exact length.  At run time, once the
inputs exist, :meth:`Pricer.reprice` prices a generation from their measured lengths.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MIN_EMIN, ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.catalog.assets import get_path
from runway_plan.catalog.model import (
    BooleanType,
    Confidence,
    EnumType,
    Price,
    PriceRate,
    Scalar,
    Surcharge,
    When,
)
from runway_plan.catalog.routing import ROUTED, credit_cap, output_count
from runway_plan.compile import Generation, Graph
from runway_plan.compile.durations import DURATION_INPUTS, PASSTHROUGH_ENDPOINTS, spoken_text
from runway_plan.compile.graph import TemplateFailed
from runway_plan.files import LocalFileError
from runway_plan.probe import probe_local
from runway_plan.source import DataPath
from runway_plan.spec import WORKFLOWS

__all__ = [
    "Cost",
    "Pricer",
    "Seconds",
    "format_credits",
    "format_usd",
    "lowest_confidence",
    "matching_rates",
    "output_seconds",
    "price_generation",
    "same_value",
]

_ZERO = Decimal(0)
_ANY = object()
"""Stands for "a value not listed in any rate" when enumerating an undocumented default."""

_UNIT_NAMES = {
    "output_second": "second of output",
    "image": "image",
    "characters": "character",
    "input_second": "second of input",
    "frame": "frame",
    "generation": "generation",
}
_CONFIDENCE_ORDER: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


_EXACT = Context(prec=200, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""The context amounts are formatted in: exact up to 200 digits, far more than a spec's
bounded numbers make, and larger ones are printed whole instead of failing."""


def format_credits(value: Decimal) -> str:
    """A credit amount without trailing zeros: ``60``, ``55.2``, ``1,250``."""
    with localcontext(_EXACT):
        normal = value.normalize()
        if not normal.is_finite():
            return str(normal)
        if normal == normal.to_integral_value():
            return f"{int(normal):,}"
        return f"{normal:,f}"


def format_usd(amount: Decimal) -> str:
    """Dollars with cents, more digits only when the amount has them: ``16.20``, ``0.005``."""
    with localcontext(_EXACT):
        if not amount.is_finite() or amount.adjusted() > _EXACT.prec - 3:
            return str(amount) if not amount.is_finite() else f"{amount.normalize():,f}"
        quantized = amount.quantize(Decimal("0.01"))
        if quantized == amount:
            return f"{quantized:,.2f}"
        return f"{amount.normalize():,f}"


def _dec(value: float | int | Decimal) -> Decimal:
    """A number as a Decimal: a float by its shortest repr (4.6 is 4.6, not binary noise),
    a whole number without a fractional part (5.0 is 5)."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        number = Decimal(value)
    integral = number.to_integral_value()
    return integral if number == integral else number


def _seconds_text(low: Decimal, high: Decimal) -> str:
    if low == high:
        return f"{format_credits(low)} s"
    return f"{format_credits(low)}-{format_credits(high)} s"


@dataclass(frozen=True, slots=True)
class Seconds:
    """Known bounds on a media length in seconds, with where they come from."""

    low: Decimal
    high: Decimal
    reason: str

    @property
    def exact(self) -> bool:
        """True when the length is known exactly."""
        return self.low == self.high


@dataclass(frozen=True, slots=True)
class Cost:
    """The cost of one generation, in credits.

    ``low``/``high`` are the bounds (equal for an exact price).  When ``unknown`` is true the
    cost could not be bounded: ``low`` and ``high`` are then zero and must not be read as a
    price; renderers print "unknown" and totals count the generation apart.
    """

    low: Decimal
    high: Decimal
    units: str
    reasons: tuple[str, ...] = ()
    unknown: bool = False
    unit: str = "generation"
    quantity_low: Decimal = _ZERO
    quantity_high: Decimal = _ZERO
    per: Decimal = Decimal(1)
    blocks_low: Decimal = _ZERO
    blocks_high: Decimal = _ZERO
    rate_low: Decimal = _ZERO
    rate_high: Decimal = _ZERO
    override: bool = False
    source: str = ""
    confidence: Confidence = "high"
    exact_high: Decimal | None = None
    """The high end before it is made whole credits (None when it already was): what the
    API may quote as ``estimatedCost``, a float; the bill is whole credits."""

    @property
    def is_range(self) -> bool:
        """True for a known cost whose bounds differ."""
        return not self.unknown and self.low != self.high

    @property
    def estimate(self) -> Decimal:
        """The most this generation may be quoted before it runs (see :attr:`exact_high`)."""
        return self.high if self.exact_high is None else self.exact_high

    @classmethod
    def unpriced(
        cls,
        reason: str,
        unit: str = "generation",
        source: str = "",
        confidence: Confidence = "high",
    ) -> Cost:
        """A cost that cannot be bounded, and why."""
        return cls(
            _ZERO,
            _ZERO,
            units="unknown",
            reasons=(reason,),
            unknown=True,
            unit=unit,
            source=source,
            confidence=confidence,
        )


@dataclass(slots=True)
class _Context:
    graph: Graph
    catalog: Catalog
    memo: dict[str, Seconds | None] = field(default_factory=dict)
    costs: dict[tuple[Any, ...], Cost] = field(default_factory=dict)
    measured_key: str = ""
    measured: Mapping[DataPath, float] = field(default_factory=dict)
    """Lengths in seconds of the inputs of generation ``measured_key``, read from their files."""


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a request value (so equal requests share one price)."""
    if value is None or isinstance(value, str | int | float | bool):
        return (type(value).__name__, value)
    return ("repr", repr(value))


def _signature(gen: Generation, price: Price) -> tuple[Any, ...] | None:
    """What the cost of ``gen`` depends on, for a price that does not read an input's length.

    Generations of a fan-out usually share it, so each distinct signature is priced once.
    """
    if price.unit == "input_second" or price.input_field is not None:
        return None
    if gen.refs and gen.endpoint in PASSTHROUGH_ENDPOINTS:  # its length is read upstream
        return None
    if gen.endpoint in PASSTHROUGH_ENDPOINTS and gen.duration is None:
        return None
    if any(extra.per == "input_second" for extra in price.surcharges):
        return None
    fields: list[str] = []
    for when in (
        *(rate.when for rate in price.rates),
        *(extra.when for extra in price.surcharges),
        price.billed_at_maximum,
    ):
        fields.extend(when)
    fields += [d.field for d in price.derived.values()]
    fields += [name for extra in price.surcharges for name in extra.fields]
    if price.count_field:
        fields.append(price.count_field)
    values = tuple(_freeze(get_path(gen.request, tuple(name.split(".")))) for name in fields)
    if price.unit == "characters":
        text = get_path(gen.request, tuple((price.text_field or "").split(".")))
        amount: Any = len(text) if isinstance(text, str) else _freeze(text)
    else:
        amount = (gen.duration,)
    return (gen.model, gen.endpoint, values, amount)


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from numbers (``True`` is not ``1`` here)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _matches(when: When, values: Mapping[str, Any]) -> bool:
    for name, allowed in when.items():
        value = values.get(name)
        if value is None or not any(same_value(value, choice) for choice in allowed):
            return False
    return True


def _field_domain(catalog: Catalog, gen: Generation, name: str, price: Price) -> list[Any]:
    """Every value an undocumented-default field could take, for the range over rates."""
    derived = price.derived.get(name)
    if derived is not None:
        values = list(dict.fromkeys(derived.map.values()))
        if derived.otherwise is not None and derived.otherwise not in values:
            values.append(derived.otherwise)
        return values
    spec = catalog.model(gen.endpoint, gen.model)
    node = spec.fields.get(name) if spec and "." not in name else None
    if node is not None and isinstance(node.type, BooleanType):
        return [True, False]
    if node is not None and isinstance(node.type, EnumType):
        return list(node.type.values)
    listed: list[Scalar] = []
    for rate in price.rates:
        for value in rate.when.get(name, ()):
            if not any(same_value(value, seen) for seen in listed):
                listed.append(value)
    return [*listed, _ANY]


def _request_value(gen: Generation, name: str) -> Any:
    value = get_path(gen.request, tuple(name.split(".")))
    return None if isinstance(value, TemplateFailed) else value


def _resolve(gen: Generation, price: Price, name: str) -> tuple[Any, bool]:
    """The value ``name`` has for pricing, and whether it is open (an undocumented default).

    ``name`` is a request field, a ``derived`` name or ``endpoint``.
    """
    if name == "endpoint" and name not in price.derived:
        return gen.endpoint, False
    derived = price.derived.get(name)
    if derived is not None:
        source = _request_value(gen, derived.field)
        if source is None:
            source = price.defaults.get(derived.field)
        if source is None:
            if derived.default is not None:
                return derived.default, False
            return None, True
        key = _show(source)
        return derived.map.get(key, derived.otherwise), False
    value = _request_value(gen, name)
    if value is None and name in price.defaults:
        value = price.defaults[name]
    if value is None and name in price.unknown_defaults:
        return None, True
    return value, False


def _field_label(price: Price, name: str) -> str:
    derived = price.derived.get(name)
    return f"{derived.field} (the {name})" if derived is not None else name


def _known_and_open(
    gen: Generation, price: Price, names: Iterable[str]
) -> tuple[dict[str, Any], list[str]]:
    """The values of ``names`` the request (or a documented default) gives, and the fields
    left open: omitted, with a default the API does not document."""
    known: dict[str, Any] = {}
    open_fields: list[str] = []
    for name in names:
        value, is_open = _resolve(gen, price, name)
        if is_open:
            open_fields.append(name)
        else:
            known[name] = value
    return known, open_fields


def _rates(
    gen: Generation, price: Price, catalog: Catalog
) -> tuple[list[PriceRate], list[str], str | None]:
    """The rates that could apply, the reasons for more than one, and why none applies."""
    names: list[str] = []
    for rate in price.rates:
        names.extend(name for name in rate.when if name not in names)
    known, open_fields = _known_and_open(gen, price, names)
    domains = [_field_domain(catalog, gen, name, price) for name in open_fields]
    chosen: list[PriceRate] = []
    missing: list[str] = []
    for combo in itertools.product(*domains):
        values = {
            **known,
            **{n: (None if v is _ANY else v) for n, v in zip(open_fields, combo, strict=False)},
        }
        found = next((r for r in price.rates if _matches(r.when, values)), None)
        if found is None:
            shown = ", ".join(f"{_field_label(price, n)}={_show(values.get(n))}" for n in names)
            missing.append(shown or "this request")
        elif found not in chosen:
            chosen.append(found)
    if missing:
        return [], [], f"no rate of {gen.model} applies to {missing[0]}"
    reasons = []
    if len({(r.credits, r.up_to) for r in chosen}) > 1:
        spread = sorted({r.credits for r in chosen} | {r.up_to for r in chosen if r.up_to})
        for name in open_fields:
            reasons.append(
                f"{_field_label(price, name)} omitted and its default is not documented: "
                f"{format_credits(spread[0])}-{format_credits(spread[-1])} credits per "
                f"{_UNIT_NAMES[price.unit]}"
            )
    return chosen, reasons, None


def matching_rates(
    gen: Generation, price: Price, catalog: Catalog
) -> tuple[list[PriceRate], str | None]:
    """The rates of ``price`` that could apply to ``gen`` (more than one when an omitted field
    whose default is not documented decides), or why none does."""
    chosen, _reasons, missing = _rates(gen, price, catalog)
    return chosen, missing


def _when_state(gen: Generation, price: Price, catalog: Catalog, when: When) -> str:
    """Whether ``when`` holds for ``gen``: ``yes``, ``no`` or ``maybe`` (an open field)."""
    values, open_fields = _known_and_open(gen, price, when)
    if not open_fields:
        return "yes" if _matches(when, values) else "no"
    domains = [_field_domain(catalog, gen, name, price) for name in open_fields]
    outcomes = {
        _matches(when, {**values, **dict(zip(open_fields, combo, strict=False))})
        for combo in itertools.product(*domains)
    }
    return "maybe" if len(outcomes) > 1 else ("yes" if True in outcomes else "no")


def _show(value: Any) -> str:
    if value is None:
        return "(omitted)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _input_path(price: Price) -> tuple[str, ...]:
    return tuple((price.input_field or "").split("."))


def output_seconds(gen: Generation, graph: Graph, catalog: Catalog) -> Seconds | None:
    """Bounds on the length of ``gen``'s output, or None when nothing bounds it.

    Exact when the compiler knows it (a ``duration`` field, a model default, the length of an
    upstream input); else the model's documented ``duration_range``; else, for a model billed
    by its input's length, the bounds of that input, followed upstream.
    """
    return _output_seconds(gen, _Context(graph, catalog))


def _output_seconds(gen: Generation, ctx: _Context) -> Seconds | None:
    if gen.key in ctx.memo:
        return ctx.memo[gen.key]
    ctx.memo[gen.key] = None
    found: Seconds | None = _kept_seconds(gen, ctx)
    overlay = ctx.catalog.model_overlay(gen.model)
    if found is not None:
        pass
    elif gen.duration is not None:
        value = _dec(gen.duration)
        found = Seconds(value, value, gen.duration_reason or "duration")
    elif gen.endpoint in ROUTED and gen.length is not None:
        low, high = _dec(gen.length.low), _dec(gen.length.high)
        found = Seconds(low, high, gen.length.reason)
    elif overlay.default_duration is not None:
        value = _dec(overlay.default_duration)
        found = Seconds(value, value, f"{gen.model} default duration")
    elif overlay.duration_range is not None:
        low, high = (_dec(x) for x in overlay.duration_range)
        found = Seconds(
            low, high, f"duration omitted: {gen.model} allows {_seconds_text(low, high)}"
        )
    elif gen.endpoint in PASSTHROUGH_ENDPOINTS and overlay.output_follows_input:
        found = _kept_input_seconds(gen, ctx)
    if found is None and gen.duration is None:
        found = _speech_seconds(gen, ctx.catalog)
        price = ctx.catalog.price(gen.model)
        price = price.on(gen.endpoint) if price is not None else None
        if found is None and price is not None and price.unit == "input_second":
            found, _why = _input_seconds(gen, price, ctx) if price.input_field else (None, "")
    ctx.memo[gen.key] = found
    return found


def _measured(
    gen: Generation, path: DataPath, ctx: _Context, *, to_ms: bool = True
) -> Decimal | None:
    """The length of the input at ``path`` as measured from its file at run time, if it was:
    to the millisecond, as a local file's billed length is read, unless ``to_ms`` is false
    (a kept length, taken whole as the compiler takes a local file's)."""
    if gen.key != ctx.measured_key or path not in ctx.measured:
        return None
    return _dec(round(ctx.measured[path], 3) if to_ms else ctx.measured[path])


def _kept_seconds(gen: Generation, ctx: _Context) -> Seconds | None:
    """Bounds on the output of an endpoint that keeps its input's length, when that input is
    an upstream output (measured, or as delivered); None otherwise (a ``duration`` field, or a
    local file, whose length the compiler measured)."""
    duration = gen.request.get("duration")
    if (
        gen.endpoint not in PASSTHROUGH_ENDPOINTS
        or not ctx.catalog.model_overlay(gen.model).output_follows_input
        or (isinstance(duration, int | float) and not isinstance(duration, bool))
    ):
        return None
    refs = {tuple(p): ref for p, ref in gen.refs}
    for path in DURATION_INPUTS:
        if get_path(gen.request, tuple(str(part) for part in path)) is None:
            continue
        ref = refs.get(path)
        measured = _measured(gen, path, ctx, to_ms=False)
        if ref is not None and measured is not None:
            return Seconds(measured, measured, f"{ref.text} measured {format_credits(measured)} s")
        producer = ctx.graph.producer(ref) if ref is not None else None
        delivered = _delivered_seconds(producer, ctx) if producer is not None else None
        if ref is None or delivered is None:
            return None
        return Seconds(
            delivered.low,
            delivered.high,
            f"as long as {ref.text}: {_seconds_text(delivered.low, delivered.high)} "
            f"({delivered.reason})",
        )
    return None


def _delivered_seconds(producer: Generation, ctx: _Context) -> Seconds | None:
    """Bounds on the length of the file ``producer`` delivers: its output's length widened by
    the catalog's tolerance for its media (see the module docstring)."""
    seconds = _output_seconds(producer, ctx)
    if seconds is None or producer.declared_media is not None:
        return seconds  # a workflow's outputs: no catalog tolerance (their media are declared)
    tolerance = ctx.catalog.output_length_tolerance(producer.endpoint, producer.model)
    if tolerance is None or not (tolerance.below or tolerance.above):
        return seconds
    below, above = _dec(tolerance.below), _dec(tolerance.above)
    media = ctx.catalog.output_media(producer.endpoint, producer.model)
    return Seconds(
        max(_ZERO, seconds.low - below),
        seconds.high + above,
        f"{seconds.reason}; a delivered {media} file may run {format_credits(below)} s "
        f"shorter or {format_credits(above)} s longer",
    )


def _kept_input_seconds(gen: Generation, ctx: _Context) -> Seconds | None:
    """Bounds on the length of the input an endpoint keeps (an upstream range, or the model's
    accepted input lengths for an input whose length is unknown)."""
    for path in DURATION_INPUTS:
        if get_path(gen.request, path) is None:
            continue
        seconds, _why = _media_seconds(gen, path, ".".join(map(str, path)), ctx)
        return seconds
    return None


def _speech_seconds(gen: Generation, catalog: Catalog) -> Seconds | None:
    """Bounds on the length of generated speech from its text and the catalog's speech rate."""
    rate = catalog.overlay.speech_rate
    text = spoken_text(catalog, gen.endpoint, gen.request)
    if rate is None or text is None:
        return None
    slow, fast = (_dec(x) for x in rate.chars_per_second)
    characters = len(text)
    low = (characters / fast).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    high = (characters / slow).quantize(Decimal("0.1"), rounding=ROUND_CEILING)
    return Seconds(
        low,
        high,
        f"speech of {characters} characters at {format_credits(slow)}-{format_credits(fast)} "
        "characters a second",
    )


def _bounds(gen: Generation, dotted: str, catalog: Catalog) -> Seconds | None:
    limits = catalog.model_overlay(gen.model).input_durations.get(dotted)
    if limits is None or limits.max_seconds is None:
        return None
    low = _dec(limits.min_seconds) if limits.min_seconds is not None else _ZERO
    high = _dec(limits.max_seconds)
    return Seconds(low, high, f"{gen.model} accepts {_seconds_text(low, high)}")


def _input_seconds(gen: Generation, price: Price, ctx: _Context) -> tuple[Seconds | None, str]:
    """Bounds on the length of the priced input, or None and why it cannot be bounded."""
    return _media_seconds(gen, _input_path(price), price.input_field or "", ctx)


def _media_seconds(
    gen: Generation, path: tuple[str | int, ...], dotted: str, ctx: _Context
) -> tuple[Seconds | None, str]:
    """Bounds on the length of the media at ``path`` of the request (``dotted`` names the field
    as the overlay's ``input_durations`` do), or None and why it cannot be bounded."""
    value = get_path(gen.request, path)
    bounds = _bounds(gen, dotted, ctx.catalog)
    refs = {tuple(p): ref for p, ref in gen.refs}
    ref = refs.get(path)
    measured = _measured(gen, path, ctx) if ref is not None else None
    if ref is not None and measured is not None:
        shown = _seconds_text(measured, measured)
        return Seconds(measured, measured, f"{dotted} is {ref.text}, measured {shown}"), ""
    if ref is not None:
        producer = ctx.graph.producer(ref)
        upstream = _delivered_seconds(producer, ctx) if producer is not None else None
        if upstream is not None and upstream.exact:
            return Seconds(
                upstream.low,
                upstream.high,
                f"{dotted} is {ref.text}, {_seconds_text(upstream.low, upstream.high)}",
            ), ""
        if upstream is not None:
            low, high = upstream.low, upstream.high
            if bounds is not None:
                low, high = max(low, bounds.low), min(high, bounds.high)
                low = min(low, high)
            return Seconds(
                low,
                high,
                f"{dotted} is {ref.text}, whose length is not fixed "
                f"({upstream.reason}): {_seconds_text(low, high)}",
            ), ""
        if bounds is not None:
            return Seconds(
                bounds.low,
                bounds.high,
                f"{dotted} is {ref.text}, whose length is unknown until it runs; {bounds.reason}",
            ), ""
        return None, (
            f"{dotted} is {ref.text}, whose length is unknown until it runs, and {gen.model} "
            "documents no input-length bounds"
        )
    if isinstance(value, str) and value:
        root = ctx.graph.root
        if root.local_path(value) is not None:
            try:
                with root.open(value, limit=ctx.catalog.overlay.largest_upload) as local:
                    info = probe_local(local)
            except LocalFileError:
                info = None
            if info is not None and info.duration is not None:
                length = _dec(round(info.duration, 3))
                return Seconds(
                    length, length, f"{dotted} {value} is {_seconds_text(length, length)} long"
                ), ""
            where = f"the length of {value} could not be read"
        else:
            where = f"{dotted} is a remote asset whose length is unknown"
        if bounds is not None:
            return Seconds(bounds.low, bounds.high, f"{where}; {bounds.reason}"), ""
        return None, f"{where}, and {gen.model} documents no input-length bounds"
    return None, f"{dotted} is not set, so its length is unknown"


def _count(gen: Generation, price: Price) -> tuple[Decimal | None, str]:
    if price.count_field is None:
        return Decimal(1), ""
    value = get_path(gen.request, tuple(price.count_field.split(".")))
    if value is None:
        value = price.defaults.get(price.count_field, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None, f"{price.count_field} is not a whole number"
    return Decimal(value), ""


def _blocks(quantity: Decimal, price: Price) -> Decimal:
    blocks = quantity / price.per
    if price.rounding == "ceil":
        return blocks.to_integral_value(rounding=ROUND_CEILING)
    return blocks


def _quantity(gen: Generation, price: Price, ctx: _Context) -> tuple[Seconds | None, str]:
    """The counted quantity of ``price.unit`` (reusing :class:`Seconds` for any bounds)."""
    if price.unit == "generation":
        return Seconds(Decimal(1), Decimal(1), ""), ""
    if price.unit == "image":
        count, why = _count(gen, price)
        return (Seconds(count, count, "") if count is not None else None), why
    if price.unit == "characters":
        text = get_path(gen.request, tuple((price.text_field or "").split(".")))
        if not isinstance(text, str):
            return None, f"{price.text_field} is not a known text"
        return Seconds(Decimal(len(text)), Decimal(len(text)), ""), ""
    if price.unit == "frame":
        return _frames(gen, price, ctx)
    if price.unit == "output_second":
        return _billed_output_seconds(gen, price, ctx)
    return _input_seconds(gen, price, ctx)


def _billed_output_seconds(
    gen: Generation, price: Price, ctx: _Context
) -> tuple[Seconds | None, str]:
    """The output seconds billed: the longest output when the request asks for a length the
    API bills at its maximum up front (``billed_at_maximum``), else the output's length."""
    if (
        price.billed_at_maximum
        and _when_state(gen, price, ctx.catalog, price.billed_at_maximum) == "yes"
    ):
        span = ctx.catalog.model_overlay(gen.model).duration_range
        if span is None:
            return None, f"{gen.model} documents no longest output to bill up front"
        low, high = (_dec(x) for x in span)
        shown = ", ".join(f"{k}={_show(_request_value(gen, k))}" for k in price.billed_at_maximum)
        return Seconds(
            low,
            high,
            f"{shown}: billed at the {format_credits(high)} s maximum up front, the unused "
            f"seconds refunded after ({gen.model} makes {_seconds_text(low, high)})",
        ), ""
    seconds = _output_seconds(gen, ctx)
    if seconds is None:
        return None, f"duration omitted and {gen.model} documents neither a default nor a range"
    return seconds, ""


def _frames(gen: Generation, price: Price, ctx: _Context) -> tuple[Seconds | None, str]:
    """Output frames: the frame rate bounds times the output (or input) length."""
    if price.input_field:
        seconds, why = _input_seconds(gen, price, ctx)
    else:
        seconds, why = _billed_output_seconds(gen, price, ctx)
    if seconds is None:
        return None, why
    if price.fps is None:
        return None, f"{gen.model} is billed per frame and its frame rate is not known"
    fps_low, fps_high = price.fps
    fps = (
        format_credits(fps_low)
        if fps_low == fps_high
        else (f"{format_credits(fps_low)}-{format_credits(fps_high)}")
    )
    reason = f"frames = {fps} fps x {_seconds_text(seconds.low, seconds.high)}"
    if not seconds.exact:
        reason += f" ({seconds.reason})"
    return Seconds(seconds.low * fps_low, seconds.high * fps_high, reason), ""


def _units_text(price: Price, quantity: Seconds) -> str:
    low, high = quantity.low, quantity.high
    amount = format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"
    match price.unit:
        case "output_second":
            text = f"{amount} s"
        case "input_second":
            text = f"{amount} s of {price.input_field}"
        case "image":
            text = f"{amount} image" + ("" if high == 1 else "s")
        case "characters":
            text = f"{amount} chars"
        case "frame":
            text = f"{amount} frames"
        case _:
            text = "1 generation"
    if price.per != 1:
        per = format_credits(price.per)
        block = {"characters": f"{per} chars", "output_second": f"{per} s"}.get(
            price.unit, f"{per} s" if price.unit == "input_second" else per
        )
        text += f" (per {block}" + (", rounded up)" if price.rounding == "ceil" else ")")
    return text


class Pricer:
    """Prices the generations of one graph, sharing what it learns about output lengths."""

    def __init__(
        self, graph: Graph, catalog: Catalog, overrides: Mapping[str, Decimal] | None = None
    ) -> None:
        self._ctx = _Context(graph, catalog)
        self._overrides: Mapping[str, Decimal] = overrides or {}

    def price(self, gen: Generation) -> Cost:
        """The cost of ``gen`` (see :func:`price_generation`)."""
        return _price(gen, self._ctx, self._overrides)

    def output_seconds(self, gen: Generation) -> Seconds | None:
        """Bounds on the length of ``gen``'s output (see :func:`output_seconds`)."""
        return _output_seconds(gen, self._ctx)

    # ------------------------------------------------------------------ for the runner

    def reprice(self, gen: Generation, measured: Mapping[DataPath, float]) -> Cost:
        """The cost of ``gen`` once its inputs exist, for the run's budget check.

        ``measured`` maps request paths fed by upstream outputs (as in ``gen.refs``) to the
        length in seconds of the file each received, read from it; those lengths are exact
        (no tolerance), the others are bounded as in :meth:`price`.
        """
        ctx = _Context(self._ctx.graph, self._ctx.catalog, measured_key=gen.key, measured=measured)
        return _price(gen, ctx, self._overrides)


def price_generation(
    gen: Generation,
    graph: Graph,
    catalog: Catalog,
    overrides: Mapping[str, Decimal] | None = None,
) -> Cost:
    """Price one generation: exact, a range with its reasons, or unknown with why.

    ``overrides`` maps a model to a flat price in credits per generation (the spec's
    ``prices:``); it replaces the catalog's price for that model.
    """
    return Pricer(graph, catalog, overrides).price(gen)


def _price(gen: Generation, ctx: _Context, overrides: Mapping[str, Decimal]) -> Cost:
    catalog = ctx.catalog
    named = workflow_price_name(gen)
    if (named and named in overrides) or gen.model in overrides:
        named = named if named and named in overrides else gen.model
        credits = Decimal(overrides[named])
        return Cost(
            low=credits,
            high=credits,
            units="1 generation (spec price)",
            unit="generation",
            quantity_low=Decimal(1),
            quantity_high=Decimal(1),
            blocks_low=Decimal(1),
            blocks_high=Decimal(1),
            rate_low=credits,
            rate_high=credits,
            override=True,
            reasons=(
                f"priced by the spec's prices: {named} = {format_credits(credits)} "
                "credits per generation",
            ),
            source="spec prices",
        )
    if gen.endpoint in ROUTED:
        return _price_routed(gen, ctx, overrides)
    price = catalog.price(gen.model)
    if price is None:
        why = catalog.prices.unknown.get(gen.model, "the catalog has no price for it")
        return Cost.unpriced(f"no known price for {gen.model}: {why.strip()}")
    price = price.on(gen.endpoint)
    signature = _signature(gen, price)
    if signature is not None:
        known = ctx.costs.get(signature)
        if known is None:
            known = ctx.costs[signature] = _price_with(gen, price, ctx)
        return known
    return _price_with(gen, price, ctx)


def workflow_price_name(gen: Generation) -> str:
    """The name a spec's ``prices:`` gives one published workflow: ``workflows/<id>`` ("" for
    a generation that is not a workflow's run, or names no workflow)."""
    workflow = gen.request.get("workflow") if gen.endpoint == WORKFLOWS else None
    return f"workflows/{workflow}" if isinstance(workflow, str) and workflow else ""


def lowest_confidence(*levels: Confidence | None) -> Confidence:
    """The lowest of ``levels`` (``high`` when there are none)."""
    present = [level for level in levels if level is not None]
    return min(present, key=_CONFIDENCE_ORDER.__getitem__, default="high")


def _span_text(low: Decimal, high: Decimal) -> str:
    return format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"


def _low_confidence(gen: Generation, price: Price, rates: list[PriceRate]) -> Cost:
    low = min(r.credits for r in rates)
    high = max(r.up_to or r.credits for r in rates)
    return Cost.unpriced(
        f"no trusted price for {gen.model}: only a low-confidence figure of "
        f"{_span_text(low, high)} credits per {_UNIT_NAMES[price.unit]} is published "
        f"({price.source.strip()}); give it with prices: to use it",
        price.unit,
        price.source,
        "low",
    )


def _surcharge_count(
    gen: Generation, price: Price, extra: Surcharge, ctx: _Context
) -> tuple[Seconds | None, str]:
    """How many of ``extra``'s units the request holds (items, input or output seconds)."""
    if extra.per == "generation":
        return Seconds(Decimal(1), Decimal(1), ""), ""
    if extra.per == "output_second":
        return _billed_output_seconds(gen, price, ctx)
    low = high = _ZERO
    notes: list[str] = []
    for name in extra.fields:
        path = tuple(name.split("."))
        value = _request_value(gen, name)
        items: list[tuple[tuple[str | int, ...], Any]]
        if isinstance(value, list):
            items = [((*path, i), item) for i, item in enumerate(value)]
        elif value is None:
            items = []
        else:
            items = [(path, value)]
        for where, item in items:
            if extra.match and not (isinstance(item, dict) and _matches(extra.match, item)):
                continue
            if extra.per == "item":
                low, high = low + 1, high + 1
                continue
            uri_path = (*where, "uri") if isinstance(item, dict) else where
            dotted = f"{name}.uri" if isinstance(item, dict) else name
            seconds, why = _media_seconds(gen, uri_path, dotted, ctx)
            if seconds is None and extra.max_seconds is None:
                return None, why
            if seconds is None:
                seconds = Seconds(_ZERO, extra.max_seconds or _ZERO, why)
            low, high = low + seconds.low, high + seconds.high
            if not seconds.exact:
                notes.append(seconds.reason)
    if extra.per == "input_second" and extra.max_seconds is not None:
        cap = extra.max_seconds
        if high > cap:
            notes.append(f"billed at most {format_credits(cap)} s")
        low, high = min(low, cap), min(high, cap)
    return Seconds(low, high, "; ".join(notes)), ""


def _surcharges(
    gen: Generation, price: Price, ctx: _Context
) -> tuple[Decimal, Decimal, list[str], str | None]:
    """The credits ``price.surcharges`` add (low, high), their reasons, or why they cannot be
    bounded."""
    total_low = total_high = _ZERO
    reasons: list[str] = []
    outputs, _why = _count(gen, price) if price.count_field else (Decimal(1), "")
    times = outputs if outputs is not None else Decimal(1)
    for extra in price.surcharges:
        state = _when_state(gen, price, ctx.catalog, extra.when) if extra.when else "yes"
        if state == "no":
            continue
        count, why = _surcharge_count(gen, price, extra, ctx)
        if count is None:
            return _ZERO, _ZERO, [], f"{gen.model} charges {extra.label}: {why}"
        if count.high == 0:
            continue
        factor = extra.credits * (times if extra.per_output else 1)
        low, high = count.low * factor, count.high * factor
        amount = f"{_span_text(low, high)} credits for {extra.label}"
        if state == "maybe" or extra.possible:
            low = _ZERO
            cause = extra.possible or "an omitted field whose default is not documented"
            reasons.append(f"up to {format_credits(high)} credits for {extra.label} ({cause})")
        elif low != high:
            reasons.append(amount + (f": {count.reason}" if count.reason else ""))
        total_low, total_high = total_low + low, total_high + high
    return total_low, total_high, reasons, None


def _whole(low: Decimal, high: Decimal, price: Price) -> tuple[Decimal, Decimal, str]:
    """The total in whole credits, by ``price.total_rounding``, and a reason when it widens."""
    if price.total_rounding == "none":
        return low, high, ""
    up_low = low.to_integral_value(rounding=ROUND_CEILING)
    up_high = high.to_integral_value(rounding=ROUND_CEILING)
    if price.total_rounding == "ceil":
        return up_low, up_high, ""
    down_low = low.to_integral_value(rounding=ROUND_FLOOR)
    if down_low == low and up_high == high:
        return low, high, ""
    shown = _span_text(low, high)
    return (
        down_low,
        up_high,
        (
            f"{shown} credits is not whole and how the API rounds it is not documented: "
            f"{_span_text(down_low, up_high)} covers rounding down, to nearest and up"
        ),
    )


def _price_with(gen: Generation, price: Price, ctx: _Context) -> Cost:
    if price.confidence == "low":
        return _low_confidence(gen, price, list(price.rates))
    quantity, why = _quantity(gen, price, ctx)
    if quantity is None:
        reason = f"{gen.model} is billed per {_UNIT_NAMES[price.unit]}; {why}"
        return Cost.unpriced(reason, price.unit, price.source, price.confidence)
    rates, rate_reasons, no_rate = _rates(gen, price, ctx.catalog)
    if no_rate is not None:
        return Cost.unpriced(no_rate, price.unit, price.source, price.confidence)
    confidence = lowest_confidence(price.confidence, *(r.confidence for r in rates))
    if confidence == "low":
        return _low_confidence(gen, price, rates)
    rate_low = min(r.credits for r in rates)
    rate_high = max(r.up_to or r.credits for r in rates)
    blocks_low, blocks_high = _blocks(quantity.low, price), _blocks(quantity.high, price)
    reasons = list(rate_reasons)
    if not quantity.exact:
        reasons.insert(0, quantity.reason)
    if any(r.up_to is not None for r in rates):
        reasons.append(
            f"only a span of {_span_text(rate_low, rate_high)} credits per "
            f"{_UNIT_NAMES[price.unit]} is published for {gen.model}"
        )
    low, high = blocks_low * rate_low, blocks_high * rate_high
    if price.minimum is not None and low < price.minimum:
        unit = "credit" if price.minimum == 1 else "credits"
        reasons.append(f"{gen.model} charges at least {format_credits(price.minimum)} {unit}")
        low, high = max(low, price.minimum), max(high, price.minimum)
    extra_low, extra_high, extra_reasons, no_extra = _surcharges(gen, price, ctx)
    if no_extra is not None:
        return Cost.unpriced(no_extra, price.unit, price.source, confidence)
    reasons += extra_reasons
    exact_high = high + extra_high
    low, high, rounded = _whole(low + extra_low, exact_high, price)
    if rounded:
        reasons.append(rounded)
    return Cost(
        low=low,
        high=high,
        units=_units_text(price, quantity),
        reasons=tuple(reasons),
        unit=price.unit,
        quantity_low=quantity.low,
        quantity_high=quantity.high,
        per=price.per,
        blocks_low=blocks_low,
        blocks_high=blocks_high,
        rate_low=rate_low,
        rate_high=rate_high,
        source=price.source,
        confidence=confidence,
        exact_high=None if exact_high == high else exact_high,
    )


# ------------------------------------------------------------------ routers


def _price_routed(gen: Generation, ctx: _Context, overrides: Mapping[str, Decimal]) -> Cost:
    """A generate step: the range over the models its router may pick for this input, each
    priced on the request the input maps to, capped by the router's ``maxCreditsPerGeneration``
    for the modality; unknown, and why, when the router is not one of the spec's."""
    graph, catalog = ctx.graph, ctx.catalog
    node = graph.routers.get(gen.router) if gen.router is not None else None
    if node is None:
        config = gen.request.get("configId")
        return Cost.unpriced(
            f"router {config!r} is not one of the spec's routers: it may pick any model "
            "(declare it under routers: to price the step as the range over its models)"
        )
    settings = node.settings
    routing = catalog.route(gen.endpoint, gen.request, settings)
    cap = credit_cap(settings, gen.endpoint)
    per_output = Decimal(output_count(gen.request))
    priced: list[tuple[str, Cost]] = []
    unpriced: list[str] = []
    for candidate in routing.candidates:
        one = Generation(
            key=f"{gen.key} via {candidate.model}",  # its own memo of output seconds
            step=gen.step,
            index=gen.index,
            endpoint=candidate.endpoint,
            model=candidate.model,
            request=candidate.request,
            refs=[],
            output_count=1,
            span=gen.span,
            length=gen.length if gen.length is not None and gen.length.exact else None,
        )
        cost = _price(one, ctx, overrides)
        if cost.unknown:
            unpriced.append(candidate.model)
        elif cap is not None and cost.low > cap * per_output:
            continue
        else:
            priced.append((candidate.model, cost))
    where = f"router '{node.key}' ({node.slug})"
    if not priced and not (unpriced and cap is not None):
        refused = "; ".join(
            f"{model} {why}"
            for model, why in routing.excluded.items()
            if "models setting" not in why
        )
        why = (
            f"it may pick {', '.join(unpriced)}, whose price is unknown"
            if unpriced
            else "no model it allows takes this input"
            + (f" ({refused})" if refused else "")
            + (f" at most {cap} credits per output" if cap is not None else "")
        )
        return Cost.unpriced(f"{where}: {why}")
    if unpriced and cap is None:
        return Cost.unpriced(
            f"{where} may pick {', '.join(unpriced)}, whose price is unknown, and sets no "
            f"maxCreditsPerGeneration.{ROUTED[gen.endpoint]} to bound it"
        )
    low = min((c.low for _, c in priced), default=_ZERO)
    high = max((c.high for _, c in priced), default=_ZERO)
    if cap is not None:
        high = min(high, cap * per_output)
    if unpriced and cap is not None:
        low, high = _ZERO, cap * per_output
    models = ", ".join(f"{m} {_span_text(c.low, c.high)}" for m, c in priced)
    reasons = [f"{where} picks one of: {models}" if models else f"{where}"]
    if unpriced:
        reasons.append(f"it may pick {', '.join(unpriced)} (price unknown), at most the cap")
    if cap is not None:
        reasons.append(f"capped at {cap} credits per output")
    confidence = lowest_confidence(*(c.confidence for _, c in priced))
    return Cost(
        low=low,
        high=high,
        units=f"{len(priced) + len(unpriced)} candidate model(s)",
        reasons=("; ".join(reasons),) if low != high else (),
        unit="generation",
        quantity_low=Decimal(1),
        quantity_high=Decimal(1),
        blocks_low=Decimal(1),
        blocks_high=Decimal(1),
        rate_low=low,
        rate_high=high,
        source="router candidates",
        confidence=confidence,
    )
