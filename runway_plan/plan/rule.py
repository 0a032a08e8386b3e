"""A price rule in words: every shape of a catalog :class:`~runway_plan.catalog.model.Price`.

``runway-plan prices`` lists each model's rule with :func:`rule_text`, and ``prices learn``
says what it learned with it.  Nothing is left out, so the text is truthful: a rate's span
(``1-76/image``) and its own lower confidence, the tier a ``derived`` value is read from, a
minimum, each surcharge with when it applies, a frame price's frame rate, the whole-credit
rounding, the values billed at the maximum, the fields whose default is not documented, and
the whole different price a model has on some endpoints.  ``compact`` shows a long list of
``when`` values as its length (``ratio=11 values``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runway_plan.catalog.model import Price, PriceRate, Scalar, Surcharge
from runway_plan.plan.cost import format_credits

__all__ = ["rate_unit", "rule_text", "when_text"]

_LONG = 3
"""More ``when`` values than this are shown as their count when compact."""


def _value(value: Scalar) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def when_text(when: Mapping[str, Sequence[Scalar]], *, compact: bool = False) -> str:
    """``outputFormat=prores|png_sequence, audio=true`` (``ratio=11 values`` when compact)."""
    parts = []
    for name, values in when.items():
        if compact and len(values) > _LONG:
            shown = f"{len(values)} values"
        else:
            shown = "|".join(_value(v) for v in values)
        parts.append(f"{name}={shown}")
    return ", ".join(parts)


def rate_unit(price: Price) -> str:
    """The unit a rate is given per: ``/s``, ``/image``, ``/50 chars``, ``/6 s of input``,
    ``/frame``, ``/generation``."""
    per = "" if price.per == 1 else f"{format_credits(price.per)} "
    match price.unit:
        case "output_second":
            return f"/{per}s"
        case "input_second":
            return f"/{per}s of input"
        case "image":
            return f"/{per}image" if per else "/image"
        case "characters":
            return f"/{per}chars" if per else "/char"
        case "frame":
            return f"/{per}frames" if per else "/frame"
        case _:
            return "/generation"


def _rate(rate: PriceRate, unit: str, compact: bool) -> str:
    amount = format_credits(rate.credits)
    if rate.up_to is not None:
        amount += f"-{format_credits(rate.up_to)}"
    text = amount + unit
    if rate.confidence is not None:
        text += f" ({rate.confidence} confidence)"
    when = when_text(rate.when, compact=compact)
    return text + (f" when {when}" if when else "")


def _surcharge(extra: Surcharge, compact: bool) -> str:
    amount = f"+{format_credits(extra.credits)}"
    match extra.per:
        case "item":
            counted = f" each of {', '.join(extra.fields)}" if extra.fields else " each"
            if extra.match:
                counted += f" with {when_text(extra.match, compact=compact)}"
        case "input_second":
            counted = f"/s of {', '.join(extra.fields) or 'input'}"
            if extra.max_seconds is not None:
                counted += f" (at most {format_credits(extra.max_seconds)} s)"
        case "output_second":
            counted = "/s of output"
        case _:
            counted = ""
    text = amount + counted
    if extra.per_output:
        text += " per output"
    text += f" for {extra.label}"
    when = when_text(extra.when, compact=compact)
    if when:
        text += f" when {when}"
    if extra.possible:
        text += f" (possible: {extra.possible})"
    return text


def _measure(price: Price) -> str:
    """What the quantity is read from, when the unit does not say it alone."""
    if price.unit == "frame" and price.fps is not None:
        low, high = (format_credits(x) for x in price.fps)
        fps = low if low == high else f"{low}-{high}"
        of = f"s of {price.input_field}" if price.input_field else "s of output"
        return f"frames = {fps} fps x {of}"
    if price.unit == "image" and price.count_field:
        return f"times {price.count_field}"
    if price.unit == "characters" and price.text_field:
        return f"characters of {price.text_field}"
    if price.unit == "input_second" and price.input_field:
        return f"length of {price.input_field}"
    return ""


def _single(price: Price, compact: bool) -> str:
    unit = rate_unit(price)
    parts = ["; ".join(_rate(rate, unit, compact) for rate in price.rates) or "no rate"]
    details = []
    measure = _measure(price)
    if measure:
        details.append(measure)
    if price.rounding == "ceil":
        details.append("blocks rounded up")
    for name, derived in price.derived.items():
        default = f", {derived.default} when omitted" if derived.default is not None else ""
        details.append(f"{name} from {derived.field}{default}")
    for name, value in price.defaults.items():
        details.append(f"{name} defaults to {_value(value)}")
    if price.unknown_defaults:
        details.append(
            f"{', '.join(price.unknown_defaults)}: default not documented, priced as a range"
        )
    if price.billed_at_maximum:
        details.append(
            f"{when_text(price.billed_at_maximum, compact=compact)} billed at the longest output"
        )
    if details:
        parts[0] += f" ({'; '.join(details)})"
    if price.minimum is not None:
        parts.append(f"at least {format_credits(price.minimum)}")
    parts += [_surcharge(extra, compact) for extra in price.surcharges]
    if price.total_rounding == "ceil":
        parts.append("total rounded up to whole credits")
    return ", ".join(parts)


def rule_text(price: Price, *, compact: bool = False) -> str:
    """The whole rule of ``price`` on one line, each endpoint's own price after ``on``:
    ``10/s, +1 each of promptImage for the first-frame image; on video_to_video: 11/s of
    input (length of videoUri), +1 each of references for each reference image``."""
    text = _single(price, compact)
    for endpoint, variant in sorted(price.endpoints.items()):
        own = (
            f" ({variant.confidence} confidence)" if variant.confidence != price.confidence else ""
        )
        text += f"; on {endpoint}{own}: {_single(variant, compact)}"
    return text
