"""The media inputs of a request: uploads, data URIs and the emulator's own output URLs.

Each is resolved to an :class:`~runway_plan.emulator.assets.Asset` (held locally and probed
when the emulator can have its bytes) or refused with an
:class:`~runway_plan.emulator.validation.Issue`, as the API refuses an input it cannot fetch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any
from urllib.parse import urlsplit

from runway_plan.catalog.assets import AssetField, find_assets, set_path
from runway_plan.emulator.account import Account, Reply
from runway_plan.emulator.assets import Asset, dotted_label, probed
from runway_plan.emulator.files import Files, is_output_url
from runway_plan.emulator.uploads import Uploads
from runway_plan.emulator.validation import Issue

__all__ = ["Inputs"]


class Inputs:
    """Resolves media inputs against the account's uploads and files."""

    def __init__(self, account: Account, uploads: Uploads, files: Files) -> None:
        """Inputs of ``account``: ``runway://`` URIs in ``uploads``, output URLs in ``files``."""
        self._account = account
        self._uploads = uploads
        self._files = files

    def resolve(
        self, endpoint: str, model: str, body: dict[str, Any], now: float
    ) -> tuple[list[Asset], list[Issue], dict[str, Any]]:
        """The media inputs of ``body``, why any is refused, and the body to validate.

        The body to validate has the emulator's own output URLs replaced by an https URL on
        a domain (the real API's output URLs are such), since the validator refuses http and
        IP hosts.
        """
        spec = self._account.catalog.model(endpoint, model)
        if spec is None:
            return [], [], body
        assets: list[Asset] = []
        issues: list[Issue] = []
        checked = body
        for item in find_assets(body, spec.fields):
            value = item.value
            if value.startswith("runway://"):
                resolved = self.upload(item, now)
            elif value.startswith("data:"):
                resolved = self._data_uri(item)
            elif is_output_url(value):
                resolved = self.output(item, now)
                parts = urlsplit(value)
                checked = set_path(
                    checked, item.path, f"https://outputs.emulator.invalid{parts.path}"
                )
            else:
                resolved = Asset(item)
            if isinstance(resolved, Issue):
                issues.append(resolved)
            else:
                assets.append(resolved)
        return assets, issues, checked

    def upload(self, item: AssetField, now: float) -> Asset | Issue:
        """A ``runway://`` input: the upload's file, or why it cannot be used."""
        label = dotted_label(item)
        upload = self._uploads.by_uri(item.value)
        if upload is None:
            return Issue(item.path, f"{label}: Invalid runway URI: no upload has this URI.")
        if upload.path is None:
            return Issue(item.path, f"{label}: the upload {item.value} has not received a file.")
        if now > upload.expires:
            return Issue(item.path, f"{label}: the upload {item.value} has expired.")
        if upload.media not in item.media:
            what = upload.mime or "an unrecognised file"
            return Issue(
                item.path,
                f"{label}: Unsupported asset type: the upload is {what}; the field takes "
                f"{' or '.join(sorted(item.media))}.",
            )
        return Asset(item, upload.path, upload.media, upload.mime, upload.duration, upload.dims)

    def output(self, item: AssetField, now: float) -> Asset | Issue:
        """An input that is one of the emulator's output URLs: its file, or why not."""
        parts = urlsplit(item.value)
        found = self._files.check_url(parts.path, parts.query, now)
        label = dotted_label(item)
        if isinstance(found, Reply):
            return Issue(
                item.path,
                f"{label}: Failed to fetch asset. Received HTTP response code {found.status}.",
            )
        owner, index, output = found
        if output.media not in item.media:
            return Issue(
                item.path,
                f"{label}: Unsupported asset type: the URL holds {output.mime}; the field takes "
                f"{' or '.join(sorted(item.media))}.",
            )
        local = self._account.directory / "outputs" / f"{owner}-{index}.{output.ext}"
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(self._files.file_bytes(owner, index, output))
        dims = (output.width, output.height) if output.media == "image" else None
        seconds = output.seconds if output.media in ("video", "audio") else None
        return Asset(item, local, output.media, output.mime, seconds, dims)

    def _data_uri(self, item: AssetField) -> Asset:
        header, _, payload = item.value.partition(",")
        if ";base64" not in header:
            return Asset(item)
        try:
            data = base64.b64decode(payload.strip(), validate=True)
        except (binascii.Error, ValueError):
            return Asset(item)
        digest = hashlib.sha256(data).hexdigest()[:32]
        local = self._account.directory / "inputs" / digest
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
        return probed(item, local, data)

    def length_failure(self, model: str, assets: list[Asset]) -> str | None:
        """``ASSET.INVALID`` when a held input's length is outside the model's bounds."""
        bounds = self._account.catalog.model_overlay(model).input_durations
        for asset in assets:
            limit = bounds.get(asset.field.dotted)
            seconds = asset.duration
            if limit is None or seconds is None:
                continue
            low, high = limit.min_seconds, limit.max_seconds
            if limit.exclusive:
                bad = (low is not None and seconds <= low) or (high is not None and seconds >= high)
            else:
                bad = (low is not None and seconds < low) or (high is not None and seconds > high)
            if bad:
                return "ASSET.INVALID"
        return None
