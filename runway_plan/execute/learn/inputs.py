"""The media inputs of a recorded request, measured where the state or the spec holds them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.execute.client import strip_query
from runway_plan.execute.state import State
from runway_plan.files import LocalFileError, Root
from runway_plan.probe import probe_local
from runway_plan.validate import check_file

__all__ = ["InputReader", "local_inputs", "media_inputs"]

_LABEL_SHA = re.compile(r"sha256 ([0-9a-f]{16})\)$")


def local_inputs(spec: Path, catalog: Catalog) -> tuple[Root, dict[str, str]]:
    """The root of the spec file ``spec`` and the local files its requests name (inside that
    root), by content hash: what a run sent as a data URI or an upload, to measure."""
    graph, _diagnostics = check_file(spec, catalog)
    root = graph.root
    found: dict[str, str] = {}
    for gen in graph.generations.values():
        for value in _strings(gen.request):
            if root.local_path(value) is None:
                continue
            try:
                with root.open(value, limit=catalog.overlay.largest_upload) as local:
                    found.setdefault(local.sha256(), str(local.path))
            except (LocalFileError, OSError):
                continue
    return root, found


def _strings(data: Any) -> Iterable[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


class InputReader:
    """Reads one state snapshot: attempts, and where each recorded media input is (an output
    in the state's store, or a local file of the spec)."""

    def __init__(
        self,
        state: State,
        catalog: Catalog,
        shown: str,
        spec: Path | None = None,
    ) -> None:
        self.state = state
        self.catalog = catalog
        self.shown = shown
        real = Path(state.directory).resolve()
        self.spec = spec
        spec_root = Root.of_spec(spec) if spec is not None else None
        allowed = (spec_root.base, *spec_root.allowed) if spec_root is not None else ()
        self.root = Root(folder=real, base=real, allowed=allowed)
        self._local: dict[str, str] | None = None
        self._spec_prices: frozenset[str] | None = None
        self.emulated = False
        self.uploads: dict[str, str] = {}
        self.store = real / "store"
        self.by_url: dict[str, tuple[str, int | None]] = {}
        for row in state.db.execute("SELECT url, sha256, size FROM outputs WHERE url IS NOT NULL"):
            if isinstance(row[0], str) and isinstance(row[1], str):
                self.by_url[strip_query(row[0])] = (row[1], row[2])
        for row in state.db.execute("SELECT uri, sha256 FROM uploads"):
            if isinstance(row[0], str) and isinstance(row[1], str):
                self.by_url[row[0]] = (row[1], None)
                self.uploads[row[0]] = row[1]

    @property
    def local(self) -> dict[str, str]:
        """The spec's local files by content hash, read the first time a task needs them."""
        if self._local is None:
            self._local = {}
            if self.spec is not None:
                self._local = local_inputs(self.spec, self.catalog)[1]
        return self._local

    @property
    def spec_prices(self) -> frozenset[str]:
        """The models the spec's own ``prices:`` price (``run --emulate`` bills them so)."""
        if self._spec_prices is None:
            self._spec_prices = frozenset()
            if self.spec is not None:
                graph, _diagnostics = check_file(self.spec, self.catalog)
                if graph.spec is not None:
                    self._spec_prices = frozenset(graph.spec.prices)
        return self._spec_prices

    def input_path(self, value: Any) -> str | None:
        """The path of the media a recorded input names: a stored output, or a local file
        of the spec with the same content (sent as an upload or a data URI)."""
        if not isinstance(value, str):
            return None
        known = self.by_url.get(value)
        if known is not None:
            stored = self.stored(known[0])
            if stored is not None:
                return stored
        sha256 = self.uploads.get(value)
        if sha256 is not None:
            return self.local.get(sha256)
        label = _LABEL_SHA.search(value) if value.startswith("data:") else None
        if label is not None:
            matches = [p for h, p in self.local.items() if h.startswith(label.group(1))]
            return matches[0] if len(matches) == 1 else None
        return None

    def stored(self, sha256: str) -> str | None:
        """The path of a stored file, when it is a plain name in the store."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            return None
        path = self.store / "sha256" / sha256[:2] / sha256[2:]
        return str(path) if path.is_file() else None

    def length(self, value: str) -> Decimal | None:
        """The length in seconds of a stored file, measured inside the state folder."""
        try:
            with self.root.open(value, limit=self.catalog.overlay.largest_upload) as local:
                seconds = probe_local(local).duration
        except (LocalFileError, OSError, ValueError):
            return None
        if seconds is None or not math.isfinite(seconds) or seconds < 0:
            return None
        return Decimal(repr(round(seconds, 3)))


def media_inputs(reader: InputReader, data: Any) -> Any:
    """``data`` with every media input the state or the spec holds replaced by the path of
    the file it was measured on (as the emulator does before it bills)."""
    if isinstance(data, str):
        return reader.input_path(data) or data
    if isinstance(data, dict):
        return {key: media_inputs(reader, value) for key, value in data.items()}
    if isinstance(data, list):
        return [media_inputs(reader, value) for value in data]
    return data
