"""Fingerprints: when two generations are the same piece of work, so one result serves both.

A generation's fingerprint is the SHA-256 of a canonical JSON document of:

* the API origin (``https://api.dev.runwayml.com``), so a result made by the emulator or by
  another deployment is never reused for the real API;
* the endpoint and the model;
* the request as compiled, with every ``@step`` reference replaced by the SHA-256 of the
  upstream output it names (its content, not the step's name or URL), and every local asset
  by the SHA-256 of the file's content;
* a twin number: two generations with the same request (items of a fan-out asked for as
  variations) are two pieces of work, numbered in a deterministic order of the graph.

The step's name is left out, so a renamed step keeps its results, and so are the names of its
ancestors: an edit upstream reaches a step only through the content of the outputs it uses
(ComfyUI keys its cache on a node's inputs and ancestors the same way).  ``needs`` edges order
work but carry no data, so they do not enter a fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runway_plan.catalog.assets import JsonPath, asset_fields, set_path
from runway_plan.compile import Graph
from runway_plan.errors import RunwayPlanError
from runway_plan.files import Root

__all__ = [
    "FINGERPRINT_VERSION",
    "Fingerprinter",
    "LocalInput",
    "MissingInput",
    "OutputRef",
    "canonical_json",
    "file_sha256",
    "origin_of",
    "request_sha256",
]

FINGERPRINT_VERSION = 1
"""Bumped when the fingerprint's recipe changes (old results are then not reused)."""


class MissingInput(KeyError, RunwayPlanError):
    """A fingerprint needs the hash of an upstream output that is not known yet."""


@dataclass(frozen=True, slots=True)
class OutputRef:
    """The ``index``-th output of generation ``key``."""

    key: str
    index: int


@dataclass(frozen=True, slots=True)
class LocalInput:
    """A local file a request names: where, as the spec wrote it, and the media it may be."""

    path: JsonPath
    value: str
    media: frozenset[str]


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_sha256(endpoint: str, body: Mapping[str, Any]) -> str:
    """SHA-256 of a create request exactly as the emulator's ledger hashes it.

    Recorded with every attempt, so a create whose outcome is unknown can be matched against
    an account's records later.
    """
    text = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def origin_of(base_url: str) -> str:
    """``scheme://host[:port]`` of an API base URL, lowercased (the fingerprint's origin)."""
    parts = urlsplit(base_url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


_HASHES: dict[tuple[Path, int, int], str] = {}
_HASHES_SIZE = 4096


def file_sha256(root: Root, value: str, limit: int) -> str:
    """SHA-256 of the local file ``value`` names, read through ``root`` (confined, at most
    ``limit`` bytes; :class:`~runway_plan.files.LocalFileError` otherwise), cached per real
    path, size and modification time."""
    with root.open(value, limit=limit) as local:
        key = (local.path, local.size, local.mtime_ns)
        found = _HASHES.get(key)
        if found is None:
            if len(_HASHES) >= _HASHES_SIZE:
                _HASHES.clear()
            found = _HASHES[key] = local.sha256()
    return found


class Fingerprinter:
    """Fingerprints of the generations of one graph against one API origin."""

    def __init__(self, graph: Graph, origin: str) -> None:
        self.graph = graph
        self.origin = origin
        self.inputs: dict[str, list[tuple[JsonPath, OutputRef]]] = {}
        self.files: dict[str, list[LocalInput]] = {}
        self.file_hashes: dict[str, str] = {}
        """The hash of each local file as first read in this run: what it checked, so what
        is sent must match it."""
        for key, gen in graph.generations.items():
            refs: list[tuple[JsonPath, OutputRef]] = []
            for path, ref in gen.refs:
                node = graph.steps.get(ref.step)
                if node is None:
                    continue
                index = 0 if ref.index is None else ref.index
                if 0 <= index < len(node.outputs):
                    producer, output = node.outputs[index]
                    refs.append((tuple(path), OutputRef(producer, output)))
            self.inputs[key] = refs
            ref_paths = {path for path, _ in refs}
            files: list[LocalInput] = []
            for field in asset_fields(graph.catalog, gen.endpoint, gen.model, gen.request):
                if field.path in ref_paths:
                    continue
                if graph.root.local_path(field.value) is not None:
                    files.append(LocalInput(field.path, field.value, field.media))
            self.files[key] = files
        self.twin = self._twins()

    def order(self) -> list[str]:
        """A topological order of the generations (``needs`` included), ties broken by their
        order in the spec."""
        return self.graph.order_keys()

    def _twins(self) -> dict[str, int]:
        """Twin numbers: how many earlier generations (in :meth:`order`) are the same work."""
        static: dict[str, str] = {}
        seen: dict[str, int] = {}
        twin: dict[str, int] = {}
        for key in self.order():
            gen = self.graph.generations[key]
            request: Any = gen.request
            for path, ref in self.inputs[key]:
                request = set_path(request, path, {"$ref": static.get(ref.key), "out": ref.index})
            for local in self.files[key]:
                request = set_path(request, local.path, {"$file": local.value})
            text = canonical_json([gen.endpoint, gen.model, request])
            base = hashlib.sha256(text.encode()).hexdigest()
            twin[key] = seen.get(base, 0)
            seen[base] = twin[key] + 1
            static[key] = f"{base}:{twin[key]}"
        return twin

    def document(self, key: str, outputs: Mapping[OutputRef, str]) -> dict[str, Any]:
        """The canonical document hashed into ``key``'s fingerprint.

        ``outputs`` gives the SHA-256 of upstream outputs; raises :class:`MissingInput` when
        one that ``key`` uses is missing, and :class:`~runway_plan.files.LocalFileError` when
        a local asset cannot be read (outside the spec's root, not a regular file, ...).
        """
        gen = self.graph.generations[key]
        request: Any = gen.request
        for path, ref in self.inputs[key]:
            digest = outputs.get(ref)
            if digest is None:
                raise MissingInput(f"{ref.key}[{ref.index}]")
            request = set_path(request, path, {"$sha256": digest})
        for local in self.files[key]:
            request = set_path(request, local.path, {"$file_sha256": self.file_hash(local.value)})
        return {
            "v": FINGERPRINT_VERSION,
            "origin": self.origin,
            "endpoint": gen.endpoint,
            "model": gen.model,
            "request": request,
            "twin": self.twin[key],
        }

    def file_hash(self, value: str) -> str:
        """The SHA-256 of the local file ``value`` names, as first read by this fingerprinter
        (through the spec's root)."""
        found = self.file_hashes.get(value)
        if found is None:
            limit = self.graph.catalog.overlay.largest_upload
            found = self.file_hashes[value] = file_sha256(self.graph.root, value, limit)
        return found

    def fingerprint(self, key: str, outputs: Mapping[OutputRef, str]) -> str:
        """The fingerprint of generation ``key`` given its upstream outputs' hashes."""
        return self.fingerprinted(key, outputs)[1]

    def fingerprinted(self, key: str, outputs: Mapping[OutputRef, str]) -> tuple[str, str]:
        """:meth:`document` as canonical JSON, and the fingerprint it hashes to."""
        text = canonical_json(self.document(key, outputs))
        return text, hashlib.sha256(text.encode()).hexdigest()
