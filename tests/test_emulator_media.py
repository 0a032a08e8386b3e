"""The media writers: what sniffers and tag readers make of their bytes.

Where a JDK is installed, ``javax.imageio`` also decodes the PNG and JPEG writers' output, an
independent check that the images are well-formed (skipped otherwise).
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import wave
import zlib
from pathlib import Path

import filetype  # type: ignore[import-untyped]
import pytest
from tinytag import TinyTag

from runway_plan.emulator import synth
from runway_plan.probe import probe


def _tags(tmp_path: Path, name: str, data: bytes) -> TinyTag:
    path = tmp_path / name
    path.write_bytes(data)
    return TinyTag.get(str(path))


def _png_chunks(data: bytes) -> list[bytes]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    at, kinds = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc
        kinds.append(kind)
        at += 12 + length
    return kinds


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 3), (1920, 1080), (11264, 1408)])
def test_striped_png(width: int, height: int) -> None:
    data = synth.striped_png(width, height, 5, "task-1")
    assert filetype.guess(data).mime == "image/png"
    assert synth.image_size(data) == (width, height)
    assert _png_chunks(data) == [b"IHDR", b"PLTE", b"tEXt", b"IDAT", b"IEND"]
    raw = zlib.decompress(data[data.index(b"IDAT") + 4 :])
    assert len(raw) == height * (1 + (width + 7) // 8)
    assert synth.striped_png(width, height, 5, "task-2") != data


@pytest.mark.parametrize(
    ("width", "height", "level"), [(1, 1, 128), (37, 21, 200), (1920, 1080, 3)]
)
def test_jpeg(width: int, height: int, level: int) -> None:
    data = synth.jpeg(width, height, level, "task")
    assert filetype.guess(data).mime == "image/jpeg"
    assert synth.image_size(data) == (width, height)
    assert data.endswith(b"\xff\xd9")


def test_gradient_png_is_what_the_examples_use() -> None:
    data = synth.png(3, 2, 1)
    assert synth.image_size(data) == (3, 2)
    assert _png_chunks(data) == [b"IHDR", b"IDAT", b"IEND"]


@pytest.mark.parametrize("seconds", [0.5, 3.0, 12.25])
def test_audio_lengths(tmp_path: Path, seconds: float) -> None:
    wav = synth.tone_wav(seconds)
    with wave.open(io.BytesIO(wav)) as reader:
        assert reader.getnframes() / reader.getframerate() == pytest.approx(seconds, abs=1e-3)
    mp3 = synth.mp3(seconds, "task")
    assert filetype.guess(mp3).mime == "audio/mpeg"
    assert _tags(tmp_path, "a.mp3", mp3).duration == pytest.approx(seconds, abs=0.04)
    ogg = synth.ogg_opus(seconds, "task")
    assert filetype.guess(ogg).mime == "audio/ogg"
    assert _tags(tmp_path, "a.ogg", ogg).duration == pytest.approx(seconds, abs=0.02)


def test_mp4(tmp_path: Path) -> None:
    data = synth.mp4(6.5, 1920, 1080, "task")
    assert filetype.guess(data).mime == "video/mp4"
    assert _tags(tmp_path, "v.mp4", data).duration == pytest.approx(6.5)
    path = tmp_path / "v.mp4"
    info = probe(path)
    assert info.media == "video" and info.duration == pytest.approx(6.5)


def test_example_wav_is_unchanged_by_the_move() -> None:
    data = synth.wav(0.01)
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnframes() == 80 and reader.getsampwidth() == 2


_JAVA = """
import javax.imageio.ImageIO; import java.io.File;
public class Decode { public static void main(String[] a) throws Exception {
  for (String f : a) { var i = ImageIO.read(new File(f));
    System.out.println(i.getWidth() + "x" + i.getHeight()); } } }
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no JDK to decode with")
def test_images_decode_with_an_independent_decoder(tmp_path: Path) -> None:
    files = {
        "a.png": synth.striped_png(300, 200, 1, "x"),
        "b.jpg": synth.jpeg(300, 200, 90, "x"),
        "c.jpg": synth.jpeg(17, 9, 128),
        "d.png": synth.png(5, 4, 2),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "Decode.java").write_text(_JAVA)
    result = subprocess.run(
        ["java", "Decode.java", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["300x200", "300x200", "17x9", "5x4"]
