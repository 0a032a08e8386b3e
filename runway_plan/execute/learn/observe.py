"""Observations from a run state: each billed task's request re-priced with the planner, and
the rate its bill makes, or why none can be learned from it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.catalog.assets import get_path
from runway_plan.catalog.model import Price, PriceRate
from runway_plan.catalog.routing import ROUTED
from runway_plan.compile import compile_request
from runway_plan.execute.learn import pricing
from runway_plan.execute.learn.inputs import InputReader, media_inputs
from runway_plan.execute.learn.memo import Bills, WatchedRoot, drifts, memo_scope
from runway_plan.execute.learn.model import Bill, Observation, Observed, Skipped
from runway_plan.execute.learn.pricing import (
    UNPRICEABLE,
    natural_price,
    recorded_credits,
    with_price,
)
from runway_plan.execute.state import State, StateUnreadable
from runway_plan.plan.cost import format_credits, matching_rates, same_value
from runway_plan.plan.rule import rate_unit

__all__ = [
    "PER_GENERATION",
    "StateSource",
    "observe",
    "observe_bills",
    "remember_bills",
]

_MAX_TASKS = 1_000_000


def _flat(price: Price, credits: Decimal | None, **update: Any) -> Price:
    """``price`` with every rate at ``credits`` (None: the rate's own), no span, no minimum,
    whole-credit rounding off, trusted: to count blocks (1) or surcharges (0) with."""
    rates = tuple(
        PriceRate(when=r.when, credits=r.credits if credits is None else credits)
        for r in price.rates
    )
    changes: dict[str, Any] = {
        "rates": rates,
        "minimum": None,
        "total_rounding": "none",
        "confidence": "high",
        "endpoints": {},
    }
    return price.model_copy(update={**changes, **update})


def _billed_at_maximum(price: Price, body: Mapping[str, Any]) -> bool:
    return bool(price.billed_at_maximum) and all(
        any(same_value(get_path(body, tuple(name.split("."))), value) for value in values)
        for name, values in price.billed_at_maximum.items()
    )


class _NotLearnable(Exception):
    """A task whose rate cannot be identified, and why."""


def _blocks(
    reader: InputReader, counting: Price, endpoint: str, body: Mapping[str, Any], step_id: int
) -> tuple[Decimal, bool]:
    """How many blocks of ``counting`` (rates of one credit) the request counted, and whether
    they were measured on its stored output; raises :class:`_NotLearnable`."""
    model = reader.catalog.request_model(endpoint, dict(body))
    cost = pricing.cost_of(with_price(reader.catalog, model, counting), endpoint, body, reader.root)
    if not cost.unknown and cost.blocks_low == cost.blocks_high:
        return cost.blocks_low, False
    if counting.unit == "output_second" and not _billed_at_maximum(counting, body):
        outputs = reader.state.outputs(step_id)
        path = reader.stored(outputs[0].sha256) if outputs and outputs[0].sha256 else None
        seconds = reader.length(path) if path is not None else None
        if seconds is not None:
            blocks = seconds / counting.per
            if counting.rounding == "ceil":
                blocks = blocks.to_integral_value(rounding=ROUND_CEILING)
            return blocks, True
        raise _NotLearnable("its output's length is neither in the request nor measurable")
    if counting.unit == "frame":
        fps = "-".join(dict.fromkeys(format_credits(x) for x in counting.fps or ()))
        raise _NotLearnable(
            f"it is billed per frame and its output frame rate ({fps} fps) is not recorded, "
            "so its frames are not known"
        )
    why = cost.reasons[0] if cost.reasons else "its quantity is not known"
    raise _NotLearnable(why)


def _condition(reader: InputReader, price: Price, endpoint: str, body: Mapping[str, Any]) -> int:
    """The index of the rate ``body`` falls under (derived tiers included); raises
    :class:`_NotLearnable` when none does or an omitted field decides."""
    if len(price.rates) == 1 and not price.rates[0].when:
        return 0
    model = reader.catalog.request_model(endpoint, dict(body))
    catalog = with_price(reader.catalog, model, price)
    graph = compile_request(catalog, endpoint, dict(body), root=reader.root)
    chosen, missing = matching_rates(graph.generations["request"], price, catalog)
    if missing is not None:
        raise _NotLearnable(missing)
    if len(chosen) != 1:
        raise _NotLearnable(
            "a field it omitted, whose default is not documented, decides which rate applies"
        )
    return next(i for i, rate in enumerate(price.rates) if rate is chosen[0])


def _surcharges(
    reader: InputReader, price: Price, endpoint: str, body: Mapping[str, Any]
) -> Decimal:
    """The credits the surcharges of ``price`` add to this request, exactly; raises
    :class:`_NotLearnable` when they are a range (a possible charge, an unmeasured input)."""
    if not price.surcharges:
        return Decimal(0)
    model = reader.catalog.request_model(endpoint, dict(body))
    extras = _flat(price, Decimal(0))
    cost = pricing.cost_of(with_price(reader.catalog, model, extras), endpoint, body, reader.root)
    if cost.unknown:
        raise _NotLearnable(f"its surcharges cannot be counted: {cost.reasons[0]}")
    if cost.low != cost.high:
        why = "; ".join(cost.reasons) or "a surcharge may or may not apply"
        raise _NotLearnable(
            f"its surcharges come to {format_credits(cost.low)}-{format_credits(cost.high)} "
            f"credits ({why}), so its base rate cannot be told apart from them"
        )
    return cost.high


def _rounded(billed: Decimal, estimated: Decimal | None) -> bool:
    """True when the bill is the estimate rounded up to whole credits."""
    return (
        estimated is not None
        and estimated != billed
        and billed == billed.to_integral_value()
        and estimated.to_integral_value(rounding=ROUND_CEILING) == billed
    )


_MICRO = Decimal("0.000001")
PER_GENERATION = Price(
    unit="generation", rates=(PriceRate(credits=Decimal(1)),), source="", checked=""
)


def _exact(rate: Decimal, blocks: Decimal, total: Decimal) -> bool:
    """True when ``rate`` is exact to the millionth of a credit (what a price can hold) and
    gives back ``total``."""
    return rate == rate.quantize(_MICRO) and rate * blocks == total


def _plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and without an exponent (``200``, not ``2E+2``)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def _read_state(
    source: StateSource,
    catalog: Catalog,
    models: set[str] | None,
    found: Observed,
    bills: Bills | None = None,
    journal: State | None = None,
) -> None:
    opened = journal.bounded() if journal is not None else State.snapshot(source.directory)
    with opened as state:
        reader = InputReader(state, catalog, source.shown, source.spec)
        reader.emulated = source.emulated
        if bills is not None:
            reader.root = WatchedRoot(reader.root.folder, reader.root.base, reader.root.allowed)
            bills.known = state.price_memo(bills.scope, _MAX_TASKS)
        origins = {
            int(row[0]): str(row[1]) for row in state.db.execute("SELECT id, origin FROM runs")
        }
        steps: dict[int, tuple[str, str]] = {}
        for row in state.db.execute("SELECT id, endpoint, model FROM steps"):
            steps[int(row[0])] = (str(row[1]), str(row[2]))
        for count, attempt in enumerate(state.all_attempts()):
            if count >= _MAX_TASKS:
                found.problems.append(
                    f"{source.shown}: more than {_MAX_TASKS:,} tasks; the rest unread"
                )
                break
            if attempt.status != "SUCCEEDED" or attempt.step_id not in steps:
                continue
            endpoint, model = steps[attempt.step_id]
            if models is not None and model not in models:
                continue
            if bills is not None and bills.run_id is not None and attempt.run_id != bills.run_id:
                continue
            if bills is None or (
                drifts(reader, attempt, endpoint, model, bills) and bills.run_id is None
            ):
                _observe_one(reader, attempt, endpoint, model, origins, found)


def _moment(finished: Any) -> float:
    moment = float(finished) if isinstance(finished, int | float) and finished > 0 else 0.0
    return moment if math.isfinite(moment) and moment < 1e11 else 0.0


def _observe_one(
    reader: InputReader,
    attempt: Any,
    endpoint: str,
    model: str,
    origins: Mapping[int, str],
    found: Observed,
) -> None:
    task = str(attempt.task_id or "?")
    billed = recorded_credits(attempt.billed_credits)
    estimated = recorded_credits(attempt.estimated_credits)
    if billed is None or billed == 0:
        return
    found.tasks += 1
    catalog = reader.catalog
    if endpoint in ROUTED:
        found.skipped.append(
            Skipped(
                model,
                task,
                "billed as the model its router picked, which the recorded request does not "
                "name: a rate of that model cannot be taught by it",
            )
        )
        return
    if endpoint not in catalog.model_endpoints.get(model, ()):
        found.skipped.append(Skipped(model, task, f"not a model of the catalog on {endpoint!r}"))
        return
    if reader.emulated and model in reader.spec_prices:
        found.skipped.append(
            Skipped(
                model,
                task,
                "billed at the spec's own prices: (run --emulate bills them), which say "
                "nothing of the catalog's price or the account's",
            )
        )
        return
    listed = catalog.price(model)
    natural = listed is None
    price = listed.on(endpoint) if listed is not None else natural_price(catalog, endpoint, model)
    if price is None:
        found.skipped.append(Skipped(model, task, f"{endpoint} has no natural unit"))
        return
    try:
        request = json.loads(attempt.request)
    except ValueError:
        request = None
    if not isinstance(request, dict) or catalog.request_model(endpoint, request) != model:
        found.skipped.append(Skipped(model, task, "its recorded request is not readable"))
        return
    body = media_inputs(reader, request)
    variant = endpoint if listed is not None and endpoint in listed.endpoints else ""
    moment = _moment(attempt.finished_at)
    bill: Bill | None = None
    if listed is not None:
        try:
            planned = pricing.cost_of(catalog, endpoint, body, reader.root)
        except UNPRICEABLE as exc:
            found.skipped.append(Skipped(model, task, f"its request cannot be priced ({exc})"))
            return
        if not planned.unknown:
            bill = Bill(
                model, task, moment, billed, planned.low, planned.high, variant, None, None, price
            )
    rounded = _rounded(billed, estimated)
    amount = (estimated or billed) if rounded else billed
    try:
        condition = _condition(reader, price, endpoint, body)
        if bill is not None:
            bill = dataclasses.replace(bill, condition=condition)
        rate_rule = price.rates[condition]
        if rate_rule.up_to is not None:
            raise _NotLearnable(
                f"the catalog publishes only a span of {format_credits(rate_rule.credits)}-"
                f"{format_credits(rate_rule.up_to)}{rate_unit(price)} for it, which turns on "
                "details of the request the price does not model: one bill cannot price others"
            )
        blocks, measured = _blocks(
            reader, _flat(price, Decimal(1)), endpoint, body, attempt.step_id
        )
        if blocks <= 0:
            raise _NotLearnable("it counted nothing")
        extra = _surcharges(reader, price, endpoint, body)
        base = amount - extra
        if base < 0:
            raise _NotLearnable(
                f"billed {format_credits(amount)}, less than the {format_credits(extra)} "
                "credits of surcharges the catalog gives its request"
            )
        if price.minimum is not None and base <= price.minimum:
            raise _NotLearnable(
                f"its charge before surcharges ({format_credits(base)}) is at or below the "
                f"minimum of {format_credits(price.minimum)}, so the rate per unit is hidden"
            )
        rate = _plain(base / blocks)
        unit = ""
        if not _exact(rate, blocks, base) and natural:
            price, condition, blocks, unit = PER_GENERATION, 0, Decimal(1), "generation"
            rate = _plain(amount)
        if not _exact(rate, blocks, base):
            raise _NotLearnable(
                f"billed {format_credits(amount)}"
                + (f" ({format_credits(extra)} of it surcharges)" if extra else "")
                + f" for {format_credits(blocks)} {price.unit.replace('_', ' ')} block(s): "
                "no exact rate per block"
            )
    except (_NotLearnable, *UNPRICEABLE) as exc:
        if bill is not None:
            found.bills.append(bill)
        why = str(exc) if isinstance(exc, _NotLearnable) else f"it cannot be priced ({exc})"
        found.skipped.append(Skipped(model, task, why))
        return
    if bill is not None:
        found.bills.append(dataclasses.replace(bill, rate=rate))
    found.observations.append(
        Observation(
            model=model,
            endpoint=endpoint,
            task_id=task,
            finished_at=moment,
            origin=origins.get(attempt.run_id, ""),
            state=reader.shown,
            billed=billed,
            estimated=estimated,
            blocks=blocks,
            rate=rate,
            condition=condition,
            rounded=rounded,
            unit=unit,
            variant=variant,
            extra=extra,
            measured=measured,
            body=body,
            root=reader.root,
        )
    )


@dataclass(frozen=True)
class StateSource:
    """A state folder to read, its name in messages, and the spec file whose local inputs
    its tasks may have sent (to measure them), when known."""

    directory: Path
    shown: str
    spec: Path | None = None
    emulated: bool = False
    """True for the state of ``run --emulate``, whose emulator bills the spec's ``prices:``."""


def observe(
    states: Iterable[StateSource], catalog: Catalog, models: set[str] | None = None
) -> Observed:
    """The billed tasks of the states and the rate each makes; a state that cannot be read
    is a problem, not an error."""
    found = Observed()
    for source in states:
        _observe_state(source, catalog, models, found)
    return found


def remember_bills(journal: State, catalog: Catalog, run_id: int) -> None:
    """Price the requests of the tasks billed in run ``run_id`` of ``journal`` (open and
    locked by the caller, the run) with ``catalog``, and remember the prices as
    :func:`observe_bills` does: the drift a later ``run`` reports with the same catalog
    re-prices none of them.  A journal that cannot be read remembers nothing."""
    try:
        billed = journal.db.execute(
            "SELECT 1 FROM attempts WHERE run_id = ? AND billed_credits IS NOT NULL LIMIT 1",
            (run_id,),
        ).fetchone()
    except sqlite3.Error:
        return
    if billed is None:
        return
    bills = Bills(memo_scope(catalog), run_id=run_id)
    source = StateSource(journal.directory, str(journal.directory))
    _observe_state(source, catalog, None, Observed(), bills, journal)
    journal.remember_prices(bills.scope, bills.learned)


def observe_bills(
    source: StateSource, catalog: Catalog, models: set[str] | None, journal: State | None = None
) -> Observed:
    """What :func:`observe` finds of the bills that drift (:func:`~.rates.drift` of either
    is the same), reading in full only the tasks whose bill falls outside the catalog's price
    for their request.

    The catalog's price of a request body that reads no file (of the state or the spec) is a
    function of the body, the catalog and runway-plan's version alone: such prices are
    remembered in the journal.  ``journal`` is the state of ``source``, open and locked by
    the caller (a run): it is read in place (:meth:`State.bounded`) and remembers them, so
    that a resumed run re-prices only the tasks billed since.
    """
    bills = Bills(memo_scope(catalog))
    found = Observed()
    _observe_state(source, catalog, models, found, bills, journal)
    if journal is not None:
        journal.remember_prices(bills.scope, bills.learned)
    return found


def _observe_state(
    source: StateSource,
    catalog: Catalog,
    models: set[str] | None,
    found: Observed,
    bills: Bills | None = None,
    journal: State | None = None,
) -> None:
    shown = source.shown
    if (source.directory / "state.db").is_file():
        found.states.append(shown)
        try:
            _read_state(source, catalog, models, found, bills, journal)
        except StateUnreadable as exc:
            found.problems.append(str(exc))
        except (ValueError, TypeError, KeyError, InvalidOperation, ArithmeticError) as exc:
            found.problems.append(
                f"{shown}: a recorded value is not what runway-plan writes ({exc})"
            )
        except Exception as exc:  # sqlite3 errors and the like: the state is untrusted
            found.problems.append(f"{shown}: not a journal runway-plan can read ({exc})")
