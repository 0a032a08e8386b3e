"""runway-plan: compile, validate, price, schedule and run Runway generation pipelines.

The stages are verbs and their artifacts nouns::

    document = load_document("specs/launch.yaml")
    graph = compile_spec(document, load_catalog())
    diagnostics = validate(graph)

``check_file`` does all three.  Every problem is a :class:`Diagnostic`; nothing raises for bad
input.
"""

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runway_plan.catalog import Catalog, load_catalog
    from runway_plan.compile import Graph, compile_spec
    from runway_plan.diagnostics import Diagnostic, Severity, Span
    from runway_plan.source import Document, load_document
    from runway_plan.spec import Spec
    from runway_plan.validate import check_file, validate

_EXPORTS = {
    "Catalog": "runway_plan.catalog",
    "load_catalog": "runway_plan.catalog",
    "Graph": "runway_plan.compile",
    "compile_spec": "runway_plan.compile",
    "Diagnostic": "runway_plan.diagnostics",
    "Severity": "runway_plan.diagnostics",
    "Span": "runway_plan.diagnostics",
    "Document": "runway_plan.source",
    "load_document": "runway_plan.source",
    "Spec": "runway_plan.spec",
    "check_file": "runway_plan.validate",
    "validate": "runway_plan.validate",
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use so that ``import runway_plan`` stays cheap."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runway_plan' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Catalog",
    "Diagnostic",
    "Document",
    "Graph",
    "Severity",
    "Span",
    "Spec",
    "__version__",
    "check_file",
    "compile_spec",
    "load_catalog",
    "load_document",
    "validate",
]
