"""A media input as the emulator knows it: the local copy it holds and what a probe found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runway_plan.catalog.assets import AssetField
from runway_plan.emulator import synth
from runway_plan.probe import probe

__all__ = ["Asset", "dotted_label", "probed"]


@dataclass(frozen=True, slots=True)
class Asset:
    """A resolved media input: a local copy (when held) and what is known about it."""

    field: AssetField
    local: Path | None = None
    media: str | None = None
    mime: str | None = None
    duration: float | None = None
    dims: tuple[int, int] | None = None


def probed(item: AssetField, local: Path, data: bytes | None = None) -> Asset:
    """``item`` held at ``local`` (whose first bytes are ``data``, when at hand), probed."""
    try:
        info = probe(local)
    except OSError:
        return Asset(item)
    dims = None
    if info.media == "image":
        with local.open("rb") as handle:
            dims = synth.image_size(data[:65536] if data is not None else handle.read(65536))
    return Asset(item, local, info.media, info.mime, info.duration, dims)


def dotted_label(item: AssetField) -> str:
    """The field's place in the request as a message names it (``referenceImages[0].uri``)."""
    out = ""
    for part in item.path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "request"
