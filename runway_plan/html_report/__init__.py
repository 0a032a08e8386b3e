"""The run report: one self-contained HTML page of a spec's last run, or of its plan.

:func:`write_report` reads the run's manifest (``<state>/runs/<id>/manifest.json``), plans
the spec as it is now (the graph, and the schedule of the generations the run made), reads
when each task ran from the state's journal, finds every output, and writes a page that
shows the step graph, the planned schedule beside the run's real timeline, per step and per
generation the planned and billed credits, the prompt and request, status and failure
reason, and every output as what it is (images, video and audio players, a contact sheet per
fan-out), each linked to its file with its sha256.  Without a run it writes the plan.

The page needs no network and runs no script.  Media are linked by paths relative to the
page, so it must stay where it was written (beside the state and outputs folders); with
``inline`` they are embedded as ``data:`` URIs, up to :data:`~.media.INLINE_MAX_BYTES`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runway_plan.catalog import Catalog
from runway_plan.compile import Graph
from runway_plan.diagnostics import Diagnostic, sort_diagnostics
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.errors import RunwayPlanError
from runway_plan.execute import Layout
from runway_plan.files import SymlinkInTheWay, make_folders, open_for_writing, sha256_file
from runway_plan.html_report.journal import RunTimes, read_run_times
from runway_plan.html_report.manifest import Manifest, ManifestError, find_manifest, read_manifest
from runway_plan.html_report.media import INLINE_MAX_BYTES
from runway_plan.html_report.page import GENERATOR, Sources, render_page
from runway_plan.plan import PlanOptions, plan
from runway_plan.plan.report import plan_to_dict

__all__ = [
    "INLINE_MAX_BYTES",
    "PAGE_NAME",
    "ManifestError",
    "ReportError",
    "Written",
    "find_manifest",
    "read_manifest",
    "render_page",
    "write_report",
]

PAGE_NAME = "report.html"
"""The page's name beside a run's manifest (or in the state folder, for a plan)."""


class ReportError(RunwayPlanError):
    """The report cannot be written as asked (the message says why and what to do)."""


@dataclass(frozen=True, slots=True)
class Written:
    """A report written: where, of which run (None: the plan), and what it noted."""

    path: Path
    run: int | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Reuse:
    """What the run did with a generation, in the form :func:`runway_plan.plan.plan` takes."""

    reusable: bool
    reason: str


def _sha256(path: Path) -> str | None:
    try:
        return sha256_file(path, follow_symlinks=True)
    except OSError:
        return None


def _plan_document(
    graph: Graph,
    catalog: Catalog,
    diagnostics: list[Diagnostic],
    manifest: Manifest | None,
    source: str,
) -> dict[str, Any]:
    """The plan of ``graph``; with a run, one that reuses what the run reused, so that its
    schedule holds the generations the run made."""
    reuse = None
    if manifest is not None:
        reuse = {
            g.key: _Reuse(g.outcome == "reused", g.reason or "")
            for g in manifest.generations
            if g.key in graph.generations
        }
    planned = plan(
        graph,
        catalog,
        PlanOptions(
            source=source,
            reuse=reuse,
            reuse_source=None if manifest is None else f"run {manifest.run}",
        ),
    )
    planned.diagnostics = sort_diagnostics([*diagnostics, *planned.diagnostics])
    return plan_to_dict(planned)


def _is_report(path: Path) -> bool:
    """True when ``path`` is a page this module wrote (its head names the generator)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}'.encode() in head


def _write(page: Path, text: str, base: Path) -> None:
    """Write ``page`` atomically, never through a symlink, replacing only an earlier report."""
    if os.path.islink(page):
        raise ReportError(str(SymlinkInTheWay(page)))
    if page.exists() and not _is_report(page):
        raise ReportError(
            f"{page} exists and is not a runway-plan report: choose another --output "
            "(nothing was written)"
        )
    try:
        make_folders(base, page.parent)
        scratch = page.with_name(f".{page.name}.{os.getpid()}.part")
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
        with open(open_for_writing(scratch, exclusive=True), "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(scratch, page)
    except SymlinkInTheWay as exc:
        raise ReportError(str(exc)) from None
    except OSError as exc:
        raise ReportError(f"cannot write {page}: {exc.strerror or exc}") from None


def write_report(
    layout: Layout,
    *,
    graph: Graph | None,
    catalog: Catalog,
    diagnostics: list[Diagnostic],
    run: int | None = None,
    output: Path | None = None,
    inline: bool = False,
    plan_only: bool = False,
) -> Written:
    """Write the report of ``layout.spec``'s run ``run`` (default: its latest run with a
    manifest), or of its plan when it has no run.

    ``graph`` is the spec compiled and validated now, with ``diagnostics``; None when it has
    errors (the report then shows the run without graph or schedule).  The page goes to
    ``output``, or beside the manifest (``<state>/runs/<id>/report.html``; for a plan
    ``<state>/report.html``); ``plan_only`` reports the plan whatever runs there are (a run
    refused before it started).  Raises :class:`ReportError`.
    """
    spec = layout.spec
    try:
        found = None
        if not plan_only:
            found = find_manifest(layout.state, spec, run=run, shared=not layout.default_state)
        manifest = None if found is None else read_manifest(found)
    except ManifestError as exc:
        raise ReportError(str(exc)) from None
    if run is not None and manifest is None and not plan_only:
        raise ReportError(f"{layout.state} has no manifest of run {run} of {spec.name}")
    if manifest is None and graph is None:
        raise ReportError(f"{spec} has errors and no run: there is nothing to report")
    notes: list[str] = []
    source = os.path.relpath(spec) if spec.is_relative_to(Path.cwd()) else str(spec)
    if manifest is not None:
        now = _sha256(spec)
        if graph is None:
            notes.append(f"{spec.name} has errors now: the graph and schedule are left out")
        elif now is not None and manifest.spec.sha256 and now != manifest.spec.sha256:
            notes.append(
                f"{spec.name} changed since run {manifest.run}: the graph and planned schedule "
                "are of the spec as it is now"
            )
    plan_doc = None
    if graph is not None:
        plan_doc = _plan_document(graph, catalog, diagnostics, manifest, source)
    times: RunTimes | None = None
    if manifest is not None:
        times, why = read_run_times(layout.state, manifest.run)
        if times is None:
            notes.append(f"no timeline: {why}")
    if output is not None:
        page = Path(output).absolute()
        base = page.parent
        if not base.is_dir():
            raise ReportError(f"{base} is not a folder: the report cannot be written there")
    else:
        folder = layout.state if found is None else found.parent
        page, base = folder.absolute() / PAGE_NAME, layout.state_base
    shown: list[dict[str, Any]] = []
    if graph is None:
        shown = json.loads(render_diagnostics(diagnostics, "json"))["diagnostics"]
    elif manifest is None and plan_doc is not None:
        shown = list(plan_doc.get("diagnostics", []))
    sources = Sources(
        spec=spec,
        page=page,
        state=layout.state.absolute(),
        manifest=manifest,
        manifest_path=found,
        plan=plan_doc,
        requests={} if graph is None else {k: g.request for k, g in graph.generations.items()},
        times=times,
        notes=notes,
        diagnostics=shown,
        inline=inline,
    )
    _write(page, render_page(sources), base)
    return Written(page, None if manifest is None else manifest.run, tuple(notes))
