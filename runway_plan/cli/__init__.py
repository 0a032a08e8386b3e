"""The ``runway-plan`` command line.

Each command module registers its commands on :data:`main`; all but the linter's are imported
only when one of their commands runs (or help lists them).
"""

from runway_plan.performance import imports_frozen

with imports_frozen():
    from runway_plan.cli import lint  # noqa: F401  (registers validate, schema, codes)
    from runway_plan.cli.app import main

main.lazy_modules.update(
    {
        "plan": "runway_plan.cli.plan",
        "graph": "runway_plan.cli.plan",
        "diff": "runway_plan.cli.plan",
        "emulate": "runway_plan.cli.emulate",
        "run": "runway_plan.cli.run",
        "status": "runway_plan.cli.status",
        "cancel": "runway_plan.cli.status",
        "migrate": "runway_plan.cli.status",
        "report": "runway_plan.cli.report",
        "prices": "runway_plan.cli.prices",
        "compile": "runway_plan.cli.compile",
    }
)

__all__ = ["main"]
