"""runway-plan: compile, validate, price, schedule and run Runway generation pipelines.

The stages are verbs and their artifacts nouns::

    document = load_document("specs/launch.yaml")
    graph = compile_spec(document, load_catalog())
    diagnostics = validate(graph)

``check_file(path)`` does all three (with the packaged catalog unless given one).  Every
problem is a :class:`Diagnostic`; nothing raises for bad input, and what the library raises
otherwise derives from :class:`RunwayPlanError`.  ``docs/api.md`` documents the
library, planning and running included, with examples a test runs.
"""

from typing import TYPE_CHECKING

from runway_plan._version import __version__
from runway_plan.performance import lazy_attributes

if TYPE_CHECKING:
    from runway_plan.catalog import Catalog, load_catalog
    from runway_plan.compile import Graph, compile_spec
    from runway_plan.diagnostics import Diagnostic, Severity, Span
    from runway_plan.errors import RunwayPlanError
    from runway_plan.source import Document, load_document
    from runway_plan.spec import Spec
    from runway_plan.validate import check_document, check_file, validate

# The public names are imported on first use, so that ``import runway_plan`` stays cheap.
__getattr__ = lazy_attributes(
    __name__,
    globals(),
    {
        "Catalog": "catalog",
        "load_catalog": "catalog",
        "Graph": "compile",
        "compile_spec": "compile",
        "Diagnostic": "diagnostics",
        "Severity": "diagnostics",
        "Span": "diagnostics",
        "RunwayPlanError": "errors",
        "Document": "source",
        "load_document": "source",
        "Spec": "spec",
        "check_document": "validate",
        "check_file": "validate",
        "validate": "validate",
    },
)

__all__ = [
    "Catalog",
    "Diagnostic",
    "Document",
    "Graph",
    "RunwayPlanError",
    "Severity",
    "Span",
    "Spec",
    "__version__",
    "check_document",
    "check_file",
    "compile_spec",
    "load_catalog",
    "load_document",
    "validate",
]
