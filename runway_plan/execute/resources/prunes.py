"""``--prune``: the resources recorded for a spec but gone from it, deleted (avatars before
documents) or reported as left in place."""

from __future__ import annotations

from runway_plan.diagnostics import make
from runway_plan.execute.client import ApiError, ResourceNotFound
from runway_plan.execute.resources.desired import KINDS
from runway_plan.execute.resources.lookups import recover, settle_deleting
from runway_plan.execute.resources.session import InDoubt, ResourceResult, Session
from runway_plan.execute.state import ResourceRow, ResourceStatus

__all__ = ["prune"]


async def prune(s: Session) -> None:
    """Resources recorded for this spec but gone from it: deleted with ``prune``
    (avatars before documents), else reported as left in place."""
    declared = set(s.declared)
    rows = [r for r in s.state.resources(s.spec_name, s.origin) if (r.kind, r.key) not in declared]
    rows.sort(key=lambda r: KINDS.index(r.kind) if r.kind in KINDS else 0, reverse=True)
    left: list[str] = []
    for row in rows:
        result = s.results.setdefault(
            (row.kind, row.key),
            ResourceResult(row.kind, row.key, row.name, remote_id=row.remote_id),
        )
        if s.stopping():
            result.action = "left"
            result.message = "the run was interrupted"
            continue
        try:
            await _prune_one(s, row, result, left)
        except InDoubt as exc:
            result.action = "in doubt"
            result.message = str(exc)
    if left:
        s.diagnostics.append(
            make(
                "RP513",
                f"{len(left)} resource(s) no longer in the spec were left in place: "
                f"{', '.join(left)}",
                None,
                hint="run with --prune to delete them",
            )
        )


async def _prune_one(s: Session, row: ResourceRow, result: ResourceResult, left: list[str]) -> None:
    label = s.label(row.kind, row.key)
    if row.status is ResourceStatus.DELETING and not s.options.empty_remote:
        settled = await settle_deleting(s, row)
        if settled is None:
            result.action = "deleted"
            result.message = "the delete of an earlier run had gone through"
            return
        row = settled
    if s.options.empty_remote:
        s.forget(row.id, "forget", "remote is empty", "the emulator started empty")
        result.action = "forgotten"
        result.message = "the emulator started empty: nothing to delete"
        return
    if row.status is ResourceStatus.CREATING:
        adopted = await recover(s, row, None)
        if adopted is None:
            result.action = "forgotten"
            result.message = "its create had not reached the API"
            return
        row = adopted
    assert row.remote_id is not None
    if s.options.refresh and not s.options.prune:
        try:
            await s.client.resource(row.kind, row.remote_id)
        except ResourceNotFound:
            s.forget(row.id, "refresh", "gone", "deleted remotely")
            result.action = "forgotten"
            result.message = f"{label} was already deleted remotely"
            s.emit("forgotten", f"{row.kind}:{row.key}", result.message)
            return
        except ApiError as exc:
            s.fail(result, "RP511", f"cannot read {label}: {exc}")
            return
    if not s.options.prune:
        result.action = "left"
        result.message = "not in the spec; left in place (--prune deletes it)"
        left.append(f"{label} ({row.remote_id})")
        return
    if not await s.delete(row, result, f"cannot delete {label}", "--prune"):
        return
    result.action = "deleted"
    result.message = f"deleted {row.remote_id} (--prune)"
    s.emit("deleted", f"{row.kind}:{row.key}", result.message)
