"""``run``: execute a spec against the API (or the built-in emulator), with resumable state.

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
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx
from rich.console import Console

from runway_plan.catalog import Catalog
from runway_plan.cli.app import (
    EXIT_FAILED,
    echo_diagnostics,
    emulator_or_fail,
    format_option,
    main,
    parse_vars,
)
from runway_plan.cli.options import (
    SpecInputs,
    base_url_option,
    emulate_option,
    spec_inputs,
    state_option,
)
from runway_plan.cli.progress import ProgressDisplay
from runway_plan.cli.state_folder import (
    EMULATOR_URL,
    UsageFailure,
    move_shared_layout,
    open_state,
    run_api_key,
)
from runway_plan.compile import Graph
from runway_plan.diagnostics import has_errors
from runway_plan.diagnostics.display import display, json_text
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.execute import (
    DEFAULT_BASE_URL,
    Execution,
    RetryPolicy,
    RunOptions,
    RunwayClient,
    State,
    layout_of,
    origin_of,
    render_run_text,
)
from runway_plan.execute.report import manifest
from runway_plan.execute.runner.polling import API_CADENCE
from runway_plan.limits import WorkLimits
from runway_plan.performance import cyclic_gc_paused
from runway_plan.validate import check_file

__all__ = ["run_command"]


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _drift(
    directory: Path,
    graph: Graph,
    catalog: Catalog,
    spec: Path | None = None,
    journal: State | None = None,
) -> list[str]:
    """Where what the state's tasks were billed differs from the catalog's price, for the
    spec's models that its ``prices:`` leave to the catalog; ``journal`` (the run's open
    state) remembers the prices of the requests, so the next run re-prices only new bills."""
    from runway_plan.execute.learn import StateSource, drift, observe_bills

    own = set(graph.spec.prices) if graph.spec is not None else set()
    models = {gen.model for gen in graph.generations.values()} - own
    if not models:
        return []
    observed = observe_bills(StateSource(directory, str(directory), spec), catalog, models, journal)
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
@state_option(
    "State folder (journal, store, manifests) [default: .runway-plan/<spec>/ beside the spec]."
)
@click.option(
    "--outputs",
    "outputs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where outputs are linked as <step>/<n>.<ext> [default: outputs/<spec>/ beside the spec].",
)
@base_url_option(f"The API's base URL (RUNWAYML_BASE_URL) [default: {DEFAULT_BASE_URL}].")
@emulate_option("Run against the built-in emulator in this process: no key, no credits spent.")
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
    help="Delete the documents, voices and avatars recorded in the state but no longer in the spec "
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
@spec_inputs()
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
    inputs: SpecInputs,
) -> None:
    """Run SPEC against the Runway API: validate, plan, check credits, generate, download.

    Every transition is journaled before the next request, so a crash or Ctrl-C never loses
    an output and never pays twice: run the same command again to resume.  Outputs land in
    a content-addressed store and are linked as outputs/<spec>/<step>/<n>.<ext>.

    Before spending, a terminal is asked; without one, pass --yes.

    Documents, avatars and model routers are reconciled as declarative resources: created,
    updated (only the changed fields) or left alone; never deleted without --prune.
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
    work_limits = inputs.limits()
    catalog = inputs.catalog(work_limits)
    graph = _check(spec, catalog, inputs.variables, inputs.allow, work_limits)
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
    api_key = "" if emulate else run_api_key()
    where = layout_of(spec, state=state_dir, outputs=outputs_dir, emulate=emulate)
    if where.default_state:
        move_shared_layout(where.spec.parent)
    spec_sha256 = hashlib.sha256(spec.read_bytes()).hexdigest()
    err = Console(stderr=True)
    live = err.is_terminal and fmt == "text"
    display = ProgressDisplay(graph, err, live=live)
    approval = "given" if (emulate or yes) else ("ask" if sys.stdin.isatty() else "none")
    state = open_state(where)
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
        drifted = _drift(where.state, graph, catalog, spec, state)
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
    display: ProgressDisplay,
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
        async with httpx.AsyncClient(transport=transport or _Deferred(limits)) as http:
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
                raise UsageFailure(
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


class _Deferred(httpx.AsyncBaseTransport):
    """httpx's own transport (its defaults, ``limits``), made at the first request: a run
    that sends none (a resume that reuses everything) never loads the system's certificates
    into an SSL context."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = httpx.AsyncHTTPTransport(limits=self._limits)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


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
