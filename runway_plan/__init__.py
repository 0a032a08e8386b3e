"""runway-plan: compile, validate, price, schedule and run Runway generation pipelines."""

__version__ = "0.1.0"

__all__ = ["__version__"]
