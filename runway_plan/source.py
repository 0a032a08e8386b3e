"""Load a YAML or JSON document into plain data and a map from data paths to source spans.

YAML is composed with PyYAML's C loader and walked by hand so that every value keeps its
position, duplicate keys are caught (PyYAML silently keeps the last) and YAML 1.1 surprises
(``no`` read as false, ``1:30`` read as 90) can be reported where a string was meant.
JSON is checked with the standard library first, for its exact syntax errors, then composed the
same way, its numbers read as JSON reads them.

A document is untrusted input: only plain data is built (no tag beyond the standard scalars),
every number is finite and fits in 64 bits, aliases cannot blow it up, nesting is bounded, and
a file is read only when it is a regular file no larger than the ``file_bytes`` limit.
"""

from __future__ import annotations

import json
import math
import os
import stat
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from runway_plan.diagnostics import DataPath, Diagnostic, Span, make
from runway_plan.diagnostics.display import display
from runway_plan.diagnostics.frame import source_lines
from runway_plan.limits import WorkLimits, over_limit

__all__ = [
    "INTEGER_RANGE",
    "DataPath",
    "Document",
    "SourceMap",
    "load_document",
    "parse_document",
    "read_limited",
]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SourceMap:
    """Spans of the values and mapping keys of a document, found by data path.

    The map keeps the composed YAML node tree and looks paths up lazily (indexing a mapping's
    keys the first time it is searched), so loading a large spec costs no more than building
    its data.
    """

    def __init__(
        self, path: str, root: yaml.Node | None = None, positions: _Positions | None = None
    ) -> None:
        self.path = path
        self.root = root
        self.positions = positions
        """The positions of a clean document, kept instead of its composed nodes."""
        self._index: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    def value(self, path: DataPath) -> Span:
        """The span of the value at ``path``, or of its nearest located ancestor."""
        if self.positions is not None:
            return self.positions.span(self.path, self.positions.find(path)[1])
        found = self._find(path)
        return _span(self.path, found[1]) if found else Span.file(self.path)

    def key(self, path: DataPath) -> Span:
        """The span of the mapping key at ``path`` (falls back to the value's span)."""
        if self.positions is not None:
            key, value, exact = self.positions.find(path)
            return self.positions.span(self.path, key if exact and key is not None else value)
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
        if self.positions is not None:
            _key, value, exact = self.positions.find(path)
            return self.positions.traps.get(value) if exact else None
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
            for pair in node.value:  # the composer's own (key, value) tuples, not copies
                key_node = pair[0]
                if key_node.tag == _MERGE_TAG:
                    merges.append(pair[1])
                elif isinstance(key_node, yaml.ScalarNode):
                    entries.setdefault(str(key_node.value), pair)
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


class _Positions:
    """Where every node of a document is, kept in place of the composed YAML nodes.

    The walker numbers the nodes as it reads them (a mapping's key, then its value, so a
    value's number is its key's plus one) and records each one's start and end in ``marks``,
    four numbers a node; ``kids`` holds, by number, a mapping's keys (name to key number,
    the first of each name) or a sequence's item numbers; ``traps`` the text of each scalar
    YAML 1.1 read as a non-string.  A tenth of the memory of the nodes, for documents the
    walker read without a problem or a merge key (the others keep their nodes).
    """

    __slots__ = ("kids", "marks", "traps")

    def __init__(self, wide: bool = False) -> None:
        self.marks = array("q" if wide else "i")
        """Four numbers a node: 32 bits each unless a line or column could need more."""
        self.kids: dict[int, dict[str, int] | list[int]] = {}
        self.traps: dict[int, str] = {}

    def add(self, node: yaml.Node) -> int:
        """Number ``node`` and record where it is."""
        start, end = node.start_mark, node.end_mark
        number = len(self.marks) >> 2
        self.marks.extend((start.line, start.column, end.line, end.column))
        return number

    def find(self, path: DataPath) -> tuple[int | None, int, bool]:
        """The numbers of the key and value at ``path`` (of the nearest ancestor found, when
        the path goes on past what the document holds, and then False)."""
        kids = self.kids
        key: int | None = None
        node = 0
        for part in path:
            below = kids.get(node)
            if type(below) is dict:
                found = below.get(str(part))
                if found is None:
                    return key, node, False
                key, node = found, found + 1
            elif type(below) is list and isinstance(part, int):
                if not 0 <= part < len(below):
                    return key, node, False
                key, node = None, below[part]
            else:
                return key, node, False
        return key, node, True

    def span(self, path: str, node: int) -> Span:
        at = 4 * node
        line, column, end_line, end_column = self.marks[at : at + 4]
        return Span(path, line + 1, column + 1, end_line + 1, end_column + 1)


@dataclass
class Document:
    """Parsed data with its source map, and the problems found while reading it."""

    data: Any
    source_map: SourceMap
    text: str
    diagnostics: list[Diagnostic]
    syntax_error: bool = False
    """True when the text is not YAML (or JSON) at all; ``diagnostics`` then says where."""


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

INTEGER_RANGE = (-(2**63), 2**63 - 1)
"""The integers a document may hold: those of a signed 64-bit number, as JSON APIs take them."""

_YAML = "tag:yaml.org,2002:"
_MAP_TAG = _YAML + "map"
_SEQ_TAG = _YAML + "seq"
_NULL_TAG = _YAML + "null"
_BOOL_TAG = _YAML + "bool"
_INT_TAG = _YAML + "int"
_FLOAT_TAG = _YAML + "float"
_CONSTRUCTORS: dict[str, tuple[Callable[[Any, yaml.ScalarNode], Any], str]] = {
    _NULL_TAG: (SafeConstructor.construct_yaml_null, "null"),
    _BOOL_TAG: (SafeConstructor.construct_yaml_bool, "a boolean"),
    _INT_TAG: (SafeConstructor.construct_yaml_int, "an integer"),
    _FLOAT_TAG: (SafeConstructor.construct_yaml_float, "a number"),
    _YAML + "timestamp": (SafeConstructor.construct_yaml_timestamp, "a date"),
}
"""The scalar tags a document may use besides strings, and what each reads its text as."""

_MAX_NUMBER_TEXT = 100
"""Longest text read as a number; any longer integer is out of range anyway."""

# PyYAML's constructors raise these (not YAMLError) for text their tag cannot read.
_CONSTRUCTOR_ERRORS = (ValueError, LookupError, AttributeError, TypeError, OverflowError)
_BAD = object()
"""Stands for a value that could not be read (reported)."""


def _tag_text(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


class _Walker:
    """Builds plain data from composed nodes, reporting duplicate keys and unreadable values.

    Aliases make the composed tree a graph: a node met again inside itself is refused, and so
    is a document whose aliases would repeat more than ``MAX_ALIAS_EXPANSION`` values.  Only
    plain data is built: strings, numbers (finite, integers within :data:`INTEGER_RANGE`),
    booleans, null, dates, lists and mappings with string keys; any other tag is refused where
    it stands, and so is a value its tag cannot read (``!!bool maybe``).  Such a value makes
    the document unreadable (:attr:`unreadable`), but the walk goes on, so that every one is
    reported.  In JSON, a plain scalar is read as JSON reads it (``1e1`` is the number 10).
    """

    def __init__(
        self, path: str, loader: yaml.CSafeLoader, *, json_syntax: bool, wide: bool = False
    ) -> None:
        self.path = path
        self.loader = loader
        self.json = json_syntax
        self.diagnostics: list[Diagnostic] = []
        self.unreadable = False
        self._seen: set[int] = set()
        self._open: set[int] = set()
        self._repeated = 0
        self.positions = _Positions(wide)
        self.merges = False
        """True when a mapping merges others (``<<``): its positions are not kept."""

    def refuse(self, code: str, message: str, node: yaml.Node, hint: str | None = None) -> Any:
        """Report a value that cannot be read; the document is then unreadable."""
        self.diagnostics.append(make(code, message, _span(self.path, node), hint=hint))
        self.unreadable = True
        return _BAD

    def walk(self, node: yaml.Node) -> Any:
        positions = self.positions
        marks = positions.marks  # positions.add(node), inlined
        own = len(marks) >> 2
        start, end = node.start_mark, node.end_mark
        marks.extend((start.line, start.column, end.line, end.column))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG and (node.style or not self.json):
                return node.value
            if not node.style and _is_yaml11_trap(node):
                positions.traps[own] = str(node.value)
            return self.scalar(node)
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
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            return self.unknown_tag(node)
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
                return self._mapping(node, own)
            items = []
            numbers = []
            marks = positions.marks
            for item in node.value:
                numbers.append(len(marks) >> 2)
                items.append(self.walk(item))
            positions.kids[own] = numbers
            return items
        finally:
            self._open.discard(identity)

    def unknown_tag(self, node: yaml.Node) -> Any:
        return self.refuse(
            "RP116",
            f"the YAML tag '{_tag_text(node.tag)}' is not allowed in a spec",
            node,
            hint="a spec holds plain data: strings, numbers, booleans, null, lists and mappings",
        )

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """The value of a scalar that is not a plain string."""
        if self.json and not node.style:
            return self.json_scalar(node)
        found = _CONSTRUCTORS.get(node.tag)
        if found is None:
            return self.unknown_tag(node)
        construct, kind = found
        text = node.value
        if node.tag in (_INT_TAG, _FLOAT_TAG) and len(text) > _MAX_NUMBER_TEXT:
            return self.out_of_range(node)
        try:
            value = construct(self.loader, node)
        except _CONSTRUCTOR_ERRORS:
            return self.refuse(
                "RP100", f"cannot read {_tag_text(node.tag)} {_excerpt(text)} as {kind}", node
            )
        return self.number(value, node)

    def json_scalar(self, node: yaml.ScalarNode) -> Any:
        """A plain JSON scalar: ``true``, ``false``, ``null`` or a number, read as JSON does."""
        text = node.value
        if len(text) > _MAX_NUMBER_TEXT:
            return self.out_of_range(node)
        try:
            value = json.loads(text)
        except ValueError:
            return self.refuse("RP100", f"cannot read {_excerpt(text)} as a JSON value", node)
        return self.number(value, node)

    def number(self, value: Any, node: yaml.ScalarNode) -> Any:
        """``value``, unless it is a number a spec cannot hold (reported)."""
        if type(value) is float and not math.isfinite(value):
            return self.refuse(
                "RP117",
                f"{_excerpt(node.value)} is not a finite number",
                node,
                hint="every number in a spec is finite; write the value the field takes",
            )
        if type(value) is int and not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
            return self.out_of_range(node)
        return value

    def out_of_range(self, node: yaml.ScalarNode) -> Any:
        return self.refuse(
            "RP117",
            f"{_excerpt(node.value)} is outside the numbers a spec may hold (64-bit integers "
            "and finite floats)",
            node,
        )

    def key(self, node: yaml.Node) -> str | None:
        """A mapping key as a string, or None when it cannot be one (reported)."""
        if not isinstance(node, yaml.ScalarNode):
            self.diagnostics.append(
                make("RP104", "mapping keys must be plain scalars", _span(self.path, node))
            )
            return None
        if node.tag == _STR_TAG:
            return str(node.value)
        if node.tag in (_BOOL_TAG, _NULL_TAG):
            kind = "boolean" if node.tag == _BOOL_TAG else "null"
            self.diagnostics.append(
                make(
                    "RP104",
                    f"the key '{node.value}' is read as a {kind}, not a name",
                    _span(self.path, node),
                    hint=f'quote it: "{node.value}":',
                )
            )
            return None
        value = self.scalar(node)
        return None if value is _BAD else str(value)

    def _mapping(self, node: yaml.MappingNode, own: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_key: dict[Any, yaml.Node] = {}
        merges: list[yaml.Node] = []
        positions = self.positions
        marks = positions.marks
        names: dict[str, int] = {}
        positions.kids[own] = names
        plain = _STR_TAG
        for key_node, value_node in node.value:
            tag = key_node.tag
            if tag == plain and isinstance(key_node, yaml.ScalarNode):
                key = text = key_node.value  # what self.key(key_node) gives, without a call
            elif tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            else:
                key = self.key(key_node)
                if key is None:
                    continue
                text = str(key_node.value)
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
            if text not in names:
                names[text] = len(marks) >> 2
            start, end = key_node.start_mark, key_node.end_mark
            if (
                value_node.tag == plain
                and isinstance(value_node, yaml.ScalarNode)
                and (value_node.style or not self.json)
            ):  # a string: what self.walk(value_node) records and gives, without a call
                at, to = value_node.start_mark, value_node.end_mark
                marks.extend((start.line, start.column, end.line, end.column, at.line, at.column))
                marks.extend((to.line, to.column))
                result[key] = value_node.value
            else:
                marks.extend((start.line, start.column, end.line, end.column))
                result[key] = self.walk(value_node)
        self.merges = self.merges or bool(merges)
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.diagnostics.append(
                        make("RP104", "a merge key (<<) takes a mapping", _span(self.path, source))
                    )
                    continue
                merged = self.walk(source)
                if isinstance(merged, dict):
                    for key, value in merged.items():
                        result.setdefault(key, value)
        return result


_CONTEXTS = {
    "while parsing a block mapping": "the mapping",
    "while parsing a flow mapping": "the mapping",
    "while parsing a block collection": "the list",
    "while parsing a flow sequence": "the list",
    "while scanning a quoted scalar": "the quoted string",
    "while parsing a quoted scalar": "the quoted string",
    "while scanning a simple key": "the key",
    "while scanning a block scalar": "the block string",
    "expected a single document in the stream": "the first document",
}
"""What the parser was reading, by its context text: the related place ``... starts here``."""

_PROBLEMS = (
    (
        "did not find expected key",
        "expected a key (name: value) here",
        "a quote opened above may not be closed, or this line is indented unlike its neighbours",
    ),
    (
        "mapping values are not allowed",
        "': ' here would start a mapping where none can start",
        'quote a value that holds ": " ("a: b"), or put a nested mapping on lines of its own',
    ),
    (
        "could not find expected ':'",
        "expected ':' after this key",
        "write key: value, or quote a string that goes on over several lines",
    ),
    ("did not find expected node content", "expected a value here", None),
    (
        "did not find expected '-' indicator",
        "expected a list item ('- ') here, as on the lines above",
        "a list and a mapping cannot share one level of indentation",
    ),
    ("did not find expected ',' or ']'", "expected ',' or ']' in this list", None),
    ("did not find expected ',' or '}'", "expected ',' or '}' in this mapping", None),
    (
        "found unexpected end of stream",
        "the quoted string is not closed before the end of the file",
        "close it with the quote it opens with",
    ),
    (
        "found unknown escape character",
        "unknown escape in a double-quoted string",
        "write a backslash as \\\\, or use single quotes, where a backslash is plain",
    ),
    (
        "found undefined alias",
        "this alias (*name) refers to no anchor (&name) defined before it",
        None,
    ),
    (
        "but found another document",
        "the file holds more than one YAML document",
        "a spec is one document: remove the '---' line, or split the file",
    ),
    ("found a tab character", "a tab in the indentation", "YAML indents with spaces, not tabs"),
    ("found unexpected ':'", "unexpected ':'", 'quote a value that holds ":"'),
    (
        "did not find expected <document start>",
        "expected the start of a document ('---') here",
        "a line that starts with '%' is a YAML directive; quote a value that starts with '%'",
    ),
    (
        "did not find expected comment or line break",
        "only a comment may follow '|' or '>' on its line",
        "a block string's text starts on the next line; quote a value that starts with | or >",
    ),
    (
        "found an indentation indicator equal to 0",
        "a block string's indentation indicator cannot be 0",
        None,
    ),
    (
        "block sequence entries are not allowed",
        "'- ' here would start a list where none can start",
        "put a list on lines of its own, indented under its key",
    ),
    (
        "mapping keys are not allowed",
        "'? ' here would start a mapping key where none can start",
        "quote a value that starts with '?'",
    ),
)
"""The parser's problems in runway-plan's words, with a hint, by the start of its text."""

_BY_CONTEXT = {
    "while scanning a directive": (
        "a line that starts with '%' is a YAML directive, and this one is not valid",
        "quote a value that starts with '%'",
    ),
    "while scanning an alias": (
        "'*' starts an alias, and no alias name follows",
        "quote a value that starts with '*'",
    ),
    "while scanning an anchor": (
        "'&' starts an anchor, and no anchor name follows",
        "quote a value that starts with '&'",
    ),
    "while scanning a tag": (
        "'!' starts a YAML tag, and this one is not valid",
        "quote a value that starts with '!'",
    ),
    "while parsing a tag": (
        "'!' starts a YAML tag, and this one is not valid",
        "quote a value that starts with '!'",
    ),
    "while parsing a node": (
        "'!' starts a YAML tag, and this one is not valid",
        "quote a value that starts with '!'",
    ),
}
"""Problems said by what the parser was reading, whatever its words for them."""


def _unexpected_char(char: str) -> tuple[str, str | None]:
    if char == "\t":
        return "a tab where YAML expects a value or indentation", "YAML indents with spaces"
    if char in "@`":
        return (
            f"'{char}' cannot start a plain value (YAML reserves it)",
            f'quote the value: "{char}..."',
        )
    shown = display(char) if char else "the end of the file"
    return f"'{shown}' cannot start a value here", "quote the value"


def _place(text: str, line: int, col: int) -> tuple[int, int]:
    """A 1-based position the parser gave; one at the end of the file (past its last line,
    as libyaml ends a stream with a line break of its own, or on the blank lines that end
    it) is moved to the end of the last line that is not blank, where the reader looks."""
    lines = source_lines(text)
    if any(rest.strip() for rest in lines[line - 1 :]):
        return line, col
    last = max((n for n, rest in enumerate(lines) if rest.strip()), default=0)
    return last + 1, len(lines[last].rstrip()) + 1


def _char_at(text: str, line: int, col: int) -> str:
    lines = source_lines(text)
    return lines[line - 1][col - 1 : col] if line <= len(lines) else ""


def _reader_error(path: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    """A character YAML refuses in a stream (a control character), where it stands."""
    position = exc.position
    if _Loader is not yaml.SafeLoader:  # libyaml counts bytes of UTF-8
        position = len(text.encode("utf-8")[:position].decode("utf-8", errors="ignore"))
    before = source_lines(text[:position])
    line, col = len(before), len(before[-1]) + 1
    character = exc.character
    if isinstance(character, int) and exc.reason == "control characters are not allowed":
        shown = display(chr(character))
        message = f"YAML syntax error: the control character {shown} is not allowed"
        hint = f'write it as an escape in a double-quoted string: "{shown}"'
    else:
        message, hint = f"YAML syntax error: {exc.reason}", None
    return make("RP100", message, Span(path, line, col, line, col + 1), hint=hint)


def _syntax_error(path: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    """A YAML syntax error in runway-plan's words, at the parser's position, with the place
    where what it was reading starts (a mapping, a list, a quoted string)."""
    if isinstance(exc, yaml.reader.ReaderError):
        return _reader_error(path, text, exc)
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    problem = str(getattr(exc, "problem", None) or "")
    context = str(getattr(exc, "context", None) or "")
    mark = problem_mark or context_mark
    line, col = _place(text, mark.line + 1, mark.column + 1) if mark else (1, 1)
    words, hint = next(
        ((said, hint) for start, said, hint in _PROBLEMS if problem.startswith(start)),
        (problem or "the parser cannot read the file", None),
    )
    if problem.startswith("found character that cannot start any token"):
        words, hint = _unexpected_char(_char_at(text, line, col))
    words, hint = _BY_CONTEXT.get(context, (words, hint))
    related = []
    thing = _CONTEXTS.get(context)
    if thing and context_mark is not None and context_mark is not mark:
        at_line, at_col = _place(text, context_mark.line + 1, context_mark.column + 1)
        if (at_line, at_col) != (line, col):
            if problem.startswith("found unexpected end of stream"):
                line, col = at_line, at_col  # the quote that is not closed
            else:
                related.append(
                    (f"{thing} starts here", Span(path, at_line, at_col, at_line, at_col + 1))
                )
    span = Span(path, line, col, line, col + 1)
    return make("RP100", f"YAML syntax error: {words}", span, hint=hint, related=related)


def _json_error(path: str, exc: json.JSONDecodeError) -> Diagnostic:
    return make(
        "RP100",
        f"JSON syntax error: {exc.msg}",
        Span(path, exc.lineno, exc.colno, exc.lineno, exc.colno + 1),
    )


def parse_document(text: str, path: str, *, syntax: str | None = None) -> Document:
    """Parse ``text`` with positions: as JSON when ``syntax`` is ``"json"`` (by default, when
    ``path`` ends in .json), else as YAML; ``path`` is the name diagnostics use."""
    source_map = SourceMap(path)
    json_syntax = syntax == "json" if syntax is not None else path.endswith(".json")
    if json_syntax:
        try:
            json.loads(text, parse_int=_ignore, parse_float=_ignore, parse_constant=_ignore)
        except json.JSONDecodeError as exc:
            return Document(None, source_map, text, [_json_error(path, exc)], syntax_error=True)
        except RecursionError:
            message = f"values nest more than {MAX_DEPTH} levels deep"
            return Document(None, source_map, text, [make("RP109", message, Span.file(path))])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, source_map, text, [])
        source_map.root = node
        walker = _Walker(path, loader, json_syntax=json_syntax, wide=len(text) >= 2**31)
        data = walker.walk(node)
    except yaml.YAMLError as exc:
        return Document(None, source_map, text, [_syntax_error(path, text, exc)], syntax_error=True)
    except _Unsafe as exc:
        return Document(None, SourceMap(path), text, [exc.diagnostic])
    finally:
        loader.dispose()
    if not walker.diagnostics and not walker.merges:
        source_map = SourceMap(path, positions=walker.positions)  # the nodes are let go
    if walker.unreadable:
        return Document(None, source_map, text, walker.diagnostics)
    return Document(data, source_map, text, walker.diagnostics)


def _ignore(_text: str) -> None:
    """Stands for a JSON number while the syntax is checked (numbers are read later)."""


_NOT_REGULAR = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "not a regular file (a named pipe)"),
    (stat.S_ISCHR, "not a regular file (a device)"),
    (stat.S_ISBLK, "not a regular file (a device)"),
    (stat.S_ISSOCK, "not a regular file (a socket)"),
)


def read_limited(path: Path | str, name: str, max_bytes: int) -> bytes | Diagnostic:
    """The bytes of the regular file at ``path``, or the diagnostic that says why not.

    Nothing is read from a directory, a named pipe (opened without blocking), a device or a
    socket, nor from a file larger than ``max_bytes`` (RP118, the ``file_bytes`` limit): the
    size is checked before reading, and no more than ``max_bytes + 1`` bytes are read in case
    the file grows.  ``name`` is what diagnostics call the file.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return make("RP103", f"cannot read {name}: {reason}", Span.file(name))
    try:
        info = os.fstat(descriptor)
        for test, why in _NOT_REGULAR:
            if test(info.st_mode):
                return make("RP103", f"cannot read {name}: {why}", Span.file(name))
        if not stat.S_ISREG(info.st_mode):
            return make("RP103", f"cannot read {name}: not a regular file", Span.file(name))
        size = info.st_size
        if size > max_bytes:
            return over_limit(
                "file_bytes", WorkLimits(file_bytes=max_bytes), Span.file(name), f"{size:,} bytes"
            )
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        raw = b"".join(chunks)
    except OSError as exc:
        return make("RP103", f"cannot read {name}: {exc.strerror or exc}", Span.file(name))
    finally:
        os.close(descriptor)
    if len(raw) > max_bytes:
        return over_limit(
            "file_bytes", WorkLimits(file_bytes=max_bytes), Span.file(name), "the file grew"
        )
    return raw


def load_document(
    path: Path | str, display: str | None = None, *, max_bytes: int | None = None
) -> Document:
    """Read and parse the file at ``path``; ``display`` is the name diagnostics use.

    ``max_bytes`` is the ``file_bytes`` limit (its default when None).
    """
    name = display or str(path)
    raw = read_limited(path, name, WorkLimits().file_bytes if max_bytes is None else max_bytes)
    if isinstance(raw, Diagnostic):
        return Document(None, SourceMap(name), "", [raw])
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
