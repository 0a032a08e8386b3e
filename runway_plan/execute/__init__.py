"""Execute a validated spec against the Runway API: resumable, and never paying twice.

The stages, each in its own module::

    state        the SQLite journal (WAL), its transitions and its lock
    layout       where a spec's state and outputs live (one spec, one state)
    fingerprint  what makes two generations the same work (model, request, input hashes)
    client       the only HTTP boundary: create, poll, cancel, upload, download, retries
    store        the content-addressed store and the ``outputs/<step>/`` links
    policy       what to do with a FAILED task, by failure code
    reuse        which generations the state can serve (for ``run`` and ``plan``)
    resources    documents and avatars: desired state, plan (and drift), reconciliation
    runner       the run, a package of one module per part: preflight, slots, attempts,
                 polling, inputs, outputs, budget (see its docstring)
    report       planned against billed credits, and the run manifest

In code::

    where = layout_of(spec)
    state = State(where.state)
    async with httpx.AsyncClient() as http:
        client = RunwayClient(http, api_key=key, base_url=DEFAULT_BASE_URL)
        options = RunOptions(outputs_dir=where.outputs)
        result = await Execution(graph, client, state, options,
                                 catalog=catalog, origin=origin_of(DEFAULT_BASE_URL),
                                 spec_sha256=digest).run()

Documents and avatars are reconciled by the same :class:`Execution` (see
:mod:`runway_plan.execute.resources`, whose names are imported from there); ``plan`` asks
:func:`runway_plan.execute.resources.resource_plan` what a run would do with them.

The API key is read by the command line and handed to the client; nothing in this package
writes it anywhere.

The package exports what running a spec needs (above, and what ``runway-plan run`` uses); the
client's exception classes (all :class:`ExecuteError`), the store, fingerprints and the run
manifest are imported from their modules.
"""

from runway_plan.execute.client import DEFAULT_BASE_URL, ExecuteError, RetryPolicy, RunwayClient
from runway_plan.execute.fingerprint import origin_of
from runway_plan.execute.layout import Layout, LayoutError, layout_of, migrate_shared_layout
from runway_plan.execute.report import render_run_text
from runway_plan.execute.reuse import reusable
from runway_plan.execute.runner import (
    Event,
    Execution,
    GenerationResult,
    OutputFile,
    RunOptions,
    RunResult,
)
from runway_plan.execute.state import Outcome, State, StateLocked, StepStatus

__all__ = [
    "DEFAULT_BASE_URL",
    "Event",
    "ExecuteError",
    "Execution",
    "GenerationResult",
    "Layout",
    "LayoutError",
    "Outcome",
    "OutputFile",
    "RetryPolicy",
    "RunOptions",
    "RunResult",
    "RunwayClient",
    "State",
    "StateLocked",
    "StepStatus",
    "layout_of",
    "migrate_shared_layout",
    "origin_of",
    "render_run_text",
    "reusable",
]
