"""What the spec wants each document and avatar to be, and how that compares with what was
applied or what the API holds (see the package docstring)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runway_plan.compile import AvatarNode, Graph, VoiceNode
from runway_plan.diagnostics import Span
from runway_plan.execute.fingerprint import OutputRef, canonical_json, file_sha256
from runway_plan.files import LocalFileError

__all__ = [
    "DEFAULT_IMAGE_PROCESSING",
    "KINDS",
    "REPLACED",
    "Desired",
    "ImageSource",
    "OutputHash",
    "audio_source",
    "comparable_remote",
    "compare",
    "desired_state",
    "fields_of",
    "identity",
    "image_source",
    "moved_fields",
    "router_patch",
    "router_settings",
    "same_value",
    "scope_of",
]

KINDS = ("document", "voice", "avatar", "router")
"""Resource kinds, in the order they are created (an avatar attaches documents and may speak
with one of the spec's voices; a router stands alone)."""

DEFAULT_IMAGE_PROCESSING = "optimize"
"""What the API does with an avatar's image when ``imageProcessing`` is omitted."""

_AVATAR_FIELDS = (
    "name",
    "personality",
    "referenceImage",
    "voice",
    "startScript",
    "imageProcessing",
    "documentIds",
)
_DOCUMENT_FIELDS = ("name", "content")
_VOICE_FIELDS = ("name", "description", "from")
_REMOTE_VOICE = ("name", "description")
"""Voice fields an API object shows (its sample or design is not shown back)."""
REPLACED = frozenset({"from"})
"""Voice fields the API cannot change (``PATCH /v1/voices/{id}`` takes a name and a
description): a change makes a new voice (the old one is deleted first)."""
_REMOTE_AVATAR = ("name", "personality", "voice", "startScript", "documentIds")
"""Avatar fields an API object shows (its image is processed, so not comparable)."""
_REPROCESS = frozenset({"referenceImage", "imageProcessing"})
"""Avatar fields whose change makes the API process the image again."""


_ROUTER_FIELDS = ("slug", "name", "description", "settings")
"""A router's fields (PY 5.24.0 types/router_create_params.py); the slug is immutable."""


def router_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The ``settings`` of a router update that makes ``old`` into ``new``: the API merges
    them (PY 5.24.0 types/router_update_params.py), so a cap the spec dropped is sent as null,
    a dropped model list as "allow every model" and a dropped fallback as off."""
    patch = dict(new)
    before = old or {}
    if "maxCreditsPerGeneration" in before:
        caps = new.get("maxCreditsPerGeneration")
        if not isinstance(caps, dict):
            patch["maxCreditsPerGeneration"] = None
        else:
            gone = {m: None for m in before["maxCreditsPerGeneration"] or {} if m not in caps}
            patch["maxCreditsPerGeneration"] = {**gone, **caps}
    if "models" in before and "models" not in new:
        patch["models"] = {"mode": "allow_new_except", "ids": []}
    if "fallback" in before and "fallback" not in new:
        patch["fallback"] = {"onCapacity": False}
    patch.pop("schemaVersion", None)
    return patch


def fields_of(kind: str) -> tuple[str, ...]:
    """The fields of a resource kind, in the API's spelling and a stable order."""
    if kind == "voice":
        return _VOICE_FIELDS
    if kind == "router":
        return _ROUTER_FIELDS
    return _AVATAR_FIELDS if kind == "avatar" else _DOCUMENT_FIELDS


def router_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """A router's settings as the API shows them: ``schemaVersion`` 1 and ``optimizeFor``
    ``cost`` when not given (PY 5.24.0 types/router_create_response.py; "Defaults to
    cost-optimized allow-all when omitted")."""
    given = settings or {}
    found = {k: given[k] for k in sorted(given)}
    found["schemaVersion"] = 1
    found.setdefault("optimizeFor", "cost")
    return found


@dataclass(frozen=True, slots=True)
class ImageSource:
    """Where an avatar's ``referenceImage`` (or a voice's audio sample) comes from: ``step``
    (the output ``ref`` of a generation), ``file`` (the local file ``text`` names, read
    through the spec's root) or ``uri`` (a URL, ``runway://`` or data URI, sent as written)."""

    how: str
    text: str
    ref: OutputRef | None = None


@dataclass
class Desired:
    """What the spec wants one resource to be.

    ``fields`` are the values to compare and store, in the API's spelling; a
    ``referenceImage`` is an identity (``{"$sha256": ...}`` for a generation's output,
    ``{"$file_sha256": ...}`` for a local file) and ``documentIds`` the remote ids of the
    attached documents.  ``unknown`` names the fields that cannot be known yet and why (an
    upstream generation still to make, a document still to create); ``documents`` the
    attached document keys; ``problem`` a reason the resource cannot be built at all (an
    unreadable document file).
    """

    kind: str
    key: str
    name: str
    fields: dict[str, Any]
    span: Span | None = None
    image: ImageSource | None = None
    documents: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def digest(self) -> str:
        """SHA-256 of the desired fields (the ``applied_hash`` once applied)."""
        return hashlib.sha256(canonical_json(identity(self.fields)).encode()).hexdigest()


def identity(value: Any) -> Any:
    """``value`` with the display-only parts of image identities (``from``) left out."""
    if isinstance(value, dict):
        return {k: identity(v) for k, v in value.items() if k != "from"}
    if isinstance(value, list):
        return [identity(v) for v in value]
    return value


def same_value(kind: str, name: str, a: Any, b: Any) -> bool:
    """Whether two values of field ``name`` of a ``kind`` are the same to the API."""
    if kind == "avatar" and name == "documentIds":
        return sorted(a or []) == sorted(b or [])
    if kind == "avatar" and name == "imageProcessing":
        return (a or DEFAULT_IMAGE_PROCESSING) == (b or DEFAULT_IMAGE_PROCESSING)
    return bool(identity(a) == identity(b))


def compare(desired: Desired, current: Mapping[str, Any] | None) -> list[str]:
    """The fields in which ``current`` (applied or remote) differs from ``desired``, in the
    API's order; every field when there is no current object.  A field whose desired value
    is unknown counts as changed (the new output will differ)."""
    names = fields_of(desired.kind)
    if current is None:
        return list(names)
    changed = []
    for name in names:
        want = desired.fields.get(name)
        if name in current:
            differs = not same_value(desired.kind, name, want, current[name])
        else:
            differs = want is not None
        if differs or name in desired.unknown:
            changed.append(name)
    return changed


def moved_fields(kind: str, current: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    """The fields of ``found`` (a remote object, :func:`comparable_remote`) that differ from
    ``current`` (what the journal says was applied): changed remotely."""
    return [
        name
        for name, value in found.items()
        if name in current and not same_value(kind, name, current[name], value)
    ]


def comparable_remote(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an API object that can be compared with a desired state."""
    if kind == "document":
        return {k: body[k] for k in _DOCUMENT_FIELDS if k in body}
    if kind == "voice":
        return {k: body[k] for k in _REMOTE_VOICE if k in body}
    if kind == "router":
        seen = {k: body[k] for k in _ROUTER_FIELDS if k in body}
        seen.setdefault("description", None)
        if isinstance(seen.get("settings"), dict):
            seen["settings"] = router_settings(seen["settings"])
        return seen
    found: dict[str, Any] = {}
    for name in _REMOTE_AVATAR:
        if name not in body:
            continue
        value = body[name]
        if name == "voice" and isinstance(value, dict):
            keep = ("type", "presetId") if value.get("type") == "runway-live-preset" else ("type",)
            value = {k: value[k] for k in (*keep, "id") if k in value}
        found[name] = value
    return found


# ------------------------------------------------------------------------- desired state


def audio_source(graph: Graph, voice: VoiceNode) -> ImageSource | None:
    """Where a cloned voice's audio sample comes from (None for a designed voice), as
    :func:`image_source` tells an avatar's image."""
    text = voice.sample
    if text is None:
        return None
    if voice.audio is not None:
        ref = OutputRef(*voice.producer) if voice.producer is not None else None
        return ImageSource("step", text, ref=ref)
    if graph.root.local_path(text) is not None:
        return ImageSource("file", text)
    return ImageSource("uri", text)


def _content_identity(
    graph: Graph,
    source: ImageSource,
    output_hash: OutputHash,
    file_hash: Callable[[str], str] | None,
) -> tuple[Any, str | None, str | None]:
    """An input's identity (see :class:`Desired`), why it is not known yet, and why it cannot
    be read at all."""
    identity: Any
    if source.how == "step":
        identity = {"$sha256": None, "from": source.text}
        if source.ref is None:
            return identity, None, f"{source.text} names no output"
        digest = output_hash(source.ref)
        if isinstance(digest, str):
            identity["$sha256"] = digest
            return identity, None, None
        return identity, digest[1], None
    if source.how == "file":
        limit = graph.catalog.overlay.largest_upload
        try:
            if file_hash is not None:
                digest = file_hash(source.text)
            else:
                digest = file_sha256(graph.root, source.text, limit)
            return {"$file_sha256": digest, "from": source.text}, None, None
        except LocalFileError as exc:
            return {"$file_sha256": None, "from": source.text}, None, str(exc)
    if source.text.startswith("data:"):
        digest = hashlib.sha256(source.text.encode()).hexdigest()
        return {"$data_sha256": digest, "from": f"data URI ({len(source.text)} chars)"}, None, None
    return source.text, None, None


def _voice_desired(
    graph: Graph,
    voice: VoiceNode,
    output_hash: OutputHash,
    file_hash: Callable[[str], str] | None,
) -> Desired:
    request = voice.request
    source = audio_source(graph, voice)
    unknown: dict[str, str] = {}
    problems = list(voice.problems)
    origin = {k: request["from"][k] for k in sorted(request["from"])}
    if source is not None:
        identity, pending, trouble = _content_identity(graph, source, output_hash, file_hash)
        origin["audio"] = identity
        if pending:
            unknown["from"] = pending
        if trouble:
            problems.append(trouble)
    return Desired(
        "voice",
        voice.key,
        voice.name,
        {"name": request["name"], "description": request.get("description"), "from": origin},
        span=voice.span,
        image=source,
        unknown=unknown,
        problem="; ".join(problems) or None,
    )


def image_source(graph: Graph, avatar: AvatarNode) -> ImageSource:
    """Where an avatar's ``referenceImage`` comes from (the compiler resolved an ``@step``
    reference to the output it names, if it names exactly one)."""
    text = avatar.reference_image
    if avatar.image is not None:
        ref = OutputRef(*avatar.producer) if avatar.producer is not None else None
        return ImageSource("step", text, ref=ref)
    if graph.root.local_path(text) is not None:
        return ImageSource("file", text)
    return ImageSource("uri", text)


def _read_document(graph: Graph, file: str | None) -> tuple[str, str | None]:
    try:
        return graph.root.read_document(file or ""), None
    except LocalFileError as exc:
        return "", str(exc)


OutputHash = Callable[[OutputRef], "str | tuple[None, str]"]
"""The SHA-256 of a generation's output, or ``(None, why it is not known yet)``."""


def desired_state(
    graph: Graph,
    document_ids: Mapping[str, str | None],
    output_hash: OutputHash,
    file_hash: Callable[[str], str] | None = None,
    voice_ids: Mapping[str, str | None] | None = None,
) -> dict[tuple[str, str], Desired]:
    """What the spec wants every document, voice and avatar to be, keyed by (kind, key).

    ``document_ids`` and ``voice_ids`` map document and voice keys to their remote ids (None:
    to be created); ``output_hash`` gives the content hash of an avatar's upstream image or a
    voice's upstream sample, ``file_hash`` that of a local one (by default read through the
    spec's root).  An avatar's ``voice: "@name"`` is wanted as ``{type: custom, id}`` with the
    voice's id (unknown until it is created).
    """
    found: dict[tuple[str, str], Desired] = {}
    for key, doc in graph.documents.items():
        problems = list(doc.problems)
        if doc.content is not None:
            content = doc.content
        else:
            content, trouble = _read_document(graph, doc.file)
            problems += [trouble] if trouble else []
        found[("document", key)] = Desired(
            "document",
            key,
            doc.name,
            {"name": doc.name, "content": content},
            span=doc.span,
            problem="; ".join(problems) or None,
        )
    for key, node in graph.voices.items():
        found[("voice", key)] = _voice_desired(graph, node, output_hash, file_hash)
    voices = voice_ids or {}
    for key, avatar in graph.avatars.items():
        image = image_source(graph, avatar)
        unknown: dict[str, str] = {}
        request = avatar.request
        problem = "; ".join(avatar.problems) or None
        identity, waiting, trouble = _content_identity(graph, image, output_hash, file_hash)
        if waiting:
            unknown["referenceImage"] = waiting
        if trouble:
            problem = trouble
        ids: list[str] = []
        pending = [name for name in avatar.documents if not document_ids.get(name)]
        for name in dict.fromkeys(avatar.documents):
            remote = document_ids.get(name)
            if remote:
                ids.append(remote)
        if pending:
            unknown["documentIds"] = (
                f"document{'s' * (len(pending) != 1)} {', '.join(repr(p) for p in pending)} "
                f"to be created first"
            )
        wanted: Any
        if avatar.voice is not None:
            wanted = {"type": "custom", "id": voices.get(avatar.voice)}
            if not wanted["id"]:
                unknown["voice"] = f"voice '{avatar.voice}' to be created first"
        elif isinstance(request["voice"], dict):
            wanted = {k: request["voice"][k] for k in sorted(request["voice"])}
        else:
            wanted = request["voice"]
        found[("avatar", key)] = Desired(
            "avatar",
            key,
            avatar.name,
            {
                "name": request["name"],
                "personality": request["personality"],
                "referenceImage": identity,
                "voice": wanted,
                "startScript": request.get("startScript"),
                "imageProcessing": request.get("imageProcessing") or DEFAULT_IMAGE_PROCESSING,
                "documentIds": ids,
            },
            span=avatar.span,
            image=image,
            documents=list(dict.fromkeys(avatar.documents)),
            unknown=unknown,
            problem=problem,
        )
    for key, router in graph.routers.items():
        request = router.request
        found[("router", key)] = Desired(
            "router",
            key,
            str(request.get("name", router.slug)),
            {
                "slug": router.slug,
                "name": request.get("name", router.slug),
                "description": request.get("description"),
                "settings": router_settings(router.settings),
            },
            span=router.span,
            problem="; ".join(router.problems) or None,
        )
    return found


def scope_of(graph: Graph) -> str:
    """The scope resources are recorded under: the spec's name."""
    return graph.spec.name if graph.spec is not None else ""
