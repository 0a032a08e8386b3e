"""``python -m runway_plan``."""

from runway_plan.cli import main

main()
