"""What the report page shows, and its HTML.

:func:`render_page` turns :class:`Sources` (the run manifest, the plan document, the
journal's times, the output files) into a view (plain dataclasses of display text) and the
view into HTML through a Jinja2 template with autoescape on: every text from a spec, the API
or the state is escaped, and the page's Content-Security-Policy allows no script at all, no
request to anywhere but the page's own origin (its media) and only its own stylesheet.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from runway_plan import __version__
from runway_plan.html_report.charts import (
    Bar,
    Lane,
    Node,
    dag_svg,
    lanes_svg,
    step_colours,
)
from runway_plan.html_report.journal import RunTimes
from runway_plan.html_report.manifest import (
    AttemptRecord,
    DiagnosticRecord,
    GenerationRecord,
    Manifest,
    OutputRecord,
)
from runway_plan.html_report.media import Inliner, media_kind, place, relative_href
from runway_plan.plan import format_credits, format_duration, format_usd

__all__ = ["GENERATOR", "Sources", "render_page"]

GENERATOR = "runway-plan report"
"""The page's ``<meta name="generator">``: a file that has it is a report and may be replaced."""

OUTCOME_COLOURS = {
    "generated": "#16a34a",
    "reused": "#0891b2",
    "failed": "#dc2626",
    "unknown": "#d97706",
    "interrupted": "#d97706",
    "cancelled": "#6b7280",
    "skipped": "#9ca3af",
    "planned": "#9ca3af",
}
_WORST_FIRST = ("failed", "unknown", "interrupted", "cancelled", "skipped", "planned")
_LONG_TEXT = 400
"""Request strings longer than this are shortened on the page (data URIs, long prompts are
shown whole as the prompt)."""


@dataclass(frozen=True)
class Sources:
    """Everything a report is made of.

    ``page`` is where it will be written (links are relative to its folder); ``state`` is the
    spec's state folder (its store holds a copy of every output); ``plan`` the
    ``runway-plan/plan`` JSON document (None when the spec cannot be planned now);
    ``requests`` each generation's request as compiled (shown when no attempt sent one);
    ``diagnostics`` the spec's diagnostics now, as ``validate --format json`` writes them.
    """

    spec: Path
    page: Path
    state: Path
    manifest: Manifest | None = None
    manifest_path: Path | None = None
    plan: Mapping[str, Any] | None = None
    requests: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    times: RunTimes | None = None
    notes: Sequence[str] = ()
    diagnostics: Sequence[Mapping[str, Any]] = ()
    inline: bool = False


@dataclass(frozen=True, slots=True)
class OutputView:
    """One output tile: its media element's source, its link, and its identity."""

    key: str
    ref: str
    kind: str
    src: str | None
    href: str | None
    name: str
    sha256: str
    size: str
    mime: str
    note: str


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One create request and its task, as text."""

    number: int
    run: str
    status: str
    task_id: str
    estimated: str
    billed: str
    failure: str
    sent_at: str


@dataclass(frozen=True, slots=True)
class GenerationView:
    """One generation: its outcome, credits, prompt, request, attempts and outputs."""

    key: str
    outcome: str
    reason: str
    message: str
    planned: str
    billed: str
    this_run: str
    units: str
    prompt: str
    request: str
    attempts: list[AttemptView]
    outputs: list[OutputView]


@dataclass(frozen=True, slots=True)
class StepView:
    """A step: its figures, its generations, and the contact sheet of its outputs."""

    anchor: str
    name: str
    model: str
    endpoint: str
    colour: str
    outcomes: str
    planned: str
    billed: str
    this_run: str
    generations: list[GenerationView]
    outputs: list[OutputView]
    fan_out: bool


@dataclass(frozen=True, slots=True)
class Figure:
    """A headline figure: label, value, and an id the page gives it."""

    id: str
    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DiagnosticView:
    """A diagnostic, as text."""

    code: str
    severity: str
    message: str
    hint: str
    where: str


@dataclass(frozen=True)
class PageView:
    """Everything the template shows."""

    kind: str
    title: str
    heading: str
    facts: list[tuple[str, str]]
    figures: list[Figure]
    notes: list[str]
    dag: Markup | None
    gantt: Markup | None
    timeline: Markup | None
    steps: list[StepView]
    resources: list[dict[str, str]]
    diagnostics: list[DiagnosticView]
    generator: str
    version: str
    inline: bool


# ------------------------------------------------------------------------ text


def _credits(low: Decimal | None, high: Decimal | None) -> str:
    if low is None or high is None:
        return "unpriced"
    return format_credits(low) if low == high else f"{format_credits(low)}-{format_credits(high)}"


def _amount(value: Decimal | None) -> str:
    return "–" if value is None else format_credits(value)


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None


def _pair(value: Any) -> tuple[Decimal | None, Decimal | None]:
    if not isinstance(value, Mapping):
        return None, None
    return _decimal(value.get("low")), _decimal(value.get("high"))


def _size(count: int | None) -> str:
    if count is None:
        return "size unknown"
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{count} B"


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _LONG_TEXT:
        return f"{value[:120]}… ({len(value)} characters)"
    if isinstance(value, Mapping):
        return {str(k): _shorten(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shorten(v) for v in value]
    return value


def _request_text(request: Any) -> str:
    if request is None:
        return ""
    if isinstance(request, str):
        return _shorten(request)  # type: ignore[no-any-return]
    return json.dumps(_shorten(request), indent=2, ensure_ascii=False, default=str)


def _prompt(request: Any) -> str:
    if isinstance(request, Mapping):
        text = request.get("promptText")
        if isinstance(text, str):
            return text
    return ""


def _counts(outcomes: Sequence[str]) -> str:
    found: dict[str, int] = {}
    for outcome in outcomes:
        found[outcome] = found.get(outcome, 0) + 1
    return ", ".join(f"{count} {name}" for name, count in sorted(found.items()))


def _status_colour(outcomes: Sequence[str]) -> str:
    for outcome in _WORST_FIRST:
        if outcome in outcomes:
            return OUTCOME_COLOURS[outcome]
    return OUTCOME_COLOURS["generated"]


def _shown(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies inside it (as ``plan`` shows
    sources), else as it is."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _sum(values: Sequence[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


# ------------------------------------------------------------------------ views


class _Builder:
    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.plan = sources.plan
        self.inliner = Inliner() if sources.inline else None
        self.notes: list[str] = list(sources.notes)
        plan_steps = [s for s in (self.plan or {}).get("steps", []) if isinstance(s, Mapping)]
        self.plan_steps = {str(s.get("name")): s for s in plan_steps}
        names = list(self.plan_steps)
        if sources.manifest is not None:
            for gen in sources.manifest.generations:
                if gen.step not in names:
                    names.append(gen.step)
        self.step_names = names
        self.colours = step_colours(names)
        self.anchors = {name: f"step-{i + 1}" for i, name in enumerate(names)}
        plan_gens = [g for g in (self.plan or {}).get("generations", []) if isinstance(g, Mapping)]
        self.plan_gens = {str(g.get("key")): g for g in plan_gens}
        self.models: dict[str, str] = {
            key: str(g.get("model", "")) for key, g in self.plan_gens.items()
        }
        if sources.manifest is not None:
            self.models.update({g.key: g.model for g in sources.manifest.generations})

    # outputs ------------------------------------------------------------------

    def output(self, gen: GenerationRecord, record: OutputRecord) -> OutputView:
        folder = self.sources.page.parent
        found = place(
            record.path,
            record.sha256,
            record.size,
            self.sources.spec.parent,
            self.sources.state / "store",
        )
        kind = media_kind(record.mime)
        href = src = None
        if found.file is not None:
            href = relative_href(found.file, folder)
            src = href
            if self.inliner is not None and kind != "file":
                src = self.inliner.data_uri(found.file, record.mime) or href
        return OutputView(
            key=gen.key,
            ref=record.ref,
            kind=kind if found.file is not None else "missing",
            src=src,
            href=href,
            name=Path(record.path).name,
            sha256=record.sha256,
            size=_size(record.size),
            mime=record.mime or "",
            note=found.note,
        )

    # run ---------------------------------------------------------------------

    def attempt(self, attempt: AttemptRecord) -> AttemptView:
        failure = ""
        if attempt.failure_code or attempt.failure:
            failure = ": ".join(t for t in (attempt.failure_code, attempt.failure) if t)
        return AttemptView(
            number=attempt.number,
            run=str(attempt.run) if attempt.run is not None else "",
            status=attempt.status,
            task_id=attempt.task_id or "",
            estimated=_amount(attempt.estimated_credits),
            billed=_amount(attempt.billed_credits),
            failure=failure,
            sent_at=(attempt.sent_at or "").replace("T", " ").replace("Z", " UTC"),
        )

    def planned(self, gen: GenerationRecord) -> tuple[Decimal | None, Decimal | None]:
        """The generation's planned credits: the manifest's, or for a generation the run
        never reached (a refused run records none) the plan's; (None, None) when unpriced."""
        if gen.planned is not None:
            return gen.planned.low, gen.planned.high
        return _pair(self.plan_gens.get(gen.key, {}).get("credits"))

    def generation(self, gen: GenerationRecord) -> GenerationView:
        request: Any = gen.attempts[-1].request if gen.attempts else None
        if request is None:
            request = self.sources.requests.get(gen.key)
        planned = _credits(*self.planned(gen))
        units = str(self.plan_gens.get(gen.key, {}).get("units", ""))
        return GenerationView(
            key=gen.key,
            outcome=gen.outcome,
            reason=gen.reason or "",
            message=gen.message or "",
            planned=planned,
            billed=_amount(gen.billed_credits),
            this_run=_amount(gen.billed_this_run),
            units=units,
            prompt=_prompt(request),
            request=_request_text(request),
            attempts=[self.attempt(a) for a in gen.attempts],
            outputs=[self.output(gen, out) for out in gen.outputs],
        )

    def run_steps(self, manifest: Manifest) -> list[StepView]:
        by_step: dict[str, list[GenerationRecord]] = {}
        for gen in manifest.generations:
            by_step.setdefault(gen.step, []).append(gen)
        steps = []
        for name in self.step_names:
            gens = by_step.get(name, [])
            if not gens:
                continue
            views = [self.generation(g) for g in gens]
            pairs = [self.planned(g) for g in gens]
            unpriced = sum(1 for low, _ in pairs if low is None)
            planned = _credits(_sum([p[0] for p in pairs]), _sum([p[1] for p in pairs]))
            if unpriced and unpriced < len(gens):
                planned += f" + {unpriced} unpriced"
            steps.append(
                StepView(
                    anchor=self.anchors[name],
                    name=name,
                    model=gens[0].model,
                    endpoint=gens[0].endpoint,
                    colour=self.colours[name],
                    outcomes=_counts([g.outcome for g in gens]),
                    planned=planned,
                    billed=_amount(_sum([g.billed_credits for g in gens])),
                    this_run=_amount(_sum([g.billed_this_run for g in gens])),
                    generations=views,
                    outputs=[o for v in views for o in v.outputs],
                    fan_out=len(gens) > 1 or sum(len(v.outputs) for v in views) > 1,
                )
            )
        return steps

    # plan only -----------------------------------------------------------------

    def plan_steps_view(self) -> list[StepView]:
        steps = []
        for name, step in self.plan_steps.items():
            keys = [str(k) for k in step.get("generations", [])]
            views = []
            for key in keys:
                gen = self.plan_gens.get(key, {})
                low, high = _pair(gen.get("credits"))
                request = self.sources.requests.get(key)
                reasons = gen.get("reasons") or []
                views.append(
                    GenerationView(
                        key=key,
                        outcome="planned",
                        reason="; ".join(str(r) for r in reasons),
                        message="",
                        planned=_credits(low, high),
                        billed="–",
                        this_run="–",
                        units=str(gen.get("units", "")),
                        prompt=_prompt(request),
                        request=_request_text(request),
                        attempts=[],
                        outputs=[],
                    )
                )
            low, high = _pair(step.get("credits"))
            unknown = int(step.get("unknown_generations") or 0)
            planned = _credits(low, high) if unknown < len(keys) else "unpriced"
            if unknown and unknown < len(keys):
                planned += f" + {unknown} unpriced"
            steps.append(
                StepView(
                    anchor=self.anchors[name],
                    name=name,
                    model=str(step.get("model", "")),
                    endpoint=str(step.get("endpoint", "")),
                    colour=self.colours[name],
                    outcomes=f"{len(keys)} planned",
                    planned=planned,
                    billed="–",
                    this_run="–",
                    generations=views,
                    outputs=[],
                    fan_out=len(keys) > 1,
                )
            )
        return steps

    # pictures --------------------------------------------------------------------

    def dag(self, steps: Sequence[StepView]) -> Markup | None:
        if self.plan is None:
            return None
        views = {s.name: s for s in steps}
        nodes = []
        for name, step in self.plan_steps.items():
            view = views.get(name)
            count = len(step.get("generations", []))
            if self.sources.manifest is not None and view is not None:
                outcomes = [g.outcome for g in view.generations]
                done = sum(o in ("generated", "reused") for o in outcomes)
                figures = f"{done}/{len(outcomes)} done · billed {view.billed}"
                status = _status_colour(outcomes)
            else:
                low, high = _pair(step.get("credits"))
                figures = f"{count} gen · {_credits(low, high)} credits"
                status = ""
            model = str(step.get("model", ""))
            nodes.append(
                Node(
                    name=name,
                    detail=model,
                    figures=figures,
                    colour=self.colours[name],
                    status=status,
                    tip=f"{name} ({step.get('endpoint', '')}, {model}): {figures}",
                    link=f"#{self.anchors[name]}",
                )
            )
        edges = [
            (str(e[0]), str(e[1]))
            for e in self.plan.get("edges", [])
            if isinstance(e, list | tuple) and len(e) == 2
        ]
        title = f"{self.plan.get('name', '')}: {len(nodes)} steps"
        return Markup(dag_svg(nodes, edges, title))  # dag_svg escapes every text

    def planned_lanes(self) -> tuple[list[Lane], float]:
        if self.plan is None:
            return [], 0.0
        critical = set(self.plan.get("schedule", {}).get("critical_path", []))
        lanes: dict[tuple[str, int], Lane] = {}
        for key, gen in self.plan_gens.items():
            slot = gen.get("schedule")
            if not isinstance(slot, Mapping):
                continue
            pool, number = str(slot.get("pool", "")), int(slot.get("slot", 0))
            lane = lanes.setdefault((pool, number), Lane(f"{pool} · slot {number + 1}"))
            start, end = float(slot.get("start_s", 0)), float(slot.get("end_s", 0))
            low, high = _pair(gen.get("credits"))
            lane.bars.append(
                Bar(
                    start,
                    end,
                    key,
                    self.colours.get(str(gen.get("step")), "#888888"),
                    f"{key} ({gen.get('model', '')}): {format_duration(start)} → "
                    f"{format_duration(end)}, {_credits(low, high)} credits",
                    outlined=key in critical,
                )
            )
        span = float(self.plan.get("schedule", {}).get("makespan_s") or 0.0)
        return [lanes[k] for k in sorted(lanes)], span

    def real_lanes(self, times: RunTimes) -> tuple[list[Lane], float]:
        lanes: dict[str, list[Lane]] = {}
        last_end = times.finished or max(
            [a.ended or a.sent for a in times.attempts] or [times.started]
        )
        span = 0.0
        for attempt in sorted(times.attempts, key=lambda a: (a.sent, a.key)):
            start = max(0.0, attempt.sent - times.started) * times.speed
            end = max(0.0, (attempt.ended or last_end) - times.started) * times.speed
            span = max(span, end)
            model = self.models.get(attempt.key, "")
            pool = lanes.setdefault(model, [])
            lane = next((ln for ln in pool if ln.bars[-1].end <= start), None)
            if lane is None:
                lane = Lane(f"{model} · {len(pool) + 1}")
                pool.append(lane)
            label = attempt.key if attempt.number == 1 else f"{attempt.key} #{attempt.number}"
            ended = "still running" if attempt.ended is None else format_duration(end)
            lane.bars.append(
                Bar(
                    start,
                    end,
                    label,
                    self.colours.get(attempt.step, "#888888"),
                    f"{label} ({model}): {attempt.status}, {format_duration(start)} → {ended}",
                    failed=attempt.status not in ("SUCCEEDED", "RUNNING", "PENDING", "THROTTLED"),
                )
            )
        run_span = ((times.finished or last_end) - times.started) * times.speed
        return [lane for model in sorted(lanes) for lane in lanes[model]], max(span, run_span)

    def charts(self) -> tuple[Markup | None, Markup | None]:
        planned, plan_span = self.planned_lanes()
        times = self.sources.times
        real: list[Lane] = []
        real_span = 0.0
        if times is not None:
            real, real_span = self.real_lanes(times)
        span = max(plan_span, real_span)
        legend = {name: self.colours[name] for name in self.step_names}
        gantt = timeline = None
        if self.plan is not None:
            schedule = self.plan.get("schedule", {})
            limits = self.plan.get("limits", {}).get("description", "")
            made = "every generation"
            if self.sources.manifest is not None:
                made = "the generations the run was to make (reused ones left out)"
            caption = (
                f"{limits} · {made} · makespan {format_duration(plan_span)} "
                f"(lower bound {format_duration(float(schedule.get('lower_bound_s') or 0))})"
                " · critical path outlined"
            )
            gantt = Markup(  # lanes_svg escapes every text
                lanes_svg(
                    planned,
                    span=span,
                    title="Planned schedule",
                    caption=caption,
                    legend=legend,
                    css_class="gantt",
                )
            )
        if times is not None:
            wall = (times.finished or times.started) - times.started
            caption = f"wall clock {format_duration(wall)}"
            if times.speed != 1:
                caption += (
                    f", emulated at {times.speed:g}× speed: times are shown ×{times.speed:g}, "
                    f"as the API would take them ({format_duration(wall * times.speed)})"
                )
            caption += " · failed attempts outlined in red"
            timeline = Markup(  # lanes_svg escapes every text
                lanes_svg(
                    real,
                    span=span,
                    title="What the run did",
                    caption=caption,
                    legend=legend,
                    css_class="timeline",
                )
            )
        return gantt, timeline

    # the page ---------------------------------------------------------------------

    def diagnostics(self) -> list[DiagnosticView]:
        found: list[DiagnosticView] = []
        records: list[DiagnosticRecord] = []
        if self.sources.manifest is not None:
            records = list(self.sources.manifest.diagnostics)
        for record in records:
            where = ":".join(str(p) for p in (record.file, record.line, record.column) if p)
            found.append(
                DiagnosticView(
                    record.code, record.severity, record.message, record.hint or "", where
                )
            )
        for item in self.sources.diagnostics:
            parts = (item.get("file"), item.get("line"), item.get("column"))
            found.append(
                DiagnosticView(
                    str(item.get("code", "")),
                    str(item.get("severity", "")),
                    str(item.get("message", "")),
                    str(item.get("hint") or ""),
                    ":".join(str(p) for p in parts if p),
                )
            )
        return found

    def usd(self, credits: Decimal | None) -> str:
        rate = _decimal((self.plan or {}).get("usd_per_credit"))
        if credits is None or rate is None:
            return ""
        return f"${format_usd(credits * rate)}"

    def run_page(self, manifest: Manifest) -> PageView:
        steps = self.run_steps(manifest)
        name = manifest.spec.name or self.sources.spec.stem
        low = manifest.planned.low if manifest.planned else None
        high = manifest.planned.high if manifest.planned else None
        billed = _sum([g.billed_credits for g in manifest.generations])
        finished = (manifest.finished_at or "").replace("T", " ").replace("Z", " UTC")
        facts = [
            ("spec", _shown(manifest.spec.path)),
            ("spec sha256", manifest.spec.sha256),
            ("manifest", _shown(self.sources.manifest_path or "")),
            ("run", f"{manifest.run} · {manifest.status}"),
            ("started", manifest.started_at.replace("T", " ").replace("Z", " UTC")),
            ("finished", finished or "–"),
            ("API", manifest.api),
            ("catalog", manifest.catalog.version),
            (
                "requests",
                f"{sum(manifest.requests.values())} HTTP, {manifest.requests.get('create', 0)} "
                f"create(s); {manifest.throttled} task(s) seen THROTTLED",
            ),
        ]
        figures = [
            Figure("run-status", "status", manifest.status),
            Figure("total-planned", "planned credits", _credits(low, high), self.usd(high)),
            Figure(
                "total-billed-this-run",
                "billed this run",
                _amount(manifest.billed_this_run),
                self.usd(manifest.billed_this_run),
            ),
            Figure("total-billed", "billed, reused included", _amount(billed), self.usd(billed)),
            Figure(
                "generations",
                "generations",
                str(len(manifest.generations)),
                _counts([g.outcome for g in manifest.generations]),
            ),
        ]
        gantt, timeline = self.charts()
        return self.page(
            "run",
            f"{name} · run {manifest.run}",
            name,
            facts,
            figures,
            steps,
            gantt,
            timeline,
            [
                {
                    "kind": r.kind,
                    "key": r.key,
                    "name": r.name or "",
                    "action": r.action,
                    "remote_id": r.remote_id or "",
                    "status": r.status or "",
                    "fields": ", ".join(r.fields),
                    "message": r.message or "",
                }
                for r in manifest.resources
            ],
        )

    def plan_page(self) -> PageView:
        plan = self.plan or {}
        steps = self.plan_steps_view()
        total = plan.get("total", {})
        low, high = _pair(total.get("credits"))
        unknown = int(total.get("unknown_generations") or 0)
        name = str(plan.get("name") or self.sources.spec.stem)
        catalog = plan.get("catalog", {})
        facts = [
            ("spec", _shown(self.sources.spec)),
            ("catalog", str(catalog.get("version", ""))),
            ("limits", str(plan.get("limits", {}).get("description", ""))),
        ]
        figures = [
            Figure("run-status", "status", "not run yet"),
            Figure(
                "total-planned",
                "planned credits",
                _credits(low, high) + (f" + {unknown} unpriced" if unknown else ""),
                self.usd(high),
            ),
            Figure("generations", "generations", str(total.get("generations", ""))),
            Figure(
                "makespan",
                "makespan",
                format_duration(float(plan.get("schedule", {}).get("makespan_s") or 0)),
            ),
        ]
        gantt, _ = self.charts()
        return self.page("plan", f"{name} · plan", name, facts, figures, steps, gantt, None, [])

    def page(
        self,
        kind: str,
        title: str,
        heading: str,
        facts: list[tuple[str, str]],
        figures: list[Figure],
        steps: list[StepView],
        gantt: Markup | None,
        timeline: Markup | None,
        resources: list[dict[str, str]],
    ) -> PageView:
        if self.inliner is not None and self.inliner.skipped:
            self.notes.append(
                f"{self.inliner.skipped} output(s) are linked, not embedded: --inline embeds "
                "at most 64 MB of media in one page"
            )
        return PageView(
            kind=kind,
            title=title,
            heading=heading,
            facts=facts,
            figures=figures,
            notes=self.notes,
            dag=self.dag(steps),
            gantt=gantt,
            timeline=timeline,
            steps=steps,
            resources=resources,
            diagnostics=self.diagnostics(),
            generator=GENERATOR,
            version=__version__,
            inline=self.sources.inline,
        )


# ------------------------------------------------------------------------ HTML


def _asset(name: str) -> str:
    return (resources.files("runway_plan.html_report") / name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(sources: Sources) -> str:
    """The report page of ``sources`` as one self-contained HTML document."""
    builder = _Builder(sources)
    view = builder.run_page(sources.manifest) if sources.manifest else builder.plan_page()
    css = _asset("report.css")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    policy = (
        "default-src 'none'; img-src 'self' data:; media-src 'self' data:; "
        f"style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    template = _environment().from_string(_asset("report.html.j2"))
    return template.render(view=view, css=Markup(css), policy=policy)
