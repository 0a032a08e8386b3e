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
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from runway_plan import __version__
from runway_plan.html_report.chart_views import chart_views, dag_view
from runway_plan.html_report.context import PageContext, Sources
from runway_plan.html_report.manifest import (
    AttemptRecord,
    DiagnosticRecord,
    GenerationRecord,
    Manifest,
    OutputRecord,
)
from runway_plan.html_report.media import media_kind, place, relative_href
from runway_plan.html_report.views import (
    AttemptView,
    DiagnosticView,
    Figure,
    GenerationView,
    OutputView,
    PageView,
    StepView,
)
from runway_plan.html_report.wording import (
    amount_text,
    credits_text,
    decimal_of,
    outcome_counts,
    pair_of,
    prompt_text,
    request_text,
    shown_path,
    size_text,
    sum_of,
)
from runway_plan.plan import format_duration, format_usd

__all__ = ["GENERATOR", "Sources", "render_page"]

GENERATOR = "runway-plan report"
"""The page's ``<meta name="generator">``: a file that has it is a report and may be replaced."""


class _Builder(PageContext):
    """The page's view, section by section."""

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
            size=size_text(record.size),
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
            estimated=amount_text(attempt.estimated_credits),
            billed=amount_text(attempt.billed_credits),
            failure=failure,
            sent_at=(attempt.sent_at or "").replace("T", " ").replace("Z", " UTC"),
        )

    def planned(self, gen: GenerationRecord) -> tuple[Decimal | None, Decimal | None]:
        """The generation's planned credits: the manifest's, or for a generation the run
        never reached (a refused run records none) the plan's; (None, None) when unpriced."""
        if gen.planned is not None:
            return gen.planned.low, gen.planned.high
        return pair_of(self.plan_gens.get(gen.key, {}).get("credits"))

    def generation(self, gen: GenerationRecord) -> GenerationView:
        request: Any = gen.attempts[-1].request if gen.attempts else None
        if request is None:
            request = self.sources.requests.get(gen.key)
        planned = credits_text(*self.planned(gen))
        units = str(self.plan_gens.get(gen.key, {}).get("units", ""))
        return GenerationView(
            key=gen.key,
            outcome=gen.outcome,
            reason=gen.reason or "",
            message=gen.message or "",
            planned=planned,
            billed=amount_text(gen.billed_credits),
            this_run=amount_text(gen.billed_this_run),
            units=units,
            prompt=prompt_text(request),
            request=request_text(request),
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
            planned = credits_text(sum_of([p[0] for p in pairs]), sum_of([p[1] for p in pairs]))
            if unpriced and unpriced < len(gens):
                planned += f" + {unpriced} unpriced"
            steps.append(
                StepView(
                    anchor=self.anchors[name],
                    name=name,
                    model=gens[0].model,
                    endpoint=gens[0].endpoint,
                    colour=self.colours[name],
                    outcomes=outcome_counts([g.outcome for g in gens]),
                    planned=planned,
                    billed=amount_text(sum_of([g.billed_credits for g in gens])),
                    this_run=amount_text(sum_of([g.billed_this_run for g in gens])),
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
                low, high = pair_of(gen.get("credits"))
                request = self.sources.requests.get(key)
                reasons = gen.get("reasons") or []
                views.append(
                    GenerationView(
                        key=key,
                        outcome="planned",
                        reason="; ".join(str(r) for r in reasons),
                        message="",
                        planned=credits_text(low, high),
                        billed="–",
                        this_run="–",
                        units=str(gen.get("units", "")),
                        prompt=prompt_text(request),
                        request=request_text(request),
                        attempts=[],
                        outputs=[],
                    )
                )
            low, high = pair_of(step.get("credits"))
            unknown = int(step.get("unknown_generations") or 0)
            planned = credits_text(low, high) if unknown < len(keys) else "unpriced"
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
        rate = decimal_of((self.plan or {}).get("usd_per_credit"))
        if credits is None or rate is None:
            return ""
        return f"${format_usd(credits * rate)}"

    def run_page(self, manifest: Manifest) -> PageView:
        steps = self.run_steps(manifest)
        name = manifest.spec.name or self.sources.spec.stem
        low = manifest.planned.low if manifest.planned else None
        high = manifest.planned.high if manifest.planned else None
        billed = sum_of([g.billed_credits for g in manifest.generations])
        finished = (manifest.finished_at or "").replace("T", " ").replace("Z", " UTC")
        facts = [
            ("spec", shown_path(manifest.spec.path)),
            ("spec sha256", manifest.spec.sha256),
            ("manifest", shown_path(self.sources.manifest_path or "")),
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
            Figure("total-planned", "planned credits", credits_text(low, high), self.usd(high)),
            Figure(
                "total-billed-this-run",
                "billed this run",
                amount_text(manifest.billed_this_run),
                self.usd(manifest.billed_this_run),
            ),
            Figure(
                "total-billed", "billed, reused included", amount_text(billed), self.usd(billed)
            ),
            Figure(
                "generations",
                "generations",
                str(len(manifest.generations)),
                outcome_counts([g.outcome for g in manifest.generations]),
            ),
        ]
        gantt, timeline = chart_views(self)
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
        low, high = pair_of(total.get("credits"))
        unknown = int(total.get("unknown_generations") or 0)
        name = str(plan.get("name") or self.sources.spec.stem)
        catalog = plan.get("catalog", {})
        facts = [
            ("spec", shown_path(self.sources.spec)),
            ("catalog", str(catalog.get("version", ""))),
            ("limits", str(plan.get("limits", {}).get("description", ""))),
        ]
        figures = [
            Figure("run-status", "status", "not run yet"),
            Figure(
                "total-planned",
                "planned credits",
                credits_text(low, high) + (f" + {unknown} unpriced" if unknown else ""),
                self.usd(high),
            ),
            Figure("generations", "generations", str(total.get("generations", ""))),
            Figure(
                "makespan",
                "makespan",
                format_duration(float(plan.get("schedule", {}).get("makespan_s") or 0)),
            ),
        ]
        gantt, _ = chart_views(self)
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
            dag=dag_view(self, steps),
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
