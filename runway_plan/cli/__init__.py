"""The ``runway-plan`` command line; each command module registers itself on :data:`main`."""

from runway_plan.cli import lint  # noqa: F401  (registers its commands)
from runway_plan.cli.app import main

__all__ = ["main"]
