"""Which generations a run can take from the state instead of paying for them, and why not.

:func:`survey` walks the graph in dependency order, computing each fingerprint from the
hashes of the upstream outputs it would use; a generation is reusable when the journal has a
succeeded step with that fingerprint whose every output is in the store with the recorded
SHA-256 (or, when the store lost it, in the readable ``outputs/`` tree it was linked to).
Otherwise the reason says, as Snakemake's dry run does, why it will be generated: new,
``promptText`` changed, upstream output changed, model changed, failed before, in flight...

:func:`reusable` is the entry point for ``runway-plan plan``: it opens a state folder without
taking its lock and never touches the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from runway_plan.compile import Graph
from runway_plan.execute.client import DEFAULT_BASE_URL
from runway_plan.execute.fingerprint import (
    Fingerprinter,
    MissingInput,
    OutputRef,
    canonical_json,
    origin_of,
)
from runway_plan.execute.layout import default_state_dir
from runway_plan.execute.state import State, StateUnreadable, StepRow, StepStatus
from runway_plan.execute.store import Store, sha256_file
from runway_plan.files import LocalFileError

__all__ = ["Reuse", "credits_saved", "reusable", "survey", "unreadable_as_such", "why"]


@contextlib.contextmanager
def unreadable_as_such(directory: Path) -> Iterator[None]:
    """Turn what a corrupt or hostile journal makes reading fail with (an interrupted or
    failed query, a value of the wrong type) into :class:`StateUnreadable`."""
    try:
        yield
    except (sqlite3.Error, ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise StateUnreadable(f"{directory}: the journal cannot be read ({exc})") from None


@dataclass(frozen=True, slots=True)
class Reuse:
    """What a run would do with one generation.

    ``reusable``: its outputs are in the state and nothing that feeds it changed.
    ``fingerprint`` is None when it cannot be known before running (an upstream generation
    will be made first).  ``step`` is the journal's row for the fingerprint, if any.
    ``billed`` is what the reused result cost when it was made.
    """

    key: str
    reusable: bool
    reason: str
    fingerprint: str | None
    step: StepRow | None
    billed: Decimal | None = None


def _outputs_ok(
    state: State, store: Store, row: StepRow, verify: bool
) -> tuple[list[str], bool] | None:
    """The output hashes of a succeeded step, and whether every output is at hand (in the
    store, or in a file it was linked to); None when the journal lacks a hash."""
    outputs = state.outputs(row.id)
    if len(outputs) != row.output_count or not outputs:
        return None
    hashes: list[str] = []
    at_hand = True
    linked: dict[str, list[str]] | None = None
    for output in outputs:
        if output.sha256 is None:
            return None
        hashes.append(output.sha256)
        present = store.verify(output.sha256) if verify else store.has(output.sha256, output.size)
        if present:
            continue
        if linked is None:
            linked = {}
            for path, digest in state.links():
                linked.setdefault(digest, []).append(path)
        copies = [p for p in linked.get(output.sha256, []) if os.path.isfile(p)]
        if not any(sha256_file(Path(p)) == output.sha256 for p in copies):
            at_hand = False
    return hashes, at_hand


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Why a generation's document differs from the one its key had before."""
    if old.get("origin") != new.get("origin"):
        return "API origin changed"
    if old.get("endpoint") != new.get("endpoint"):
        return "endpoint changed"
    if old.get("model") != new.get("model"):
        return "model changed"
    before, after = old.get("request") or {}, new.get("request") or {}
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if not changed:
        return "twin order changed" if old.get("twin") != new.get("twin") else "changed"

    def kind(value: Any) -> str:
        text = str(value)
        if "$avatar" in text:
            return "avatar"
        if "$sha256" in text:
            return "upstream"
        if "$file_sha256" in text:
            return "file"
        return "field"

    kinds = {kind(before.get(k)) for k in changed} | {kind(after.get(k)) for k in changed}
    if kinds == {"upstream"}:
        return f"upstream output changed ({', '.join(changed)})"
    if kinds == {"file"}:
        return f"local asset changed ({', '.join(changed)})"
    if kinds == {"avatar"}:
        return "its avatar's image or voice changed"
    return f"{', '.join(changed)} changed"


def why(
    state: State,
    key: str,
    row: StepRow | None,
    document: Mapping[str, Any],
    fingerprint: str | None = None,
) -> str:
    """Why generation ``key`` (journal row ``row`` for its fingerprint, if any) is made."""
    if row is None:
        earlier = next((r for r in state.steps_by_key(key) if r.fingerprint != fingerprint), None)
        return "new" if earlier is None else _changes(state.document(earlier.id), document)
    return {
        StepStatus.PENDING: "not made yet",
        StepStatus.SUBMITTING: "a create may have been sent (possibly submitted)",
        StepStatus.UNKNOWN: "a create may have been sent (possibly submitted)",
        StepStatus.RUNNING: f"in flight as task {row.task_id}: polled, not resubmitted",
        StepStatus.DOWNLOADING: "made; outputs still to download",
        StepStatus.FAILED: f"failed before ({row.failure_code or 'no code'})",
        StepStatus.CANCELLED: "cancelled before",
        StepStatus.SUCCEEDED: "made before, but its outputs were never recorded",
    }[row.status]


def survey(
    graph: Graph, state: State, fingerprinter: Fingerprinter, *, verify: bool = True
) -> dict[str, Reuse]:
    """What a run would do with every generation of ``graph``, in dependency order."""
    store = Store(state.store_dir)
    hashes: dict[OutputRef, str] = {}
    found: dict[str, Reuse] = {}
    for key in fingerprinter.order():
        try:
            document = fingerprinter.document(key, hashes)
        except MissingInput as exc:
            upstream = exc.args[0] if exc.args else str(exc)
            reason = f"upstream {upstream} will be generated first"
            found[key] = Reuse(key, False, reason, None, None)
            continue
        except LocalFileError as exc:
            found[key] = Reuse(key, False, f"cannot read a local asset: {exc}", None, None)
            continue
        fingerprint = hashlib.sha256(canonical_json(document).encode()).hexdigest()
        row = state.step(fingerprint)
        if row is not None and row.status is StepStatus.SUCCEEDED:
            outputs = _outputs_ok(state, store, row, verify)
            if outputs is not None:
                digests, at_hand = outputs
                for index, digest in enumerate(digests):
                    hashes[OutputRef(key, index)] = digest
                reason = (
                    "outputs in state"
                    if at_hand
                    else f"outputs missing from the store: fetched again from task {row.task_id}"
                )
                found[key] = Reuse(key, True, reason, fingerprint, row, row.billed_credits)
                continue
        reason = why(state, key, row, document, fingerprint)
        found[key] = Reuse(key, False, reason, fingerprint, row)
    return found


def reusable(
    graph: Graph,
    state_dir: str | Path | None = None,
    *,
    base_url: str | None = None,
    verify: bool = True,
) -> dict[str, Reuse]:
    """For ``runway-plan plan``: what a run of ``graph`` would reuse from a state folder.

    ``state_dir`` defaults to the spec's own (``.runway-plan/<spec stem>/`` beside it);
    ``base_url`` to the API's (results are only reused against the API that made them; the
    command line passes ``--base-url`` or ``RUNWAYML_BASE_URL``).  A missing state folder
    reuses nothing.  Never takes the lock, never touches the network, reads a private copy of
    the journal (:meth:`State.snapshot`) and raises
    :class:`~runway_plan.execute.state.StateUnreadable` for one it cannot read.  Keys are
    generation keys (``shot[1]``).
    """
    spec_path = graph.document.source_map.path
    directory = Path(state_dir) if state_dir is not None else default_state_dir(spec_path)
    base = base_url or DEFAULT_BASE_URL
    fingerprinter = Fingerprinter(graph, origin_of(base))
    if not (directory / "state.db").is_file():
        return {key: Reuse(key, False, "new", None, None) for key in graph.generations}
    with State.snapshot(directory) as state, unreadable_as_such(directory):
        return survey(graph, state, fingerprinter, verify=verify)


def credits_saved(
    reuse: Mapping[str, Reuse], costs: Mapping[str, tuple[Decimal, Decimal]]
) -> tuple[Decimal, Decimal]:
    """Planned credits (low, high) of the reusable generations, given ``costs`` per key
    (e.g. ``{k: (g.cost.low, g.cost.high) for k, g in plan.generations.items()}``)."""
    low = high = Decimal(0)
    for key, item in reuse.items():
        if item.reusable and key in costs:
            low += costs[key][0]
            high += costs[key][1]
    return low, high
