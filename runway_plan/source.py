"""Load a YAML or JSON document into plain data and a map from data paths to source spans.

YAML is composed with PyYAML's C loader and walked by hand so that every value keeps its
position, duplicate keys are caught (PyYAML silently keeps the last) and YAML 1.1 surprises
(``no`` read as false, ``1:30`` read as 90) can be reported where a string was meant.
JSON is checked with the standard library first, for its exact syntax errors, then composed the
same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runway_plan.diagnostics import Diagnostic, Span, make

__all__ = ["DataPath", "Document", "SourceMap", "load_document", "parse_document"]

DataPath = tuple[str | int, ...]

_Loader: type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class SourceMap:
    """Spans of the values (and mapping keys) of a document, by data path."""

    path: str
    values: dict[DataPath, Span] = field(default_factory=dict)
    keys: dict[DataPath, Span] = field(default_factory=dict)
    plain: dict[DataPath, str] = field(default_factory=dict)
    """The source text of unquoted scalars that did not resolve to strings (for YAML 1.1 traps)."""

    def value(self, path: DataPath) -> Span:
        """The span of the value at ``path``, or of its nearest located ancestor."""
        return self._nearest(self.values, path)

    def key(self, path: DataPath) -> Span:
        """The span of the mapping key at ``path`` (falls back to the value's span)."""
        span = self.keys.get(path)
        return span if span is not None else self.value(path)

    def _nearest(self, table: dict[DataPath, Span], path: DataPath) -> Span:
        for end in range(len(path), -1, -1):
            span = table.get(path[:end])
            if span is not None:
                return span
        return Span.file(self.path)


@dataclass
class Document:
    """Parsed data with its source map, and the problems found while reading it."""

    data: Any
    source_map: SourceMap
    text: str
    diagnostics: list[Diagnostic]


def _is_yaml11_trap(node: yaml.Node) -> bool:
    """True for plain scalars YAML 1.1 reads as non-strings that YAML 1.2 would not."""
    text = node.value
    if node.tag == "tag:yaml.org,2002:bool":
        return text.lower() not in ("true", "false")
    if node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float"):
        return ":" in text or "_" in text or (text.startswith("0") and text[1:2].isdigit())
    return False


def _span(path: str, node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


class _Walker:
    def __init__(self, path: str, loader: yaml.CSafeLoader, source_map: SourceMap) -> None:
        self.path = path
        self.loader = loader
        self.map = source_map
        self.diagnostics: list[Diagnostic] = []

    def walk(self, node: yaml.Node, at: DataPath) -> Any:
        self.map.values[at] = _span(self.path, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, at)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*at, index)) for index, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if not node.style and _is_yaml11_trap(node):
            self.map.plain[at] = node.value
        return value

    def _mapping(self, node: yaml.MappingNode, at: DataPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_key: dict[Any, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                self.diagnostics.append(
                    make("RP104", "mapping keys must be plain scalars", _span(self.path, key_node))
                )
                continue
            key = key if isinstance(key, str) else str(key)
            if key in first_key:
                earlier = _span(self.path, first_key[key])
                self.diagnostics.append(
                    make(
                        "RP101",
                        f"duplicate key '{key}' (first defined at line {earlier.line})",
                        _span(self.path, key_node),
                        hint="YAML would silently keep only the last value; remove one of them",
                        related=[("first definition", earlier)],
                    )
                )
                continue
            first_key[key] = key_node
            self.map.keys[(*at, key)] = _span(self.path, key_node)
            result[key] = self.walk(value_node, (*at, key))
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.diagnostics.append(
                        make("RP104", "a merge key (<<) takes a mapping", _span(self.path, source))
                    )
                    continue
                merged = self._mapping(source, at)
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


def _syntax_error(path: str, exc: Exception) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line, col = mark.line + 1, mark.column + 1
    else:
        line, col = 1, 1
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return make("RP100", message, Span(path, line, col, line, col + 1))


def _json_error(path: str, exc: json.JSONDecodeError) -> Diagnostic:
    return make(
        "RP100",
        f"JSON syntax error: {exc.msg}",
        Span(path, exc.lineno, exc.colno, exc.lineno, exc.colno + 1),
    )


def parse_document(text: str, path: str) -> Document:
    """Parse ``text`` (YAML, or JSON when ``path`` ends in .json) with positions."""
    source_map = SourceMap(path)
    if path.endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return Document(None, source_map, text, [_json_error(path, exc)])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, source_map, text, [])
        walker = _Walker(path, loader, source_map)
        data = walker.walk(node, ())
    except yaml.YAMLError as exc:
        return Document(None, source_map, text, [_syntax_error(path, exc)])
    except (ValueError, TypeError, OverflowError) as exc:
        return Document(
            None, source_map, text, [make("RP100", f"cannot read value: {exc}", Span.file(path))]
        )
    finally:
        loader.dispose()
    return Document(data, source_map, text, walker.diagnostics)


def load_document(path: Path | str, display: str | None = None) -> Document:
    """Read and parse the file at ``path``; ``display`` is the name diagnostics use."""
    name = display or str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return Document(
            None, SourceMap(name), "", [make("RP103", f"cannot read {name}: {reason}", None)]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Document(
            None,
            SourceMap(name),
            "",
            [make("RP100", f"not UTF-8 text: {exc.reason}", Span.file(name))],
        )
    return parse_document(text, name)
