"""``run``, ``status``, ``cancel`` and ``migrate``: execute a spec against the API, inspect a
run, stop one, and move run state from the shared layout of earlier versions.

Exit codes of ``run``: 0 every generation done, 1 the spec has errors or a generation failed,
was skipped, cancelled or may have been submitted without a recorded task (or the run was
refused: budget, credits, or the user said no), 2 usage (no API key, the state is locked, no
terminal to ask and no ``--yes``), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from runway_plan.catalog import Catalog
from runway_plan.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    allow_option,
    api_key_or_fail,
    catalog_option,
    echo_diagnostics,
    emulator_or_fail,
    format_option,
    limits_option,
    load_catalog_or_fail,
    main,
    parse_limits,
    parse_vars,
    vars_option,
)
from runway_plan.compile import Graph
from runway_plan.diagnostics import has_errors, make
from runway_plan.diagnostics.display import display, json_text
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.execute import (
    DEFAULT_BASE_URL,
    Event,
    Execution,
    Layout,
    LayoutError,
    Outcome,
    RetryPolicy,
    RunOptions,
    RunwayClient,
    State,
    StateLocked,
    StepStatus,
    layout_of,
    migrate_shared_layout,
    origin_of,
    render_run_text,
)
from runway_plan.execute.client import ExecuteError, TaskNotFound
from runway_plan.execute.layout import claim, shared_layout
from runway_plan.execute.report import manifest
from runway_plan.execute.reuse import unreadable_as_such
from runway_plan.execute.runner.polling import API_CADENCE
from runway_plan.execute.state import RunRow, StateUnreadable, locked_by
from runway_plan.files import SymlinkInTheWay
from runway_plan.limits import WorkLimits
from runway_plan.performance import cyclic_gc_paused
from runway_plan.plan.cost import format_credits
from runway_plan.validate import check_file

__all__ = [
    "cancel_command",
    "migrate_command",
    "run_command",
    "state_location",
    "status_command",
]

EMULATOR_URL = "http://emulator"
STOP_WAIT = 60.0
"""Seconds ``cancel`` waits for a running ``run`` to acknowledge that it stopped submitting
(a create being sent may take this long to answer)."""


class _UsageFailure(click.ClickException):
    """A problem with the command's inputs or environment: exit 2."""

    exit_code = EXIT_USAGE


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def state_location(
    spec: Path, state_dir: Path | None, emulate: bool, base_url: str | None
) -> tuple[Path, str]:
    """The state folder and API base URL ``run`` uses for ``spec`` with these options.

    Each spec has its own folder (:mod:`runway_plan.execute.layout`); ``--emulate`` runs
    keep theirs in its ``emulated/`` against the origin ``http://emulator``: results are
    only reused against the API origin that made them.
    """
    directory = layout_of(spec, state=state_dir, emulate=emulate).state
    base = EMULATOR_URL if emulate else (base_url or DEFAULT_BASE_URL).rstrip("/")
    return directory, base


def _locked(exc: StateLocked) -> None:
    diagnostic = make(
        "RP505",
        f"{exc}; wait for it to finish, or give this run another folder with --state",
        None,
    )
    click.echo(render_diagnostics([diagnostic], "text"), err=True, nl=False)
    sys.exit(EXIT_USAGE)


def _open_state(where: Layout, *, lock: bool = True, read_only: bool = False) -> State:
    """The spec's state folder, opened (and locked), once it is sure to be this spec's;
    ``read_only``: a private copy of its journal (``status``)."""
    try:
        if read_only:
            state = State.snapshot(where.state)
        else:
            state = State(where.state, lock=lock, base=where.state_base)
    except StateLocked as exc:
        _locked(exc)
    except SymlinkInTheWay as exc:
        raise _UsageFailure(f"RP516 {exc}") from None
    except StateUnreadable as exc:
        raise _UsageFailure(f"RP517 {exc}") from None
    try:
        with unreadable_as_such(where.state):
            if lock and not read_only:
                claim(state, where)
            elif where.default_state and state.owner not in (None, where.spec.name):
                raise LayoutError(f"{where.state} holds the runs of {state.owner}")
    except (LayoutError, StateUnreadable) as exc:
        state.close()
        prefix = "RP517 " if isinstance(exc, StateUnreadable) else ""
        raise _UsageFailure(f"{prefix}{exc}") from None
    return state


def _move_shared_layout(root: Path) -> None:
    """Split the shared state folder of an earlier version, saying what moved."""
    if not shared_layout(root):
        return
    try:
        notes = migrate_shared_layout(root)
    except StateLocked as exc:
        _locked(exc)
    for note in notes:
        click.echo(f"runway-plan: {display(note)}", err=True)


def _recorded(where: Layout) -> None:
    """Fail (exit 2) unless ``where.state`` holds a journal, naming the command that moves
    the runs of an earlier version's shared folder to their specs' own."""
    if (where.state / "state.db").is_file():
        return
    root = where.spec.parent
    if where.default_state and shared_layout(root):
        raise _UsageFailure(
            f"the runs of the specs in {root} are in the shared state folder of an earlier "
            f"version; `runway-plan migrate {root}` gives each spec its own (a `run` of any "
            "of them does too)"
        )
    raise _UsageFailure(f"no runs recorded in {where.state}")


def _spec_runs(state: State, where: Layout) -> list[RunRow]:
    """The runs of this spec, newest first (a folder given with --state may be shared)."""
    return state.runs() if where.default_state else state.runs_of(str(where.spec))


def _api_key() -> str:
    return api_key_or_fail(
        "no API key: set RUNWAYML_API_SECRET (or run with --emulate to use the built-in "
        "emulator, free)"
    )


def _drift(directory: Path, graph: Graph, catalog: Catalog, spec: Path | None = None) -> list[str]:
    """Where what the state's tasks were billed differs from the catalog's price, for the
    spec's models that its ``prices:`` leave to the catalog."""
    from runway_plan.execute.learn import StateSource, drift, observe

    own = set(graph.spec.prices) if graph.spec is not None else set()
    models = {gen.model for gen in graph.generations.values()} - own
    if not models:
        return []
    observed = observe([StateSource(directory, str(directory), spec)], catalog, models)
    return [found.text() for found in drift(observed)]


def _with_learned_prices(
    spec: Path, graph: Graph, catalog: Catalog, limits: dict[str, int]
) -> Catalog:
    """The catalog the run prices with: the learned prices beside the spec over the catalog's
    (the spec's ``prices:`` still win); a learned prices file with errors stops the run (exit
    1), as it stops ``plan``.  The emulator of ``--emulate`` keeps billing the catalog's."""
    from runway_plan.catalog.learned import read_beside, with_learned

    max_bytes = WorkLimits().merged(limits).file_bytes
    learned, problems = read_beside(str(spec), catalog, max_bytes)
    if problems:
        click.echo(render_diagnostics(problems, "text"), nl=False, err=True)
    if has_errors(problems):
        click.echo(f"{spec}: fix runway-prices.yaml beside it; nothing was run", err=True)
        sys.exit(EXIT_FAILED)
    overrides = graph.spec.prices if graph.spec is not None else {}
    return with_learned(catalog, {m: e for m, e in learned.items() if m not in overrides})


def _check(
    spec: Path,
    catalog: Catalog,
    variables: tuple[str, ...],
    allow: tuple[Path, ...],
    limits: dict[str, int],
) -> Graph:
    overrides = parse_vars(variables)
    with cyclic_gc_paused():
        graph, diagnostics = check_file(spec, catalog, overrides, limits, allow=allow)
    if diagnostics:
        echo_diagnostics(diagnostics, graph.document, err=True)
    if has_errors(diagnostics):
        errors = sum(d.is_error for d in diagnostics)
        click.echo(
            f"{display(str(spec))}: {errors} error{'s' * (errors != 1)}; nothing was sent to the "
            "API",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    return graph


class _Display:
    """Progress: a live table on a terminal, plain log lines otherwise (on standard error)."""

    def __init__(self, graph: Graph, console: Console, *, live: bool) -> None:
        self.graph = graph
        self.console = console
        self.live = live
        self.execution: Execution | None = None
        self.started = time.monotonic()
        self._live: Live | None = None
        self.gone = False

    def event(self, event: Event) -> None:
        """Show ``event``; once the reader of the output has gone, show nothing more (a
        closed pipe must not fail the generation whose event it was)."""
        if self.gone:
            return
        try:
            self._show(event)
        except (BrokenPipeError, ValueError):  # ValueError: a write to a closed file
            self.gone = True

    def _show(self, event: Event) -> None:
        if self._live is not None:
            if event.kind in ("failed", "unknown", "interrupt", "note", "cancelled"):
                shown = f"{display(event.key or 'run')}: {display(event.message)}"
                self._live.console.print(Text(shown))
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        key, message = display(event.key or "-"), display(event.message)
        self.console.file.write(f"{stamp} {event.kind:<9} {key}: {message}\n")

    def _render(self) -> Group:
        execution = self.execution
        table = Table(show_edge=False, header_style="bold", box=None, pad_edge=False)
        table.add_column("step")
        table.add_column("done", justify="right")
        table.add_column("status")
        table.add_column("billed", justify="right")
        if execution is None:
            return Group(table)
        for name, node in self.graph.steps.items():
            items = [execution.results[k] for k in node.generations if k in execution.results]
            done = sum(r.outcome in (Outcome.GENERATED, Outcome.REUSED) for r in items)
            states: dict[str, int] = {}
            for r in items:
                label = r.status if r.outcome is Outcome.PLANNED else r.outcome.value
                states[label] = states.get(label, 0) + 1
            billed = sum((r.billed_this_run for r in items), Decimal(0))
            failed = any(r.outcome in (Outcome.FAILED, Outcome.UNKNOWN) for r in items)
            table.add_row(
                name,
                f"{done}/{len(items)}",
                ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
                format_credits(billed),
                style="red" if failed else ("green" if done == len(items) else ""),
            )
        progress = execution.progress()
        elapsed = time.monotonic() - self.started
        header = Text(
            f"{format_credits(progress['billed'])} of up to "
            f"{format_credits(progress['planned'])} credits · elapsed {elapsed:.0f}s · "
            f"ETA {progress['eta']:.0f}s",
            style="bold",
        )
        return Group(header, table)

    @contextlib.contextmanager
    def running(self, execution: Execution) -> Iterator[None]:
        self.execution = execution
        if not self.live:
            yield
            return
        with Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=4,
            transient=False,
        ) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None


def _ask(question: str) -> bool:
    """Ask on the terminal (y/N); Ctrl-C at the prompt interrupts (exit 130)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return click.confirm(question, default=False, err=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def _build_emulator(
    tier: int, speed: float, catalog: Catalog, prices: dict[str, Decimal]
) -> tuple[Any, Any]:
    """An in-process emulator that bills the catalog's prices and the spec's ``prices:``."""
    from runway_plan.emulator import Emulator, EmulatorConfig, PriceSheet, create_app

    sheet = PriceSheet.from_catalog(catalog).with_flat_prices(prices, "the spec's prices:")
    key = "key_" + secrets.token_hex(64)
    emulator = Emulator(
        EmulatorConfig(
            api_key=key,
            tier=tier,
            speed=speed,
            credits=1_000_000,
            cadence=5.0,
            seed=secrets.randbits(32),
        ),
        catalog=catalog,
        prices=sheet,
    )
    return emulator, create_app(emulator)


@main.command("run")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="State folder (journal, store, manifests) [default: .runway-plan/<spec>/ beside "
    "the spec].",
)
@click.option(
    "--outputs",
    "outputs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where outputs are linked as <step>/<n>.<ext> [default: outputs/<spec>/ beside the spec].",
)
@click.option(
    "--base-url",
    envvar="RUNWAYML_BASE_URL",
    metavar="URL",
    help=f"The API's base URL (RUNWAYML_BASE_URL) [default: {DEFAULT_BASE_URL}].",
)
@click.option(
    "--emulate",
    is_flag=True,
    help="Run against the built-in emulator in this process: no key, no credits spent.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Emulated time compression: with --emulate (default 10), or with a --base-url on "
    "loopback serving `runway-plan emulate --speed N`. Polls every 5/SPEED s.",
)
@click.option(
    "--tier",
    type=click.IntRange(1, 5),
    help="The emulator's tier with --emulate [default: the spec's].",
)
@click.option(
    "--resubmit-unknown",
    is_flag=True,
    help="Submit again the generations whose create may have reached the API without a "
    "recorded task id (RP502); this may pay twice for them.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Try again generations that failed for a reason a retry cannot fix (moderation, "
    "invalid asset).",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Delete the documents and avatars recorded in the state but no longer in the spec "
    "(without it they are left in place, and reported).",
)
@click.option(
    "--refresh/--no-refresh",
    default=None,
    help="Read each recorded document and avatar before reconciling, so one changed or "
    "deleted remotely is put back [default: on]. (--emulate's emulator starts empty, so "
    "there every document and avatar is created afresh.)",
)
@click.option("--max-credits", metavar="N", help="Never spend more than N credits in this run.")
@click.option(
    "--task-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop waiting for a task this long after its create; it stays recorded, and the next "
    "run polls it again.",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Spend without asking. Without it a terminal asks, and a run with no terminal that "
    "would spend refuses.",
)
@click.option(
    "--report",
    "html_report",
    is_flag=True,
    help="At the end, write the run's HTML report beside its manifest (as `runway-plan "
    "report` does) and print its path.",
)
@format_option(("text", "json"), "The end-of-run report: text, or the run manifest as JSON.")
@vars_option
@limits_option
@allow_option
@catalog_option
def run_command(
    spec: Path,
    state_dir: Path | None,
    outputs_dir: Path | None,
    base_url: str | None,
    emulate: bool,
    speed: float | None,
    tier: int | None,
    resubmit_unknown: bool,
    retry_failed: bool,
    prune: bool,
    refresh: bool | None,
    max_credits: str | None,
    task_timeout: float | None,
    yes: bool,
    html_report: bool,
    fmt: str,
    variables: tuple[str, ...],
    limits: tuple[str, ...],
    allow_paths: tuple[Path, ...],
    catalog_path: Path | None,
) -> None:
    """Run SPEC against the Runway API: validate, plan, check credits, generate, download.

    Every transition is journaled before the next request, so a crash or Ctrl-C never loses
    an output and never pays twice: run the same command again to resume.  Outputs land in
    a content-addressed store and are linked as outputs/<spec>/<step>/<n>.<ext>.

    Before spending, a terminal is asked; without one, pass --yes.

    Documents and avatars are reconciled as declarative resources: created, updated (only
    the changed fields) or left alone; never deleted without --prune.
    """
    budget: Decimal | None = None
    if max_credits is not None:
        try:
            budget = Decimal(max_credits)
        except InvalidOperation:
            raise click.BadParameter("not a number", param_hint="--max-credits") from None
        if not budget.is_finite() or budget < 0:
            raise click.BadParameter("must be 0 or more", param_hint="--max-credits")
    if emulate:
        emulator_or_fail("run --emulate")
    work_limits = parse_limits(limits)
    catalog = load_catalog_or_fail(catalog_path, work_limits)
    graph = _check(spec, catalog, variables, allow_paths, work_limits)
    priced = _with_learned_prices(spec, graph, catalog, work_limits)
    if emulate:
        speed = speed or 10.0
        base = EMULATOR_URL
    else:
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base).scheme not in ("http", "https"):
            raise click.BadParameter(f"'{base}' is not an http(s) URL", param_hint="--base-url")
        if speed is not None and speed > 1 and not _is_loopback(base):
            raise click.BadParameter(
                "compressed time is for an emulator on loopback; the real API is never polled "
                "faster than every 5 s",
                param_hint="--speed",
            )
        speed = speed or 1.0
    api_key = "" if emulate else _api_key()
    where = layout_of(spec, state=state_dir, outputs=outputs_dir, emulate=emulate)
    if where.default_state:
        _move_shared_layout(where.spec.parent)
    spec_sha256 = hashlib.sha256(spec.read_bytes()).hexdigest()
    err = Console(stderr=True)
    live = err.is_terminal and fmt == "text"
    display = _Display(graph, err, live=live)
    approval = "given" if (emulate or yes) else ("ask" if sys.stdin.isatty() else "none")
    state = _open_state(where)
    try:
        result = asyncio.run(
            _run(
                graph,
                catalog,
                state,
                display,
                base=base,
                api_key=api_key,
                emulate=emulate,
                speed=speed,
                tier=tier,
                approval=approval,
                options=RunOptions(
                    outputs_dir=where.outputs,
                    outputs_base=where.outputs_base,
                    resubmit_unknown=resubmit_unknown,
                    retry_failed=retry_failed,
                    poll_interval=API_CADENCE / speed,
                    speed=speed,
                    max_credits=budget,
                    task_timeout=task_timeout,
                    prune=prune,
                    refresh=True if refresh is None else refresh,
                    empty_remote=emulate,
                ),
                spec_sha256=spec_sha256,
                priced=priced,
            )
        )
        drifted = _drift(where.state, graph, catalog, spec)
        if fmt == "json":
            click.echo(json_text({**manifest(result, state, graph), "drift": drifted}))
        else:
            click.echo(render_run_text(result, graph, drift=drifted), nl=False)
    finally:
        state.close()
    if html_report:
        from runway_plan.cli.report import report_after_run

        report_after_run(where, graph, catalog, result, err=fmt == "json")
    sys.exit(result.exit_code)


async def _run(
    graph: Graph,
    catalog: Catalog,
    state: State,
    display: _Display,
    *,
    base: str,
    api_key: str,
    emulate: bool,
    speed: float,
    tier: int | None,
    approval: str,
    options: RunOptions,
    spec_sha256: str,
    priced: Catalog | None = None,
) -> Any:
    """Run ``graph``; ``approval`` is ``given`` (--yes, --emulate), ``ask`` (a terminal) or
    ``none`` (no terminal: a run that would spend is refused before any request)."""
    transport: httpx.AsyncBaseTransport | None = None
    emulator: Any = None
    if emulate:
        spec_tier = tier or (graph.spec.tier if graph.spec is not None else 1)
        prices = graph.spec.prices if graph.spec is not None else {}
        emulator, app = _build_emulator(spec_tier, speed, catalog, prices)
        api_key = emulator.api_key
        transport = httpx.ASGITransport(app=app)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    try:
        async with httpx.AsyncClient(transport=transport, limits=limits) as http:
            client = RunwayClient(
                http, api_key=api_key, base_url=base, retry=RetryPolicy(scale=max(1.0, speed))
            )
            execution = Execution(
                graph,
                client,
                state,
                options,
                catalog=priced or catalog,
                origin=origin_of(base),
                spec_sha256=spec_sha256,
                on_event=display.event,
            )
            work = execution.survey()
            if work and approval == "none":
                raise _UsageFailure(
                    f"this run would make {len(work)} generation(s) and spend credits, and "
                    "there is no terminal to ask: pass --yes to approve (nothing was sent)"
                )
            refusals = await execution.preflight()
            proposal = execution.proposal
            asking = refusals is None and proposal is not None and work and approval == "ask"
            if asking and proposal is not None and not _ask(proposal.question()):
                return execution.decline()
            with _signals_stop(execution), display.running(execution):
                return await execution.run()
    finally:
        if emulator is not None:
            emulator.close()


@contextlib.contextmanager
def _signals_stop(execution: Execution) -> Iterator[None]:
    """SIGINT and SIGTERM stop ``execution``: the 1st stops submitting, the 2nd stops
    waiting for tasks in flight, then the default handler, so a 3rd exits at once (the
    journal is consistent at any instant)."""
    loop = asyncio.get_running_loop()
    installed: list[int] = []

    def on_signal() -> None:
        execution.interrupt()
        if execution.aborting:
            for signum in installed:
                loop.remove_signal_handler(signum)
            installed.clear()

    for wanted in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(wanted, on_signal)
            installed.append(wanted)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _lock_free(directory: Path) -> bool:
    return locked_by(directory) is None


@main.command("status")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--state", "state_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--emulate", is_flag=True, help="Show the runs made with --emulate.")
@click.option("--run", "run_id", type=int, help="Show this run [default: the latest].")
@format_option(("text", "json"))
def status_command(
    spec: Path, state_dir: Path | None, emulate: bool, run_id: int | None, fmt: str
) -> None:
    """Show a run of SPEC: each generation's outcome, task, attempts and credits."""
    where = layout_of(spec, state=state_dir, emulate=emulate)
    _recorded(where)
    directory = where.state
    alive = not _lock_free(directory)
    state = _open_state(where, read_only=True)
    try:
        with unreadable_as_such(directory):
            runs = _spec_runs(state, where)
            chosen = next((r for r in runs if run_id is None or r.id == run_id), None)
            if chosen is None:
                which = f"run {run_id}" if run_id is not None else "run"
                raise _UsageFailure(f"no {which} of {spec} in {directory}")
            rows = state.run_steps(chosen.id)
            status = chosen.status
            if status == "running" and not (alive and chosen.id == runs[0].id):
                status = "stopped (the process ended without finishing; run again to resume)"
            items: list[dict[str, Any]] = []
            for row in rows:
                step = state.step_by_id(row.step_id) if row.step_id is not None else None
                items.append(
                    {
                        "key": row.key,
                        "outcome": row.outcome.value,
                        "state": step.status.value if step else "not sent",
                        "taskId": step.task_id if step else None,
                        "attempts": step.attempts if step else 0,
                        "failureCode": step.failure_code if step else None,
                        "planned": None if row.planned_high is None else str(row.planned_high),
                        "billed": None
                        if step is None or step.billed_credits is None
                        else str(step.billed_credits),
                        "message": row.message,
                        "outputs": row.paths,
                    }
                )
            resources = [
                {
                    "kind": r.kind,
                    "key": r.key,
                    "name": r.name,
                    "state": r.status.value,
                    "remoteId": r.remote_id,
                    "remoteStatus": r.remote_status,
                    "failure": r.failure,
                }
                for r in state.resources(chosen.spec_name, chosen.origin)
            ]
            if fmt == "json":
                data = {
                    "run": chosen.id,
                    "status": status,
                    "spec": chosen.spec_path,
                    "api": chosen.origin,
                    "startedAt": chosen.started_at,
                    "finishedAt": chosen.finished_at,
                    "generations": items,
                    "resources": resources,
                }
                click.echo(json_text(data))
                return
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(chosen.started_at))
            click.echo(
                f"run {chosen.id} of {display(chosen.spec_name)} "
                f"({display(chosen.spec_path)}), {started}"
            )
            click.echo(f"api {display(chosen.origin)} · {status}")
            shown = [
                {k: display(str(v)) if isinstance(v, str) else v for k, v in item.items()}
                for item in items
            ]
            widths = (
                max([3, *(len(i["key"]) for i in shown)]),
                max([7, *(len(i["outcome"]) for i in shown)]),
                max([5, *(len(i["state"]) for i in shown)]),
            )
            click.echo(
                f"{'key':<{widths[0]}}  {'outcome':<{widths[1]}}  {'state':<{widths[2]}}  "
                f"{'att':>3}  {'billed':>8}  task"
            )
            for item in shown:
                click.echo(
                    f"{item['key']:<{widths[0]}}  {item['outcome']:<{widths[1]}}  "
                    f"{item['state']:<{widths[2]}}  {item['attempts']:>3}  "
                    f"{item['billed'] or '-':>8}  {item['taskId'] or '-'}"
                    + (f"  {item['message']}" if item["message"] else "")
                )
            counts: dict[str, int] = {}
            for item in items:
                counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
            click.echo(", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
            if resources:
                click.echo("resources (as recorded; `plan --live` compares them with the API):")
                for res in resources:
                    res = {k: display(v) if isinstance(v, str) else v for k, v in res.items()}
                    extra = f" {res['remoteStatus']}" if res["remoteStatus"] else ""
                    extra += f": {res['failure']}" if res["failure"] else ""
                    click.echo(
                        f"  {res['kind']:<8}  {res['key']}  {res['state']}  "
                        f"{res['remoteId'] or '-'}{extra}"
                    )
    except StateUnreadable as exc:
        raise _UsageFailure(f"RP517 {exc}") from None
    finally:
        state.close()
    sys.exit(EXIT_OK)


@main.command("cancel")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--state", "state_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--base-url", envvar="RUNWAYML_BASE_URL", metavar="URL")
def cancel_command(spec: Path, state_dir: Path | None, base_url: str | None) -> None:
    """Stop SPEC's run: it submits nothing more, and its tasks in flight are cancelled
    (DELETE /v1/tasks/{id}); the run then ends, and a later run makes what is left."""
    where = layout_of(spec, state=state_dir)
    _recorded(where)
    api_key = _api_key()
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    alive = not _lock_free(where.state)
    state = _open_state(where, lock=False)
    try:
        runs = _spec_runs(state, where)
        if alive and runs and runs[0].status == "running":
            _stop_run(state, runs[0], where.state)
        mine = [r.id for r in runs]
        flying = state.steps_with_status(StepStatus.RUNNING, runs=mine)
        unsure = state.steps_with_status(StepStatus.SUBMITTING, StepStatus.UNKNOWN, runs=mine)
        problems = asyncio.run(_cancel(state, flying, api_key, base, record=not alive))
    finally:
        state.close()
    for row in unsure:
        click.echo(
            f"{display(row.key)}: a create may have been sent, but no task id is known", err=True
        )
    click.echo(f"{len(flying)} task(s) were in flight")
    for problem in problems:
        click.echo(display(problem), err=True)
    sys.exit(EXIT_FAILED if problems else EXIT_OK)


def _stop_run(state: State, run: RunRow, directory: Path) -> None:
    """Ask the running ``run`` to submit nothing more, and wait until it says so (its
    creates in flight are then recorded, so every task to cancel is in the journal)."""
    state.request_stop(run.id)
    click.echo(f"run {run.id} (pid {run.pid}) was asked to submit nothing more")
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        if state.stop_acknowledged(run.id):
            click.echo(f"run {run.id} submits nothing more")
            return
        if _lock_free(directory):
            return  # the run ended meanwhile
        time.sleep(0.1)
    click.echo(
        f"run {run.id} did not answer within {STOP_WAIT:.0f} s; cancelling the tasks it has "
        "recorded (it will submit nothing more once it sees the request)",
        err=True,
    )


@main.command("migrate")
@click.argument(
    "folder", type=click.Path(path_type=Path, file_okay=False, exists=True), default="."
)
def migrate_command(folder: Path) -> None:
    """Give each spec in FOLDER its own run state and outputs folder.

    Earlier versions kept the runs of every spec of a folder in one shared .runway-plan/;
    this splits it (journal, stored outputs, run folders) into .runway-plan/<spec>/ and keeps
    the old files in .runway-plan/old-layout/. Outputs already under outputs/ stay where they
    are; nothing is generated again. `run` does this by itself when it finds the old layout.
    """
    root = folder.resolve()
    if not shared_layout(root):
        click.echo(f"{root}: nothing to migrate (no shared state of an earlier version)")
        sys.exit(EXIT_OK)
    _move_shared_layout(root)
    sys.exit(EXIT_OK)


async def _cancel(
    state: State, rows: list[Any], api_key: str, base: str, *, record: bool
) -> list[str]:
    problems: list[str] = []
    async with httpx.AsyncClient() as http:
        client = RunwayClient(http, api_key=api_key, base_url=base)
        for row in rows:
            attempt = state.current_attempt(row.id)
            if attempt is None or attempt.task_id is None:
                continue
            try:
                task = await client.task(attempt.task_id)
                if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    # Deleting a finished task would delete its outputs: the next run collects it.
                    status = display(str(task["status"]))
                    click.echo(
                        f"{display(row.key)}: task {display(attempt.task_id)} already {status}"
                    )
                    continue
                await client.cancel(attempt.task_id)
            except TaskNotFound:
                pass
            except ExecuteError as exc:
                problems.append(f"{row.key}: {exc}")
                continue
            if record:
                state.mark_task_failed(
                    row.id,
                    attempt.number,
                    status="CANCELLED",
                    failure_code=None,
                    failure="cancelled with runway-plan cancel",
                    billed=None,
                    final=True,
                )
            click.echo(f"{display(row.key)}: task {display(attempt.task_id)} cancelled")
    return problems
