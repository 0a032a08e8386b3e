"""``python -m runway_plan.ci STEP``: the steps of the pre-commit hooks and the GitHub Action.

Steps of the action share a work folder (``--work``, default ``.runway-plan-ci``) where each
records what it found in ``outcome.json``; they exit 0 when the tool ran, so the SARIF upload
and the PR comment happen even when a spec is broken or over budget, and ``gate`` exits 1 at
the end when a step found errors.  The ``budget`` hook exits 1 itself.
"""

from __future__ import annotations

import glob
import html
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from runway_plan.ci.github import CommentError, pull_request_from_env, upsert_comment
from runway_plan.diagnostics.display import display
from runway_plan.plan.report import markdown_code

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
OUTCOME = "outcome.json"
COMMENT = "comment.md"
DEFAULT_MARKER = "runway-plan-report"


def _tool(*args: str) -> list[str]:
    """The ``runway-plan`` command line of this very installation."""
    return [sys.executable, "-m", "runway_plan", *args]


def _run(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, **kwargs)


def _expand(patterns: Sequence[str]) -> list[str]:
    """Spec files named by glob ``patterns`` (each may hold several, one a line or space
    separated; ``**`` crosses folders), in order, without repeats; a usage error when none."""
    found: dict[str, None] = {}
    words = [w for pattern in patterns for w in shlex.split(pattern)]
    for word in words:
        for match in sorted(glob.glob(word, recursive=True)):
            if os.path.isfile(match):
                found[os.path.normpath(match)] = None
    if not found:
        shown = ", ".join(display(w) for w in words) or "(none given)"
        raise click.UsageError(f"no spec file matches {shown}")
    return list(found)


def _work(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _outcome(work: Path) -> dict[str, Any]:
    try:
        data = json.loads((work / OUTCOME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record(work: Path, step: str, failed: list[str]) -> None:
    data = _outcome(work)
    data[step] = failed
    (work / OUTCOME).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _echo_output(result: subprocess.CompletedProcess[str]) -> None:
    if result.stdout:
        click.echo(result.stdout, nl=False)
    if result.stderr:
        click.echo(result.stderr, nl=False, err=True)


_BUDGET_ANNOTATION = re.compile(r"^::\w+ [^:]*title=RP4\d\d ")


def _echo_budget_annotations(result: subprocess.CompletedProcess[str]) -> None:
    """The plan's budget and tier annotations (RP4xx): the validate step has shown the
    others already."""
    for line in result.stdout.splitlines():
        if _BUDGET_ANNOTATION.match(line):
            click.echo(line)


def _failed(code: int) -> bool:
    if code >= EXIT_USAGE:
        click.echo(f"runway-plan stopped with exit code {code}", err=True)
    return code != EXIT_OK


work_option = click.option(
    "--work",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".runway-plan-ci"),
    show_default=True,
    envvar="RUNWAY_PLAN_CI_WORK",
    help="The folder the steps share (outcomes, SARIF, the comment).",
)
specs_option = click.option(
    "--specs",
    "patterns",
    multiple=True,
    required=True,
    help="Spec files as glob patterns (repeatable; space or newline separated; ** recurses).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The steps of runway-plan's pre-commit hooks and GitHub Action."""


@main.command()
@click.argument("specs", nargs=-1, type=click.Path(path_type=str, dir_okay=False))
@click.option("--max-credits", metavar="N", help="A budget for each spec besides its own.")
@click.option("--tier", metavar="N", help="Plan for this tier.")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE")
@click.option("--select", multiple=True, metavar="CODES")
@click.option("--ignore", multiple=True, metavar="CODES")
@click.option("--warnings-as-errors", is_flag=True)
def budget(
    specs: tuple[str, ...],
    max_credits: str | None,
    tier: str | None,
    variables: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    warnings_as_errors: bool,
) -> None:
    """Plan each of SPECS and fail when one is over a budget (the pre-commit hook).

    Each spec is held to its own `budget` and to --max-credits; the plan of a spec that
    fails is shown, the others' are not.
    """
    options: list[str] = []
    if max_credits is not None:
        options += ["--max-credits", max_credits]
    if tier is not None:
        options += ["--tier", tier]
    for flag, values in (("--var", variables), ("--select", select), ("--ignore", ignore)):
        for value in values:
            options += [flag, value]
    if warnings_as_errors:
        options.append("--warnings-as-errors")
    failed = 0
    for spec in specs:
        result = _run(_tool("plan", spec, "--format", "table", *options))
        if result.returncode != EXIT_OK:
            failed += 1
            _echo_output(result)
            click.echo(f"{display(spec)}: over budget or not plannable", err=True)
    if failed:
        sys.exit(EXIT_FAILED)


@main.command()
@specs_option
@work_option
@click.option("--sarif", "sarif_name", default="runway-plan.sarif", show_default=True)
@click.option("--annotations/--no-annotations", default=True, show_default=True)
@click.option("--args", "extra", default="", help="More options for `runway-plan validate`.")
def validate(
    patterns: tuple[str, ...], work: Path, sarif_name: str, annotations: bool, extra: str
) -> None:
    """Validate the specs: a SARIF log in the work folder, and GitHub annotations."""
    specs = _expand(patterns)
    work = _work(work)
    options = shlex.split(extra)
    sarif = _run(_tool("validate", "--format", "sarif", *options, *specs))
    (work / sarif_name).write_text(sarif.stdout, encoding="utf-8")
    if sarif.stderr:
        click.echo(sarif.stderr, nl=False, err=True)
    if annotations:
        _echo_output(_run(_tool("validate", "--format", "github", *options, *specs)))
    _record(work, "validate", specs if _failed(sarif.returncode) else [])
    click.echo(f"validate: {len(specs)} spec(s), SARIF in {display(str(work / sarif_name))}")


def _base_commit(base_ref: str) -> str | None:
    """The commit to compare with: where HEAD forked from ``base_ref`` (``origin/REF`` first,
    as a pull request's checkout has it), or None when git knows neither."""
    for ref in (f"origin/{base_ref}", base_ref):
        if ref.startswith("-"):
            continue
        found = _run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options", ref])
        if found.returncode == 0:
            fork = _run(["git", "merge-base", found.stdout.strip(), "HEAD"])
            return (fork.stdout if fork.returncode == 0 else found.stdout).strip()
    return None


def _at_base(commit: str, spec: str) -> str | None:
    """``COMMIT:path`` of ``spec`` (relative to the repository's top), if it existed then."""
    top = _run(["git", "rev-parse", "--show-toplevel"])
    if top.returncode != 0:
        return None
    inside = os.path.relpath(os.path.abspath(spec), top.stdout.strip()).replace(os.sep, "/")
    exists = _run(["git", "cat-file", "-e", f"{commit}:{inside}"])
    return f"{commit}:{inside}" if exists.returncode == 0 else None


def _validation_line(work: Path) -> str:
    try:
        log = json.loads(next(work.glob("*.sarif")).read_text(encoding="utf-8"))
        results = log["runs"][0]["results"]
    except (StopIteration, OSError, ValueError, KeyError, IndexError, TypeError):
        return ""
    counts = {"error": 0, "warning": 0, "note": 0}
    for result in results:
        level = str(result.get("level", "warning"))
        counts[level] = counts.get(level, 0) + 1
    mark = "❌" if counts["error"] else "✅"
    return (
        f"{mark} **validate**: {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['note']} note(s)"
    )


def _for_diff(options: list[str]) -> list[str]:
    """The options of ``plan`` in ``options`` that ``diff`` takes too (``--tier``, ``--var``,
    ``--max-credits``, ``--ignore``...), with their values; ``plan``'s own (``--deadline``,
    ``--gantt``) are left out."""
    from runway_plan.cli.plan import diff_command, plan_command

    def names(command: click.Command) -> dict[str, bool]:
        return {
            name: not option.is_flag
            for option in command.params
            if isinstance(option, click.Option)
            for name in (*option.opts, *option.secondary_opts)
        }

    takes_value, known = names(plan_command), names(diff_command)
    kept: list[str] = []
    index = 0
    while index < len(options):
        token = options[index]
        name = token.split("=", 1)[0]
        width = 2 if takes_value.get(name, False) and "=" not in token else 1
        if name in known:
            kept += options[index : index + width]
        index += width
    return kept


def _markdown(result: subprocess.CompletedProcess[str]) -> str:
    """A command's Markdown report, or, when it printed none (a spec with errors), what it
    said as code spans: text diagnostics hold a spec's text, which must not become Markdown."""
    if result.stdout.startswith("### "):
        return result.stdout.strip()
    said = (result.stdout + result.stderr).strip().splitlines()
    return "\n".join(f"- {markdown_code(line)}" for line in said) or "- (no output)"


@main.command()
@specs_option
@work_option
@click.option("--base-ref", default="", help="Compare each spec's cost with this branch's.")
@click.option("--max-credits", metavar="N", help="A budget for each spec besides its own.")
@click.option("--args", "extra", default="", help="More options for `runway-plan plan`.")
@click.option("--annotations/--no-annotations", default=True, show_default=True)
def report(
    patterns: tuple[str, ...],
    work: Path,
    base_ref: str,
    max_credits: str | None,
    extra: str,
    annotations: bool,
) -> None:
    """Plan each spec (Markdown), diff its cost against the base branch, and write the PR
    comment's text to the work folder; budget errors become annotations."""
    specs = _expand(patterns)
    work = _work(work)
    options = shlex.split(extra) + (["--max-credits", max_credits] if max_credits else [])
    base = _base_commit(base_ref) if base_ref else None
    sections = ["## runway-plan", ""]
    if line := _validation_line(work):
        sections += [line, ""]
    if base_ref and base is None:
        sections += [f"> cost diff skipped: git knows no branch {markdown_code(base_ref)}", ""]
    failed: list[str] = []
    for spec in specs:
        plan = _run(_tool("plan", spec, "--format", "markdown", *options))
        if _failed(plan.returncode):
            failed.append(spec)
            if annotations:
                _echo_budget_annotations(_run(_tool("plan", spec, "--format", "github", *options)))
        old = _at_base(base, spec) if base else None
        if old is not None:
            diff = _run(_tool("diff", old, spec, "--format", "markdown", *_for_diff(options)))
            sections += [_markdown(diff), ""]
        elif base is not None:
            sections += [f"### 🆕 {markdown_code(spec)} is new on this branch", ""]
        body = _markdown(plan)
        mark = "❌" if plan.returncode else "✅"
        name = html.escape(display(spec))
        sections += [
            f"<details><summary>{mark} Plan of <code>{name}</code></summary>",
            "",
            body,
            "",
            "</details>",
            "",
        ]
    (work / COMMENT).write_text("\n".join(sections), encoding="utf-8")
    _record(work, "plan", failed)
    click.echo(f"report: {len(specs)} spec(s), {len(failed)} failing; {work / COMMENT}")


@main.command()
@specs_option
@work_option
@click.option("--speed", default="1000", show_default=True, help="Emulated time compression.")
def emulate(patterns: tuple[str, ...], work: Path, speed: str) -> None:
    """Run each spec on the built-in emulator (no key, no credits): what a real run would
    refuse or fail, found before it costs anything."""
    specs = _expand(patterns)
    work = _work(work)
    failed: list[str] = []
    for index, spec in enumerate(specs):
        where = work / "emulated" / str(index)
        result = _run(
            _tool(
                "run", spec, "--emulate", "--yes", "--speed", speed,
                "--state", str(where / "state"), "--outputs", str(where / "outputs"),
            )
        )  # fmt: skip
        _echo_output(result)
        if _failed(result.returncode):
            failed.append(spec)
    _record(work, "emulate", failed)


@main.command()
@work_option
@click.option("--marker", default=DEFAULT_MARKER, show_default=True)
@click.option("--token-env", default="GITHUB_TOKEN", show_default=True)
def comment(work: Path, marker: str, token_env: str) -> None:
    """Post the report as the pull request's runway-plan comment, or update it in place."""
    pull = pull_request_from_env()
    if pull is None:
        click.echo("comment: not a pull request run; nothing posted")
        return
    token = os.environ.get(token_env, "").strip()
    if not token:
        click.echo(f"::warning title=runway-plan::no token in {token_env}; no comment posted")
        return
    try:
        text = (work / COMMENT).read_text(encoding="utf-8")
    except OSError:
        raise click.UsageError(f"no report in {work}: run the report step first") from None
    try:
        action, number = upsert_comment(pull, text, token=token, marker=marker)
    except CommentError as exc:
        message = str(exc).replace(token, "[redacted]")
        # A fork's pull request gets a read-only token: say so, and do not fail the job.
        click.echo(f"::warning title=runway-plan::cannot comment: {message}")
        return
    click.echo(f"comment: {action} comment {number} on {pull.repository}#{pull.number}")


@main.command()
@work_option
def gate(work: Path) -> None:
    """Exit 1 when an earlier step found errors: invalid specs, a budget exceeded, a failed
    emulated run."""
    outcome = _outcome(work)
    problems = [(step, spec) for step, specs in outcome.items() for spec in specs]
    for step, spec in problems:
        shown = display(str(spec)).replace("%", "%25")
        click.echo(f"::error title=runway-plan {step}::{shown}: failed {step}")
    if problems:
        sys.exit(EXIT_FAILED)
    click.echo(f"gate: {', '.join(outcome) or 'no step'} passed")


if __name__ == "__main__":
    main(prog_name="python -m runway_plan.ci")
