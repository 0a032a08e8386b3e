"""Fingerprints: when two generations are the same piece of work, so one result serves both.

A generation's fingerprint is the SHA-256 of a canonical JSON document of:

* the API origin (``https://api.dev.runwayml.com``), so a result made by the emulator or by
  another deployment is never reused for the real API;
* the endpoint and the model;
* the request as compiled, with every ``@step`` reference replaced by the SHA-256 of the
  upstream output it names (its content, not the step's name or URL), and every local asset
  by the SHA-256 of the file's content;
* for an avatar video that uses one of the spec's avatars, what of the avatar shows in the
  video instead of its name: its image (by content, as an input is) and voice;
* for a generate step on one of the spec's routers, the router's slug and settings instead of
  its key (a change of the models it allows is new work, a renamed key is not);
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
        self.voices: dict[str, list[tuple[JsonPath, str]]] = {
            key: [(tuple(path), voice) for path, voice in uses]
            for key, uses in graph.voice_uses.items()
        }
        """For each generation naming one of the spec's voices, the (path, voice key) of each:
        sent as ``{type: custom, id}`` with the voice's id, hashed as the voice's ``from``."""
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
        self.avatar_images: dict[str, OutputRef] = {}
        """For an avatar video of a spec avatar whose image is a generation's output: that
        output (its hash enters the video's fingerprint)."""
        for avatar_key, user in graph.avatar_edges:
            image = graph.avatars[avatar_key].producer
            if image is not None:
                self.avatar_images[user] = OutputRef(*image)
        self.twin = self._twins()

    def upstream(self, key: str) -> list[OutputRef]:
        """Every upstream output whose hash enters ``key``'s fingerprint."""
        refs = [ref for _, ref in self.inputs[key]]
        image = self.avatar_images.get(key)
        names = [name for _, name in self.voices.get(key, ())]
        speaker = self._speaker(key)
        if speaker is not None:
            names.append(speaker)
        samples = [
            OutputRef(*node.producer)
            for name in dict.fromkeys(names)
            if (node := self.graph.voices[name]).producer is not None
        ]
        return [*refs, *([image] if image is not None else []), *samples]

    def _speaker(self, key: str) -> str | None:
        """The spec voice of the spec avatar an avatar video ``key`` uses, if it has one."""
        gen = self.graph.generations[key]
        if gen.avatar is None or (gen.avatar.step, key) not in self.graph.avatar_edges:
            return None
        return self.graph.avatars[gen.avatar.step].voice

    def _avatar(self, key: str, outputs: Mapping[OutputRef, str]) -> dict[str, Any] | None:
        """What of the spec avatar that ``key`` uses shows in its video, or None."""
        gen = self.graph.generations[key]
        if gen.avatar is None or (gen.avatar.step, key) not in self.graph.avatar_edges:
            return None
        node = self.graph.avatars[gen.avatar.step]
        image: Any = node.reference_image
        produced = self.avatar_images.get(key)
        if produced is not None:
            digest = outputs.get(produced)
            if digest is None:
                raise MissingInput(f"{produced.key}[{produced.index}]")
            image = {"$sha256": digest}
        elif self.graph.root.local_path(image) is not None:
            image = {"$file_sha256": self.file_hash(image)}
        voice = node.request.get("voice")
        if node.voice is not None:  # one of the spec's voices: its sample or design
            voice = self._voice(node.voice, outputs)
        return {
            "$avatar": {
                "referenceImage": image,
                "voice": voice,
                "imageProcessing": node.request.get("imageProcessing"),
            }
        }

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
            for path, voice in self.voices.get(key, ()):
                request = set_path(request, path, {"$voice": voice})
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
        for path, voice in self.voices.get(key, ()):
            request = set_path(request, path, self._voice(voice, outputs))
        avatar = self._avatar(key, outputs)
        if avatar is not None:
            request = set_path(request, ("avatar", "avatarId"), avatar)
        router = self.graph.routers.get(gen.router) if gen.router is not None else None
        if router is not None:
            request = set_path(
                request, ("configId",), {"$router": {"slug": router.slug, **router.settings}}
            )
        return {
            "v": FINGERPRINT_VERSION,
            "origin": self.origin,
            "endpoint": gen.endpoint,
            "model": gen.model,
            "request": request,
            "twin": self.twin[key],
        }

    def _voice(self, key: str, outputs: Mapping[OutputRef, str]) -> dict[str, Any]:
        """What stands for voice ``key`` in a fingerprint: its sample (by content) or design,
        which make a new voice when they change, so the generation is made again."""
        node = self.graph.voices[key]
        source: Any = dict(node.source)
        sample = node.sample
        if node.producer is not None:
            digest = outputs.get(OutputRef(*node.producer))
            if digest is None:
                raise MissingInput(f"{node.producer[0]}[{node.producer[1]}]")
            source["audio"] = {"$sha256": digest}
        elif sample is not None and self.graph.root.local_path(sample) is not None:
            source["audio"] = {"$file_sha256": self.file_hash(sample)}
        return {"$voice": source}

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
