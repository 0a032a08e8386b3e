"""Avatar videos: ``POST /v1/avatar_videos`` (``gwm1_avatars``), a task like the generations.

The request is validated, billed, queued and served as every generation task is
(:mod:`runway_plan.emulator.tasks`); what this module adds is what only the account's avatars
can tell: a custom avatar (``{type: custom, avatarId}``) must be one of the account's avatars,
and READY, or the create is refused with a 400 naming ``avatar.avatarId``, as a realtime
session's is.  The video lasts as long as its speech (the audio's length, or the script at the
emulator's speech rate: :mod:`runway_plan.emulator.outputs`).
"""

from __future__ import annotations

from typing import Any

from runway_plan.emulator.avatars import Avatars
from runway_plan.emulator.validation import Issue

__all__ = ["ENDPOINT", "AvatarVideos"]

ENDPOINT = "avatar_videos"
"""The endpoint of avatar videos (``POST /v1/avatar_videos``)."""


class AvatarVideos:
    """The checks of an avatar video against the account's avatars."""

    def __init__(self, avatars: Avatars) -> None:
        """Checks against ``avatars``."""
        self._avatars = avatars

    def issues(self, body: dict[str, Any], now: float) -> list[Issue]:
        """Why the API would refuse ``body``'s avatar at ``now`` (empty when it takes it)."""
        avatar = body.get("avatar")
        if not isinstance(avatar, dict) or avatar.get("type") != "custom":
            return []
        avatar_id = avatar.get("avatarId")
        if not isinstance(avatar_id, str):
            return []
        status = self._avatars.status(avatar_id, now)
        if status == "READY":
            return []
        why = "does not exist" if status is None else f"is {status}, not READY"
        return [Issue(("avatar", "avatarId"), f"avatar {avatar_id} {why}")]
