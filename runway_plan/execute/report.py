"""The end of a run: reconciliation of planned against billed credits, and the run manifest.

The manifest (``<state>/runs/<id>/manifest.json``, written atomically) is the run's
provenance: the spec's hash, the catalog's version, and for every generation its fingerprint,
outcome, every request as sent (data URIs and URL signatures abbreviated, never a key), the
task id and cost of each attempt, and the hash and place of each output; for every document
and avatar what the run did (created, adopted, updated and which fields, unchanged, deleted,
left in place, failed), its remote id and status, and the run's resource journal events.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from runway_plan.compile import Graph
from runway_plan.diagnostics.display import display, display_lines, json_text
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.execute.state import Outcome, State
from runway_plan.files import make_folders, open_for_writing
from runway_plan.plan.cost import format_credits

if TYPE_CHECKING:
    from runway_plan.execute.runner import GenerationResult, RunResult

__all__ = [
    "StepLine",
    "manifest",
    "render_run_text",
    "resource_lines",
    "step_lines",
    "write_manifest",
]

MANIFEST_VERSION = 1


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _attempts(state: State, result: GenerationResult) -> list[dict[str, Any]]:
    if result.step_id is None:
        return []
    found = []
    for attempt in state.attempts(result.step_id):
        try:
            request = json.loads(attempt.request)
        except ValueError:
            request = attempt.request
        found.append(
            {
                "number": attempt.number,
                "run": attempt.run_id,
                "status": attempt.status,
                "taskId": attempt.task_id,
                "failureCode": attempt.failure_code,
                "failure": attempt.failure,
                "estimatedCredits": _money(attempt.estimated_credits),
                "billedCredits": _money(attempt.billed_credits),
                "requestSha256": attempt.request_sha256,
                "request": request,
                "sentAt": _iso(attempt.submitting_at),
            }
        )
    return found


def manifest(result: RunResult, state: State, graph: Graph) -> dict[str, Any]:
    """The manifest of ``result`` as JSON-ready data."""
    generations = []
    for key, item in result.generations.items():
        gen = graph.generations[key]
        generations.append(
            {
                "key": key,
                "step": item.step,
                "index": item.index,
                "endpoint": gen.endpoint,
                "model": gen.model,
                "outcome": item.outcome.value,
                "reason": item.reason,
                "message": item.message,
                "fingerprint": item.fingerprint,
                "planned": None
                if item.planned is None
                else {"low": _money(item.planned[0]), "high": _money(item.planned[1])},
                "billedCredits": _money(item.billed),
                "billedThisRun": _money(item.billed_this_run),
                "attempts": _attempts(state, item),
                "outputs": [
                    {
                        "index": out.index,
                        "ref": f"@{item.step}[{out.number}]",
                        "sha256": out.sha256,
                        "size": out.size,
                        "mime": out.mime,
                        "path": out.path,
                    }
                    for out in item.outputs
                ],
            }
        )
    planned = result.plan
    return {
        "version": MANIFEST_VERSION,
        "run": result.run_id,
        "status": result.status,
        "startedAt": _iso(result.started_at),
        "finishedAt": _iso(result.finished_at),
        "spec": {
            "path": result.spec_path,
            "name": planned.name if planned is not None else "",
            "sha256": result.spec_sha256,
        },
        "catalog": {"version": result.catalog_version, "digest": result.catalog_digest},
        "api": result.origin,
        "planned": None
        if planned is None
        else {"low": _money(planned.total_low), "high": _money(planned.total_high)},
        "billedThisRun": _money(result.billed_this_run),
        "requests": result.requests,
        "throttled": result.throttled,
        "generations": generations,
        "resources": [
            {
                "kind": r.kind,
                "key": r.key,
                "name": r.name,
                "action": r.action,
                "remoteId": r.remote_id,
                "status": r.status,
                "fields": r.fields,
                "message": r.message,
            }
            for r in result.resources
        ],
        "resourceEvents": []
        if result.run_id is None
        else [
            {
                "kind": e.kind,
                "key": e.key,
                "action": e.action,
                "outcome": e.outcome,
                "remoteId": e.remote_id,
                "detail": e.detail,
                "at": _iso(e.at),
            }
            for e in state.resource_events(result.run_id)
        ],
        "diagnostics": json.loads(render_diagnostics(result.diagnostics, "json"))["diagnostics"],
    }


def write_manifest(result: RunResult, state: State, graph: Graph) -> None:
    """Write ``result.manifest`` atomically (nothing when the run never started).

    Compact JSON (``jq .`` or ``python -m json.tool`` shows it indented), so a
    10,000-generation manifest is written by the C encoder in a blink.
    """
    if result.manifest is None:
        return
    make_folders(state.directory, result.manifest.parent)
    temporary = result.manifest.with_suffix(".json.part")
    text = json_text(manifest(result, state, graph), indent=None, separators=(",", ":"))
    with open(open_for_writing(temporary), "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, result.manifest)


@dataclass(frozen=True, slots=True)
class StepLine:
    """One step of the reconciliation: its generations' outcomes and credits."""

    step: str
    model: str
    outcomes: dict[str, int]
    planned_low: Decimal
    planned_high: Decimal
    unpriced: int
    billed: Decimal
    billed_this_run: Decimal
    reused: int


def step_lines(result: RunResult, graph: Graph) -> list[StepLine]:
    """Planned against billed credits per step, in spec order.

    ``billed`` is what the API reported as ``cost`` on the terminal tasks of the step's work
    (every attempt, in any run); reused generations count their original cost.
    """
    lines: list[StepLine] = []
    for name, node in graph.steps.items():
        items = [result.generations[key] for key in node.generations if key in result.generations]
        outcomes: dict[str, int] = {}
        low = high = billed = this_run = Decimal(0)
        unpriced = reused = 0
        for item in items:
            outcomes[item.outcome.value] = outcomes.get(item.outcome.value, 0) + 1
            if item.planned is None:
                unpriced += 1
            else:
                low += item.planned[0]
                high += item.planned[1]
            billed += item.billed or Decimal(0)
            this_run += item.billed_this_run
            reused += item.outcome is Outcome.REUSED
        lines.append(
            StepLine(
                name,
                node.step.model,
                outcomes,
                low,
                high,
                unpriced,
                billed,
                this_run,
                reused,
            )
        )
    return lines


_RESOURCE_WRITES = ("resource_create", "resource_update", "resource_delete")


def resource_lines(result: RunResult) -> list[str]:
    """What the run did with each document and avatar (empty when the spec has none)."""
    if not result.resources:
        return []
    kind_w = max(len(display(r.kind)) for r in result.resources)
    key_w = max(len(display(r.key)) for r in result.resources)
    act_w = max(len(r.action) for r in result.resources)
    lines = ["resources:"]
    for r in result.resources:
        parts = [f"  {display(r.kind):<{kind_w}}  {display(r.key):<{key_w}}  {r.action:<{act_w}}"]
        if r.remote_id:
            parts.append(display(r.remote_id))
        if r.fields and r.action == "updated":
            parts.append(f"({', '.join(map(display, r.fields))})")
        if r.status:
            parts.append(display(r.status))
        if r.message:
            parts.append(f"- {display(r.message)}")
        lines.append("  ".join(parts).rstrip())
    counts: dict[str, int] = {}
    for r in result.resources:
        counts[r.action] = counts.get(r.action, 0) + 1
    lines.append("resources: " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())))
    return lines


def _range(low: Decimal, high: Decimal, unpriced: int) -> str:
    text = format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"
    return f"{text} + {unpriced} unpriced" if unpriced else text


def render_run_text(result: RunResult, graph: Graph, *, drift: Sequence[str] = ()) -> str:
    """The end-of-run report: one line per step, totals, the ``drift`` of billed prices from
    the catalog (:func:`runway_plan.execute.learn.drift`), then the diagnostics (the text of
    the spec and of the API shown through :func:`~runway_plan.diagnostics.display.display`)."""
    if result.status == "refused":
        text = render_diagnostics(result.diagnostics, "text")
        return f"{text}run refused: nothing was submitted\n"
    lines = step_lines(result, graph)
    headers = ("step", "model", "outcome", "planned", "billed", "this run")
    rows = [
        (
            display(line.step),
            display(line.model),
            ", ".join(f"{count} {name}" for name, count in sorted(line.outcomes.items())),
            _range(line.planned_low, line.planned_high, line.unpriced),
            format_credits(line.billed),
            format_credits(line.billed_this_run),
        )
        for line in lines
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    right = {3, 4, 5}

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [fmt(headers), fmt(tuple("-" * w for w in widths))]
    out += [fmt(row) for row in rows]
    total_low = sum((line.planned_low for line in lines), Decimal(0))
    total_high = sum((line.planned_high for line in lines), Decimal(0))
    unpriced = sum(line.unpriced for line in lines)
    billed = sum((line.billed for line in lines), Decimal(0))
    out.append(
        fmt(
            (
                "TOTAL",
                "",
                "",
                _range(total_low, total_high, unpriced),
                format_credits(billed),
                format_credits(result.billed_this_run),
            )
        )
    )
    counts: dict[str, int] = {}
    for item in result.generations.values():
        counts[item.outcome.value] = counts.get(item.outcome.value, 0) + 1
    summary = ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
    saved_low = saved_high = Decimal(0)
    for item in result.generations.values():
        if item.outcome is Outcome.REUSED and item.planned is not None:
            saved_low += item.planned[0]
            saved_high += item.planned[1]
    out.append("")
    run = f"run {result.run_id}" if result.run_id is not None else "run"
    out.append(f"{run} {result.status}: {summary or 'nothing to do'}")
    if saved_high:
        out.append(f"reused from state: {_range(saved_low, saved_high, 0)} credits saved")
    out += resource_lines(result)
    requests = sum(result.requests.values())
    creates = result.requests.get("create", 0)
    writes = sum(result.requests.get(k, 0) for k in _RESOURCE_WRITES)
    out.append(
        f"{requests} HTTP request(s), {creates} create(s)"
        + (f", {writes} resource write(s)" if writes else "")
        + f"; {result.throttled} task(s) seen THROTTLED"
    )
    if drift:
        out.append("drift from the catalog's prices (`runway-plan prices learn` records them):")
        out += [f"  {display(line)}" for line in drift]
    if result.manifest is not None:
        out.append(f"manifest: {display(str(result.manifest))}")
    if result.diagnostics:
        out.append("")
        out.append(render_diagnostics(result.diagnostics, "text").rstrip("\n"))
    return display_lines("\n".join(out)) + "\n"
