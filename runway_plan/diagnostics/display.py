"""How text from a spec is shown, in every format runway-plan writes.

A spec is untrusted input: ``validate`` and ``plan`` run in CI on pull requests nobody has
reviewed, and what they print lands on terminals, in CI logs and in pull-request comments.
Every name, key, value, path, message and hint that may hold a spec's text goes through
:func:`display` before it is written, so a spec can neither start a line of its own, nor
recolour, hide or reorder what a terminal or a browser shows.  A character that acts instead of
being seen is written as a visible escape, as Python writes it in a string literal:

* ``\\n``, ``\\r`` and ``\\t`` for a line feed, a carriage return and a tab;
* ``\\xNN`` for the other control characters (``\\x1b`` for ESC, which starts ANSI colours
  and OSC hyperlinks, ``\\x07`` for the bell, ``\\x08`` for backspace, ``\\x7f``, and the C1
  controls ``\\x80``-``\\x9f``);
* ``\\uNNNN`` (``\\UNNNNNNNN`` past U+FFFF) for the invisible formatting characters: the
  bidirectional overrides, embeddings, isolates and marks (``\\u202e``, ``\\u2066``,
  ``\\u200f`` ...), zero-width spaces, the byte order mark, soft hyphens and tag characters;
  the line and paragraph separators; lone surrogates; and the noncharacters (U+FFFE ...).

The zero-width joiner and non-joiner (U+200C, U+200D), which emoji sequences and several
scripts need, are shown as they are, as are spaces and private-use characters.  A backslash is
not doubled: ``\\n`` in the output is a line feed of the spec or the two characters themselves.

Two further rules keep a CI runner from reading a line as a workflow command (GitHub Actions
acts on a line whose first non-blank characters are ``::``, and on ``##[`` anywhere in a line;
Azure Pipelines on ``##vso[``).  They apply to whole documents, in :func:`display_lines`: a
``::`` that starts a line is written ``\\x3a:``, and the ``#`` before ``#[`` or ``#vso[`` is
written ``\\x23``.  :func:`json_text` writes the same characters as JSON escapes (``\\u001b``,
``\\u0023``), so a JSON document stays valid and means exactly what it would mean unescaped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

__all__ = [
    "codepoint_escape",
    "display",
    "display_lines",
    "is_hidden",
    "json_chunks",
    "json_text",
]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SHOWN_FORMATS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: invisible, but parts of emoji sequences and of words."""
_SHOWN_CATEGORIES = frozenset({"Zs", "Co", "Cn"})
"""Spaces, private-use characters and unassigned code points (noncharacters excepted)."""

_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")
_NOT_PLAIN_LINE = re.compile(r"[^\x20-\x7e\n]")
_COMMAND_START = re.compile(r"^([^\S\n]*):(?=:)", re.MULTILINE)
_COMMAND_PREFIX = re.compile(r"#(?=#(?:vso)?\[)")
_JSON_SUSPECT = re.compile(r"[^\x20-\x7e\n]|#(?=#(?:vso)?\[)")


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def is_hidden(char: str) -> bool:
    """True when ``char`` acts on what is shown (a control, a bidirectional override) or is
    not shown at all (a zero-width or other formatting character, a lone surrogate, a
    noncharacter): :func:`display` writes it as an escape."""
    if char.isprintable():
        return False
    if char in _SHOWN_FORMATS:
        return False
    if unicodedata.category(char) in _SHOWN_CATEGORIES:
        return _noncharacter(ord(char))
    return True


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    return codepoint_escape(char)


def codepoint_escape(char: str) -> str:
    """``char`` as the escape Python and YAML both read back: ``\\x1b``, ``\\u202e``."""
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    return _escape(char) if is_hidden(char) else char


def display(text: str) -> str:
    """``text`` as it may be shown on one line of any output: every hidden character (see
    :func:`is_hidden`) written as a visible escape (``\\n``, ``\\x1b``, ``\\u202e``).

    Idempotent: the escapes are plain ASCII, which is shown as it is.
    """
    if text.isascii() and text.isprintable():
        return text
    return _NOT_PLAIN.sub(_shown, text)


def display_lines(document: str) -> str:
    """A whole document (lines joined by ``\\n``) as it may be written to a terminal or a
    CI log: :func:`display` on every line, and no line a CI runner reads as a workflow
    command (``::`` at its start is written ``\\x3a:``, ``##[`` is written ``\\x23#[``).

    Every text renderer passes its output through this, so a value a renderer forgot to
    give to :func:`display` still cannot start a line, colour the terminal or forge an
    annotation.
    """
    shown = _NOT_PLAIN_LINE.sub(_shown, document)
    shown = _COMMAND_START.sub(lambda m: f"{m.group(1)}\\x3a", shown)
    return _COMMAND_PREFIX.sub(r"\\x23", shown)


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "#":
        return "\\u0023"
    if not is_hidden(char):
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(
    data: Any, *, indent: int | None = 2, separators: tuple[str, str] | None = None
) -> str:
    """``data`` as JSON text (UTF-8, without a final newline) that is safe to print.

    ``json.dumps`` escapes the C0 controls but writes DEL, the C1 controls, bidirectional
    overrides, line separators and lone surrogates as they are (a lone surrogate cannot even
    be encoded in UTF-8); here every hidden character is a ``\\uXXXX`` escape, and so is the
    ``#`` that would make ``##[`` in a CI log.  The document decodes to exactly ``data``.
    """
    text = json.dumps(data, indent=indent, ensure_ascii=False, separators=separators)
    return _JSON_SUSPECT.sub(_json_escape, text)


def json_chunks(data: Any, *, indent: int | None = 2, batch: int = 1 << 16) -> Iterator[str]:
    """The text of :func:`json_text` (``separators`` left to their default), in pieces of
    about ``batch`` characters, made as they are written: a large document is never held
    whole.  A list in ``data`` may be a ``list`` subclass that makes its items as the encoder
    iterates it (the encoder takes its length, then iterates it).

    The escapes are the same: the encoder yields every string literal whole, and a piece only
    ever ends after a literal's closing quote or between tokens, where no escape can start.
    """
    encoder = json.JSONEncoder(indent=indent, ensure_ascii=False)
    pending: list[str] = []
    size = 0
    for chunk in encoder.iterencode(data):
        pending.append(chunk)
        size += len(chunk)
        if size >= batch:
            yield _JSON_SUSPECT.sub(_json_escape, "".join(pending))
            pending, size = [], 0
    if pending:
        yield _JSON_SUSPECT.sub(_json_escape, "".join(pending))
