"""Compile a parsed spec: render templates, expand fan-outs, resolve references, build the DAG."""

from __future__ import annotations

from runway_plan.compile.compiler import (
    Generation,
    Graph,
    Ref,
    StepNode,
    compile_request,
    compile_spec,
    index_out_of_range,
    local_length,
    unknown_step,
)

__all__ = [
    "Generation",
    "Graph",
    "Ref",
    "StepNode",
    "compile_request",
    "compile_spec",
    "index_out_of_range",
    "local_length",
    "unknown_step",
]
