"""The files the emulator serves: what a request's outputs are, and how their bytes are made.

A task's outputs follow its request: an image's size from its ``ratio`` (or its input's, or
the upscale factor), a video's length from its ``duration`` (or the input it keeps the length
of, or the model's default), an audio file's format from ``outputFormat``.  Bytes are real,
small media made by :mod:`runway_plan.emulator.synth` and :mod:`runway_plan.emulator.video`,
the same for the same owner and index.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runway_plan.catalog import OUTPUT_COUNT, Catalog
from runway_plan.compile.durations import DURATION_INPUTS, PASSTHROUGH_ENDPOINTS, spoken_text
from runway_plan.emulator import synth, video
from runway_plan.emulator.assets import Asset

__all__ = ["OutputFile", "make_file", "plan_outputs"]

_RESOLUTIONS = {
    "720p": (1280, 720),
    "768p": (1366, 768),
    "1080p": (1920, 1080),
    "1k": (1920, 1080),
    "2k": (2560, 1440),
    "4k": (3840, 2160),
}
_AUDIO_FORMATS = {
    "mp3": ("mp3", "audio/mpeg"),
    "wav": ("wav", "audio/wav"),
    "ogg_opus": ("ogg", "audio/ogg"),
}
_MAX_UPSCALE_PIXELS = 25_300_000
_TTS_CHARS_PER_SECOND = 15


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file the emulator serves (a task's output, an avatar's image): what it is and how
    to make it, or the local file whose bytes it serves (``source``)."""

    media: str
    ext: str
    mime: str
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    source: Path | None = None


def plan_outputs(
    catalog: Catalog, endpoint: str, model: str, body: dict[str, Any], assets: list[Asset]
) -> list[OutputFile]:
    """The files a task of ``model`` on ``endpoint`` makes from ``body`` and its inputs."""
    kind = catalog.output_media(endpoint, model)
    overlay = catalog.model_overlay(model)
    held = [a for a in assets if a.duration is not None]
    image_dims = next((a.dims for a in assets if a.dims is not None), None)
    duration = body.get("duration")
    seconds: float | None = None
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        seconds = float(duration)
    elif held and kind in ("video", "audio") and endpoint in PASSTHROUGH_ENDPOINTS:
        seconds = _kept(held).duration
        if not overlay.output_follows_input and overlay.duration_range is not None:
            low, high = overlay.duration_range
            seconds = min(max(seconds or low, low), high)
    if kind == "image":
        count = body.get(OUTPUT_COUNT, catalog.default_output_count(model))
        count = count if isinstance(count, int) and not isinstance(count, bool) else 1
        fmt = str(body.get("outputFormat", "png")).lower()
        ext, mime = ("jpg", "image/jpeg") if fmt in ("jpeg", "jpg") else ("png", "image/png")
        width, height = _image_dims(body, image_dims)
        return [OutputFile("image", ext, mime, width, height)] * max(1, count)
    if kind == "video":
        spoken = spoken_text(catalog, endpoint, body)
        if seconds is None and spoken is not None:
            seconds = max(1.0, math.ceil(len(spoken) / _TTS_CHARS_PER_SECOND))
        if seconds is None:
            if overlay.default_duration is not None:
                seconds = overlay.default_duration
            elif overlay.duration_range is not None:
                seconds = overlay.duration_range[1]
            else:
                seconds = 5.0
        width, height = _dims_from(body) or (1280, 720)
        return [OutputFile("video", "mp4", "video/mp4", width, height, seconds)]
    if kind == "audio":
        if seconds is None:
            text = body.get("promptText")
            if endpoint == "text_to_speech" and isinstance(text, str):
                seconds = max(1.0, math.ceil(len(text) / _TTS_CHARS_PER_SECOND))
            else:
                seconds = overlay.default_duration or 5.0
        fmt = str(body.get("outputFormat", "mp3"))
        ext, mime = _AUDIO_FORMATS.get(fmt, _AUDIO_FORMATS["mp3"])
        return [OutputFile("audio", ext, mime, seconds=seconds)]
    return [OutputFile("text", "txt", "text/plain")]


def make_file(owner: str, index: int, output: OutputFile) -> bytes:
    """The bytes of file ``index`` of ``owner`` (a task or an avatar id): the same every time."""
    tag = f"runway-plan emulator {owner} output {index}"
    seed = int(owner[:8], 16) + index
    if output.source is not None:
        return output.source.read_bytes()
    if output.media == "image":
        if output.ext == "jpg":
            return synth.jpeg(output.width, output.height, 64 + seed % 128, tag)
        return synth.striped_png(output.width, output.height, seed, tag)
    if output.media == "video":
        return video.mp4(output.seconds, output.width, output.height, tag)
    if output.media == "audio":
        if output.ext == "wav":
            return synth.tone_wav(output.seconds, pitch=180.0 + seed % 200)
        if output.ext == "ogg":
            return synth.ogg_opus(output.seconds, tag)
        return synth.mp3(output.seconds, tag)
    return tag.encode()


def _image_dims(body: dict[str, Any], source: tuple[int, int] | None) -> tuple[int, int]:
    dims = _dims_from(body)
    if dims is not None:
        return dims
    ratio = str(body.get("ratio", ""))
    if ratio.startswith("auto"):
        side = 2048 if "2k" in ratio else 4096 if "4k" in ratio else 1024
        return side, side
    scale = body.get("scaleFactor")
    if isinstance(scale, int) and not isinstance(scale, bool):
        width, height = source or (1024, 1024)
        width, height = width * scale, height * (scale)
        if width * height > _MAX_UPSCALE_PIXELS:
            shrink = math.sqrt(_MAX_UPSCALE_PIXELS / (width * height))
            width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
        return width, height
    return source or (1024, 1024)


def _kept(held: list[Asset]) -> Asset:
    """The input whose length an endpoint that keeps its input's length keeps: the first
    held one in the compiler's order (act_two's ``reference``, not its ``character``)."""
    for path in DURATION_INPUTS:
        for asset in held:
            if tuple(asset.field.path) == path:
                return asset
    return held[0]


def _dims_from(body: Mapping[str, Any]) -> tuple[int, int] | None:
    """Pixel size named by a ``ratio`` (``1920:1080``, or ``16:9`` scaled to 1280 px) or a
    ``resolution`` (``720p``, ``2k``, ...)."""
    ratio = body.get("ratio")
    if isinstance(ratio, str):
        width, _, height = ratio.partition(":")
        if width.isdigit() and height.isdigit() and int(width) and int(height):
            w, h = int(width), int(height)
            if max(w, h) >= 256:
                return w, h
            return (1280, _even(1280 * h / w)) if w >= h else (_even(1280 * w / h), 1280)
    resolution = body.get("resolution")
    if isinstance(resolution, str):
        return _RESOLUTIONS.get(resolution.lower())
    return None


def _even(side: float) -> int:
    """A side scaled from a ratio, to the nearest even number of pixels (4:2:0 video)."""
    return max(2, 2 * round(side / 2))
