"""Asset checks: URLs, data URIs and local files (media type by content, size, duration)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    InputDuration,
)
from runway_plan.compile import Graph
from runway_plan.compile.durations import Length
from runway_plan.diagnostics import Diagnostic, Location, Span, make
from runway_plan.files import LocalFileError, NotText, OutsideRoot
from runway_plan.probe import probe_local
from runway_plan.source import DataPath, SourceMap
from runway_plan.validate import describe
from runway_plan.validate.checker import Checker


class AssetChecks:
    """Checks of asset values; mixed into the validator, which provides its state."""

    api: bool
    catalog: Catalog
    graph: Graph
    map: SourceMap
    spec_path: str
    diagnostics: list[Diagnostic]

    def input_duration(
        self,
        length: Length | None,
        what: str,
        at: DataPath,
        checker: Checker,
        span: Span | Location,
    ) -> list[Diagnostic]:
        """RP225 when an input's known length is outside the model's bounds; RP227 (a
        warning) when only part of its estimated range is."""
        bounds: InputDuration | None = checker.overlay.input_durations.get(describe.dotted(at))
        if bounds is None or length is None:
            return []
        low, high = bounds.min_seconds, bounds.max_seconds

        def short(seconds: float) -> bool:
            return low is not None and (seconds <= low if bounds.exclusive else seconds < low)

        def long(seconds: float) -> bool:
            return high is not None and (seconds >= high if bounds.exclusive else seconds > high)

        if bounds.exclusive:
            allowed = describe.bounds(None, None, low, high)
        else:
            allowed = describe.bounds(low, high, None, None)
        takes = f"{checker.subject} takes {allowed} s"
        if length.exact:
            if not (short(length.low) or long(length.low)):
                return []
            return [
                make(
                    "RP225",
                    f"{describe.label(at)}: {what} is {_seconds(length.low)} s long; {takes}",
                    span,
                )
            ]
        estimate = f"{_seconds(length.low)}-{_seconds(length.high)} s long ({length.reason})"
        if short(length.high) or long(length.low):
            return [
                make("RP225", f"{describe.label(at)}: {what} will be {estimate}; {takes}", span)
            ]
        if short(length.low) or long(length.high):
            risk = "too short" if short(length.low) else "too long"
            return [
                make(
                    "RP227",
                    f"{describe.label(at)}: {what} may be {risk}: it will be {estimate}; {takes}",
                    span,
                )
            ]
        return []

    def check_asset(
        self, value: str, media: str, at: DataPath, checker: Checker
    ) -> list[Diagnostic]:
        span = checker.locate(at)
        overlay = self.catalog.overlay
        label = describe.label(at)
        if value.startswith("runway://"):
            return []
        if value.startswith("data:"):
            return self.data_uri(value, media, label, span)
        if "://" in value:
            parts = urlsplit(value)
            scheme = parts.scheme.lower()
            if scheme not in ("https", "http"):
                return [
                    make(
                        "RP226",
                        f"{label}: unsupported scheme '{scheme}://'",
                        span,
                        hint="use an https:// URL, a runway:// upload URI, a data: URI, a local "
                        "path or an '@step' reference",
                    )
                ]
            problems = []
            if scheme != "https":
                problems.append("only HTTPS URLs are allowed")
            host = parts.hostname or ""
            try:
                ipaddress.ip_address(host)
                problems.append("URLs must be hosted on a domain, not an IP address")
            except ValueError:
                if "." not in host:
                    problems.append(f"'{host}' is not a public domain name")
            if len(value) > overlay.url_max_length:
                problems.append(
                    f"it is {len(value)} characters long (at most {overlay.url_max_length})"
                )
            return [make("RP220", f"{label}: {problem}", span) for problem in problems]
        if self.api:
            return [
                make(
                    "RP226",
                    f"{label}: unsupported asset: use an https:// URL, a runway:// upload URI or a "
                    "data: URI",
                    span,
                )
            ]
        if value.startswith("@"):
            return [
                make(
                    "RP300",
                    f"{label}: '{value}' is not a valid step reference",
                    span,
                    hint="write '@step' or '@step[index]'",
                )
            ]
        if self.graph.root.local_path(value) is None:
            return []
        return self.local_file(value, media, at, checker, span)

    def data_uri(
        self, value: str, media: str, label: str, span: Span | Location
    ) -> list[Diagnostic]:
        match = describe.DATA_URI.match(value)
        overlay = self.catalog.overlay
        if match is None or ";base64" not in (match["params"] or ""):
            return [make("RP221", f"{label}: a data URI must be 'data:<type>;base64,<data>'", span)]
        mime = describe.MIME_ALIASES.get(
            (match["mime"] or "").lower(), (match["mime"] or "").lower()
        )
        if not mime:
            return [make("RP221", f"{label}: the data URI has no media type", span)]
        accepted = overlay.accepted_content_types.get(media, ())  # type: ignore[call-overload]
        if mime not in accepted:
            return [
                make(
                    "RP223",
                    f"{label}: the data URI holds {mime}; it takes {media} ({', '.join(accepted)})",
                    span,
                )
            ]
        payload = match["data"].strip()
        try:
            size = len(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            return [make("RP221", f"{label}: the data URI is not valid base64", span)]
        limit = overlay.asset_limits[media].data_uri  # type: ignore[index]
        if size > limit:
            return [
                make(
                    "RP221",
                    f"{label}: the data URI holds {describe.mb(size)}; {media} data URIs may "
                    f"hold at most {describe.mb(limit)}",
                    span,
                    hint="use a local file (it will be uploaded) or an https:// URL",
                )
            ]
        return []

    def local_file(
        self, value: str, media: str, at: DataPath, checker: Checker, span: Span | Location
    ) -> list[Diagnostic]:
        """Checks of a local file (read only inside the spec's root): a regular file of
        the field's media, within the API's size limit, of an accepted length."""
        label = describe.label(at)
        overlay = self.catalog.overlay
        limit = overlay.asset_limits[media].upload  # type: ignore[index]
        try:
            with self.graph.root.open(value) as local:
                if local.size > limit:
                    return [
                        make(
                            "RP224",
                            f"{label}: '{value}' is {describe.mb(local.size)}; the API accepts "
                            f"at most {describe.mb(limit)}",
                            span,
                        )
                    ]
                info = probe_local(local)
        except LocalFileError as exc:
            return [file_diagnostic(exc, label, span)]
        accepted = overlay.accepted_content_types.get(media, ())  # type: ignore[call-overload]
        mime = describe.MIME_ALIASES.get(info.mime or "", info.mime)
        if info.media != media or mime not in accepted:
            found = mime or "not a recognised media file"
            return [
                make(
                    "RP223",
                    f"{label}: '{value}' is {found}; the field takes {media} "
                    f"({', '.join(accepted)})",
                    span,
                    hint="the type is read from the file's content, not its extension",
                )
            ]
        length = Length.of(info.duration, "file") if info.duration is not None else None
        return self.input_duration(length, f"'{value}'", at, checker, span)


def file_diagnostic(
    error: LocalFileError, label: str, span: Span | Location, text_hint: str | None = None
) -> Diagnostic:
    """The diagnostic for a local file that cannot be used: RP228 outside the spec's root
    (saying nothing about the file), RP212 a document that is not text (with ``text_hint``),
    RP222 otherwise."""
    if isinstance(error, OutsideRoot):
        return make("RP228", f"{label}: {error}", span)
    if isinstance(error, NotText):
        return make("RP212", f"{label}: {error}", span, hint=text_hint)
    return make(
        "RP222",
        f"{label}: {error}",
        span,
        hint="local paths are relative to the spec's folder",
    )


def _seconds(value: float) -> str:
    return describe.num(round(value, 2))
