"""Run a validated graph against the Runway API: plan, check credits, schedule, poll, download.

:class:`Execution` is one invocation of ``runway-plan run``.  It plans the graph (a budget
error stops it before any request), finds what the state can reuse, reads the organization's
balance, monthly cap and live per-model limits, then runs one coroutine per generation:

* it waits for the generations it depends on (a failed one skips it and its dependants,
  while independent branches go on);
* it takes a slot of its model's pool, in the planner's critical-path order, so no more
  tasks are in flight per model than the live tier allows and the executor never provokes
  THROTTLED by itself;
* it builds the request (upstream outputs by URL while fresh, else a fresh URL from the task,
  else uploaded again; local assets inline when small, through ``/v1/uploads`` when large),
  sends the create once inside the journal's ``submitting`` window (see
  :mod:`runway_plan.execute.state`), and polls the task on a grid of the poll interval from
  its creation (never faster than the API's 5-second cadence, scaled by the emulator's
  speed), skipping grid points while the task's progress says it is far from done;
* on SUCCEEDED it frees the slot, downloads every output into the store, verifies it and
  links it under ``outputs/<step>/``; on FAILED it follows :mod:`runway_plan.execute.policy`.

Documents, voices and avatars (:mod:`runway_plan.execute.resources`) are reconciled in
dependency order: documents before the generations start, each voice once the generation its
sample comes from is done (a generation naming a voice waits for it), each avatar once its
voice and the generation its image comes from are done (its image goes up as the
generations' own inputs do), and what is gone from the spec at the end (deleted only with
``prune``).

:meth:`Execution.interrupt` (Ctrl-C) stops submitting at once and lets tasks in flight finish;
a second call stops waiting for them (they stay recorded and the next run polls them).  A
create being sent is shielded from cancellation, so its outcome is always recorded.
``runway-plan cancel`` from another process stops a run the same way through the journal
(:meth:`~runway_plan.execute.state.State.request_stop`), and the run acknowledges once no
create of its own is in flight.

Nothing waits unboundedly: polls of one task are at most ``MAX_POLL_GAP`` poll intervals
apart whatever its progress says; while polls fail nothing new is submitted (and the run says
so as it happens) until the API answers again; a task far beyond its model's expected latency
is reported, and ``task_timeout`` gives up waiting for it (it stays recorded and resumable).

In code: :meth:`Execution.survey` (local, no request) says what is to be made,
:meth:`Execution.preflight` plans and checks the account, :meth:`Execution.run` runs (calling
the other two if they were not called); a caller that asks the user first calls
:meth:`Execution.decline` on a no.

The parts, one module each::

    results     what a run is given and gives back: RunOptions, Event, GenerationResult, ...
    spans       where a run's diagnostics point in the spec
    preflight   plan once, then read the account: refusals, or what the run may spend
    pool        per-model concurrency slots, handed out in critical-path order
    polling     polling a task to its end; the API's health as the polls see it
    inputs      a generation's request: upstream outputs by URL or upload, local files
    budget      credits billed and committed, and a create re-priced before it is sent
    outputs     a succeeded task's outputs: downloaded, verified, linked
    records     a generation's run_steps rows, its outcome settled once, the FAILED block
    attempts    a generation's attempts: slot, budget check, create, poll, failure policy
    drive       a generation from its dependencies to its outcome
    progress    how long the run has left
    execution   Execution: the run's shared state and its life, from survey to manifest
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
