"""Checks of the spec's real-time avatar resources and their knowledge documents.

The knowledge limit: Runway allows up to 50,000 tokens of knowledge per avatar (the documents
it attaches together; Runway's ``rw-integrate-documents`` skill, "Each Avatar supports up to
50,000 tokens of knowledge").  Runway does not publish the tokenizer, so the count is an
estimate that errs high: one token per 4 ASCII characters (OpenAI's rule of thumb for English
with byte-pair tokenizers) plus one token per character outside ASCII (accented letters, CJK,
emoji tokenize far worse than English: a CJK character is about one token).  A document
attached twice counts once.

The documents, voices and avatars are checked as the compiler made them
(:mod:`runway_plan.compile.resources`): their texts rendered, an avatar's ``@step`` image and a
voice's ``@step`` sample resolved (RP300, RP302 and template failures are the compiler's).  A
voice's request is checked against the SDK's voice request type, its sample as an audio asset;
an avatar's ``voice: "@name"`` stands for ``{type: custom, id}`` once the voice exists.
"""

from __future__ import annotations

import contextlib
import difflib
import math
from collections.abc import Iterable
from pathlib import Path

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    InputDuration,
    ModelOverlay,
)
from runway_plan.compile import Graph, Ref
from runway_plan.compile.resources import voice_reference
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.files import LocalFileError
from runway_plan.source import DataPath, SourceMap
from runway_plan.validate import describe
from runway_plan.validate.assets import file_diagnostic
from runway_plan.validate.checker import Checker, Context

VOICE_DOCS = "https://docs.dev.runwayml.com/characters/custom-voice (read 2026-12-02)"
"""Runway's custom-voices guide: limits the SDK's ``VoiceCreateParams`` does not state."""
VOICE_OVERLAY = ModelOverlay(
    input_durations={
        "from.audio": InputDuration(
            min_seconds=10,
            max_seconds=300,
            source=f'{VOICE_DOCS}: "The audio sample must be between 10 seconds and 5 minutes '
            'long"',
        )
    }
)
"""What the guide says of a voice's audio sample, checked like a model's input lengths."""
VOICE_NAME_LIMIT = 100
"""A voice's name is at most 100 characters (the guide's parameter table), counted in UTF-16
code units as the API counts its other lengths."""


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
        self.routers()
        self.routed_inputs()
        documents, avatars = self.graph.documents, self.graph.avatars
        self.unique_names("documents", {k: d.name for k, d in documents.items()})
        self.unique_names("avatars", {k: a.name for k, a in avatars.items()})
        self.voices()
        for key, document in documents.items():
            if (document.content is None) == (document.file is None):
                self.diagnostics.append(
                    make(
                        "RP104",
                        f"document '{key}' needs exactly one of 'content' or 'file'",
                        document.span,
                    )
                )
            elif document.file is not None:
                self.document_file(key, document.file)
        create = self.catalog.constraints.resources.get("avatar_create")
        for key, avatar in avatars.items():
            at = ("avatars", key)
            for position, name in enumerate(avatar.documents):
                if name not in documents and not self.graph.declares("documents", name):
                    close = difflib.get_close_matches(name, list(documents), n=1)
                    self.diagnostics.append(
                        make(
                            "RP300",
                            f"avatar '{key}' attaches unknown document '{name}'",
                            self.map.value((*at, "documents", position)),
                            hint=f"did you mean '{close[0]}'?" if close else None,
                        )
                    )
            self.knowledge(key, avatar.documents)
            if create is None:
                continue
            refs: dict[DataPath, Ref] = {}
            if avatar.image is not None:
                refs[("referenceImage",)] = avatar.image
            request = avatar.request
            voice = request.get("voice")
            if voice_reference(voice) is not None:
                request = {**request, "voice": {"type": "custom", "id": "(the voice's id)"}}
            elif isinstance(voice, str) and voice in self.graph.voices:
                self.diagnostics.append(
                    make(
                        "RP206",
                        f"voice must be a mapping or a reference to a voice, not the string "
                        f"{voice!r}",
                        self.map.value((*at, "voice")),
                        hint=f"write '@{voice}' for this spec's voice '{voice}'",
                    )
                )
                request = {**request, "voice": {"type": "custom", "id": voice}}
            checker = Checker(self.context, at, f"avatar '{key}'", ModelOverlay(), refs)
            self.diagnostics.extend(checker.fields(request, create.fields, ()))

    def voices(self) -> None:
        """Each voice's request against the SDK's voice type; RP108 for shared names."""
        voices = self.graph.voices
        self.unique_names("voices", {k: v.name for k, v in voices.items()})
        create = self.catalog.constraints.resources.get("voice_create")
        if create is None:
            return
        for key, voice in voices.items():
            refs: dict[DataPath, Ref] = {}
            if voice.audio is not None:
                refs[("from", "audio")] = voice.audio
            at = ("voices", key)
            checker = Checker(self.context, at, f"voice '{key}'", VOICE_OVERLAY, refs)
            self.diagnostics.extend(checker.fields(voice.request, create.fields, ()))
            length = describe.utf16_length(voice.name)
            if length > VOICE_NAME_LIMIT:
                self.diagnostics.append(
                    make(
                        "RP209",
                        f"name is {length} UTF-16 code units long; a voice's name is at most "
                        f"{VOICE_NAME_LIMIT}",
                        self.map.value((*at, "name")),
                        hint=f"Runway's custom-voices guide: {VOICE_DOCS}",
                    )
                )

    # ------------------------------------------------------------------ routers

    def routers(self) -> None:
        """Each router's body against the SDK's create type, its slug unique in the spec
        (RP108), and each model it names a model the catalog knows (RP230, did you mean)."""
        create = self.catalog.constraints.resources.get("router_create")
        slugs: dict[str, str] = {}
        known = sorted(self.catalog.public_models)
        for key, router in self.graph.routers.items():
            at: DataPath = ("routers", key)
            if router.slug in slugs:
                self.diagnostics.append(
                    make(
                        "RP108",
                        f"router '{key}' has the same slug as '{slugs[router.slug]}' "
                        f"({router.slug!r})",
                        self.map.value((*at, "slug")),
                        hint="a slug names one router of the project: keep slugs unique",
                    )
                )
            else:
                slugs[router.slug] = key
            if create is not None:
                checker = Checker(self.context, at, f"router '{key}'", ModelOverlay(), {})
                self.diagnostics.extend(checker.fields(router.request, create.fields, ()))
            models = router.settings.get("models")
            ids = models.get("ids") if isinstance(models, dict) else None
            for position, model in enumerate(ids if isinstance(ids, list) else []):
                if not isinstance(model, str) or model in self.catalog.public_models:
                    continue
                close = difflib.get_close_matches(model, known, n=1, cutoff=0.6)
                self.diagnostics.append(
                    make(
                        "RP230",
                        f"router '{key}' names unknown model '{model}'",
                        self.map.value((*at, "settings", "models", "ids", position)),
                        hint=f"did you mean '{close[0]}'?"
                        if close
                        else "a router takes the public model names of the catalog",
                    )
                )

    def routed_inputs(self) -> None:
        """RP231 for a generate step whose spec router allows no model that takes its input
        (the API would refuse it), once per step, with why each model is out."""
        seen: set[str] = set()
        for gen in self.graph.generations.values():
            node = self.graph.routers.get(gen.router) if gen.router is not None else None
            if node is None or gen.step in seen:
                continue
            routing = self.catalog.route(gen.endpoint, gen.request, node.settings)
            if routing.candidates:
                continue
            seen.add(gen.step)
            out = [
                f"{m} {why}" for m, why in routing.excluded.items() if "models setting" not in why
            ]
            self.diagnostics.append(
                make(
                    "RP231",
                    f"router '{node.key}' allows no model that takes this input on "
                    f"{routing.endpoint}" + (f": {'; '.join(out[:5])}" if out else ""),
                    self.map.value(("steps", gen.step, "input")),
                    hint="change the input, or allow a model that takes it in the router's "
                    "settings.models",
                )
            )

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

    def knowledge(self, avatar: str, documents: Iterable[str]) -> None:
        tokens = 0
        for name in dict.fromkeys(documents):
            document = self.graph.documents.get(name)
            if document is None:
                continue
            if document.content is not None:
                tokens += knowledge_tokens(document.content)
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


def knowledge_tokens(text: str) -> int:
    """Estimated tokens of a knowledge document: one per 4 ASCII characters (rounded up)
    plus one per character outside ASCII (see the module docstring)."""
    ascii_chars = sum(1 for char in text if ord(char) < 128)
    return math.ceil(ascii_chars / describe.CHARS_PER_TOKEN) + (len(text) - ascii_chars)
