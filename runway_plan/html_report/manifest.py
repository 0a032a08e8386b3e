"""The run manifest as the report reads it, and where a spec's manifests are.

A manifest (``<state>/runs/<id>/manifest.json``, written by
:func:`runway_plan.execute.report.write_manifest`) is a file on disk, so it is validated like
any input: a field the report needs that is missing or of the wrong type is a
:class:`ManifestError` naming the file and the field, never a traceback.  Fields the report
does not use are ignored, so a manifest that gained fields still reads.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from runway_plan.errors import RunwayPlanError

__all__ = [
    "MANIFEST_MAX_BYTES",
    "AttemptRecord",
    "CreditRange",
    "DiagnosticRecord",
    "GenerationRecord",
    "Manifest",
    "ManifestError",
    "OutputRecord",
    "ResourceRecord",
    "find_manifest",
    "read_manifest",
]

MANIFEST_MAX_BYTES = 512 * 1024 * 1024
"""The largest manifest read (a 10,000-generation run writes a few tens of MB)."""


class ManifestError(RunwayPlanError):
    """A manifest that cannot be read or is not one (the message names the file)."""


class _Record(BaseModel):
    """The manifest's camelCase fields as snake_case attributes; unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class CreditRange(_Record):
    """Planned credits: ``low`` and ``high`` (equal unless the price is a range)."""

    low: Decimal
    high: Decimal


class OutputRecord(_Record):
    """One downloaded output: its reference, place and content hash."""

    index: int
    ref: str
    sha256: str
    size: int | None = None
    mime: str | None = None
    path: str


class AttemptRecord(_Record):
    """One create request and the task it made."""

    number: int
    run: int | None = None
    status: str
    task_id: str | None = None
    failure_code: str | None = None
    failure: str | None = None
    estimated_credits: Decimal | None = None
    billed_credits: Decimal | None = None
    request: Any = None
    sent_at: str | None = None


class GenerationRecord(_Record):
    """What the run did with one generation."""

    key: str
    step: str
    index: int | None = None
    endpoint: str = ""
    model: str = ""
    outcome: str
    reason: str | None = None
    message: str | None = None
    planned: CreditRange | None = None
    billed_credits: Decimal | None = None
    billed_this_run: Decimal | None = None
    attempts: list[AttemptRecord] = []
    outputs: list[OutputRecord] = []


class ResourceRecord(_Record):
    """What the run did with one document or avatar."""

    kind: str
    key: str
    name: str | None = None
    action: str
    remote_id: str | None = None
    status: str | None = None
    fields: list[str] = []
    message: str | None = None


class DiagnosticRecord(_Record):
    """A diagnostic of the run, as ``validate --format json`` writes it."""

    code: str
    severity: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None


class SpecRecord(_Record):
    """The spec the run ran."""

    path: str
    name: str = ""
    sha256: str = ""


class CatalogRecord(_Record):
    """The catalog the run priced with."""

    version: str = ""
    digest: str = ""


class Manifest(_Record):
    """A run manifest: the run, its spec and catalog, and every generation and resource."""

    version: int
    run: int
    status: str
    started_at: str
    finished_at: str | None = None
    spec: SpecRecord
    catalog: CatalogRecord = CatalogRecord()
    api: str = ""
    planned: CreditRange | None = None
    billed_this_run: Decimal | None = None
    requests: dict[str, int] = {}
    throttled: int = 0
    generations: list[GenerationRecord]
    resources: list[ResourceRecord] = []
    diagnostics: list[DiagnosticRecord] = []


def _where(error: dict[str, Any]) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def read_manifest(path: Path) -> Manifest:
    """The manifest at ``path`` (a regular file, not followed through a symlink)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with open(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MANIFEST_MAX_BYTES:
                raise ManifestError(f"{path}: {size} bytes, more than a manifest holds")
            data = json.loads(handle.read(MANIFEST_MAX_BYTES + 1))
    except OSError as exc:
        raise ManifestError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ManifestError(f"{path}: not JSON ({exc})") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ManifestError(
            f"{path}: not a run manifest: {_where(dict(first))}: {first['msg']}"
        ) from None


def _run_ids(state: Path) -> list[int]:
    """The numbered run folders of ``state``, newest first."""
    try:
        names = os.listdir(state / "runs")
    except OSError:
        return []
    return sorted((int(name) for name in names if name.isdecimal()), reverse=True)


def find_manifest(
    state: Path, spec: Path, *, run: int | None = None, shared: bool = False
) -> Path | None:
    """The manifest of ``spec``'s run ``run`` in ``state``, or of its latest run that wrote
    one (a run still going, or killed, has none yet); None when there is none.

    ``shared``: the folder may hold other specs' runs (``--state``), so only manifests whose
    spec path is ``spec`` count.  A manifest that cannot be read is skipped when looking for
    the latest, and :class:`ManifestError` for the ``run`` asked for.
    """
    wanted = str(spec.resolve())
    for number in _run_ids(state):
        if run is not None and number != run:
            continue
        path = state / "runs" / str(number) / "manifest.json"
        if not path.is_file():
            if run is not None:
                return None
            continue
        if not shared:
            return path
        try:
            found = read_manifest(path)
        except ManifestError:
            if run is not None:
                raise
            continue
        if found.spec.path == wanted:
            return path
        if run is not None:
            return None
    return None
