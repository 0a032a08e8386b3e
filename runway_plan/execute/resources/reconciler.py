"""``run``'s side of the resources: :class:`Reconciler` makes the remote resources match the
spec (see the package docstring), over the :class:`Session` its parts share: :mod:`.writes`
(creates and updates), :mod:`.lookups` (reads of the remote objects) and :mod:`.prunes`
(``--prune``)."""

from __future__ import annotations

from typing import Any

from runway_plan.diagnostics import make
from runway_plan.execute.resources import prunes
from runway_plan.execute.resources.desired import compare
from runway_plan.execute.resources.lookups import recover, refresh, settle, settle_deleting
from runway_plan.execute.resources.session import (
    ImageUri,
    InDoubt,
    ResourceOptions,
    ResourceResult,
    Session,
)
from runway_plan.execute.resources.writes import create, update
from runway_plan.execute.state import ResourceStatus

__all__ = ["ImageUri", "Reconciler", "ResourceOptions", "ResourceResult"]


class Reconciler(Session):
    """Makes the remote documents, voices and avatars match the spec, for one run.

    The runner calls :meth:`documents` before the generations start, :meth:`voice` for each
    voice once its sample's generation is done, :meth:`avatar` for each avatar once its
    image's generation and its voice are done (``image_hash`` gives an output's SHA-256,
    ``image_uri`` and ``audio_uri`` a URI to send, ``file_hash`` a local file's hash as the
    run first read it), and :meth:`prune` at the end.  ``stopping`` says the run was interrupted
    (nothing new is written); ``emit`` reports progress; every wait (a PROCESSING avatar, a
    create looked up a poll later) goes through ``sleep``, the run's clock.
    """

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

    async def voice(self, key: str, upstream: str | None) -> None:
        """Reconcile voice ``key``; ``upstream`` names why its audio sample is missing (the
        generation failed or was interrupted), or is None when it is ready."""
        if self._upstream("voice", key, upstream):
            await self._reconcile("voice", key)

    def _upstream(self, kind: str, key: str, upstream: str | None) -> bool:
        """Whether resource ``key`` can be reconciled now: False, with its result set, when
        the run is stopping or its upstream generation is missing (``upstream`` says why)."""
        result = self.results[(kind, key)]
        if self.stopping():
            result.action = "interrupted"
            result.message = "not started: the run was interrupted"
            return False
        if upstream is None:
            return True
        result.action = "interrupted" if "interrupted" in upstream else "skipped"
        result.message = upstream
        if result.action == "skipped":
            self.diagnostics.append(
                make("RP503", f"{kind} '{key}' was skipped: {upstream}", self.span(kind, key))
            )
        return False

    async def avatar(self, key: str, upstream: str | None) -> None:
        """Reconcile avatar ``key``; ``upstream`` names why its image is missing (the
        generation failed or was interrupted), or is None when it is ready."""
        if not self._upstream("avatar", key, upstream):
            return
        result = self.results[("avatar", key)]
        voice = self.graph.avatars[key].voice
        if voice is not None and not self.results[("voice", voice)].ok:
            result.action = "skipped"
            result.message = f"voice '{voice}' is not in place"
            self.diagnostics.append(
                make(
                    "RP503",
                    f"avatar '{key}' was skipped: its voice '{voice}' is not in place",
                    self.span("avatar", key),
                )
            )
            return
        want = self.desired("avatar", key)
        missing = [d for d in want.documents if not self.results[("document", d)].ok]
        if missing:
            result.action = "skipped"
            result.message = f"document '{missing[0]}' is not in place"
            self.diagnostics.append(
                make(
                    "RP503",
                    f"avatar '{key}' was skipped: its document '{missing[0]}' is not in place",
                    self.span("avatar", key),
                )
            )
            return
        await self._reconcile("avatar", key)

    async def _reconcile(self, kind: str, key: str) -> None:
        result = self.results[(kind, key)]
        try:
            await self._reconcile_inner(kind, key, result)
        except InDoubt as exc:
            result.action = "in doubt"
            result.message = str(exc)
            self.diagnostics.append(
                make(
                    "RP514",
                    f"the create of {self.label(kind, key)} may have reached the API and the "
                    f"remote list could not be read to find it: {exc}",
                    self.span(kind, key),
                    hint="run again: the object is looked up by name before it is created",
                )
            )

    async def _reconcile_inner(self, kind: str, key: str, result: ResourceResult) -> None:
        want = self.desired(kind, key)
        result.name = want.name
        if want.problem:
            self.fail(result, "RP511", f"{self.label(kind, key)}: {want.problem}")
            return
        row = self.row(kind, key)
        recovered = False
        if row is not None and self.options.empty_remote:
            self.forget(row.id, "forget", "remote is empty", "the emulator started empty")
            row = None
            want = self.desired(kind, key)
        if row is not None and row.status is ResourceStatus.CREATING:
            row = await recover(self, row, want)
            recovered = row is not None
            want = self.desired(kind, key)
        current: dict[str, Any] | None = None
        if row is not None and row.status is ResourceStatus.DELETING:
            row = await settle_deleting(self, row)
        if row is not None and row.remote_id:
            current = dict(row.applied or {})
            result.remote_id = row.remote_id
            result.status = row.remote_status
            if self.options.refresh:
                current = await refresh(self, row, want, current, result)
        if current is None:
            await create(self, want, result, note=result.message)
            return
        assert row is not None and row.remote_id is not None
        changed = compare(want, current)
        again = {"avatar": "referenceImage", "voice": "from"}.get(kind)
        retry = (
            again is not None
            and row.remote_status == "FAILED"
            and self.options.retry_failed
            and again not in changed
        )
        if retry and again is not None:  # an avatar's image sent again; a voice made again
            changed.append(again)
        if kind == "router" and "slug" in changed:
            self.fail(
                result,
                "RP500",
                f"router '{key}': its slug is immutable ({current.get('slug')!r} in place, "
                f"{want.fields.get('slug')!r} in the spec)",
                hint="keep the slug, or give the router a new key (the old one is left in "
                "place; `run --prune` deletes it)",
            )
            return
        if not changed and row.status is ResourceStatus.PRESENT:
            result.action = "adopted" if recovered else "unchanged"
            if kind in ("avatar", "voice"):
                await settle(self, kind, row.id, row.remote_id, result)
            return
        await update(self, want, row, changed, result)

    async def prune(self) -> None:
        """Resources recorded for this spec but gone from it: deleted with ``prune``
        (avatars before documents), else reported as left in place."""
        await prunes.prune(self)
