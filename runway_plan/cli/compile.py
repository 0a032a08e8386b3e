"""``compile``: the requests a run of a spec will send, rendered for review."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runway_plan.cli.app import EXIT_FAILED, echo_diagnostics, format_option, main
from runway_plan.cli.options import SpecInputs, spec_inputs
from runway_plan.diagnostics import has_errors, sort_diagnostics
from runway_plan.diagnostics.display import json_text
from runway_plan.performance import cyclic_gc_paused
from runway_plan.plan.requests import compiled_requests, requests_yaml
from runway_plan.validate import check_file


@main.command("compile")
@click.argument("spec", type=click.Path(path_type=Path))
@format_option(("yaml", "json"))
@spec_inputs()
def compile_command(
    spec: Path,
    fmt: str,
    inputs: SpecInputs,
) -> None:
    """Print the requests a run of SPEC will send, as the API will receive them.

    One entry per generation (fan-outs expanded, templates rendered), in the order a run
    starts them: its key and step, `POST /v1/<endpoint>`, its model, the generations whose
    outputs it uses, and its body. Media the run supplies are shown, never inlined: an
    upstream output as {$output: GENERATION, index: I}, a local file as {$file: PATH,
    media, bytes, sha256}, a data URI as {$data: TYPE, bytes, sha256}. A spec with errors
    prints them (on standard error) and exits 1.
    """
    work_limits = inputs.limits()
    catalog = inputs.catalog(work_limits)
    overrides = inputs.overrides()
    with cyclic_gc_paused():
        graph, diagnostics = check_file(spec, catalog, overrides, work_limits, allow=inputs.allow)
    if not has_errors(diagnostics):
        document, problems = compiled_requests(graph)
        diagnostics = sort_diagnostics([*diagnostics, *problems])
    if diagnostics:
        echo_diagnostics(diagnostics, graph.document, err=True)
    if has_errors(diagnostics):
        sys.exit(EXIT_FAILED)
    click.echo(json_text(document) if fmt == "json" else requests_yaml(document), nl=fmt == "json")
