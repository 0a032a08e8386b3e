"""Reading the remote objects during a run: a create in doubt looked up and adopted, drift
found by a refresh, a delete in doubt settled, a resource waited for while PROCESSING."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from runway_plan.diagnostics import make
from runway_plan.execute.client import ApiError, ResourceNotFound
from runway_plan.execute.fingerprint import canonical_json
from runway_plan.execute.resources.desired import (
    Desired,
    comparable_remote,
    identity,
    moved_fields,
    same_value,
)
from runway_plan.execute.resources.session import InDoubt, ResourceResult, Session
from runway_plan.execute.state import ResourceRow

__all__ = ["recover", "refresh", "settle", "settle_deleting"]


async def settle_deleting(s: Session, row: ResourceRow) -> ResourceRow | None:
    """A delete interrupted before its answer: is the object still there?"""
    assert row.remote_id is not None
    try:
        await s.client.resource(row.kind, row.remote_id)
    except ResourceNotFound:
        s.forget(row.id, "delete", "ok", "found deleted")
        return None
    except ApiError as exc:
        raise InDoubt(f"cannot read {row.kind} {row.remote_id}: {exc}") from None
    s.state.mark_resource_unchanged(
        row.id, outcome="not deleted", detail="still present", run_id=s.run_id
    )
    return s.state.resource_by_id(row.id)


async def refresh(
    s: Session, row: ResourceRow, want: Desired, current: dict[str, Any], result: ResourceResult
) -> dict[str, Any] | None:
    """Read the remote object: None when it was deleted remotely; else ``current``
    updated with what the API holds (drift is reported, and repaired by the update)."""
    assert row.remote_id is not None
    label = s.label(row.kind, row.key)
    try:
        seen = await s.client.resource(row.kind, row.remote_id)
    except ResourceNotFound:
        result.message = f"{label} was deleted remotely ({row.remote_id}): created again"
        s.diagnostics.append(make("RP515", result.message, s.span(row.kind, row.key)))
        s.emit("drift", f"{row.kind}:{row.key}", result.message)
        return None
    except ApiError as exc:
        s.emit("note", f"{row.kind}:{row.key}", f"cannot read {label}: {exc}")
        return current
    found = comparable_remote(row.kind, seen)
    moved = moved_fields(row.kind, current, found)
    if moved:
        message = f"{label} was changed remotely ({', '.join(moved)}): put back as the spec says"
        s.diagnostics.append(make("RP515", message, s.span(row.kind, row.key)))
        s.emit("drift", f"{row.kind}:{row.key}", message)
    current.update(found)
    status = seen.get("status")
    if row.kind in ("avatar", "voice") and isinstance(status, str) and status != row.remote_status:
        failure = seen.get("failureReason")
        s.state.set_resource_status(row.id, status, failure if isinstance(failure, str) else None)
        result.status = status
    return current


async def recover(
    s: Session, row: ResourceRow, want: Desired | None, *, forget: bool = True
) -> ResourceRow | None:
    """A create whose outcome is unknown: find its object in the remote list (by name,
    then content, among the objects no row of this state claims) and adopt it, or
    (``forget``) forget the row when it is not there.  Raises :class:`InDoubt` when the
    list cannot be read."""
    label = s.label(row.kind, row.key)
    sent = dict(row.pending or {})
    try:
        listed = await s.client.list_resources(row.kind)
        claimed = s.state.claimed_remote_ids(s.origin, row.kind)
        candidates = []
        for item in listed:
            remote_id = item.get("id")
            if not isinstance(remote_id, str) or remote_id in claimed:
                continue
            if item.get("name") != row.name:
                continue
            full = (
                item
                if row.kind in ("avatar", "voice")
                else await s.client.resource(row.kind, remote_id)
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
        raise InDoubt(str(exc)) from None
    key = f"{row.kind}:{row.key}"
    if not candidates and not forget:
        return None
    if not candidates:
        s.forget(row.id, "lookup", "not found", "a create in doubt had made nothing")
        s.emit("lookup", key, f"{label}: the create in doubt made nothing; creating it")
        return None
    chosen = candidates[0]
    others = [str(c.get("id")) for c in candidates[1:]]
    detail = "found by name and content after a create in doubt"
    if others:
        detail += f"; {len(others)} other match(es) left alone: {', '.join(others)}"
    status = chosen.get("status") if isinstance(chosen.get("status"), str) else None
    adopted = s.state.mark_resource_present(
        row.id,
        remote_id=str(chosen["id"]),
        applied=sent,
        applied_hash=hashlib.sha256(canonical_json(identity(sent)).encode()).hexdigest(),
        remote_status=status,
        action="adopted",
        detail=detail,
        run_id=s.run_id,
    )
    message = f"{label}: the create in doubt had reached the API; adopted {chosen['id']}"
    if others:
        message += f" ({len(others)} other object(s) with the same name left alone)"
    s.emit("adopted", key, message)
    if want is not None:
        result = s.results[(row.kind, row.key)]
        result.message = message
    return adopted


async def settle(
    s: Session, kind: str, row_id: int, remote_id: str, result: ResourceResult
) -> None:
    """Wait while an avatar or a voice is PROCESSING; report FAILED with its reason."""
    row = s.state.resource_by_id(row_id)
    status = row.remote_status
    failure = row.failure
    started = time.monotonic()
    failures = 0
    while status in (None, "PROCESSING"):
        if s.stopping():
            result.message = "still PROCESSING when the run stopped; the next run checks it"
            break
        if time.monotonic() - started > s.options.avatar_timeout:
            result.message = (
                f"still PROCESSING after {s.options.avatar_timeout:.0f} s; the next run "
                "checks it again"
            )
            s.diagnostics.append(
                make(
                    "RP512",
                    f"{kind} '{result.key}' is {result.message}",
                    s.span(kind, result.key),
                )
            )
            break
        if status == "PROCESSING":
            await s.sleep(s.options.poll_interval)
        try:
            seen = await s.client.resource(kind, remote_id)
        except ResourceNotFound:
            s.fail(result, "RP512", f"{kind} '{result.key}' ({remote_id}) disappeared")
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
            s.state.set_resource_status(row_id, status, failure)
            s.emit("status", f"{kind}:{result.key}", f"{kind} {remote_id} {status}")
    result.status = status
    if status == "FAILED":
        reason = failure or "no reason given"
        result.message = f"processing FAILED: {reason}"
        s.diagnostics.append(
            make(
                "RP512",
                f"{kind} '{result.key}' ({remote_id}) FAILED: {reason}",
                s.span(kind, result.key),
                hint="change its referenceImage (or rerun with --retry-failed to process the "
                "same image again)"
                if kind == "avatar"
                else "change its audio sample or design, or rerun with --retry-failed to make "
                "the same voice again",
            )
        )
        s.emit("failed", f"{kind}:{result.key}", result.message)
