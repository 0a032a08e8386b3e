"""Small media files written without any media library: PNG, JPEG, WAV, MP3, Ogg Opus, MP4.

Each writer returns bytes a content sniffer (``filetype``) and a tag reader (``tinytag``)
accept, of the requested size or duration, and cheap to make even for large dimensions: images
are flat or striped so they compress to almost nothing, audio is a repeated tone or silence.
The emulator serves them as task outputs (videos only when PyAV is missing: see
:mod:`runway_plan.emulator.video`); ``scripts/make_example_assets.py`` writes the example specs'
assets with them.  ``tag`` arguments embed a label (a task id) so that outputs of
different tasks never have the same bytes.
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib

__all__ = [
    "image_size",
    "jpeg",
    "mp3",
    "mp4",
    "ogg_opus",
    "png",
    "striped_png",
    "tone_wav",
    "wav",
]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int, height: int, seed: int) -> bytes:
    """A small RGB gradient PNG (one Python step per pixel: keep it small)."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            row += bytes(((x * 7 + seed) % 256, (y * 5 + seed) % 256, (x + y + seed * 3) % 256))
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def striped_png(width: int, height: int, seed: int = 0, tag: str = "") -> bytes:
    """A two-colour diagonal-striped PNG of any size (1 bit per pixel, fast even at 8K)."""
    if width < 1 or height < 1:
        raise ValueError("a PNG needs at least one pixel")
    colours = (
        bytes(((seed * 53) % 256, (seed * 97 + 80) % 256, (seed * 29 + 160) % 256)),
        bytes(((seed * 53 + 128) % 256, (seed * 97 + 208) % 256, (seed * 29 + 32) % 256)),
    )
    row_bytes = (width + 7) // 8
    period = 64
    patterns = []
    for phase in range(0, period, 8):
        bits = 0
        for x in range(row_bytes * 8):
            bits = (bits << 1) | (((x + phase) // (period // 2)) % 2)
        patterns.append(b"\x00" + bits.to_bytes(row_bytes, "big"))
    band = [patterns[(y // 8) % len(patterns)] for y in range(period)]
    full, rest = divmod(height, period)
    raw = b"".join(band) * full + b"".join(band[:rest])
    header = struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)
    text = _png_chunk(b"tEXt", b"Comment\x00" + tag.encode("latin-1", "replace")) if tag else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"PLTE", b"".join(colours))
        + text
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg(width: int, height: int, level: int = 128, tag: str = "") -> bytes:
    """A flat grey baseline JPEG of any size (one component, DC-only Huffman coding)."""
    if not (1 <= width <= 65535 and 1 <= height <= 65535):
        raise ValueError("JPEG sides are 1 to 65535 pixels")
    level = max(0, min(255, level))
    dc = 8 * (level - 128)
    category = abs(dc).bit_length()
    # DC codes: "0" for a zero difference alone, or "00" (zero) and "01" (the first block's
    # category); the AC table holds only end-of-block, coded "0".  Every block after the
    # first is a zero DC difference plus end-of-block: all zero bits.
    if category:
        dc_bits, dc_values = bytes([0, 2] + [0] * 14), bytes([0, category])
        code_len, first_code = 2, 0b01
    else:
        dc_bits, dc_values = bytes([1] + [0] * 15), bytes([0])
        code_len, first_code = 1, 0b0
    amplitude = dc if dc >= 0 else (dc - 1) & ((1 << category) - 1)
    first_bits = ((first_code << category) | amplitude) << 1
    first_len = code_len + category + 1
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    total = first_len + (blocks - 1) * (code_len + 1)
    padding = -total % 8
    value = (first_bits << (total - first_len + padding)) | ((1 << padding) - 1)
    entropy = value.to_bytes((total + padding) // 8, "big").replace(b"\xff", b"\xff\x00")
    parts = [
        b"\xff\xd8",
        _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        _segment(0xFE, tag.encode("utf-8")) if tag else b"",
        _segment(0xDB, b"\x00" + b"\x01" * 64),
        _segment(0xC0, struct.pack(">BHHBBBB", 8, height, width, 1, 1, 0x11, 0)),
        _segment(0xC4, b"\x00" + dc_bits + dc_values),
        _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00"),
        _segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0])),
        entropy,
        b"\xff\xd9",
    ]
    return b"".join(parts)


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a wavering tone, computed sample by sample (example assets)."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        t = n / rate
        sample = 0.3 * math.sin(2 * math.pi * (180 + 40 * math.sin(3 * t)) * t)
        frames += struct.pack("<h", int(sample * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(frames))
    return out.getvalue()


def tone_wav(seconds: float, rate: int = 8000, pitch: float = 220.0) -> bytes:
    """A mono 16-bit WAV of ``seconds`` of a steady tone, built from one repeated period."""
    total = max(1, round(seconds * rate))
    period = max(2, round(rate / pitch))
    cycle = b"".join(
        struct.pack("<h", int(0.3 * 32767 * math.sin(2 * math.pi * n / period)))
        for n in range(period)
    )
    repeats, rest = divmod(total, period)
    frames = cycle * repeats + cycle[: rest * 2]
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames)
    return out.getvalue()


def _syncsafe(size: int) -> bytes:
    return bytes(((size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F))


def mp3(seconds: float, tag: str = "") -> bytes:
    """An MP3 of ``seconds`` of silence: MPEG-1 Layer III frames, 32 kbit/s, 32 kHz, mono.

    An ID3v2.3 tag (with a comment frame holding ``tag`` when given) comes first, as most
    encoders write one.
    """
    frame_seconds = 1152 / 32000
    count = max(1, math.ceil(seconds / frame_seconds - 1e-9))
    frame = b"\xff\xfb\x18\xc0" + bytes(144 - 4)
    frames = b""
    if tag:
        text = b"\x00eng\x00" + tag.encode("latin-1", "replace")
        frames = b"COMM" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    id3 = b"ID3\x03\x00\x00" + _syncsafe(len(frames)) + frames
    return id3 + frame * count


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


_OGG_TABLE: list[int] = []


def _ogg_checksum(data: bytes) -> int:
    if not _OGG_TABLE:
        for index in range(256):
            _OGG_TABLE.append(_ogg_crc(bytes([index])))
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_TABLE[(crc >> 24) ^ byte]
    return crc


def _ogg_page(packets: list[bytes], granule: int, serial: int, sequence: int, flags: int) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    header = (
        b"OggS"
        + struct.pack("<BBqIII", 0, flags, granule, serial, sequence, 0)
        + bytes([len(lacing)])
        + bytes(lacing)
    )
    page = header + b"".join(packets)
    checksum = _ogg_checksum(page)
    return page[:22] + struct.pack("<I", checksum) + page[26:]


def ogg_opus(seconds: float, tag: str = "") -> bytes:
    """An Ogg Opus file of ``seconds`` of silence (20 ms CELT frames, 48 kHz, mono)."""
    pre_skip = 312
    samples = max(960, round(seconds * 48000))
    count = math.ceil(samples / 960)
    serial = zlib.crc32(tag.encode()) & 0xFFFFFFFF
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    vendor = b"runway-plan emulator"
    comments = [f"COMMENT={tag}".encode()] if tag else []
    tags = (
        b"OpusTags"
        + struct.pack("<I", len(vendor))
        + vendor
        + struct.pack("<I", len(comments))
        + b"".join(struct.pack("<I", len(c)) + c for c in comments)
    )
    pages = [_ogg_page([head], 0, serial, 0, 0x02), _ogg_page([tags], 0, serial, 1, 0)]
    per_page = 50
    silent = b"\xf8\xff\xfe"
    sequence = 2
    for start in range(0, count, per_page):
        end = min(count, start + per_page)
        last = end == count
        granule = pre_skip + (samples if last else end * 960)
        pages.append(
            _ogg_page([silent] * (end - start), granule, serial, sequence, 0x04 if last else 0)
        )
        sequence += 1
    return b"".join(pages)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: float, width: int = 1280, height: int = 720, tag: str = "") -> bytes:
    """A placeholder MP4: ftyp and a moov whose mvhd and tkhd give duration and size, and no
    frames (parsers read its length; players cannot play it)."""
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
    label = _box(b"free", tag.encode("utf-8")) if tag else b""
    return ftyp + moov + label + _box(b"mdat", bytes(64))


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, JPEG or WebP image from its header bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        at = 2
        while at + 4 <= len(data):
            if data[at] != 0xFF:
                return None
            marker = data[at + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                at += 2
                continue
            (length,) = struct.unpack(">H", data[at + 2 : at + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if at + 9 > len(data):
                    return None
                height, width = struct.unpack(">HH", data[at + 5 : at + 9])
                return width, height
            at += 2 + length
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            width = 1 + int.from_bytes(data[24:27], "little")
            height = 1 + int.from_bytes(data[27:30], "little")
            return width, height
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
