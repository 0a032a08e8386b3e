"""``validate``, ``schema`` and ``codes``: the linter's commands."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from runway_plan import __version__
from runway_plan.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    catalog_option,
    format_option,
    load_catalog_or_fail,
    main,
)
from runway_plan.cli.options import SpecInputs, spec_inputs
from runway_plan.cli.selection import VALIDATE_STAGES, apply_selection, selection_options
from runway_plan.diagnostics import CODES, has_errors
from runway_plan.diagnostics.codes import codes_markdown
from runway_plan.diagnostics.display import display, display_lines
from runway_plan.diagnostics.frame import wants_color
from runway_plan.diagnostics.render import FORMATS, render
from runway_plan.diagnostics.selection import Selection
from runway_plan.performance import cyclic_gc_paused
from runway_plan.spec_schema import json_schema
from runway_plan.validate import check_file


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(FORMATS)
@spec_inputs()
@selection_options
def validate(
    specs: tuple[Path, ...],
    fmt: str,
    inputs: SpecInputs,
    selection: Selection,
) -> None:
    """Check SPECS against every model constraint and report every problem at once.

    A SPEC that cannot be read (missing, a directory, not a regular file, too large) is a
    diagnostic of its own; the others are still checked.  A comment
    `# runway-plan: ignore[RP404]` at the end of a spec's line suppresses those codes there.
    """
    overrides = inputs.overrides()
    work_limits = inputs.limits()
    catalog = inputs.catalog(work_limits)
    started = time.perf_counter()
    found = []
    graphs = []
    sources: dict[str, str] = {}
    for spec in specs:
        with cyclic_gc_paused():
            graph, diagnostics = check_file(
                spec, catalog, overrides, work_limits, allow=inputs.allow
            )
        found.extend(diagnostics)
        graphs.append(graph)
        sources[graph.document.source_map.path] = graph.document.text
    selected = apply_selection(selection, found, graphs, stages=VALIDATE_STAGES)
    everything = selected.diagnostics
    color = fmt == "text" and wants_color(sys.stdout)
    text = render(everything, fmt, version=__version__, sources=sources, color=color)
    click.echo(text, nl=False, color=color)
    if fmt == "text":
        errors = sum(d.is_error for d in everything)
        others = len(everything) - errors
        summary = (
            f"{errors} error{'s' * (errors != 1)}, {others} warning{'s' * (others != 1)} or note"
            f"{'s' * (others != 1)}"
            if everything
            else "no problems"
        )
        if selected.summary():
            summary += f"; {selected.summary()}"
        elapsed = time.perf_counter() - started
        names = (
            ", ".join(display(str(s)) for s in specs) if len(specs) <= 3 else f"{len(specs)} specs"
        )
        click.echo(display_lines(f"{names}: {summary} ({elapsed:.2f}s)"), err=True)
    elif selected.summary():
        click.echo(f"runway-plan: {selected.summary()}", err=True)
    sys.exit(EXIT_FAILED if has_errors(everything) else EXIT_OK)


@main.command()
@catalog_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the schema here instead of standard output.",
)
def schema(catalog_path: Path | None, output: Path | None) -> None:
    """Print the JSON Schema of the spec language (for editors and CI)."""
    text = json.dumps(json_schema(load_catalog_or_fail(catalog_path)), indent=2, sort_keys=True)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


@main.command()
@click.option("--markdown", is_flag=True, help="Print the reference page (docs/diagnostics.md).")
def codes(markdown: bool) -> None:
    """List every diagnostic code."""
    if markdown:
        click.echo(codes_markdown(), nl=False)
        return
    for code, info in CODES.items():
        click.echo(f"{code}  {info.severity:<7}  {info.title}")
