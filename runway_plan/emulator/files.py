"""Signed, expiring URLs of the files the emulator serves, and the files themselves.

A URL is ``/_files/{owner}/{n}.{ext}?expires=&sig=``, where the owner is a task or an avatar;
which file it is, and whether it may be served now, is asked of the owners' resources.  Bytes
are made outside the lock and the most recent are kept in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from runway_plan.emulator.account import Account, Reply, s3_error
from runway_plan.emulator.outputs import OutputFile, make_file

__all__ = ["FileSource", "Files", "is_output_url"]

_FILE_PATH = re.compile(r"^/_files/(?P<owner>[0-9a-f-]{36})/(?P<name>\d+\.[a-z0-9]+)$")
_CACHED_FILES = 256
"""Output files kept in memory; older ones are made again (identically) when fetched."""

FileSource = Callable[[str, int, float], OutputFile | None]
"""File ``index`` of ``owner`` if a resource has it and serves it at ``now``, else None."""


def is_output_url(value: str) -> bool:
    """Whether ``value`` looks like a URL of a file the emulator serves."""
    return bool(_FILE_PATH.match(urlsplit(value).path or "")) and "sig=" in value


class Files:
    """The emulator's file server: signs URLs and serves what its sources hold."""

    def __init__(self, account: Account) -> None:
        """Files of ``account``; resources that own files add themselves (:meth:`serve_from`)."""
        self._account = account
        self._sources: list[FileSource] = []
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def serve_from(self, source: FileSource) -> None:
        """Ask ``source`` too for the file a URL names."""
        self._sources.append(source)

    def signed_url(
        self, owner: str, index: int, output: OutputFile, now: float, base_url: str
    ) -> str:
        """A URL of file ``index`` of ``owner``, valid for ``url_ttl`` from ``now``."""
        expires = int(now + self._account.config.url_ttl)
        name = f"{index}.{output.ext}"
        signature = self._account.sign(f"{owner}/{name}:{expires}")
        base = self._account.base(base_url)
        return f"{base}/_files/{owner}/{name}?expires={expires}&sig={signature}"

    def file_bytes(self, owner: str, index: int, output: OutputFile) -> bytes:
        """The bytes of file ``index`` of ``owner`` (a task or an avatar): cached, and made
        again identically when the cache has let them go.  They are made outside the lock,
        so a large video does not hold up the other requests."""
        key = (owner, index)
        with self._account.lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        data = make_file(owner, index, output)
        with self._account.lock:
            self._cache[key] = data
            while len(self._cache) > _CACHED_FILES:
                self._cache.popitem(last=False)
        return data

    def get_file(self, path: str, query: str, method: str = "GET") -> Reply:
        """``GET /_files/{owner}/{n}.{ext}?expires=&sig=``: a task's output or an avatar's
        image, if the URL is valid."""
        with self._account.lock:
            now = self._account.advance()
            found = self.check_url(path, query, now)
        if isinstance(found, Reply):
            return found
        owner, index, output = found
        data = self.file_bytes(owner, index, output)
        headers = {
            "ETag": '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"',
            "Cache-Control": "private, max-age=86400",
        }
        if method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return Reply(200, raw=b"", headers=headers, media_type=output.mime)
        return Reply(200, raw=data, headers=headers, media_type=output.mime)

    def check_url(self, path: str, query: str, now: float) -> tuple[str, int, OutputFile] | Reply:
        """The owner, index and file a URL's ``path`` and ``query`` name, or the store's
        error (bad signature, expired, no such file)."""
        match = _FILE_PATH.match(path)
        if match is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        params = parse_qs(query)
        expires_text = (params.get("expires") or [""])[0]
        signature = (params.get("sig") or [""])[0]
        if not expires_text.isdigit() or not signature:
            return s3_error(
                403, "AccessDenied", "Query-string authentication requires a signature."
            )
        expected = self._account.sign(f"{match['owner']}/{match['name']}:{expires_text}")
        if not hmac.compare_digest(expected, signature):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if now > int(expires_text):
            return s3_error(403, "AccessDenied", "Request has expired")
        owner, index = match["owner"], int(match["name"].split(".")[0])
        for source in self._sources:
            output = source(owner, index, now)
            if output is not None:
                return owner, index, output
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
