"""Checks of the spec's real-time avatar resources and their knowledge documents.

The knowledge limit: Runway allows up to 50,000 tokens of knowledge per avatar (the documents
it attaches together; Runway's ``rw-integrate-documents`` skill, "Each Avatar supports up to
50,000 tokens of knowledge").  Runway does not publish the tokenizer, so the count is an
estimate that errs high: one token per 4 ASCII characters (OpenAI's rule of thumb for English
with byte-pair tokenizers) plus one token per character outside ASCII (accented letters, CJK,
emoji tokenize far worse than English: a CJK character is about one token).  A document
attached twice counts once.

Texts of documents and avatars (a document's name and inline content; an avatar's name,
personality and start script) are templates like a step's fields:
:func:`render_resource_text` renders them with the spec's variables, and a template that fails
is reported here.
"""

from __future__ import annotations

import contextlib
import difflib
import math
from collections.abc import Iterable
from pathlib import Path

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    ModelOverlay,
)
from runway_plan.compile import (
    Graph,
    Ref,
    index_out_of_range,
    unknown_step,
)
from runway_plan.compile.graph import REFERENCE
from runway_plan.compile.templating import Renderer, TemplateFailure, is_template
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.files import LocalFileError
from runway_plan.source import DataPath, SourceMap
from runway_plan.validate import describe
from runway_plan.validate.assets import file_diagnostic
from runway_plan.validate.checker import Checker, Context


class ResourceChecks:
    """Checks of `documents` and `avatars`; mixed into the validator, which provides its state."""

    api: bool
    catalog: Catalog
    graph: Graph
    map: SourceMap
    context: Context
    spec_path: str
    diagnostics: list[Diagnostic]

    def resources(self) -> None:
        spec = self.graph.spec
        if spec is None:
            return
        texts: dict[DataPath, str | None] = {
            **{
                ("documents", k, f): getattr(d, f)
                for k, d in spec.documents.items()
                for f in ("name", "content")
            },
            **{
                ("avatars", k, f): getattr(a, f)
                for k, a in spec.avatars.items()
                for f in ("name", "personality", "startScript")
            },
        }
        rendered: dict[DataPath, str | None] = {}
        for where, text in texts.items():
            value = render_resource_text(self.graph, text, where)
            if isinstance(value, TemplateFailure):
                self.diagnostics.append(value.diagnostic)
                value = text
            rendered[where] = value
        self.unique_names(
            "documents", {k: str(rendered[("documents", k, "name")]) for k in spec.documents}
        )
        self.unique_names(
            "avatars", {k: str(rendered[("avatars", k, "name")]) for k in spec.avatars}
        )
        for key, document in spec.documents.items():
            at = ("documents", key)
            if (document.content is None) == (document.file is None):
                self.diagnostics.append(
                    make(
                        "RP104",
                        f"document '{key}' needs exactly one of 'content' or 'file'",
                        self.map.key(at),
                    )
                )
            elif document.file is not None:
                self.document_file(key, document.file)
        create = self.catalog.constraints.resources.get("avatar_create")
        for key, avatar in spec.avatars.items():
            at = ("avatars", key)
            for position, name in enumerate(avatar.documents):
                if name not in spec.documents and not self.graph.declares("documents", name):
                    close = difflib.get_close_matches(name, list(spec.documents), n=1)
                    self.diagnostics.append(
                        make(
                            "RP300",
                            f"avatar '{key}' attaches unknown document '{name}'",
                            self.map.value((*at, "documents", position)),
                            hint=f"did you mean '{close[0]}'?" if close else None,
                        )
                    )
            self.knowledge(key, avatar.documents, rendered)
            if create is None:
                continue
            body = avatar.model_dump(exclude_none=True, exclude={"documents"})
            for name in ("name", "personality", "startScript"):
                if name in body:
                    body[name] = rendered[(*at, name)]
            refs: dict[DataPath, Ref] = {}
            match = REFERENCE.match(avatar.referenceImage)
            if match:
                ref = Ref(
                    match["step"],
                    int(match["index"]) if match["index"] else None,
                    self.map.value((*at, "referenceImage")),
                    avatar.referenceImage,
                )
                refs[("referenceImage",)] = ref
                if ref.step not in self.graph.steps:
                    if not self.graph.declares("steps", ref.step):
                        self.diagnostics.append(unknown_step(ref.step, self.graph.steps, ref.span))
                else:
                    self.output_index(ref, len(self.graph.steps[ref.step].outputs))
            checker = Checker(self.context, at, f"avatar '{key}'", ModelOverlay(), refs)
            self.diagnostics.extend(checker.fields(body, create.fields, ()))

    def output_index(self, ref: Ref, count: int) -> None:
        """RP302 for an avatar image naming no single output of its step (none when the step's
        fan-out failed: its outputs are unknown)."""
        if count == 0:
            return
        if ref.index is None and count > 1:
            self.diagnostics.append(
                make(
                    "RP302",
                    f"step '{ref.step}' has {count} outputs; an avatar takes one of them",
                    ref.span,
                    hint=f"write '@{ref.step}[0]' … '@{ref.step}[{count - 1}]'",
                )
            )
        elif ref.index is not None and not 0 <= ref.index < count:
            self.diagnostics.append(index_out_of_range(ref, count))

    def unique_names(self, section: str, names: dict[str, str]) -> None:
        """RP108 for resources of one kind sharing a ``name`` (the key a lost create is
        found again by)."""
        first: dict[str, str] = {}
        for key, name in names.items():
            if name in first:
                self.diagnostics.append(
                    make(
                        "RP108",
                        f"{section[:-1]} '{key}' has the same name as '{first[name]}' ({name!r})",
                        self.map.value((section, key, "name")),
                        hint="a create whose answer was lost is found again by name: keep "
                        "names unique",
                    )
                )
            else:
                first[name] = key

    def document_file(self, key: str, file: str) -> None:
        """RP222/RP228 for a document file that cannot be read, RP212 for one that is not
        UTF-8 plain text or Markdown."""
        at = self.map.value(("documents", key, "file"))
        try:
            self.graph.root.read_document(file)
        except LocalFileError as exc:
            self.diagnostics.append(
                file_diagnostic(
                    exc, "document file", at, "knowledge documents are plain text or Markdown"
                )
            )
            return
        if Path(file).suffix.lower() not in _TEXT_SUFFIXES:
            self.diagnostics.append(
                make(
                    "RP212",
                    f"document file '{file}' is not a .txt or .md file",
                    at,
                    hint="knowledge documents are plain text or Markdown",
                )
            )

    def knowledge(
        self, avatar: str, documents: Iterable[str], rendered: dict[DataPath, str | None]
    ) -> None:
        spec = self.graph.spec
        assert spec is not None
        tokens = 0
        for name in dict.fromkeys(documents):
            document = spec.documents.get(name)
            if document is None:
                continue
            if document.content is not None:
                content = rendered.get(("documents", name, "content"), document.content)
                tokens += knowledge_tokens(content or "")
            elif document.file is not None:
                with contextlib.suppress(LocalFileError):  # reported by document_file
                    tokens += knowledge_tokens(self.graph.root.read_document(document.file))
        if tokens > describe.KNOWLEDGE_TOKEN_LIMIT:
            self.diagnostics.append(
                make(
                    "RP211",
                    f"avatar '{avatar}' attaches about {tokens:,} tokens of knowledge; "
                    f"the limit is {describe.KNOWLEDGE_TOKEN_LIMIT:,}",
                    self.map.value(("avatars", avatar, "documents")),
                    hint="tokens are estimated as ASCII characters / "
                    f"{describe.CHARS_PER_TOKEN} plus one per other character",
                )
            )


_TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".text"})
_RENDERER = Renderer(max_cached=256)
"""Shared by every spec the process checks, so it keeps only the recently used templates."""


def render_resource_text(
    graph: Graph, text: str | None, at: DataPath
) -> str | TemplateFailure | None:
    """A document's or avatar's text (``at`` is its place in the spec) rendered with the
    spec's variables; unchanged when it holds no template, or when the variables are unknown
    (then only its syntax is checked)."""
    if text is None or not is_template(text):
        return text
    span = graph.document.source_map.value(at)
    if not graph.variables_known:
        return _RENDERER.check(text, None, span) or text
    value = _RENDERER.render(text, graph.variables, span)
    if isinstance(value, TemplateFailure | str):
        return value
    return str(value)


def knowledge_tokens(text: str) -> int:
    """Estimated tokens of a knowledge document: one per 4 ASCII characters (rounded up)
    plus one per character outside ASCII (see the module docstring)."""
    ascii_chars = sum(1 for char in text if ord(char) < 128)
    return math.ceil(ascii_chars / describe.CHARS_PER_TOKEN) + (len(text) - ascii_chars)
