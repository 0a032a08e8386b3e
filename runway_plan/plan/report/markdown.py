"""The plan as Markdown for a pull-request comment; a spec's text always in code spans."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence

from runway_plan.diagnostics import Diagnostic
from runway_plan.diagnostics.display import display, display_lines
from runway_plan.plan.model import Plan, format_duration
from runway_plan.plan.report.figures import (
    RESOURCE_MARKS,
    action_text,
    confidence_legend,
    credits_text,
    field_text,
    marked,
    reason_lines,
    reuse_groups,
    step_row,
    summary_lines,
    total_text,
    usd_text,
)
from runway_plan.plan.resources import ResourcePlan

__all__ = [
    "markdown_code",
    "markdown_pieces",
    "md_code",
    "md_table",
    "md_text",
    "render_markdown",
]


_BACKTICKS = re.compile(r"`+")
_MD_ACTIVE = re.compile(r"([\\`*_\[\]<>!|~&#@])")


def md_code(text: str, *, cell: bool = False) -> str:
    """``text`` from a spec as a Markdown code span: shown as it is, never read as Markdown or
    HTML, a mention, an issue reference or a link.

    The fence is one backtick longer than the longest run of backticks in the text, which is
    padded with a space when it starts or ends with a backtick or a space (CommonMark strips
    one from each side, unless the text is only spaces).  In a table ``cell`` a ``|`` is
    written ``\\|``, which GitHub's tables read as part of the cell, code spans included.
    """
    shown = display(text)
    if not shown:
        return ""
    if cell:
        shown = shown.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(shown)), default=0) + 1)
    if shown.strip(" ") and (shown[0] in "` " or shown[-1] in "` "):
        shown = f" {shown} "
    return f"{fence}{shown}{fence}"


def markdown_code(text: str) -> str:
    """``text`` from a spec (a name, a path) as a Markdown code span that shows it as it is,
    never as Markdown, HTML, a mention or a link (as the plan's Markdown shows a spec's text)."""
    return md_code(text)


def md_text(text: str) -> str:
    """``text`` as Markdown prose: every character that could start emphasis, a link, an
    image, HTML, a code span or a table cell is backslash-escaped.  For runway-plan's own
    sentences; a spec's text goes in :func:`md_code`."""
    return _MD_ACTIVE.sub(r"\\\1", display(text))


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> list[str]:
    """A Markdown table of cells that are Markdown already (each made by :func:`md_code`
    with ``cell=True``, :func:`md_text`, or runway-plan's own emphasis)."""
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md_diagnostics(diagnostics: Sequence[Diagnostic]) -> list[str]:
    out = []
    for d in diagnostics:
        where = f"{md_code(str(d.span))} " if d.span else ""
        out.append(f"- {where}**{d.code}** ({d.severity.value}) {md_code(d.message)}")
        if d.hint:
            out.append(f"  - hint: {md_code(d.hint)}")
    return out


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown for a pull-request comment."""
    return "".join(markdown_pieces(plan))


def markdown_pieces(plan: Plan, batch: int = 1000) -> Iterator[str]:
    """The text of :func:`render_markdown` in pieces of about ``batch`` lines
    (:func:`display_lines` works line by line, so each piece is escaped alone)."""
    lines = iter(_markdown_lines(plan))
    while piece := list(itertools.islice(lines, batch)):
        yield display_lines("\n".join(piece)) + "\n"


def _markdown_lines(plan: Plan) -> list[str]:
    errors = any(d.is_error for d in plan.diagnostics)
    badge = "❌" if errors else ("⚠️" if plan.unknown else "✅")
    out = [f"### {badge} runway-plan: {md_code(plan.name)}", ""]
    out.append(
        f"**{md_text(total_text(plan))}** · makespan "
        f"**{format_duration(plan.schedule.makespan)}** · {md_text(plan.limits)}"
    )
    out.append("")
    rows = (
        (
            md_code(r[0], cell=True),
            md_code(r[1], cell=True),
            *(md_text(cell) for cell in r[2:7]),
            f"{r[7]}–{r[8]}" if r[7] else "",
            *r[9:],
        )
        for r in (step_row(plan, step) for step in plan.steps)
    )
    total: tuple[str, ...] = (
        "**Total**",
        "",
        "",
        f"**{len(plan.generations)}**",
        "",
        "**"
        + marked(
            credits_text(plan.total_low, plan.total_high, plan.unknown),
            plan.confidence,
            plan.unknown < len(plan.generations),
        )
        + "**",
        f"**{usd_text(plan, plan.total_low, plan.total_high, plan.unknown)}**",
        f"**{format_duration(plan.schedule.makespan)}**",
    )
    headers: tuple[str, ...] = ("Step", "Model", "Endpoint", "Gens", "Units", "Credits", "USD")
    headers += ("When",)
    if plan.has_reuse:
        total += (f"**{plan.reused}/{len(plan.generations)}**",)
        headers += ("Reused",)
    out += md_table(headers, itertools.chain(rows, [total]), {3, 5, 6, 8})
    out.append("")
    out += [f"{md_text(line)}" for line in confidence_legend(plan)]
    if confidence_legend(plan):
        out.append("")
    reasons = reason_lines(plan)
    if reasons:
        out += ["<details><summary>Ranges and unknowns</summary>", ""]
        out += [f"- {md_code(step.name)}: {md_code(reason)}" for step, reason in reasons]
        out += ["", "</details>", ""]
    if plan.has_reuse:
        regenerated = reuse_groups(plan)
        out += [
            f"<details><summary>Generated again ({len(plan.generations) - plan.reused} of "
            f"{len(plan.generations)})</summary>",
            "",
        ]
        out += [f"- {md_code(label)}: {md_code(reason)}" for label, reason in regenerated] or [
            "- nothing: every generation is reused"
        ]
        out += ["", "</details>", ""]
    if plan.resources is not None:
        out += _md_resources(plan.resources)
    out += [f"- {md_text(line)}" for line in summary_lines(plan)[1:]]
    if plan.diagnostics:
        out += ["", "**Diagnostics**", "", *_md_diagnostics(plan.diagnostics)]
    out += [
        "",
        f"<sub>{md_code(plan.source)} · catalog {plan.catalog_version} "
        f"(sha256 {plan.catalog_digest[:12]})</sub>",
    ]
    return out


def _md_resources(resources: ResourcePlan) -> list[str]:
    counts = resources.counts
    out = [
        f"**Resources** ({counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged, {counts['delete']} to delete with `--prune`"
        + (f", {resources.drifted} drifted" if resources.live else "")
        + ")",
        "",
    ]
    rows = []
    for change in resources.changes:
        details = [field_text(f.name, f.old, f.new, f.detail) for f in change.fields]
        details += [f"drift: {d}" for d in change.drift]
        details += [f"note: {n}" for n in change.notes]
        rows.append(
            (
                md_text(f"{RESOURCE_MARKS.get(change.action, '?')} {action_text(change)}"),
                md_text(change.kind),
                md_code(change.key, cell=True),
                md_code(change.name, cell=True),
                "<br>".join(md_code(detail, cell=True) for detail in details),
            )
        )
    if rows:
        out += md_table(("Action", "Kind", "Key", "Name", "Changes"), rows, set())
        out.append("")
    if resources.notes:
        out += [f"- note: {md_code(note)}" for note in resources.notes]
        out.append("")
    return out
