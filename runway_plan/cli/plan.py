"""``plan``, ``graph`` and ``diff``: price and schedule a spec, draw it, compare two versions."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from runway_plan import __version__
from runway_plan.catalog import Catalog
from runway_plan.catalog.learned import LearnedPrice, read_beside
from runway_plan.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    allow_option,
    api_key_or_fail,
    catalog_option,
    echo_diagnostics,
    format_option,
    limits_option,
    load_catalog_or_fail,
    main,
    parse_limits,
    parse_vars,
    vars_option,
)
from runway_plan.cli.plan_display import GANTT_WRITERS, gantt_file, print_plan
from runway_plan.cli.plan_options import budget_option, parse_budget, parse_deadline, parse_latency
from runway_plan.cli.selection import PLAN_STAGES, apply_selection, selection_options
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, has_errors, make, sort_diagnostics
from runway_plan.diagnostics.display import display, display_lines
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.diagnostics.selection import Selected, Selection
from runway_plan.limits import WorkLimits
from runway_plan.performance import cyclic_gc_paused
from runway_plan.plan import Plan, PlanOptions, plan
from runway_plan.plan.diff import diff_plans
from runway_plan.plan.live import LiveError, Organization, fetch_organization
from runway_plan.plan.report import (
    PLAN_FORMATS,
    plan_pieces,
    render_diff,
    render_dot,
    render_mermaid,
)
from runway_plan.plan.resources import ResourcePlan
from runway_plan.source import parse_document
from runway_plan.validate import check_document, check_file

_fetch_organization = fetch_organization
"""The live call, replaceable in tests (which pass an ``httpx.MockTransport``)."""


class _UsageFailure(click.ClickException):
    """A problem with the command's inputs or environment: exit 2."""

    exit_code = EXIT_USAGE


def _check(
    spec: str,
    catalog: Catalog,
    overrides: dict[str, Any],
    limits: dict[str, int] | None = None,
    allow: tuple[Path, ...] = (),
) -> tuple[Graph, list[Diagnostic], str]:
    """Load, compile and validate a spec file, or ``REF:path`` read with ``git show``.

    A ref that starts with ``-`` is refused: git would read it as an option (``--output=FILE``
    writes a file); and git is told that the argument is a revision whatever it looks like.
    """
    if os.path.isfile(spec) or ":" not in spec:
        with cyclic_gc_paused():
            graph, diagnostics = check_file(spec, catalog, overrides, limits, allow=allow)
        return graph, diagnostics, spec
    ref, _, inside = spec.partition(":")
    if ref.startswith("-"):
        raise _UsageFailure(
            f"cannot read {display(spec)}: it is not a file, and '{display(ref)}' is not a git "
            "ref (a ref cannot start with '-')"
        )
    try:
        shown = subprocess.run(
            ["git", "show", "--end-of-options", f"{ref}:{inside}", "--"],
            capture_output=True,
            text=True,
            check=False,
        )
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise _UsageFailure(f"cannot run git to read {display(spec)}: {exc}") from None
    if shown.returncode != 0:
        reason = shown.stderr.strip().splitlines()[-1] if shown.stderr.strip() else "git failed"
        raise _UsageFailure(
            f"cannot read {display(spec)} (not a file, and git says: {display(reason)})"
        )
    if inside.startswith(("./", "../")) or top.returncode != 0:
        working = Path(inside)
    else:
        working = Path(top.stdout.strip()) / inside
    try:
        where = os.path.relpath(working)
    except ValueError:
        where = str(working)
    document = parse_document(shown.stdout, where)
    with cyclic_gc_paused():
        graph, diagnostics = check_document(document, catalog, overrides, limits, allow=allow)
    return graph, diagnostics, spec


_DIAGNOSTIC_FORMATS = ("github", "sarif")
"""Plan formats that show only the plan's diagnostics, as ``validate`` renders them."""


def _checked_or_exit(
    spec: str,
    catalog: Catalog,
    overrides: dict[str, Any],
    limits: dict[str, int] | None = None,
    allow: tuple[Path, ...] = (),
    *,
    selection: Selection | None = None,
    fmt: str = "text",
) -> tuple[Graph, list[Diagnostic], str]:
    """The spec compiled and validated, or its errors shown and exit 1.

    A spec with errors is never planned, even when a ``selection`` leaves them out (a graph
    with a cycle or a missing step cannot be priced); the warnings it makes errors stop the
    plan too.  ``fmt`` is the format of the errors shown (text unless a diagnostic format).
    """
    graph, diagnostics, label = _check(spec, catalog, overrides, limits, allow)
    shown = [d for d in diagnostics if d.is_error]
    if selection is not None:
        promoted = apply_selection(selection, diagnostics, [graph]).diagnostics
        shown = sort_diagnostics([*shown, *(d for d in promoted if d.is_error)])
    if shown:
        if fmt in _DIAGNOSTIC_FORMATS:
            click.echo(render_diagnostics(shown, fmt, version=__version__), nl=False)
        else:
            echo_diagnostics(shown, graph.document)
        errors = sum(d.is_error for d in shown)
        click.echo(
            display_lines(f"{display(label)}: {errors} error{'s' * (errors != 1)}; no plan"),
            err=True,
        )
        sys.exit(EXIT_FAILED)
    return graph, diagnostics, label


def learned_prices(
    spec: str, catalog: Catalog, limits: dict[str, int] | None = None
) -> tuple[dict[str, LearnedPrice], list[Diagnostic]]:
    """The learned prices beside the spec file ``spec`` (see :func:`read_beside`), within the
    ``file_bytes`` work limit of ``limits``."""
    return read_beside(spec, catalog, WorkLimits().merged(limits or {}).file_bytes)


def _plan_or_exit(
    spec: str,
    catalog: Catalog,
    overrides: dict[str, Any],
    limits: dict[str, int] | None = None,
    allow: tuple[Path, ...] = (),
    selection: Selection | None = None,
    options: PlanOptions | None = None,
) -> Plan:
    graph, diagnostics, label = _checked_or_exit(
        spec, catalog, overrides, limits, allow, selection=selection
    )
    learned, problems = learned_prices(spec, catalog, limits)
    with cyclic_gc_paused():
        result = plan(
            graph, catalog, replace(options or PlanOptions(), source=label, learned=learned)
        )
    found = [*diagnostics, *problems, *result.diagnostics]
    if selection is not None:
        found = apply_selection(selection, found, [graph]).diagnostics
    result.diagnostics = sort_diagnostics(found)
    return result


class _StateView:
    """What the run state says of a spec: reusable generations and resource changes."""

    def __init__(self) -> None:
        self.reuse: dict[str, Any] | None = None
        self.source: str | None = None
        self.resources: ResourcePlan | None = None
        self.problems: list[Diagnostic] = []


def _state_view(
    spec: str,
    graph: Graph,
    *,
    state_dir: Path | None,
    emulate: bool,
    base_url: str | None,
    live_key: str | None,
) -> _StateView:
    """Read the state ``run`` would use (a private copy of it, never locked; the network
    only with ``live_key``, to read the recorded documents and avatars).  A state that cannot
    be read is a warning (RP517), and the plan shows no reuse."""
    from runway_plan.execute.state import StateUnreadable

    try:
        return _read_state_view(
            spec,
            graph,
            state_dir=state_dir,
            emulate=emulate,
            base_url=base_url,
            live_key=live_key,
        )
    except StateUnreadable as exc:
        view = _StateView()
        view.problems.append(make("RP517", str(exc), None))
        return view


def _read_state_view(
    spec: str,
    graph: Graph,
    *,
    state_dir: Path | None,
    emulate: bool,
    base_url: str | None,
    live_key: str | None,
) -> _StateView:
    view = _StateView()
    spec_path = Path(spec)
    has_resources = bool(graph.documents or graph.avatars)
    if not spec_path.is_file():
        return view  # a spec read from git: no state of its own
    from runway_plan.cli.state_folder import state_location

    directory, base = state_location(spec_path, state_dir, emulate, base_url)
    exists = (directory / "state.db").is_file()
    if not (exists or state_dir is not None or emulate or has_resources):
        return view
    from runway_plan.execute import origin_of, reusable
    from runway_plan.execute.resources import resource_plan

    try:
        shown = os.path.relpath(directory)
    except ValueError:
        shown = str(directory)
    source = f"{shown} ({origin_of(base)})"
    if exists or state_dir is not None or emulate:
        view.reuse = dict(reusable(graph, directory, base_url=base))
        view.source = source
    remote = None
    notes: list[str] = []
    if live_key is not None and exists:
        remote, notes = _read_remote(graph, directory, base, live_key)
    resources = resource_plan(
        graph,
        directory,
        base,
        reuse=view.reuse,
        remote=remote,
        notes=notes,
        shown=shown,
        empty_remote=emulate,
    )
    view.resources = resources
    return view


def _read_remote(
    graph: Graph, directory: Path, base: str, key: str
) -> tuple[dict[int, Any], list[str]]:
    """GET the spec's recorded documents and avatars (``--live``)."""
    import asyncio

    import httpx

    from runway_plan.execute import RetryPolicy, RunwayClient, State, origin_of
    from runway_plan.execute.resources import read_remote

    with State.snapshot(directory) as state:
        name = graph.spec.name if graph.spec is not None else ""
        rows = state.resources(name, origin_of(base))

    async def read() -> tuple[dict[int, Any], list[str]]:
        async with httpx.AsyncClient(transport=_resource_transport) as http:
            client = RunwayClient(http, api_key=key, base_url=base, retry=RetryPolicy(attempts=3))
            found, problems = await read_remote(client, rows)
            return dict(found), problems

    return asyncio.run(read())


_resource_transport: Any = None
"""The transport of ``--live`` resource reads, replaceable in tests."""


def _api_key_for_live() -> str:
    return api_key_or_fail(
        "--live needs an API key in RUNWAYML_API_SECRET (plan without --live to use the "
        "catalog's tier table)"
    )


def _live_organization(key: str, base_url: str | None = None) -> Organization:
    try:
        if base_url is None:
            return _fetch_organization(key)
        return _fetch_organization(key, base_url=base_url)
    except LiveError as exc:
        raise _UsageFailure(str(exc).replace(key, "[redacted]")) from None


@main.command("plan")
@click.argument("spec", type=click.Path(path_type=str, dir_okay=False))
@format_option(
    (*PLAN_FORMATS, *_DIAGNOSTIC_FORMATS),
    "Output format: the plan (table, json, markdown), or only its diagnostics, budget errors "
    "included, as GitHub annotations (github) or SARIF 2.1.0 (sarif).",
)
@click.option("--tier", type=click.IntRange(1, 5), help="Plan for this tier (default: the spec's).")
@budget_option("Fail (exit 1, RP400) when the plan may cost more credits than N.")
@click.option(
    "--deadline",
    type=str,
    metavar="DURATION",
    help="Report the cheapest tier whose schedule finishes within it (2h, 90m, 1d).",
)
@click.option(
    "--gantt",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    callback=lambda _ctx, _param, path: gantt_file(path),
    help="Write the schedule as a Gantt chart: FILE.svg, or FILE.html for a page.",
)
@click.option(
    "--latency",
    "latencies",
    multiple=True,
    metavar="MODEL=SECONDS",
    help="Override a model's latency estimate per generation (45, 2m, ...).",
)
@click.option(
    "--live",
    is_flag=True,
    help="Use the account's live limits (GET /v1/organization) and read the spec's recorded "
    "documents and avatars to show drift (RUNWAYML_API_SECRET).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Plan against this run state: what a run would reuse, which documents and avatars "
    "exist [default: .runway-plan beside the spec, when present].",
)
@click.option(
    "--emulate",
    is_flag=True,
    help="Plan against the state of `run --emulate` (.runway-plan/emulated, API origin "
    "http://emulator).",
)
@click.option(
    "--base-url",
    envvar="RUNWAYML_BASE_URL",
    metavar="URL",
    help="The API a run would use (RUNWAYML_BASE_URL): results are reused only against the "
    "origin that made them.",
)
@vars_option
@limits_option
@allow_option
@catalog_option
@selection_options
def plan_command(
    spec: str,
    fmt: str,
    tier: int | None,
    max_credits: str | None,
    deadline: str | None,
    gantt: Path | None,
    latencies: tuple[str, ...],
    live: bool,
    state_dir: Path | None,
    emulate: bool,
    base_url: str | None,
    variables: tuple[str, ...],
    limits: tuple[str, ...],
    allow_paths: tuple[Path, ...],
    catalog_path: Path | None,
    selection: Selection,
) -> None:
    """Price SPEC in credits and dollars and schedule it against the tier's limits.

    With a run state (.runway-plan beside the spec, --state or --emulate) the plan is the
    next run's: which generations it reuses and why the others are made again, the credits
    saved, budgets checked against what the run would spend, and what it would create,
    update or delete among the spec's documents and avatars.
    """
    overrides = parse_vars(variables)
    budget = parse_budget(max_credits)
    seconds = parse_deadline(deadline) if deadline is not None else None
    latency = parse_latency(latencies)
    if live and emulate:
        raise click.UsageError(
            "--live reads the API, but the emulator of --emulate starts empty on every run; "
            "serve one with `runway-plan emulate` and plan with --base-url instead"
        )
    key = _api_key_for_live() if live else None
    base = base_url.rstrip("/") if base_url else None
    organization = _live_organization(key, base) if key is not None else None
    work_limits = parse_limits(limits)
    catalog = load_catalog_or_fail(catalog_path, work_limits)
    graph, diagnostics, label = _checked_or_exit(
        spec, catalog, overrides, work_limits, allow_paths, selection=selection, fmt=fmt
    )
    view = _state_view(
        spec, graph, state_dir=state_dir, emulate=emulate, base_url=base, live_key=key
    )
    learned, learned_problems = learned_prices(spec, catalog, work_limits)
    with cyclic_gc_paused():
        result = plan(
            graph,
            catalog,
            PlanOptions(
                source=label,
                learned=learned,
                tier=tier,
                max_credits=budget,
                latency_overrides=latency,
                live=organization,
                deadline=seconds,
                reuse=view.reuse,
                reuse_source=view.source,
                resources=view.resources,
            ),
        )
    selected = apply_selection(
        selection,
        [*diagnostics, *view.problems, *learned_problems, *result.diagnostics],
        [graph],
        stages=PLAN_STAGES,
    )
    result.diagnostics = sort_diagnostics(selected.diagnostics)
    if gantt is not None:
        with gantt.open("w", encoding="utf-8") as chart:
            chart.writelines(GANTT_WRITERS[gantt.suffix.lower()](result))
    console = Console()
    if fmt in _DIAGNOSTIC_FORMATS:
        click.echo(render_diagnostics(result.diagnostics, fmt, version=__version__), nl=False)
    elif fmt == "table" and console.is_terminal:
        print_plan(result, console)
    else:
        for piece in plan_pieces(result, fmt):
            click.echo(piece, nl=False)
    _report_left_out(selected)
    if gantt is not None:
        click.echo(display_lines(f"wrote {display(str(gantt))}"), err=True)
    sys.exit(EXIT_FAILED if has_errors(result.diagnostics) else EXIT_OK)


def _report_left_out(selected: Selected) -> None:
    if selected.summary():
        click.echo(f"runway-plan: {selected.summary()}", err=True)


@main.command("graph")
@click.argument("spec", type=click.Path(path_type=str, dir_okay=False))
@format_option(("mermaid", "dot"))
@vars_option
@limits_option
@allow_option
@catalog_option
def graph_command(
    spec: str,
    fmt: str,
    variables: tuple[str, ...],
    limits: tuple[str, ...],
    allow_paths: tuple[Path, ...],
    catalog_path: Path | None,
) -> None:
    """Draw SPEC's step graph, with each step's model and cost, as Mermaid or DOT."""
    work_limits = parse_limits(limits)
    catalog = load_catalog_or_fail(catalog_path, work_limits)
    result = _plan_or_exit(spec, catalog, parse_vars(variables), work_limits, allow=allow_paths)
    click.echo(render_mermaid(result) if fmt == "mermaid" else render_dot(result), nl=False)


@main.command("diff")
@click.argument("old", type=str)
@click.argument("new", type=str)
@format_option(PLAN_FORMATS)
@click.option("--tier", type=click.IntRange(1, 5), help="Plan both for this tier.")
@budget_option("A budget for NEW besides its spec's: exit 1 (RP400) when NEW may cost more.")
@vars_option
@limits_option
@allow_option
@catalog_option
@selection_options
def diff_command(
    old: str,
    new: str,
    fmt: str,
    tier: int | None,
    max_credits: str | None,
    variables: tuple[str, ...],
    limits: tuple[str, ...],
    allow_paths: tuple[Path, ...],
    catalog_path: Path | None,
    selection: Selection,
) -> None:
    """Show what changing OLD into NEW costs, step by step.

    OLD and NEW are spec files; either may be REF:PATH, the spec at a git ref
    (`main:specs/launch.yaml`, `HEAD~1:./launch.yaml`).  NEW is held to its budgets (its
    spec's `budget`, --max-credits) and its tier's monthly cap: over one, its errors are
    shown on standard error and the exit code is 1 (--select, --ignore, NEW's suppression
    comments and --warnings-as-errors choose them, as for `plan`).
    """
    budget = parse_budget(max_credits)
    work_limits = parse_limits(limits)
    catalog = load_catalog_or_fail(catalog_path, work_limits)
    overrides = parse_vars(variables)
    before = _plan_or_exit(
        old, catalog, overrides, work_limits, allow=allow_paths, options=PlanOptions(tier=tier)
    )
    after = _plan_or_exit(
        new,
        catalog,
        overrides,
        work_limits,
        allow=allow_paths,
        selection=selection,
        options=PlanOptions(tier=tier, max_credits=budget),
    )
    click.echo(render_diff(diff_plans(before, after), fmt), nl=False)
    errors = [d for d in after.diagnostics if d.is_error]
    if errors:
        click.echo(render_diagnostics(errors, "text"), nl=False, err=True)
        click.echo(
            display_lines(
                f"{display(after.source)}: {len(errors)} error{'s' * (len(errors) != 1)} "
                "in the new version"
            ),
            err=True,
        )
    sys.exit(EXIT_FAILED if errors else EXIT_OK)


__all__ = ["diff_command", "graph_command", "learned_prices", "parse_deadline", "plan_command"]
