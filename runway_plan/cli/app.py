"""The ``runway-plan`` command group and the options its commands share.

Exit codes follow ruff and dbt: 0 clean, 1 the spec has errors (or steps failed), 2 usage or
internal errors; and the shell's for a program ended by a signal: 130 interrupted (Ctrl-C),
141 standard output closed (``runway-plan codes | head -1``), both without a message.  Each
command lives in its own module of this package and registers itself on :data:`main`.
"""

from __future__ import annotations

import errno
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from runway_plan import __version__
from runway_plan.catalog import Catalog, CatalogError, load_catalog
from runway_plan.diagnostics import Diagnostic
from runway_plan.diagnostics.frame import wants_color
from runway_plan.diagnostics.render import render
from runway_plan.limits import LIMIT_NAMES, WorkLimits
from runway_plan.source import Document, parse_document

__all__ = [
    "EXIT_CLOSED_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "allow_option",
    "api_key_or_fail",
    "catalog_option",
    "echo_diagnostics",
    "emulator_or_fail",
    "format_option",
    "limits_option",
    "load_catalog_or_fail",
    "main",
    "parse_limits",
    "parse_vars",
    "vars_option",
    "version_text",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""Ctrl-C, or a prompt's ``click.Abort``: 128 + SIGINT, as a shell reports a program it ended."""
EXIT_CLOSED_PIPE = 141
"""Standard output closed by its reader: 128 + SIGPIPE, as a shell reports git in
``git log | head -1``."""

_Command = TypeVar("_Command", bound=Callable[..., Any])


class _UsageError(click.ClickException):
    """A problem with the command's inputs (a catalog, a ``--var``, a ``--limit``): exit 2."""

    exit_code = EXIT_USAGE


def _first_problem(document: Document) -> str:
    problem = next(d for d in document.diagnostics if d.is_error)
    where = f"{problem.span}: " if problem.span else ""
    return f"{where}{problem.code} {problem.message}"


def _var_value(key: str, raw: str) -> Any:
    """A JSON value (``5``, ``true``, ``["a"]``), a YAML flow collection, or else the string.

    Plain words stay strings: ``1:1`` is a ratio and ``no`` a language, not YAML 1.1 numbers
    and booleans.  Values are read by the spec's own loader, with its bounds: a value that is
    JSON or YAML but holds what a spec may not (``!!bool maybe``, an alias bomb, ``NaN``,
    nesting past 100 levels) is a usage error naming the place.
    """
    name = f"--var {key}"
    document = parse_document(raw, name, syntax="json")
    if document.syntax_error and raw.lstrip().startswith(("[", "{")):
        document = parse_document(raw, name, syntax="yaml")
    if document.syntax_error:
        return raw
    if any(d.is_error for d in document.diagnostics):
        raise click.BadParameter(_first_problem(document), param_hint="--var")
    return document.data


def parse_vars(values: tuple[str, ...]) -> dict[str, Any]:
    """``--var key=value`` options as a dict (see :func:`_var_value` for how values are read)."""
    parsed: dict[str, Any] = {}
    for option in values:
        key, sep, raw = option.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{option}' is not key=value", param_hint="--var")
        parsed[key.strip()] = _var_value(key.strip(), raw)
    return parsed


def parse_limits(values: tuple[str, ...]) -> dict[str, int]:
    """``--limit NAME=N`` options as a dict of work limits (see :mod:`runway_plan.limits`)."""
    parsed: dict[str, int] = {}
    for option in values:
        name, sep, raw = option.partition("=")
        name = name.strip()
        if not sep or name not in LIMIT_NAMES:
            raise click.BadParameter(
                f"'{option}' is not NAME=N with NAME one of {', '.join(LIMIT_NAMES)}",
                param_hint="--limit",
            )
        try:
            value = int(raw.replace("_", "").replace(",", ""))
        except ValueError:
            value = 0
        if not 0 < value < 2**63:
            raise click.BadParameter(
                f"'{option}': {name} takes a whole number of at least 1", param_hint="--limit"
            )
        parsed[name] = value
    return parsed


def echo_diagnostics(
    diagnostics: Sequence[Diagnostic], document: Document | None, *, err: bool = False
) -> None:
    """Write ``diagnostics`` as text, each with the frame of its span in ``document`` (the
    spec they are about), coloured when written to a terminal (see ``wants_color``)."""
    color = wants_color(sys.stderr if err else sys.stdout)
    sources = {document.source_map.path: document.text} if document is not None else {}
    text = render(diagnostics, "text", sources=sources, color=color)
    click.echo(text, nl=False, err=err, color=color)


def emulator_or_fail(what: str, *, serve: bool = False) -> None:
    """A usage error (exit 2) saying how to install the ``emulator`` extra when its packages
    are missing: Starlette for the emulator itself, uvicorn too to serve it (``serve``)."""
    needed = ("starlette", "uvicorn") if serve else ("starlette",)
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise _UsageError(
            f"{what} needs the emulator's packages ({', '.join(missing)} missing): "
            "pip install 'runway-plan[emulator]'"
        )


def load_catalog_or_fail(path: Path | None, limits: dict[str, int] | None = None) -> Catalog:
    """The catalog, or a usage error (exit 2) naming what is wrong with it.

    A catalog directory is read as a spec is: each file within the ``file_bytes`` limit (of
    ``limits``, from ``--limit``, else its default).
    """
    max_bytes = WorkLimits().merged(limits or {}).file_bytes
    try:
        return load_catalog(path, max_bytes=max_bytes)
    except CatalogError as exc:
        raise _UsageError(str(exc)) from exc


class _Group(click.Group):
    """Loads a command's module on first use, so `validate` does not pay for `run`'s imports."""

    lazy_modules: dict[str, str] = {}  # noqa: RUF012 - filled by runway_plan.cli

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_modules})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self.lazy_modules.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(module)
        return super().get_command(ctx, cmd_name)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except OSError as exc:  # --help or --version written into a closed pipe
            if exc.errno != errno.EPIPE:
                raise
            raise _closed_pipe() from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:  # the boundary: never show a traceback for a bug
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise _closed_pipe() from None
            if os.environ.get("RUNWAY_PLAN_DEBUG"):
                raise
            click.echo(
                f"runway-plan: internal error: {type(exc).__name__}: {exc}\n"
                "please report it; set RUNWAY_PLAN_DEBUG=1 for the traceback",
                err=True,
            )
            ctx.exit(EXIT_USAGE)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line and exit with its code.

        Replaces click's ending of a standalone run, which gives Ctrl-C, ``click.Abort`` and
        a closed pipe code 1, the code of a spec with errors, and prints ``Aborted!``: here
        they end quietly with :data:`EXIT_INTERRUPTED` and :data:`EXIT_CLOSED_PIPE`.
        """
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            try:
                outcome = super().main(
                    args, prog_name, complete_var, standalone_mode=False, **extra
                )
            except click.ClickException as exc:
                exc.show()
                code: Any = exc.exit_code
            except SystemExit as exc:
                code = exc.code
            else:
                code = outcome if isinstance(outcome, int) else EXIT_OK
            sys.stdout.flush()
        except (KeyboardInterrupt, click.Abort):  # click has ended the terminal's ^C line
            code = EXIT_INTERRUPTED
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            code = _closed_pipe().exit_code
        sys.exit(code)


def _closed_pipe() -> click.exceptions.Exit:
    """The quiet end of a command whose reader has gone (``runway-plan codes | head -1``).

    Standard output is pointed at the null device, or Python's flush of what is left in its
    buffer would fail again at exit and print "Exception ignored ...".
    """
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass  # not a file descriptor (click's test runner): nothing is flushed at exit
    return click.exceptions.Exit(EXIT_CLOSED_PIPE)


def version_text() -> str:
    """What ``--version`` prints: runway-plan's version, then its packaged catalog's (the
    runwayml SDK its request types were generated from, and the versions of the hand-kept
    overlay, prices and tiers), or why the catalog cannot be read."""
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        return f"runway-plan {__version__}\ncatalog: cannot be read ({exc})"
    return (
        f"runway-plan {__version__}\n"
        f"catalog {catalog.version}: request types from the runwayml Python SDK "
        f"{catalog.constraints.sdk_version}, overlay {catalog.overlay.version}, prices "
        f"{catalog.prices.version}, tiers {catalog.tiers.version} (sha256 {catalog.digest[:12]})"
    )


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_text())
        ctx.exit(EXIT_OK)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version, and the catalog's (SDK, overlay, prices, tiers), and exit.",
)
def main() -> None:
    """Compile, validate, price and run Runway generation pipelines.

    Shell completion: eval "$(_RUNWAY_PLAN_COMPLETE=bash_source runway-plan)" in ~/.bashrc
    (zsh_source in ~/.zshrc; fish_source for fish). See the README.
    """


def format_option(
    choices: tuple[str, ...], description: str = "Output format."
) -> Callable[[_Command], _Command]:
    """``--format`` with ``choices``, text first; ``description`` is its help text."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=description,
    )


def api_key_or_fail(missing: str) -> str:
    """The API key from RUNWAYML_API_SECRET, or a usage error that says ``missing``."""
    key = os.environ.get("RUNWAYML_API_SECRET", "").strip()
    if not key:
        raise click.UsageError(missing)
    return key


allow_option = click.option(
    "--allow-path",
    "allow_paths",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Let the spec read local files in DIR too (repeatable). By default a spec reads "
    "only files inside its repository (or its folder, outside a repository).",
)
vars_option = click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a template variable; VALUE is read as JSON (5, true, [1, 2]), else as a YAML "
    "flow list or mapping ([a, b], {k: v}), else as a string; overrides the spec's vars.",
)
limits_option = click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="NAME=N",
    help="Raise (or lower) a work limit for checking and planning a spec: "
    + ", ".join(LIMIT_NAMES)
    + " (README: Work limits).",
)
catalog_option = click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(path_type=Path, file_okay=False),
    help="Use the catalog in this directory instead of the packaged one.",
)
