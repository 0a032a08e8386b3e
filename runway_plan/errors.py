"""The root of the library's exceptions.

Bad input in a spec is never an exception (it is a :class:`~runway_plan.diagnostics.Diagnostic`);
what the library does raise (a catalog it cannot read, a state folder another run holds, an
API that refuses a request) derives from :class:`RunwayPlanError`, so a caller can catch them
all with one ``except``.
"""

from __future__ import annotations

__all__ = ["RunwayPlanError"]


class RunwayPlanError(Exception):
    """Every exception runway-plan raises on purpose derives from this one."""
