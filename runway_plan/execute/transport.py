"""The API client's transport: one request sent with the key, retried by the policy when it
cannot pay twice, sent once when it creates something; answers translated into the error tree
of :mod:`runway_plan.execute.api_errors` (see :mod:`runway_plan.execute.client`)."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from runway_plan.diagnostics.issue import Issue
from runway_plan.execute.api_errors import (
    ApiError,
    AuthenticationFailed,
    ExecuteError,
    NotSent,
    OutcomeUnknown,
    RequestRejected,
    ResourceNotFound,
    TaskNotFound,
    Unavailable,
)
from runway_plan.execute.wire import RetryPolicy
from runway_plan.plan.live import API_VERSION, DEFAULT_BASE_URL

log = logging.getLogger("runway_plan.execute.http")

Sleep = Callable[[float], Awaitable[None]]


class Retryable(Exception):
    """One attempt of an idempotent request failed in a way worth retrying."""

    def __init__(self, error: ExecuteError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def retry_after(response: httpx.Response) -> float | None:
    """The wait an answer asks for (``Retry-After-Ms``, else ``Retry-After`` in seconds or as
    an HTTP date), in seconds; None when it asks for none."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    text = response.headers.get("retry-after")
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass  # an HTTP date
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
IDEMPOTENT_STATUS = frozenset({408, 429})


class ApiTransport:
    """Requests to the API over an injected ``httpx.AsyncClient``: the key sent and scrubbed,
    retries by the :class:`RetryPolicy`, and answers translated into the error tree.

    ``counts`` tallies requests by kind, including retries.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.counts: Counter[str] = Counter()
        self._key = api_key
        self._sleep = sleep
        self._timeout = timeout or httpx.Timeout(60.0, connect=5.0)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._key}",
            "X-Runway-Version": API_VERSION,
            "Accept": "application/json",
        }

    def retrying(
        self,
        *errors: type[BaseException],
        attempts: int | None = None,
        sleep: Sleep | None = None,
    ) -> AsyncRetrying:
        """A tenacity loop retrying ``errors`` by this client's :class:`RetryPolicy`
        (``sleep`` replaces the client's own, e.g. with one a stopping run cuts short)."""
        policy = self.retry

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            after = getattr(error, "retry_after", None)
            return policy.delay(state.attempt_number, after)

        return AsyncRetrying(
            sleep=sleep or self._sleep,
            stop=stop_after_attempt(attempts or policy.attempts),
            wait=wait,
            retry=retry_if_exception_type(errors),
            reraise=True,
        )

    def _message(self, response: httpx.Response) -> tuple[str, list[Issue]]:
        issues: list[Issue] = []
        try:
            body = response.json()
        except ValueError:
            body = None
        message = ""
        if isinstance(body, dict):
            if isinstance(body.get("error"), str):
                message = body["error"]
            for issue in body.get("issues") or []:
                if isinstance(issue, dict) and isinstance(issue.get("message"), str):
                    path = issue.get("path")
                    at = tuple(path) if isinstance(path, list) else ()
                    issues.append(Issue(at, issue["message"]))
        if not message:
            message = response.reason_phrase or f"HTTP {response.status_code}"
        return self._scrub(message), issues

    async def _send(self, kind: str, method: str, path: str, *, json: Any = None) -> httpx.Response:
        """One request to the API (no retry); transport errors propagate untranslated."""
        self.counts[kind] += 1
        started = time.monotonic()
        response = await self.http.request(
            method,
            f"{self.base_url}{path}",
            headers=self._headers(),
            json=json,
            timeout=self._timeout,
        )
        log.debug(
            "%s %s -> %d (%.3f s)", method, path, response.status_code, time.monotonic() - started
        )
        return response

    def _translate(self, response: httpx.Response, what: str) -> ExecuteError:
        status = response.status_code
        message, issues = self._message(response)
        text = f"{what}: HTTP {status}: {message}"
        if status in (401, 403):
            return AuthenticationFailed(text, status, issues)
        if status in IDEMPOTENT_STATUS or status >= 500:
            return Unavailable(text, status, retry_after(response))
        return RequestRejected(text, status, issues)

    async def _idempotent(
        self, kind: str, method: str, path: str, json: Any = None, attempts: int | None = None
    ) -> Any:
        """An API request that cannot pay twice, retried (``attempts`` tries at most, by
        default the policy's); its JSON body (None when empty)."""
        what = f"{method} {path}"
        try:
            async for attempt in self.retrying(Retryable, attempts=attempts):
                with attempt:
                    try:
                        response = await self._send(kind, method, path, json=json)
                    except httpx.TransportError as exc:
                        reason = self._scrub(str(exc) or type(exc).__name__)
                        raise Retryable(Unavailable(f"{what}: {reason}")) from None
                    if response.status_code in IDEMPOTENT_STATUS or response.status_code >= 500:
                        error = self._translate(response, what)
                        raise Retryable(error, retry_after(response))
                    if response.status_code == 404 and kind in ("task", "cancel"):
                        raise TaskNotFound(f"{what}: task not found", 404)
                    if response.status_code == 404 and kind.startswith("resource_"):
                        raise ResourceNotFound(f"{what}: not found", 404)
                    if response.status_code >= 400:
                        raise self._translate(response, what)
                    if not response.content:
                        return None
                    try:
                        return response.json()
                    except ValueError:
                        raise ApiError(f"{what}: the answer is not JSON", 200) from None
        except Retryable as exc:
            raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post_once(self, kind: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A POST that creates something, sent once; its JSON object (see :meth:`create`)."""
        what = f"POST {path}"
        try:
            response = await self._send(kind, "POST", path, json=dict(body))
        except NOT_CONNECTED as exc:
            raise NotSent(f"{what}: {self._scrub(str(exc) or type(exc).__name__)}") from None
        except httpx.UnsupportedProtocol as exc:
            raise NotSent(f"{what}: {self._scrub(str(exc))}") from None
        except httpx.TransportError as exc:
            reason = self._scrub(str(exc) or type(exc).__name__)
            raise OutcomeUnknown(f"{what}: the connection failed after sending: {reason}") from None
        status = response.status_code
        if status in (408, 429, 503):
            message, _ = self._message(response)
            raise NotSent(f"{what}: HTTP {status}: {message}", status, retry_after(response))
        if status >= 500:
            message, _ = self._message(response)
            raise OutcomeUnknown(f"{what}: HTTP {status}: {message}", status)
        if status >= 400:
            raise self._translate(response, what)
        try:
            data = response.json()
        except ValueError:
            raise OutcomeUnknown(f"{what}: HTTP {status} with a body that is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise OutcomeUnknown(f"{what}: HTTP {status} without an id")
        return data
