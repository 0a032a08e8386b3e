"""Compile a parsed spec: render templates, expand fan-outs, resolve references, build the DAG.

:func:`compile_spec` (:mod:`.compiler`) turns a :class:`~runway_plan.source.Document` into a
:class:`Graph` (:mod:`.graph`) whose problems are diagnostics on ``graph.diagnostics``;
:func:`compile_request` (:mod:`.request`) does the same for one bare API request.  Templates
render in a sandbox (:mod:`.templating`, :mod:`.sandbox`), output lengths come from
:mod:`.durations`, ``@step`` references from :mod:`.references`, :mod:`.fields` walks request
fields by data path, and :mod:`.resources` makes the documents and avatars resource nodes.
"""

from __future__ import annotations

from runway_plan.compile.compiler import compile_spec
from runway_plan.compile.durations import local_length
from runway_plan.compile.graph import (
    AvatarNode,
    DocumentNode,
    Generation,
    Graph,
    Ref,
    StepNode,
    VoiceNode,
)
from runway_plan.compile.references import index_out_of_range, unknown_step
from runway_plan.compile.request import compile_request

__all__ = [
    "AvatarNode",
    "DocumentNode",
    "Generation",
    "Graph",
    "Ref",
    "StepNode",
    "VoiceNode",
    "compile_request",
    "compile_spec",
    "index_out_of_range",
    "local_length",
    "unknown_step",
]
