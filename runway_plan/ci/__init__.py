"""The steps of runway-plan's pre-commit hooks and GitHub Action, as one testable script.

``python -m runway_plan.ci STEP`` runs one step (see :mod:`runway_plan.ci.__main__`): the
``budget`` hook, and the action's ``validate``, ``report``, ``emulate``, ``comment`` and
``gate``.  Each step runs the ``runway-plan`` command line as a user would, so the action
checks exactly what a developer sees at home; the steps share a work folder where each
records its outcome, and ``gate`` fails the job at the end when one of them found errors.
"""
