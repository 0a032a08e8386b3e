"""Load a YAML or JSON document into plain data and a map from data paths to source spans.

YAML is composed with PyYAML's C loader and walked by hand so that every value keeps its
position, duplicate keys are caught (PyYAML silently keeps the last) and YAML 1.1 surprises
(``no`` read as false, ``1:30`` read as 90) can be reported where a string was meant.
JSON is checked with the standard library first, for its exact syntax errors, then composed the
same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runway_plan.diagnostics import Diagnostic, Span, make

__all__ = ["DataPath", "Document", "SourceMap", "load_document", "parse_document"]

DataPath = tuple[str | int, ...]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SourceMap:
    """Spans of the values and mapping keys of a document, found by data path.

    The map keeps the composed YAML node tree and looks paths up lazily (indexing a mapping's
    keys the first time it is searched), so loading a large spec costs no more than building
    its data.
    """

    def __init__(self, path: str, root: yaml.Node | None = None) -> None:
        self.path = path
        self.root = root
        self._index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def value(self, path: DataPath) -> Span:
        """The span of the value at ``path``, or of its nearest located ancestor."""
        found = self._find(path)
        return _span(self.path, found[1]) if found else Span.file(self.path)

    def key(self, path: DataPath) -> Span:
        """The span of the mapping key at ``path`` (falls back to the value's span)."""
        found = self._find(path)
        if found is None:
            return Span.file(self.path)
        key_node, value_node, exact = found[0], found[1], found[2]
        return _span(self.path, key_node if exact and key_node is not None else value_node)

    def missing(self, path: DataPath) -> Span:
        """Where to report that the key at ``path`` is missing: its mapping's own key."""
        return self.key(path[:-1])

    def trap(self, path: DataPath) -> str | None:
        """The source text of the scalar at ``path`` when YAML 1.1 read it as a non-string."""
        found = self._find(path)
        if found is None or not found[2]:
            return None
        node = found[1]
        if isinstance(node, yaml.ScalarNode) and not node.style and _is_yaml11_trap(node):
            return str(node.value)
        return None

    def _entries(self, node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        entries = self._index.get(id(node))
        if entries is None:
            entries = {}
            merges = []
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    merges.append(value_node)
                elif isinstance(key_node, yaml.ScalarNode):
                    entries.setdefault(str(key_node.value), (key_node, value_node))
            for merge in merges:
                sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
                for source in sources:
                    if isinstance(source, yaml.MappingNode):
                        for name, pair in self._entries(source).items():
                            entries.setdefault(name, pair)
            self._index[id(node)] = entries
        return entries

    def _find(self, path: DataPath) -> tuple[yaml.Node | None, yaml.Node, bool] | None:
        node = self.root
        if node is None:
            return None
        key_node: yaml.Node | None = None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                pair = self._entries(node).get(str(part))
                if pair is None:
                    return key_node, node, False
                key_node, node = pair
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    return key_node, node, False
                key_node, node = None, node.value[part]
            else:
                return key_node, node, False
        return key_node, node, True


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


class _Unsafe(Exception):
    """The document's structure cannot be expanded safely; carries the diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


MAX_DEPTH = 100
"""Deepest nesting of collections a spec may have; real specs stay under ten."""

MAX_ALIAS_EXPANSION = 100_000
"""Values that aliases may add to a document by repeating anchored nodes (billion laughs)."""


class _Walker:
    """Builds plain data from composed nodes, reporting duplicate keys.

    Aliases make the composed tree a graph: a node met again inside itself is refused, and so
    is a document whose aliases would repeat more than ``MAX_ALIAS_EXPANSION`` values.
    """

    def __init__(self, path: str, loader: yaml.CSafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.diagnostics: list[Diagnostic] = []
        self._seen: set[int] = set()
        self._open: set[int] = set()
        self._repeated = 0

    def walk(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            return self.loader.construct_object(node, deep=True)
        identity = id(node)
        if identity in self._open:
            raise _Unsafe(
                make(
                    "RP109",
                    "an alias refers to a collection that contains it",
                    _span(self.path, node),
                    hint="a spec is a tree: copy the values instead of aliasing an ancestor",
                )
            )
        if len(self._open) >= MAX_DEPTH:
            raise _Unsafe(
                make(
                    "RP109",
                    f"values nest more than {MAX_DEPTH} levels deep",
                    _span(self.path, node),
                )
            )
        if identity in self._seen:
            self._repeated += len(node.value)
            if self._repeated > MAX_ALIAS_EXPANSION:
                raise _Unsafe(
                    make(
                        "RP109",
                        f"aliases expand the document past {MAX_ALIAS_EXPANSION:,} values",
                        _span(self.path, node),
                        hint="an anchor repeated inside repeated anchors grows exponentially",
                    )
                )
        self._seen.add(identity)
        self._open.add(identity)
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node)
            return [self.walk(item) for item in node.value]
        finally:
            self._open.discard(identity)

    def _mapping(self, node: yaml.MappingNode) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_key: dict[Any, yaml.Node] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.diagnostics.append(
                    make("RP104", "mapping keys must be plain scalars", _span(self.path, key_node))
                )
                continue
            key = key_node.value if key_node.tag == _STR_TAG else str(self.walk(key_node))
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
            result[key] = self.walk(value_node)
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.diagnostics.append(
                        make("RP104", "a merge key (<<) takes a mapping", _span(self.path, source))
                    )
                    continue
                for key, value in self.walk(source).items():
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
        except RecursionError:
            message = f"values nest more than {MAX_DEPTH} levels deep"
            return Document(None, source_map, text, [make("RP109", message, Span.file(path))])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, source_map, text, [])
        source_map.root = node
        walker = _Walker(path, loader)
        data = walker.walk(node)
    except yaml.YAMLError as exc:
        return Document(None, source_map, text, [_syntax_error(path, exc)])
    except _Unsafe as exc:
        return Document(None, SourceMap(path), text, [exc.diagnostic])
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
