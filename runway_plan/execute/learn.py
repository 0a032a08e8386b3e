"""Prices the account itself teaches: per-unit rates derived from the costs runs recorded.

Every attempt in a run state (:mod:`runway_plan.execute.state`) keeps the request as sent,
the ``estimatedCost`` the API answered at create and the ``cost`` it billed at the end.  For
each task that succeeded and was billed, :func:`observe` re-prices the recorded request with
the planner (:mod:`runway_plan.plan.cost`), its media inputs measured where the state or the
spec holds them:

* **drift** (:func:`drift`): the catalog's full price rule for *that* request is a range
  ``[low, high]`` (tiers, surcharges, minimum, whole-credit rounding); a bill outside it is
  drift, a bill inside it is not;
* **a rate** (:class:`Observation`): the unit of the catalog's price of the model (for a model
  the catalog cannot price, its endpoint's natural unit: video and audio by the second of
  output, images by the image, speech by the character, dubbing and isolation by the second of
  input) is counted with the planner's own pricing, the surcharges the request implies are
  subtracted from the bill, and the rest divided by the blocks.  Only an identifiable rate is
  kept: a task whose rate turns on an omitted field, a published span, a possible surcharge,
  an unknown frame rate, or the minimum charge is reported as not learnable, with why.  A
  task's bill is its ``cost``, or its ``estimatedCost`` when the bill is that estimate rounded
  up to whole credits (the SDK types ``cost.credits`` as an integer).

:func:`summarize` groups the rates of a model by the endpoint price and the condition
(``when``, derived tiers included) of the rate the request fell under; rates that disagree
within a group are reported, never averaged.  :func:`learned_entry` writes a group's rate into
the model's price only after re-pricing every task it rests on with the learned price gives
back its bill exactly.  The state is untrusted: it is read through :meth:`State.snapshot`,
every value is checked, and media are measured only inside the state folder or the spec's root.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runway_plan.catalog import Catalog
from runway_plan.catalog.assets import get_path
from runway_plan.catalog.model import MAX_CREDITS, Price, PriceRate, Scalar, StringType
from runway_plan.compile import compile_request
from runway_plan.execute.client import strip_query
from runway_plan.execute.state import State, StateUnreadable
from runway_plan.files import LocalFileError, Root
from runway_plan.plan.cost import (
    Cost,
    format_credits,
    lowest_confidence,
    matching_rates,
    price_generation,
)
from runway_plan.plan.rule import rate_unit, when_text
from runway_plan.probe import probe_local
from runway_plan.validate import check_file

__all__ = [
    "Bill",
    "Drift",
    "Observation",
    "Observed",
    "RateGroup",
    "Skipped",
    "StateSource",
    "drift",
    "learned_entry",
    "local_inputs",
    "natural_price",
    "observe",
    "self_check",
    "summarize",
]

_AUDIO_IN = ("speech_to_speech", "voice_dubbing", "voice_isolation")
_MAX_TASKS = 1_000_000


@dataclass(frozen=True, slots=True)
class Observation:
    """One billed task whose rate is identifiable: what it counted, what it cost, the rate.

    ``body`` is the recorded request with its media inputs replaced by the files they were
    measured on (inside ``root``), to re-price it; ``amount`` is what the rate explains (the
    bill, or the estimate it was rounded up from) and ``extra`` the surcharges subtracted.
    """

    model: str
    endpoint: str
    task_id: str
    finished_at: float
    origin: str
    state: str
    billed: Decimal
    estimated: Decimal | None
    blocks: Decimal
    rate: Decimal
    condition: int
    rounded: bool = False
    unit: str = ""
    """``generation`` when an unpriced model's natural unit gave no exact rate."""
    variant: str = ""
    """The endpoint whose own price (``endpoints:``) the task was billed by, else empty."""
    extra: Decimal = Decimal(0)
    measured: bool = False
    """True when the blocks were measured on the stored output (the request does not fix them)."""
    body: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    root: Root | None = field(default=None, compare=False, repr=False)

    @property
    def date(self) -> str:
        """The UTC day the task ended."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.finished_at))

    @property
    def amount(self) -> Decimal:
        """What the price must give back: the bill, or the estimate it was rounded up from."""
        return (self.estimated or self.billed) if self.rounded else self.billed


@dataclass(frozen=True, slots=True)
class Bill:
    """One billed task of a model the catalog prices, and the catalog's range for its request."""

    model: str
    task_id: str
    finished_at: float
    billed: Decimal
    low: Decimal
    high: Decimal
    variant: str
    condition: int | None
    rate: Decimal | None
    unit_price: Price

    @property
    def date(self) -> str:
        """The UTC day the task ended."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.finished_at))

    @property
    def drifted(self) -> bool:
        """True when the bill falls outside what the catalog gives for the request."""
        return not self.low <= self.billed <= self.high


@dataclass(frozen=True, slots=True)
class Skipped:
    """A billed task no rate could be derived from, and why."""

    model: str
    task_id: str
    reason: str


@dataclass
class Observed:
    """What the states taught: observations, bills of priced models, skipped tasks,
    unreadable states."""

    observations: list[Observation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    bills: list[Bill] = field(default_factory=list)
    tasks: int = 0


@dataclass(frozen=True)
class RateGroup:
    """The tasks of one model under one condition of its price (``when``), by rate.

    ``price`` is the price the tasks were billed by (the model's own on the endpoint
    ``variant``, when it has one).
    """

    model: str
    price: Price
    condition: int
    rates: dict[Decimal, tuple[Observation, ...]]
    variant: str = ""

    @property
    def when(self) -> dict[str, tuple[Scalar, ...]]:
        """The fields and values the group's requests matched."""
        return dict(self.price.rates[self.condition].when) if self.price.rates else {}

    @property
    def agrees(self) -> bool:
        """True when every task of the group was billed the same rate."""
        return len(self.rates) == 1

    @property
    def tasks(self) -> tuple[Observation, ...]:
        """Every task of the group, oldest first."""
        found = [o for group in self.rates.values() for o in group]
        return tuple(sorted(found, key=lambda o: (o.finished_at, o.task_id)))

    @property
    def rate(self) -> Decimal:
        """The rate, when the tasks agree (the first one otherwise)."""
        return next(iter(self.rates))

    @property
    def label(self) -> str:
        """The model, its endpoint price and its condition: ``gen4.5 (outputFormat=mp4)``."""
        return _label(self.model, self.variant, self.when)


def _label(model: str, variant: str, when: Mapping[str, Sequence[Scalar]]) -> str:
    where = f" on {variant}" if variant else ""
    condition = when_text(when, compact=True)
    return f"{model}{where}" + (f" ({condition})" if condition else "")


def _count(items: int) -> str:
    return f"{items} task{'s' * (items != 1)}"


@dataclass(frozen=True)
class Drift:
    """Bills of one model (and condition) that fall outside the catalog's price for their
    requests."""

    bills: tuple[Bill, ...]

    def text(self) -> str:
        """``gen4.5 billed 14/s over 6 tasks since 2026-11-30; catalog 12/s`` when every
        task gives a rate, else ``seed_audio billed 3 over 1 task since ...; catalog 5 for
        that request``."""
        bills = sorted(self.bills, key=lambda b: (b.finished_at, b.task_id))
        first = bills[0]
        price = first.unit_price
        rates = [b.rate for b in bills]
        when = price.rates[first.condition].when if first.condition is not None else {}
        head = _label(first.model, first.variant, when)
        since = f"over {_count(len(bills))} since {first.date}"
        if first.condition is not None and all(rate is not None for rate in rates):
            unit = rate_unit(price)
            listed = price.rates[first.condition]
            catalog = format_credits(listed.credits) + (
                f"-{format_credits(listed.up_to)}" if listed.up_to is not None else ""
            )
            billed = "/".join(
                format_credits(r) for r in sorted({r for r in rates if r is not None})
            )
            return f"{head} billed {billed}{unit} {since}; catalog {catalog}{unit}"
        billed = "/".join(format_credits(b) for b in sorted({b.billed for b in bills}))
        low, high = min(b.low for b in bills), max(b.high for b in bills)
        span = (
            format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"
        )
        those = "that request" if len(bills) == 1 else "those requests"
        return f"{head} billed {billed} credits {since}; catalog {span} for {those}"


def _media_field(catalog: Catalog, endpoint: str, model: str) -> str | None:
    spec = catalog.model(endpoint, model)
    if spec is None:
        return None
    for name, node in spec.fields.items():
        if isinstance(node.type, StringType) and node.type.media in ("audio", "video"):
            return name
    return None


def natural_price(catalog: Catalog, endpoint: str, model: str) -> Price | None:
    """How an unpriced model is most likely billed, from what its endpoint makes (a rate of
    one credit, to count blocks with); None when its endpoint gives no natural unit."""
    base: dict[str, Any] = {"rates": (PriceRate(credits=Decimal(1)),), "source": "", "checked": ""}
    media = catalog.overlay.endpoint_output.get(endpoint)
    speech = catalog.overlay.speech_rate
    if speech is not None and endpoint == speech.endpoint:
        return Price(unit="characters", text_field=speech.text_field, **base)
    if endpoint in _AUDIO_IN:
        field_name = _media_field(catalog, endpoint, model)
        if field_name is None:
            return None
        return Price(unit="input_second", input_field=field_name, **base)
    if media in ("video", "audio"):
        return Price(unit="output_second", **base)
    if media == "image":
        spec = catalog.model(endpoint, model)
        count = "outputCount" if spec is not None and "outputCount" in spec.fields else None
        return Price(unit="image", count_field=count, **base)
    return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _credits(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= MAX_CREDITS:
        raise ValueError("a recorded credit amount is not a finite number of credits")
    return value


_LABEL_SHA = re.compile(r"sha256 ([0-9a-f]{16})\)$")


def local_inputs(spec: Path, catalog: Catalog) -> tuple[Root, dict[str, str]]:
    """The root of the spec file ``spec`` and the local files its requests name (inside that
    root), by content hash: what a run sent as a data URI or an upload, to measure."""
    graph, _diagnostics = check_file(spec, catalog)
    root = graph.root
    found: dict[str, str] = {}
    for gen in graph.generations.values():
        for value in _strings(gen.request):
            if root.local_path(value) is None:
                continue
            try:
                with root.open(value, limit=catalog.overlay.largest_upload) as local:
                    found.setdefault(local.sha256(), str(local.path))
            except (LocalFileError, OSError):
                continue
    return root, found


def _strings(data: Any) -> Iterable[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


class _Reader:
    """Reads one state snapshot: attempts, and where each recorded media input is (an output
    in the state's store, or a local file of the spec)."""

    def __init__(
        self,
        state: State,
        catalog: Catalog,
        shown: str,
        spec: Path | None = None,
    ) -> None:
        self.state = state
        self.catalog = catalog
        self.shown = shown
        real = Path(state.directory).resolve()
        self.spec = spec
        spec_root = Root.of_spec(spec) if spec is not None else None
        allowed = (spec_root.base, *spec_root.allowed) if spec_root is not None else ()
        self.root = Root(folder=real, base=real, allowed=allowed)
        self._local: dict[str, str] | None = None
        self._spec_prices: frozenset[str] | None = None
        self.emulated = False
        self.uploads: dict[str, str] = {}
        self.store = real / "store"
        self.by_url: dict[str, tuple[str, int | None]] = {}
        for row in state.db.execute("SELECT url, sha256, size FROM outputs WHERE url IS NOT NULL"):
            if isinstance(row[0], str) and isinstance(row[1], str):
                self.by_url[strip_query(row[0])] = (row[1], row[2])
        for row in state.db.execute("SELECT uri, sha256 FROM uploads"):
            if isinstance(row[0], str) and isinstance(row[1], str):
                self.by_url[row[0]] = (row[1], None)
                self.uploads[row[0]] = row[1]

    @property
    def local(self) -> dict[str, str]:
        """The spec's local files by content hash, read the first time a task needs them."""
        if self._local is None:
            self._local = {}
            if self.spec is not None:
                self._local = local_inputs(self.spec, self.catalog)[1]
        return self._local

    @property
    def spec_prices(self) -> frozenset[str]:
        """The models the spec's own ``prices:`` price (``run --emulate`` bills them so)."""
        if self._spec_prices is None:
            self._spec_prices = frozenset()
            if self.spec is not None:
                graph, _diagnostics = check_file(self.spec, self.catalog)
                if graph.spec is not None:
                    self._spec_prices = frozenset(graph.spec.prices)
        return self._spec_prices

    def input_path(self, value: Any) -> str | None:
        """The path of the media a recorded input names: a stored output, or a local file
        of the spec with the same content (sent as an upload or a data URI)."""
        if not isinstance(value, str):
            return None
        known = self.by_url.get(value)
        if known is not None:
            stored = self.stored(known[0])
            if stored is not None:
                return stored
        sha256 = self.uploads.get(value)
        if sha256 is not None:
            return self.local.get(sha256)
        label = _LABEL_SHA.search(value) if value.startswith("data:") else None
        if label is not None:
            matches = [p for h, p in self.local.items() if h.startswith(label.group(1))]
            return matches[0] if len(matches) == 1 else None
        return None

    def stored(self, sha256: str) -> str | None:
        """The path of a stored file, when it is a plain name in the store."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            return None
        path = self.store / "sha256" / sha256[:2] / sha256[2:]
        return str(path) if path.is_file() else None

    def length(self, value: str) -> Decimal | None:
        """The length in seconds of a stored file, measured inside the state folder."""
        try:
            with self.root.open(value, limit=self.catalog.overlay.largest_upload) as local:
                seconds = probe_local(local).duration
        except (LocalFileError, OSError, ValueError):
            return None
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            return None
        return Decimal(repr(round(seconds, 3)))


def _media_inputs(reader: _Reader, data: Any) -> Any:
    """``data`` with every media input the state or the spec holds replaced by the path of
    the file it was measured on (as the emulator does before it bills)."""
    if isinstance(data, str):
        return reader.input_path(data) or data
    if isinstance(data, dict):
        return {key: _media_inputs(reader, value) for key, value in data.items()}
    if isinstance(data, list):
        return [_media_inputs(reader, value) for value in data]
    return data


def _with_price(catalog: Catalog, model: str, price: Price) -> Catalog:
    return dataclasses.replace(
        catalog,
        prices=catalog.prices.model_copy(
            update={"models": {**catalog.prices.models, model: price}}
        ),
    )


def _cost(catalog: Catalog, endpoint: str, body: Mapping[str, Any], root: Root | None) -> Cost:
    graph = compile_request(catalog, endpoint, dict(body), root=root)
    return price_generation(graph.generations["request"], graph, catalog)


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
        any(_same(get_path(body, tuple(name.split("."))), value) for value in values)
        for name, values in price.billed_at_maximum.items()
    )


_UNPRICEABLE = (ValueError, TypeError, KeyError, ArithmeticError, RecursionError)
"""What pricing a recorded request that runway-plan did not write may raise: that task is
skipped, the others are read."""


class _NotLearnable(Exception):
    """A task whose rate cannot be identified, and why."""


def _blocks(
    reader: _Reader, counting: Price, endpoint: str, body: Mapping[str, Any], step_id: int
) -> tuple[Decimal, bool]:
    """How many blocks of ``counting`` (rates of one credit) the request counted, and whether
    they were measured on its stored output; raises :class:`_NotLearnable`."""
    model = str(body.get("model"))
    cost = _cost(_with_price(reader.catalog, model, counting), endpoint, body, reader.root)
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


def _condition(reader: _Reader, price: Price, endpoint: str, body: Mapping[str, Any]) -> int:
    """The index of the rate ``body`` falls under (derived tiers included); raises
    :class:`_NotLearnable` when none does or an omitted field decides."""
    if len(price.rates) == 1 and not price.rates[0].when:
        return 0
    model = str(body.get("model"))
    catalog = _with_price(reader.catalog, model, price)
    graph = compile_request(catalog, endpoint, dict(body), root=reader.root)
    chosen, missing = matching_rates(graph.generations["request"], price, catalog)
    if missing is not None:
        raise _NotLearnable(missing)
    if len(chosen) != 1:
        raise _NotLearnable(
            "a field it omitted, whose default is not documented, decides which rate applies"
        )
    return next(i for i, rate in enumerate(price.rates) if rate is chosen[0])


def _surcharges(reader: _Reader, price: Price, endpoint: str, body: Mapping[str, Any]) -> Decimal:
    """The credits the surcharges of ``price`` add to this request, exactly; raises
    :class:`_NotLearnable` when they are a range (a possible charge, an unmeasured input)."""
    if not price.surcharges:
        return Decimal(0)
    model = str(body.get("model"))
    extras = _flat(price, Decimal(0))
    cost = _cost(_with_price(reader.catalog, model, extras), endpoint, body, reader.root)
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
_PER_GENERATION = Price(
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
    source: StateSource, catalog: Catalog, models: set[str] | None, found: Observed
) -> None:
    with State.snapshot(source.directory) as state:
        reader = _Reader(state, catalog, source.shown, source.spec)
        reader.emulated = source.emulated
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
            _observe_one(reader, attempt, endpoint, model, origins, found)


def _moment(finished: Any) -> float:
    moment = float(finished) if isinstance(finished, int | float) and finished > 0 else 0.0
    return moment if math.isfinite(moment) and moment < 1e11 else 0.0


def _observe_one(
    reader: _Reader,
    attempt: Any,
    endpoint: str,
    model: str,
    origins: Mapping[int, str],
    found: Observed,
) -> None:
    task = str(attempt.task_id or "?")
    billed = _credits(attempt.billed_credits)
    estimated = _credits(attempt.estimated_credits)
    if billed is None or billed == 0:
        return
    found.tasks += 1
    catalog = reader.catalog
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
    if not isinstance(request, dict) or request.get("model") != model:
        found.skipped.append(Skipped(model, task, "its recorded request is not readable"))
        return
    body = _media_inputs(reader, request)
    variant = endpoint if listed is not None and endpoint in listed.endpoints else ""
    moment = _moment(attempt.finished_at)
    bill: Bill | None = None
    if listed is not None:
        try:
            planned = _cost(catalog, endpoint, body, reader.root)
        except _UNPRICEABLE as exc:
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
            price, condition, blocks, unit = _PER_GENERATION, 0, Decimal(1), "generation"
            rate = _plain(amount)
        if not _exact(rate, blocks, base):
            raise _NotLearnable(
                f"billed {format_credits(amount)}"
                + (f" ({format_credits(extra)} of it surcharges)" if extra else "")
                + f" for {format_credits(blocks)} {price.unit.replace('_', ' ')} block(s): "
                "no exact rate per block"
            )
    except (_NotLearnable, *_UNPRICEABLE) as exc:
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
        shown = source.shown
        if not (source.directory / "state.db").is_file():
            continue
        found.states.append(shown)
        try:
            _read_state(source, catalog, models, found)
        except StateUnreadable as exc:
            found.problems.append(str(exc))
        except (ValueError, TypeError, KeyError, InvalidOperation, ArithmeticError) as exc:
            found.problems.append(
                f"{shown}: a recorded value is not what runway-plan writes ({exc})"
            )
        except Exception as exc:  # sqlite3 errors and the like: the state is untrusted
            found.problems.append(f"{shown}: not a journal runway-plan can read ({exc})")
    return found


def summarize(observed: Observed, catalog: Catalog) -> dict[str, list[RateGroup]]:
    """Per model, its observed rates grouped by the unit, the endpoint price and the condition
    of its price."""
    grouped: dict[tuple[str, str, str, int], dict[Decimal, list[Observation]]] = {}
    for item in observed.observations:
        key = (item.model, item.unit, item.variant, item.condition)
        grouped.setdefault(key, {}).setdefault(item.rate, []).append(item)
    result: dict[str, list[RateGroup]] = {}
    for (model, unit, variant, condition), rates in sorted(grouped.items()):
        endpoint = rates[next(iter(rates))][0].endpoint
        listed = catalog.price(model)
        price = (
            _PER_GENERATION
            if unit == "generation"
            else listed.on(endpoint)
            if listed is not None
            else natural_price(catalog, endpoint, model)
        )
        if price is None:
            continue
        group = RateGroup(
            model,
            price,
            condition,
            {rate: tuple(items) for rate, items in sorted(rates.items())},
            variant,
        )
        result.setdefault(model, []).append(group)
    return result


def drift(observed: Observed) -> list[Drift]:
    """Where a bill falls outside what the catalog's price gives for that task's request,
    grouped by model, endpoint price and condition."""
    grouped: dict[tuple[str, str, int], list[Bill]] = {}
    for bill in observed.bills:
        if bill.drifted:
            key = (bill.model, bill.variant, -1 if bill.condition is None else bill.condition)
            grouped.setdefault(key, []).append(bill)
    return [Drift(tuple(bills)) for _key, bills in sorted(grouped.items())]


def origin_host(origin: str) -> str:
    """The host of an API origin, for short provenance."""
    return urlsplit(origin).netloc or origin


_IDS_KEPT = 10


def _learned_rates(price: Price, groups: Sequence[RateGroup], variant: str) -> Price:
    """``price`` with the rates ``groups`` taught; a rate kept from the catalog keeps the
    catalog's confidence in it (the learned entry's own confidence is the tasks')."""
    taught = {g.condition: g.rate for g in groups if g.variant == variant}
    rates = []
    for index, listed in enumerate(price.rates):
        if index in taught:
            rates.append(PriceRate(when=listed.when, credits=taught[index]))
            continue
        kept = lowest_confidence(price.confidence, listed.confidence)
        rates.append(listed.model_copy(update={"confidence": None if kept == "high" else kept}))
    return price.model_copy(update={"rates": tuple(rates)})


def self_check(model: str, price: Price, tasks: Sequence[Observation], catalog: Catalog) -> str:
    """Why re-pricing ``tasks`` with ``price`` does not give back each one's bill exactly
    (empty when it does): the exact figure must be the amount billed (or the estimate the
    bill was rounded up from) and the bill within the whole-credit range.  A task whose blocks
    were measured on its output (the request does not fix them) must be covered."""
    priced = _with_price(catalog, model, price)
    for task in tasks:
        try:
            cost = _cost(priced, task.endpoint, task.body, task.root)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            return f"task {task.task_id} cannot be re-priced ({exc})"
        if cost.unknown:
            return f"task {task.task_id} cannot be re-priced: {cost.reasons[0]}"
        covered = cost.low <= task.billed <= cost.high
        exact = cost.blocks_low == cost.blocks_high and cost.estimate == task.amount
        if not covered or not (exact or task.measured):
            shown = format_credits(cost.low) + (
                f"-{format_credits(cost.high)}" if cost.high != cost.low else ""
            )
            return (
                f"re-priced with the learned rates, task {task.task_id} comes to {shown} "
                f"credits, not the {format_credits(task.amount)} billed"
            )
    return ""


def learned_entry(
    model: str, groups: Sequence[RateGroup], catalog: Catalog, today: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``runway-prices.yaml`` entry for ``model`` (the schema of ``prices.yaml``'s
    ``models:`` and a ``learned:`` block), or None; and what stands in its way.

    The catalog's whole price of a priced model is kept (tiers, minimum, surcharges, the
    prices of other endpoints), its rates replaced where tasks taught one; an unpriced model
    gets its endpoint's natural unit.  A group whose tasks disagree is reported and the model
    is not written; nor is it when re-pricing the tasks with the entry does not give back
    every bill (:func:`self_check`): a learned price never under-prices what it rests on.
    """
    notes: list[str] = []
    for group in groups:
        if not group.agrees:
            shown = ", ".join(
                f"{format_credits(rate)}{rate_unit(group.price)} ({_count(len(items))}, "
                f"e.g. {items[0].task_id})"
                for rate, items in group.rates.items()
            )
            notes.append(f"{group.label}: tasks disagree ({shown}); not learned, not averaged")
    units = sorted({o.unit or g.price.unit for g in groups for o in g.tasks if not g.variant})
    if len(units) > 1:
        notes.append(
            f"{model}: some tasks give an exact rate per {units[0]}, others only per "
            f"{units[1]}; not learned"
        )
    if notes or not groups:
        return None, notes
    price = _learned_rates(catalog.price(model) or groups[0].price, groups, "")
    variants = {g.variant for g in groups if g.variant}
    if variants:
        endpoints = dict(price.endpoints)
        for variant in variants:
            endpoints[variant] = _learned_rates(endpoints[variant], groups, variant)
        price = price.model_copy(update={"endpoints": endpoints})
    tasks = sorted((o for g in groups for o in g.tasks), key=lambda o: (o.finished_at, o.task_id))
    confidence = "high" if len(tasks) > 1 else "medium"
    if variants:
        price = price.model_copy(
            update={
                "endpoints": {
                    name: variant.model_copy(update={"confidence": confidence})
                    if name in variants
                    else variant
                    for name, variant in price.endpoints.items()
                }
            }
        )
    price = price.model_copy(update={"confidence": confidence})
    failed = self_check(model, price, tasks, catalog)
    if failed:
        return None, [f"{model}: not learnable from these tasks: {failed}"]
    total = len(price.rates) + sum(len(v.rates) for v in price.endpoints.values())
    origins = sorted({o.origin for o in tasks if o.origin})
    rounded = any(o.rounded for o in tasks)
    extra = any(o.extra for o in tasks)
    kept = total - len(groups)
    learned_price = price.model_copy(
        update={
            "source": (
                f"runway-plan prices learn: billed costs of {_count(len(tasks))}"
                + (f" at {', '.join(origin_host(o) for o in origins)}" if origins else "")
                + ("; whole-credit bills read from their estimatedCost" if rounded else "")
                + ("; the catalog's surcharges subtracted" if extra else "")
                + (f"; {kept} rate(s) kept from the catalog" if kept > 0 else "")
            ),
            "checked": today,
            "confidence": confidence,
        }
    )
    entry = learned_price.model_dump(mode="json", exclude_defaults=True)
    entry["source"] = learned_price.source
    entry["checked"] = today
    entry["confidence"] = learned_price.confidence
    entry["learned"] = {
        "tasks": len(tasks),
        "task_ids": [o.task_id for o in tasks[-_IDS_KEPT:]][::-1],
        "first": tasks[0].date,
        "last": tasks[-1].date,
        "origin": ", ".join(origins),
    }
    return entry, []
