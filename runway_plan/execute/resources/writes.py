"""Writing the remote objects during a run: a create, journaled before it is sent and looked
up when its outcome is unknown, and an update that PATCHes only the changed fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runway_plan.diagnostics import make
from runway_plan.execute.client import (
    ApiError,
    AuthenticationFailed,
    NotSent,
    RequestRejected,
    ResourceNotFound,
)
from runway_plan.execute.resources.desired import REPLACED, Desired, fields_of, router_patch
from runway_plan.execute.resources.lookups import recover, settle
from runway_plan.execute.resources.session import ResourceResult, Session
from runway_plan.execute.state import ResourceRow

__all__ = ["create", "replace", "update"]


async def _body(
    s: Session, want: Desired, names: Iterable[str], *, fresh: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body for ``names`` (fields in the API's spelling), and how it is
    shown (image URIs abbreviated)."""
    body: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for name in names:
        value = want.fields.get(name)
        if name == "referenceImage":
            assert want.image is not None
            uri, label = await s.image_uri(want.image, fresh)
            body[name], shown[name] = uri, label
            continue
        if name == "from" and want.kind == "voice":
            source = dict(value or {})
            if want.image is not None:
                source["audio"], label = await s.audio_uri(want.image, fresh)
                shown[name] = {**source, "audio": label}
            else:
                shown[name] = source
            body[name] = source
            continue
        body[name] = value
        shown[name] = value if name != "content" else f"({len(value or '')} chars)"
    return body, shown


def _create_fields(s: Session, want: Desired) -> list[str]:
    names = list(fields_of(want.kind))
    if want.kind == "avatar":
        request = s.graph.avatars[want.key].request
        if request.get("imageProcessing") is None:
            names.remove("imageProcessing")
        if request.get("startScript") is None:
            names.remove("startScript")
        if not want.fields.get("documentIds"):
            names.remove("documentIds")
    if want.kind in ("voice", "router") and want.fields.get("description") is None:
        names.remove("description")
    return names


async def create(
    s: Session, want: Desired, result: ResourceResult, note: str = "", depth: int = 0
) -> None:
    key = f"{want.kind}:{want.key}"
    label = s.label(want.kind, want.key)
    if s.stopping():
        result.action = "interrupted"
        result.message = "not created: the run was interrupted"
        return
    if want.unknown:
        s.fail(result, "RP511", f"{label}: {'; '.join(want.unknown.values())}")
        return
    names = _create_fields(s, want)
    for fresh in (False, True):
        try:
            body, _ = await _body(s, want, names, fresh=fresh)
        except Exception as exc:  # an upload or an input's URL
            s.fail(result, "RP506", f"cannot prepare the media of {label}: {exc}")
            return
        row = s.state.mark_resource_creating(
            **s.scope,
            kind=want.kind,
            key=want.key,
            name=want.name,
            pending=want.fields,
            run_id=s.run_id,
        )
        try:
            made = await _create_once(s, want.kind, body)
        except NotSent as exc:
            s.forget(row.id, "create", "not sent", str(exc))
            s.fail(result, "RP510", f"{label} was not created: {exc} (nothing was sent)")
            return
        except RequestRejected as exc:
            s.forget(row.id, "create", "rejected", exc.message)
            if (
                not fresh
                and want.image is not None
                and want.image.how != "uri"
                and not isinstance(exc, AuthenticationFailed)
                and any(i.path[:1] in (("referenceImage",), ("from",)) for i in exc.issues)
            ):
                s.emit("retry", key, f"the media was refused ({exc.message}): sending again")
                continue
            s.fail(result, "RP500", f"the API rejected {label}: {exc.message}")
            return
        except ApiError as exc:
            s.emit("unknown", key, f"{label}: {exc}; looking it up")
            row = s.state.resource_by_id(row.id)
            adopted = await recover(s, row, want, forget=False)
            if adopted is None:  # not (yet) listed: look once more, a poll later
                await s.sleep(s.options.poll_interval)
                adopted = await recover(s, row, want)
            if adopted is None:
                if depth >= 2:
                    s.fail(
                        result,
                        "RP514",
                        f"the creates of {label} keep failing ({exc}); run again",
                    )
                    return
                await create(
                    s, want, result, note="a create in doubt had made nothing", depth=depth + 1
                )
                return
            result.action = "adopted"
            result.remote_id = adopted.remote_id
            result.fields = list(names)
            if want.kind in ("avatar", "voice"):
                assert adopted.remote_id is not None
                await settle(s, want.kind, adopted.id, adopted.remote_id, result)
            return
        status = made.get("status") if isinstance(made.get("status"), str) else None
        done = s.state.mark_resource_present(
            row.id,
            remote_id=str(made["id"]),
            applied=want.fields,
            applied_hash=want.digest,
            remote_status=status,
            action="created",
            detail=note,
            run_id=s.run_id,
        )
        result.action = "created"
        result.remote_id = done.remote_id
        result.fields = list(names)
        result.status = status
        if note:
            result.message = note
        s.emit("created", key, f"{label} created as {made['id']}")
        if want.kind in ("avatar", "voice"):
            await settle(s, want.kind, done.id, str(made["id"]), result)
        return


async def _create_once(s: Session, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The create, retried only while it certainly did not reach the API."""
    async for attempt in s.client.retrying(NotSent):
        with attempt:
            return await s.shield(s.client.create_resource(kind, body))
    raise AssertionError("unreachable")  # pragma: no cover


async def update(
    s: Session, want: Desired, row: ResourceRow, changed: list[str], result: ResourceResult
) -> None:
    key = f"{want.kind}:{want.key}"
    label = s.label(want.kind, want.key)
    assert row.remote_id is not None
    if s.stopping():
        result.action = "interrupted"
        result.message = "not updated: the run was interrupted"
        return
    if want.unknown:
        s.fail(result, "RP511", f"{label}: {'; '.join(want.unknown.values())}")
        return
    if not changed:  # an update interrupted before: the fields are as applied
        changed = [n for n in fields_of(want.kind) if n in (row.pending or {})]
    if want.kind == "voice" and REPLACED.intersection(changed):
        await replace(s, want, row, result)
        return
    try:
        body, _ = await _body(s, want, changed)
    except Exception as exc:
        s.fail(result, "RP506", f"cannot prepare the image of {label}: {exc}")
        return
    if not body:
        result.action = "unchanged"
        return
    if want.kind == "router":
        body.pop("slug", None)
        if "settings" in body:
            body["settings"] = router_patch((row.applied or {}).get("settings"), body["settings"])
    s.state.mark_resource_updating(row.id, {n: want.fields.get(n) for n in changed}, s.run_id)
    try:
        answer = await s.shield(s.client.update_resource(want.kind, row.remote_id, body))
    except ResourceNotFound:
        message = f"{label} was deleted remotely ({row.remote_id}): created again"
        s.diagnostics.append(make("RP515", message, s.span(want.kind, want.key)))
        s.emit("drift", key, message)
        await create(s, want, result, note=message)
        return
    except ApiError as exc:
        s.state.mark_resource_unchanged(row.id, outcome="failed", detail=str(exc), run_id=s.run_id)
        code = "RP500" if isinstance(exc, RequestRejected) else "RP511"
        s.fail(result, code, f"cannot update {label}: {exc}")
        return
    applied = dict(row.applied or {})
    applied.update(want.fields)
    status = row.remote_status
    if answer is not None and isinstance(answer.get("status"), str):
        status = str(answer["status"])
    done = s.state.mark_resource_present(
        row.id,
        remote_id=row.remote_id,
        applied=applied,
        applied_hash=want.digest,
        remote_status=status,
        action="updated",
        detail=", ".join(changed),
        run_id=s.run_id,
    )
    result.action = "updated"
    result.fields = list(changed)
    result.status = status
    s.emit("updated", key, f"{label} updated: {', '.join(changed)}")
    if want.kind in ("avatar", "voice"):
        await settle(s, want.kind, done.id, row.remote_id, result)


async def replace(s: Session, want: Desired, row: ResourceRow, result: ResourceResult) -> None:
    """A voice whose sample or design changed: the API cannot change those, so the old
    voice is deleted and a new one made (avatars naming it are then updated with the new
    id)."""
    assert row.remote_id is not None
    label = s.label(want.kind, want.key)
    if not await s.delete(
        row, result, f"cannot replace {label}", "replaced: its sample or design changed"
    ):
        return
    note = f"made again ({row.remote_id} deleted): its sample or design changed"
    s.emit("replace", f"{want.kind}:{want.key}", f"{label} {note}")
    await create(s, want, result, note=note)
