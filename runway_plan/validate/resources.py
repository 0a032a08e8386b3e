"""Checks of the spec's real-time avatar resources and their knowledge documents."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from runway_plan.catalog import Catalog
from runway_plan.catalog.model import (
    ModelOverlay,
)
from runway_plan.compile import Graph, Ref, local_asset_path
from runway_plan.compile.graph import REFERENCE
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.source import DataPath, SourceMap
from runway_plan.validate.checker import _Checker
from runway_plan.validate.describe import (
    _CHARS_PER_TOKEN,
    _KNOWLEDGE_TOKEN_LIMIT,
)

if TYPE_CHECKING:
    from runway_plan.validate import _Validator


class ResourceChecks:
    """Checks of `documents` and `avatars`; mixed into the validator, which provides its state."""

    api: bool
    catalog: Catalog
    graph: Graph
    map: SourceMap
    spec_path: str
    diagnostics: list[Diagnostic]

    def resources(self) -> None:
        spec = self.graph.spec
        if spec is None:
            return
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
                path = local_asset_path(document.file, self.spec_path)
                if path is None or not path.is_file():
                    self.diagnostics.append(
                        make(
                            "RP222",
                            f"document file '{document.file}' does not exist",
                            self.map.value((*at, "file")),
                        )
                    )
        create = self.catalog.constraints.resources.get("avatar_create")
        for key, avatar in spec.avatars.items():
            at = ("avatars", key)
            for position, name in enumerate(avatar.documents):
                if name not in spec.documents:
                    close = difflib.get_close_matches(name, list(spec.documents), n=1)
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
            body = avatar.model_dump(exclude_none=True, exclude={"documents"})
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
                    close = difflib.get_close_matches(ref.step, list(self.graph.steps), n=1)
                    self.diagnostics.append(
                        make(
                            "RP300",
                            f"unknown step '{ref.step}'",
                            ref.span,
                            hint=f"did you mean '@{close[0]}'?" if close else None,
                        )
                    )
            checker = _Checker(
                cast("_Validator", self), at, f"avatar '{key}'", ModelOverlay(), refs
            )
            self.diagnostics.extend(checker.fields(body, create.fields, ()))

    def knowledge(self, avatar: str, documents: Iterable[str]) -> None:
        spec = self.graph.spec
        assert spec is not None
        characters = 0
        for name in documents:
            document = spec.documents.get(name)
            if document is None:
                continue
            if document.content is not None:
                characters += len(document.content)
            elif document.file is not None:
                path = local_asset_path(document.file, self.spec_path)
                if path is not None and path.is_file():
                    characters += len(path.read_text(encoding="utf-8", errors="replace"))
        tokens = math.ceil(characters / _CHARS_PER_TOKEN)
        if tokens > _KNOWLEDGE_TOKEN_LIMIT:
            self.diagnostics.append(
                make(
                    "RP211",
                    f"avatar '{avatar}' attaches about {tokens:,} tokens of knowledge; "
                    f"the limit is {_KNOWLEDGE_TOKEN_LIMIT:,}",
                    self.map.value(("avatars", avatar, "documents")),
                    hint=f"tokens are estimated as characters / {_CHARS_PER_TOKEN}",
                )
            )
