"""``/v1/uploads`` and the upload URL it hands out: ephemeral files behind ``runway://`` URIs.

An upload is a slot (an S3-style form POST URL with a signed policy) and a ``runway://`` URI
that a generation request may name once the file has arrived and until the slot expires.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runway_plan.catalog.assets import AssetField
from runway_plan.emulator.account import Account, Reply, error, invalid, iso, new_id, s3_error
from runway_plan.emulator.assets import probed
from runway_plan.emulator.validation import Issue

__all__ = ["Upload", "Uploads"]


@dataclass
class Upload:
    """One upload slot and, once received, what its file is."""

    id: str
    filename: str
    key: str
    uri: str
    created: float
    expires: float
    path: Path | None = None
    size: int = 0
    mime: str | None = None
    media: str | None = None
    duration: float | None = None
    dims: tuple[int, int] | None = None


class Uploads:
    """The uploads of an account."""

    def __init__(self, account: Account) -> None:
        """No uploads yet."""
        self._account = account
        self._by_id: dict[str, Upload] = {}
        self._by_uri: dict[str, Upload] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def by_uri(self, uri: str) -> Upload | None:
        """The upload a ``runway://`` URI names, or None."""
        return self._by_uri.get(uri)

    def create(self, body: Any, base_url: str) -> Reply:
        """``POST /v1/uploads``: an upload slot (URL, form fields) and its ``runway://`` URI."""
        if not isinstance(body, dict):
            return error(400, "The request body must be a JSON object.")
        issues = []
        filename = body.get("filename")
        if not isinstance(filename, str) or not filename.strip():
            issues.append(Issue(("filename",), "filename must be a non-empty string"))
        elif len(filename) > 255 or "/" in filename or "\\" in filename:
            issues.append(Issue(("filename",), "filename must be a plain file name"))
        if body.get("type", "ephemeral") != "ephemeral":
            issues.append(Issue(("type",), "type must be 'ephemeral'"))
        for name in body:
            if name not in ("filename", "type"):
                issues.append(Issue((name,), f"unknown field '{name}'"))
        if issues:
            return invalid(issues)
        account = self._account
        with account.lock:
            now = account.advance()
            upload_id = new_id()
            key = f"uploads/{upload_id}/{filename}"
            upload = Upload(
                id=upload_id,
                filename=str(filename),
                key=key,
                uri=f"runway://uploads/{upload_id}/{filename}",
                created=now,
                expires=now + account.config.upload_ttl,
            )
            self._by_id[upload_id] = upload
            self._by_uri[upload.uri] = upload
            policy = base64.b64encode(
                json.dumps(
                    {"expiration": iso(upload.expires), "conditions": [{"key": key}]},
                    separators=(",", ":"),
                ).encode()
            ).decode()
            fields = {
                "key": key,
                "policy": policy,
                "x-amz-algorithm": "AWS4-HMAC-SHA256",
                "x-amz-signature": account.sign(f"upload:{key}:{policy}"),
            }
            return Reply(
                200,
                {
                    "uploadUrl": f"{account.base(base_url)}/_uploads/{upload_id}",
                    "fields": fields,
                    "runwayUri": upload.uri,
                },
            )

    def receive(self, upload_id: str, form: Mapping[str, str], file: bytes | None) -> Reply:
        """``POST`` to an upload URL (multipart form, S3 style): store the file; 204."""
        account = self._account
        with account.lock:
            now = account.advance()
            upload = self._by_id.get(upload_id)
            if upload is None:
                return s3_error(404, "NoSuchUpload", "The specified upload does not exist.")
            policy = form.get("policy", "")
            if form.get("key") != upload.key or not hmac.compare_digest(
                form.get("x-amz-signature", ""), account.sign(f"upload:{upload.key}:{policy}")
            ):
                return s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided.",
                )
            if now > upload.expires:
                return s3_error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
            if file is None:
                return s3_error(
                    400, "InvalidArgument", "POST requires exactly one file upload per request."
                )
            overlay = account.catalog.overlay
            if len(file) < overlay.upload_min_bytes:
                return s3_error(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size.",
                )
            if len(file) > overlay.asset_limits["image"].upload:
                return s3_error(
                    400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."
                )
            local = account.directory / "uploads" / upload.id / "file"
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(file)
            asset = probed(AssetField((), upload.uri, frozenset()), local, file)
            upload.path, upload.size = local, len(file)
            upload.mime, upload.media = asset.mime, asset.media
            upload.duration, upload.dims = asset.duration, asset.dims
            return Reply(204)
