"""The library's public surface agrees with docs/api.md: the packages its "What is public" names
export names that resolve and carry docstrings, every top-level name is documented, and every
name the page cites or imports exists where the page says and is exported there."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import runway_plan

API = Path(__file__).parent.parent / "docs" / "api.md"
PUBLIC = (
    "runway_plan",
    "runway_plan.diagnostics",
    "runway_plan.plan",
    "runway_plan.execute",
    "runway_plan.emulator",
)
DOTTED = re.compile(r"\brunway_plan(?:\.[A-Za-z_]\w*)+")
PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _page() -> str:
    return API.read_text(encoding="utf-8")


def _resolve(dotted: str) -> tuple[ModuleType, list[str]]:
    """The longest importable module prefix of ``dotted`` and the attribute names after it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        return module, parts[cut:]
    raise AssertionError(f"{dotted}: no module of it imports")


def test_the_page_names_the_public_packages() -> None:
    text = " ".join(_page().split("## What is public", 1)[1].split())
    for name in PUBLIC[1:]:
        assert f"`{name}`" in text, name


@pytest.mark.parametrize("name", PUBLIC)
def test_each_exported_name_resolves_once_and_has_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    exported: list[str] = module.__all__
    assert exported and len(set(exported)) == len(exported)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.{attribute}"
        value: Any = getattr(module, attribute)
        if inspect.isclass(value) or inspect.isfunction(value):
            doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
            assert doc and not doc.startswith(f"{value.__name__}("), f"{name}.{attribute}"


def test_every_top_level_name_is_on_the_page() -> None:
    page = _page()
    missing = [
        name
        for name in runway_plan.__all__
        if not name.startswith("__") and not re.search(rf"`[^`]*\b{name}\b[^`]*`", page)
    ]
    assert missing == []


def test_every_dotted_name_on_the_page_exists_and_public_ones_are_exported() -> None:
    cited = sorted(set(DOTTED.findall(_page())) - {"runway_plan.__all__"})
    assert len(cited) > 20
    for dotted in cited:
        module, attributes = _resolve(dotted)
        value: Any = module
        for attribute in attributes:
            assert hasattr(value, attribute), dotted
            value = getattr(value, attribute)
        if module.__name__ in PUBLIC and attributes:
            assert attributes[0] in module.__all__, dotted


def test_the_examples_import_only_exported_names_from_the_public_packages() -> None:
    imported = 0
    for body in PYTHON.findall(_page()):
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, ast.ImportFrom) and node.module in PUBLIC:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert alias.name in module.__all__, f"{node.module}.{alias.name}"
                    imported += 1
    assert imported >= 10
