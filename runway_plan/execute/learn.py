"""Prices the account itself teaches: per-unit rates derived from the costs runs recorded.

Every attempt in a run state (:mod:`runway_plan.execute.state`) keeps the request as sent,
the ``estimatedCost`` the API answered at create and the ``cost`` it billed at the end.  For
each task that succeeded and was billed, :func:`observe` counts what its model is billed by
(the unit of the catalog's price of the model; for a model the catalog cannot price, its
endpoint's natural unit: video and audio by the second of output, images by the image,
speech by the character, dubbing and isolation by the second of input) with the planner's own
pricing (a price of one credit per block, :mod:`runway_plan.plan.cost`) and divides the bill
by it.  A task's rate is its ``cost`` over its blocks, or its ``estimatedCost`` over them when
the bill is that estimate rounded up to whole credits (the SDK types ``cost.credits`` as an
integer).

:func:`summarize` groups the rates of a model by the condition (``when``) of the catalog's
rate the request fell under; rates that disagree within a group are reported, never averaged.
:func:`drift` compares them with the catalog.  The state is untrusted: it is read through
:meth:`State.snapshot`, every value is checked, and media are measured only inside the state
folder.
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
from runway_plan.catalog.model import MAX_CREDITS, Price, PriceRate, Scalar, StringType
from runway_plan.compile import compile_request
from runway_plan.execute.client import strip_query
from runway_plan.execute.state import State, StateUnreadable
from runway_plan.files import LocalFileError, Root
from runway_plan.media import probe_local
from runway_plan.plan.cost import format_credits, price_generation
from runway_plan.validate import check_file

__all__ = [
    "Drift",
    "Observation",
    "Observed",
    "RateGroup",
    "Skipped",
    "StateSource",
    "drift",
    "local_inputs",
    "natural_price",
    "observe",
    "rate_text",
    "summarize",
]

_AUDIO_IN = ("speech_to_speech", "voice_dubbing", "voice_isolation")
_MAX_TASKS = 1_000_000


@dataclass(frozen=True, slots=True)
class Observation:
    """One billed task: what it counted, what it cost, and the rate that makes."""

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

    @property
    def date(self) -> str:
        """The UTC day the task ended."""
        return time.strftime("%Y-%m-%d", time.gmtime(self.finished_at))


@dataclass(frozen=True, slots=True)
class Skipped:
    """A billed task no rate could be derived from, and why."""

    model: str
    task_id: str
    reason: str


@dataclass
class Observed:
    """What the states taught: observations, skipped tasks, unreadable states."""

    observations: list[Observation] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RateGroup:
    """The tasks of one model under one condition of its price (``when``), by rate."""

    model: str
    price: Price
    condition: int
    rates: dict[Decimal, tuple[Observation, ...]]

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


@dataclass(frozen=True)
class Drift:
    """A rate billed that differs from the catalog's for the same condition."""

    group: RateGroup
    catalog_rate: Decimal

    def text(self) -> str:
        """``gen4.5 billed 14/s over 6 tasks since 2026-11-30; catalog 12/s``."""
        tasks = self.group.tasks
        unit = rate_unit(self.group.price)
        billed = "/".join(format_credits(r) for r in sorted(self.group.rates))
        condition = _when_text(self.group.when)
        count = f"{len(tasks)} task{'s' * (len(tasks) != 1)}"
        return (
            f"{self.group.model}{condition} billed {billed}{unit} over {count} since "
            f"{tasks[0].date}; catalog {format_credits(self.catalog_rate)}{unit}"
        )


def _when_text(when: Mapping[str, Sequence[Scalar]]) -> str:
    if not when:
        return ""
    parts = [f"{name}={'|'.join(str(v) for v in values)}" for name, values in when.items()]
    return f" ({', '.join(parts)})"


def rate_unit(price: Price) -> str:
    """The unit a rate is given per: ``/s``, ``/image``, ``/50 chars``, ``/6 s of input``."""
    per = "" if price.per == 1 else f"{format_credits(price.per)} "
    match price.unit:
        case "output_second":
            return f"/{per}s"
        case "input_second":
            return f"/{per}s of input"
        case "image":
            return f"/{per}image"
        case "characters":
            return f"/{per}chars" if per else "/char"
        case _:
            return "/generation"


def rate_text(price: Price) -> str:
    """A compact price rule: ``12/s; 17/s when outputFormat=prores|png_sequence``."""
    unit = rate_unit(price)
    parts = []
    for rate in price.rates:
        when = _when_text(rate.when).strip(" ()")
        parts.append(f"{format_credits(rate.credits)}{unit}" + (f" when {when}" if when else ""))
    text = "; ".join(parts)
    return text + (", rounded up" if price.rounding == "ceil" else "")


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


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _condition(price: Price, request: Mapping[str, Any]) -> int | None:
    """The index of the rate ``request`` falls under, or None when it cannot be told."""
    for index, rate in enumerate(price.rates):
        matched = True
        for name, allowed in rate.when.items():
            value = _get(request, name)
            if value is None:
                if name in price.unknown_defaults:
                    return None
                value = price.defaults.get(name)
            if value is None or not any(_same(value, choice) for choice in allowed):
                matched = False
                break
        if matched:
            return index
    return None


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


def _blocks(
    reader: _Reader, price: Price, endpoint: str, request: dict[str, Any], step_id: int
) -> tuple[Decimal | None, str]:
    """How many blocks of ``price`` a recorded request counted, or None and why not."""
    body = dict(request)
    if price.unit == "input_second" and price.input_field:
        path = reader.input_path(_get(body, price.input_field))
        if path is None:
            return None, f"the length of its {price.input_field} is not in the state"
        body = _set(body, price.input_field, path)
    counting = price.model_copy(
        update={"rates": tuple(PriceRate(when=r.when, credits=Decimal(1)) for r in price.rates)}
    )
    model = str(body.get("model"))
    priced = dataclasses.replace(
        reader.catalog,
        prices=reader.catalog.prices.model_copy(
            update={"models": {**reader.catalog.prices.models, model: counting}}
        ),
    )
    graph = compile_request(priced, endpoint, body, root=reader.root)
    cost = price_generation(graph.generations["request"], graph, priced)
    if not cost.unknown and cost.blocks_low == cost.blocks_high:
        return cost.blocks_low, ""
    if price.unit == "output_second":
        outputs = reader.state.outputs(step_id)
        path = reader.stored(outputs[0].sha256) if outputs and outputs[0].sha256 else None
        seconds = reader.length(path) if path is not None else None
        if seconds is not None:
            blocks = seconds / price.per
            if price.rounding == "ceil":
                blocks = blocks.to_integral_value(rounding=ROUND_CEILING)
            return blocks, ""
        return None, "its output's length is neither in the request nor measurable"
    return None, cost.reasons[0] if cost.reasons else "its quantity is not known"


def _set(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    copy = dict(data)
    if rest:
        inner = copy.get(head)
        copy[head] = _set(inner if isinstance(inner, dict) else {}, rest, value)
    else:
        copy[head] = value
    return copy


_MICRO = Decimal("0.000001")
_PER_GENERATION = Price(
    unit="generation", rates=(PriceRate(credits=Decimal(1)),), source="", checked=""
)


def _whole(rate: Decimal, blocks: Decimal, total: Decimal) -> bool:
    """True when ``rate`` is exact to the millionth of a credit (what a price can hold) and
    gives back ``total``."""
    return rate == rate.quantize(_MICRO) and rate * blocks == total


def _rate(billed: Decimal, estimated: Decimal | None, blocks: Decimal) -> tuple[Decimal, bool]:
    """The per-block rate, and whether the bill was the estimate rounded up."""
    if (
        estimated is not None
        and estimated != billed
        and billed == billed.to_integral_value()
        and estimated.to_integral_value(rounding=ROUND_CEILING) == billed
    ):
        return _plain(estimated / blocks), True
    return _plain(billed / blocks), False


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
    catalog = reader.catalog
    if endpoint not in catalog.model_endpoints.get(model, ()):
        found.skipped.append(Skipped(model, task, f"not a model of the catalog on {endpoint!r}"))
        return
    price = catalog.price(model) or natural_price(catalog, endpoint, model)
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
    condition = _condition(price, request)
    if condition is None:
        found.skipped.append(
            Skipped(model, task, "no rate of its price applies, or a field it omitted decides it")
        )
        return
    blocks, why = _blocks(reader, price, endpoint, request, attempt.step_id)
    if blocks is None or blocks <= 0:
        found.skipped.append(Skipped(model, task, why or "it counted nothing"))
        return
    rate, rounded = _rate(billed, estimated, blocks)
    if (
        not _whole(rate, blocks, (estimated or billed) if rounded else billed)
        and catalog.price(model) is None
    ):
        price = _PER_GENERATION
        condition, blocks = 0, Decimal(1)
        rate, rounded = _rate(billed, estimated, blocks)
        generation = True
    else:
        generation = False
    if not _whole(rate, blocks, (estimated or billed) if rounded else billed):
        found.skipped.append(
            Skipped(
                model,
                task,
                f"billed {format_credits(billed)} for {format_credits(blocks)} "
                f"{price.unit.replace('_', ' ')} block(s): no exact rate per block",
            )
        )
        return
    finished = attempt.finished_at
    moment = float(finished) if isinstance(finished, int | float) and finished > 0 else 0.0
    found.observations.append(
        Observation(
            model=model,
            endpoint=endpoint,
            task_id=task,
            finished_at=moment if math.isfinite(moment) and moment < 1e11 else 0.0,
            origin=origins.get(attempt.run_id, ""),
            state=reader.shown,
            billed=billed,
            estimated=estimated,
            blocks=blocks,
            rate=rate,
            condition=condition,
            rounded=rounded,
            unit=price.unit if generation else "",
        )
    )


@dataclass(frozen=True)
class StateSource:
    """A state folder to read, its name in messages, and the spec file whose local inputs
    its tasks may have sent (to measure them), when known."""

    directory: Path
    shown: str
    spec: Path | None = None


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
    """Per model, its observed rates grouped by the unit and the condition of its price."""
    grouped: dict[tuple[str, str, int], dict[Decimal, list[Observation]]] = {}
    for item in observed.observations:
        key = (item.model, item.unit, item.condition)
        grouped.setdefault(key, {}).setdefault(item.rate, []).append(item)
    result: dict[str, list[RateGroup]] = {}
    for (model, unit, condition), rates in sorted(grouped.items()):
        endpoint = rates[next(iter(rates))][0].endpoint
        price = (
            _PER_GENERATION
            if unit == "generation"
            else catalog.price(model) or natural_price(catalog, endpoint, model)
        )
        if price is None:
            continue
        group = RateGroup(
            model, price, condition, {rate: tuple(items) for rate, items in sorted(rates.items())}
        )
        result.setdefault(model, []).append(group)
    return result


def drift(summary: Mapping[str, Sequence[RateGroup]], catalog: Catalog) -> list[Drift]:
    """Where what was billed differs from the catalog's price of a priced model."""
    found = []
    for model, groups in summary.items():
        price = catalog.price(model)
        if price is None:
            continue
        for group in groups:
            listed = price.rates[group.condition].credits
            if any(rate != listed for rate in group.rates):
                found.append(Drift(group, listed))
    return found


def origin_host(origin: str) -> str:
    """The host of an API origin, for short provenance."""
    return urlsplit(origin).netloc or origin


_IDS_KEPT = 10


def learned_entry(
    model: str, groups: Sequence[RateGroup], catalog: Catalog, today: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The ``runway-prices.yaml`` entry for ``model`` (the schema of ``prices.yaml``'s
    ``models:`` and a ``learned:`` block), or None; and what stands in its way.

    The catalog's price of a priced model is kept, its rates replaced where tasks taught one;
    an unpriced model gets its endpoint's natural unit.  A group whose tasks disagree is
    reported and the model is not written.
    """
    notes: list[str] = []
    for group in groups:
        if not group.agrees:
            shown = ", ".join(
                f"{format_credits(rate)}{rate_unit(group.price)} ({len(items)} "
                f"task{'s' * (len(items) != 1)}, e.g. {items[0].task_id})"
                for rate, items in group.rates.items()
            )
            notes.append(
                f"{model}{_when_text(group.when)}: tasks disagree ({shown}); not learned, "
                "not averaged"
            )
    units = sorted({g.price.unit for g in groups})
    if len(units) > 1:
        notes.append(
            f"{model}: some tasks give an exact rate per {units[0]}, others only per "
            f"{units[1]}; not learned"
        )
    if notes or not groups:
        return None, notes
    price = groups[0].price
    rates = list(price.rates)
    for group in groups:
        rates[group.condition] = PriceRate(when=group.when, credits=group.rate)
    tasks = sorted((o for g in groups for o in g.tasks), key=lambda o: (o.finished_at, o.task_id))
    origins = sorted({o.origin for o in tasks if o.origin})
    rounded = any(o.rounded for o in tasks)
    learned_price = price.model_copy(
        update={
            "rates": tuple(rates),
            "source": (
                f"runway-plan prices learn: billed costs of {len(tasks)} "
                f"task{'s' * (len(tasks) != 1)}"
                + (f" at {', '.join(origin_host(o) for o in origins)}" if origins else "")
                + ("; whole-credit bills read from their estimatedCost" if rounded else "")
                + (
                    f"; {len(rates) - len(groups)} rate(s) kept from the catalog"
                    if len(rates) > len(groups)
                    else ""
                )
            ),
            "checked": today,
            "confidence": "high" if len(tasks) > 1 else "medium",
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
