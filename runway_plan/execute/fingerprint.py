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
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runway_plan.catalog.assets import JsonPath, asset_fields, set_path
from runway_plan.compile import Graph, local_asset_path

__all__ = [
    "FINGERPRINT_VERSION",
    "Fingerprinter",
    "MissingInput",
    "OutputRef",
    "canonical_json",
    "file_sha256",
    "origin_of",
    "request_sha256",
]

FINGERPRINT_VERSION = 1
"""Bumped when the fingerprint's recipe changes (old results are then not reused)."""


class MissingInput(KeyError):
    """A fingerprint needs the hash of an upstream output that is not known yet."""


@dataclass(frozen=True, slots=True)
class OutputRef:
    """The ``index``-th output of generation ``key``."""

    key: str
    index: int


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


@lru_cache(maxsize=4096)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content (cached per path, size and modification time)."""
    stat = os.stat(path)
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


class Fingerprinter:
    """Fingerprints of the generations of one graph against one API origin."""

    def __init__(self, graph: Graph, origin: str) -> None:
        self.graph = graph
        self.origin = origin
        spec_path = graph.document.source_map.path
        self.inputs: dict[str, list[tuple[JsonPath, OutputRef]]] = {}
        self.files: dict[str, list[tuple[JsonPath, Path]]] = {}
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
            files: list[tuple[JsonPath, Path]] = []
            for field in asset_fields(graph.catalog, gen.endpoint, gen.model, gen.request):
                if field.path in ref_paths:
                    continue
                local = local_asset_path(field.value, spec_path)
                if local is not None:
                    files.append((field.path, local))
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
            for path, local in self.files[key]:
                request = set_path(request, path, {"$file": str(local)})
            text = canonical_json([gen.endpoint, gen.model, request])
            base = hashlib.sha256(text.encode()).hexdigest()
            twin[key] = seen.get(base, 0)
            seen[base] = twin[key] + 1
            static[key] = f"{base}:{twin[key]}"
        return twin

    def document(self, key: str, outputs: Mapping[OutputRef, str]) -> dict[str, Any]:
        """The canonical document hashed into ``key``'s fingerprint.

        ``outputs`` gives the SHA-256 of upstream outputs; raises :class:`MissingInput` when
        one that ``key`` uses is missing, and ``OSError`` when a local asset cannot be read.
        """
        gen = self.graph.generations[key]
        request: Any = gen.request
        for path, ref in self.inputs[key]:
            digest = outputs.get(ref)
            if digest is None:
                raise MissingInput(f"{ref.key}[{ref.index}]")
            request = set_path(request, path, {"$sha256": digest})
        for path, local in self.files[key]:
            request = set_path(request, path, {"$file_sha256": file_sha256(local)})
        return {
            "v": FINGERPRINT_VERSION,
            "origin": self.origin,
            "endpoint": gen.endpoint,
            "model": gen.model,
            "request": request,
            "twin": self.twin[key],
        }

    def fingerprint(self, key: str, outputs: Mapping[OutputRef, str]) -> str:
        """The fingerprint of generation ``key`` given its upstream outputs' hashes."""
        text = canonical_json(self.document(key, outputs))
        return hashlib.sha256(text.encode()).hexdigest()
