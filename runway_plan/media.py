"""Identify local media files by their content: media type, MIME type, size and duration.

The type is sniffed from the file's magic bytes (``filetype``), never from its extension; the
duration of audio and video is read from the container headers (``tinytag``).  Results are
cached per path, size and modification time, so a fan-out that reuses a file reads it once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import filetype
from tinytag import TinyTag, TinyTagException

__all__ = ["MediaInfo", "probe"]

_HEADER_BYTES = 8192


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a local file holds."""

    path: Path
    size: int
    mime: str | None
    media: str | None
    duration: float | None


def _media_of(mime: str | None) -> str | None:
    if mime is None:
        return None
    major = mime.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else None


@lru_cache(maxsize=4096)
def _probe(path: Path, size: int, mtime_ns: int) -> MediaInfo:
    with path.open("rb") as handle:
        header = handle.read(_HEADER_BYTES)
    kind = filetype.guess(header)
    mime = kind.mime if kind else None
    media = _media_of(mime)
    duration = None
    if media in ("audio", "video"):
        try:
            duration = TinyTag.get(str(path)).duration
        except (TinyTagException, OSError, ValueError, KeyError, IndexError, ZeroDivisionError):
            duration = None
    del mtime_ns
    return MediaInfo(path=path, size=size, mime=mime, media=media, duration=duration)


def probe(path: Path) -> MediaInfo:
    """Sniff ``path``; raises ``OSError`` when it cannot be read."""
    stat = os.stat(path)
    return _probe(path, stat.st_size, stat.st_mtime_ns)
