"""``run``, ``status`` and ``cancel``: execute a spec against the API, inspect a run, stop one.

Exit codes of ``run``: 0 every generation done, 1 the spec has errors or a generation failed,
was skipped or may have been submitted without a recorded task (or the run was refused:
budget, credits), 2 usage (no API key, the state is locked), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
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
    api_key_or_fail,
    catalog_option,
    format_option,
    load_catalog_or_fail,
    main,
    parse_vars,
    vars_option,
)
from runway_plan.compile import Graph
from runway_plan.diagnostics import has_errors, make
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.execute import (
    DEFAULT_BASE_URL,
    Event,
    Execution,
    Outcome,
    RetryPolicy,
    RunOptions,
    RunwayClient,
    State,
    StateLocked,
    StepStatus,
    default_state_dir,
    origin_of,
    render_text,
)
from runway_plan.execute.client import ExecuteError, TaskNotFound
from runway_plan.execute.report import manifest
from runway_plan.plan.cost import format_credits
from runway_plan.validate import check_file

__all__ = ["cancel_command", "run_command", "state_location", "status_command"]

API_CADENCE = 5.0
"""Seconds between status updates of a task on the real API (reference §6.1)."""

EMULATOR_URL = "http://emulator"


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


def _state_dirs(
    spec: Path, state_dir: Path | None, outputs_dir: Path | None, emulate: bool
) -> tuple[Path, Path]:
    state = state_dir or default_state_dir(spec) / ("emulated" if emulate else "")
    base_outputs = spec.resolve().parent / "outputs"
    outputs = outputs_dir or (base_outputs / "emulated" if emulate else base_outputs)
    return state, outputs


def state_location(
    spec: Path, state_dir: Path | None, emulate: bool, base_url: str | None
) -> tuple[Path, str]:
    """The state folder and API base URL ``run`` uses for ``spec`` with these options.

    ``--emulate`` runs keep their state in ``.runway-plan/emulated`` against the origin
    ``http://emulator``; results are only reused against the API origin that made them.
    """
    directory, _ = _state_dirs(spec, state_dir, None, emulate)
    base = EMULATOR_URL if emulate else (base_url or DEFAULT_BASE_URL).rstrip("/")
    return directory, base


def _open_state(directory: Path, *, lock: bool = True) -> State:
    try:
        return State(directory, lock=lock)
    except StateLocked as exc:
        diagnostic = make(
            "RP505",
            f"{exc}; wait for it to finish, or give this run another folder with --state",
            None,
        )
        click.echo(render_diagnostics([diagnostic], "text"), err=True, nl=False)
        sys.exit(EXIT_USAGE)


def _api_key() -> str:
    return api_key_or_fail(
        "no API key: set RUNWAYML_API_SECRET (or run with --emulate to use the built-in "
        "emulator, free)"
    )


def _check(spec: Path, catalog: Catalog, variables: tuple[str, ...]) -> Graph:
    graph, diagnostics = check_file(spec, catalog, parse_vars(variables))
    if diagnostics:
        click.echo(render_diagnostics(diagnostics, "text"), nl=False, err=True)
    if has_errors(diagnostics):
        errors = sum(d.is_error for d in diagnostics)
        click.echo(
            f"{spec}: {errors} error{'s' * (errors != 1)}; nothing was sent to the API", err=True
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

    def event(self, event: Event) -> None:
        if self._live is not None:
            if event.kind in ("failed", "unknown", "interrupt", "note", "cancelled"):
                self._live.console.print(Text(f"{event.key or 'run'}: {event.message}"))
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        self.console.file.write(f"{stamp} {event.kind:<9} {event.key or '-'}: {event.message}\n")

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


def _approve(console: Console) -> Callable[[str], bool]:
    def ask(summary: str) -> bool:
        console.print(Text(summary))
        return click.confirm("Spend these credits?", default=False, err=True)

    return ask


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
    help="State folder (journal, store, manifests) [default: .runway-plan beside the spec].",
)
@click.option(
    "--outputs",
    "outputs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where outputs are linked as <step>/<n>.<ext> [default: outputs/ beside the spec].",
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
@click.option("--yes", "-y", is_flag=True, help="Do not ask before spending (a terminal asks).")
@format_option(("text", "json"), "The end-of-run report: text, or the run manifest as JSON.")
@vars_option
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
    yes: bool,
    fmt: str,
    variables: tuple[str, ...],
    catalog_path: Path | None,
) -> None:
    """Run SPEC against the Runway API: validate, plan, check credits, generate, download.

    Every transition is journaled before the next request, so a crash or Ctrl-C never loses
    an output and never pays twice: run the same command again to resume.  Outputs land in
    a content-addressed store and are linked as outputs/<step>/<n>.<ext>.

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
    catalog = load_catalog_or_fail(catalog_path)
    graph = _check(spec, catalog, variables)
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
    state_path, outputs_path = _state_dirs(spec, state_dir, outputs_dir, emulate)
    spec_sha256 = hashlib.sha256(spec.read_bytes()).hexdigest()
    err = Console(stderr=True)
    live = err.is_terminal and fmt == "text"
    display = _Display(graph, err, live=live)
    ask = _approve(err) if (not emulate and not yes and sys.stdin.isatty()) else None
    state = _open_state(state_path)
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
                approve=ask,
                options=RunOptions(
                    outputs_dir=outputs_path,
                    resubmit_unknown=resubmit_unknown,
                    retry_failed=retry_failed,
                    poll_interval=API_CADENCE / speed,
                    speed=speed,
                    max_credits=budget,
                    prune=prune,
                    refresh=True if refresh is None else refresh,
                    empty_remote=emulate,
                ),
                spec_sha256=spec_sha256,
            )
        )
        if fmt == "json":
            click.echo(json.dumps(manifest(result, state, graph), indent=2, ensure_ascii=False))
        else:
            click.echo(render_text(result, graph), nl=False)
    finally:
        state.close()
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
    approve: Callable[[str], bool] | None,
    options: RunOptions,
    spec_sha256: str,
) -> Any:
    transport: httpx.AsyncBaseTransport | None = None
    if emulate:
        spec_tier = tier or (graph.spec.tier if graph.spec is not None else 1)
        prices = graph.spec.prices if graph.spec is not None else {}
        emulator, app = _build_emulator(spec_tier, speed, catalog, prices)
        api_key = emulator.api_key
        transport = httpx.ASGITransport(app=app)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    async with httpx.AsyncClient(transport=transport, limits=limits) as http:
        client = RunwayClient(
            http, api_key=api_key, base_url=base, retry=RetryPolicy(scale=max(1.0, speed))
        )
        execution = Execution(
            graph,
            client,
            state,
            options,
            catalog=catalog,
            origin=origin_of(base),
            spec_sha256=spec_sha256,
            on_event=display.event,
            approve=approve,
        )
        loop = asyncio.get_running_loop()
        installed: list[int] = []

        def on_signal() -> None:
            # 1st: stop submitting; 2nd: stop waiting for tasks in flight; then the default
            # handler, so a 3rd Ctrl-C exits at once (the journal is consistent at any instant).
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
            with display.running(execution):
                return await execution.run()
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
            if emulate:
                emulator.close()


def _lock_free(directory: Path) -> bool:
    try:
        probe = State(directory, lock=True)
    except StateLocked:
        return False
    probe.close()
    return True


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
    directory, _ = _state_dirs(spec, state_dir, None, emulate)
    if not (directory / "state.db").is_file():
        raise _UsageFailure(f"no runs recorded in {directory}")
    alive = not _lock_free(directory)
    state = _open_state(directory, lock=False)
    try:
        runs = state.runs()
        chosen = next((r for r in runs if run_id is None or r.id == run_id), None)
        if chosen is None:
            raise _UsageFailure(f"no run {run_id} in {directory}")
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
                    "state": step.status.value if step else None,
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
            click.echo(json.dumps(data, indent=2))
            return
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(chosen.started_at))
        click.echo(f"run {chosen.id} of {chosen.spec_name} ({chosen.spec_path}), {started}")
        click.echo(f"api {chosen.origin} · {status}")
        widths = (
            max([3, *(len(i["key"]) for i in items)]),
            max([7, *(len(i["outcome"]) for i in items)]),
            max([5, *(len(str(i["state"])) for i in items)]),
        )
        click.echo(
            f"{'key':<{widths[0]}}  {'outcome':<{widths[1]}}  {'state':<{widths[2]}}  "
            f"{'att':>3}  {'billed':>8}  task"
        )
        for item in items:
            click.echo(
                f"{item['key']:<{widths[0]}}  {item['outcome']:<{widths[1]}}  "
                f"{item['state']!s:<{widths[2]}}  {item['attempts']:>3}  "
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
                extra = f" {res['remoteStatus']}" if res["remoteStatus"] else ""
                extra += f": {res['failure']}" if res["failure"] else ""
                click.echo(
                    f"  {res['kind']:<8}  {res['key']}  {res['state']}  "
                    f"{res['remoteId'] or '-'}{extra}"
                )
    finally:
        state.close()
    sys.exit(EXIT_OK)


@main.command("cancel")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--state", "state_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--base-url", envvar="RUNWAYML_BASE_URL", metavar="URL")
def cancel_command(spec: Path, state_dir: Path | None, base_url: str | None) -> None:
    """Cancel SPEC's tasks in flight (DELETE /v1/tasks/{id}); a running `run` sees them end."""
    directory, _ = _state_dirs(spec, state_dir, None, False)
    if not (directory / "state.db").is_file():
        raise _UsageFailure(f"no runs recorded in {directory}")
    api_key = _api_key()
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    alive = not _lock_free(directory)
    state = _open_state(directory, lock=False)
    try:
        flying = state.steps_with_status(StepStatus.RUNNING)
        unsure = state.steps_with_status(StepStatus.SUBMITTING, StepStatus.UNKNOWN)
        problems = asyncio.run(_cancel(state, flying, api_key, base, record=not alive))
    finally:
        state.close()
    for row in unsure:
        click.echo(f"{row.key}: a create may have been sent, but no task id is known", err=True)
    click.echo(f"{len(flying)} task(s) were in flight")
    for problem in problems:
        click.echo(problem, err=True)
    sys.exit(EXIT_FAILED if problems else EXIT_OK)


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
                    click.echo(f"{row.key}: task {attempt.task_id} already {task['status']}")
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
            click.echo(f"{row.key}: task {attempt.task_id} cancelled")
    return problems
