"""``/v1/avatars``: custom avatars, PROCESSING for a while, then READY (or FAILED).

Once READY, ``referenceImageUri`` and ``processedImageUri`` are signed URLs of real images:
the reference image itself when the emulator holds it (an upload, one of its own outputs),
else one of its size; the processed image is made at that size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runway_plan.catalog.assets import AssetField
from runway_plan.emulator.account import Account, Reply, error, invalid, iso, new_id
from runway_plan.emulator.assets import Asset
from runway_plan.emulator.files import Files, is_output_url
from runway_plan.emulator.inputs import Inputs
from runway_plan.emulator.outputs import OutputFile
from runway_plan.emulator.validation import Issue, validate_resource
from runway_plan.emulator.voices import Voices

__all__ = ["Avatars"]

_PRESET_VOICE_DESCRIPTION = "A preset voice of the Runway API."
_IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class Avatars:
    """The avatars of an account.  ``documents`` holds the ids of the account's documents
    (an avatar may only name those), ``voices`` its custom voices (likewise)."""

    def __init__(
        self,
        account: Account,
        inputs: Inputs,
        files: Files,
        documents: Mapping[str, object],
        voices: Voices | None = None,
    ) -> None:
        """No avatars yet; their images are served by ``files``."""
        self._voices = voices
        self._account = account
        self._inputs = inputs
        self._files = files
        self._documents = documents
        self._by_id: dict[str, dict[str, Any]] = {}
        files.serve_from(self._served)

    def status(self, avatar_id: str, now: float) -> str | None:
        """The status of an avatar at ``now``, or None when there is no such avatar."""
        avatar = self._by_id.get(avatar_id)
        return None if avatar is None else _status(avatar, now)

    def views(self, now: float, base_url: str) -> dict[str, dict[str, Any]]:
        """Every avatar by id, in creation order, as ``GET /v1/avatars/{id}`` shows it."""
        return {key: self.view(avatar, now, base_url) for key, avatar in self._by_id.items()}

    def used_by(self, document_id: str, now: float, base_url: str) -> list[dict[str, Any]]:
        """The ``usedBy`` of a document: the avatars that name it."""
        return [
            {
                "id": avatar["id"],
                "imageUrl": self.view(avatar, now, base_url)["processedImageUri"],
                "name": avatar["name"],
            }
            for avatar in self._by_id.values()
            if document_id in avatar["documentIds"]
        ]

    def unlink(self, document_id: str) -> None:
        """Drop a deleted document from the avatars that name it."""
        for avatar in self._by_id.values():
            if document_id in avatar["documentIds"]:
                avatar["documentIds"] = [d for d in avatar["documentIds"] if d != document_id]

    def create(self, body: Any, failure: str | None = None, *, base_url: str = "") -> Reply:
        """``POST /v1/avatars``: PROCESSING until ``avatar_seconds`` have passed, then READY
        (or FAILED with the reason ``failure``, which an ``avatar_failed`` fault gives).

        URLs start with ``public_url``, else ``base_url`` (the request's; for the avatar and
        document methods, which answer with avatar images, the default is a bare path)."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        account = self._account
        with account.lock:
            now = account.advance()
            issues, reference = self._issues("avatar_create", body, now)
            if issues:
                return invalid(issues)
            avatar = {
                "id": new_id(),
                "name": body["name"],
                "personality": body["personality"],
                "referenceImage": body["referenceImage"],
                "voice": body["voice"],
                "documentIds": list(body.get("documentIds", [])),
                "startScript": body.get("startScript"),
                "imageProcessing": body.get("imageProcessing", "optimize"),
                "createdAt": now,
                "updatedAt": now,
                "ready": now + account.scale(account.config.avatar_seconds),
                "failure": failure,
                "reference": reference,
                "images": [],
            }
            avatar["images"] += _images(reference)
            self._by_id[avatar["id"]] = avatar
            return Reply(200, self.view(avatar, now, base_url))

    def _issues(
        self, resource: str, body: dict[str, Any], now: float
    ) -> tuple[list[Issue], Asset | None]:
        """Why the API refuses ``body``, and its reference image as the emulator knows it."""
        issues = validate_resource(self._account.catalog, resource, body)
        image = body.get("referenceImage")
        reference = None
        if isinstance(image, str):
            item = AssetField(("referenceImage",), image, frozenset({"image"}))
            resolved: Asset | Issue | None = None
            if image.startswith("runway://"):
                resolved = self._inputs.upload(item, now)
            elif is_output_url(image):
                resolved = self._inputs.output(item, now)
                issues = [i for i in issues if i.path != ("referenceImage",)]
            if isinstance(resolved, Issue):
                issues.append(resolved)
            else:
                reference = resolved or Asset(item)
        if self._voices is not None and not issues:
            unknown_voice = self._voices.unknown(body.get("voice"), ("voice",), now)
            if unknown_voice is not None:
                issues.append(unknown_voice)
        documents = body.get("documentIds")
        if isinstance(documents, list):
            for index, document in enumerate(documents):
                if isinstance(document, str) and document not in self._documents:
                    issues.append(
                        Issue(("documentIds", index), f"document {document} does not exist")
                    )
        return issues, reference

    def view(self, avatar: Mapping[str, Any], now: float, base_url: str) -> dict[str, Any]:
        """An avatar as the API shows it at ``now``."""
        voice = dict(avatar["voice"])
        if voice.get("type") == "runway-live-preset":
            voice.setdefault("name", str(voice.get("presetId", "")).title())
            voice.setdefault("description", _PRESET_VOICE_DESCRIPTION)
        else:
            shown = self._voices.shown(voice.get("id")) if self._voices is not None else None
            voice.update(shown or {"deleted": False})
        status = _status(avatar, now)
        view = {
            "id": avatar["id"],
            "status": status,
            "name": avatar["name"],
            "personality": avatar["personality"],
            "documentIds": list(avatar["documentIds"]),
            "startScript": avatar["startScript"],
            "voice": voice,
            "referenceImageUri": None,
            "processedImageUri": None,
            "createdAt": iso(avatar["createdAt"]),
            "updatedAt": iso(avatar["updatedAt"]),
        }
        if status == "READY":
            images = avatar["images"]
            first = len(images) - 2
            view["referenceImageUri"], view["processedImageUri"] = (
                self._files.signed_url(avatar["id"], first + n, images[first + n], now, base_url)
                for n in (0, 1)
            )
        if status == "FAILED":
            view["failureReason"] = avatar["failure"]
        return view

    def get(self, avatar_id: str, *, base_url: str = "") -> Reply:
        """``GET /v1/avatars/{id}``."""
        return self._account.show(
            self._by_id, avatar_id, "Avatar not found.", lambda a, now: self.view(a, now, base_url)
        )

    def update(
        self, avatar_id: str, body: Any, failure: str | None = None, *, base_url: str = ""
    ) -> Reply:
        """``PATCH /v1/avatars/{id}``: a new reference image starts processing again (and ends
        FAILED with the reason ``failure`` when one is given)."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        account = self._account
        with account.lock:
            now = account.advance()
            avatar = self._by_id.get(avatar_id)
            if avatar is None:
                return error(404, "Avatar not found.")
            issues, reference = self._issues("avatar_update", body, now)
            if issues:
                return invalid(issues)
            for name, value in body.items():
                avatar[name] = list(value) if name == "documentIds" else value
            if "referenceImage" in body or "imageProcessing" in body or failure is not None:
                avatar["ready"] = now + account.scale(account.config.avatar_seconds)
                avatar["failure"] = failure
                avatar["reference"] = reference or avatar["reference"]
                avatar["images"] += _images(avatar["reference"])
            avatar["updatedAt"] = now
            return Reply(200, self.view(avatar, now, base_url))

    def delete(self, avatar_id: str) -> Reply:
        """``DELETE /v1/avatars/{id}``."""
        return self._account.remove(self._by_id, avatar_id, "Avatar not found.")

    def list_page(self, query: Mapping[str, str], *, base_url: str = "") -> Reply:
        """``GET /v1/avatars?limit&cursor`` (newest first)."""
        return self._account.newest_page(
            self._by_id.values(), query, lambda a, now: self.view(a, now, base_url)
        )

    def _served(self, owner: str, index: int, now: float) -> OutputFile | None:
        """Image ``index`` of an avatar: the current pair only once it is READY."""
        avatar = self._by_id.get(owner)
        if avatar is None or index >= len(avatar["images"]):
            return None
        current = index >= len(avatar["images"]) - 2
        if current and _status(avatar, now) != "READY":
            return None
        image: OutputFile = avatar["images"][index]
        return image


def _images(reference: Asset | None) -> list[OutputFile]:
    """An avatar's reference and processed images: the reference's own bytes when they are
    held, else images of its size (1024 px square when it is unknown)."""
    width, height = reference.dims if reference and reference.dims else (1024, 1024)
    processed = OutputFile("image", "png", "image/png", width, height)
    if reference is None or reference.local is None or reference.mime not in _IMAGE_EXTENSIONS:
        return [processed, processed]
    ext = _IMAGE_EXTENSIONS[reference.mime]
    copy = OutputFile("image", ext, reference.mime, width, height, source=reference.local)
    return [copy, processed]


def _status(avatar: Mapping[str, Any], now: float) -> str:
    if now < avatar["ready"]:
        return "PROCESSING"
    return "FAILED" if avatar.get("failure") else "READY"
