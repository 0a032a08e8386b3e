"""The ``runway-plan`` command line.

Exit codes follow ruff and dbt: 0 clean, 1 the spec has errors (or steps failed), 2 usage or
internal errors.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from runway_plan import __version__
from runway_plan.catalog import Catalog, CatalogError, load_catalog
from runway_plan.diagnostics import CODES, has_errors
from runway_plan.diagnostics.codes import codes_markdown
from runway_plan.diagnostics.render import FORMATS, render
from runway_plan.spec import json_schema
from runway_plan.validate import check_file

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parse_vars(values: tuple[str, ...]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for option in values:
        key, sep, raw = option.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{option}' is not key=value", param_hint="--var")
        try:
            parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            parsed[key.strip()] = raw
    return parsed


def _catalog(path: Path | None) -> Catalog:
    try:
        return load_catalog(path)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:  # the boundary: never show a traceback for a bug
            if os.environ.get("RUNWAY_PLAN_DEBUG"):
                raise
            click.echo(
                f"runway-plan: internal error: {type(exc).__name__}: {exc}\n"
                "please report it; set RUNWAY_PLAN_DEBUG=1 for the traceback",
                err=True,
            )
            ctx.exit(EXIT_USAGE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runway-plan")
def main() -> None:
    """Compile, validate, price and run Runway generation pipelines."""


_format = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="How to print diagnostics.",
)
_vars = click.option(
    "--var", "variables", multiple=True, metavar="KEY=VALUE",
    help="Set a template variable (YAML value); overrides the spec's vars.",
)
_catalog_option = click.option(
    "--catalog", "catalog_path", type=click.Path(path_type=Path, file_okay=False),
    help="Use the catalog in this directory instead of the packaged one.",
)


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@_format
@_vars
@_catalog_option
def validate(specs: tuple[Path, ...], fmt: str, variables: tuple[str, ...],
             catalog_path: Path | None) -> None:
    """Check SPECS against every model constraint and report every problem at once."""
    overrides = _parse_vars(variables)
    catalog = _catalog(catalog_path)
    started = time.perf_counter()
    everything = []
    for spec in specs:
        _graph, diagnostics = check_file(spec, catalog, overrides)
        everything.extend(diagnostics)
    click.echo(render(everything, fmt, version=__version__), nl=False)
    errors = sum(d.is_error for d in everything)
    others = len(everything) - errors
    elapsed = time.perf_counter() - started
    if fmt == "text":
        summary = (
            f"{errors} error{'s' * (errors != 1)}, {others} other diagnostic{'s' * (others != 1)}"
            if everything
            else "no problems"
        )
        click.echo(f"{len(specs)} spec{'s' * (len(specs) != 1)} checked in {elapsed:.2f}s: "
                   f"{summary}", err=True)
    sys.exit(EXIT_FAILED if has_errors(everything) else EXIT_OK)


@main.command()
@_catalog_option
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the schema here instead of standard output.")
def schema(catalog_path: Path | None, output: Path | None) -> None:
    """Print the JSON Schema of the spec language (for editors and CI)."""
    text = json.dumps(json_schema(_catalog(catalog_path)), indent=2, sort_keys=True) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@main.command()
@click.option("--markdown", is_flag=True, help="Print the reference page (docs/diagnostics.md).")
def codes(markdown: bool) -> None:
    """List every diagnostic code."""
    if markdown:
        click.echo(codes_markdown(), nl=False)
        return
    for code, info in CODES.items():
        click.echo(f"{code}  {info.severity:<7}  {info.title}")
