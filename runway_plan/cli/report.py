"""``report``: one self-contained HTML page of a spec's last run, or of its plan when it has
no run; and the page ``run --report`` writes at the end of a run.

Exit codes: 0 written, 1 the spec has errors and no run to report, 2 usage (no such run, a
manifest that cannot be read, an output file that is not a report).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runway_plan.catalog import Catalog
from runway_plan.cli.app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, echo_diagnostics, main, parse_vars
from runway_plan.cli.options import SpecInputs, emulate_option, spec_inputs, state_option
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, has_errors
from runway_plan.execute import Layout, RunResult, layout_of
from runway_plan.html_report import ReportError, Written, write_report
from runway_plan.performance import cyclic_gc_paused
from runway_plan.source import Document
from runway_plan.validate import check_file

__all__ = ["report_after_run", "report_command"]


class _UsageFailure(click.ClickException):
    """A problem with the command's inputs or environment: exit 2."""

    exit_code = EXIT_USAGE


def _say(written: Written, *, err: bool) -> None:
    for note in written.notes:
        click.echo(f"runway-plan: {note}", err=True)
    what = f"run {written.run}" if written.run is not None else "plan"
    click.echo(f"report ({what}): {written.path}", err=err)


def _checked(
    spec: Path, catalog: Catalog, variables: tuple[str, ...], allow: tuple[Path, ...]
) -> tuple[Graph | None, list[Diagnostic], Document]:
    overrides = parse_vars(variables)
    with cyclic_gc_paused():
        graph, diagnostics = check_file(spec, catalog, overrides, allow=allow)
    return (None if has_errors(diagnostics) else graph), diagnostics, graph.document


@main.command("report")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@state_option("State folder the runs are in [default: .runway-plan/<spec>/ beside the spec].")
@emulate_option("Report the runs made with --emulate.")
@click.option(
    "--run",
    "run_id",
    type=click.IntRange(min=1),
    metavar="N",
    help="Report run N [default: the latest].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the page to FILE [default: report.html beside the run's manifest; for a plan, "
    "in the state folder]. An existing FILE is replaced only if it is a report.",
)
@click.option(
    "--inline",
    is_flag=True,
    help="Embed the outputs in the page as data: URIs (64 MB at most; the rest stay linked), "
    "so that it can be shared without the outputs folder.",
)
@spec_inputs(limits=False)
def report_command(
    spec: Path,
    state_dir: Path | None,
    emulate: bool,
    run_id: int | None,
    output: Path | None,
    inline: bool,
    inputs: SpecInputs,
) -> None:
    """Write one HTML page of SPEC's last run (or of its plan, when it has none).

    The page shows the step graph, the planned schedule beside the run's real timeline, per
    step and generation the planned and billed credits, prompt, request, status and failure
    reason, and every output (images, video and audio players, a contact sheet per fan-out),
    each linked to its file with its sha256. It needs no network; its media are linked by
    relative paths, so keep it where it was written (or use --inline to share it).
    """
    catalog = inputs.catalog()
    where = layout_of(spec, state=state_dir, emulate=emulate)
    graph, diagnostics, document = _checked(spec, catalog, inputs.variables, inputs.allow)
    try:
        written = write_report(
            where,
            graph=graph,
            catalog=catalog,
            diagnostics=diagnostics,
            run=run_id,
            output=output,
            inline=inline,
        )
    except ReportError as exc:
        if graph is None:
            echo_diagnostics(diagnostics, document, err=True)
            click.echo(f"runway-plan: {exc}", err=True)
            sys.exit(EXIT_FAILED)
        raise _UsageFailure(str(exc)) from None
    _say(written, err=False)
    sys.exit(EXIT_OK)


def report_after_run(
    where: Layout, graph: Graph, catalog: Catalog, result: RunResult, *, err: bool
) -> None:
    """``run --report``: write the report of the run ``result``, or of the plan when it
    never started, and say where.  A report that cannot be written is said on standard
    error, and makes a run that succeeded exit 2."""
    try:
        written = write_report(
            where,
            graph=graph,
            catalog=catalog,
            diagnostics=[],
            run=result.run_id,
            plan_only=result.run_id is None,
        )
    except ReportError as exc:
        click.echo(f"runway-plan: no report: {exc}", err=True)
        if result.exit_code == EXIT_OK:
            sys.exit(EXIT_USAGE)
        return
    _say(written, err=err)
