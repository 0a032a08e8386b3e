"""The emulated Runway account: one facade over its resources.

:class:`Emulator` answers each API operation with a :class:`Reply`; the HTTP layer
(:mod:`runway_plan.emulator.app`) only translates requests and replies.  The work is done by
one module per resource, over the state they share (:mod:`~runway_plan.emulator.account`):
:mod:`~runway_plan.emulator.tasks` (generations, limits, billing, the ledger),
:mod:`~runway_plan.emulator.uploads`, :mod:`~runway_plan.emulator.files` (signed output
URLs), :mod:`~runway_plan.emulator.inputs` (media inputs of a request),
:mod:`~runway_plan.emulator.organization`, :mod:`~runway_plan.emulator.documents`,
:mod:`~runway_plan.emulator.avatars`, :mod:`~runway_plan.emulator.avatar_videos`,
:mod:`~runway_plan.emulator.voices`,
:mod:`~runway_plan.emulator.routers` (model routers, and the routing of ``/v1/generate/*``)
and :mod:`~runway_plan.emulator.realtime`.

Nothing runs in the background: on every call the emulator reads its clock and brings the
account up to that instant (:meth:`Emulator.advance`), starting THROTTLED tasks in submission
order as slots free, finishing tasks, and refunding failed ones.  A test that injects a
:class:`~runway_plan.emulator.clock.ManualClock` therefore controls every status change.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.catalog.routing import ROUTED
from runway_plan.emulator import video
from runway_plan.emulator.account import (
    API_VERSION,
    DAY,
    Account,
    EmulatorConfig,
    Reply,
    credits_json,
    error,
    iso,
)
from runway_plan.emulator.avatar_videos import ENDPOINT as AVATAR_VIDEOS
from runway_plan.emulator.avatar_videos import AvatarVideos
from runway_plan.emulator.avatars import Avatars
from runway_plan.emulator.clock import Clock, ManualClock, SystemClock
from runway_plan.emulator.documents import Documents
from runway_plan.emulator.faults import FaultPlan
from runway_plan.emulator.files import Files
from runway_plan.emulator.inputs import Inputs
from runway_plan.emulator.ledger import Ledger
from runway_plan.emulator.organization import Organization
from runway_plan.emulator.pricing import Pricer, PriceSheet, sheet_pricer
from runway_plan.emulator.realtime import RealtimeSessions
from runway_plan.emulator.routers import Choice, Routers
from runway_plan.emulator.tasks import FAILURE_CODES, Tasks, failure_refunded
from runway_plan.emulator.uploads import Uploads
from runway_plan.emulator.validation import Issue
from runway_plan.emulator.voices import Voices
from runway_plan.emulator.workflows import Workflows

__all__ = [
    "API_VERSION",
    "DAY",
    "FAILURE_CODES",
    "Emulator",
    "EmulatorConfig",
    "Reply",
    "failure_refunded",
]


class Emulator:
    """The state of one emulated account and every operation of the API on it.

    Thread-safe: one lock guards all state, so a test may read :meth:`ledger` while a server
    thread answers requests.  Call :meth:`close` (or use it as a context manager) to delete
    the temporary directory that holds uploads.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        prices: PriceSheet | None = None,
        pricer: Pricer | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        """An account per ``config`` (defaults: tier 1, 10,000 credits, real time).

        Tasks are billed from ``prices`` (default: the catalog's) through the planner
        (:func:`sheet_pricer`), or by ``pricer`` when one is given; a task the pricer cannot
        price is refused.  ``faults`` defaults to none, ``clock`` to the wall clock.
        """
        self.config = config or EmulatorConfig()
        self.catalog = catalog or load_catalog()
        self.clock: Clock = clock or SystemClock()
        self.prices = prices or PriceSheet.from_catalog(self.catalog)
        self.pricer: Pricer = pricer or sheet_pricer(self.catalog, self.prices)
        self.faults = faults or FaultPlan()
        self.api_key = self.config.api_key or "key_" + secrets.token_hex(64)
        account = Account(self.config, self.catalog, self.clock, self.prices, self.pricer)
        self._account = account
        self._files = Files(account)
        self._uploads = Uploads(account)
        inputs = Inputs(account, self._uploads, self._files)
        self._voices = Voices(account, inputs, self._files)
        self._tasks = Tasks(account, inputs, self._files, self._voices)
        self._organization = Organization(account, self._tasks)
        records: dict[str, dict[str, Any]] = {}
        self._avatars = Avatars(account, inputs, self._files, records, self._voices)
        self._documents = Documents(account, records, self._avatars)
        self._sessions = RealtimeSessions(account, self._avatars)
        self._avatar_videos = AvatarVideos(self._avatars)
        self._routers = Routers(account)
        self._workflows = Workflows(account, self._tasks)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Delete the temporary files (uploads, materialised inputs)."""
        self._account.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def headers(self) -> dict[str, str]:
        """The headers an API client sends: the key and the API version."""
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": API_VERSION}

    @property
    def balance(self) -> Decimal:
        """The credit balance now."""
        with self._account.lock:
            self.advance()
            return self._account.balance

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan (its counters and seed start afresh)."""
        with self._account.lock:
            self.faults = plan

    def advance(self, now: float | None = None) -> float:
        """Bring every task up to ``now`` (default: the clock): start, finish and refund."""
        return self._account.advance(now)

    # ------------------------------------------------------------------ tasks

    def create_task(
        self,
        endpoint: str,
        body: Any,
        base_url: str,
        *,
        failure_code: str | None = None,
        fault: str | None = None,
    ) -> Reply:
        """``POST /v1/{endpoint}``: validate, check limits and credits, create the task (an
        avatar video's custom avatar checked against the account's avatars)."""
        if endpoint in ROUTED:
            return self._tasks.create_routed(
                endpoint, body, failure_code, fault, lambda b: self._route(endpoint, b)
            )
        check = self._avatar_videos.issues if endpoint == AVATAR_VIDEOS else None
        return self._tasks.create(
            endpoint, body, base_url, failure_code=failure_code, fault=fault, check=check
        )

    def _route(
        self, endpoint: str, body: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any], dict[str, Any]] | list[Issue]:
        chosen = self._routers.choose(endpoint, body)
        if not isinstance(chosen, Choice):
            return chosen
        candidate = chosen.candidate
        return candidate.model, candidate.endpoint, candidate.request, chosen.routing

    def get_task(self, task_id: str, base_url: str) -> Reply:
        """``GET /v1/tasks/{id}``."""
        return self._tasks.get(task_id, base_url)

    def cancel_task(self, task_id: str) -> Reply:
        """``DELETE /v1/tasks/{id}``: cancel a task in flight, delete a finished one."""
        return self._tasks.cancel(task_id)

    def ledger(self) -> Ledger:
        """Every task ever created, in submission order, with what it was billed so far."""
        return self._tasks.ledger()

    def tasks_in_flight(self, model: str) -> int:
        """How many tasks of ``model`` hold a concurrency slot now."""
        return self._tasks.in_flight(model)

    # ------------------------------------------------------------------ files and uploads

    def get_file(self, path: str, query: str, method: str = "GET") -> Reply:
        """``GET /_files/{owner}/{n}.{ext}?expires=&sig=``: a task's output or an avatar's
        image, if the URL is valid."""
        return self._files.get_file(path, query, method)

    def create_upload(self, body: Any, base_url: str) -> Reply:
        """``POST /v1/uploads``: an upload slot (URL, form fields) and its ``runway://`` URI."""
        return self._uploads.create(body, base_url)

    def receive_upload(self, upload_id: str, form: Mapping[str, str], file: bytes | None) -> Reply:
        """``POST`` to an upload URL (multipart form, S3 style): store the file; 204."""
        return self._uploads.receive(upload_id, form, file)

    # ------------------------------------------------------------------ organization

    def organization(self) -> Reply:
        """``GET /v1/organization``: balance, tier limits and the past day's generations."""
        return self._organization.show()

    def usage(self, body: Any) -> Reply:
        """``POST /v1/organization/usage``: credits used per day and model (net of refunds)."""
        return self._organization.usage(body)

    # ------------------------------------------------------------------ voices

    def create_voice(self, body: Any, failure: str | None = None, *, base_url: str = "") -> Reply:
        """``POST /v1/voices``: ``{id}``; PROCESSING for ``voice_seconds``, then READY (or
        FAILED with the reason ``failure``)."""
        return self._voices.create(body, failure, base_url=base_url)

    def get_voice(self, voice_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/voices/{id}``."""
        return self._voices.get(voice_id, base_url=base_url)

    def update_voice(self, voice_id: str, body: Any, *, base_url: str = "") -> Reply:
        """``PATCH /v1/voices/{id}``: name and description."""
        return self._voices.update(voice_id, body, base_url=base_url)

    def delete_voice(self, voice_id: str) -> Reply:
        """``DELETE /v1/voices/{id}``."""
        return self._voices.delete(voice_id)

    def list_voices(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/voices?limit&cursor``."""
        return self._voices.list_page(query, base_url=base_url)

    def preview_voice(self, body: Any, *, base_url: str = "") -> Reply:
        """``POST /v1/voices/preview``: a short MP3 of a designed voice."""
        return self._voices.preview(body, base_url=base_url)

    def voices(self) -> dict[str, dict[str, Any]]:
        """Every voice now, by id in creation order, as ``GET /v1/voices/{id}`` shows it."""
        with self._account.lock:
            return self._voices.views(self.advance(), "")

    # ------------------------------------------------------------------ documents

    def create_document(self, body: Any, *, base_url: str = "") -> Reply:
        """``POST /v1/documents``."""
        return self._documents.create(body, base_url=base_url)

    def get_document(self, document_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/documents/{id}``."""
        return self._documents.get(document_id, base_url=base_url)

    def update_document(self, document_id: str, body: Any) -> Reply:
        """``PATCH /v1/documents/{id}``: no body in the answer."""
        return self._documents.update(document_id, body)

    def delete_document(self, document_id: str) -> Reply:
        """``DELETE /v1/documents/{id}``."""
        return self._documents.delete(document_id)

    def list_documents(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/documents?limit&order&sort&cursor``."""
        return self._documents.list_page(query, base_url=base_url)

    def documents(self) -> dict[str, dict[str, Any]]:
        """Every document now, by id in creation order, as ``GET /v1/documents/{id}`` shows
        it (``name``, ``content``, ``usedBy``, ...): a copy, for tests and tools."""
        with self._account.lock:
            return self._documents.views(self.advance(), "")

    # ------------------------------------------------------------------ routers

    def create_router(self, body: Any) -> Reply:
        """``POST /v1/routers``."""
        return self._routers.create(body)

    def get_router(self, router_id: str) -> Reply:
        """``GET /v1/routers/{id}``."""
        return self._routers.get(router_id)

    def update_router(self, router_id: str, body: Any) -> Reply:
        """``PATCH /v1/routers/{id}`` (settings merged)."""
        return self._routers.update(router_id, body)

    def delete_router(self, router_id: str) -> Reply:
        """``DELETE /v1/routers/{id}``."""
        return self._routers.delete(router_id)

    def list_routers(self, query: Mapping[str, str]) -> Reply:
        """``GET /v1/routers?limit&cursor`` (newest first)."""
        return self._routers.list_page(query)

    def routers(self) -> list[dict[str, Any]]:
        """Every router now, in creation order, as ``GET /v1/routers/{id}`` shows it."""
        return self._routers.views()

    # ------------------------------------------------------------------ avatars

    def create_avatar(self, body: Any, failure: str | None = None, *, base_url: str = "") -> Reply:
        """``POST /v1/avatars``: PROCESSING until ``avatar_seconds`` have passed, then READY
        (or FAILED with the reason ``failure``, which an ``avatar_failed`` fault gives).

        Once READY, ``referenceImageUri`` and ``processedImageUri`` are signed URLs of real
        images: the reference image itself when the emulator holds it (an upload, one of its
        own outputs), else one of its size; the processed image is made at that size.  URLs
        start with ``public_url``, else ``base_url`` (the request's; for the avatar and
        document methods, which answer with avatar images, the default is a bare path)."""
        return self._avatars.create(body, failure, base_url=base_url)

    def get_avatar(self, avatar_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/avatars/{id}``."""
        return self._avatars.get(avatar_id, base_url=base_url)

    def update_avatar(
        self, avatar_id: str, body: Any, failure: str | None = None, *, base_url: str = ""
    ) -> Reply:
        """``PATCH /v1/avatars/{id}``: a new reference image starts processing again (and ends
        FAILED with the reason ``failure`` when one is given)."""
        return self._avatars.update(avatar_id, body, failure, base_url=base_url)

    def delete_avatar(self, avatar_id: str) -> Reply:
        """``DELETE /v1/avatars/{id}``."""
        return self._avatars.delete(avatar_id)

    def list_avatars(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/avatars?limit&cursor`` (newest first)."""
        return self._avatars.list_page(query, base_url=base_url)

    def avatars(self) -> dict[str, dict[str, Any]]:
        """Every avatar now, by id in creation order, as ``GET /v1/avatars/{id}`` shows it
        (``name``, ``personality``, ``documentIds``, ``status``, ...): a copy, for tests and
        tools."""
        with self._account.lock:
            return self._avatars.views(self.advance(), "")

    # ------------------------------------------------------------------ realtime sessions

    def avatar_usage(self, query: Mapping[str, str]) -> Reply:
        """``GET /v1/avatar_usage?startDate&endDate``: realtime sessions per UTC day."""
        return self._sessions.usage(query)

    def create_realtime_session(self, body: Any) -> Reply:
        """``POST /v1/realtime_sessions``: a session, queued while the tier's avatar
        concurrency is taken (see :mod:`runway_plan.emulator.sessions`)."""
        return self._sessions.create(body)

    def get_realtime_session(self, session_id: str) -> Reply:
        """``GET /v1/realtime_sessions/{id}``."""
        return self._sessions.get(session_id)

    def cancel_realtime_session(self, session_id: str) -> Reply:
        """``DELETE /v1/realtime_sessions/{id}``: cancel a session that has not ended."""
        return self._sessions.cancel(session_id)

    def consume_realtime_session(self, session_id: str, authorization: str) -> Reply:
        """``POST /v1/realtime_sessions/{id}/consume`` with ``Authorization: Bearer
        <sessionKey>``: the WebRTC credentials, once; the call starts."""
        return self._sessions.consume(session_id, authorization)

    # ------------------------------------------------------------------ workflows

    def list_workflows(self) -> Reply:
        """``GET /v1/workflows``: the account's published workflows."""
        return self._workflows.listing()

    def get_workflow(self, workflow_id: str) -> Reply:
        """``GET /v1/workflows/{id}``: one published workflow and its graph."""
        return self._workflows.retrieve(workflow_id)

    def run_workflow(self, workflow_id: str, body: Any, base_url: str) -> Reply:
        """``POST /v1/workflows/{id}``: check ``nodeOutputs``, run the workflow (its
        generation node a task, billed as every task is); the invocation's id."""
        return self._workflows.run(
            workflow_id,
            body,
            base_url,
            lambda endpoint, request: self.create_task(endpoint, request, base_url),
        )

    def get_workflow_invocation(self, invocation_id: str, base_url: str) -> Reply:
        """``GET /v1/workflow_invocations/{id}``."""
        return self._workflows.invocation(invocation_id, base_url)

    def invocation_tasks(self, invocation_id: str) -> list[str]:
        """The ids of the tasks a workflow invocation ran (for tests matching the ledger)."""
        return self._workflows.task_ids(invocation_id)

    # ------------------------------------------------------------------ admin

    def advance_clock(self, seconds: float) -> Reply:
        """Move a :class:`ManualClock` forward (the admin endpoint); 409 for other clocks."""
        if not isinstance(self.clock, ManualClock):
            return error(409, "The emulator runs on the wall clock; it cannot be moved.")
        if seconds < 0:
            return error(400, "seconds must not be negative")
        self.clock.advance(seconds)
        return Reply(200, {"now": iso(self.clock())})

    def describe(self) -> dict[str, Any]:
        """The configuration and a summary of the state (for ``GET /_emulator/state``)."""
        with self._account.lock:
            self.advance()
            config = self.config
            return {
                "catalog": self.catalog.version,
                "tier": config.tier,
                "speed": config.speed,
                "seed": config.seed,
                "prices": self.prices.origin,
                "cadence": config.cadence,
                "creditBalance": credits_json(self._account.balance),
                "tasks": len(self._tasks),
                "uploads": len(self._uploads),
                "realtimeSessions": len(self._sessions),
                "videoEncoder": video.encoder(),
            }
