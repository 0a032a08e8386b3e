"""``/v1/voices``: custom voices, PROCESSING for a while, then READY (or FAILED).

A voice is cloned from an audio sample (``from: {type: audio, audio}``) or designed from a
text description (``from: {type: text, model, prompt}``), as runwayml 5.24.0's
``VoiceCreateParams`` says; ``POST /v1/voices`` answers with its id alone.  Once READY its
``previewUrl`` is a signed URL of a real MP3.  ``PATCH`` changes only its name and
description.  ``POST /v1/voices/preview`` makes a short MP3 of a designed voice before it is
created (``{durationSecs, url}``), to audition it; nothing is kept but the file.

A custom voice is named elsewhere as ``{type: custom, id}`` (an avatar's ``voice``):
:meth:`Voices.unknown` gives the issue of one that does not exist or was deleted, which the API
refuses with a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runway_plan.catalog.assets import AssetField
from runway_plan.emulator.account import Account, Reply, error, invalid, iso, new_id, refused
from runway_plan.emulator.assets import Asset
from runway_plan.emulator.files import Files, is_output_url
from runway_plan.emulator.inputs import Inputs
from runway_plan.emulator.outputs import OutputFile
from runway_plan.emulator.validation import Issue, validate_resource

__all__ = ["PREVIEW_SECONDS", "SAMPLE_SECONDS", "Voices"]

SAMPLE_SECONDS = (10.0, 300.0)
"""The lengths an audio sample may have: "between 10 seconds and 5 minutes" (Runway's guide,
https://docs.dev.runwayml.com/characters/custom-voice)."""

PREVIEW_SECONDS = 5.0
"""Length of the emulator's preview clips (the API's are a short sample; their length is not
documented)."""
_MP3 = OutputFile("audio", "mp3", "audio/mpeg", seconds=PREVIEW_SECONDS)


class Voices:
    """The custom voices of an account; their preview clips are served by ``files``."""

    def __init__(self, account: Account, inputs: Inputs, files: Files) -> None:
        """No voices yet."""
        self._account = account
        self._inputs = inputs
        self._files = files
        self._by_id: dict[str, dict[str, Any]] = {}
        self._previews: dict[str, OutputFile] = {}
        files.serve_from(self._served)

    def status(self, voice_id: str, now: float) -> str | None:
        """The status of a voice at ``now``, or None when there is no such voice."""
        voice = self._by_id.get(voice_id)
        return None if voice is None else _status(voice, now)

    def unknown(self, value: Any, path: tuple[str | int, ...], now: float) -> Issue | None:
        """The issue of a ``{type: custom, id}`` voice at ``path`` that names no voice of the
        account (or one that FAILED); None for any other value."""
        if not isinstance(value, dict) or value.get("type") != "custom":
            return None
        voice_id = value.get("id")
        if not isinstance(voice_id, str):
            return None
        status = self.status(voice_id, now)
        if status is None:
            return Issue((*path, "id"), f"voice {voice_id} does not exist")
        if status == "FAILED":
            return Issue((*path, "id"), f"voice {voice_id} failed to process and cannot be used")
        return None

    def unknown_in(self, body: Any, now: float) -> list[Issue]:
        """The issues of every custom voice (``{type: custom, id}``) anywhere in a request
        body that names no usable voice of the account (a task's request, say)."""
        found: list[Issue] = []

        def walk(value: Any, path: tuple[str | int, ...]) -> None:
            issue = self.unknown(value, path, now)
            if issue is not None:
                found.append(issue)
            elif isinstance(value, dict):
                for key, item in value.items():
                    walk(item, (*path, str(key)))
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, (*path, index))

        walk(body, ())
        return found

    def shown(self, voice_id: Any) -> dict[str, Any] | None:
        """How an avatar shows the custom voice ``voice_id``: its name and description, or
        ``deleted`` (None when ``voice_id`` is not a string)."""
        if not isinstance(voice_id, str):
            return None
        voice = self._by_id.get(voice_id)
        if voice is None:
            return {"deleted": True}
        return {"deleted": False, "name": voice["name"], "description": voice["description"]}

    def views(self, now: float, base_url: str) -> dict[str, dict[str, Any]]:
        """Every voice by id, in creation order, as ``GET /v1/voices/{id}`` shows it."""
        return {key: self._view(voice, now, base_url) for key, voice in self._by_id.items()}

    def create(self, body: Any, failure: str | None = None, *, base_url: str = "") -> Reply:
        """``POST /v1/voices``: ``{id}``; PROCESSING until ``voice_seconds`` have passed,
        then READY (or FAILED with the reason ``failure``)."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        account = self._account
        with account.lock:
            now = account.advance()
            issues = self._issues(body, now)
            if issues:
                return invalid(issues)
            voice = {
                "id": new_id(),
                "name": body["name"],
                "description": body.get("description"),
                "from": dict(body["from"]),
                "createdAt": now,
                "ready": now + account.scale(account.config.voice_seconds),
                "failure": failure,
            }
            self._by_id[voice["id"]] = voice
            return Reply(200, {"id": voice["id"]})

    def _issues(self, body: dict[str, Any], now: float) -> list[Issue]:
        """Why the API refuses a create: the request type, and an audio sample it cannot
        use (an unknown upload, an expired output URL, a file that is not audio)."""
        issues = validate_resource(self._account.catalog, "voice_create", body)
        source = body.get("from")
        if not isinstance(source, dict) or source.get("type") != "audio":
            return issues
        audio = source.get("audio")
        if not isinstance(audio, str):
            return issues
        item = AssetField(("from", "audio"), audio, frozenset({"audio"}))
        resolved: Asset | Issue | None = None
        if audio.startswith("runway://"):
            resolved = self._inputs.upload(item, now)
        elif is_output_url(audio):
            resolved = self._inputs.output(item, now)
            issues = [i for i in issues if i.path != ("from", "audio")]
        if isinstance(resolved, Issue):
            issues.append(resolved)
        elif resolved is not None and resolved.media not in (None, "audio", "video"):
            issues.append(
                Issue(("from", "audio"), f"from.audio: the sample is {resolved.media}, not audio")
            )
        elif resolved is not None and resolved.duration is not None:
            low, high = SAMPLE_SECONDS
            if not low <= resolved.duration <= high:
                issues.append(
                    Issue(
                        ("from", "audio"),
                        f"from.audio: the sample is {resolved.duration:g} s long; it must be "
                        f"between {low:g} seconds and {high / 60:g} minutes",
                    )
                )
        return issues

    def _view(self, voice: Mapping[str, Any], now: float, base_url: str) -> dict[str, Any]:
        status = _status(voice, now)
        view: dict[str, Any] = {
            "id": voice["id"],
            "status": status,
            "name": voice["name"],
            "description": voice["description"],
            "createdAt": iso(voice["createdAt"]),
        }
        if status == "READY":
            view["previewUrl"] = self._files.signed_url(voice["id"], 0, _MP3, now, base_url)
        if status == "FAILED":
            view["failureReason"] = voice["failure"]
        return view

    def get(self, voice_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/voices/{id}``."""
        return self._account.show(
            self._by_id, voice_id, "Voice not found.", lambda v, now: self._view(v, now, base_url)
        )

    def update(self, voice_id: str, body: Any, *, base_url: str = "") -> Reply:
        """``PATCH /v1/voices/{id}``: a new name or description; the voice as it now is."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        with self._account.lock:
            now = self._account.advance()
            voice = self._by_id.get(voice_id)
            if voice is None:
                return error(404, "Voice not found.")
            issues = validate_resource(self._account.catalog, "voice_update", body)
            if issues:
                return invalid(issues)
            voice.update({k: v for k, v in body.items() if k in ("name", "description")})
            return Reply(200, self._view(voice, now, base_url))

    def delete(self, voice_id: str) -> Reply:
        """``DELETE /v1/voices/{id}``."""
        return self._account.remove(self._by_id, voice_id, "Voice not found.")

    def list_page(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/voices?limit&cursor`` (newest first)."""
        return self._account.newest_page(
            self._by_id.values(), query, lambda v, now: self._view(v, now, base_url)
        )

    def preview(self, body: Any, *, base_url: str = "") -> Reply:
        """``POST /v1/voices/preview``: a short MP3 of the described voice."""
        refusal = refused(self._account.catalog, "voice_preview", body)
        if refusal is not None:
            return refusal
        with self._account.lock:
            now = self._account.advance()
            owner = new_id()
            self._previews[owner] = _MP3
            url = self._files.signed_url(owner, 0, _MP3, now, base_url)
            return Reply(200, {"durationSecs": PREVIEW_SECONDS, "url": url})

    def _served(self, owner: str, index: int, now: float) -> OutputFile | None:
        """A voice's sample once it is READY, or a preview clip."""
        if index != 0:
            return None
        if owner in self._previews:
            return self._previews[owner]
        voice = self._by_id.get(owner)
        if voice is None or _status(voice, now) != "READY":
            return None
        return _MP3


def _status(voice: Mapping[str, Any], now: float) -> str:
    if now < voice["ready"]:
        return "PROCESSING"
    return "FAILED" if voice.get("failure") else "READY"
