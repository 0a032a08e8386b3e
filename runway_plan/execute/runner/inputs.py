"""A generation's inputs as the API takes them: upstream outputs by URL (recorded while
fresh, else a fresh URL from their task, else uploaded again) and local files (inline as a data
URI when small, through ``/v1/uploads`` when large), each read and checked when it is sent."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from runway_plan.catalog import Catalog
from runway_plan.catalog.assets import set_path
from runway_plan.compile import Graph
from runway_plan.execute.client import (
    RunwayClient,
    TaskNotFound,
    TransferFailed,
    Unavailable,
    data_uri,
    strip_query,
)
from runway_plan.execute.fingerprint import Fingerprinter, OutputRef
from runway_plan.execute.resources import ImageSource
from runway_plan.execute.runner.results import GenerationResult, RunOptions
from runway_plan.execute.state import State
from runway_plan.execute.store import Store, safe_extension
from runway_plan.files import LocalFileError
from runway_plan.probe import sniff

__all__ = ["URL_MARGIN", "Inputs", "fresh_url"]

CONFIG_ID = ("configId",)
"""Where a generate step is sent the slug of the spec router it runs on."""
AVATAR_ID = ("avatar", "avatarId")
"""Where an avatar video of a spec avatar is sent the avatar's remote id."""

URL_MARGIN = 3600.0
"""An input URL must stay valid this many seconds after a create (the API fetches it later)."""


def fresh_url(url: str, fetched_at: float | None, max_age: float) -> bool:
    """True when ``url`` (fetched at ``fetched_at``) is younger than ``max_age`` seconds and its
    signature, if it says when it expires, stays valid ``URL_MARGIN`` seconds more."""
    now = time.time()
    if fetched_at is None or now - fetched_at > max_age:
        return False
    query = {k.lower(): v for k, v in parse_qs(urlsplit(url).query).items()}
    expires = next(iter(query.get("expires") or []), None)
    if expires is not None and expires.isdigit():
        return int(expires) - now > URL_MARGIN
    amz_date, amz_expires = query.get("x-amz-date"), query.get("x-amz-expires")
    if amz_date and amz_expires and amz_expires[0].isdigit():
        try:
            start = time.mktime(time.strptime(amz_date[0], "%Y%m%dT%H%M%SZ")) - time.timezone
        except ValueError:
            return True
        return start + int(amz_expires[0]) - now > URL_MARGIN
    return True


class Inputs:
    """Builds the requests of one run's generations (see the module docstring)."""

    def __init__(
        self,
        graph: Graph,
        catalog: Catalog,
        client: RunwayClient,
        state: State,
        store: Store,
        fingerprinter: Fingerprinter,
        options: RunOptions,
        results: Mapping[str, GenerationResult],
        emit: Callable[[str, str | None, str], None],
        *,
        avatar_ids: Mapping[str, str] | None = None,
    ) -> None:
        """``results`` are the run's, read for the journal row of an upstream generation;
        ``emit`` reports each upload; ``avatar_ids`` gives an avatar video of a spec avatar
        the avatar's remote id (once it is in place)."""
        self.graph = graph
        self.catalog = catalog
        self.client = client
        self.state = state
        self.store = store
        self.fingerprinter = fingerprinter
        self.options = options
        self.results = results
        self._emit = emit
        self.avatar_ids: Mapping[str, str] = avatar_ids if avatar_ids is not None else {}
        self.voice_id: Callable[[str], str | None] | None = None
        """The remote id of one of the spec's voices, once the run has it in place."""

    async def image_uri(self, source: ImageSource, fresh: bool) -> tuple[str, str]:
        """An avatar's reference image as the API takes it, and as it is shown."""
        if source.ref is not None:
            uri = await self.output_uri(source.ref, fresh=fresh)
            return uri, strip_query(uri) if "://" in uri else uri
        if source.how == "file":
            return await self.local_uri(source.text, frozenset({"image"}), fresh=fresh)
        return source.text, source.text[:80]

    async def audio_uri(self, source: ImageSource, fresh: bool) -> tuple[str, str]:
        """A voice's audio sample as the API takes it, and as it is shown."""
        if source.ref is not None:
            uri = await self.output_uri(source.ref, fresh=fresh)
            return uri, strip_query(uri) if "://" in uri else uri
        if source.how == "file":
            return await self.local_uri(source.text, frozenset({"audio"}), fresh=fresh)
        return source.text, source.text[:80]

    async def build(
        self, key: str, *, fresh: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request to send, and the same with data URIs and signatures abbreviated.

        ``fresh``: fetch upstream tasks again for new URLs and upload again rather than trust
        recorded URLs and cached uploads (after the API could not fetch one).
        """
        gen = self.graph.generations[key]
        body: Any = gen.request
        shown: Any = gen.request
        for path, ref in self.fingerprinter.inputs[key]:
            uri = await self.output_uri(ref, fresh=fresh)
            body = set_path(body, path, uri)
            shown = set_path(shown, path, strip_query(uri) if "://" in uri else uri)
        for local in self.fingerprinter.files[key]:
            uri, label = await self.local_uri(local.value, local.media, fresh=fresh)
            body = set_path(body, local.path, uri)
            shown = set_path(shown, local.path, label)
        router = self.graph.routers.get(gen.router) if gen.router is not None else None
        if router is not None:
            body = set_path(body, CONFIG_ID, router.slug)
            shown = set_path(shown, CONFIG_ID, router.slug)
        avatar_id = self.avatar_ids.get(key)
        if avatar_id is not None:
            body = set_path(body, AVATAR_ID, avatar_id)
            shown = set_path(shown, AVATAR_ID, avatar_id)
        for path, voice in self.fingerprinter.voices.get(key, ()):
            remote = self.voice_id(voice) if self.voice_id is not None else None
            if remote is None:
                raise TransferFailed(f"voice '{voice}' has no id")
            body = set_path(body, path, {"type": "custom", "id": remote})
            shown = set_path(shown, path, {"type": "custom", "id": remote})
        return dict(body), dict(shown)

    async def output_uri(self, ref: OutputRef, *, fresh: bool = False) -> str:
        """A URI of the upstream output ``ref`` that the API can fetch now."""
        producer = self.results[ref.key]
        assert producer.step_id is not None
        outputs = {o.index: o for o in self.state.outputs(producer.step_id)}
        out = outputs.get(ref.index)
        if (
            not fresh
            and out is not None
            and out.url
            and fresh_url(out.url, out.url_at, self.options.url_fresh_seconds)
        ):
            return out.url
        row = self.state.step_by_id(producer.step_id)
        if row.task_id:
            try:
                task = await self.client.task(row.task_id)
            except (TaskNotFound, Unavailable):
                task = {}
            urls = task.get("output") if task.get("status") == "SUCCEEDED" else None
            if isinstance(urls, list) and len(urls) > ref.index:
                self.state.refresh_urls(producer.step_id, urls)
                if not (fresh and out is not None and urls[ref.index] == out.url):
                    return str(urls[ref.index])
        if out is None or out.sha256 is None:
            raise TransferFailed(f"no stored output {ref.index} of '{ref.key}'")
        name = f"{ref.key.replace('[', '-').replace(']', '')}-{ref.index}.{safe_extension(out.ext)}"
        cached = None if fresh else self.state.upload(out.sha256, self.options.upload_max_age)
        if cached is not None:
            return cached
        data = self.store.read(out.sha256, out.size)
        return await self.upload(data, out.sha256, name, out.mime)

    async def upload(self, data: bytes, sha256: str, filename: str, mime: str | None) -> str:
        """Upload ``data`` and remember its URI for reuse."""
        uri = await self.client.upload(filename, data, mime)
        self.state.record_upload(sha256, uri)
        self._emit("upload", None, f"uploaded {filename} as {uri}")
        return uri

    async def local_uri(
        self, value: str, media: frozenset[str], *, fresh: bool = False
    ) -> tuple[str, str]:
        """A data URI or an upload of the local file ``value`` names, read here, once: inside
        the spec's root (resolved anew), hashed and sniffed at the moment it is sent, and
        refused when it is not the content the run checked or not the field's media."""
        overlay = self.catalog.overlay
        try:
            with self.graph.root.open(value, limit=overlay.largest_upload, fresh=True) as local:
                data = local.read()
                filename = local.path.name
        except LocalFileError as exc:
            raise TransferFailed(f"{exc}; nothing was sent") from None
        digest = hashlib.sha256(data).hexdigest()
        checked = self.fingerprinter.file_hashes.get(value)
        if checked is not None and digest != checked:
            raise TransferFailed(
                f"'{value}' changed since the run checked it (sha256 {digest[:12]}, checked "
                f"{checked[:12]}); nothing was sent: run again to use the new content"
            )
        mime, kind = sniff(data)
        if kind not in media:
            raise TransferFailed(
                f"'{value}' is not {' or '.join(sorted(media))} "
                f"({mime or 'not a recognised media file'}); nothing was sent"
            )
        assert mime is not None and kind is not None
        limit = self.options.data_uri_limit
        if limit is None:
            limit = overlay.asset_limits[kind].data_uri  # type: ignore[index]
        size = len(data)
        encoded = len(f"data:{mime};base64,") + 4 * math.ceil(size / 3)
        if encoded <= limit or size < overlay.upload_min_bytes:
            label = f"data:{mime};base64,… ({size} bytes, sha256 {digest[:16]})"
            return data_uri(data, mime), label
        cached = None if fresh else self.state.upload(digest, self.options.upload_max_age)
        uri = cached or await self.upload(data, digest, filename, mime)
        return uri, uri
