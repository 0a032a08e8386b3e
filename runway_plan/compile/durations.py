"""How long a generation's output is, when that is known before it runs.

A request's ``duration`` wins; endpoints that keep their input's length (dubbing, isolation,
speech-to-speech, character performance, video-to-video, upscaling, HDR, video-to-audio) take the
length of their input; otherwise the model's documented default, if any.  The compiler, the
planner and the emulator all use this one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.source import DataPath

__all__ = ["DURATION_INPUTS", "PASSTHROUGH_ENDPOINTS", "InputLength", "output_duration"]

DURATION_INPUTS: tuple[DataPath, ...] = (
    ("reference", "uri"),
    ("videoUri",),
    ("promptVideo",),
    ("audioUri",),
    ("media", "uri"),
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
    }
)
"""Endpoints whose output is as long as their input unless the request says otherwise."""

InputLength = Callable[[DataPath, Any], float | None]
"""Measures the input at a request path (its value given): seconds, or None when unknown."""


def _get(data: Any, path: DataPath) -> Any:
    for part in path:
        if not isinstance(data, dict) or not isinstance(part, str):
            return None
        data = data.get(part)
    return data


def output_duration(
    catalog: Catalog,
    endpoint: str,
    model: str,
    request: dict[str, Any],
    input_length: InputLength,
) -> tuple[float | None, str]:
    """The output length in seconds and why it is known (``(None, "")`` when it is not)."""
    duration = request.get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return float(duration), "duration field"
    if endpoint in PASSTHROUGH_ENDPOINTS:
        for path in DURATION_INPUTS:
            value = _get(request, path)
            if value is None:
                continue
            seconds = input_length(path, value)
            if seconds is not None:
                return seconds, f"length of {value}" if isinstance(value, str) else "input length"
            break
    default = catalog.model_overlay(model).default_duration
    if default is not None:
        return default, "model default"
    return None, ""
