"""Compile the spec's documents, voices and avatars into resource nodes of the graph.

Their texts (a document's name and inline content; a voice's name, description and design
prompt; an avatar's name, personality and start script) are templates like a step's fields:
they are rendered here with the spec's variables (only checked when the variables are
unknown), and a template that fails is reported on the graph.  An avatar's ``@step`` image and
a voice's ``@step`` audio sample are resolved to the one output they name: RP300 for a step the
spec does not have, RP302 for a reference that names no single output.  An avatar's
``voice: "@name"`` names one of the spec's voices (RP300 when it has none of that name).
"""

from __future__ import annotations

import difflib

from runway_plan.compile.graph import REFERENCE, AvatarNode, DocumentNode, Graph, Ref, VoiceNode
from runway_plan.compile.references import index_out_of_range, unknown_step
from runway_plan.compile.templating import Renderer, TemplateFailure, is_template
from runway_plan.diagnostics import make
from runway_plan.source import DataPath
from runway_plan.spec import Avatar, Spec, Voice

__all__ = ["compile_resources", "voice_reference"]

_RENDERER = Renderer(max_cached=256)
"""Shared by every spec the process compiles, so it keeps only the recently used templates
(resource texts are not counted against the work limits)."""


def compile_resources(graph: Graph, spec: Spec) -> None:
    """Add a node to ``graph`` for each document and avatar of ``spec`` (after its steps are
    compiled: an avatar's image may come from one)."""
    source = graph.document.source_map
    for key, document in spec.documents.items():
        at: DataPath = ("documents", key)
        problems: list[str] = []
        graph.documents[key] = DocumentNode(
            key,
            source.key(at),
            str(_render(graph, document.name, (*at, "name"), problems)),
            _render(graph, document.content, (*at, "content"), problems),
            document.file,
            tuple(problems),
        )
    for key, voice in spec.voices.items():
        graph.voices[key] = _voice(graph, key, voice)
    for key, avatar in spec.avatars.items():
        graph.avatars[key] = _avatar(graph, key, avatar)


def voice_reference(value: object) -> str | None:
    """The voice key a ``voice`` value names (``"@narrator"``), or None for any other value."""
    if not isinstance(value, str):
        return None
    match = REFERENCE.match(value)
    return match["step"] if match and match["index"] is None else None


def _voice(graph: Graph, key: str, voice: Voice) -> VoiceNode:
    at: DataPath = ("voices", key)
    problems: list[str] = []
    request = voice.model_dump(exclude_none=True, by_alias=True)
    for name in ("name", "description"):
        if name in request:
            request[name] = _render(graph, request[name], (*at, name), problems)
    source = dict(request["from"])
    if isinstance(source.get("prompt"), str):
        source["prompt"] = _render(graph, source["prompt"], (*at, "from", "prompt"), problems)
    request["from"] = source
    audio = None
    producer = None
    sample = source.get("audio") if source.get("type") == "audio" else None
    match = REFERENCE.match(sample) if isinstance(sample, str) else None
    if match and sample is not None:
        audio = Ref(
            match["step"],
            int(match["index"]) if match["index"] else None,
            graph.document.source_map.value((*at, "from", "audio")),
            sample,
        )
        producer = _producer(graph, audio, "a voice")
    return VoiceNode(
        key,
        graph.document.source_map.key(at),
        str(request["name"]),
        request,
        audio,
        producer,
        tuple(problems),
    )


def _avatar(graph: Graph, key: str, avatar: Avatar) -> AvatarNode:
    at: DataPath = ("avatars", key)
    problems: list[str] = []
    request = avatar.model_dump(exclude_none=True, exclude={"documents"})
    for name in ("name", "personality", "startScript"):
        if name in request:
            request[name] = _render(graph, request[name], (*at, name), problems)
    image = None
    producer = None
    match = REFERENCE.match(avatar.referenceImage)
    if match:
        image = Ref(
            match["step"],
            int(match["index"]) if match["index"] else None,
            graph.document.source_map.value((*at, "referenceImage")),
            avatar.referenceImage,
        )
        producer = _producer(graph, image, "an avatar")
    voice = voice_reference(avatar.voice)
    if voice is not None and voice not in graph.voices:
        if not graph.declares("voices", voice):
            close = difflib.get_close_matches(voice, list(graph.voices), n=1)
            graph.diagnostics.append(
                make(
                    "RP300",
                    f"avatar '{key}' names unknown voice '{voice}'",
                    graph.document.source_map.value((*at, "voice")),
                    hint=f"did you mean '@{close[0]}'?"
                    if close
                    else "declare it under `voices:`, or give {type: runway-live-preset, "
                    "presetId: ...}",
                )
            )
        voice = None
    return AvatarNode(
        key,
        graph.document.source_map.key(at),
        str(request["name"]),
        request,
        tuple(avatar.documents),
        image,
        producer,
        tuple(problems),
        voice,
    )


def _producer(graph: Graph, ref: Ref, what: str) -> tuple[str, int] | None:
    """The output a resource's ``@step`` input names (``what`` takes it: "an avatar");
    None, reported, when it names none (silently when the step's fan-out failed: its outputs
    are unknown)."""
    node = graph.steps.get(ref.step)
    if node is None:
        if not graph.declares("steps", ref.step):
            graph.diagnostics.append(unknown_step(ref.step, graph.steps, ref.span))
        return None
    count = len(node.outputs)
    if count == 0:
        return None
    if ref.index is None:
        if count == 1:
            return node.outputs[0]
        graph.diagnostics.append(
            make(
                "RP302",
                f"step '{ref.step}' has {count} outputs; {what} takes one of them",
                ref.span,
                hint=f"write '@{ref.step}[0]' … '@{ref.step}[{count - 1}]'",
            )
        )
        return None
    if 0 <= ref.index < count:
        return node.outputs[ref.index]
    graph.diagnostics.append(index_out_of_range(ref, count))
    return None


def _render(graph: Graph, text: str | None, at: DataPath, problems: list[str]) -> str | None:
    """A resource's text (``at`` is its place in the spec) rendered with the spec's variables;
    as written when it holds no template, when the variables are unknown (then only its syntax
    is checked) or when it fails (reported, its message added to ``problems``)."""
    if text is None or not is_template(text):
        return text
    span = graph.document.source_map.value(at)
    if graph.variables_known:
        value = _RENDERER.render(text, graph.variables, span)
        if not isinstance(value, TemplateFailure):
            return value if isinstance(value, str) else str(value)
        failure: TemplateFailure | None = value
    else:
        failure = _RENDERER.check(text, None, span)
    if failure is not None:
        graph.diagnostics.append(failure.diagnostic)
        problems.append(failure.diagnostic.message)
    return text
