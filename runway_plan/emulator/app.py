"""The emulator's HTTP face: a Starlette app over :class:`~runway_plan.emulator.core.Emulator`.

Paths:

* ``/v1/...`` — the Runway API (``Authorization: Bearer`` and ``X-Runway-Version`` checked):
  every generation endpoint of the catalog (``/v1/recipes/<name>`` too), ``/v1/tasks/{id}``,
  ``/v1/organization``,
  ``/v1/organization/usage``, ``/v1/uploads``, ``/v1/avatars``, ``/v1/avatar_usage``,
  ``/v1/documents``, ``/v1/voices`` (and ``/v1/voices/preview``), ``/v1/routers`` (and
  ``/v1/generate/{video,image,audio}`` routed with them) and ``/v1/realtime_sessions`` (whose
  ``/consume`` takes the session's key instead of the API key).
* ``/_uploads/{id}`` — the multipart upload target an ``uploadUrl`` points at (no API auth,
  S3 style: form fields, then the file).
* ``/_files/{owner}/{n}.{ext}?expires=&sig=`` — signed URLs of a task's outputs and an avatar's
  images (403 when expired or forged).
* ``/_emulator/...`` — test controls, apart from the API: ``GET /_emulator/ledger``,
  ``GET|POST|DELETE /_emulator/faults``, ``GET /_emulator/faults/fired``,
  ``POST /_emulator/clock`` (``{"advance": seconds}``, manual clocks only),
  ``GET /_emulator/state``, ``GET /_emulator/prices`` (the price sheet it bills from).

Faults are applied by :class:`~runway_plan.emulator.faults.FaultMiddleware`, outside
everything else, so they look to a client like a real server's failures.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from runway_plan.emulator.core import API_VERSION, Emulator, Reply
from runway_plan.emulator.faults import (
    SCOPE_KEY,
    ASGIApp,
    Fault,
    FaultMiddleware,
    FaultPlan,
    FaultRule,
    Receive,
    Scope,
    Send,
)
from runway_plan.spec import WORKFLOWS

__all__ = ["create_app"]

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_DISPOSITION_PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"|(\w+)=([^;\s]+)')
_MAX_UPLOAD_BODY = 210_000_000
_CONSUME = re.compile(r"^/v1/realtime_sessions/[^/]+/consume$")


def _respond(reply: Reply) -> Response:
    headers = dict(reply.headers)
    if reply.raw is not None:
        return Response(reply.raw, reply.status, headers=headers, media_type=reply.media_type)
    if reply.status == 204 or reply.data is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.data, reply.status, headers=headers)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def _json(request: Request) -> Any:
    """The JSON body, or a 400 :class:`HTTPException` when it is not JSON."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, "The request body is not valid JSON.") from exc


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """Form fields and the ``file`` part of a ``multipart/form-data`` body.

    Raises ``ValueError`` when the body is not well-formed multipart.  As S3 does, fields
    after the file are ignored.
    """
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or match is None:
        raise ValueError("the upload must be multipart/form-data with a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise ValueError("the multipart body is not terminated")
    fields: dict[str, str] = {}
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n") or not section.endswith(b"\r\n"):
            raise ValueError("a multipart section is malformed")
        head, sep, content = section[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a multipart section has no header end")
        params: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                for quoted_key, quoted, bare_key, bare in _DISPOSITION_PARAM.findall(value):
                    params[(quoted_key or bare_key).lower()] = quoted or bare
        field = params.get("name")
        if field is None:
            raise ValueError("a multipart section has no name")
        if field == "file":
            return fields, content
        fields[field] = content.decode("utf-8", "replace")
    return fields, None


class _ApiGate:
    """Checks ``Authorization`` and ``X-Runway-Version`` on every ``/v1`` request but a
    realtime session's ``/consume``, which authenticates with the session's own key."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith("/v1/")
            or _CONSUME.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.emulator.api_key.encode()
        ):
            message = (
                "Missing API key: send 'Authorization: Bearer <key>'."
                if not auth
                else "Invalid API key. Check that it is correct and has not been disabled."
            )
            await _error(401, message)(scope, receive, send)
            return
        version = headers.get("x-runway-version")
        if version != API_VERSION:
            message = (
                f"The X-Runway-Version header is required; the supported version is {API_VERSION}."
                if version is None
                else f"Unsupported X-Runway-Version '{version}'; the supported version is "
                f"{API_VERSION}."
            )
            await _error(400, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(emulator: Emulator) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app serving ``emulator`` (use it with uvicorn or ``httpx.ASGITransport``)."""

    async def generation(request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        if endpoint == WORKFLOWS:  # a workflow runs at POST /v1/workflows/{id}
            return _error(405, "Method not allowed.")
        if endpoint not in emulator.catalog.endpoints:
            if served(request.scope):
                return _error(405, "Method not allowed.")
            return _error(404, f"No such endpoint: {request.url.path}")
        body = await _json(request)
        rule: FaultRule | None = request.scope.get(SCOPE_KEY)
        failure_code = rule.failure_code if rule and rule.fault is Fault.TASK_FAILED else None
        fault = rule.fault.value if rule is not None else None
        return _respond(
            emulator.create_task(
                endpoint, body, _base_url(request), failure_code=failure_code, fault=fault
            )
        )

    async def task(request: Request) -> Response:
        task_id = request.path_params["task_id"]
        if request.method == "DELETE":
            return _respond(emulator.cancel_task(task_id))
        return _respond(emulator.get_task(task_id, _base_url(request)))

    async def workflows(request: Request) -> Response:
        return _respond(emulator.list_workflows())

    async def workflow(request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        if request.method == "GET":
            return _respond(emulator.get_workflow(workflow_id))
        body = await _json(request)
        return _respond(emulator.run_workflow(workflow_id, body, _base_url(request)))

    async def workflow_invocation(request: Request) -> Response:
        invocation_id = request.path_params["invocation_id"]
        return _respond(emulator.get_workflow_invocation(invocation_id, _base_url(request)))

    async def organization(request: Request) -> Response:
        return _respond(emulator.organization())

    async def usage(request: Request) -> Response:
        return _respond(emulator.usage(await _json(request)))

    async def uploads(request: Request) -> Response:
        return _respond(emulator.create_upload(await _json(request), _base_url(request)))

    async def upload_target(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > _MAX_UPLOAD_BODY:
            return _respond(
                Reply(
                    400,
                    raw=b"<Error><Code>EntityTooLarge</Code>"
                    b"<Message>Your proposed upload exceeds the maximum allowed size.</Message>"
                    b"</Error>",
                    media_type="application/xml",
                )
            )
        body = await request.body()
        try:
            form, file = parse_multipart(request.headers.get("content-type", ""), body)
        except ValueError as exc:
            return _respond(
                Reply(
                    400,
                    raw=f"<Error><Code>MalformedPOSTRequest</Code><Message>{exc}</Message>"
                    "</Error>".encode(),
                    media_type="application/xml",
                )
            )
        return _respond(emulator.receive_upload(request.path_params["upload_id"], form, file))

    async def files(request: Request) -> Response:
        return _respond(emulator.get_file(request.url.path, request.url.query, request.method))

    def avatar_failure(request: Request) -> str | None:
        rule: FaultRule | None = request.scope.get(SCOPE_KEY)
        return rule.failure_reason if rule and rule.fault is Fault.AVATAR_FAILED else None

    async def avatars(request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            return _respond(
                emulator.create_avatar(body, avatar_failure(request), base_url=_base_url(request))
            )
        return _respond(emulator.list_avatars(request.query_params, base_url=_base_url(request)))

    async def avatar(request: Request) -> Response:
        avatar_id = request.path_params["avatar_id"]
        if request.method == "PATCH":
            body = await _json(request)
            return _respond(
                emulator.update_avatar(
                    avatar_id, body, avatar_failure(request), base_url=_base_url(request)
                )
            )
        if request.method == "DELETE":
            return _respond(emulator.delete_avatar(avatar_id))
        return _respond(emulator.get_avatar(avatar_id, base_url=_base_url(request)))

    async def routers(request: Request) -> Response:
        if request.method == "POST":
            return _respond(emulator.create_router(await _json(request)))
        return _respond(emulator.list_routers(request.query_params))

    async def router(request: Request) -> Response:
        router_id = request.path_params["router_id"]
        if request.method == "PATCH":
            return _respond(emulator.update_router(router_id, await _json(request)))
        if request.method == "DELETE":
            return _respond(emulator.delete_router(router_id))
        return _respond(emulator.get_router(router_id))

    async def avatar_usage(request: Request) -> Response:
        return _respond(emulator.avatar_usage(request.query_params))

    async def documents(request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            return _respond(emulator.create_document(body, base_url=_base_url(request)))
        return _respond(emulator.list_documents(request.query_params, base_url=_base_url(request)))

    async def document(request: Request) -> Response:
        document_id = request.path_params["document_id"]
        if request.method == "PATCH":
            return _respond(emulator.update_document(document_id, await _json(request)))
        if request.method == "DELETE":
            return _respond(emulator.delete_document(document_id))
        return _respond(emulator.get_document(document_id, base_url=_base_url(request)))

    async def voices(request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            failure = avatar_failure(request)
            return _respond(emulator.create_voice(body, failure, base_url=_base_url(request)))
        return _respond(emulator.list_voices(request.query_params, base_url=_base_url(request)))

    async def voice_preview(request: Request) -> Response:
        return _respond(emulator.preview_voice(await _json(request), base_url=_base_url(request)))

    async def voice(request: Request) -> Response:
        voice_id = request.path_params["voice_id"]
        if request.method == "PATCH":
            body = await _json(request)
            return _respond(emulator.update_voice(voice_id, body, base_url=_base_url(request)))
        if request.method == "DELETE":
            return _respond(emulator.delete_voice(voice_id))
        return _respond(emulator.get_voice(voice_id, base_url=_base_url(request)))

    async def realtime_sessions(request: Request) -> Response:
        return _respond(emulator.create_realtime_session(await _json(request)))

    async def realtime_session(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if request.method == "DELETE":
            return _respond(emulator.cancel_realtime_session(session_id))
        return _respond(emulator.get_realtime_session(session_id))

    async def consume(request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        return _respond(
            emulator.consume_realtime_session(request.path_params["session_id"], authorization)
        )

    async def admin_ledger(request: Request) -> Response:
        return JSONResponse(emulator.ledger().to_dict())

    async def admin_faults(request: Request) -> Response:
        if request.method == "POST":
            data = await _json(request)
            if not isinstance(data, Mapping):
                return _error(400, 'Send a fault plan: {"seed": N, "rules": [...]}.')
            try:
                plan = FaultPlan.from_dict(data)
            except (TypeError, ValueError) as exc:
                return _error(400, f"Invalid fault plan: {exc}")
            emulator.set_faults(plan)
        elif request.method == "DELETE":
            emulator.set_faults(FaultPlan())
        return JSONResponse(emulator.faults.to_dict())

    async def admin_fired(request: Request) -> Response:
        return JSONResponse({"fired": [fired.to_dict() for fired in emulator.faults.fired]})

    async def admin_clock(request: Request) -> Response:
        data = await _json(request)
        seconds = data.get("advance") if isinstance(data, Mapping) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            return _error(400, 'Send {"advance": seconds}.')
        return _respond(emulator.advance_clock(float(seconds)))

    async def admin_state(request: Request) -> Response:
        return JSONResponse(emulator.describe())

    async def admin_prices(request: Request) -> Response:
        return JSONResponse(emulator.prices.to_dict())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith(("/_files/", "/_uploads/")):
            return Response(
                f"<Error><Code>{exc.status_code}</Code><Message>{exc.detail}</Message></Error>",
                exc.status_code,
                media_type="application/xml",
            )
        status = exc.status_code
        if status == 405 and not served(request.scope):
            status = 404
        messages = {404: "Not found.", 405: "Method not allowed."}
        detail = exc.detail if status == 400 else messages.get(status, exc.detail)
        return _error(status, str(detail))

    def served(scope: Scope) -> bool:
        """Whether some route serves this path with some method: a generation path only for
        an endpoint of the catalog (``GET /v1/nothing`` is 404, ``GET /v1/text_to_image`` 405)."""
        for route in routes:
            match, child = route.matches(scope)
            if match is Match.NONE:
                continue
            if route is generations and child["path_params"]["endpoint"] not in endpoints:
                continue
            return True
        return False

    endpoints = emulator.catalog.endpoints
    generations = Route("/v1/{endpoint:path}", generation, methods=["POST"])  # recipes/...
    routes = [
        Route("/v1/tasks/{task_id}", task, methods=["GET", "DELETE"]),
        Route("/v1/organization", organization, methods=["GET"]),
        Route("/v1/organization/usage", usage, methods=["POST"]),
        Route("/v1/uploads", uploads, methods=["POST"]),
        Route("/v1/avatars", avatars, methods=["GET", "POST"]),
        Route("/v1/avatars/{avatar_id}", avatar, methods=["GET", "PATCH", "DELETE"]),
        Route("/v1/avatar_usage", avatar_usage, methods=["GET"]),
        Route("/v1/routers", routers, methods=["GET", "POST"]),
        Route("/v1/routers/{router_id}", router, methods=["GET", "PATCH", "DELETE"]),
        Route("/v1/documents", documents, methods=["GET", "POST"]),
        Route("/v1/documents/{document_id}", document, methods=["GET", "PATCH", "DELETE"]),
        Route("/v1/voices", voices, methods=["GET", "POST"]),
        Route("/v1/voices/preview", voice_preview, methods=["POST"]),
        Route("/v1/voices/{voice_id}", voice, methods=["GET", "PATCH", "DELETE"]),
        Route("/v1/realtime_sessions", realtime_sessions, methods=["POST"]),
        Route("/v1/realtime_sessions/{session_id}", realtime_session, methods=["GET", "DELETE"]),
        Route("/v1/realtime_sessions/{session_id}/consume", consume, methods=["POST"]),
        Route("/v1/workflows", workflows, methods=["GET"]),
        Route("/v1/workflows/{workflow_id}", workflow, methods=["GET", "POST"]),
        Route("/v1/workflow_invocations/{invocation_id}", workflow_invocation, methods=["GET"]),
        generations,
        Route("/_uploads/{upload_id}", upload_target, methods=["POST"]),
        Route("/_files/{task_id}/{name}", files, methods=["GET", "HEAD"]),
        Route("/_emulator/ledger", admin_ledger, methods=["GET"]),
        Route("/_emulator/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/faults/fired", admin_fired, methods=["GET"]),
        Route("/_emulator/clock", admin_clock, methods=["POST"]),
        Route("/_emulator/state", admin_state, methods=["GET"]),
        Route("/_emulator/prices", admin_prices, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    gated = _ApiGate(app, emulator)
    return FaultMiddleware(gated, lambda: emulator.faults, emulator.catalog.endpoints)
