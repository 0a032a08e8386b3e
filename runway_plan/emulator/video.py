"""Video outputs: real H.264 MP4s that any player decodes, written with PyAV.

PyAV (``av`` on PyPI, bindings to FFmpeg, whose wheels bundle the x264 encoder) is in the
``emulator-media`` extra.  Without it, or without an H.264 encoder in it, the emulator serves
:func:`runway_plan.emulator.synth.mp4` placeholders, which carry a duration and a size in their
headers but no frames, and ``runway-plan emulate`` says so.

A video is ``FPS`` frames a second (what Runway serves), of the requested size and length, in
``yuv420p``: a still picture of grey bands.  It is cheap to make at any size: one group of
``GOP`` frames is encoded (an IDR frame, then P frames only), and its packets are muxed again
and again, shifted in time, for the whole length; each group starts with an IDR frame, so the
stream is valid and every frame decodes.  The bytes
are cached per frame count and size, and each served copy carries its own tag in the MP4's
``comment`` metadata, so outputs of different tasks never have the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from runway_plan.emulator import synth

if TYPE_CHECKING:
    import av

__all__ = ["FPS", "GOP", "encoder", "mp4"]

FPS = 24
"""Frames per second of every video output."""

GOP = 48
"""Frames in a group of pictures (two seconds): one IDR frame, then P frames."""

_TAG_BYTES = 128
_PLACEHOLDER = b"runway-plan-tag:" + b"~" * (_TAG_BYTES - 16)
_ENCODERS = ("libx264", "libopenh264")


@cache
def encoder() -> str | None:
    """The H.264 encoder PyAV offers (``libx264``, else ``libopenh264``), or None when PyAV
    is not installed or has neither."""
    try:
        import av
    except ImportError:
        return None
    available = av.codecs_available
    return next((name for name in _ENCODERS if name in available), None)


def mp4(seconds: float, width: int, height: int, tag: str = "") -> bytes:
    """An MP4 of ``seconds`` (whole frames at :data:`FPS`, at least one) at ``width`` x
    ``height`` (odd sides are rounded up to even, as 4:2:0 needs), with ``tag`` (its first
    128 bytes) in its ``comment``; a frameless placeholder when no encoder is available."""
    if encoder() is None:
        return synth.mp4(seconds, width, height, tag)
    frames = max(1, round(seconds * FPS))
    encoded = _encoded(frames, width + width % 2, height + height % 2)
    label = tag.encode("utf-8")[:_TAG_BYTES].ljust(_TAG_BYTES, b" ")
    return encoded.replace(_PLACEHOLDER, label)


@lru_cache(maxsize=32)
def _encoded(frames: int, width: int, height: int) -> bytes:
    import av

    codec = encoder()
    assert codec is not None
    fd, name = tempfile.mkstemp(prefix="runway-emulator-", suffix=".mp4")
    os.close(fd)
    try:
        # faststart (the index before the media, as served files have it) rewrites the
        # file, so the muxer needs a path rather than a buffer.
        with av.open(name, "w", format="mp4", options={"movflags": "+faststart"}) as container:
            container.metadata["comment"] = _PLACEHOLDER.decode()
            options = {"g": str(GOP), "bf": "0"}
            if codec == "libx264":
                options |= {"preset": "ultrafast", "tune": "stillimage", "crf": "30"}
                options["x264-params"] = f"keyint={GOP}:min-keyint={GOP}:scenecut=0"
            stream = container.add_stream(codec, rate=FPS, options=options)
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            packets: list[av.Packet[Any]] = []
            frame = _frame(width, height)
            for index in range(min(GOP, frames)):
                frame.pts = index
                packets += stream.encode(frame)
            packets += stream.encode(None)
            if any(p.pts != p.dts for p in packets):
                raise RuntimeError(f"{codec} reordered frames; the emulator cannot loop them")
            group = [(bytes(p), p.is_keyframe) for p in packets]
            time_base = packets[0].time_base
            assert time_base is not None
            ticks = int(Fraction(1, FPS) / time_base)
            for index in range(frames):
                payload, keyframe = group[index % len(group)]
                packet = av.Packet(payload)
                packet.stream = stream
                packet.time_base = time_base
                packet.pts = packet.dts = index * ticks
                packet.duration = ticks
                packet.is_keyframe = keyframe
                container.mux(packet)
        with open(name, "rb") as handle:
            data = handle.read()
    finally:
        os.unlink(name)
    if data.count(_PLACEHOLDER) != 1:
        raise RuntimeError("the MP4's comment placeholder is not where it was written")
    return data


def _frame(width: int, height: int) -> av.VideoFrame:
    """The picture: vertical bands of two greys on a tinted background."""
    import av

    frame = av.VideoFrame(width, height, "yuv420p")
    luma = frame.planes[0]
    band = max(2, width // 12)
    row = bytes(72 if (x // band) % 2 else 168 for x in range(width))
    luma.update((row + bytes(luma.line_size - width)) * height)
    for plane, level in zip(frame.planes[1:], (150, 96), strict=True):
        plane.update(bytes([level]) * plane.buffer_size)
    return frame
