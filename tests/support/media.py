"""Media files the tests write: exact lengths, no content to decode."""

from __future__ import annotations

import wave
from pathlib import Path


def silent_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    """Write a mono 16-bit WAV of silence exactly ``seconds`` long (to the sample) at ``path``."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * round(seconds * rate))
