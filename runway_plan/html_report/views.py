"""The page's view: plain dataclasses of display text the template renders."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

__all__ = [
    "AttemptView",
    "DiagnosticView",
    "Figure",
    "GenerationView",
    "OutputView",
    "PageView",
    "StepView",
]


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
