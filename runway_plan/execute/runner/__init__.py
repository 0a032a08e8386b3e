"""Run a validated graph against the Runway API; see :mod:`.execution` for how a run goes.

The parts, one module each::

    results     what a run is given and gives back: RunOptions, Event, GenerationResult, ...
    spans       where a run's diagnostics point in the spec
    preflight   plan once, then read the account: refusals, or what the run may spend
    pool        per-model concurrency slots, handed out in critical-path order
    polling     polling a task to its end; the API's health as the polls see it
    inputs      a generation's request: upstream outputs by URL or upload, local files
    budget      credits billed and committed, and a create re-priced before it is sent
    outputs     a succeeded task's outputs: downloaded, verified, linked
    execution   Execution: one run, from the preflight through the attempts to the outputs
"""

from runway_plan.execute.runner.execution import Execution
from runway_plan.execute.runner.polling import API_CADENCE, next_poll
from runway_plan.execute.runner.results import (
    Event,
    GenerationResult,
    OutputFile,
    Proposal,
    RunOptions,
    RunResult,
)

__all__ = [
    "API_CADENCE",
    "Event",
    "Execution",
    "GenerationResult",
    "OutputFile",
    "Proposal",
    "RunOptions",
    "RunResult",
    "next_poll",
]
