"""What the API client hands back and reads from the API's objects: a created task, a verified
download, a task's credits, a URL without its signature, a data URI, and the retry policy.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Created",
    "Downloaded",
    "RetryPolicy",
    "data_uri",
    "invocation_as_task",
    "invocation_id",
    "routed_model",
    "strip_query",
    "task_cost",
    "task_estimate",
]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    Attempt ``n`` (from 1) waits ``min(cap, base * 2**(n-1))`` seconds less up to 50 %
    jitter, divided by ``scale`` (the emulator's speed, when time is compressed), but never
    less than the server's ``Retry-After`` (capped at ``max_retry_after`` seconds, which
    ``scale`` does not shorten: it is the server's wall time).  API requests get
    ``attempts`` tries in all; downloads and uploads of paid work get ``transfer_attempts``.
    """

    attempts: int = 6
    transfer_attempts: int = 10
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    scale: float = 1.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt``."""
        backoff = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        backoff *= 1.0 - 0.5 * random.random()
        backoff /= self.scale
        if retry_after is not None and retry_after > 0:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff


@dataclass(frozen=True, slots=True)
class Created:
    """A task the API made: its id and the most credits it may charge; for a generate
    request, the model its router picked (``routing.model``)."""

    task_id: str
    estimated: Decimal | None
    routed_model: str | None = None


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A verified download: content hash, size and media type."""

    sha256: str
    size: int
    mime: str | None


def strip_query(url: str) -> str:
    """``url`` without its query (a signed URL's signature is a capability: keep it out of
    logs and manifests)."""
    parts = urlsplit(url)
    suffix = "?…" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{suffix}"


def _credits(value: Any) -> Decimal | None:
    if isinstance(value, dict):
        value = value.get("credits")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def task_cost(task: Mapping[str, Any]) -> Decimal | None:
    """The final ``cost.credits`` of a terminal task (None when the API does not say)."""
    return _credits(task.get("cost"))


def task_estimate(task: Mapping[str, Any]) -> Decimal | None:
    """The ``estimatedCost.credits`` of a task in flight (a generate request's answer has it
    in its ``routing``: runwayml 5.24.0 types/generate/video_create_response.py)."""
    found = _credits(task.get("estimatedCost"))
    routing = task.get("routing")
    if found is None and isinstance(routing, dict):
        found = _credits(routing.get("estimatedCost"))
    return found


def routed_model(answer: Mapping[str, Any]) -> str | None:
    """The model a generate request's router picked (``routing.model``), if the answer says."""
    routing = answer.get("routing")
    model = routing.get("model") if isinstance(routing, dict) else None
    return model if isinstance(model, str) and model else None


def data_uri(data: bytes, mime: str) -> str:
    """A base64 ``data:`` URI."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# ---- workflows (an additive block) ---------------------------------------------------------

INVOCATION_PREFIX = "workflow_invocations/"
"""How the journal names a workflow invocation where it names tasks: ``workflow_invocations/<id>``
(the path it is read at), so that a resumed run polls it, never runs the workflow again."""


def invocation_id(task_id: str) -> str | None:
    """The invocation id a journal task id names (None: it names a task)."""
    if task_id.startswith(INVOCATION_PREFIX):
        return task_id[len(INVOCATION_PREFIX) :]
    return None


def invocation_as_task(body: Mapping[str, Any]) -> dict[str, Any]:
    """A workflow invocation (runwayml 5.24.0 ``WorkflowInvocationRetrieveResponse``) read as a
    task: the same statuses (THROTTLED waits as PENDING does), ``output`` the URLs of every node
    in the order the API lists them (``outputNodes`` the node of each), ``cost`` as reported, and
    a failure that names the nodes that failed."""
    task: dict[str, Any] = {
        key: body[key] for key in ("status", "createdAt", "progress", "cost") if key in body
    }
    task["id"] = f"{INVOCATION_PREFIX}{body.get('id', '')}"
    output = body.get("output")
    if isinstance(output, dict):
        nodes = [(str(node), urls) for node, urls in output.items() if isinstance(urls, list)]
        task["output"] = [url for _, urls in nodes for url in urls if isinstance(url, str)]
        task["outputNodes"] = [node for node, urls in nodes for url in urls if isinstance(url, str)]
    failure = body.get("failure")
    errors = body.get("nodeErrors")
    if isinstance(failure, str):
        named = []
        if isinstance(errors, dict):
            for node, error in errors.items():
                if isinstance(error, dict):
                    label = error.get("nodeName") or node
                    named.append(f"{label}: {error.get('message', '')}".strip())
        task["failure"] = failure + (f" (nodes: {'; '.join(named)})" if named else "")
        code = body.get("failureCode")
        if not isinstance(code, str) and isinstance(errors, dict):
            codes = [e.get("failureCode") for e in errors.values() if isinstance(e, dict)]
            code = next((c for c in codes if isinstance(c, str)), None)
        if isinstance(code, str):
            task["failureCode"] = code
    return task
