"""How the emulator bills a task: a price sheet, read through the planner's pricing.

A :class:`PriceSheet` gives each model it can bill a catalog
:class:`~runway_plan.catalog.model.Price`, the schema of the ``models:`` entries of the
catalog's ``prices.yaml`` (a unit, rates, rounding, defaults).  The default sheet is the
catalog's own prices; ``runway-plan emulate --prices FILE`` merges a file's entries over it
(:func:`load_price_sheet`), and ``run --emulate`` merges the spec's ``prices:``, flat credits
per generation (:meth:`PriceSheet.with_flat_prices`).

:func:`sheet_pricer` prices a request with the planner
(:func:`runway_plan.plan.cost.price_generation`) over the catalog with the sheet as its prices,
so ``estimatedCost`` is what ``runway-plan plan`` predicts with the same prices, and what the
emulator bills is the sheet's per-unit prices applied to the request.  Realtime sessions
(``gwm1_avatars``) are billed from the sheet directly (:func:`session_cost`): per session or
per second of the call.  A model the sheet does not price cannot be billed: the pricer answers
None and the emulator refuses the task or session (400), as ``plan`` calls it unknown rather
than free.

Before calling a pricer the emulator replaces every media input it holds (a ``runway://``
upload, one of its own output URLs, a data URI) with the path of a local file of the same
bytes, so a pricer that bills by input length (act_two, dubbing, ...) can measure it.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from runway_plan.catalog import Catalog
from runway_plan.catalog.learned import PRICE_KEYS, Provenance
from runway_plan.catalog.model import Price, PriceRate
from runway_plan.compile import compile_request
from runway_plan.emulator.sessions import SESSION_MODEL
from runway_plan.errors import RunwayPlanError

__all__ = [
    "PriceSheet",
    "PriceSheetError",
    "Pricer",
    "load_price_sheet",
    "planner_pricer",
    "session_cost",
    "sheet_pricer",
    "warm_up",
]


class Pricer(Protocol):
    """Prices one request: the most credits it may charge, or None when it cannot be billed.

    ``body`` is the request as sent, except that media inputs the emulator holds are local
    file paths (see the module docstring).
    """

    def __call__(self, endpoint: str, body: Mapping[str, Any], /) -> Decimal | None: ...


class PriceSheetError(ValueError, RunwayPlanError):
    """A price sheet file cannot be read or does not match the schema."""


@dataclass(frozen=True)
class PriceSheet:
    """The prices the emulator bills with: a catalog :class:`Price` per model.

    ``origin`` says where the prices come from, for messages and ``/_emulator/state``.
    """

    models: Mapping[str, Price]
    origin: str

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> PriceSheet:
        """The catalog's own prices."""
        return cls(dict(catalog.prices.models), f"the catalog's prices ({catalog.prices.version})")

    def price(self, model: str) -> Price | None:
        """How ``model`` is billed, or None when the sheet cannot bill it."""
        return self.models.get(model)

    def merged(self, models: Mapping[str, Price], origin: str) -> PriceSheet:
        """This sheet with ``models`` replacing or adding entries."""
        return PriceSheet({**self.models, **models}, f"{origin} over {self.origin}")

    def with_flat_prices(self, credits: Mapping[str, Decimal], origin: str) -> PriceSheet:
        """This sheet with a flat price per generation for each model in ``credits`` (a spec's
        ``prices:``)."""
        if not credits:
            return self
        flat = {
            model: Price(
                unit="generation",
                rates=(PriceRate(credits=Decimal(amount)),),
                source=origin,
                checked="",
            )
            for model, amount in credits.items()
        }
        return self.merged(flat, origin)

    def to_dict(self) -> dict[str, Any]:
        """The sheet as JSON-ready data: its origin and a ``models:`` mapping in the schema
        of the catalog's ``prices.yaml`` (what ``--prices`` reads)."""
        return {
            "origin": self.origin,
            "models": {
                model: price.model_dump(mode="json", exclude_defaults=True)
                for model, price in sorted(self.models.items())
            },
        }


class _LearnedEntry(Price):
    """A ``models:`` entry of a sheet: a catalog price, and the ``learned:`` provenance block
    ``runway-plan prices learn`` writes (checked, not billed by)."""

    learned: Provenance | None = None


class _SheetFile(BaseModel):
    """A price sheet file: ``models:`` entries as in the catalog's ``prices.yaml``; a
    ``runway-prices.yaml`` that ``prices learn`` wrote is one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str | int | None = None
    models: dict[str, _LearnedEntry]


_FIELD_OF_UNIT = {"characters": "text_field", "input_second": "input_field"}


def load_price_sheet(path: Path, catalog: Catalog) -> PriceSheet:
    """The catalog's prices with the entries of the YAML file ``path`` merged over them.

    Raises :class:`PriceSheetError` with every problem, each naming its place in the file
    (``models.gen4_turbo.rates``), when the file cannot be read or does not fit the schema.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceSheetError(f"{path}: cannot read it: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PriceSheetError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PriceSheetError(
            f"{path}: a price sheet is a mapping with 'models:', as the catalog's prices.yaml"
        )
    try:
        sheet = _SheetFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'the file'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise PriceSheetError(f"{path}: " + "; ".join(problems)) from exc
    known = {*catalog.model_endpoints, *catalog.overlay.retired, *catalog.prices.models}
    known.add(SESSION_MODEL)
    problems = []
    for model, price in sheet.models.items():
        if model not in known:
            close = difflib.get_close_matches(model, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"models.{model}: no such model in the catalog{hint}")
        needed = _FIELD_OF_UNIT.get(price.unit)
        if needed is not None and getattr(price, needed) is None:
            problems.append(f"models.{model}: unit {price.unit} needs {needed}")
        if not price.rates:
            problems.append(f"models.{model}.rates: give at least one rate")
    if problems:
        raise PriceSheetError(f"{path}: " + "; ".join(problems))
    version = sheet.version
    shown = f"version {version}" if isinstance(version, int) else version
    origin = f"{path}" + (f" ({shown})" if shown else "")
    prices = {
        model: Price.model_validate(entry.model_dump(include=set(PRICE_KEYS)))
        for model, entry in sheet.models.items()
    }
    return PriceSheet.from_catalog(catalog).merged(prices, origin)


_SESSION_UNITS = ("generation", "output_second", "input_second")


def session_cost(price: Price, body: Mapping[str, Any], seconds: float) -> Decimal | None:
    """What a realtime session of ``seconds`` costs under ``price``: the first rate whose
    ``when`` matches ``body`` (absent fields take ``defaults``), once per session for a
    ``generation`` price, else per second of the session, in blocks of ``per``; None when the
    price counts something a session does not have (images, characters)."""
    if price.unit not in _SESSION_UNITS:
        return None
    values = {**price.defaults, **body}
    rate = next(
        (r for r in price.rates if all(values.get(k) in allowed for k, allowed in r.when.items())),
        None,
    )
    if rate is None:
        return None
    if price.unit == "generation":
        return rate.credits
    blocks = Decimal(str(seconds)) / price.per
    if price.rounding == "ceil":
        blocks = blocks.to_integral_value(rounding=ROUND_CEILING)
    return blocks * rate.credits


def warm_up() -> None:
    """Import the planner now (it is imported on first use, to keep start-up fast)."""
    import runway_plan.plan.cost  # noqa: F401


def sheet_pricer(catalog: Catalog, sheet: PriceSheet) -> Pricer:
    """A pricer that asks the planner (:mod:`runway_plan.plan.cost`) for the highest price of
    a request under ``sheet``; None for a model the sheet does not price, or a request whose
    price it cannot bound."""
    priced = dataclasses.replace(
        catalog, prices=catalog.prices.model_copy(update={"models": dict(sheet.models)})
    )

    def price(endpoint: str, body: Mapping[str, Any], /) -> Decimal | None:
        from runway_plan.plan.cost import price_generation

        if sheet.price(catalog.request_model(endpoint, dict(body))) is None:
            return None
        graph = compile_request(priced, endpoint, dict(body))
        cost = price_generation(graph.generations["request"], graph, priced)
        return None if cost.unknown else cost.estimate

    return price


def planner_pricer(catalog: Catalog) -> Pricer:
    """A pricer with the catalog's own prices (:func:`sheet_pricer` of the catalog's sheet)."""
    return sheet_pricer(catalog, PriceSheet.from_catalog(catalog))
