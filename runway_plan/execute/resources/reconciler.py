"""``run``'s side of the resources: :class:`Reconciler` makes the remote documents and
avatars match the spec (see the package docstring)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.execute.client import (
    ApiError,
    AuthenticationFailed,
    NotSent,
    RequestRejected,
    ResourceNotFound,
    RunwayClient,
)
from runway_plan.execute.fingerprint import OutputRef, canonical_json
from runway_plan.execute.resources.desired import (
    KINDS,
    Desired,
    ImageSource,
    comparable_remote,
    compare,
    desired_state,
    fields_of,
    identity,
    moved_fields,
    router_patch,
    same_value,
    scope_of,
)
from runway_plan.execute.state import ResourceRow, ResourceStatus, State

__all__ = ["ImageUri", "Reconciler", "ResourceOptions", "ResourceResult"]


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
    """What a run did with one document or avatar.

    ``action``: created, adopted (a create in doubt found remotely), updated, unchanged,
    deleted, forgotten (gone remotely), left (not in the spec; no ``--prune``), failed,
    skipped, interrupted.  ``fields`` are the fields written; ``status`` an avatar's
    processing status at the end.
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
        return not (self.kind == "avatar" and self.status in ("FAILED", "PROCESSING"))


_T = TypeVar("_T")

ImageUri = Callable[[ImageSource, bool], Awaitable[tuple[str, str]]]
"""The URI to send for an avatar's image, and how to show it (``fresh``: no cached URL)."""


class _InDoubt(Exception):
    """A create's outcome is unknown and the remote list could not settle it."""


class Reconciler:
    """Makes the remote documents and avatars match the spec, for one run.

    The runner calls :meth:`documents` before the generations start, :meth:`avatar` for
    each avatar once its image's generation is done (``image_hash`` gives that output's
    SHA-256, ``image_uri`` a URI to send, ``file_hash`` a local image's hash as the run first
    read it), and :meth:`prune` at the end.  ``stopping`` says the run was interrupted
    (nothing new is written); ``emit`` reports progress; every wait (a PROCESSING avatar, a
    create looked up a poll later) goes through ``sleep``, the run's clock.
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
        self.file_hash = file_hash
        self.stopping = stopping
        self.sleep = sleep
        self.spec_name = scope_of(graph)
        self.spec_path = graph.document.source_map.path
        self.results: dict[tuple[str, str], ResourceResult] = {}
        self.diagnostics: list[Diagnostic] = []
        self.shielded: set[asyncio.Future[Any]] = set()
        self.declared: list[tuple[str, str]] = []
        nodes = [
            *(("document", key, doc.name) for key, doc in graph.documents.items()),
            *(("avatar", key, avatar.name) for key, avatar in graph.avatars.items()),
            *(
                ("router", key, str(router.request.get("name", router.slug)))
                for key, router in graph.routers.items()
            ),
        ]
        for kind, key, name in nodes:
            self.declared.append((kind, key))
            self.results[(kind, key)] = ResourceResult(kind, key, name)

    # ------------------------------------------------------------------ helpers

    def _span(self, kind: str, key: str) -> Span | None:
        return self.graph.document.source_map.key((f"{kind}s", key))

    def _label(self, kind: str, key: str) -> str:
        return f"{kind} '{key}'"

    async def _shield(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` to its end even if the caller is cancelled (a write in flight)."""
        inner = asyncio.ensure_future(work)
        self.shielded.add(inner)
        inner.add_done_callback(self.shielded.discard)
        return await asyncio.shield(inner)

    def _fail(
        self, result: ResourceResult, code: str, message: str, hint: str | None = None
    ) -> None:
        result.action = "failed"
        result.message = message
        self.diagnostics.append(make(code, message, self._span(result.kind, result.key), hint=hint))
        self.emit("failed", f"{result.kind}:{result.key}", message)

    def _document_ids(self) -> dict[str, str | None]:
        rows = self.state.resources(self.spec_name, self.origin)
        return {
            r.key: (r.remote_id if r.status is not ResourceStatus.CREATING else None)
            for r in rows
            if r.kind == "document"
        }

    def _desired(self, kind: str, key: str) -> Desired:
        def output_hash(ref: OutputRef) -> str | tuple[None, str]:
            digest = self.image_hash(ref)
            return digest if digest is not None else (None, f"'{ref.key}' has no output")

        desired = desired_state(self.graph, self._document_ids(), output_hash, self.file_hash)
        return desired[(kind, key)]

    def _row(self, kind: str, key: str) -> ResourceRow | None:
        return self.state.resource(self.spec_name, self.origin, kind, key)

    # ------------------------------------------------------------------ entry points

    async def documents(self) -> None:
        """Reconcile every document of the spec (before the generations start)."""
        for kind, key in self.declared:
            if kind == "document":
                await self._reconcile(kind, key)

    async def routers(self) -> None:
        """Reconcile every router of the spec (before the generations start: a generate
        step is sent its router's slug once the router is in place)."""
        for kind, key in self.declared:
            if kind == "router":
                await self._reconcile(kind, key)

    async def avatar(self, key: str, upstream: str | None) -> None:
        """Reconcile avatar ``key``; ``upstream`` names why its image is missing (the
        generation failed or was interrupted), or is None when it is ready."""
        result = self.results[("avatar", key)]
        if self.stopping():
            result.action = "interrupted"
            result.message = "not started: the run was interrupted"
            return
        if upstream is not None:
            result.action = "interrupted" if "interrupted" in upstream else "skipped"
            result.message = upstream
            if result.action == "skipped":
                self.diagnostics.append(
                    make(
                        "RP503",
                        f"avatar '{key}' was skipped: {upstream}",
                        self._span("avatar", key),
                    )
                )
            return
        want = self._desired("avatar", key)
        missing = [d for d in want.documents if not self.results[("document", d)].ok]
        if missing:
            result.action = "skipped"
            result.message = f"document '{missing[0]}' is not in place"
            self.diagnostics.append(
                make(
                    "RP503",
                    f"avatar '{key}' was skipped: its document '{missing[0]}' is not in place",
                    self._span("avatar", key),
                )
            )
            return
        await self._reconcile("avatar", key)

    async def prune(self) -> None:
        """Resources recorded for this spec but gone from it: deleted with ``prune``
        (avatars before documents), else reported as left in place."""
        declared = set(self.declared)
        rows = [
            r
            for r in self.state.resources(self.spec_name, self.origin)
            if (r.kind, r.key) not in declared
        ]
        rows.sort(key=lambda r: KINDS.index(r.kind) if r.kind in KINDS else 0, reverse=True)
        left: list[str] = []
        for row in rows:
            result = self.results.setdefault(
                (row.kind, row.key),
                ResourceResult(row.kind, row.key, row.name, remote_id=row.remote_id),
            )
            if self.stopping():
                result.action = "left"
                result.message = "the run was interrupted"
                continue
            try:
                await self._prune_one(row, result, left)
            except _InDoubt as exc:
                result.action = "in doubt"
                result.message = str(exc)
        if left:
            self.diagnostics.append(
                make(
                    "RP513",
                    f"{len(left)} resource(s) no longer in the spec were left in place: "
                    f"{', '.join(left)}",
                    None,
                    hint="run with --prune to delete them",
                )
            )

    async def _prune_one(self, row: ResourceRow, result: ResourceResult, left: list[str]) -> None:
        label = self._label(row.kind, row.key)
        if row.status is ResourceStatus.DELETING and not self.options.empty_remote:
            settled = await self._settle_deleting(row)
            if settled is None:
                result.action = "deleted"
                result.message = "the delete of an earlier run had gone through"
                return
            row = settled
        if self.options.empty_remote:
            self.state.forget_resource(
                row.id,
                action="forget",
                outcome="remote is empty",
                detail="the emulator started empty",
                run_id=self.run_id,
            )
            result.action = "forgotten"
            result.message = "the emulator started empty: nothing to delete"
            return
        if row.status is ResourceStatus.CREATING:
            adopted = await self._recover(row, None)
            if adopted is None:
                result.action = "forgotten"
                result.message = "its create had not reached the API"
                return
            row = adopted
        assert row.remote_id is not None
        if self.options.refresh and not self.options.prune:
            try:
                await self.client.resource(row.kind, row.remote_id)
            except ResourceNotFound:
                self.state.forget_resource(
                    row.id,
                    action="refresh",
                    outcome="gone",
                    detail="deleted remotely",
                    run_id=self.run_id,
                )
                result.action = "forgotten"
                result.message = f"{label} was already deleted remotely"
                self.emit("forgotten", f"{row.kind}:{row.key}", result.message)
                return
            except ApiError as exc:
                self._fail(result, "RP511", f"cannot read {label}: {exc}")
                return
        if not self.options.prune:
            result.action = "left"
            result.message = "not in the spec; left in place (--prune deletes it)"
            left.append(f"{label} ({row.remote_id})")
            return
        self.state.mark_resource_deleting(row.id, self.run_id)
        try:
            await self._shield(self.client.delete_resource(row.kind, row.remote_id))
        except ResourceNotFound:
            pass
        except ApiError as exc:
            self.state.mark_resource_unchanged(
                row.id, outcome="failed", detail=str(exc), run_id=self.run_id
            )
            self._fail(result, "RP511", f"cannot delete {label}: {exc}")
            return
        self.state.forget_resource(
            row.id, action="delete", outcome="ok", detail="--prune", run_id=self.run_id
        )
        result.action = "deleted"
        result.message = f"deleted {row.remote_id} (--prune)"
        self.emit("deleted", f"{row.kind}:{row.key}", result.message)

    # ------------------------------------------------------------------ one resource

    async def _reconcile(self, kind: str, key: str) -> None:
        result = self.results[(kind, key)]
        try:
            await self._reconcile_inner(kind, key, result)
        except _InDoubt as exc:
            result.action = "in doubt"
            result.message = str(exc)
            self.diagnostics.append(
                make(
                    "RP514",
                    f"the create of {self._label(kind, key)} may have reached the API and the "
                    f"remote list could not be read to find it: {exc}",
                    self._span(kind, key),
                    hint="run again: the object is looked up by name before it is created",
                )
            )

    async def _reconcile_inner(self, kind: str, key: str, result: ResourceResult) -> None:
        want = self._desired(kind, key)
        result.name = want.name
        if want.problem:
            self._fail(result, "RP511", f"{self._label(kind, key)}: {want.problem}")
            return
        row = self._row(kind, key)
        recovered = False
        if row is not None and self.options.empty_remote:
            self.state.forget_resource(
                row.id,
                action="forget",
                outcome="remote is empty",
                detail="the emulator started empty",
                run_id=self.run_id,
            )
            row = None
            want = self._desired(kind, key)
        if row is not None and row.status is ResourceStatus.CREATING:
            row = await self._recover(row, want)
            recovered = row is not None
            want = self._desired(kind, key)
        current: dict[str, Any] | None = None
        if row is not None and row.status is ResourceStatus.DELETING:
            row = await self._settle_deleting(row)
        if row is not None and row.remote_id:
            current = dict(row.applied or {})
            result.remote_id = row.remote_id
            result.status = row.remote_status
            if self.options.refresh:
                current = await self._refresh(row, want, current, result)
        if current is None:
            await self._create(want, result, note=result.message)
            return
        assert row is not None and row.remote_id is not None
        changed = compare(want, current)
        retry_image = (
            kind == "avatar"
            and row.remote_status == "FAILED"
            and self.options.retry_failed
            and "referenceImage" not in changed
        )
        if retry_image:
            changed.append("referenceImage")
        if kind == "router" and "slug" in changed:
            self._fail(
                result,
                "RP500",
                f"{self._label(kind, key)}: its slug is immutable ({current.get('slug')!r} "
                f"in place, {want.fields.get('slug')!r} in the spec)",
                hint="keep the slug, or give the router a new key (the old one is left in "
                "place; `run --prune` deletes it)",
            )
            return
        if not changed and row.status is ResourceStatus.PRESENT:
            result.action = "adopted" if recovered else "unchanged"
            if kind == "avatar":
                await self._settle_avatar(row.id, row.remote_id, result)
            return
        await self._update(want, row, changed, result)

    async def _settle_deleting(self, row: ResourceRow) -> ResourceRow | None:
        """A delete interrupted before its answer: is the object still there?"""
        assert row.remote_id is not None
        try:
            await self.client.resource(row.kind, row.remote_id)
        except ResourceNotFound:
            self.state.forget_resource(
                row.id, action="delete", outcome="ok", detail="found deleted", run_id=self.run_id
            )
            return None
        except ApiError as exc:
            raise _InDoubt(f"cannot read {row.kind} {row.remote_id}: {exc}") from None
        self.state.mark_resource_unchanged(
            row.id, outcome="not deleted", detail="still present", run_id=self.run_id
        )
        return self.state.resource_by_id(row.id)

    async def _refresh(
        self, row: ResourceRow, want: Desired, current: dict[str, Any], result: ResourceResult
    ) -> dict[str, Any] | None:
        """Read the remote object: None when it was deleted remotely; else ``current``
        updated with what the API holds (drift is reported, and repaired by the update)."""
        assert row.remote_id is not None
        label = self._label(row.kind, row.key)
        try:
            seen = await self.client.resource(row.kind, row.remote_id)
        except ResourceNotFound:
            result.message = f"{label} was deleted remotely ({row.remote_id}): created again"
            self.diagnostics.append(make("RP515", result.message, self._span(row.kind, row.key)))
            self.emit("drift", f"{row.kind}:{row.key}", result.message)
            return None
        except ApiError as exc:
            self.emit("note", f"{row.kind}:{row.key}", f"cannot read {label}: {exc}")
            return current
        found = comparable_remote(row.kind, seen)
        moved = moved_fields(row.kind, current, found)
        if moved:
            message = (
                f"{label} was changed remotely ({', '.join(moved)}): put back as the spec says"
            )
            self.diagnostics.append(make("RP515", message, self._span(row.kind, row.key)))
            self.emit("drift", f"{row.kind}:{row.key}", message)
        current.update(found)
        status = seen.get("status")
        if row.kind == "avatar" and isinstance(status, str) and status != row.remote_status:
            failure = seen.get("failureReason")
            self.state.set_resource_status(
                row.id, status, failure if isinstance(failure, str) else None
            )
            result.status = status
        return current

    async def _recover(
        self, row: ResourceRow, want: Desired | None, *, forget: bool = True
    ) -> ResourceRow | None:
        """A create whose outcome is unknown: find its object in the remote list (by name,
        then content, among the objects no row of this state claims) and adopt it, or
        (``forget``) forget the row when it is not there.  Raises :class:`_InDoubt` when the
        list cannot be read."""
        label = self._label(row.kind, row.key)
        sent = dict(row.pending or {})
        try:
            listed = await self.client.list_resources(row.kind)
            claimed = self.state.claimed_remote_ids(self.origin, row.kind)
            candidates = []
            for item in listed:
                remote_id = item.get("id")
                if not isinstance(remote_id, str) or remote_id in claimed:
                    continue
                if item.get("name") != row.name:
                    continue
                full = (
                    item
                    if row.kind == "avatar"
                    else await self.client.resource(row.kind, remote_id)
                )
                seen = comparable_remote(row.kind, full)
                if all(
                    same_value(row.kind, name, sent.get(name), value)
                    for name, value in seen.items()
                    if name in sent
                ):
                    candidates.append(full)
        except ResourceNotFound:
            candidates = []
        except ApiError as exc:
            raise _InDoubt(str(exc)) from None
        key = f"{row.kind}:{row.key}"
        if not candidates and not forget:
            return None
        if not candidates:
            self.state.forget_resource(
                row.id,
                action="lookup",
                outcome="not found",
                detail="a create in doubt had made nothing",
                run_id=self.run_id,
            )
            self.emit("lookup", key, f"{label}: the create in doubt made nothing; creating it")
            return None
        chosen = candidates[0]
        others = [str(c.get("id")) for c in candidates[1:]]
        detail = "found by name and content after a create in doubt"
        if others:
            detail += f"; {len(others)} other match(es) left alone: {', '.join(others)}"
        status = chosen.get("status") if isinstance(chosen.get("status"), str) else None
        adopted = self.state.mark_resource_present(
            row.id,
            remote_id=str(chosen["id"]),
            applied=sent,
            applied_hash=hashlib.sha256(canonical_json(identity(sent)).encode()).hexdigest(),
            remote_status=status,
            action="adopted",
            detail=detail,
            run_id=self.run_id,
        )
        message = f"{label}: the create in doubt had reached the API; adopted {chosen['id']}"
        if others:
            message += f" ({len(others)} other object(s) with the same name left alone)"
        self.emit("adopted", key, message)
        if want is not None:
            result = self.results[(row.kind, row.key)]
            result.message = message
        return adopted

    async def _body(
        self, want: Desired, names: Iterable[str], *, fresh: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request body for ``names`` (fields in the API's spelling), and how it is
        shown (image URIs abbreviated)."""
        body: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        for name in names:
            value = want.fields.get(name)
            if name == "referenceImage":
                assert want.image is not None
                uri, label = await self.image_uri(want.image, fresh)
                body[name], shown[name] = uri, label
                continue
            body[name] = value
            shown[name] = value if name != "content" else f"({len(value or '')} chars)"
        return body, shown

    def _create_fields(self, want: Desired) -> list[str]:
        names = list(fields_of(want.kind))
        if want.kind == "router" and want.fields.get("description") is None:
            names.remove("description")
        if want.kind == "avatar":
            request = self.graph.avatars[want.key].request
            if request.get("imageProcessing") is None:
                names.remove("imageProcessing")
            if request.get("startScript") is None:
                names.remove("startScript")
            if not want.fields.get("documentIds"):
                names.remove("documentIds")
        return names

    async def _create(
        self, want: Desired, result: ResourceResult, note: str = "", depth: int = 0
    ) -> None:
        key = f"{want.kind}:{want.key}"
        label = self._label(want.kind, want.key)
        if self.stopping():
            result.action = "interrupted"
            result.message = "not created: the run was interrupted"
            return
        if want.unknown:
            self._fail(result, "RP511", f"{label}: {'; '.join(want.unknown.values())}")
            return
        names = self._create_fields(want)
        for fresh in (False, True):
            try:
                body, _ = await self._body(want, names, fresh=fresh)
            except Exception as exc:  # an upload or an input's URL
                self._fail(result, "RP506", f"cannot prepare the image of {label}: {exc}")
                return
            row = self.state.mark_resource_creating(
                spec_name=self.spec_name,
                origin=self.origin,
                kind=want.kind,
                key=want.key,
                spec_path=self.spec_path,
                name=want.name,
                pending=want.fields,
                run_id=self.run_id,
            )
            try:
                made = await self._create_once(want.kind, body)
            except NotSent as exc:
                self.state.forget_resource(
                    row.id, action="create", outcome="not sent", detail=str(exc), run_id=self.run_id
                )
                self._fail(result, "RP510", f"{label} was not created: {exc} (nothing was sent)")
                return
            except RequestRejected as exc:
                self.state.forget_resource(
                    row.id,
                    action="create",
                    outcome="rejected",
                    detail=exc.message,
                    run_id=self.run_id,
                )
                if (
                    not fresh
                    and want.image is not None
                    and want.image.how != "uri"
                    and not isinstance(exc, AuthenticationFailed)
                    and any(i.path[:1] == ("referenceImage",) for i in exc.issues)
                ):
                    self.emit("retry", key, f"the image was refused ({exc.message}): sending again")
                    continue
                self._fail(result, "RP500", f"the API rejected {label}: {exc.message}")
                return
            except ApiError as exc:
                self.emit("unknown", key, f"{label}: {exc}; looking it up")
                row = self.state.resource_by_id(row.id)
                adopted = await self._recover(row, want, forget=False)
                if adopted is None:  # not (yet) listed: look once more, a poll later
                    await self.sleep(self.options.poll_interval)
                    adopted = await self._recover(row, want)
                if adopted is None:
                    if depth >= 2:
                        self._fail(
                            result,
                            "RP514",
                            f"the creates of {label} keep failing ({exc}); run again",
                        )
                        return
                    await self._create(
                        want, result, note="a create in doubt had made nothing", depth=depth + 1
                    )
                    return
                result.action = "adopted"
                result.remote_id = adopted.remote_id
                result.fields = list(names)
                if want.kind == "avatar":
                    assert adopted.remote_id is not None
                    await self._settle_avatar(adopted.id, adopted.remote_id, result)
                return
            status = made.get("status") if isinstance(made.get("status"), str) else None
            done = self.state.mark_resource_present(
                row.id,
                remote_id=str(made["id"]),
                applied=want.fields,
                applied_hash=want.digest,
                remote_status=status,
                action="created",
                detail=note,
                run_id=self.run_id,
            )
            result.action = "created"
            result.remote_id = done.remote_id
            result.fields = list(names)
            result.status = status
            if note:
                result.message = note
            self.emit("created", key, f"{label} created as {made['id']}")
            if want.kind == "avatar":
                await self._settle_avatar(done.id, str(made["id"]), result)
            return

    async def _create_once(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """The create, retried only while it certainly did not reach the API."""
        async for attempt in self.client.retrying(NotSent):
            with attempt:
                return await self._shield(self.client.create_resource(kind, body))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _update(
        self, want: Desired, row: ResourceRow, changed: list[str], result: ResourceResult
    ) -> None:
        key = f"{want.kind}:{want.key}"
        label = self._label(want.kind, want.key)
        assert row.remote_id is not None
        if self.stopping():
            result.action = "interrupted"
            result.message = "not updated: the run was interrupted"
            return
        if want.unknown:
            self._fail(result, "RP511", f"{label}: {'; '.join(want.unknown.values())}")
            return
        if not changed:  # an update interrupted before: the fields are as applied
            changed = [n for n in fields_of(want.kind) if n in (row.pending or {})]
        try:
            body, _ = await self._body(want, changed)
        except Exception as exc:
            self._fail(result, "RP506", f"cannot prepare the image of {label}: {exc}")
            return
        if not body:
            result.action = "unchanged"
            return
        if want.kind == "router":
            body.pop("slug", None)
            if "settings" in body:
                body["settings"] = router_patch(
                    (row.applied or {}).get("settings"), body["settings"]
                )
        self.state.mark_resource_updating(
            row.id, {n: want.fields.get(n) for n in changed}, self.run_id
        )
        try:
            answer = await self._shield(self.client.update_resource(want.kind, row.remote_id, body))
        except ResourceNotFound:
            message = f"{label} was deleted remotely ({row.remote_id}): created again"
            self.diagnostics.append(make("RP515", message, self._span(want.kind, want.key)))
            self.emit("drift", key, message)
            await self._create(want, result, note=message)
            return
        except ApiError as exc:
            self.state.mark_resource_unchanged(
                row.id, outcome="failed", detail=str(exc), run_id=self.run_id
            )
            code = "RP500" if isinstance(exc, RequestRejected) else "RP511"
            self._fail(result, code, f"cannot update {label}: {exc}")
            return
        applied = dict(row.applied or {})
        applied.update(want.fields)
        status = row.remote_status
        if answer is not None and isinstance(answer.get("status"), str):
            status = str(answer["status"])
        done = self.state.mark_resource_present(
            row.id,
            remote_id=row.remote_id,
            applied=applied,
            applied_hash=want.digest,
            remote_status=status,
            action="updated",
            detail=", ".join(changed),
            run_id=self.run_id,
        )
        result.action = "updated"
        result.fields = list(changed)
        result.status = status
        self.emit("updated", key, f"{label} updated: {', '.join(changed)}")
        if want.kind == "avatar":
            await self._settle_avatar(done.id, row.remote_id, result)

    async def _settle_avatar(self, row_id: int, remote_id: str, result: ResourceResult) -> None:
        """Wait while the avatar is PROCESSING; report FAILED with its reason."""
        row = self.state.resource_by_id(row_id)
        status = row.remote_status
        failure = row.failure
        started = time.monotonic()
        failures = 0
        while status in (None, "PROCESSING"):
            if self.stopping():
                result.message = "still PROCESSING when the run stopped; the next run checks it"
                break
            if time.monotonic() - started > self.options.avatar_timeout:
                result.message = (
                    f"still PROCESSING after {self.options.avatar_timeout:.0f} s; the next run "
                    "checks it again"
                )
                self.diagnostics.append(
                    make(
                        "RP512",
                        f"avatar '{result.key}' is {result.message}",
                        self._span("avatar", result.key),
                    )
                )
                break
            if status == "PROCESSING":
                await self.sleep(self.options.poll_interval)
            try:
                seen = await self.client.resource("avatar", remote_id)
            except ResourceNotFound:
                self._fail(result, "RP512", f"avatar '{result.key}' ({remote_id}) disappeared")
                return
            except ApiError as exc:
                failures += 1
                if failures >= 10:
                    result.message = f"its status could not be read ({exc}); the next run checks it"
                    break
                continue
            new = seen.get("status")
            status = str(new) if isinstance(new, str) else "READY"
            reason = seen.get("failureReason")
            failure = reason if isinstance(reason, str) else None
            if status != row.remote_status:
                self.state.set_resource_status(row_id, status, failure)
                self.emit("status", f"avatar:{result.key}", f"avatar {remote_id} {status}")
        result.status = status
        if status == "FAILED":
            reason = failure or "no reason given"
            result.message = f"processing FAILED: {reason}"
            self.diagnostics.append(
                make(
                    "RP512",
                    f"avatar '{result.key}' ({remote_id}) FAILED: {reason}",
                    self._span("avatar", result.key),
                    hint="change its referenceImage (or rerun with --retry-failed to process the "
                    "same image again)",
                )
            )
            self.emit("failed", f"avatar:{result.key}", result.message)
