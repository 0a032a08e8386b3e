"""The spec language: pydantic models of a spec file, and its parsing into a :class:`Spec`.

A spec names generation steps whose request fields are the API's own (camelCase, as in the
official SDKs); the few orchestration keys are snake_case.  Parsing a spec checks its structure
only; what each model accepts is checked later against the catalog (``validate``).  The JSON
Schema exported from these models is built in :mod:`runway_plan.spec_schema`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from runway_plan.catalog.model import MAX_CREDITS
from runway_plan.catalog.model import Credits as CatalogCredits
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.limits import WorkLimits, limit_info
from runway_plan.source import DataPath, Document

__all__ = [
    "NAME_PATTERN",
    "SECTIONS",
    "STEP_KEYS",
    "SUPPORTED_VERSIONS",
    "VOICE_REFERENCE_PATTERN",
    "Avatar",
    "Budget",
    "Document_",
    "ParsedSpec",
    "Retry",
    "Router",
    "Spec",
    "SpecLimits",
    "Step",
    "Voice",
    "parse_spec",
]

SUPPORTED_VERSIONS = (1,)
"""The schema's ``$id``: versioned with the tool, which writes it (``runway-plan schema``).  The
project publishes no schema URL yet: editors point at the file (docs/schema.md)."""
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
"""A whole name (``fullmatch``: ``$`` would let a trailing newline through)."""


Credits = Annotated[
    CatalogCredits,
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": int(MAX_CREDITS)}),
]
"""An amount of credits: exact decimal arithmetic, written as a plain number in specs; finite,
at most :data:`~runway_plan.catalog.model.MAX_CREDITS`, to the millionth of a credit."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Budget(_Model):
    """Limits `plan` and `run` refuse to exceed."""

    max_credits: Credits | None = Field(
        default=None,
        description="Most credits the whole spec may cost (a range counts high).",
    )


class Retry(_Model):
    """How often a FAILED task of this step may be tried again when its failure is retryable."""

    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts in all, the first included."
    )


# ---- workflows (an additive block) ---------------------------------------------------------

WORKFLOWS = "workflows"
"""The endpoint of a published workflow's run (``POST /v1/workflows/{id}``)."""


class WorkflowOutput(_Model):
    """One output a workflow step declares, so that ``@step[i]`` can name it before the run."""

    media: Literal["image", "video", "audio"] = Field(
        description="The media of this output (what an input that references it must take)."
    )
    node: str | None = Field(
        default=None,
        description="The workflow node that makes it (for people and reports; optional).",
    )


class Step(BaseModel):
    """One generation step: orchestration keys plus the API request fields of its model."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)

    endpoint: str = Field(
        description="The API endpoint, as in `POST /v1/<endpoint>` (image_to_video, ...)."
    )
    model: str = Field(
        description="The model, exactly as the API spells it (gen4.5, gen4_image, ...); left "
        "out on an endpoint whose request has no model (recipes/product_ad, ...)."
    )
    for_each: list[Any] | str | None = Field(
        default=None,
        description="Fan-out: one generation per item (a list, a template giving a list, or "
        "'@step' for one per output of that step). Templates of the step see `item` and `index`.",
    )
    needs: list[str] = Field(
        default_factory=list,
        description="Steps that must finish first although no field references them.",
    )
    description: str | None = Field(default=None, description="Free text for people.")
    retry: Retry | None = Field(default=None, description="Retry policy for retryable failures.")
    outputs: list[WorkflowOutput] | None = Field(
        default=None,
        max_length=100,
        description="A workflow step's outputs (endpoint workflows only), in the order the run "
        "returns them: how many a published workflow makes, and of which media, is known only "
        "after it runs, so only declared outputs can be referenced as '@step[i]'.",
    )

    @model_validator(mode="before")
    @classmethod
    def _implicit_model(cls, data: Any, info: ValidationInfo) -> Any:
        """On an endpoint whose request has no ``model`` (named in the validation context's
        ``model_less``), the model is the endpoint's own name unless the step gives one."""
        model_less = (info.context or {}).get(MODEL_LESS, frozenset())
        if isinstance(data, dict) and "model" not in data:
            endpoint = data.get("endpoint")
            if isinstance(endpoint, str) and endpoint in model_less:
                return {**data, "model": endpoint}
        return data

    def request_fields(self) -> dict[str, Any]:
        """The API request fields (``model`` included), as written in the spec."""
        fields: dict[str, Any] = {"model": self.model}
        fields.update(self.model_extra or {})
        return fields


STEP_KEYS = frozenset({"endpoint", "for_each", "needs", "description", "retry", "outputs"})

MODEL_LESS = "model_less"
"""The key of :func:`parse_spec`'s validation context naming the endpoints without a model."""


class Document_(_Model):
    """A knowledge document for avatars: inline content or a local text/Markdown file."""

    name: str = Field(description="The document's name in Runway.")
    content: str | None = Field(default=None, description="The text, inline.")
    file: str | None = Field(
        default=None, description="A local .txt or .md file, relative to the spec."
    )


VOICE_REFERENCE_PATTERN = r"^@[A-Za-z_][A-Za-z0-9_-]*$"
"""A reference to one of the spec's ``voices``: ``"@narrator"``, written where the API takes a
custom voice (``{type: custom, id}``)."""


class Voice(_Model):
    """A custom voice: cloned from an audio sample or designed from a text description."""

    name: str = Field(description="The voice's name in Runway.")
    description: str | None = Field(default=None, description="An optional description.")
    from_: dict[str, Any] = Field(
        alias="from",
        description="{type: audio, audio: <audio asset or '@step'>} or "
        "{type: text, model: eleven_ttv_v3, prompt: ...}.",
    )


class Avatar(_Model):
    """A real-time avatar resource."""

    name: str
    personality: str = Field(description="System prompt defining how the avatar behaves.")
    referenceImage: str = Field(description="An image asset or a '@step' reference.")
    voice: dict[str, Any] | str = Field(
        description="{type: runway-live-preset, presetId: ...}, {type: custom, id: ...}, or "
        "'@voice' for one of the spec's `voices`."
    )
    startScript: str | None = None
    imageProcessing: Literal["optimize", "none"] | None = None
    documents: list[str] = Field(default_factory=list, description="Keys of `documents` to attach.")


class Router(_Model):
    """A model router config: which models a ``generate/{video,image,audio}`` step may run on."""

    slug: str = Field(
        description="Immutable slug that generate steps name as `configId` (production-video)."
    )
    name: str | None = Field(default=None, description="Display name (defaults to the slug).")
    description: str | None = None
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="{optimizeFor, models: {mode, ids}, maxCreditsPerGeneration: {video, image, "
        "audio}, fallback: {onCapacity}, schemaVersion}, as the API takes them.",
    )


def _limit_field(name: str) -> Any:
    info = next(item for item in limit_info() if item.name == name)
    return Field(
        default=None,
        ge=1,
        le=info.ceiling,
        description=f"{info.what[0].upper()}{info.what[1:]}: default {info.default:,}, "
        f"at most {info.ceiling:,} here.",
    )


class SpecLimits(_Model):
    """Work limits this spec raises (or lowers), each up to its ceiling; see ``--limit``."""

    generations: int | None = _limit_field("generations")
    edges: int | None = _limit_field("edges")
    rendered_chars: int | None = _limit_field("rendered_chars")
    template_work: int | None = _limit_field("template_work")
    diagnostics: int | None = _limit_field("diagnostics")

    def applied(self, limits: WorkLimits) -> WorkLimits:
        """``limits`` with the values this section sets."""
        return limits.merged(self.model_dump(exclude_none=True))


class Spec(_Model):
    """A runway-plan spec (version 1)."""

    schema_: str | None = Field(
        default=None,
        alias="$schema",
        description="The JSON Schema this file follows (for editors); not read otherwise.",
    )
    version: Literal[1] = Field(description="The spec language version.")
    name: str = Field(description="The pipeline's name.")
    description: str | None = None
    tier: int = Field(
        default=1, ge=1, le=5, description="Tier to plan for; `run` reads the live tier."
    )
    budget: Budget = Field(default_factory=Budget)
    vars: dict[str, Any] = Field(default_factory=dict, description="Template variables.")
    prices: dict[str, Credits] = Field(
        default_factory=dict,
        description="Price overrides: credits per generation for a model the catalog cannot price "
        "(a workflow step: `workflows` for every workflow, `workflows/<id>` for one).",
    )
    steps: dict[str, Step] = Field(default_factory=dict, description="Generation steps by name.")
    documents: dict[str, Document_] = Field(
        default_factory=dict, description="Knowledge documents."
    )
    avatars: dict[str, Avatar] = Field(default_factory=dict, description="Real-time avatars.")
    voices: dict[str, Voice] = Field(
        default_factory=dict,
        description="Custom voices, usable as '@name' wherever the API takes a custom voice.",
    )
    routers: dict[str, Router] = Field(
        default_factory=dict,
        description="Model router configs, named by generate steps as `configId: '@name'`.",
    )
    limits: SpecLimits = Field(
        default_factory=SpecLimits,
        description="Work limits for checking and planning this spec (generations, edges, "
        "rendered_chars, template_work, diagnostics), each up to its ceiling.",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        if type(value) is not int:
            raise ValueError("the version is the whole number 1")
        return value


def _quoted(text: str) -> str:
    """``text`` in single quotes, control characters escaped (``'hero\\n'``)."""
    return f"'{text}'" if text.isprintable() else repr(text)


def _did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


_SECTION_CHOICES: dict[str, tuple[str, ...]] = {
    "": tuple(field.alias or name for name, field in Spec.model_fields.items()),
    "budget": tuple(Budget.model_fields),
    "limits": tuple(SpecLimits.model_fields),
    "retry": tuple(Retry.model_fields),
    "documents": tuple(Document_.model_fields),
    "avatars": tuple(Avatar.model_fields),
    "voices": tuple(field.alias or name for name, field in Voice.model_fields.items()),
    "routers": tuple(Router.model_fields),
}


def _diagnose(error: Any, document: Document) -> Diagnostic:
    loc: DataPath = tuple(error["loc"])
    source_map = document.source_map
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        section = "retry" if "retry" in loc else (str(loc[0]) if len(loc) > 1 else "")
        hint = _did_you_mean(key, _SECTION_CHOICES.get(section, ()))
        return make("RP105", f"unknown key '{key}'", source_map.key(loc), hint=hint)
    if loc == ("version",):
        return make(
            "RP106",
            "unsupported spec version" if kind != "missing" else "the spec has no 'version'",
            source_map.value(loc),
            hint=f"supported versions: {', '.join(map(str, SUPPORTED_VERSIONS))}",
        )
    if kind == "missing":
        parent = loc[:-1]
        return make("RP104", f"missing required key '{loc[-1]}'", source_map.key(parent))
    if loc[:1] == ("limits",) and len(loc) == 2 and kind == "less_than_equal":
        name = str(loc[1])
        return make(
            "RP118",
            f"limits.{name} is above the most a spec may set ({error['ctx']['le']:,})",
            source_map.value(loc),
            hint=f"the person running the command can raise it: --limit {name}=N",
        )
    where = ".".join(str(part) for part in loc)
    return make("RP104", f"{where}: {error['msg']}", source_map.value(loc))


def _in_data(loc: DataPath, data: Any) -> DataPath:
    """``loc`` up to the first part that is not in ``data``: pydantic adds the union member
    that failed (``for_each.list[any]``) and ``[key]`` for a bad mapping key."""
    node = data
    for position, part in enumerate(loc):
        inside = isinstance(node, dict) and part in node
        inside = inside or (isinstance(node, list) and isinstance(part, int) and part < len(node))
        if not inside:
            return loc[:position]
        node = node[part]
    return loc


def _either(messages: list[str]) -> str:
    """One message for a value every member of a union refused."""
    unique = list(dict.fromkeys(messages))
    prefix = "Input should be "
    if all(message.startswith(prefix) for message in unique):
        return prefix + ", or ".join(message.removeprefix(prefix) for message in unique)
    return "; or ".join(unique)


def _diagnose_all(errors: list[ErrorDetails], document: Document, data: Any) -> list[Diagnostic]:
    """A diagnostic per refused value (the members of a union that refused it merged)."""
    grouped: dict[DataPath, list[ErrorDetails]] = {}
    for error in errors:
        loc: DataPath = tuple(error["loc"])
        if error["type"] not in ("missing", "extra_forbidden"):
            loc = _in_data(loc, data)
        grouped.setdefault(loc, []).append(error)
    found = []
    for loc, group in grouped.items():
        messages = [error["msg"] for error in group]
        found.append(_diagnose({**group[0], "loc": loc, "msg": _either(messages)}, document))
    return found


@dataclass(frozen=True, slots=True)
class ParsedSpec:
    """A spec built from the parts of a document whose structure is sound, and what was left out.

    A broken part is reported and left out, so that the rest of the spec is still checked: an
    unknown or wrong-typed top-level key takes its default, a step, document or avatar whose
    structure is broken is skipped, and a step's optional orchestration key of the wrong type is
    dropped from that step alone.
    """

    spec: Spec | None
    diagnostics: list[Diagnostic]
    broken_fan_outs: frozenset[str] = frozenset()
    """Steps whose ``for_each`` was dropped as malformed: they fan out to an unknown number of
    items."""
    vars_known: bool = True
    """False when ``vars`` was dropped as malformed: templates cannot be rendered."""


SECTIONS = ("steps", "documents", "avatars", "voices", "routers")
"""The spec's named sections: a spec needs at least one entry in one of them."""
_OPTIONAL_STEP_KEYS = frozenset(STEP_KEYS - {"endpoint"})
_MAX_PASSES = 4


def _prune(
    data: dict[str, Any], errors: list[ErrorDetails], broken_fan_outs: set[str]
) -> dict[str, Any]:
    """A copy of ``data`` without the parts ``errors`` are in; required keys get placeholders."""
    pruned = {
        key: dict(value) if key in SECTIONS and isinstance(value, dict) else value
        for key, value in data.items()
    }
    for error in errors:
        loc = error["loc"]
        if not loc:
            continue
        top = loc[0]
        section = pruned.get(top) if isinstance(top, str) else None
        if top in SECTIONS and len(loc) > 1 and isinstance(section, dict):
            name = loc[1]
            entry = section.get(name)
            key = loc[2] if len(loc) > 2 else None
            if top == "steps" and key in _OPTIONAL_STEP_KEYS and isinstance(entry, dict):
                section[name] = {k: v for k, v in entry.items() if k != key}
                if key == "for_each":
                    broken_fan_outs.add(str(name))
            else:
                section.pop(name, None)
        elif top == "limits" and len(loc) > 1 and isinstance(pruned.get("limits"), dict):
            pruned["limits"] = {k: v for k, v in pruned["limits"].items() if k != loc[1]}
        elif top == "version":
            pruned["version"] = SUPPORTED_VERSIONS[-1]
        elif top == "name":
            pruned["name"] = ""
        else:
            pruned.pop(str(top), None)
    return pruned


def parse_spec(document: Document, model_less: frozenset[str] = frozenset()) -> ParsedSpec:
    """Check a parsed document's structure and build a :class:`Spec` from its sound parts.

    Every structural problem is reported at its own position; the parts it is in are left out
    (see :class:`ParsedSpec`), so later stages still check everything else.  A step on one of
    the ``model_less`` endpoints (whose request has no ``model``) needs no ``model`` key.
    """
    data = document.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return ParsedSpec(
            None, [make("RP104", "a spec must be a mapping", document.source_map.value(()))]
        )
    diagnostics: list[Diagnostic] = []
    for section in SECTIONS:
        entries = data.get(section)
        if isinstance(entries, dict):
            for name in entries:
                if not _NAME_RE.fullmatch(str(name)):
                    diagnostics.append(
                        make(
                            "RP107",
                            f"invalid name {_quoted(str(name))}",
                            document.source_map.key((section, name)),
                            hint="use letters, digits, '_' and '-', starting with a letter or '_'",
                        )
                    )
    broken_fan_outs: set[str] = set()
    candidate = data
    spec: Spec | None = None
    for _ in range(_MAX_PASSES):
        try:
            spec = Spec.model_validate(candidate, context={MODEL_LESS: model_less})
            break
        except ValidationError as exc:
            errors = exc.errors()
            diagnostics.extend(_diagnose_all(errors, document, candidate))
            candidate = _prune(candidate, errors, broken_fan_outs)
    if all(isinstance(data.get(s, {}), dict) and not data.get(s) for s in SECTIONS):
        diagnostics.append(make("RP104", "the spec has no steps", document.source_map.value(())))
    vars_known = "vars" in candidate or "vars" not in data
    return ParsedSpec(spec, diagnostics, frozenset(broken_fan_outs), vars_known)
