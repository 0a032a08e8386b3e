"""The executor's exception tree (drawn in :mod:`runway_plan.execute.client`, which raises it)."""

from __future__ import annotations

from runway_plan.diagnostics.issue import Issue
from runway_plan.errors import RunwayPlanError

__all__ = [
    "ApiError",
    "AuthenticationFailed",
    "ExecuteError",
    "NotSent",
    "OutcomeUnknown",
    "RequestRejected",
    "ResourceNotFound",
    "TaskNotFound",
    "TransferFailed",
    "Unavailable",
    "UrlExpired",
]


class ExecuteError(RunwayPlanError):
    """Base of the errors the executor raises on purpose."""


class ApiError(ExecuteError):
    """An exchange with the API went wrong; ``status`` is the HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RequestRejected(ApiError):
    """The API refused the request (400, 404, 422, ...); ``issues`` are its field issues."""

    def __init__(self, message: str, status: int, issues: list[Issue]) -> None:
        super().__init__(message, status)
        self.issues = issues


class AuthenticationFailed(RequestRejected):
    """401 or 403: the API key is missing, wrong or disabled."""


class TaskNotFound(ApiError):
    """404 on ``/v1/tasks/{id}``."""


class ResourceNotFound(ApiError):
    """404 on ``/v1/documents/{id}`` or ``/v1/avatars/{id}``: the object is gone."""


class Unavailable(ApiError):
    """The API could not be reached, or kept answering 408/429/5xx through every retry."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class NotSent(Unavailable):
    """A create that certainly did not reach the API: safe to send again."""


class OutcomeUnknown(ApiError):
    """A create that may have reached the API and made a task whose id is unknown."""


class TransferFailed(ExecuteError):
    """An upload or a download failed, or a download did not verify."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UrlExpired(TransferFailed):
    """An output URL is no longer valid (403/404/410): fetch the task again."""
