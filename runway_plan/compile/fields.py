"""Walk a step's request fields by data path: copy with values replaced, find the template
strings (:func:`runway_plan.catalog.assets.get_path` reads a value)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runway_plan.compile.templating import is_template
from runway_plan.source import DataPath

__all__ = ["replaced", "template_paths"]


def replaced(
    fields: dict[str, Any], paths: list[DataPath], value: Callable[[DataPath], Any]
) -> dict[str, Any]:
    """A copy of ``fields`` with the value at each path replaced (the other parts shared)."""
    if not paths:
        return fields
    request: dict[str, Any] = dict(fields)
    copied = {id(request)}
    for path in paths:
        parent: Any = request
        for part in path[:-1]:
            child = parent[part]
            if id(child) not in copied:
                child = dict(child) if isinstance(child, dict) else list(child)
                copied.add(id(child))
                parent[part] = child
            parent = child
        parent[path[-1]] = value(path)
    return request


def template_paths(value: Any, at: DataPath) -> list[DataPath]:
    """Paths of the template strings inside ``value``."""
    if isinstance(value, str):
        return [at] if is_template(value) else []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in template_paths(item, (*at, key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in template_paths(item, (*at, i))]
    return []
