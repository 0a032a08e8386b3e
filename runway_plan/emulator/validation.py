"""The emulator's use of the validator: the same rules the linter applies, as API issues.

Generation bodies go through :func:`runway_plan.validate.validate_request` and avatar and
document bodies through :func:`runway_plan.validate.validate_resource`, so the emulator refuses
exactly what ``runway-plan validate`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.validate import RequestIssue, validate_request
from runway_plan.validate import validate_resource as _validate_resource

__all__ = ["Issue", "validate_body", "validate_resource"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One reason a request is refused: the JSON path of the field and a message."""

    path: tuple[str | int, ...]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The ``issues[]`` item of a 400 body."""
        return {"path": list(self.path), "message": self.message}


def _issues(found: list[RequestIssue]) -> list[Issue]:
    return [Issue(tuple(issue.path), issue.message) for issue in found]


def validate_body(catalog: Catalog, endpoint: str, body: dict[str, Any]) -> list[Issue]:
    """Why the API would refuse ``body`` on ``endpoint`` (empty when it accepts it)."""
    return _issues(validate_request(catalog, endpoint, body))


def validate_resource(catalog: Catalog, resource: str, body: dict[str, Any]) -> list[Issue]:
    """Why the API would refuse ``body`` as a ``resource`` (``avatar_create``, ...)."""
    return _issues(_validate_resource(catalog, resource, body))
