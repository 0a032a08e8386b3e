"""An API issue: why the API refuses a request, field by field.

One type for the three places that speak of it: the validator's answer for a bare request body
(:func:`runway_plan.validate.validate_request`), the emulator's ``issues[]`` of a 400 body, and
the client's reading of that body (:class:`runway_plan.execute.client.RequestRejected`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Issue"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One reason a request is refused: the field's JSON path, a message and, when this project
    found it, the code of its diagnostic (empty when the API said it)."""

    path: tuple[str | int, ...]
    message: str
    code: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The ``issues[]`` item of a 400 body (the code stays ours)."""
        return {"path": list(self.path), "message": self.message}
