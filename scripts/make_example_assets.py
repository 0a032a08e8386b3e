"""Write the small media files the example specs use (re-runnable, deterministic).

The files are real media a parser accepts: a PNG, a JPEG-free WAV of speech-like tones and a
minimal MP4 whose movie header carries its duration.  They are tiny so the repository stays
small; `validate` reads their type and duration from their bytes.  The writers live in
:mod:`runway_plan.emulator.synth`, which also makes the emulator's task outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runway_plan.emulator.synth import mp4, png, wav


def main(target: Path) -> None:
    """Write every example asset into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "product.png").write_bytes(png(96, 64, 1))
    (target / "founder.png").write_bytes(png(64, 96, 2))
    (target / "style.png").write_bytes(png(64, 64, 3))
    (target / "interview.wav").write_bytes(wav(12.0))
    (target / "narration.wav").write_bytes(wav(6.0))
    (target / "performance.mp4").write_bytes(mp4(8.0))
    (target / "b-roll.mp4").write_bytes(mp4(6.0))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "specs/assets")
