"""What keeps runway-plan fast: the cyclic collector kept out of large builds and imports (by
the command line, never by a library call), and packages that import their public names only
when they are first used."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["cyclic_gc_paused", "imports_frozen", "lazy_attributes"]


def lazy_attributes(
    package: str, namespace: dict[str, Any], homes: Mapping[str, str]
) -> Callable[[str], Any]:
    """A package's ``__getattr__`` (PEP 562) importing each public name on first use.

    ``homes`` maps a name to the module it lives in, relative to ``package``; a name once
    imported is kept in the package's ``namespace``, so later uses cost nothing.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    return __getattr__


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large spec's tree is built.

    Loading builds hundreds of thousands of small acyclic objects; each automatic collection
    would walk them all again (more than half the time of load, validate and plan on a
    10,000-step spec).  Reference counting still frees everything; cycles, if any, are
    collected once it resumes.  For the command line's edge only (around ``check_file`` and
    ``plan``): the library never changes its host's collector.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def imports_frozen() -> Iterator[None]:
    """Import a command's modules with the cyclic collector off, then freeze what they made.

    Imports build pydantic's and Jinja's machinery, a great many small objects that live as
    long as the process; collecting meanwhile costs a tenth of a short command's time and finds
    nothing.  ``gc.freeze`` moves them out of every later collection's way.  For the command
    line only: a library must not freeze its host's objects.
    """
    with cyclic_gc_paused():
        yield
        gc.freeze()
