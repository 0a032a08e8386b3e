"""Fault injection: which requests fail, and how, deterministically by seed.

A :class:`FaultPlan` is a list of :class:`FaultRule` values and a seed.  Each rule picks the
requests it applies to (a request class such as ``create``, optionally one model) and fires on
scripted occurrences (``nth=(3,)``: the third matching request) and/or with a probability drawn
from the plan's seeded ``random.Random``.  Every rule sees every request, so scripted counts
are independent of the other rules; when several fire, the first listed wins.

What each fault does on the wire (see :class:`Fault`) is implemented by
:class:`FaultMiddleware`, the outermost ASGI layer of the emulator, so a fault looks to the
client exactly as it would from a real server: a status code with a body, a connection that
closes without a response, a reset, or a slow answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "REQUEST_CLASSES",
    "Fault",
    "FaultMiddleware",
    "FaultPlan",
    "FaultRule",
    "FiredFault",
    "request_class",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "runway_plan.emulator.fault"
"""The scope key under which the middleware hands the fault of a request to the app."""


class Fault(StrEnum):
    """A kind of fault, and what the client sees."""

    RATE_LIMIT = "rate_limit"
    """429 with a JSON ``error`` body (and ``Retry-After`` when the rule sets ``retry_after``)."""
    BAD_GATEWAY = "bad_gateway"
    """502 with an HTML body, as a load balancer answers."""
    UNAVAILABLE = "unavailable"
    """503 with a JSON ``error`` body."""
    GATEWAY_TIMEOUT = "gateway_timeout"
    """504 with an HTML body, as a load balancer answers."""
    RESET = "reset"
    """The connection is reset (TCP RST) after the request is read and before it is handled."""
    LOST_RESPONSE = "lost_response"
    """The request is handled in full (a create makes its task), then the connection closes
    without a response."""
    SLOW = "slow"
    """The request is handled, then the response waits ``delay`` seconds before it is sent."""
    TASK_FAILED = "task_failed"
    """A create succeeds; the task ends FAILED with ``failure_code``."""
    AVATAR_FAILED = "avatar_failed"
    """An avatar create (or an update that reprocesses it), or a voice create (``on:
    voice``), succeeds; processing ends FAILED with ``failure_reason``."""


_STATUS = {
    Fault.RATE_LIMIT: 429,
    Fault.BAD_GATEWAY: 502,
    Fault.UNAVAILABLE: 503,
    Fault.GATEWAY_TIMEOUT: 504,
}

REQUEST_CLASSES = frozenset(
    {
        "any",
        "api",
        "create",
        "task",
        "cancel",
        "organization",
        "usage",
        "upload",
        "upload_file",
        "file",
        "avatar",
        "document",
        "router",
        "voice",
    }
)
"""Request classes a rule may target: ``any`` is every request but the admin paths, ``api``
every ``/v1`` request, the others one kind each."""


def request_class(method: str, path: str, endpoints: Iterable[str]) -> str | None:
    """The class of a request (``create``, ``task``, ...); None for admin and unknown paths."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] == "_emulator":
        return None
    if parts[0] == "_files":
        return "file"
    if parts[0] == "_uploads":
        return "upload_file"
    if parts[0] != "v1" or len(parts) < 2:
        return None
    head = parts[1]
    if head == "tasks":
        return "cancel" if method == "DELETE" else "task"
    if head == "organization":
        return "usage" if len(parts) > 2 else "organization"
    if head == "uploads":
        return "upload"
    if head in ("avatars", "avatar_usage"):
        return "avatar"
    if head == "documents":
        return "document"
    if head == "routers":
        return "router"
    if head == "voices":
        return "voice"
    if method == "POST" and "/".join(parts[1:]) in set(endpoints):
        return "create"
    return "api"


@dataclass(frozen=True, slots=True)
class FaultRule:
    """When to inject one fault.

    ``on`` is a request class (:data:`REQUEST_CLASSES`); ``model`` narrows a create rule to
    one model.  ``nth`` lists 1-based occurrences among the requests the rule matches that
    fire for sure; ``probability`` fires at random on the others; ``limit`` caps how often
    the rule fires in all.  ``failure_code`` is the task's failure code for ``task_failed``,
    ``failure_reason`` the avatar's for ``avatar_failed``;
    ``delay`` the wait in seconds for ``slow``; ``retry_after`` adds a ``Retry-After`` header
    to a status fault; ``processed`` makes a status fault happen after the request was
    handled (a gateway that times out on a create the API did process).
    """

    fault: Fault
    on: str = "create"
    probability: float = 0.0
    nth: tuple[int, ...] = ()
    limit: int | None = None
    model: str | None = None
    failure_code: str = "INTERNAL"
    failure_reason: str = "The reference image could not be processed."
    delay: float = 2.0
    retry_after: float | None = None
    processed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "fault", Fault(self.fault))
        object.__setattr__(self, "nth", tuple(int(n) for n in self.nth))
        if self.on not in REQUEST_CLASSES:
            raise ValueError(
                f"unknown request class {self.on!r}; use one of {sorted(REQUEST_CLASSES)}"
            )
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if any(n < 1 for n in self.nth):
            raise ValueError("nth counts from 1")
        if self.fault is Fault.TASK_FAILED and self.on != "create":
            raise ValueError("task_failed applies to creates only")
        if self.fault is Fault.AVATAR_FAILED and self.on not in ("avatar", "voice"):
            raise ValueError("avatar_failed applies to avatar and voice requests only")

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready data (what :meth:`from_dict` reads)."""
        data = asdict(self)
        data["fault"] = self.fault.value
        data["nth"] = list(self.nth)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """A rule from JSON data; unknown keys are refused."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        if "fault" not in data:
            raise ValueError("a fault rule needs 'fault'")
        values = dict(data)
        values["nth"] = tuple(values.get("nth", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class FiredFault:
    """A fault that fired: the request's number (1-based, among all requests), class and rule."""

    request: int
    request_class: str
    method: str
    path: str
    rule: FaultRule

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "request": self.request,
            "requestClass": self.request_class,
            "method": self.method,
            "path": self.path,
            "rule": self.rule.to_dict(),
        }


@dataclass
class FaultPlan:
    """Rules and a seed; :meth:`decide` is called once per request, in arrival order."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._counts = [0] * len(self.rules)
        self._fired_counts = [0] * len(self.rules)
        self._requests = 0
        self.fired: list[FiredFault] = []

    def decide(
        self, kind: str, method: str = "", path: str = "", model: str | None = None
    ) -> FaultRule | None:
        """The fault for the next request of class ``kind`` (about ``model``), or None."""
        with self._lock:
            self._requests += 1
            chosen: FaultRule | None = None
            chosen_index = -1
            for index, rule in enumerate(self.rules):
                if not _applies(rule, kind, model, method):
                    continue
                self._counts[index] += 1
                fires = self._counts[index] in rule.nth
                if rule.probability > 0.0:
                    fires = (self._rng.random() < rule.probability) or fires
                if rule.limit is not None and self._fired_counts[index] >= rule.limit:
                    fires = False
                if fires and chosen is None:
                    chosen, chosen_index = rule, index
            if chosen is not None:
                self._fired_counts[chosen_index] += 1
                self.fired.append(FiredFault(self._requests, kind, method, path, chosen))
            return chosen

    @property
    def requests(self) -> int:
        """How many requests :meth:`decide` has seen: every request that reached the
        emulator while this plan was set."""
        with self._lock:
            return self._requests

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (what :meth:`from_dict` reads)."""
        return {"seed": self.seed, "rules": [rule.to_dict() for rule in self.rules]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultPlan:
        """A plan from ``{"seed": N, "rules": [...]}``."""
        unknown = set(data) - {"seed", "rules"}
        if unknown:
            raise ValueError(f"unknown fault plan keys: {', '.join(sorted(unknown))}")
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError("'rules' must be a list")
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError("'seed' must be an integer")
        return cls(rules=[FaultRule.from_dict(rule) for rule in rules], seed=seed)


def _applies(rule: FaultRule, kind: str, model: str | None, method: str) -> bool:
    if rule.fault is Fault.AVATAR_FAILED and method not in ("POST", "PATCH"):
        return False  # only a write can start processing
    if rule.on == "any":
        ok = True
    elif rule.on == "api":
        ok = kind not in ("file", "upload_file")
    else:
        ok = rule.on == kind
    return ok and (rule.model is None or rule.model == model)


_HTML = {
    502: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
    504: b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n",
}
_JSON = {
    429: b'{"error":"Too many requests. Please slow down and retry later."}',
    503: b'{"error":"The service is temporarily unavailable. Please retry later."}',
}


def _uvicorn_transport(send: Send) -> asyncio.Transport | None:
    """The TCP transport behind ``send`` when the server is uvicorn (its cycle object)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None  # type: ignore[return-value]


async def _drop(send: Send, *, reset: bool) -> None:
    """Break the connection: RST when ``reset``, else close it without a response.

    Under uvicorn the socket itself is closed (with ``SO_LINGER`` 0 for a reset); in process
    (``httpx.ASGITransport``) the httpx error a real socket would give is raised instead.
    """
    transport = _uvicorn_transport(send)
    if transport is None:
        import httpx  # only in process; uvicorn never needs it

        if reset:
            raise httpx.ReadError("[Errno 104] Connection reset by peer")
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    for _ in range(50):  # let the server see the connection is gone before the app returns
        cycle = getattr(send, "__self__", None)
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.001)


class FaultMiddleware:
    """The outermost ASGI layer: decides each request's fault and applies it on the wire.

    ``plan`` is read on every request (so it can be replaced at run time); ``endpoints`` are
    the generation endpoint names, to tell creates apart.
    """

    def __init__(
        self, app: ASGIApp, plan: Callable[[], FaultPlan], endpoints: Iterable[str]
    ) -> None:
        self.app = app
        self.plan = plan
        self.endpoints = frozenset(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = request_class(scope["method"], scope["path"], self.endpoints)
        if kind is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        model = _model_of(body) if kind == "create" else None
        if kind == "create" and model is None and "model" not in _keys(body):
            model = scope["path"].removeprefix("/v1/")  # an endpoint without a model field
        rule = self.plan().decide(kind, scope["method"], scope["path"], model)
        replay = _replayer(body, receive)
        if rule is None:
            await self.app(scope, replay, send)
            return
        scope[SCOPE_KEY] = rule
        fault = rule.fault
        if fault in (Fault.TASK_FAILED, Fault.AVATAR_FAILED):
            await self.app(scope, replay, send)
        elif fault is Fault.RESET:
            await _drop(send, reset=True)
        elif fault is Fault.LOST_RESPONSE:
            await self.app(scope, replay, _discard)
            await _drop(send, reset=False)
        elif fault is Fault.SLOW:
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, replay, hold)
            await asyncio.sleep(rule.delay)
            for message in held:
                await send(message)
        else:
            if rule.processed:
                await self.app(scope, replay, _discard)
            await _status(send, _STATUS[fault], rule.retry_after)


async def _status(send: Send, status: int, retry_after: float | None) -> None:
    if status in _HTML:
        body, ctype = _HTML[status], b"text/html"
    else:
        body, ctype = _JSON[status], b"application/json"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", f"{retry_after:g}".encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _discard(message: Message) -> None:
    del message


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayer(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _keys(body: bytes) -> frozenset[str]:
    """The top-level keys of a JSON object body (none for anything else)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return frozenset()
    return frozenset(data) if isinstance(data, dict) else frozenset()


def _model_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None
