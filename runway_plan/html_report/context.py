"""What the report is made of (:class:`Sources`) and what every section of the page reads from
it (:class:`PageContext`: steps, their colours and anchors, the planned generations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runway_plan.html_report.charts import (
    step_colours,
)
from runway_plan.html_report.journal import RunTimes
from runway_plan.html_report.manifest import (
    Manifest,
)
from runway_plan.html_report.media import Inliner

__all__ = ["PageContext", "Sources"]


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


class PageContext:
    """What every section of the page reads: the sources, the plan's steps and generations by
    name and key, each step's colour and anchor, each generation's model."""

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
