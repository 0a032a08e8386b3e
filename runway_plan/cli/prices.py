"""``prices`` and ``prices learn``: the catalog's prices, and those the account's runs teach.

``runway-plan prices [SPEC...]`` lists every model of the catalog with its price rule, source,
date and confidence, and what the runs recorded in the state (the rate per unit billed, and
how many tasks it rests on), then the drift from the catalog and a count line.
``runway-plan prices learn [SPEC...]`` writes the rates learned to ``runway-prices.yaml`` in
the folder of the specs, which ``plan`` reads.

The states read are those of the SPECs given (``.runway-plan/<spec>/``), or the one of
``--state``; with no SPEC, every spec's state under ``.runway-plan/`` of the current folder.
``--emulate`` reads the states of ``run --emulate`` instead, whose bills are the emulator's.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from runway_plan.catalog import Catalog
from runway_plan.catalog.learned import (
    FILE_NAME,
    LearnedFile,
    merge_learned,
    read_learned,
    write_learned,
)
from runway_plan.catalog.model import Price, PriceRate
from runway_plan.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    catalog_option,
    format_option,
    load_catalog_or_fail,
    main,
)
from runway_plan.cli.options import emulate_option, state_option
from runway_plan.diagnostics import has_errors
from runway_plan.diagnostics.display import display, display_lines, json_text
from runway_plan.diagnostics.render import render as render_diagnostics
from runway_plan.execute.layout import EMULATED, OLD_LAYOUT, STATE_FOLDER, layout_of
from runway_plan.execute.learn import (
    Drift,
    Observed,
    RateGroup,
    Skipped,
    StateSource,
    drift,
    learned_entry,
    observe,
    summarize,
)
from runway_plan.files import SymlinkInTheWay
from runway_plan.limits import WorkLimits
from runway_plan.plan.cost import format_credits
from runway_plan.plan.rule import rate_unit, rule_text, when_text

__all__ = ["count_line", "prices_group", "skipped_lines"]


class _PricesGroup(click.Group):
    """``prices [SPEC...]`` lists; ``prices learn [SPEC...]`` learns."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@main.group("prices", cls=_PricesGroup)
def prices_group() -> None:
    """List every model's price and what runs were billed (`prices [SPEC...]`), or learn
    per-unit prices from the runs into runway-prices.yaml (`prices learn [SPEC...]`)."""


def _shown(path: Path) -> str:
    try:
        import os

        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _states(specs: Sequence[Path], state_dir: Path | None, emulate: bool) -> list[StateSource]:
    """The state folders to read (see the module docstring), each with the spec whose local
    inputs its tasks sent, when known (to measure them)."""
    if state_dir is not None:
        spec = specs[0] if len(specs) == 1 else None
        return [StateSource(state_dir, _shown(state_dir), spec, emulate)]
    if specs:
        found = [(layout_of(spec, emulate=emulate).state, spec) for spec in specs]
        return [StateSource(folder, _shown(folder), spec, emulate) for folder, spec in found]
    base = Path(STATE_FOLDER)
    if not base.is_dir() or base.is_symlink():
        return []
    folders = []
    for child in sorted(base.iterdir()):
        if child.name == OLD_LAYOUT or child.is_symlink() or not child.is_dir():
            continue
        folder = child / EMULATED if emulate else child
        if not folder.is_symlink() and (folder / "state.db").is_file():
            named = [Path(child.name + ext) for ext in (".yaml", ".yml", ".json")]
            present = [p for p in named if p.is_file() and not p.is_symlink()]
            spec = present[0] if len(present) == 1 else None
            folders.append(StateSource(folder, _shown(folder), spec, emulate))
    return folders


def _folder(specs: Sequence[Path]) -> Path:
    """Where ``runway-prices.yaml`` lives: the folder of the specs, else the current one."""
    folders = {spec.resolve().parent for spec in specs}
    if len(folders) > 1:
        raise click.UsageError(
            f"the specs are in {len(folders)} folders; {FILE_NAME} lives beside the specs it "
            "prices: learn one folder at a time"
        )
    return folders.pop() if folders else Path.cwd()


def _observed_text(groups: Sequence[RateGroup]) -> str:
    parts = []
    for group in groups:
        unit = rate_unit(group.price)
        if group.agrees:
            tasks = group.tasks
            text = f"{format_credits(group.rate)}{unit} ×{len(tasks)} since {tasks[0].date}"
        else:
            text = "disagree: " + ", ".join(
                f"{format_credits(r)}{unit} ×{len(items)}" for r, items in group.rates.items()
            )
        condition = when_text(group.when, compact=True)
        where = ", ".join(x for x in (group.variant and f"on {group.variant}", condition) if x)
        parts.append(text + (f" ({where})" if where and len(groups) > 1 else ""))
    return "; ".join(parts)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def count_line(catalog: Catalog) -> str:
    """``43 of 61 models priced (35 high, 8 medium); 18 unknown``: the catalog's count, a
    low-confidence figure counted as unknown."""
    models = catalog.model_endpoints
    confidence = [p.confidence for m, p in catalog.prices.models.items() if m in models]
    high, medium, low = (confidence.count(c) for c in ("high", "medium", "low"))
    priced = high + medium
    line = (
        f"{priced} of {len(models)} models priced ({high} high, {medium} medium); "
        f"{len(models) - priced} unknown"
    )
    return line + (f" ({low} with only a low-confidence figure)" if low else "")


def _rows(
    catalog: Catalog, summary: dict[str, list[RateGroup]], learned: LearnedFile
) -> list[dict[str, Any]]:
    rows = []
    models = sorted({*catalog.model_endpoints, *summary})
    for model in models:
        price = catalog.price(model)
        entry = learned.entries.get(model)
        groups = summary.get(model, [])
        unknown = price is None or price.confidence == "low"
        reason = catalog.prices.unknown.get(model, "the catalog has no price for it").strip()
        if price is not None and price.confidence == "low":
            reason = f"only a low-confidence figure ({rule_text(price)}): {price.source}"
        rows.append(
            {
                "model": model,
                "endpoints": list(catalog.model_endpoints.get(model, ())),
                "priced": not unknown,
                "unit": price.unit if price else None,
                "per": format_credits(price.per) if price else None,
                "rounding": price.rounding if price else None,
                "rates": [_rate_dict(r) for r in (price.rates if price else ())],
                "rule": rule_text(price) if price else None,
                "price": price.model_dump(mode="json", exclude_defaults=True) if price else None,
                "source": price.source if price else None,
                "checked": price.checked if price else None,
                "confidence": price.confidence if price else None,
                "unknown_reason": reason if unknown else None,
                "learned": None
                if entry is None
                else {**entry.to_dict(), "rule": rule_text(entry.price)},
                "observed": [_group_dict(g) for g in groups],
                "_price": price,
                "_groups": groups,
            }
        )
    return rows


def _amount(value: Decimal) -> str:
    """An exact amount for JSON: ``150``, ``0.7`` (no exponent, no thousands separator)."""
    return format(value.normalize(), "f")


def _rate_dict(rate: PriceRate) -> dict[str, Any]:
    found: dict[str, Any] = {
        "when": {k: list(v) for k, v in rate.when.items()},
        "credits": _amount(rate.credits),
    }
    if rate.up_to is not None:
        found["up_to"] = _amount(rate.up_to)
    if rate.confidence is not None:
        found["confidence"] = rate.confidence
    return found


def _group_dict(group: RateGroup) -> dict[str, Any]:
    return {
        "when": {k: list(v) for k, v in group.when.items()},
        "endpoint": group.variant or None,
        "unit": group.price.unit,
        "per": format_credits(group.price.per),
        "agrees": group.agrees,
        "rates": [
            {
                "credits": format_credits(rate),
                "tasks": len(items),
                "task_ids": [o.task_id for o in items],
                "first": min(o.date for o in items),
                "last": max(o.date for o in items),
            }
            for rate, items in group.rates.items()
        ],
    }


def _table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = []
    for cells in (headers, ["-" * w for w in widths], *rows):
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
    return lines


def _render_text(
    rows: list[dict[str, Any]],
    drifts: Sequence[Drift],
    observed: Observed,
    catalog: Catalog,
    learned: LearnedFile,
) -> str:
    table = []
    for row in rows:
        price: Price | None = row["_price"]
        rule = rule_text(price, compact=True) if price is not None else "unknown"
        if price is not None and not row["priced"]:
            rule = f"unknown (low: {rule})"
        table.append(
            [
                display(row["model"]),
                row["confidence"] or "",
                row["checked"] or "",
                _short(display(_observed_text(row["_groups"])), 44),
                _short(display(row["source"] or ""), 40),
                display(rule),
            ]
        )
    out = _table(table, ["model", "confidence", "checked", "billed (state)", "source", "price"])
    if learned.entries:
        out += ["", f"Learned ({display(_shown(learned.path))}, read by plan):"]
        for model, entry in sorted(learned.entries.items()):
            rule = rule_text(entry.price, compact=True)
            out.append(f"  {display(model)}: {display(rule)} ({display(entry.citation)})")
    unknown = [row for row in rows if not row["priced"]]
    if unknown:
        out += ["", f"Unknown ({len(unknown)}):"]
        out += [f"  {display(r['model'])}: {display(r['unknown_reason'])}" for r in unknown]
    if drifts:
        out += ["", "Drift (billed differs from the catalog):"]
        out += [f"  {display(d.text())}" for d in drifts]
    out.append("")
    states = ", ".join(display(s) for s in observed.states) or "none"
    out.append(f"Billed tasks read: {observed.tasks} from state {states}")
    if observed.skipped:
        out.append(f"{len(observed.skipped)} billed task(s) gave no rate:")
        out += [f"  {display(line)}" for line in skipped_lines(observed.skipped)[:20]]
    out += [f"Problem: {display(p)}" for p in observed.problems]
    out.append(count_line(catalog))
    return display_lines("\n".join(out)) + "\n"


def skipped_lines(skipped: Sequence[Skipped]) -> list[str]:
    """One line per model and reason: ``aleph2 (2 tasks, e.g. 5a2d…): <why>``."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for item in skipped:
        grouped.setdefault((item.model, item.reason), []).append(item.task_id)
    lines = []
    for (model, reason), tasks in grouped.items():
        count = f"{len(tasks)} task{'s' * (len(tasks) != 1)}"
        lines.append(f"{model} ({count}, e.g. {tasks[0]}): {reason}")
    return lines


def _options(func: Any) -> Any:
    func = click.argument("specs", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))(func)
    func = state_option(
        "Read this run state folder [default: the SPECs' own, or every state under "
        ".runway-plan/ here]."
    )(func)
    func = emulate_option("Read the states of `run --emulate` (the emulator's bills) instead.")(
        func
    )
    return catalog_option(func)


def _learned_file(folder: Path, catalog: Catalog) -> LearnedFile:
    return read_learned(folder / FILE_NAME, catalog, WorkLimits().file_bytes, FILE_NAME)


@prices_group.command("list")
@_options
@format_option(("text", "json"))
def list_command(
    specs: tuple[Path, ...],
    state_dir: Path | None,
    emulate: bool,
    catalog_path: Path | None,
    fmt: str,
) -> None:
    """List every model: price rule, source, date, confidence, and what runs were billed."""
    catalog = load_catalog_or_fail(catalog_path)
    observed = observe(_states(specs, state_dir, emulate), catalog)
    summary = summarize(observed, catalog)
    drifts = drift(observed)
    learned = _learned_file(_folder(specs), catalog)
    rows = _rows(catalog, summary, learned)
    if fmt == "json":
        click.echo(
            json_text(
                {
                    "schema": "runway-plan/prices",
                    "version": 1,
                    "catalog": catalog.version,
                    "models": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                    "drift": [d.text() for d in drifts],
                    "states": observed.states,
                    "tasks": observed.tasks,
                    "skipped": [
                        {"model": s.model, "task_id": s.task_id, "reason": s.reason}
                        for s in observed.skipped
                    ],
                    "problems": observed.problems,
                    "learned_file": {
                        "path": _shown(learned.path),
                        "exists": learned.exists,
                        "diagnostics": [d.message for d in learned.diagnostics],
                    },
                    "count": count_line(catalog),
                }
            )
        )
    else:
        click.echo(_render_text(rows, drifts, observed, catalog, learned), nl=False)
        if learned.diagnostics:
            click.echo(render_diagnostics(learned.diagnostics, "text"), nl=False, err=True)
    sys.exit(EXIT_FAILED if has_errors(learned.diagnostics) else EXIT_OK)


@prices_group.command("learn")
@_options
@click.option(
    "--overwrite",
    is_flag=True,
    help=f"Replace entries of {FILE_NAME} edited by hand too (by default they are kept).",
)
def learn_command(
    specs: tuple[Path, ...],
    state_dir: Path | None,
    emulate: bool,
    catalog_path: Path | None,
    overwrite: bool,
) -> None:
    """Learn per-unit prices from the costs runs recorded, into runway-prices.yaml beside
    the specs (merged by model; entries edited by hand are kept)."""
    catalog = load_catalog_or_fail(catalog_path)
    folder = _folder(specs)
    existing = _learned_file(folder, catalog)
    if existing.exists and existing.data is None:
        click.echo(render_diagnostics(existing.diagnostics, "text"), nl=False, err=True)
        click.echo(
            display_lines(
                f"{display(_shown(existing.path))} cannot be read, so it is not rewritten: fix "
                "or remove it, then learn again"
            ),
            err=True,
        )
        sys.exit(EXIT_FAILED)
    observed = observe(_states(specs, state_dir, emulate), catalog)
    summary = summarize(observed, catalog)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    entries: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for model, groups in summary.items():
        entry, why = learned_entry(model, groups, catalog, today)
        notes += why
        if entry is not None:
            entries[model] = entry
    for problem in observed.problems:
        click.echo(display_lines(f"problem: {display(problem)}"), err=True)
    for line in skipped_lines(observed.skipped):
        click.echo(display_lines(f"not learnable from these tasks: {display(line)}"), err=True)
    if not entries:
        for note in notes:
            click.echo(display_lines(f"note: {display(note)}"), err=True)
        where = ", ".join(display(s) for s in observed.states) or "no state found"
        click.echo(display_lines(f"nothing learned: no billed task gives a rate ({where})"))
        sys.exit(EXIT_FAILED if observed.problems else EXIT_OK)
    merged, written, kept = merge_learned(existing.data, entries, overwrite=overwrite)
    try:
        write_learned(existing.path, merged)
    except (SymlinkInTheWay, OSError) as exc:
        click.echo(
            display_lines(f"cannot write {display(_shown(existing.path))}: {display(str(exc))}"),
            err=True,
        )
        sys.exit(EXIT_USAGE)
    for model in written:
        groups = summary[model]
        tasks = sum(len(g.tasks) for g in groups)
        rule = rule_text(_learned_price(merged, model, groups[0].price), compact=True)
        count = f"{tasks} task{'s' * (tasks != 1)}"
        click.echo(display_lines(f"learned {display(model)}: {display(rule)} ({count})"))
    for note in [*notes, *kept]:
        click.echo(display_lines(f"note: {display(note)}"), err=True)
    for d in drift(observed):
        click.echo(display_lines(f"drift: {display(d.text())}"))
    click.echo(
        display_lines(f"wrote {display(_shown(existing.path))}: {len(written)} model(s) learned")
    )
    sys.exit(EXIT_OK)


def _learned_price(merged: dict[str, Any], model: str, fallback: Price) -> Price:
    entry = merged["models"][model]
    try:
        return Price.model_validate({k: v for k, v in entry.items() if k in Price.model_fields})
    except ValueError:
        return fallback
