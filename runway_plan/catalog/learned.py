"""Prices the account itself taught: ``runway-prices.yaml``, beside the specs.

``runway-plan prices learn`` writes the file from the costs that runs recorded; ``plan`` reads
the one in the spec's folder.  Its ``models:`` entries have the schema of the catalog's
``prices.yaml`` (unit, rates, ``per``, rounding, ``source``, ``checked``, ``confidence``) plus
an optional ``learned:`` block that says where the figure came from (how many tasks, their ids,
the dates of the first and the last, the API origin).  An entry without ``learned:`` is the
user's own and is read the same way.

The file is untrusted input, read as a spec is (:mod:`runway_plan.source`): within the
``file_bytes`` limit, plain data only.  Each problem is a diagnostic RP420 at its place and the
entry it concerns is left out; keys the schema does not know are kept (``prices learn`` writes
them back) and reported as warnings.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import Price
from runway_plan.diagnostics import Diagnostic, Severity, Span, make
from runway_plan.files import LocalFileError, Root, open_for_writing, refuse_symlink
from runway_plan.source import DataPath, SourceMap, parse_document, read_limited

__all__ = [
    "FILE_NAME",
    "LearnedFile",
    "LearnedPrice",
    "Provenance",
    "entry_digest",
    "merge_learned",
    "read_beside",
    "read_learned",
    "with_learned",
    "write_learned",
]

FILE_NAME = "runway-prices.yaml"
"""The learned prices file, in the folder of the specs it prices."""

PRICE_KEYS = frozenset(Price.model_fields)
_FIELD_OF_UNIT = {"characters": "text_field", "input_second": "input_field"}


class Provenance(BaseModel):
    """Where a learned figure came from: the tasks it rests on."""

    model_config = ConfigDict(extra="allow", frozen=True)

    tasks: int = Field(ge=1, le=10**9)
    task_ids: tuple[str, ...] = Field(default=(), max_length=1000)
    first: str = Field(default="", max_length=40)
    last: str = Field(default="", max_length=40)
    origin: str = Field(default="", max_length=500)
    digest: str = Field(
        default="",
        max_length=64,
        description="Hash of the entry as `prices learn` wrote it: a different hash means it "
        "was edited by hand, and is then not replaced without --overwrite.",
    )


@dataclass(frozen=True)
class LearnedPrice:
    """One model's entry: its price, and its provenance when ``prices learn`` wrote it."""

    model: str
    price: Price
    provenance: Provenance | None

    @property
    def citation(self) -> str:
        """Where the figure came from, for reasons and notes."""
        where = FILE_NAME
        if self.provenance is None:
            return f"{where} (a hand-written entry: {self.price.source})"
        first = self.provenance.task_ids[0] if self.provenance.task_ids else "?"
        tasks = self.provenance.tasks
        more = f", {tasks} tasks" if tasks > 1 else ""
        return f"{where}: learned from task {first} on {self.provenance.last or '?'}{more}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready provenance for ``plan --format json``."""
        provenance = self.provenance
        return {
            "model": self.model,
            "file": FILE_NAME,
            "source": self.price.source,
            "checked": self.price.checked,
            "confidence": self.price.confidence,
            "tasks": provenance.tasks if provenance else None,
            "task_ids": list(provenance.task_ids) if provenance else [],
            "first": provenance.first if provenance else None,
            "last": provenance.last if provenance else None,
        }


@dataclass
class LearnedFile:
    """A read ``runway-prices.yaml``: its usable entries, its raw data and its problems.

    ``data`` is None when the file is absent or could not be read as a mapping.
    """

    path: Path
    entries: dict[str, LearnedPrice] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    exists: bool = False


def entry_digest(entry: Mapping[str, Any]) -> str:
    """A hash of an entry's price (its ``learned:`` block and unknown keys left out), to
    tell a hand edit of the price."""
    price = {k: v for k, v in entry.items() if k in PRICE_KEYS}
    text = json.dumps(price, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _where(error: Mapping[str, Any]) -> tuple[str | int, ...]:
    return tuple(part for part in error["loc"] if isinstance(part, str | int))


def read_learned(
    path: Path, catalog: Catalog, max_bytes: int, name: str = FILE_NAME
) -> LearnedFile:
    """Read the learned prices file at ``path`` (``name`` in diagnostics); an absent file is
    empty and quiet."""
    found = LearnedFile(path)
    if not path.exists() and not path.is_symlink():
        return found
    found.exists = True
    raw = read_limited(path, name, max_bytes)
    if isinstance(raw, Diagnostic):
        found.diagnostics.append(make("RP420", raw.message, raw.span))
        return found
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        found.diagnostics.append(
            make("RP420", f"{name} is not UTF-8 text (byte {exc.start})", Span.file(name))
        )
        return found
    document = parse_document(text, name)
    problems = [d for d in document.diagnostics if d.is_error]
    if problems:
        found.diagnostics.extend(problems)
        return found
    data = document.data
    if data is None:
        data = {}
    source_map = document.source_map
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        found.diagnostics.append(
            make(
                "RP420",
                f"{name} is a mapping with 'models:' (model -> price), as the catalog's "
                "prices.yaml",
                Span.file(name),
            )
        )
        return found
    found.data = data
    for key in data:
        if key not in ("version", "models"):
            warning = make(
                "RP420", f"{name}: unknown key '{key}' is kept but not read", source_map.key((key,))
            )
            found.diagnostics.append(dataclasses.replace(warning, severity=Severity.WARNING))
    for model, entry in (data.get("models") or {}).items():
        learned = _entry(str(model), entry, catalog, source_map, found.diagnostics)
        if learned is not None:
            found.entries[learned.model] = learned
    return found


def read_beside(
    spec: str, catalog: Catalog, max_bytes: int
) -> tuple[dict[str, LearnedPrice], list[Diagnostic]]:
    """The learned prices in the folder of the spec file ``spec``, and the problems with
    them; none for a spec that is not a file (read from git).  The file is read as a file the
    spec names: only inside the spec's root (:class:`~runway_plan.files.Root`), within
    ``max_bytes``."""
    if not os.path.isfile(spec):
        return {}, []
    path = Path(spec).absolute().parent / FILE_NAME
    if not os.path.lexists(path):
        return {}, []
    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = str(path)
    try:
        real = Root.of_spec(spec).resolve(str(path))
    except LocalFileError as exc:
        return {}, [make("RP420", f"{shown}: {exc}", Span.file(shown))]
    found = read_learned(real, catalog, max_bytes, shown)
    return found.entries, found.diagnostics


def _problem(
    diagnostics: list[Diagnostic], source_map: SourceMap, path: DataPath, message: str
) -> None:
    diagnostics.append(make("RP420", message, source_map.value(path)))


def _entry(
    model: str,
    entry: Any,
    catalog: Catalog,
    source_map: SourceMap,
    diagnostics: list[Diagnostic],
) -> LearnedPrice | None:
    here: DataPath = ("models", model)
    label = f"{FILE_NAME}: models.{model}"
    known = {*catalog.model_endpoints, *catalog.overlay.retired}
    if model not in known:
        close = difflib.get_close_matches(model, sorted(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        _problem(diagnostics, source_map, here, f"{label}: no such model in the catalog{hint}")
        return None
    if not isinstance(entry, dict):
        _problem(diagnostics, source_map, here, f"{label}: a price is a mapping (unit, rates, ...)")
        return None
    for key in entry:
        if key not in PRICE_KEYS and key != "learned":
            found = make(
                "RP420",
                f"{label}: unknown key '{key}' is kept but not read",
                source_map.key((*here, key)),
            )
            diagnostics.append(dataclasses.replace(found, severity=Severity.WARNING))
    price = _validated(Price, {k: v for k, v in entry.items() if k in PRICE_KEYS}, (), here)
    block = entry.get("learned")
    provenance = None
    if block is not None:
        provenance = _validated(Provenance, block, ("learned",), here)
    problems = [p for p in (price, provenance) if isinstance(p, ValidationError)]
    for exc, prefix in ((price, ()), (provenance, ("learned",))):
        if not isinstance(exc, ValidationError):
            continue
        for error in exc.errors():
            inner = (*prefix, *_where(error))
            dotted = ".".join(str(p) for p in inner)
            _problem(
                diagnostics,
                source_map,
                (*here, *inner),
                f"{label}{'.' + dotted if dotted else ''}: {error['msg']}",
            )
    if problems or not isinstance(price, Price):
        return None
    assert provenance is None or isinstance(provenance, Provenance)
    needed = _FIELD_OF_UNIT.get(price.unit)
    if needed is not None and getattr(price, needed) is None:
        _problem(diagnostics, source_map, here, f"{label}: unit {price.unit} needs {needed}")
        return None
    if not price.rates:
        _problem(
            diagnostics, source_map, (*here, "rates"), f"{label}.rates: give at least one rate"
        )
        return None
    return LearnedPrice(model, price, provenance)


def _validated(
    model: type[Price] | type[Provenance], data: Any, _prefix: DataPath, _here: DataPath
) -> Price | Provenance | ValidationError:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return exc


def with_learned(catalog: Catalog, learned: Mapping[str, LearnedPrice]) -> Catalog:
    """``catalog`` with the learned prices replacing (or adding) its entries; the spec's own
    ``prices:`` are applied by the planner over both."""
    if not learned:
        return catalog
    models = dict(catalog.prices.models)
    unknown = dict(catalog.prices.unknown)
    for model, entry in learned.items():
        models[model] = entry.price.model_copy(update={"source": entry.citation})
        unknown.pop(model, None)
    digest = hashlib.sha256(catalog.digest.encode())
    for model in sorted(learned):
        digest.update(f"\0{model}\0".encode())
        digest.update(learned[model].price.model_dump_json().encode())
    return dataclasses.replace(
        catalog,
        prices=catalog.prices.model_copy(update={"models": models, "unknown": unknown}),
        digest=digest.hexdigest(),
    )


HEADER = (
    "# Prices this account was billed, learned by `runway-plan prices learn` from the costs\n"
    "# its runs recorded. `runway-plan plan` reads this file beside a spec: the spec's own\n"
    "# `prices:` win over it, and it wins over the catalog. Edit freely: an entry you change\n"
    "# is kept by the next `prices learn` (unless --overwrite); keys it does not know are kept.\n"
)


def merge_learned(
    data: Mapping[str, Any] | None, entries: Mapping[str, dict[str, Any]], *, overwrite: bool
) -> tuple[dict[str, Any], list[str], list[str]]:
    """``data`` (a read file, or None) with ``entries`` merged in by model: the merged data,
    the models written, and notes on the entries kept because they were edited by hand.

    An entry is replaced when ``prices learn`` wrote it and it was not changed since (its
    ``learned.digest``), or with ``overwrite``; keys the schema does not know are kept, in
    the file and in each replaced entry.
    """
    merged: dict[str, Any] = {"version": 1, **(data or {})}
    models: dict[str, Any] = dict(merged.get("models") or {})
    written: list[str] = []
    notes: list[str] = []
    for model, entry in sorted(entries.items()):
        old = models.get(model)
        new = dict(entry)
        if isinstance(old, dict):
            block = old.get("learned")
            ours = isinstance(block, dict) and block.get("digest") == entry_digest(old)
            same = {k: v for k, v in old.items() if k != "learned"} == {
                k: v for k, v in new.items() if k != "learned"
            }
            if not ours and not overwrite and not same:
                notes.append(
                    f"{model}: your entry in {FILE_NAME} was written or edited by hand and is "
                    "kept; --overwrite replaces it with what was learned"
                )
                continue
            new.update({k: v for k, v in old.items() if k not in PRICE_KEYS and k != "learned"})
        learned = dict(new.get("learned") or {})
        learned["digest"] = entry_digest(new)
        new["learned"] = learned
        models[model] = new
        written.append(model)
    merged["models"] = models
    return merged, written, notes


def write_learned(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a new file beside it, then renamed over it),
    never through a symlink (:class:`~runway_plan.files.SymlinkInTheWay`)."""
    refuse_symlink(path)
    text = HEADER + yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True, width=100)
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    fd = open_for_writing(scratch, exclusive=True)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
