"""Where the report finds each output, and how it links it.

An output is linked by a path relative to the page, so the page works from any folder that
keeps it beside the state and outputs folders (``file://`` or any web server), needs no
network, and stays small: media are never copied into it unless asked (``--inline``, capped
by :data:`INLINE_MAX_BYTES` in all).  An output missing from ``outputs/`` is linked to its
copy in the run state's content-addressed store when that is there.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = ["INLINE_MAX_BYTES", "Inliner", "Placed", "media_kind", "place", "relative_href"]

INLINE_MAX_BYTES = 64 * 1024 * 1024
"""The most output bytes ``--inline`` embeds in one page; outputs past it stay linked."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_KINDS = ("image", "video", "audio")
_SAFE_MIME = re.compile(r"[a-z]+/[a-z0-9.+-]+")


def media_kind(mime: str | None) -> str:
    """``image``, ``video``, ``audio`` or ``file``, by the output's media type."""
    major = (mime or "").partition("/")[0].lower()
    return major if major in _KINDS else "file"


def relative_href(target: Path, page_folder: Path) -> str:
    """A URL for ``target`` relative to a page in ``page_folder``: percent-encoded, so no
    part of a path can be read as a scheme (``javascript:``) or a query."""
    relative = os.path.relpath(target, page_folder).replace(os.sep, "/")
    return quote(relative, safe="/")


@dataclass(frozen=True, slots=True)
class Placed:
    """An output as found on disk: the file to link (None when it is gone) and a note."""

    file: Path | None
    note: str = ""


def place(path_text: str, sha256: str, size: int | None, spec_folder: Path, store: Path) -> Placed:
    """Find an output recorded at ``path_text`` with content ``sha256`` and ``size``.

    The file is taken as the run left it when its size still matches (hashing every video of
    a large run would take long; the hash shown is the manifest's); otherwise the store's
    copy, else the changed file, else nothing.
    """
    recorded = Path(path_text)
    if not recorded.is_absolute():
        recorded = spec_folder / recorded
    size_now = _size(recorded)
    if size_now is not None and (size is None or size_now == size):
        return Placed(recorded)
    stored = store / "sha256" / sha256[:2] / sha256[2:] if _SHA256.fullmatch(sha256) else None
    if stored is not None and _size(stored) is not None:
        why = "is missing" if size_now is None else "has changed since the run"
        return Placed(stored, f"{recorded} {why}: the stored copy is shown")
    if size_now is not None:
        return Placed(recorded, f"{recorded} has changed since the run (its size differs)")
    return Placed(None, f"{recorded} is missing, and the state's store has no copy")


def _size(path: Path) -> int | None:
    try:
        status = path.stat()
    except (OSError, ValueError):
        return None
    return status.st_size if path.is_file() else None


class Inliner:
    """Embeds outputs as ``data:`` URIs while the page's budget lasts."""

    def __init__(self, budget: int = INLINE_MAX_BYTES) -> None:
        self.left = budget
        self.skipped = 0

    def data_uri(self, file: Path, mime: str | None) -> str | None:
        """``file`` as a data URI, or None when it would exceed the budget (or is unreadable)."""
        size = _size(file)
        if size is None:
            return None
        if size > self.left:
            self.skipped += 1
            return None
        try:
            with open(file, "rb") as handle:
                data = handle.read(size + 1)
        except OSError:
            return None
        if len(data) != size:
            return None
        self.left -= size
        kind = (mime or "").lower()
        media = kind if _SAFE_MIME.fullmatch(kind) else "application/octet-stream"
        return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"
