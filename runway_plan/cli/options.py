"""The options several commands share, written once.

A spec's inputs (``--var``, ``--limit``, ``--allow-path``, ``--catalog``) reach a command as
one :class:`SpecInputs`, read when the command asks (so each command keeps the order of its
usage errors); a spec's run state and API (``--state``, ``--emulate``, ``--base-url``) are
options whose help each command words for itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runway_plan.cli.app import (
    allow_option,
    catalog_option,
    limits_option,
    load_catalog_or_fail,
    parse_limits,
    parse_vars,
    vars_option,
)

if TYPE_CHECKING:
    from runway_plan.catalog import Catalog

__all__ = [
    "SpecInputs",
    "base_url_option",
    "emulate_option",
    "spec_inputs",
    "state_option",
]

_Command = TypeVar("_Command", bound=Callable[..., Any])


@dataclass(frozen=True)
class SpecInputs:
    """What the command line adds to a spec: ``--var``, ``--limit`` and ``--allow-path`` as
    given, and the ``--catalog`` folder."""

    variables: tuple[str, ...] = ()
    limit_values: tuple[str, ...] = ()
    allow: tuple[Path, ...] = ()
    catalog_path: Path | None = None

    def overrides(self) -> dict[str, Any]:
        """The ``--var`` values (a usage error names one that is not KEY=VALUE)."""
        return parse_vars(self.variables)

    def limits(self) -> dict[str, int]:
        """The ``--limit`` work limits (a usage error names one that is not NAME=N)."""
        return parse_limits(self.limit_values)

    def catalog(self, limits: dict[str, int] | None = None) -> Catalog:
        """The catalog (``--catalog``, else the packaged one), read within ``limits``; a
        usage error when it cannot be read."""
        return load_catalog_or_fail(self.catalog_path, limits)


def spec_inputs(*, limits: bool = True) -> Callable[[_Command], _Command]:
    """Add ``--var``, ``--limit`` (unless ``limits`` is False), ``--allow-path`` and
    ``--catalog``; the command receives them as one ``inputs`` argument (a
    :class:`SpecInputs`)."""
    options = [vars_option, *([limits_option] if limits else []), allow_option, catalog_option]

    def decorate(command: _Command) -> _Command:
        @functools.wraps(command)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            kwargs["inputs"] = SpecInputs(
                variables=kwargs.pop("variables"),
                limit_values=kwargs.pop("limits", ()),
                allow=kwargs.pop("allow_paths"),
                catalog_path=kwargs.pop("catalog_path"),
            )
            return command(*args, **kwargs)

        decorated: Any = wrapped
        for option in reversed(options):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


def state_option(description: str | None = None) -> Callable[[_Command], _Command]:
    """``--state DIR``, a spec's run state folder, given to the command as ``state_dir``."""
    return click.option(
        "--state", "state_dir", type=click.Path(path_type=Path, file_okay=False), help=description
    )


def emulate_option(description: str) -> Callable[[_Command], _Command]:
    """``--emulate``: the state and API of ``run --emulate``."""
    return click.option("--emulate", is_flag=True, help=description)


def base_url_option(description: str | None = None) -> Callable[[_Command], _Command]:
    """``--base-url URL`` (or ``RUNWAYML_BASE_URL``), the API's base URL."""
    return click.option("--base-url", envvar="RUNWAYML_BASE_URL", metavar="URL", help=description)
