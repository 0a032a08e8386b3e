"""Identify local media files by their content: media type, MIME type, size and duration.

The type is sniffed from the file's magic bytes (``filetype``), never from its extension; the
duration of audio and video is read from the container headers (``tinytag``).  Results are
cached per path, size and modification time, so a fan-out that reuses a file reads it once.

:func:`probe_local` reads a file a spec names, already opened and confined by
:class:`runway_plan.files.Root`; :func:`probe` a file runway-plan wrote itself.  Both libraries
are imported by the first file probed: a spec without local media never loads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from runway_plan.files import LocalFile

__all__ = ["MediaInfo", "probe", "probe_local", "sniff"]

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


def sniff(data: bytes) -> tuple[str | None, str | None]:
    """The MIME type and media (image, video, audio) of content, from its magic bytes."""
    import filetype

    kind = filetype.guess(data[:_HEADER_BYTES])
    mime = kind.mime if kind else None
    return mime, _media_of(mime)


_CACHE: dict[tuple[Path, int, int], MediaInfo] = {}
_CACHE_SIZE = 4096


def _sniff(path: Path, size: int, handle: BinaryIO) -> MediaInfo:
    import filetype
    from tinytag import TinyTag, TinyTagException

    handle.seek(0)
    header = handle.read(_HEADER_BYTES)
    kind = filetype.guess(header)
    mime = kind.mime if kind else None
    media = _media_of(mime)
    duration = None
    if media in ("audio", "video"):
        handle.seek(0)
        try:
            duration = TinyTag.get(file_obj=handle, tags=False).duration
        except (TinyTagException, OSError, ValueError, KeyError, IndexError, ZeroDivisionError):
            duration = None
    return MediaInfo(path=path, size=size, mime=mime, media=media, duration=duration)


def probe_local(local: LocalFile) -> MediaInfo:
    """Sniff a confined, open local file (see :class:`runway_plan.files.Root`)."""
    key = (local.path, local.size, local.mtime_ns)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        found = _CACHE[key] = _sniff(local.path, local.size, local.handle)
    return found


def probe(path: Path) -> MediaInfo:
    """Sniff a file runway-plan wrote itself; raises ``OSError`` when it cannot be read."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        return _sniff(path, size, handle)
