"""What the parts of a run's reconciliation share: its options, the result of each resource,
and the :class:`Session` (the run's client, journal, clock and findings) they all work in."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.execute.client import ApiError, ResourceNotFound, RunwayClient
from runway_plan.execute.fingerprint import OutputRef
from runway_plan.execute.resources.desired import Desired, ImageSource, desired_state, scope_of
from runway_plan.execute.state import ResourceRow, ResourceStatus, State

__all__ = ["ImageUri", "InDoubt", "ResourceOptions", "ResourceResult", "Scope", "Session"]


@dataclass(frozen=True)
class ResourceOptions:
    """How ``run`` reconciles resources.

    ``prune`` deletes the resources recorded in the state but gone from the spec;
    ``refresh`` reads each recorded object first (drift: changed or deleted remotely is
    repaired); ``retry_failed`` sends a FAILED avatar's image again; ``poll_interval`` is
    the time between reads of a PROCESSING avatar and ``avatar_timeout`` the longest wait.
    ``empty_remote`` says the API is known to hold none of the recorded objects (the
    in-process emulator of ``run --emulate`` starts empty every time): every resource is
    created, and the records are forgotten without a request.
    """

    prune: bool = False
    refresh: bool = True
    empty_remote: bool = False
    retry_failed: bool = False
    poll_interval: float = 5.0
    avatar_timeout: float = 1800.0


@dataclass
class ResourceResult:
    """What a run did with one document, voice or avatar.

    ``action``: created, adopted (a create in doubt found remotely), updated, unchanged,
    deleted, forgotten (gone remotely), left (not in the spec; no ``--prune``), failed,
    skipped, interrupted.  ``fields`` are the fields written; ``status`` an avatar's or a
    voice's processing status at the end.
    """

    kind: str
    key: str
    name: str
    action: str = "pending"
    remote_id: str | None = None
    status: str | None = None
    fields: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        """False when the resource is not as the spec wants it (left ones are fine)."""
        if self.action in ("failed", "skipped", "interrupted", "in doubt", "pending"):
            return False
        return not (self.kind in ("avatar", "voice") and self.status in ("FAILED", "PROCESSING"))


_T = TypeVar("_T")

ImageUri = Callable[[ImageSource, bool], Awaitable[tuple[str, str]]]
"""The URI to send for an avatar's image, and how to show it (``fresh``: no cached URL)."""


class InDoubt(Exception):
    """A create's outcome is unknown and the remote list could not settle it."""


class Scope(TypedDict):
    """Where a run's resource rows belong: the spec's name (its identity) and file, and the API
    origin (see the package docstring)."""

    spec_name: str
    origin: str
    spec_path: str


class Session:
    """One run's reconciliation: the graph, the API client, the journal and the run's clock
    (``sleep``, ``stopping``), with the result of every resource and the diagnostics found.
    """

    def __init__(
        self,
        graph: Graph,
        client: RunwayClient,
        state: State,
        options: ResourceOptions,
        *,
        origin: str,
        run_id: int | None,
        emit: Callable[[str, str | None, str], None],
        image_hash: Callable[[OutputRef], str | None],
        image_uri: ImageUri,
        audio_uri: ImageUri | None = None,
        file_hash: Callable[[str], str] | None = None,
        stopping: Callable[[], bool],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.graph = graph
        self.client = client
        self.state = state
        self.options = options
        self.origin = origin
        self.run_id = run_id
        self.emit = emit
        self.image_hash = image_hash
        self.image_uri = image_uri
        self.audio_uri = audio_uri or image_uri
        self.file_hash = file_hash
        self.stopping = stopping
        self.sleep = sleep
        self.spec_name = scope_of(graph)
        self.spec_path = graph.document.source_map.path
        self.scope = Scope(spec_name=self.spec_name, origin=origin, spec_path=self.spec_path)
        self.results: dict[tuple[str, str], ResourceResult] = {}
        self.diagnostics: list[Diagnostic] = []
        self.shielded: set[asyncio.Future[Any]] = set()
        self.declared: list[tuple[str, str]] = []
        nodes = [
            *(("document", key, doc.name) for key, doc in graph.documents.items()),
            *(("voice", key, voice.name) for key, voice in graph.voices.items()),
            *(("avatar", key, avatar.name) for key, avatar in graph.avatars.items()),
            *(
                ("router", key, str(router.request.get("name", router.slug)))
                for key, router in graph.routers.items()
            ),
        ]
        for kind, key, name in nodes:
            self.declared.append((kind, key))
            self.results[(kind, key)] = ResourceResult(kind, key, name)

    def span(self, kind: str, key: str) -> Span | None:
        return self.graph.document.source_map.key((f"{kind}s", key))

    def label(self, kind: str, key: str) -> str:
        return f"{kind} '{key}'"

    async def shield(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` to its end even if the caller is cancelled (a write in flight)."""
        inner = asyncio.ensure_future(work)
        self.shielded.add(inner)
        inner.add_done_callback(self.shielded.discard)
        return await asyncio.shield(inner)

    def fail(
        self, result: ResourceResult, code: str, message: str, hint: str | None = None
    ) -> None:
        result.action = "failed"
        result.message = message
        self.diagnostics.append(make(code, message, self.span(result.kind, result.key), hint=hint))
        self.emit("failed", f"{result.kind}:{result.key}", message)

    def ids(self, kind: str) -> dict[str, str | None]:
        rows = self.state.resources(self.spec_name, self.origin)
        return {
            r.key: (r.remote_id if r.status is not ResourceStatus.CREATING else None)
            for r in rows
            if r.kind == kind
        }

    def desired(self, kind: str, key: str) -> Desired:
        def output_hash(ref: OutputRef) -> str | tuple[None, str]:
            digest = self.image_hash(ref)
            return digest if digest is not None else (None, f"'{ref.key}' has no output")

        desired = desired_state(
            self.graph,
            self.ids("document"),
            output_hash,
            self.file_hash,
            voice_ids=self.ids("voice"),
        )
        return desired[(kind, key)]

    def row(self, kind: str, key: str) -> ResourceRow | None:
        return self.state.resource(self.spec_name, self.origin, kind, key)

    async def delete(
        self, row: ResourceRow, result: ResourceResult, failure: str, detail: str
    ) -> bool:
        """Delete ``row``'s remote object (gone already counts) and forget the row, journaling
        ``detail``; False, with RP511 ``failure``: the API's error, when the API refused."""
        assert row.remote_id is not None
        self.state.mark_resource_deleting(row.id, self.run_id)
        try:
            await self.shield(self.client.delete_resource(row.kind, row.remote_id))
        except ResourceNotFound:
            pass
        except ApiError as exc:
            self.state.mark_resource_unchanged(
                row.id, outcome="failed", detail=str(exc), run_id=self.run_id
            )
            self.fail(result, "RP511", f"{failure}: {exc}")
            return False
        self.forget(row.id, "delete", "ok", detail)
        return True

    def forget(self, row_id: int, action: str, outcome: str, detail: str) -> None:
        """Forget a resource's row, journaling why (``action``, ``outcome``, ``detail``)."""
        self.state.forget_resource(
            row_id, action=action, outcome=outcome, detail=detail, run_id=self.run_id
        )
