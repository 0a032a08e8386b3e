"""Run a validated graph against the Runway API; see :mod:`.execution` for how a run goes.

The parts, one module each::

    results     what a run is given and gives back: RunOptions, Event, GenerationResult, ...
    pool        per-model concurrency slots, and the grid point of a task's next poll
    execution   Execution: one run, from the preflight through the attempts to the outputs
"""

from runway_plan.execute.runner.execution import API_CADENCE, Execution
from runway_plan.execute.runner.pool import next_poll
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
