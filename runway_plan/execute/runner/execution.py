"""One run, start to end: :class:`Execution` (see :mod:`runway_plan.execute.runner`).

It owns what the parts share (results, diagnostics, the pools, the stop flags, the run log)
and the run's life: survey, preflight, start, the drivers, interrupts, the end and its
manifest."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, make, sort_diagnostics
from runway_plan.execute.client import RunwayClient
from runway_plan.execute.fingerprint import Fingerprinter, OutputRef
from runway_plan.execute.learn import remember_bills
from runway_plan.execute.report import write_manifest
from runway_plan.execute.resources import (
    ImageSource,
    Reconciler,
    ResourceOptions,
    audio_source,
    image_source,
)
from runway_plan.execute.reuse import Reuse, survey
from runway_plan.execute.runner.attempts import Attempts
from runway_plan.execute.runner.budget import Spending
from runway_plan.execute.runner.drive import Driver
from runway_plan.execute.runner.inputs import Inputs
from runway_plan.execute.runner.outputs import Outputs
from runway_plan.execute.runner.polling import API_CADENCE, Poller, local_origin
from runway_plan.execute.runner.pool import Pool
from runway_plan.execute.runner.preflight import preflight
from runway_plan.execute.runner.progress import eta
from runway_plan.execute.runner.records import Records
from runway_plan.execute.runner.results import (
    Event,
    GenerationResult,
    Proposal,
    RunOptions,
    RunResult,
)
from runway_plan.execute.state import Outcome, State, StepStatus
from runway_plan.execute.store import Store
from runway_plan.files import SymlinkInTheWay, make_folders, open_for_writing
from runway_plan.plan import Plan
from runway_plan.plan.cost import format_credits

__all__ = ["Execution"]

_STOP_CHECK = 0.25
"""Seconds between looks at the journal for ``runway-plan cancel``'s stop request."""
_SEEN_FILES = 10_000_000
"""The most signatures of verified store files read from the journal."""


class Execution:
    """One run of ``graph``; see :mod:`runway_plan.execute.runner`.  Call :meth:`run` once."""

    def __init__(
        self,
        graph: Graph,
        client: RunwayClient,
        state: State,
        options: RunOptions,
        *,
        catalog: Catalog,
        origin: str,
        spec_sha256: str,
        on_event: Callable[[Event], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``on_event`` sees every :class:`Event`; every wait of the run goes through
        ``sleep``."""
        self.graph = graph
        self._sleep = sleep
        self.client = client
        self.state = state
        if options.poll_interval < API_CADENCE and not local_origin(origin):
            options = dataclasses.replace(options, poll_interval=API_CADENCE)
        self.options = options
        self.catalog = catalog
        self.origin = origin
        self.spec_sha256 = spec_sha256
        self.spec_path = str(Path(graph.document.source_map.path).resolve())
        self.on_event = on_event
        self.store = Store(state.store_dir, state.seen_files(_SEEN_FILES))
        self.fingerprinter = Fingerprinter(graph, origin)
        self.results: dict[str, GenerationResult] = {}
        self.diagnostics: list[Diagnostic] = []
        self.plan: Plan | None = None
        self.stopping = False
        self.halted = False
        self.aborting = False
        self.cancelled = False
        self.proposal: Proposal | None = None
        self.started_at = time.time()
        self._pools: dict[str, Pool] = {}
        self.records = Records(graph, state, self.diagnostics)
        self._done = self.records.done
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._shielded: set[asyncio.Future[Any]] = set()
        self._log: Any = None
        self._reuse: dict[str, Reuse] = {}
        self._number: dict[tuple[str, int], int] = {}
        for node in graph.steps.values():
            for number, (key, index) in enumerate(node.outputs):
                self._number[(key, index)] = number
        self._preds: dict[str, list[str]] = {key: [] for key in graph.generations}
        for producer, consumer in graph.edges:
            if producer in self._preds and consumer in self._preds:
                self._preds[consumer].append(producer)
        self._joins: dict[str, asyncio.Task[str | None]] = {}
        """Per step another step ``needs``: one shared wait for all its generations."""
        self._avatars: dict[str, asyncio.Task[None]] = {}
        """Per spec avatar, its reconciliation (avatar videos wait for it)."""
        self.avatar_ids: dict[str, str] = {}
        """Per avatar video of a spec avatar, the avatar's remote id it is sent with."""
        self.spending = Spending(
            graph, catalog, self.fingerprinter, state, self.store, self.results
        )
        self._limits_text = ""
        self.reconciler: Reconciler | None = None
        self._voices: dict[str, asyncio.Task[None]] = {}
        self.outputs = Outputs(
            graph,
            client,
            state,
            self.store,
            options,
            self.spec_path,
            self.diagnostics,
            self._emit,
            sleep,
            records=self.records,
            numbers=self._number,
            remake=lambda key, result, row: self.attempts.attempt(key, result, row, resume=None),
        )
        self.inputs = Inputs(
            graph,
            catalog,
            client,
            state,
            self.store,
            self.fingerprinter,
            options,
            self.results,
            self._emit,
            avatar_ids=self.avatar_ids,
        )
        for position, (key, gen) in enumerate(graph.generations.items()):
            self.results[key] = GenerationResult(key, gen.step, gen.index, position)
        self._work: list[str] | None = None
        self._refusals: list[Diagnostic] | None = None
        self._prepared = False
        self._stopped = asyncio.Event()
        self.poller = Poller(
            client,
            state,
            options,
            self._emit,
            sleep,
            self._stopped,
            lambda: self.stopping or self.halted,
        )
        self.attempts = Attempts(
            graph,
            state,
            client,
            options,
            (self.fingerprinter, self.records, self.poller, self.inputs, self.spending),
            self.diagnostics,
            emit=self._emit,
            pool=self._pool,
            pause=self._pause,
            halt=self._halt,
            collect=self.outputs.collect,
            stopping=lambda: self.stopping or self.halted,
            interrupted=lambda: self.stopping,
            shielded=self._shielded,
        )

    # ------------------------------------------------------------------ events

    def _emit(self, kind: str, key: str | None, message: str) -> None:
        event = Event(kind, key, message)
        if self._log is not None:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event.at))
            self._log.write(f"{stamp} {kind:<10} {key or '-'}: {message}\n")
            self._log.flush()
        if self.on_event is not None:
            self.on_event(event)

    def _stop_submitting(self) -> None:
        self.stopping = True
        self._stopped.set()
        for pool in self._pools.values():
            pool.stop()

    def _in_flight(self) -> int:
        return sum(
            1
            for r in self.results.values()
            if r.status in ("submitting", "THROTTLED", "PENDING", "RUNNING")
        )

    @property
    def run_id(self) -> int | None:
        """The journal's number of this run, once it began."""
        return self.records.run_id

    @run_id.setter
    def run_id(self, value: int | None) -> None:
        self.records.run_id = value

    @property
    def throttled(self) -> int:
        """Tasks of this run that the API held back (THROTTLED) at least once."""
        return self.poller.throttled

    def interrupt(self) -> None:
        """Ctrl-C: stop submitting; a second call stops waiting for tasks in flight."""
        if not self.stopping:
            self._stop_submitting()
            self._emit(
                "interrupt",
                None,
                f"stopping: nothing new is submitted; waiting for {self._in_flight()} task(s) "
                "in flight (interrupt again to leave them running; the next run resumes them)",
            )
            return
        if not self.aborting:
            self.aborting = True
            self._emit("interrupt", None, "not waiting for tasks in flight; they stay recorded")
            for task in self._drivers.values():
                task.cancel()

    def progress(self) -> dict[str, Any]:
        """Counts by outcome and live status, credits billed against the plan, and an ETA."""
        counts: dict[str, int] = {}
        for result in self.results.values():
            label = result.outcome.value if result.outcome is not Outcome.PLANNED else result.status
            counts[label] = counts.get(label, 0) + 1
        planned = self.plan.run_high if self.plan is not None else Decimal(0)
        billed = sum((r.billed_this_run for r in self.results.values()), Decimal(0))
        return {
            "total": len(self.results),
            "counts": counts,
            "billed": billed,
            "planned": planned,
            "eta": eta(
                self.graph,
                self.plan,
                self.results,
                self.fingerprinter.order(),
                self._preds,
                {model: pool.limit for model, pool in self._pools.items()},
                self.options.speed,
            ),
            "throttled": self.throttled,
        }

    # ------------------------------------------------------------------ setup

    def _pool(self, model: str) -> Pool:
        pool = self._pools.get(model)
        if pool is None:
            pool = self._pools[model] = Pool(1)
        return pool

    def _refuse(self, diagnostics: list[Diagnostic]) -> RunResult:
        """Record a run that submitted nothing (plan, budget or credits said no)."""
        self.diagnostics.extend(diagnostics)
        self.run_id = self._begin()
        self.state.finish_run(self.run_id, "refused")
        result = self._result("refused")
        write_manifest(result, self.state, self.graph)
        return result

    def _begin(self) -> int:
        planned = self.plan
        return self.state.begin_run(
            spec_path=self.spec_path,
            spec_name=self.graph.spec.name if self.graph.spec is not None else "",
            spec_sha256=self.spec_sha256,
            catalog_version=self.catalog.version,
            catalog_digest=self.catalog.digest,
            origin=self.origin,
            planned_low=planned.total_low if planned is not None else None,
            planned_high=planned.total_high if planned is not None else None,
            options={
                "resubmit_unknown": self.options.resubmit_unknown,
                "retry_failed": self.options.retry_failed,
                "poll_interval": self.options.poll_interval,
                "speed": self.options.speed,
                "outputs": str(self.options.outputs_dir),
            },
        )

    def _result(self, status: str) -> RunResult:
        return RunResult(
            run_id=self.run_id,
            status=status,
            generations=self.results,
            diagnostics=sort_diagnostics(self.diagnostics),
            plan=self.plan,
            started_at=self.started_at,
            finished_at=time.time(),
            requests=dict(self.client.counts),
            throttled=self.throttled,
            spec_path=self.spec_path,
            spec_sha256=self.spec_sha256,
            origin=self.origin,
            catalog_version=self.catalog.version,
            catalog_digest=self.catalog.digest,
            manifest=self.state.run_dir(self.run_id) / "manifest.json" if self.run_id else None,
            log=self.state.run_dir(self.run_id) / "run.log" if self.run_id else None,
            resources=list(self.reconciler.results.values()) if self.reconciler else [],
        )

    def survey(self) -> list[str]:
        """The generations the state cannot serve (to be made and paid for), from the journal
        and the store alone: no request is sent."""
        if self._work is None:
            self._reuse = survey(self.graph, self.state, self.fingerprinter, verify=False)
            self._work = [key for key, item in self._reuse.items() if not item.reusable]
        return self._work

    async def preflight(self) -> list[Diagnostic] | None:
        """Plan and check the account (credit balance, monthly cap, live limits): the
        diagnostics that refuse the run, or None.  :attr:`proposal` then says what the run
        is about to spend."""
        if self._prepared:
            return self._refusals
        self._prepared = True
        self._refusals = await self._preflight()
        return self._refusals

    async def _preflight(self) -> list[Diagnostic] | None:
        """Plan once, read the account; set the plan, proposal, budget and pools."""
        found = await preflight(
            self.graph,
            self.catalog,
            self.client,
            self.options,
            self._reuse,
            self.survey(),
            reuse_source=f"{self.state.directory} ({self.origin})",
        )
        self.plan = self.spending.plan = found.plan
        if found.refusals is not None:
            return found.refusals
        self.proposal = found.proposal
        self.spending.limit = found.budget
        self._limits_text = found.limits
        for model, limit in found.concurrency.items():
            self._pools[model] = Pool(limit)
        for note in found.notes:
            self._emit("note", None, note)
        return None

    def decline(self) -> RunResult:
        """Record a run the user did not approve: nothing was submitted."""
        self._emit("declined", None, "not approved: nothing was submitted")
        return self._refuse([])

    # ------------------------------------------------------------------ run

    async def run(self) -> RunResult:
        """Run the graph; never raises for API or network failures (they are diagnostics)."""
        refusals = await self.preflight()
        if refusals is not None:
            return self._refuse(refusals)
        assert self.plan is not None
        for key, gen_plan in self.plan.generations.items():
            cost = gen_plan.cost
            if not cost.unknown:
                self.results[key].planned = (cost.low, cost.high)
        self.run_id = self._begin()
        run_dir = self.state.run_dir(self.run_id)
        try:
            make_folders(self.state.directory, run_dir)
            log = open_for_writing(run_dir / "run.log", append=True)
        except SymlinkInTheWay as exc:
            self.diagnostics.append(make("RP516", str(exc), None))
            self.state.finish_run(self.run_id, "refused")
            return self._result("refused")
        self._log = open(log, "a", encoding="utf-8")  # noqa: SIM115
        watcher = asyncio.create_task(self._watch_stop_requests(), name="stop requests")
        try:
            removed = self.store.clean_scratch()
            if removed:
                self._emit("note", None, f"removed {removed} partial download(s) of a killed run")
            self.state.set_run_steps(
                self.run_id,
                [
                    {
                        "key": r.key,
                        "step": r.step,
                        "position": r.position,
                        "outcome": Outcome.PLANNED.value,
                        "planned_low": None if r.planned is None else str(r.planned[0]),
                        "planned_high": None if r.planned is None else str(r.planned[1]),
                    }
                    for r in self.results.values()
                ],
            )
            reused = sum(1 for item in self._reuse.values() if item.reusable)
            self._emit(
                "start",
                None,
                f"run {self.run_id}: {len(self.results)} generation(s), {reused} reusable "
                f"from state; this run {format_credits(self.plan.run_low)}-"
                f"{format_credits(self.plan.run_high)} credits of the plan's "
                f"{format_credits(self.plan.total_low)}-{format_credits(self.plan.total_high)}; "
                f"{self._limits_text or self.plan.limits}",
            )
            for key in self.fingerprinter.order():
                self._done[key] = asyncio.Event()
            reconciler = self.reconciler = self._reconciler()
            await self._guard(reconciler.documents(), "documents", ("document",))
            await self._guard(reconciler.routers(), "routers", ("router",))
            driver = Driver(
                self.graph,
                self.state,
                self.options,
                (self.fingerprinter, self.records, self.attempts, self.outputs),
                self.results,
                self.diagnostics,
                reuse=self._reuse,
                preds=self._preds,
                joins=self._joins,
                emit=self._emit,
                avatars=self._avatar_ready,
                avatar_ids=self.avatar_ids,
                routers=self._router_ready,
                voices=self._voice_ready,
            )
            self.inputs.voice_id = self._voice_id
            for needed in dict.fromkeys(n for names in self.graph.needs.values() for n in names):
                self._joins[needed] = asyncio.create_task(driver.join(needed), name=f"{needed}[*]")
            for key in self.graph.voices:
                self._voices[key] = asyncio.create_task(self._drive_voice(key), name=f"voice {key}")
            for key in self.graph.avatars:
                self._avatars[key] = asyncio.create_task(
                    self._drive_avatar(key), name=f"avatar {key}"
                )
            for key in self.fingerprinter.order():
                self._drivers[key] = asyncio.create_task(driver.drive(key), name=f"drive {key}")
            await asyncio.gather(
                *self._drivers.values(),
                *self._joins.values(),
                *self._voices.values(),
                *self._avatars.values(),
                return_exceptions=True,
            )
            await self._guard(
                reconciler.prune(), "prune", ("document", "voice", "avatar", "router")
            )
            pending = self._shielded | reconciler.shielded
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            self.diagnostics.extend(reconciler.diagnostics)
            self.records.flush()
            stopped = [r for r in self.results.values() if r.outcome is Outcome.INTERRUPTED]
            if stopped:
                flying = sum(1 for r in stopped if self._recorded_in_flight(r))
                self.diagnostics.append(
                    make(
                        "RP507",
                        f"{len(stopped)} generation(s) not finished, {flying} of them in flight "
                        "as recorded tasks; run the spec again to resume",
                        None,
                    )
                )
            settled = [r for r in reconciler.results.values() if not r.ok]
            if self.cancelled:
                status = "cancelled"
            elif (stopped or settled) and self.stopping:
                status = "interrupted"
            elif all(
                r.outcome in (Outcome.GENERATED, Outcome.REUSED) for r in self.results.values()
            ) and all(r.ok for r in reconciler.results.values()):
                status = "finished"
            else:
                status = "failed"
            self.state.remember_seen(self.store.verified)
            remember_bills(self.state, self.catalog, self.run_id)
            self.state.finish_run(self.run_id, status)
            self._emit("finish", None, f"run {self.run_id} {status}")
            result = self._result(status)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._log.close()
            self._log = None
        write_manifest(result, self.state, self.graph)
        return result

    def _recorded_in_flight(self, result: GenerationResult) -> bool:
        """True when the journal holds a task of ``result`` that has not ended."""
        if result.step_id is None:
            return False
        return self.state.step_by_id(result.step_id).status is StepStatus.RUNNING

    async def _watch_stop_requests(self) -> None:
        """Stop submitting when ``runway-plan cancel`` asks; acknowledge once no create of
        this run is in flight, so ``cancel`` then sees every task to cancel."""
        assert self.run_id is not None
        while not self.state.stop_requested(self.run_id):
            await asyncio.sleep(_STOP_CHECK)
        self.cancelled = True
        if not self.stopping:
            self._stop_submitting()
        self._emit(
            "interrupt",
            None,
            f"runway-plan cancel: nothing new is submitted; {self._in_flight()} task(s) in "
            "flight are being cancelled",
        )
        while self._shielded:
            await asyncio.gather(*self._shielded, return_exceptions=True)
        self.state.acknowledge_stop(self.run_id)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the run starts stopping."""
        if self.stopping:
            return
        sleeper = asyncio.ensure_future(self._sleep(max(0.0, seconds)))
        stopper = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    # ------------------------------------------------------------------ resources

    def _reconciler(self) -> Reconciler:
        options = self.options
        return Reconciler(
            self.graph,
            self.client,
            self.state,
            ResourceOptions(
                prune=options.prune,
                refresh=options.refresh,
                empty_remote=options.empty_remote,
                retry_failed=options.retry_failed,
                poll_interval=options.poll_interval,
                avatar_timeout=options.avatar_timeout / options.speed,
            ),
            origin=self.origin,
            run_id=self.run_id,
            emit=self._emit,
            image_hash=self._image_hash,
            image_uri=self.inputs.image_uri,
            audio_uri=self.inputs.audio_uri,
            stopping=lambda: self.stopping or self.halted,
            sleep=self._sleep,
        )

    async def _guard(self, work: Any, what: str, kinds: tuple[str, ...], key: str = "") -> None:
        """Run a reconciliation stage; a bug is a diagnostic, never a lost run record.

        The stage's resources (of ``kinds``, or only ``key``) still pending are failed."""
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = f"internal error while reconciling {what}: {type(exc).__name__}: {exc}"
            self.diagnostics.append(make("RP510", message, None))
            if self.reconciler is not None:
                for result in self.reconciler.results.values():
                    mine = result.kind in kinds and (not key or result.key == key)
                    if mine and result.action == "pending":
                        result.action = "failed"
                        result.message = message

    async def _upstream(self, source: ImageSource | None, what: str) -> str | None:
        """Wait for the generation a resource's input comes from; why it is missing, or
        None."""
        if source is None or source.ref is None or source.ref.key not in self._done:
            return None
        await self._done[source.ref.key].wait()
        made = self.results[source.ref.key]
        if made.outcome not in (Outcome.GENERATED, Outcome.REUSED):
            return f"its {what} '{source.ref.key}' {made.outcome.value}"
        return None

    async def _voice_ready(self, key: str) -> str | None:
        """Wait for voice ``key`` to be reconciled; why it is not in place, or None."""
        task = self._voices.get(key)
        if task is not None:
            await asyncio.wait({task})  # a cancelled generation never cancels the voice's work
        assert self.reconciler is not None
        result = self.reconciler.results[("voice", key)]
        if result.ok:
            return None
        return result.message or result.status or result.action

    def _voice_id(self, key: str) -> str | None:
        if self.reconciler is None:
            return None
        return self.reconciler.results[("voice", key)].remote_id

    async def _drive_voice(self, key: str) -> None:
        """Reconcile one voice once the generation its audio sample comes from is done."""
        assert self.reconciler is not None
        upstream = await self._upstream(audio_source(self.graph, self.graph.voices[key]), "sample")
        await self._guard(self.reconciler.voice(key, upstream), f"voice '{key}'", ("voice",), key)

    async def _drive_avatar(self, key: str) -> None:
        """Reconcile one avatar once the generation its image comes from and its voice are
        done."""
        assert self.reconciler is not None
        avatar = self.graph.avatars[key]
        upstream = await self._upstream(image_source(self.graph, avatar), "image")
        if avatar.voice is not None and avatar.voice in self._voices:
            await asyncio.wait({self._voices[avatar.voice]})  # never cancels the voice's work
        await self._guard(
            self.reconciler.avatar(key, upstream), f"avatar '{key}'", ("avatar",), key
        )

    async def _avatar_ready(self, key: str) -> tuple[str | None, str]:
        """Wait until avatar ``key`` is reconciled: its remote id, or None and why it is not
        in place (see :data:`~runway_plan.execute.runner.drive.AvatarWait`)."""
        await asyncio.shield(self._avatars[key])
        assert self.reconciler is not None
        result = self.reconciler.results[("avatar", key)]
        if result.ok and result.remote_id:
            return result.remote_id, ""
        if result.action in ("interrupted", "pending"):
            return None, "interrupted"
        status = f" ({result.status})" if result.status else ""
        return None, f"was {result.action}{status}" + (
            f": {result.message}" if result.message else ""
        )

    def _router_ready(self, key: str) -> tuple[str | None, str]:
        """Router ``key`` (reconciled before the generations start): its slug, or None and
        why it is not in place."""
        assert self.reconciler is not None
        result = self.reconciler.results[("router", key)]
        if result.ok and result.remote_id:
            return self.graph.routers[key].slug, ""
        if result.action in ("interrupted", "pending"):
            return None, "interrupted"
        return None, f"was {result.action}" + (f": {result.message}" if result.message else "")

    def _image_hash(self, ref: OutputRef) -> str | None:
        made = self.results.get(ref.key)
        if made is None:
            return None
        return next((o.sha256 for o in made.outputs if o.index == ref.index), None)

    def _halt(self, why: str) -> None:
        """Submit nothing more (tasks in flight are still followed to their end)."""
        if not self.halted:
            self._emit("note", None, why)
            self.halted = True
            for pool in self._pools.values():
                pool.stop()
