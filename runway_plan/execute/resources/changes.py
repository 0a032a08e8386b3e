"""``runway-plan plan``'s view of the resources: each against the run state (and, with
``--live``, the remote objects), as :class:`~runway_plan.plan.resources.ResourcePlan`."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from runway_plan.compile import Graph
from runway_plan.execute.client import ApiError, ResourceNotFound, RunwayClient
from runway_plan.execute.fingerprint import OutputRef, canonical_json, origin_of
from runway_plan.execute.resources.desired import (
    KINDS,
    Desired,
    comparable_remote,
    compare,
    desired_state,
    moved_fields,
    scope_of,
)
from runway_plan.execute.reuse import reusable, unreadable_as_such
from runway_plan.execute.state import ResourceRow, ResourceStatus, State
from runway_plan.plan.resources import ResourceChange, ResourceField, ResourcePlan

__all__ = ["VOICE_PRICE_NOTE", "read_remote", "resource_plan", "shown_field"]


def _abbreviate(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _excerpts(old: str, new: str, limit: int = 60) -> tuple[str, str]:
    """Two texts abbreviated around where they differ (``'…outside the policy.'``)."""
    if len(old) <= limit and len(new) <= limit:
        return repr(old), repr(new)
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old), len(new)) - prefix
        and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    start = max(0, prefix - 20)

    def cut(text: str) -> str:
        middle = text[start : len(text) - suffix]
        tail = text[len(text) - suffix :]
        body = middle + tail[:15]
        if len(body) > limit:
            body = body[: limit - 1] + "…"
        elif len(tail) > 15:
            body += "…"
        return repr(("…" if start else "") + " ".join(body.split(" ")))

    return cut(old), cut(new)


def _lines_delta(old: str, new: str) -> str:
    added = removed = 0
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("+ "):
            added += 1
        elif line.startswith("- "):
            removed += 1
    return f"+{added} -{removed} lines"


def _image_text(value: Any) -> str:
    if isinstance(value, dict):
        label = value.get("from") or "image"
        digest = next((v for k, v in value.items() if k.startswith("$") and v), None)
        return f"{label} (sha256 {str(digest)[:12]})" if digest else str(label)
    return str(value)


def _source_text(value: Any) -> str:
    """A voice's ``from``: ``audio narration.wav (sha256 …)`` or ``text eleven_ttv_v3 '…'``."""
    if not isinstance(value, dict):
        return "(none)" if value is None else str(value)
    if value.get("type") == "audio":
        return f"audio {_image_text(value.get('audio'))}"
    prompt = value.get("prompt")
    shown = _abbreviate(prompt) if isinstance(prompt, str) else "(no prompt)"
    return f"text {value.get('model')} {shown}"


def _ids_text(ids: Iterable[str], names: Mapping[str, str]) -> str:
    return "[" + ", ".join(names.get(i, i[:8]) for i in ids) + "]"


def shown_field(
    kind: str,
    name: str,
    old: Any,
    new: Any,
    *,
    had: bool,
    unknown: str | None = None,
    document_names: Mapping[str, str] | None = None,
    document_keys: Iterable[str] = (),
) -> ResourceField:
    """How a field's change is shown (``had``: the current object has the field)."""
    names = document_names or {}
    if unknown is not None:
        before = _image_text(old) if name == "referenceImage" else _value_text(name, old, names)
        after = "known after the run"
        if name == "referenceImage" and isinstance(new, dict) and new.get("from"):
            after = f"{new['from']}, {after}"
        elif name == "from" and isinstance(new, dict):
            after = f"{_source_text(new)}, {after}"
        elif name == "voice" and isinstance(new, dict):
            after = f"custom, id {after}"
        elif name == "documentIds" and document_keys:
            after = "[" + ", ".join(document_keys) + "], ids known after the run"
        return ResourceField(name, before if had else None, after, unknown)
    if name == "content" and isinstance(new, str):
        size = f"{len(old):,} chars" if isinstance(old, str) and had else None
        detail = _lines_delta(old, new) if isinstance(old, str) and had else ""
        return ResourceField(name, size, f"{len(new):,} chars", detail)
    if isinstance(new, str) and isinstance(old, str) and had and name != "imageProcessing":
        before, after = _excerpts(old, new)
        lines = _lines_delta(old, new) if "\n" in old + new else ""
        return ResourceField(name, before, after, lines)
    if name == "referenceImage":
        return ResourceField(name, _image_text(old) if had else None, _image_text(new))
    if name == "from" and kind == "voice":
        detail = "the API cannot change it: the voice is made again" if had else ""
        return ResourceField(name, _source_text(old) if had else None, _source_text(new), detail)
    new_text = _value_text(name, new, names)
    old_text = _value_text(name, old, names) if had else None
    if had and name == "documentIds" and old_text == new_text:
        new_text += " (a document was created again: new id)"
    return ResourceField(name, old_text, None if new is None and had else new_text)


def _value_text(name: str, value: Any, names: Mapping[str, str]) -> str:
    if value is None:
        return "(none)"
    if name == "documentIds" and isinstance(value, list):
        return _ids_text(value, names)
    if name == "voice" and isinstance(value, dict):
        if value.get("type") == "custom" and value.get("id") in names:
            return f"custom @{names[str(value['id'])]} ({str(value['id'])[:8]})"
        return " ".join(str(value.get(k)) for k in ("type", "presetId", "id") if value.get(k))
    if isinstance(value, str):
        return _abbreviate(value)
    return canonical_json(value)


# ------------------------------------------------------------------------- plan


def _plan_hashes(
    state: State | None, reuse: Mapping[str, Any] | None
) -> Callable[[OutputRef], str | tuple[None, str]]:
    def output_hash(ref: OutputRef) -> str | tuple[None, str]:
        item = reuse.get(ref.key) if reuse is not None else None
        row = getattr(item, "step", None)
        if state is not None and item is not None and item.reusable and row is not None:
            outputs = {o.index: o for o in state.outputs(row.id)}
            found = outputs.get(ref.index)
            if found is not None and found.sha256:
                return str(found.sha256)
        why = getattr(item, "reason", "new") if item is not None else "new"
        if why == "new":
            return None, f"'{ref.key}' will be generated first"
        return None, f"'{ref.key}' will be generated again ({why})"

    return output_hash


def _document_names(rows: Iterable[ResourceRow]) -> dict[str, str]:
    return {r.remote_id: r.key for r in rows if r.kind == "document" and r.remote_id}


def _voice_names(rows: Iterable[ResourceRow]) -> dict[str, str]:
    return {r.remote_id: r.key for r in rows if r.kind == "voice" and r.remote_id}


def resource_plan(
    graph: Graph,
    state_dir: str | Path,
    base_url: str,
    *,
    reuse: Mapping[str, Any] | None = None,
    remote: Mapping[int, Mapping[str, Any] | None] | None = None,
    notes: Iterable[str] = (),
    shown: str | None = None,
    empty_remote: bool = False,
) -> ResourcePlan:
    """What a run of ``graph`` would do with its documents and avatars (no network).

    ``reuse`` is what :func:`runway_plan.execute.reusable` says of the generations (an
    avatar's image from a generation to make again is "known after the run"; asked of the
    state when not given); ``remote``
    maps state rows (by id) to the objects :func:`read_remote` read, None for one deleted
    remotely, and makes the plan one against the API (drift) instead of the state alone.
    ``shown`` is how to name the state folder in reports (default: its path);
    ``empty_remote`` plans for an API that holds none of the recorded objects (``run
    --emulate``: its emulator starts empty), so every resource is a create.
    """
    directory = Path(state_dir)
    origin = origin_of(base_url)
    source = f"{shown or directory} ({origin})"
    state = State.snapshot(directory) if (directory / "state.db").is_file() else None
    notes = list(notes)
    try:
        if reuse is None and state is not None:
            reuse = reusable(graph, directory, base_url=base_url, verify=False)
        with unreadable_as_such(directory):
            rows = state.resources(scope_of(graph), origin) if state is not None else []
        if empty_remote and rows:
            notes.append(
                "the emulator of `run --emulate` starts empty on every run, so every document, "
                "voice and avatar is created again (serve one with `runway-plan emulate` and use "
                "--base-url to keep them between runs)"
            )
            rows = []
        with unreadable_as_such(directory):
            changes = _changes(graph, rows, _plan_hashes(state, reuse), remote)
    finally:
        if state is not None:
            state.close()
    return ResourcePlan(source, remote is not None, tuple(changes), tuple(notes))


def _changes(
    graph: Graph,
    rows: list[ResourceRow],
    output_hash: Callable[[OutputRef], str | tuple[None, str]],
    remote: Mapping[int, Mapping[str, Any] | None] | None,
) -> list[ResourceChange]:
    by_key = {(r.kind, r.key): r for r in rows}
    names = {**_document_names(rows), **_voice_names(rows)}
    ids: dict[str, dict[str, str | None]] = {"document": {}, "voice": {}}
    for (kind, key), row in by_key.items():
        if kind not in ids:
            continue
        deleted = remote is not None and row.id in remote and remote[row.id] is None
        ids[kind][key] = None if deleted or row.status is ResourceStatus.CREATING else row.remote_id
    desired = desired_state(graph, ids["document"], output_hash, voice_ids=ids["voice"])
    replaced = {
        key
        for (kind, key), want in desired.items()
        if kind == "voice" and _replaced(want, by_key.get((kind, key)))
    }
    for (kind, key), want in desired.items():
        voice = graph.avatars[key].voice if kind == "avatar" else None
        if voice in replaced:
            want.unknown["voice"] = f"voice '{voice}' is made again first"
    changes: list[ResourceChange] = []
    for kind in KINDS:
        for (k, key), want in desired.items():
            if k != kind:
                continue
            changes.append(_change(want, by_key.get((kind, key)), remote, names))
    for row in rows:
        if (row.kind, row.key) in desired:
            continue
        notes = ["no longer in the spec: `run --prune` deletes it, `run` leaves it in place"]
        drift: list[str] = []
        if remote is not None and row.id in remote and remote[row.id] is None:
            drift.append("deleted remotely: the next run forgets it")
        if row.status is ResourceStatus.CREATING:
            notes.append("its create may have reached the API: the next run looks it up")
        changes.append(
            ResourceChange(
                row.kind,
                row.key,
                row.name,
                "delete",
                remote_id=row.remote_id,
                status=row.remote_status,
                drift=tuple(drift),
                notes=tuple(notes),
            )
        )
    return changes


VOICE_PRICE_NOTE = (
    "unpriced: Runway publishes no price for creating a voice (its API pricing page and "
    "custom-voices guide list none, read 2026-12-02), so it is not in the plan's total"
)
"""Said of every voice a run would create: its cost is unknown, not zero."""


def _replaced(want: Desired, row: ResourceRow | None) -> bool:
    """Whether a run makes voice ``want`` again: its ``from`` changed or is not known yet."""
    if row is None or not row.remote_id or row.status is ResourceStatus.CREATING:
        return False
    return "from" in compare(want, dict(row.applied or {}))


def _change(
    want: Desired,
    row: ResourceRow | None,
    remote: Mapping[int, Mapping[str, Any] | None] | None,
    names: Mapping[str, str],
) -> ResourceChange:
    notes: list[str] = []
    drift: list[str] = []
    if want.problem:
        notes.append(f"cannot be built: {want.problem}")
    status = row.remote_status if row is not None else None
    current: dict[str, Any] | None = None
    if row is not None and row.status is ResourceStatus.CREATING:
        notes.append(
            "a create was sent but its answer never recorded: the run looks it up by name "
            f"({row.name!r}) before creating it again"
        )
    elif row is not None and row.remote_id:
        current = dict(row.applied or {})
        if row.status is ResourceStatus.UPDATING:
            notes.append("an update was being sent when a run stopped: it is sent again")
        if remote is not None and row.id in remote:
            seen = remote[row.id]
            if seen is None:
                drift.append(f"deleted remotely (id {row.remote_id})")
                current = None
            else:
                found = comparable_remote(want.kind, seen)
                moved = moved_fields(want.kind, current, found)
                if moved:
                    drift.append(f"changed remotely: {', '.join(moved)}")
                current.update(found)
                if isinstance(seen.get("status"), str):
                    status = str(seen["status"])
    changed = compare(want, current)
    if current is None:
        shown = [
            shown_field(
                want.kind,
                name,
                None,
                want.fields.get(name),
                had=False,
                unknown=want.unknown.get(name),
                document_names=names,
                document_keys=want.documents,
            )
            for name in changed
            if want.fields.get(name) is not None or name in want.unknown
        ]
        action = "create"
    else:
        shown = [
            shown_field(
                want.kind,
                name,
                current.get(name),
                want.fields.get(name),
                had=name in current,
                unknown=want.unknown.get(name),
                document_names=names,
                document_keys=want.documents,
            )
            for name in changed
        ]
        action = "update" if changed else "unchanged"
    if want.kind == "router":
        shown = [
            part
            for item in shown
            for part in (
                _settings_fields(item, current, want) if item.name == "settings" else [item]
            )
        ]
    if want.kind == "voice" and (current is None or "from" in changed):
        notes.append(VOICE_PRICE_NOTE)
    if want.kind == "voice" and current is not None and "from" in changed:
        notes.append("its audio sample or design changed: the voice is deleted and made again")
    if want.kind in ("avatar", "voice") and status == "FAILED" and row is not None:
        notes.append(f"processing FAILED: {row.failure or 'no reason given'}")
    return ResourceChange(
        want.kind,
        want.key,
        want.name,
        action,
        remote_id=row.remote_id if row is not None else None,
        status=status if want.kind in ("avatar", "voice") else None,
        fields=tuple(shown),
        drift=tuple(drift),
        notes=tuple(notes),
    )


async def read_remote(
    client: RunwayClient, rows: Iterable[ResourceRow]
) -> tuple[dict[int, dict[str, Any] | None], list[str]]:
    """GET every recorded object: row id -> the object (None when deleted remotely), and the
    problems met (an object that could not be read is left out)."""
    found: dict[int, dict[str, Any] | None] = {}
    problems: list[str] = []
    for row in rows:
        if not row.remote_id or row.status is ResourceStatus.CREATING:
            continue
        try:
            found[row.id] = await client.resource(row.kind, row.remote_id)
        except ResourceNotFound:
            found[row.id] = None
        except ApiError as exc:
            problems.append(f"cannot read {row.kind} '{row.key}': {exc}")
    return found, problems


def _settings_fields(
    item: ResourceField, current: Mapping[str, Any] | None, want: Desired
) -> list[ResourceField]:
    """A router's ``settings`` change shown per setting (``settings.optimizeFor``, ...)."""
    old = (current or {}).get("settings")
    new = want.fields.get("settings")
    if not isinstance(new, dict):
        return [item]
    before = old if isinstance(old, dict) else {}
    had = current is not None and isinstance(old, dict)
    fields = []
    for name in sorted(set(before) | set(new)):
        if name == "schemaVersion" or before.get(name) == new.get(name):
            continue
        fields.append(
            shown_field(
                "router", f"settings.{name}", before.get(name), new.get(name), had=name in before
            )
        )
    return fields if had else [item]
