"""The memo of bills already priced: the catalog's price of a recorded request body that
reads no file, remembered in the journal, so that the drift a resumed run reports re-prices
only the tasks billed since."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from runway_plan import __version__
from runway_plan.catalog import Catalog
from runway_plan.execute.learn import pricing
from runway_plan.execute.learn.inputs import InputReader, media_inputs
from runway_plan.execute.learn.pricing import UNPRICEABLE, recorded_credits
from runway_plan.files import LocalFile, Root

__all__ = ["Bills", "WatchedRoot", "drifts", "memo_scope"]


def memo_scope(catalog: Catalog) -> str:
    """What remembered prices hold for: this catalog, priced by this runway-plan."""
    return hashlib.sha256(f"{__version__}\0{catalog.digest}".encode()).hexdigest()


@dataclass(frozen=True)
class WatchedRoot(Root):
    """A root that counts the files it opens: a price that opened none depends on its
    request body alone."""

    opened: list[int] = field(default_factory=lambda: [0], repr=False, compare=False)

    @contextlib.contextmanager
    def open(
        self, value: str, *, limit: int | None = None, fresh: bool = False
    ) -> Iterator[LocalFile]:
        self.opened[0] += 1
        with super().open(value, limit=limit, fresh=fresh) as local:
            yield local


@dataclass
class Bills:
    """The catalog's prices of request bodies: remembered under ``scope`` (``known``, read
    from the journal) and found by this reading (``learned``)."""

    scope: str
    run_id: int | None = None
    """Only the tasks of this run, priced to be remembered (none read in full)."""
    known: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    learned: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


def drifts(reader: InputReader, attempt: Any, endpoint: str, model: str, bills: Bills) -> bool:
    """False when :func:`_observe_one` would give the attempt no bill that drifts; the same
    steps, up to the catalog's price of the request (remembered in ``bills`` when it read no
    file), and the same errors."""
    billed = recorded_credits(attempt.billed_credits)
    recorded_credits(attempt.estimated_credits)
    catalog = reader.catalog
    if billed is None or billed == 0 or endpoint not in catalog.model_endpoints.get(model, ()):
        return False
    if reader.emulated and model in reader.spec_prices:
        return False
    listed = catalog.price(model)
    if listed is None:
        return False
    try:
        request = json.loads(attempt.request)
    except ValueError:
        return False
    if not isinstance(request, dict) or request.get("model") != model:
        return False
    body = media_inputs(reader, request)
    if body == request:  # as recorded: the recorded text says it all
        text = f"{endpoint}\0{attempt.request}"
    else:
        text = "\0" + json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(text.encode()).hexdigest()
    remembered = bills.known.get(key) or bills.learned.get(key)
    if remembered is None:
        watched = reader.root.opened if isinstance(reader.root, WatchedRoot) else None
        opened = watched[0] if watched is not None else None
        remembered = _priced(reader, endpoint, body)
        if remembered is None:
            return True  # let the full reading say
        if watched is not None and watched[0] == opened:
            bills.learned[key] = remembered
    low, high = remembered
    if low is None or high is None:
        return False
    try:
        return not Decimal(low) <= billed <= Decimal(high)
    except InvalidOperation:
        return True  # a memo not written by runway-plan: the full reading decides


def _priced(
    reader: InputReader, endpoint: str, body: Mapping[str, Any]
) -> tuple[str | None, str | None] | None:
    """The catalog's (low, high) for ``body``, (None, None) when it has no price, None when
    pricing it fails in a way not worth remembering."""
    try:
        planned = pricing.cost_of(reader.catalog, endpoint, body, reader.root)
    except RecursionError:
        return None
    except UNPRICEABLE:
        return (None, None)
    return (None, None) if planned.unknown else (str(planned.low), str(planned.high))
