"""Workflow steps (``endpoint: workflows``): a published workflow run through
``POST /v1/workflows/{id}`` (runwayml 5.24.0 ``workflows.run``).

What a workflow makes (how many outputs, of which media) is known only after it runs: the API
returns a map of node ids to output URLs.  A step may declare its outputs
(``outputs: [{media: video}]``) so that ``@step[i]`` references to them are typed before the
run; an undeclared output cannot be referenced (RP302).  ``outputs`` is a key of workflow steps
only (RP105 elsewhere).
"""

from __future__ import annotations

from runway_plan.compile.graph import Ref
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.source import SourceMap
from runway_plan.spec import WORKFLOWS, Step

__all__ = ["misplaced_outputs", "undeclared_outputs", "workflow_media"]


def workflow_media(step: Step) -> tuple[str, ...] | None:
    """The declared outputs' media of a workflow step (None on other endpoints, and on a
    workflow step that declares none: its outputs are then unknown until it runs)."""
    if step.endpoint != WORKFLOWS:
        return None
    if step.outputs is None:
        return ()
    return tuple(output.media for output in step.outputs)


def undeclared_outputs(ref: Ref) -> Diagnostic:
    """RP302 for a reference to a workflow step that declares no outputs."""
    return make(
        "RP302",
        f"'{ref.text}' names an output of workflow step '{ref.step}', whose outputs are known "
        "only after it runs: a reference needs them declared",
        ref.span,
        hint=f"declare them on step '{ref.step}', e.g. `outputs: [{{media: video}}]`, in the "
        "order the workflow returns them",
    )


def misplaced_outputs(name: str, step: Step, source_map: SourceMap) -> Diagnostic | None:
    """RP105 for ``outputs`` on a step that is not a workflow's (the catalog says what those
    make)."""
    if step.outputs is None or step.endpoint == WORKFLOWS:
        return None
    return make(
        "RP105",
        "unknown key 'outputs': only a workflow step (endpoint: workflows) declares its outputs",
        source_map.key(("steps", name, "outputs")),
        hint=f"remove it: what {step.endpoint} makes is known from its model",
    )
