"""``@step`` references: collect them from request fields, and the diagnostics for a reference
to a step the spec does not have (RP300) or an output it does not make (RP302)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from runway_plan.compile.graph import REFERENCE, Ref
from runway_plan.compile.templating import is_template
from runway_plan.diagnostics import Diagnostic, Span, make
from runway_plan.source import DataPath, SourceMap

__all__ = ["collect_refs", "index_out_of_range", "unknown_step"]


def unknown_step(
    name: str, steps: Iterable[str], span: Span | None, *, reference: bool = True
) -> Diagnostic:
    """RP300 for a step the spec does not have, with a did-you-mean written as the place
    names steps: ``'@hero'`` for a reference, ``'hero'`` for ``needs``."""
    close = difflib.get_close_matches(name, list(steps), n=1, cutoff=0.6)
    hint = f"did you mean '{'@' * reference}{close[0]}'?" if close else None
    return make("RP300", f"unknown step '{name}'", span, hint=hint)


def index_out_of_range(ref: Ref, count: int) -> Diagnostic:
    """RP302 for ``@step[i]`` past the ``count`` outputs of its step."""
    return make(
        "RP302",
        f"'{ref.text}' is out of range: step '{ref.step}' has {count} "
        f"output{'s' if count != 1 else ''}",
        ref.span,
        hint=f"valid indexes are 0 to {count - 1}" if count else None,
    )


def collect_refs(
    value: Any,
    at: DataPath,
    out: list[tuple[DataPath, Ref]],
    source_map: SourceMap,
    base: DataPath,
    *,
    skip_templates: bool = False,
) -> None:
    if isinstance(value, str):
        if value.startswith("@") and not (skip_templates and is_template(value)):
            match = REFERENCE.match(value)
            if match:
                index = match["index"]
                out.append(
                    (
                        at,
                        Ref(
                            step=match["step"],
                            index=int(index) if index is not None else None,
                            span=source_map.value((*base, *at)),
                            text=value,
                        ),
                    )
                )
    elif isinstance(value, dict):
        for key, item in value.items():
            collect_refs(item, (*at, key), out, source_map, base, skip_templates=skip_templates)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            collect_refs(item, (*at, index), out, source_map, base, skip_templates=skip_templates)
