"""Model routers: which catalog models a ``generate/{video,image,audio}`` request may run on.

A generate request (runwayml 5.24.0 ``types/generate/*_create_params.py``) names a router
config (``configId``) and a model-agnostic ``input``; the router picks one model among those
its ``settings`` allow for the modality, excludes the models that cannot honour the input
(an unsupported duration, aspect ratio or resolution tier), and maps the input onto the
chosen model's request.  This module does that mapping against the catalog, for the plan (the
range over the candidates) and the emulator (which routes to the cheapest one).  The
endpoint a modality maps to follows the input: a source video makes a video request
video-to-video, a first frame image-to-video, otherwise text-to-video; an audio request of
type ``speech`` is text-to-speech, of type ``audio`` a sound effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runway_plan.catalog.model import EnumType, FieldSpec, IntegerType, NumberType

__all__ = [
    "ROUTED",
    "Candidate",
    "Routing",
    "credit_cap",
    "output_count",
    "route",
    "router_models",
    "target_endpoint",
]

ROUTED: dict[str, str] = {
    "generate/video": "video",
    "generate/image": "image",
    "generate/audio": "audio",
}
"""The generate endpoints and the modality of each (``maxCreditsPerGeneration`` key)."""

DEFAULT_ASPECT = "16:9"
"""The aspect ratio a concrete request takes when the input gives none (landscape)."""

DEFAULT_SECONDS = 5
"""The duration a concrete request takes when the input gives none and the model needs one."""

_TIERS = {"480p": 480, "720p": 720, "1080p": 1080, "4k": 2160}
"""A video resolution tier as the shorter side of a ``W:H`` ratio."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A model the router may pick, with the input mapped onto its request."""

    endpoint: str
    model: str
    request: dict[str, Any]


@dataclass(slots=True)
class Routing:
    """The candidates of one generate request, and the models excluded with why."""

    endpoint: str
    candidates: list[Candidate] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)


def _input(request: Mapping[str, Any]) -> dict[str, Any]:
    value = request.get("input")
    return value if isinstance(value, dict) else {}


def target_endpoint(endpoint: str, request: Mapping[str, Any]) -> str:
    """The catalog endpoint a generate request maps to (see the module docstring)."""
    data = _input(request)
    if endpoint == "generate/image":
        return "text_to_image"
    if endpoint == "generate/audio":
        return "text_to_speech" if data.get("type") == "speech" else "sound_effect"
    videos = data.get("referenceVideos")
    if isinstance(videos, list) and any(
        isinstance(v, dict) and v.get("role") == "source" for v in videos
    ):
        return "video_to_video"
    images = data.get("referenceImages")
    if isinstance(images, list) and any(
        isinstance(i, dict) and i.get("role") == "first" for i in images
    ):
        return "image_to_video"
    return "text_to_video"


def router_models(all_models: list[str], settings: Mapping[str, Any]) -> list[str]:
    """The models of ``all_models`` that a router's ``settings.models`` allow (all without)."""
    models = settings.get("models")
    if not isinstance(models, dict) or not isinstance(models.get("ids"), list):
        return list(all_models)
    ids = {str(i) for i in models["ids"]}
    if models.get("mode") == "allowlist_only":
        return [m for m in all_models if m in ids]
    return [m for m in all_models if m not in ids]


def credit_cap(settings: Mapping[str, Any], endpoint: str) -> int | None:
    """The router's ``maxCreditsPerGeneration`` for the endpoint's modality (None: no cap)."""
    caps = settings.get("maxCreditsPerGeneration")
    value = caps.get(ROUTED.get(endpoint, "")) if isinstance(caps, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def output_count(request: Mapping[str, Any]) -> int:
    """How many outputs a generate request asks for (``input.outputCount``, else 1): a
    router's credit cap applies per output."""
    count = _input(request).get("outputCount", 1)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1


def _accepts(spec: FieldSpec, value: Any) -> bool:
    node = spec.type
    if isinstance(node, EnumType):
        return value in node.values
    if isinstance(node, IntegerType | NumberType):
        if isinstance(node, IntegerType) and (not isinstance(value, int) or value != int(value)):
            return False
        low, high = node.minimum, node.maximum
        return (low is None or value >= low) and (high is None or value <= high)
    return True


def _default_duration(spec: FieldSpec) -> int | float | None:
    """The duration a concrete request takes when the input gives none: the router's default
    is not published, so :data:`DEFAULT_SECONDS` when the model takes it, else its shortest."""
    if _accepts(spec, DEFAULT_SECONDS):
        return DEFAULT_SECONDS
    node = spec.type
    if isinstance(node, EnumType):
        numbers = [v for v in node.values if isinstance(v, int | float) and not isinstance(v, bool)]
        return min(numbers) if numbers else None
    if isinstance(node, IntegerType | NumberType):
        return node.minimum
    return None


def _proportion(text: str) -> tuple[int, int] | None:
    width, _, height = text.partition(":")
    if not (width.isdigit() and height.isdigit()) or int(height) == 0:
        return None
    return int(width), int(height)


def _ratios(spec: FieldSpec, aspect: Any, tier: int | None) -> list[str] | None:
    """The model's ``ratio`` values that fit an aspect ratio and a resolution tier (None: the
    field is not an enum of ``W:H``)."""
    if not isinstance(spec.type, EnumType):
        return None
    found = []
    wanted = _proportion(aspect) if isinstance(aspect, str) else None
    for value in spec.type.values:
        size = _proportion(str(value))
        if size is None:
            continue
        width, height = size
        if wanted is not None and width * wanted[1] != height * wanted[0]:
            continue
        if tier is not None and min(width, height) != tier:
            continue
        found.append(str(value))
    return found


def _map(
    endpoint: str, fields: Mapping[str, FieldSpec], data: Mapping[str, Any], concrete: bool
) -> tuple[dict[str, Any] | None, str]:
    """A model's request from the model-agnostic input, or None and why the model is out."""
    request: dict[str, Any] = {}
    if "promptText" in data and "promptText" in fields:
        request["promptText"] = data["promptText"]
    for name in ("duration", "seed", "loop"):
        if name not in data:
            continue
        if name not in fields:
            if name == "duration" or (name == "loop" and data[name] is True):
                return None, f"it takes no {name}"
            continue
        if not _accepts(fields[name], data[name]):
            return None, f"it does not take {name} {data[name]!r}"
        request[name] = data[name]
    count = data.get("outputCount")
    if count is not None:
        if "outputCount" in fields:
            if not _accepts(fields["outputCount"], count):
                return None, f"it cannot make {count!r} outputs"
            request["outputCount"] = count
        elif count != 1:
            return None, f"it cannot make {count!r} outputs"
    if "audio" in data and "audio" in fields:
        request["audio"] = data["audio"]
    aspect = data.get("aspectRatio")
    resolution = data.get("resolution")
    if "resolution" in fields and isinstance(resolution, str):
        spec = fields["resolution"]
        values = spec.type.values if isinstance(spec.type, EnumType) else ()
        match = [v for v in values if str(v).lower() == resolution.lower()]
        if values and not match:
            return None, f"it does not take resolution {resolution!r}"
        if match:
            request["resolution"] = match[0]
        resolution = None
    tier = (
        _TIERS.get(resolution)
        if isinstance(resolution, str) and endpoint != "text_to_image"
        else None
    )
    if "ratio" in fields:
        ratios = _ratios(fields["ratio"], aspect, tier)
        if ratios is not None:
            if not ratios and (aspect is not None or tier is not None):
                return None, "it does not take that aspect ratio and resolution"
            if concrete and aspect is None:
                ratios = _ratios(fields["ratio"], DEFAULT_ASPECT, tier) or ratios
            if ratios and (aspect is not None or tier is not None or concrete):
                request["ratio"] = ratios[0]
    if concrete and "duration" in fields and "duration" not in request:
        seconds = _default_duration(fields["duration"])
        if seconds is not None and fields["duration"].required:
            request["duration"] = seconds
    if concrete:
        for name, spec in fields.items():
            if spec.required and name not in request and isinstance(spec.type, EnumType):
                request[name] = spec.type.values[0]
    return request, ""


def route(
    endpoints: Mapping[str, Mapping[str, Mapping[str, FieldSpec]]],
    endpoint: str,
    request: Mapping[str, Any],
    settings: Mapping[str, Any],
    *,
    concrete: bool = False,
) -> Routing:
    """The candidates of a generate request under a router's ``settings``.

    ``endpoints`` maps each catalog endpoint to its models' request fields (retired models
    left out).  With ``concrete``, a required enum field the input leaves open takes its first
    value (a request that can be sent); otherwise it stays open (the plan prices its range).
    """
    target = target_endpoint(endpoint, request)
    routing = Routing(target)
    models = endpoints.get(target, {})
    allowed = router_models(list(models), settings)
    for model in models:
        if model not in allowed:
            routing.excluded[model] = "the router's models setting leaves it out"
    data = _input(request)
    for model in allowed:
        mapped, why = _map(target, models[model], data, concrete)
        if mapped is None:
            routing.excluded[model] = why
            continue
        routing.candidates.append(Candidate(target, model, {"model": model, **mapped}))
    return routing
