"""Write the small media files the example specs use (re-runnable, deterministic).

The files are real media a parser accepts: a PNG, a JPEG-free WAV of speech-like tones and a
minimal MP4 whose movie header carries its duration.  They are tiny so the repository stays
small; `validate` reads their type and duration from their bytes.
"""

from __future__ import annotations

import math
import struct
import sys
import wave
import zlib
from pathlib import Path


def png(width: int, height: int, seed: int) -> bytes:
    """A gradient PNG."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 7 + seed) % 256, (y * 5 + seed) % 256, (x + y + seed * 3) % 256))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


def wav(path: Path, seconds: float, rate: int = 8000) -> None:
    """A mono 16-bit WAV of a wavering tone."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        t = n / rate
        sample = 0.3 * math.sin(2 * math.pi * (180 + 40 * math.sin(3 * t)) * t)
        frames += struct.pack("<h", int(sample * 32767))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: float, width: int = 1280, height: int = 720) -> bytes:
    """A minimal MP4: ftyp and a moov whose mvhd and tkhd give duration and size."""
    timescale = 1000
    duration = int(seconds * timescale)
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, timescale, duration)
        + struct.pack(">IH10x", 0x10000, 0x100)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    tkhd = _box(
        b"tkhd",
        struct.pack(">B3BIIIII", 0, 0, 0, 3, 0, 0, 1, 0, duration)
        + bytes(8)
        + struct.pack(">HHHH", 0, 0, 0, 0)
        + matrix
        + struct.pack(">II", width << 16, height << 16),
    )
    moov = _box(b"moov", mvhd + _box(b"trak", tkhd))
    return ftyp + moov + _box(b"mdat", bytes(64))


def main(target: Path) -> None:
    """Write every example asset into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "product.png").write_bytes(png(96, 64, 1))
    (target / "founder.png").write_bytes(png(64, 96, 2))
    (target / "style.png").write_bytes(png(64, 64, 3))
    wav(target / "interview.wav", 12.0)
    wav(target / "narration.wav", 6.0)
    (target / "performance.mp4").write_bytes(mp4(8.0))
    (target / "b-roll.mp4").write_bytes(mp4(6.0))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "specs/assets")
