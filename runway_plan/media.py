"""The old name of :mod:`runway_plan.probe`, kept while ``plan/cost.py`` and
``execute/runner.py`` still import it; new code imports :mod:`runway_plan.probe`."""

from runway_plan.probe import MediaInfo, probe, probe_local, sniff

__all__ = ["MediaInfo", "probe", "probe_local", "sniff"]
