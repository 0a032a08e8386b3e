"""References from a step to the spec's own resources: an avatar video's ``avatar: "@name"``,
and a custom voice's ``voice: "@name"`` (:func:`link_voice_uses`).

An ``avatar_videos`` step takes an avatar in the SDK's shape (``{type: runway-preset,
presetId}`` or ``{type: custom, avatarId}``) or one of the spec's ``avatars:`` by name, as
``avatar: "@support"`` or ``avatar: {type: custom, avatarId: "@support"}``.  The compiler takes
such a reference out of the generation's ``@step`` references (:func:`take_avatar_ref`): the
request then holds ``{type: custom, avatarId: "@support"}``, which the validator checks as the
SDK's custom shape and the runner fills with the reconciled avatar's id.  Once the avatars
are compiled, :func:`link_avatar_uses` resolves each name to its resource node: an edge from
the avatar to the generation, and from the generation the avatar's image comes from; RP310
for a name the spec has no avatar of, RP311 for one written with an index, RP301 for a video
that the avatar's own image depends on.
"""

from __future__ import annotations

import difflib
from collections import deque
from typing import Any

from runway_plan.compile.graph import Graph, Ref
from runway_plan.diagnostics import make
from runway_plan.source import DataPath

__all__ = [
    "AVATAR_ENDPOINT",
    "AVATAR_PATHS",
    "link_avatar_uses",
    "link_voice_uses",
    "take_avatar_ref",
]

AVATAR_ENDPOINT = "avatar_videos"
"""The endpoint whose ``avatar`` may name one of the spec's avatars."""

AVATAR_PATHS: tuple[DataPath, ...] = (("avatar",), ("avatar", "avatarId"))
"""Where an avatar video names a spec avatar: the whole field, or the custom shape's id."""


def take_avatar_ref(
    endpoint: str, request: dict[str, Any], refs: list[tuple[DataPath, Ref]]
) -> tuple[dict[str, Any], list[tuple[DataPath, Ref]], Ref | None]:
    """The request, its ``@step`` references and the spec avatar it names (None: none): a
    reference at :data:`AVATAR_PATHS` of an avatar video leaves ``refs``, and ``avatar:
    "@name"`` becomes the SDK's custom shape (a copy: ``request`` may be shared)."""
    if endpoint != AVATAR_ENDPOINT:
        return request, refs, None
    found = [(path, ref) for path, ref in refs if tuple(path) in AVATAR_PATHS]
    if not found:
        return request, refs, None
    path, ref = found[0]
    rest = [(p, r) for p, r in refs if tuple(p) not in AVATAR_PATHS]
    if tuple(path) == ("avatar",):
        request = {**request, "avatar": {"type": "custom", "avatarId": ref.text}}
    return request, rest, ref


def link_avatar_uses(graph: Graph) -> None:
    """Resolve the spec avatar each avatar video names, after the avatars are compiled (see
    the module docstring); a problem is reported at the reference and makes no edge."""
    ancestors: dict[str, set[str]] = {}
    users = [*graph.generations.values(), *graph.unexpanded.values()]
    for generation in users:
        ref = generation.avatar
        if ref is None or not _resolves(graph, ref):
            continue
        if generation.key not in graph.generations:
            continue
        node = graph.avatars[ref.step]
        producer = node.producer[0] if node.producer is not None else None
        if producer is not None:
            if ref.step not in ancestors:
                ancestors[ref.step] = _ancestors(graph, producer)
            if generation.key in ancestors[ref.step]:
                graph.diagnostics.append(
                    make(
                        "RP301",
                        f"'{generation.key}' uses avatar '{ref.step}', whose image "
                        f"'{node.reference_image}' depends on '{generation.key}': a cycle",
                        ref.span,
                    )
                )
                continue
            graph.edges[(producer, generation.key)] = None
        graph.avatar_edges[(ref.step, generation.key)] = None


def link_voice_uses(graph: Graph) -> None:
    """An edge from the generation a voice's sample comes from to each generation that speaks
    with the voice (``voice: "@presenter"``, :attr:`Graph.voice_uses`, or an avatar video of
    a spec avatar whose voice it is), after the voices and avatars are compiled; RP301, and no
    edge, when that generation depends on the speaker itself."""
    ancestors: dict[str, set[str]] = {}
    speakers: dict[str, list[tuple[DataPath, str]]] = {}
    for avatar, user in graph.avatar_edges:  # an avatar video in its avatar's own voice
        voice = graph.avatars[avatar].voice
        if voice is not None:
            speakers.setdefault(user, []).append((("avatar",), voice))
    for key, uses in [*graph.voice_uses.items(), *speakers.items()]:
        for path, name in uses:
            node = graph.voices.get(name)
            if node is None or node.producer is None:
                continue
            producer = node.producer[0]
            if name not in ancestors:
                ancestors[name] = _ancestors(graph, producer)
            if key in ancestors[name]:
                step = graph.generations[key].step
                graph.diagnostics.append(
                    make(
                        "RP301",
                        f"voice '{name}' is cloned from '{producer}', which needs the voice "
                        f"itself (through '{key}')",
                        graph.document.source_map.value(("steps", step, *path)),
                    )
                )
                continue
            graph.edges[(producer, key)] = None


def _resolves(graph: Graph, ref: Ref) -> bool:
    """Whether ``ref`` names one of the spec's avatars; reported when it does not."""
    if ref.index is not None:
        graph.diagnostics.append(
            make(
                "RP311",
                f"'{ref.text}' names an avatar with an index; an avatar is one resource",
                ref.span,
                hint=f"write '@{ref.step}'",
            )
        )
        return False
    if ref.step in graph.avatars:
        return True
    if graph.declares("avatars", ref.step):
        return False
    close = difflib.get_close_matches(ref.step, list(graph.avatars), n=1, cutoff=0.6)
    if close:
        hint = f"did you mean '@{close[0]}'?"
    elif ref.step in graph.steps:
        hint = f"'{ref.step}' is a step; an avatar video takes one of the spec's avatars"
    elif graph.avatars:
        hint = f"the spec's avatars: {', '.join(sorted(graph.avatars))}"
    else:
        hint = "declare it under avatars:, or give {type: runway-preset, presetId: ...}"
    graph.diagnostics.append(make("RP310", f"unknown avatar '{ref.step}'", ref.span, hint=hint))
    return False


def _ancestors(graph: Graph, key: str) -> set[str]:
    """Every generation (and ``needs`` join) that ``key`` depends on, ``key`` included."""
    _, edges = graph.dependencies()
    before: dict[str, list[str]] = {}
    for producer, consumer in edges:
        before.setdefault(consumer, []).append(producer)
    seen = {key}
    queue = deque([key])
    while queue:
        for earlier in before.get(queue.popleft(), ()):
            if earlier not in seen:
                seen.add(earlier)
                queue.append(earlier)
    return seen
