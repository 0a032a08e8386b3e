"""The executor's only HTTP boundary: the Runway API, its upload targets and its output files.

The client wraps an injected :class:`httpx.AsyncClient` (tests pass an
``httpx.MockTransport`` or an ``httpx.ASGITransport`` over the emulator) and translates every
library error here, into this tree::

    ExecuteError
     ├── ApiError                     an exchange with the API went wrong
     │    ├── RequestRejected         a 4xx other than 408/429: retrying cannot help
     │    │    └── AuthenticationFailed    401 or 403: the key is missing, wrong or disabled
     │    ├── TaskNotFound            404 on a task: deleted, or another account's
     │    ├── ResourceNotFound        404 on a document or avatar: deleted remotely
     │    ├── Unavailable             transport errors, 408, 429 or 5xx outlasting the retries
     │    │    └── NotSent            a create that certainly did not reach the API
     │    └── OutcomeUnknown          a create that may have made a task
     └── TransferFailed               an upload or a download failed or did not verify
          └── UrlExpired              403/404/410 on an output URL: fetch the task again

Retries (exponential backoff with up to 50 % jitter, honouring ``Retry-After`` and
``Retry-After-Ms``; :class:`RetryPolicy`) use `tenacity`_.  Requests that cannot pay twice
(task polls, cancels, the organization, upload slots, file transfers) are retried on any
transport error, 408, 429 and 5xx.  A create is sent **once** per call:

* a connection that was never made (refused, connect or pool timeout), 408, 429 (the daily
  limit is refused at create time and makes no task) and 503 (load shed before handling)
  raise :class:`NotSent`, which the executor retries after recording that nothing was sent;
* a connection lost after the request was written (reset, read timeout, closed without a
  response) and 500, 502 and 504 (an origin or gateway failing on a request that reached it,
  which may have made the task) raise :class:`OutcomeUnknown`, never retried.

Creates of documents and avatars (``POST /v1/documents``, ``POST /v1/avatars``) follow the
same rule; their reads, PATCHes and DELETEs are idempotent and retried.

The API key is sent only to the API's base URL (never to upload targets or file hosts), and
appears in no exception message, log line or return value.

.. _tenacity: https://tenacity.readthedocs.io
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from runway_plan.execute.api_errors import (
    ApiError,
    AuthenticationFailed,
    ExecuteError,
    NotSent,
    OutcomeUnknown,
    RequestRejected,
    ResourceNotFound,
    TaskNotFound,
    TransferFailed,
    Unavailable,
    UrlExpired,
)
from runway_plan.execute.transport import (
    IDEMPOTENT_STATUS,
    ApiTransport,
    Retryable,
    retry_after,
)
from runway_plan.execute.wire import (
    INVOCATION_PREFIX,
    Created,
    Downloaded,
    RetryPolicy,
    data_uri,
    invocation_as_task,
    invocation_id,
    routed_model,
    strip_query,
    task_cost,
    task_estimate,
)
from runway_plan.plan.live import API_VERSION, DEFAULT_BASE_URL
from runway_plan.spec import WORKFLOWS

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "ApiError",
    "AuthenticationFailed",
    "Created",
    "Downloaded",
    "ExecuteError",
    "NotSent",
    "OutcomeUnknown",
    "RequestRejected",
    "ResourceNotFound",
    "RetryPolicy",
    "RunwayClient",
    "TaskNotFound",
    "TransferFailed",
    "Unavailable",
    "UrlExpired",
    "data_uri",
    "strip_query",
    "task_cost",
    "task_estimate",
]

RESOURCE_PATHS = {
    "document": "/v1/documents",
    "avatar": "/v1/avatars",
    "voice": "/v1/voices",
    "router": "/v1/routers",
}
"""The API path of each resource kind."""


_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")


def path_id(value: str, what: str) -> str:
    """``value`` as one segment of a request's path: an id as the API gives them (letters,
    digits, ``_.:-``).  An id read from a state folder is untrusted: one such as
    ``../avatars/X`` would name another object, so it is refused before anything is sent."""
    if not _PATH_ID.fullmatch(value) or ".." in value:
        raise ApiError(f"the {what} id {value[:80]!r} is not one the API gives; nothing was sent")
    return value


class RunwayClient(ApiTransport):
    """The Runway API over an injected ``httpx.AsyncClient``: its calls, over the transport
    and retries of :class:`~runway_plan.execute.transport.ApiTransport`.

    ``counts`` tallies requests by kind (``create``, ``task``, ``cancel``, ``organization``,
    ``upload``, ``upload_file``, ``download``), including retries.
    """

    async def organization(self, *, attempts: int | None = None) -> dict[str, Any]:
        """``GET /v1/organization``: credit balance, tier limits and the day's usage."""
        body = await self._idempotent("organization", "GET", "/v1/organization", attempts=attempts)
        if not isinstance(body, dict):
            raise ApiError("GET /v1/organization: the answer is not a JSON object")
        return body

    async def create(self, endpoint: str, body: Mapping[str, Any]) -> Created:
        """``POST /v1/{endpoint}``, sent once.

        Raises :class:`NotSent` (safe to retry), :class:`OutcomeUnknown` (never retry
        blindly), :class:`RequestRejected` or :class:`AuthenticationFailed`.
        """
        if endpoint == WORKFLOWS:
            return await self._run_workflow(body)
        data = await self._post_once("create", f"/v1/{endpoint}", body)
        task_id = data.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise OutcomeUnknown(f"POST /v1/{endpoint}: an answer without a task id")
        return Created(task_id, task_estimate(data), routed_model(data))

    async def _run_workflow(self, body: Mapping[str, Any]) -> Created:
        """``POST /v1/workflows/{id}`` (the id is the body's ``workflow``, sent in the path),
        sent once as every create is; the invocation, named as the journal names it
        (:func:`~runway_plan.execute.wire.invocation_id`)."""
        workflow = body.get("workflow")
        if not isinstance(workflow, str) or not workflow:
            raise RequestRejected("POST /v1/workflows/{id}: no workflow id", 400, [])
        sent = {name: value for name, value in body.items() if name != "workflow"}
        data = await self._post_once("create", f"/v1/workflows/{quote(workflow, safe='')}", sent)
        return Created(f"{INVOCATION_PREFIX}{data['id']}", None)

    # ------------------------------------------------------------------ documents, avatars

    async def create_resource(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/documents`` or ``/v1/avatars`` (``kind`` ``document`` or ``avatar``),
        sent once; the object made.  Raises as :meth:`create` does."""
        return await self._post_once("resource_create", RESOURCE_PATHS[kind], body)

    async def resource(self, kind: str, remote_id: str) -> dict[str, Any]:
        """``GET /v1/{documents,avatars}/{id}``; raises :class:`ResourceNotFound` on 404."""
        path = f"{RESOURCE_PATHS[kind]}/{path_id(remote_id, kind)}"
        body = await self._idempotent("resource_get", "GET", path)
        if not isinstance(body, dict):
            raise ApiError(f"GET {path}: the answer is not a JSON object")
        return body

    async def update_resource(
        self, kind: str, remote_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """``PATCH /v1/{documents,avatars}/{id}`` with the changed fields (idempotent, so
        retried); the object as answered (None for a document: the API returns no body)."""
        path = f"{RESOURCE_PATHS[kind]}/{path_id(remote_id, kind)}"
        answer = await self._idempotent("resource_update", "PATCH", path, dict(body))
        return answer if isinstance(answer, dict) else None

    async def delete_resource(self, kind: str, remote_id: str) -> None:
        """``DELETE /v1/{documents,avatars}/{id}``; raises :class:`ResourceNotFound` on 404."""
        path = f"{RESOURCE_PATHS[kind]}/{path_id(remote_id, kind)}"
        await self._idempotent("resource_delete", "DELETE", path)

    async def list_resources(self, kind: str) -> list[dict[str, Any]]:
        """Every object of ``kind`` (``GET /v1/{documents,avatars}``, all pages, newest
        first).  The list shows no document ``content``: read one object for it."""
        query = "limit=100" + ("&order=desc&sort=createdAt" if kind == "document" else "")
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(1000):
            page = f"{RESOURCE_PATHS[kind]}?{query}"
            if cursor:
                page += f"&cursor={quote(cursor, safe='')}"
            body = await self._idempotent("resource_list", "GET", page)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ApiError(f"GET {RESOURCE_PATHS[kind]}: the answer has no data list")
            found += [item for item in body["data"] if isinstance(item, dict)]
            following = body.get("nextCursor")
            if not isinstance(following, str) or not following or following == cursor:
                break
            cursor = following
        return found

    async def task(self, task_id: str, *, attempts: int | None = None) -> dict[str, Any]:
        """``GET /v1/tasks/{id}``; raises :class:`TaskNotFound` on 404.  ``attempts``: at
        most that many tries (a poller that retries on its own grid passes 1)."""
        invocation = invocation_id(task_id)
        path = (
            f"/v1/tasks/{path_id(task_id, 'task')}"
            if invocation is None
            else f"/v1/workflow_invocations/{path_id(invocation, 'workflow invocation')}"
        )
        body = await self._idempotent("task", "GET", path, attempts=attempts)
        if not isinstance(body, dict) or not isinstance(body.get("status"), str):
            raise ApiError(f"GET {path}: the answer has no status")
        return body if invocation is None else invocation_as_task(body)

    async def cancel(self, task_id: str) -> None:
        """``DELETE /v1/tasks/{id}``: cancel a task in flight (delete a finished one).  A
        workflow invocation cannot be: runwayml 5.24.0 has no request that cancels one."""
        if invocation_id(task_id) is not None:
            raise RequestRejected(
                f"{task_id}: a workflow invocation cannot be cancelled through the API "
                "(runwayml 5.24.0 has no such request); it runs to its end",
                405,
                [],
            )
        await self._idempotent("cancel", "DELETE", f"/v1/tasks/{path_id(task_id, 'task')}")

    # ------------------------------------------------------------------ files

    async def upload(self, filename: str, data: bytes, mime: str | None) -> str:
        """Upload ``data`` through ``/v1/uploads``; its ``runway://`` URI."""
        slot = await self._idempotent(
            "upload", "POST", "/v1/uploads", {"filename": filename, "type": "ephemeral"}
        )
        if not isinstance(slot, dict):
            raise TransferFailed("POST /v1/uploads: the answer is not a JSON object")
        url, fields = slot.get("uploadUrl"), slot.get("fields") or {}
        uri = slot.get("runwayUri") or slot.get("uri")
        if not isinstance(url, str) or not isinstance(uri, str) or not isinstance(fields, dict):
            raise TransferFailed("POST /v1/uploads: the answer lacks uploadUrl or runwayUri")
        target = strip_query(url)
        try:
            async for attempt in self.retrying(Retryable, attempts=self.retry.transfer_attempts):
                with attempt:
                    self.counts["upload_file"] += 1
                    try:
                        response = await self.http.post(
                            url,
                            data={str(k): str(v) for k, v in fields.items()},
                            files={"file": (filename, data, mime or "application/octet-stream")},
                            timeout=httpx.Timeout(300.0, connect=10.0),
                        )
                    except httpx.TransportError as exc:
                        error = TransferFailed(f"upload to {target}: {type(exc).__name__}")
                        raise Retryable(error) from None
                    if response.status_code in IDEMPOTENT_STATUS or response.status_code >= 500:
                        error = TransferFailed(
                            f"upload to {target}: HTTP {response.status_code}",
                            response.status_code,
                        )
                        raise Retryable(error, retry_after(response))
                    if response.status_code >= 300:
                        raise TransferFailed(
                            f"upload to {target}: HTTP {response.status_code}",
                            response.status_code,
                        )
        except Retryable as exc:
            raise exc.error from None
        return uri

    async def download(self, url: str, destination: Path) -> Downloaded:
        """Download ``url`` into ``destination`` (replaced), hashing and verifying it.

        Verified: the ``Content-Length`` when given, and the ``ETag`` when it is a plain MD5
        (as object stores give for single-part objects).  Raises :class:`UrlExpired` on
        403/404/410 and :class:`TransferFailed` otherwise.
        """
        shown = strip_query(url)
        if urlsplit(url).scheme not in ("http", "https"):
            raise TransferFailed(f"{shown}: not an http(s) URL")
        try:
            async for attempt in self.retrying(Retryable, attempts=self.retry.transfer_attempts):
                with attempt:
                    self.counts["download"] += 1
                    try:
                        return await self._download_once(url, shown, destination)
                    except httpx.TransportError as exc:
                        error = TransferFailed(f"download {shown}: {type(exc).__name__}")
                        raise Retryable(error) from None
        except Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _download_once(self, url: str, shown: str, destination: Path) -> Downloaded:
        async with self.http.stream(
            "GET", url, timeout=httpx.Timeout(300.0, connect=10.0)
        ) as response:
            status = response.status_code
            if status in (403, 404, 410):
                raise UrlExpired(f"download {shown}: HTTP {status}", status)
            if status in IDEMPOTENT_STATUS or status >= 500:
                error = TransferFailed(f"download {shown}: HTTP {status}", status)
                raise Retryable(error, retry_after(response))
            if status >= 300:
                raise TransferFailed(f"download {shown}: HTTP {status}", status)
            sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
            with open(destination, "wb") as handle:
                async for chunk in response.aiter_bytes(1 << 20):
                    sha.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) != size:
                error = TransferFailed(f"download {shown}: got {size} of {length} bytes")
                raise Retryable(error)
            etag = response.headers.get("etag", "").strip('"').lower()
            plain_md5 = len(etag) == 32 and all(c in "0123456789abcdef" for c in etag)
            if plain_md5 and etag != md5.hexdigest():
                raise Retryable(TransferFailed(f"download {shown}: ETag mismatch"))
            mime = response.headers.get("content-type")
            mime = mime.split(";")[0].strip() if mime else None
            return Downloaded(sha.hexdigest(), size, mime)
