"""The tool's version, in a module of its own so that any stage may read it."""

__version__ = "0.2.0"
