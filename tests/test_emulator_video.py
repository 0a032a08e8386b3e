"""Video outputs decode with FFmpeg's own tools, as a user's player would.

``ffprobe`` and ``ffmpeg`` (Debian's ``ffmpeg`` package; ``.ci/run`` installs it) are the
independent decoder: the emulator writes with PyAV's x264 encoder, they read with FFmpeg's
H.264 decoder and every frame is decoded, not just the headers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filetype  # type: ignore[import-untyped]
import httpx
import pytest
import runwayml
from runwayml.lib import polling

from runway_plan.emulator import Emulator, EmulatorConfig, EmulatorServer, create_app, video

FFPROBE = shutil.which("ffprobe")
FFMPEG = shutil.which("ffmpeg")
MISSING = "ffprobe and ffmpeg are needed to decode the emulator's videos: apt-get install ffmpeg"


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "POLL_TIME", 0.02)
    monkeypatch.setattr(polling, "POLL_JITTER", 0.0)


@pytest.fixture
def sdk() -> Iterator[runwayml.RunwayML]:
    with (
        Emulator(EmulatorConfig(speed=5_000, tier=2)) as emulator,
        EmulatorServer(create_app(emulator)) as server,
        runwayml.RunwayML(api_key=emulator.api_key, base_url=server.base_url) as client,
    ):
        yield client


def _probe(path: Path) -> dict[str, Any]:
    assert FFPROBE is not None and FFMPEG is not None, MISSING
    command = [FFPROBE, "-v", "error", "-count_frames", "-show_streams", "-show_format"]
    probed = subprocess.run(
        [*command, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decoded = subprocess.run(
        [FFMPEG, "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert decoded.returncode == 0 and not decoded.stderr, decoded.stderr
    data: dict[str, Any] = json.loads(probed.stdout)
    return data


@pytest.mark.parametrize(
    ("model", "ratio", "duration"),
    [("gen4.5", "1280:720", 5), ("gen4_turbo", "720:1280", 10)],
)
def test_video_outputs_are_h264_that_decodes(
    sdk: runwayml.RunwayML, tmp_path: Path, model: str, ratio: str, duration: int
) -> None:
    outputs = []
    for prompt in ("first", "second"):
        task = sdk.image_to_video.create(
            model=model,  # type: ignore[arg-type]
            prompt_image="https://example.com/still.png",
            prompt_text=prompt,
            ratio=ratio,  # type: ignore[arg-type]
            duration=duration,
        ).wait_for_task_output(timeout=30)
        assert task.status == "SUCCEEDED"
        outputs.append((task.id, httpx.get(task.output[0], timeout=60).content))
    (first_id, first), (_second_id, second) = outputs
    assert first != second  # each output is tagged with its task
    path = tmp_path / "out.mp4"
    path.write_bytes(first)
    probed = _probe(path)
    [stream] = probed["streams"]
    width, height = (int(side) for side in ratio.split(":"))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", width, height)
    assert stream["r_frame_rate"] == "24/1"
    assert float(stream["duration"]) == pytest.approx(duration, abs=1 / 24)
    assert int(stream["nb_read_frames"]) == duration * 24  # every frame decoded
    assert float(probed["format"]["duration"]) == pytest.approx(duration, abs=1 / 24)
    assert first_id in probed["format"]["tags"]["comment"]


def test_big_and_odd_sizes(tmp_path: Path) -> None:
    for seconds, width, height in ((10, 1920, 1080), (2.5, 1280, 549)):
        path = tmp_path / f"{width}.mp4"
        path.write_bytes(video.mp4(seconds, width, height, "tag"))
        [stream] = _probe(path)["streams"]
        assert (stream["width"], stream["height"]) == (width, height + height % 2)
        assert int(stream["nb_read_frames"]) == round(seconds * 24)


def test_without_pyav_videos_are_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "encoder", lambda: None)
    data = video.mp4(5, 1280, 720, "task")
    assert filetype.guess(data).mime == "video/mp4"
    assert b"avc1" not in data.split(b"moov", 1)[1]  # no sample description: no frames


def test_emulate_says_when_videos_are_placeholders(tmp_path: Path) -> None:
    """Without PyAV (an ``av`` that cannot be imported), ``emulate`` still serves and says
    what its videos are."""
    shadow = tmp_path / "av"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('PyAV is not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "runway_plan", "emulate", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stderr is not None
        banner = [child.stderr.readline() for _ in range(4)]  # the note comes after start-up
    finally:
        child.kill()
        child.communicate(timeout=10)
    assert "Runway API emulator on http://127.0.0.1:" in banner[0]
    [note] = [line for line in banner if "video outputs are placeholder MP4s" in line]
    assert "runway-plan[emulator-media]" in note
