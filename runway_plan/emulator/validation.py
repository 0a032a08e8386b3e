"""The emulator's use of the validator: the same rules the linter applies, as API issues.

Generation bodies go through :func:`runway_plan.validate.validate_request` and avatar and
document bodies through :func:`runway_plan.validate.validate_resource`, so the emulator refuses
exactly what ``runway-plan validate`` reports.
"""

from __future__ import annotations

from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.diagnostics.issue import Issue
from runway_plan.validate import validate_request
from runway_plan.validate import validate_resource as _validate_resource

__all__ = ["Issue", "validate_body", "validate_resource"]


def validate_body(catalog: Catalog, endpoint: str, body: dict[str, Any]) -> list[Issue]:
    """Why the API would refuse ``body`` on ``endpoint`` (empty when it accepts it)."""
    return validate_request(catalog, endpoint, body)


def validate_resource(catalog: Catalog, resource: str, body: dict[str, Any]) -> list[Issue]:
    """Why the API would refuse ``body`` as a ``resource`` (``avatar_create``, ...)."""
    return _validate_resource(catalog, resource, body)
