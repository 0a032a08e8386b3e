"""What ``plan`` reads besides the spec: the run state ``run`` would use and, with ``--live``,
the spec's recorded documents and avatars as the API holds them."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.plan import PlanOptions
from runway_plan.plan.live import DEFAULT_BASE_URL, LiveError, Organization, parse_organization
from runway_plan.plan.resources import ResourcePlan

if TYPE_CHECKING:
    from runway_plan.execute import RunwayClient

__all__ = ["StateView", "live_organization", "state_view"]

_T = TypeVar("_T")


class StateView:
    """What the run state says of a spec: reusable generations and resource changes."""

    def __init__(self) -> None:
        self.reuse: dict[str, Any] | None = None
        self.source: str | None = None
        self.resources: ResourcePlan | None = None
        self.problems: list[Diagnostic] = []

    def onto(self, options: PlanOptions) -> PlanOptions:
        """``options`` with what the state says: what is reusable, where that was read, and
        the resources' changes."""
        return replace(
            options, reuse=self.reuse, reuse_source=self.source, resources=self.resources
        )


def state_view(
    spec: str,
    graph: Graph,
    *,
    state_dir: Path | None,
    emulate: bool,
    base_url: str | None,
    live_key: str | None,
) -> StateView:
    """Read the state ``run`` would use (a private copy of it, never locked; the network
    only with ``live_key``, to read the recorded documents and avatars).  A state that cannot
    be read is a warning (RP517), and the plan shows no reuse."""
    from runway_plan.execute.state import StateUnreadable

    try:
        view = StateView()
        spec_path = Path(spec)
        has_resources = bool(graph.documents or graph.avatars)
        if not spec_path.is_file():
            return view  # a spec read from git: no state of its own
        from runway_plan.cli.state_folder import state_location

        directory, base = state_location(spec_path, state_dir, emulate, base_url)
        exists = (directory / "state.db").is_file()
        if not (exists or state_dir is not None or emulate or has_resources):
            return view
        from runway_plan.execute import origin_of, reusable
        from runway_plan.execute.resources import resource_plan

        try:
            shown = os.path.relpath(directory)
        except ValueError:
            shown = str(directory)
        source = f"{shown} ({origin_of(base)})"
        if exists or state_dir is not None or emulate:
            view.reuse = dict(reusable(graph, directory, base_url=base))
            view.source = source
        remote = None
        notes: list[str] = []
        if live_key is not None and exists:
            remote, notes = _read_remote(graph, directory, base, live_key)
        resources = resource_plan(
            graph,
            directory,
            base,
            reuse=view.reuse,
            remote=remote,
            notes=notes,
            shown=shown,
            empty_remote=emulate,
        )
        view.resources = resources
        return view
    except StateUnreadable as exc:
        view = StateView()
        view.problems.append(make("RP517", str(exc), None))
        return view


def _read_remote(
    graph: Graph, directory: Path, base: str, key: str
) -> tuple[dict[int, Any], list[str]]:
    """GET the spec's recorded documents and avatars (``--live``)."""
    from runway_plan.execute import State, origin_of
    from runway_plan.execute.resources import read_remote

    with State.snapshot(directory) as state:
        name = graph.spec.name if graph.spec is not None else ""
        rows = state.resources(name, origin_of(base))

    async def read(client: RunwayClient) -> tuple[dict[int, Any], list[str]]:
        found, problems = await read_remote(client, rows)
        return dict(found), problems

    return _with_client(key, base, read)


def live_organization(key: str, base_url: str | None = None) -> Organization:
    """The account's limits and usage (``GET /v1/organization``, retried as ``run`` retries
    it), for ``PlanOptions.live``; the base URL defaults to the API's.

    Raises :class:`LiveError` with a message that never contains the key.
    """
    from runway_plan.execute.client import ApiError, Unavailable

    base = (base_url or DEFAULT_BASE_URL).rstrip("/")

    async def read(client: RunwayClient) -> dict[str, Any]:
        return await client.organization()

    try:
        body = _with_client(key, base, read)
    except ApiError as exc:
        what = "GET /v1/organization"
        detail = exc.message.removeprefix(f"{what}: ").removeprefix(f"HTTP {exc.status}: ")
        if isinstance(exc, Unavailable) and exc.status is None:
            message = f"cannot reach {base}: {detail}"
        elif exc.status is not None and exc.status >= 400:
            hint = " (check RUNWAYML_API_SECRET)" if exc.status == 401 else ""
            message = f"{what} answered {exc.status}: {detail}{hint}"
        else:
            message = exc.message
        raise LiveError(message.replace(key, "[redacted]")) from None
    return parse_organization(body)


def _with_client(key: str, base: str, read: Callable[[RunwayClient], Awaitable[_T]]) -> _T:
    """``read`` run with the API client of ``--live``: its default retries, and
    :data:`_TIMEOUT` for each request."""
    import asyncio

    import httpx

    from runway_plan.execute import RunwayClient

    async def session() -> _T:
        async with httpx.AsyncClient(transport=_transport) as http:
            client = RunwayClient(
                http,
                api_key=key,
                base_url=base,
                sleep=_sleep or asyncio.sleep,
                timeout=httpx.Timeout(_TIMEOUT),
            )
            return await read(client)

    return asyncio.run(session())


_TIMEOUT = 15.0
"""Seconds each ``--live`` request may take (``plan`` waits less than ``run`` does)."""
_transport: Any = None
"""The transport of ``--live`` reads, replaceable in tests (an ``httpx.MockTransport``)."""
_sleep: Callable[[float], Awaitable[None]] | None = None
"""The client's wait between retries (None: ``asyncio.sleep``), replaceable in tests."""
