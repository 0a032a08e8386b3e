"""``status``, ``cancel`` and ``migrate``: inspect a run, stop one, and move run state from the
shared layout of earlier versions.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from runway_plan.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    format_option,
    main,
)
from runway_plan.cli.options import base_url_option, emulate_option, state_option
from runway_plan.cli.state_folder import (
    UsageFailure,
    move_shared_layout,
    open_state,
    require_recorded,
    run_api_key,
    spec_runs,
)
from runway_plan.diagnostics.display import display, json_text
from runway_plan.execute import (
    DEFAULT_BASE_URL,
    RunwayClient,
    State,
    StepStatus,
    layout_of,
)
from runway_plan.execute.client import ExecuteError, TaskNotFound
from runway_plan.execute.layout import shared_layout
from runway_plan.execute.reuse import unreadable_as_such
from runway_plan.execute.state import RunRow, StateUnreadable, locked_by

__all__ = ["cancel_command", "migrate_command", "status_command"]

STOP_WAIT = 60.0
"""Seconds ``cancel`` waits for a running ``run`` to acknowledge that it stopped submitting
(a create being sent may take this long to answer)."""


def _lock_free(directory: Path) -> bool:
    return locked_by(directory) is None


@main.command("status")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@state_option()
@emulate_option("Show the runs made with --emulate.")
@click.option("--run", "run_id", type=int, help="Show this run [default: the latest].")
@format_option(("text", "json"))
def status_command(
    spec: Path, state_dir: Path | None, emulate: bool, run_id: int | None, fmt: str
) -> None:
    """Show a run of SPEC: each generation's outcome, task, attempts and credits."""
    where = layout_of(spec, state=state_dir, emulate=emulate)
    require_recorded(where)
    directory = where.state
    alive = not _lock_free(directory)
    state = open_state(where, read_only=True)
    try:
        with unreadable_as_such(directory):
            runs = spec_runs(state, where)
            chosen = next((r for r in runs if run_id is None or r.id == run_id), None)
            if chosen is None:
                which = f"run {run_id}" if run_id is not None else "run"
                raise UsageFailure(f"no {which} of {spec} in {directory}")
            rows = state.run_steps(chosen.id)
            status = chosen.status
            if status == "running" and not (alive and chosen.id == runs[0].id):
                status = "stopped (the process ended without finishing; run again to resume)"
            items: list[dict[str, Any]] = []
            for row in rows:
                step = state.step_by_id(row.step_id) if row.step_id is not None else None
                items.append(
                    {
                        "key": row.key,
                        "outcome": row.outcome.value,
                        "state": step.status.value if step else "not sent",
                        "taskId": step.task_id if step else None,
                        "attempts": step.attempts if step else 0,
                        "failureCode": step.failure_code if step else None,
                        "planned": None if row.planned_high is None else str(row.planned_high),
                        "billed": None
                        if step is None or step.billed_credits is None
                        else str(step.billed_credits),
                        "message": row.message,
                        "outputs": row.paths,
                    }
                )
            resources = [
                {
                    "kind": r.kind,
                    "key": r.key,
                    "name": r.name,
                    "state": r.status.value,
                    "remoteId": r.remote_id,
                    "remoteStatus": r.remote_status,
                    "failure": r.failure,
                }
                for r in state.resources(chosen.spec_name, chosen.origin)
            ]
            if fmt == "json":
                data = {
                    "run": chosen.id,
                    "status": status,
                    "spec": chosen.spec_path,
                    "api": chosen.origin,
                    "startedAt": chosen.started_at,
                    "finishedAt": chosen.finished_at,
                    "generations": items,
                    "resources": resources,
                }
                click.echo(json_text(data))
                return
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(chosen.started_at))
            click.echo(
                f"run {chosen.id} of {display(chosen.spec_name)} "
                f"({display(chosen.spec_path)}), {started}"
            )
            click.echo(f"api {display(chosen.origin)} · {status}")
            shown = [
                {k: display(str(v)) if isinstance(v, str) else v for k, v in item.items()}
                for item in items
            ]
            widths = (
                max([3, *(len(i["key"]) for i in shown)]),
                max([7, *(len(i["outcome"]) for i in shown)]),
                max([5, *(len(i["state"]) for i in shown)]),
            )
            click.echo(
                f"{'key':<{widths[0]}}  {'outcome':<{widths[1]}}  {'state':<{widths[2]}}  "
                f"{'att':>3}  {'billed':>8}  task"
            )
            for item in shown:
                click.echo(
                    f"{item['key']:<{widths[0]}}  {item['outcome']:<{widths[1]}}  "
                    f"{item['state']:<{widths[2]}}  {item['attempts']:>3}  "
                    f"{item['billed'] or '-':>8}  {item['taskId'] or '-'}"
                    + (f"  {item['message']}" if item["message"] else "")
                )
            counts: dict[str, int] = {}
            for item in items:
                counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
            click.echo(", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
            if resources:
                click.echo("resources (as recorded; `plan --live` compares them with the API):")
                for res in resources:
                    res = {k: display(v) if isinstance(v, str) else v for k, v in res.items()}
                    extra = f" {res['remoteStatus']}" if res["remoteStatus"] else ""
                    extra += f": {res['failure']}" if res["failure"] else ""
                    click.echo(
                        f"  {res['kind']:<8}  {res['key']}  {res['state']}  "
                        f"{res['remoteId'] or '-'}{extra}"
                    )
    except StateUnreadable as exc:
        raise UsageFailure(f"RP517 {exc}") from None
    finally:
        state.close()
    sys.exit(EXIT_OK)


@main.command("cancel")
@click.argument("spec", type=click.Path(path_type=Path, dir_okay=False))
@state_option()
@base_url_option()
def cancel_command(spec: Path, state_dir: Path | None, base_url: str | None) -> None:
    """Stop SPEC's run: it submits nothing more, and its tasks in flight are cancelled
    (DELETE /v1/tasks/{id}); the run then ends, and a later run makes what is left."""
    where = layout_of(spec, state=state_dir)
    require_recorded(where)
    api_key = run_api_key()
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    alive = not _lock_free(where.state)
    state = open_state(where, lock=False)
    try:
        runs = spec_runs(state, where)
        if alive and runs and runs[0].status == "running":
            _stop_run(state, runs[0], where.state)
        mine = [r.id for r in runs]
        flying = state.steps_with_status(StepStatus.RUNNING, runs=mine)
        unsure = state.steps_with_status(StepStatus.SUBMITTING, StepStatus.UNKNOWN, runs=mine)
        problems = asyncio.run(_cancel(state, flying, api_key, base, record=not alive))
    finally:
        state.close()
    for row in unsure:
        click.echo(
            f"{display(row.key)}: a create may have been sent, but no task id is known", err=True
        )
    click.echo(f"{len(flying)} task(s) were in flight")
    for problem in problems:
        click.echo(display(problem), err=True)
    sys.exit(EXIT_FAILED if problems else EXIT_OK)


def _stop_run(state: State, run: RunRow, directory: Path) -> None:
    """Ask the running ``run`` to submit nothing more, and wait until it says so (its
    creates in flight are then recorded, so every task to cancel is in the journal)."""
    state.request_stop(run.id)
    click.echo(f"run {run.id} (pid {run.pid}) was asked to submit nothing more")
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        if state.stop_acknowledged(run.id):
            click.echo(f"run {run.id} submits nothing more")
            return
        if _lock_free(directory):
            return  # the run ended meanwhile
        time.sleep(0.1)
    click.echo(
        f"run {run.id} did not answer within {STOP_WAIT:.0f} s; cancelling the tasks it has "
        "recorded (it will submit nothing more once it sees the request)",
        err=True,
    )


@main.command("migrate")
@click.argument(
    "folder", type=click.Path(path_type=Path, file_okay=False, exists=True), default="."
)
def migrate_command(folder: Path) -> None:
    """Give each spec in FOLDER its own run state and outputs folder.

    Earlier versions kept the runs of every spec of a folder in one shared .runway-plan/;
    this splits it (journal, stored outputs, run folders) into .runway-plan/<spec>/ and keeps
    the old files in .runway-plan/old-layout/. Outputs already under outputs/ stay where they
    are; nothing is generated again. `run` does this by itself when it finds the old layout.
    """
    root = folder.resolve()
    if not shared_layout(root):
        click.echo(f"{root}: nothing to migrate (no shared state of an earlier version)")
        sys.exit(EXIT_OK)
    move_shared_layout(root)
    sys.exit(EXIT_OK)


async def _cancel(
    state: State, rows: list[Any], api_key: str, base: str, *, record: bool
) -> list[str]:
    problems: list[str] = []
    async with httpx.AsyncClient() as http:
        client = RunwayClient(http, api_key=api_key, base_url=base)
        for row in rows:
            attempt = state.current_attempt(row.id)
            if attempt is None or attempt.task_id is None:
                continue
            try:
                task = await client.task(attempt.task_id)
                if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    # Deleting a finished task would delete its outputs: the next run collects it.
                    status = display(str(task["status"]))
                    click.echo(
                        f"{display(row.key)}: task {display(attempt.task_id)} already {status}"
                    )
                    continue
                await client.cancel(attempt.task_id)
            except TaskNotFound:
                pass
            except ExecuteError as exc:
                problems.append(f"{row.key}: {exc}")
                continue
            if record:
                state.mark_task_failed(
                    row.id,
                    attempt.number,
                    status="CANCELLED",
                    failure_code=None,
                    failure="cancelled with runway-plan cancel",
                    billed=None,
                    final=True,
                )
            click.echo(f"{display(row.key)}: task {display(attempt.task_id)} cancelled")
    return problems
