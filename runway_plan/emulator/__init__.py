"""A faithful local emulator of the Runway developer API, for tests and key-less runs.

In process, with the official SDK or any httpx client::

    emulator = Emulator(EmulatorConfig(tier=2, speed=1000))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(create_app(emulator)),
                               base_url="http://emulator")

On a loopback port (``runway-plan emulate`` does this from the command line)::

    with EmulatorServer(create_app(emulator)) as server:
        RunwayML(api_key=emulator.api_key, base_url=server.base_url)

What is emulated: every generation endpoint of the catalog, validated with the validator's
rules (400 with ``error`` and ``issues``); tasks through THROTTLED, PENDING, RUNNING and
SUCCEEDED / FAILED / CANCELLED with ``estimatedCost`` and ``cost`` billed from a price sheet
(:class:`PriceSheet`, the catalog's prices by default, through the planner's pricing);
per-model concurrency and daily caps of a tier (429); credits, ``/v1/organization`` and usage;
uploads and ``runway://`` URIs; avatars, documents, custom voices and realtime avatar
sessions; signed, expiring output URLs serving real small media; and fault injection
(:class:`FaultPlan`).
Every created task is in the :class:`Ledger`.

Names are imported lazily, so ``runway_plan.emulator.synth`` needs neither Starlette nor
uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runway_plan.performance import lazy_attributes

if TYPE_CHECKING:
    from runway_plan.emulator.app import create_app
    from runway_plan.emulator.clock import Clock, ManualClock, SystemClock
    from runway_plan.emulator.core import (
        API_VERSION,
        FAILURE_CODES,
        Emulator,
        EmulatorConfig,
        Reply,
        failure_refunded,
    )
    from runway_plan.emulator.faults import Fault, FaultPlan, FaultRule, FiredFault
    from runway_plan.emulator.ledger import Ledger, LedgerEntry
    from runway_plan.emulator.pricing import (
        Pricer,
        PriceSheet,
        PriceSheetError,
        load_price_sheet,
        planner_pricer,
        sheet_pricer,
    )
    from runway_plan.emulator.server import EmulatorServer, bind_loopback, serve

__all__ = [
    "API_VERSION",
    "FAILURE_CODES",
    "Clock",
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "Fault",
    "FaultPlan",
    "FaultRule",
    "FiredFault",
    "Ledger",
    "LedgerEntry",
    "ManualClock",
    "PriceSheet",
    "PriceSheetError",
    "Pricer",
    "Reply",
    "SystemClock",
    "bind_loopback",
    "create_app",
    "failure_refunded",
    "load_price_sheet",
    "planner_pricer",
    "serve",
    "sheet_pricer",
]

_HOMES = {
    "create_app": "app",
    "Clock": "clock",
    "ManualClock": "clock",
    "SystemClock": "clock",
    "API_VERSION": "core",
    "FAILURE_CODES": "core",
    "Emulator": "core",
    "EmulatorConfig": "core",
    "Reply": "core",
    "failure_refunded": "core",
    "Fault": "faults",
    "FaultPlan": "faults",
    "FaultRule": "faults",
    "FiredFault": "faults",
    "Ledger": "ledger",
    "LedgerEntry": "ledger",
    "PriceSheet": "pricing",
    "PriceSheetError": "pricing",
    "Pricer": "pricing",
    "load_price_sheet": "pricing",
    "planner_pricer": "pricing",
    "sheet_pricer": "pricing",
    "EmulatorServer": "server",
    "bind_loopback": "server",
    "serve": "server",
}


__getattr__ = lazy_attributes(__name__, globals(), _HOMES)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
