"""``plan``, ``graph`` and ``diff``: price and schedule a spec, draw it, compare two versions."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console

from runway_plan import __version__
from runway_plan.catalog import Catalog
from runway_plan.catalog.learned import LearnedPrice, read_beside
from runway_plan.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    api_key_or_fail,
    echo_diagnostics,
    format_option,
    main,
)
from runway_plan.cli.options import (
    SpecInputs,
    base_url_option,
    emulate_option,
    spec_inputs,
    state_option,
)
from runway_plan.cli.plan_display import GANTT_WRITERS, gantt_file, print_plan
from runway_plan.cli.plan_options import budget_option, parse_budget, parse_deadline, parse_latency
from runway_plan.cli.plan_state import live_organization, state_view
from runway_plan.cli.selection import PLAN_STAGES, apply_selection, selection_options
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, has_errors, sort_diagnostics
from runway_plan.diagnostics.display import display, display_lines
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.diagnostics.selection import Selected, Selection
from runway_plan.limits import WorkLimits
from runway_plan.performance import cyclic_gc_paused
from runway_plan.plan import Plan, PlanOptions, plan
from runway_plan.plan.diff import diff_plans
from runway_plan.plan.live import LiveError, Organization
from runway_plan.plan.report import (
    PLAN_FORMATS,
    plan_pieces,
    render_diff,
    render_dot,
    render_mermaid,
)
from runway_plan.source import parse_document
from runway_plan.validate import check_document, check_file


class _UsageFailure(click.ClickException):
    """A problem with the command's inputs or environment: exit 2."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class _Checking:
    """What checking a spec takes besides the spec: the catalog and the command line's
    ``--var``, ``--limit`` and ``--allow-path``, read."""

    catalog: Catalog
    overrides: dict[str, Any]
    limits: dict[str, int] | None = None
    allow: tuple[Path, ...] = ()

    @classmethod
    def of(cls, inputs: SpecInputs) -> _Checking:
        """The inputs read (``--limit`` first: the catalog is read within its limits)."""
        limits = inputs.limits()
        catalog = inputs.catalog(limits)
        return cls(catalog, inputs.overrides(), limits, inputs.allow)


def _check(spec: str, given: _Checking) -> tuple[Graph, list[Diagnostic], str]:
    """Load, compile and validate a spec file, or ``REF:path`` read with ``git show``.

    A ref that starts with ``-`` is refused: git would read it as an option (``--output=FILE``
    writes a file); and git is told that the argument is a revision whatever it looks like.
    """
    if os.path.isfile(spec) or ":" not in spec:
        with cyclic_gc_paused():
            graph, diagnostics = check_file(
                spec, given.catalog, given.overrides, given.limits, allow=given.allow
            )
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
        graph, diagnostics = check_document(
            document, given.catalog, given.overrides, given.limits, allow=given.allow
        )
    return graph, diagnostics, spec


_DIAGNOSTIC_FORMATS = ("github", "sarif")
"""Plan formats that show only the plan's diagnostics, as ``validate`` renders them."""


def _checked_or_exit(
    spec: str,
    given: _Checking,
    *,
    selection: Selection | None = None,
    fmt: str = "text",
) -> tuple[Graph, list[Diagnostic], str]:
    """The spec compiled and validated, or its errors shown and exit 1.

    A spec with errors is never planned, even when a ``selection`` leaves them out (a graph
    with a cycle or a missing step cannot be priced); the warnings it makes errors stop the
    plan too.  ``fmt`` is the format of the errors shown (text unless a diagnostic format).
    """
    graph, diagnostics, label = _check(spec, given)
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


def _planned(
    spec: str, graph: Graph, label: str, given: _Checking, options: PlanOptions
) -> tuple[Plan, list[Diagnostic]]:
    """The plan of a checked spec (named ``label``) with the learned prices beside it, and
    the problems of those prices."""
    learned, problems = learned_prices(spec, given.catalog, given.limits)
    with cyclic_gc_paused():
        result = plan(graph, given.catalog, replace(options, source=label, learned=learned))
    return result, problems


def _plan_or_exit(
    spec: str,
    given: _Checking,
    selection: Selection | None = None,
    options: PlanOptions | None = None,
) -> Plan:
    graph, diagnostics, label = _checked_or_exit(spec, given, selection=selection)
    result, problems = _planned(spec, graph, label, given, options or PlanOptions())
    found = [*diagnostics, *problems, *result.diagnostics]
    if selection is not None:
        found = apply_selection(selection, found, [graph]).diagnostics
    result.diagnostics = sort_diagnostics(found)
    return result


def _api_key_for_live() -> str:
    return api_key_or_fail(
        "--live needs an API key in RUNWAYML_API_SECRET (plan without --live to use the "
        "catalog's tier table)"
    )


def _live_organization(key: str, base_url: str | None = None) -> Organization:
    try:
        return live_organization(key, base_url)
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
    "documents, voices and avatars to show drift (RUNWAYML_API_SECRET).",
)
@state_option(
    "Plan against this run state: what a run would reuse, which documents, voices and avatars "
    "exist [default: .runway-plan beside the spec, when present]."
)
@emulate_option(
    "Plan against the state of `run --emulate` (.runway-plan/emulated, API origin http://emulator)."
)
@base_url_option(
    "The API a run would use (RUNWAYML_BASE_URL): results are reused only against the "
    "origin that made them."
)
@spec_inputs()
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
    inputs: SpecInputs,
    selection: Selection,
) -> None:
    """Price SPEC in credits and dollars and schedule it against the tier's limits.

    With a run state (.runway-plan beside the spec, --state or --emulate) the plan is the
    next run's: which generations it reuses and why the others are made again, the credits
    saved, budgets checked against what the run would spend, and what it would create,
    update or delete among the spec's documents and avatars.
    """
    overrides = inputs.overrides()
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
    if key is not None and base is not None and urlsplit(base).scheme not in ("http", "https"):
        raise click.BadParameter(f"'{base}' is not an http(s) URL", param_hint="--base-url")
    organization = _live_organization(key, base) if key is not None else None
    work_limits = inputs.limits()
    catalog = inputs.catalog(work_limits)
    given = _Checking(catalog, overrides, work_limits, inputs.allow)
    graph, diagnostics, label = _checked_or_exit(spec, given, selection=selection, fmt=fmt)
    view = state_view(
        spec, graph, state_dir=state_dir, emulate=emulate, base_url=base, live_key=key
    )
    asked = PlanOptions(
        tier=tier,
        max_credits=budget,
        latency_overrides=latency,
        live=organization,
        deadline=seconds,
    )
    result, learned_problems = _planned(spec, graph, label, given, view.onto(asked))
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
@spec_inputs()
def graph_command(
    spec: str,
    fmt: str,
    inputs: SpecInputs,
) -> None:
    """Draw SPEC's step graph, with each step's model and cost, as Mermaid or DOT."""
    result = _plan_or_exit(spec, _Checking.of(inputs))
    click.echo(render_mermaid(result) if fmt == "mermaid" else render_dot(result), nl=False)


@main.command("diff")
@click.argument("old", type=str)
@click.argument("new", type=str)
@format_option(PLAN_FORMATS)
@click.option("--tier", type=click.IntRange(1, 5), help="Plan both for this tier.")
@budget_option("A budget for NEW besides its spec's: exit 1 (RP400) when NEW may cost more.")
@spec_inputs()
@selection_options
def diff_command(
    old: str,
    new: str,
    fmt: str,
    tier: int | None,
    max_credits: str | None,
    inputs: SpecInputs,
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
    given = _Checking.of(inputs)
    before = _plan_or_exit(old, given, options=PlanOptions(tier=tier))
    after = _plan_or_exit(
        new,
        given,
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
