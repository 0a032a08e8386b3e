"""How long a generation's output is, when that is known before it runs.

A request's ``duration`` wins; endpoints that keep their input's length (dubbing, isolation,
speech-to-speech, character performance, video-to-video, upscaling, HDR, video-to-audio) take the
length of their input; otherwise the model's documented default, if any.  The compiler, the
planner and the emulator all use this one rule.  Where only bounds are known (speech estimated
from its text, a model's range of durations), they are kept as a range, and propagate
downstream the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.catalog.assets import get_path
from runway_plan.files import LocalFileError, Root
from runway_plan.probe import probe_local
from runway_plan.source import DataPath

__all__ = [
    "DURATION_INPUTS",
    "PASSTHROUGH_ENDPOINTS",
    "InputLength",
    "Length",
    "local_length",
    "output_length",
    "speech_length",
    "spoken_text",
]

DURATION_INPUTS: tuple[DataPath, ...] = (
    ("reference", "uri"),
    ("videoUri",),
    ("promptVideo",),
    ("audioUri",),
    ("media", "uri"),
    ("speech", "audio"),
)
"""Where an endpoint that keeps its input's length finds that input, in order of preference."""

PASSTHROUGH_ENDPOINTS = frozenset(
    {
        "character_performance",
        "video_to_video",
        "voice_dubbing",
        "voice_isolation",
        "speech_to_speech",
        "video_upscale",
        "video_to_hdr",
        "video_to_audio",
        "avatar_videos",
    }
)
"""Endpoints whose output is as long as their input unless the request says otherwise."""


@dataclass(frozen=True, slots=True)
class Length:
    """Bounds on a media length in seconds, and why they are known; exact when they are equal."""

    low: float
    high: float
    reason: str

    @property
    def exact(self) -> bool:
        """True when the length is known to the second, not only bounded."""
        return self.low == self.high

    @classmethod
    def of(cls, seconds: float, reason: str) -> Length:
        """An exact length."""
        return cls(seconds, seconds, reason)


InputLength = Callable[[DataPath, Any], Length | None]
"""Measures the input at a request path (its value given), or None when its length is unknown."""


def _seconds(value: float) -> float | None:
    """A duration as seconds, or None for a number no request may hold (the validator reports
    it): not finite, or an integer past 64 bits."""
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) else None


def output_length(
    catalog: Catalog,
    endpoint: str,
    model: str,
    request: dict[str, Any],
    input_length: InputLength,
) -> Length | None:
    """Bounds on the output's length and why they are known (None when nothing bounds it).

    Exact from a ``duration`` field, the length of the input an endpoint keeps, or the model's
    default; a range from the input's own range, the model's documented durations when the
    request omits one, or, for speech, its text at the catalog's speech rate.
    """
    duration = request.get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        seconds = _seconds(duration)
        return Length.of(seconds, "duration field") if seconds is not None else None
    if endpoint in PASSTHROUGH_ENDPOINTS and catalog.model_overlay(model).output_follows_input:
        for path in DURATION_INPUTS:
            value = get_path(request, path)
            if value is None:
                continue
            length = input_length(path, value)
            if length is not None:
                reason = f"length of {value}" if isinstance(value, str) else "input length"
                if not length.exact:
                    reason = f"{reason}, {length.reason}"
                return Length(length.low, length.high, reason)
            break
    overlay = catalog.model_overlay(model)
    if overlay.default_duration is not None:
        return Length.of(overlay.default_duration, "model default")
    if overlay.duration_range is not None:
        low, high = overlay.duration_range
        return Length(low, high, f"duration omitted: {model} makes {low:g}-{high:g} s")
    return speech_length(catalog, endpoint, request)


def speech_length(catalog: Catalog, endpoint: str, request: dict[str, Any]) -> Length | None:
    """Bounds on the length of generated speech, from its text and the catalog's speech rate."""
    rate = catalog.overlay.speech_rate
    text = spoken_text(catalog, endpoint, request)
    if rate is None or text is None:
        return None
    slow, fast = rate.chars_per_second
    return Length(
        len(text) / fast,
        len(text) / slow,
        f"speech of {len(text)} characters at {slow:g}-{fast:g} characters a second",
    )


def spoken_text(catalog: Catalog, endpoint: str, request: dict[str, Any]) -> str | None:
    """The text whose speech a request of ``endpoint`` makes (text_to_speech's ``promptText``,
    an avatar video's script: the overlay's ``speech_rate`` and ``spoken_texts``), or None."""
    rate = catalog.overlay.speech_rate
    text: Any = None
    if rate is not None and endpoint == rate.endpoint:
        text = request.get(rate.text_field)
    for spoken in catalog.overlay.spoken_texts:
        if spoken.endpoint == endpoint:
            text = get_path(request, spoken.text_path)
    return text if isinstance(text, str) and text else None


def local_length(value: Any, root: Root, catalog: Catalog) -> Length | None:
    """The exact length of the local media file an asset string names, when it is a file
    inside ``root`` no larger than the API takes (others are reported by ``validate``)."""
    if not isinstance(value, str) or root.local_path(value) is None:
        return None
    try:
        with root.open(value, limit=catalog.overlay.largest_upload) as local:
            seconds = probe_local(local).duration
    except LocalFileError:
        return None
    return Length.of(seconds, f"length of {value}") if seconds is not None else None
