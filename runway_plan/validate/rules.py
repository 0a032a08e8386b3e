"""Rules of a model that span several fields, named in the catalog overlay's ``rules``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runway_plan.diagnostics import Diagnostic, make
from runway_plan.validate.checker import _Checker
from runway_plan.validate.describe import (
    _TAG,
)


def _positions(request: dict[str, Any]) -> list[dict[str, Any]] | None:
    images = request.get("promptImage")
    if isinstance(images, list) and all(isinstance(item, dict) for item in images):
        return images
    return None


def _rule_prompt_image_modes(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    images = _positions(request)
    if not images:
        return []
    positioned = [("position" in item) for item in images]
    if any(positioned) and not all(positioned):
        return [
            make(
                "RP211",
                f"promptImage mixes keyframes (items with a position) and reference images "
                f"(items without); {checker.subject} takes one mode or the other",
                checker.span(("promptImage",)),
            )
        ]
    return []


def _rule_first_frame_required(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    images = _positions(request)
    if not images:
        return []
    positions = {item.get("position") for item in images}
    if "last" in positions and "first" not in positions:
        return [
            make(
                "RP211",
                f"promptImage has a last frame but no first frame; {checker.subject} needs the "
                "first",
                checker.span(("promptImage",)),
            )
        ]
    return []


def _rule_keyframe_ranges(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    keyframes = request.get("keyframes")
    if not isinstance(keyframes, list):
        return []
    frames = [k for k in keyframes if isinstance(k, dict)]
    with_range = [("range" in k) for k in frames]
    found: list[Diagnostic] = []
    if any(with_range) and not all(with_range):
        found.append(
            make(
                "RP211",
                "either every keyframe sets a range or none does",
                checker.span(("keyframes",)),
            )
        )
    for index, frame in enumerate(frames):
        span_range = frame.get("range")
        seconds = frame.get("seconds")
        if not isinstance(span_range, dict):
            continue
        start, end = span_range.get("start_seconds"), span_range.get("end_seconds")
        if not isinstance(start, int | float) or not isinstance(end, int | float):
            continue
        if start >= end:
            found.append(
                make(
                    "RP211",
                    f"keyframes[{index}].range ends before it starts",
                    checker.span(("keyframes", index, "range")),
                )
            )
        elif isinstance(seconds, int | float) and not start <= seconds < end:
            found.append(
                make(
                    "RP211",
                    f"keyframes[{index}] at {seconds} s is outside its range [{start}, {end})",
                    checker.span(("keyframes", index, "seconds")),
                )
            )
    return found


def _rule_reference_tags(request: dict[str, Any], checker: _Checker) -> list[Diagnostic]:
    images = request.get("referenceImages")
    if not isinstance(images, list):
        return []
    found: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(images):
        tag = item.get("tag") if isinstance(item, dict) else None
        if not isinstance(tag, str):
            continue
        at = ("referenceImages", index, "tag")
        if not _TAG.match(tag):
            found.append(
                make(
                    "RP211",
                    f"referenceImages[{index}].tag '{tag}' must be 3-16 letters, digits or '_', "
                    "starting with a letter",
                    checker.span(at),
                    hint="the prompt refers to it as @tag",
                )
            )
        if tag in seen:
            found.append(
                make(
                    "RP211",
                    f"tag '{tag}' is used by referenceImages[{seen[tag]}] too",
                    checker.span(at),
                )
            )
        seen.setdefault(tag, index)
    return found


_RULES: dict[str, Callable[[dict[str, Any], _Checker], list[Diagnostic]]] = {
    "prompt_image_modes": _rule_prompt_image_modes,
    "first_frame_required": _rule_first_frame_required,
    "keyframe_ranges": _rule_keyframe_ranges,
    "reference_tags": _rule_reference_tags,
}
RULE_NAMES = frozenset(_RULES)
