"""The JSON Schema flags what `validate` flags, field by field, on a corpus of mutated examples.

Each case is one shipped example with one seeded mutation: a value outside its enum or range,
a value of the wrong type, an unknown field, a missing required field, a too long text, too
many items, a model of another endpoint.  Every field-level error `validate` reports must be an
error of the schema at its place (a schema error whose value, or key, spans it).  The reverse
direction is counted and explained: cases the schema refuses that `validate` accepts.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, ValidationError

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.catalog.model import (
    ArrayType,
    EnumType,
    IntegerType,
    NumberType,
    ObjectType,
    StringType,
    TypeNode,
    UnionType,
)
from runway_plan.diagnostics import Diagnostic, Span
from runway_plan.source import SourceMap, load_document
from runway_plan.spec_schema import json_schema
from runway_plan.validate import check_file

SPECS = Path(__file__).parent.parent / "specs"
CATALOG = load_catalog()
VALIDATOR = Draft202012Validator(json_schema(CATALOG))
SEED = 13
CASES_PER_SPEC = 80

FIELD_LEVEL = frozenset(
    {
        "RP102",  # a YAML 1.1 trap where a string is expected: a wrong type
        "RP104",  # spec structure: wrong type, missing key, no steps
        "RP105",  # unknown spec key
        "RP106",  # version
        "RP107",  # invalid name
        "RP200",  # unknown endpoint
        "RP201",  # unknown model
        "RP202",  # model not on the endpoint
        "RP203",  # retired model
        "RP204",  # missing required field
        "RP205",  # unknown field
        "RP206",  # wrong type
        "RP207",  # value not allowed
        "RP208",  # out of range
        "RP209",  # text length
        "RP210",  # item count
    }
)
"""The codes of `validate` that a JSON Schema can state (docs/diagnostics.md)."""

_WRONG_TYPES: tuple[Any, ...] = ("5", 5, 2.5, True, None, [], {}, ["x"], {"a": 1})
_ODD_VALUES: tuple[Any, ...] = (-1, 0, 1, 3, 12, 10**6, "", "16:9", "auto", "maya", "x" * 5001)


@dataclass
class Case:
    """One mutated spec."""

    name: str
    data: dict[str, Any]


def _model_fields(catalog: Catalog, step: dict[str, Any]) -> dict[str, Any]:
    spec = catalog.model(str(step.get("endpoint")), str(step.get("model")))
    return dict(spec.fields) if spec else {}


def _bad_values(node: TypeNode, rng: random.Random) -> list[Any]:
    """Values ``node`` refuses, or probably refuses (odd values: some are accepted)."""
    found: list[Any] = [rng.choice(_WRONG_TYPES), rng.choice(_ODD_VALUES)]
    match node:
        case EnumType():
            strings = [v for v in node.values if isinstance(v, str)]
            numbers = [v for v in node.values if isinstance(v, int) and not isinstance(v, bool)]
            if strings:
                found += [strings[0].upper() + "x", strings[-1][:-1]]
            if numbers:
                found += [max(numbers) + 1, min(numbers) - 1, str(numbers[0])]
        case IntegerType() | NumberType():
            if node.maximum is not None:
                found.append(node.maximum + 1)
            if node.minimum is not None:
                found.append(node.minimum - 1)
            found += [str(node.minimum or 1), 12, 0]
        case StringType():
            if node.max_length is not None:
                found.append("x" * (node.max_length + 1))
            if node.min_length:
                found.append("")
            found.append(5)
        case ArrayType():
            found += ["x", [None]]
            if node.max_items is not None:
                found.append([None] * (node.max_items + 1))
        case ObjectType():
            required = [name for name, f in node.fields.items() if f.required]
            found += [{"unknown_key": 1}, "x"]
            if required:
                found.append({required[0]: rng.choice(_WRONG_TYPES)})
        case UnionType():
            found += _bad_values(rng.choice(node.variants), rng)
    return found


def _plausible(node: TypeNode, rng: random.Random) -> Any:
    """A value of ``node``'s type within its own bounds (the overlay may still refuse it)."""
    match node:
        case EnumType():
            return rng.choice(node.values)
        case IntegerType():
            low = node.minimum if node.minimum is not None else 0
            return rng.randint(low, node.maximum if node.maximum is not None else low + 10)
        case NumberType():
            low = node.minimum if node.minimum is not None else 0.0
            return round(rng.uniform(low, node.maximum if node.maximum is not None else low + 1), 2)
        case StringType():
            return "https://example.com/a.png" if node.media == "image" else "a calm sea"
        case ArrayType():
            return [_plausible(node.items, rng)]
        case ObjectType():
            return {
                name: _plausible(field.type, rng)
                for name, field in node.fields.items()
                if field.required or rng.random() < 0.5
            }
        case UnionType():
            return _plausible(rng.choice(node.variants), rng)
    return True if node.kind == "boolean" else None


def _step_mutations(
    data: dict[str, Any], name: str, rng: random.Random
) -> Iterator[tuple[str, dict[str, Any]]]:
    step = data["steps"][name]
    fields = _model_fields(CATALOG, step)
    for field_name, field in fields.items():
        if field_name == "model":
            continue
        for value in _bad_values(field.type, rng):
            yield f"{name}.{field_name}={value!r:.40}", {field_name: value}
        present = step.get(field_name)
        if isinstance(present, list) and present and isinstance(present[0], dict):
            item = dict(present[0])
            key = rng.choice(sorted(item))
            yield (
                f"{name}.{field_name}[0].{key}=wrong",
                {field_name: [{**item, key: rng.choice(_WRONG_TYPES)}]},
            )
            yield f"{name}.{field_name}[0] unknown key", {field_name: [{**item, "urii": "x"}]}
            yield (
                f"{name}.{field_name}[0] without {key}",
                {field_name: [{k: v for k, v in item.items() if k != key}]},
            )
        if field.required and field_name in step:
            yield f"{name} without {field_name}", {field_name: _DELETE}
        good = _plausible(field.type, rng)
        yield f"{name}.{field_name}={good!r:.40} (plausible)", {field_name: good}
        if field_name in step and not isinstance(step[field_name], str | dict | list):
            same = f"{{{{ {step[field_name]!r} }}}}"
            yield f"{name}.{field_name}={same} (template)", {field_name: same}
    others = sorted(
        {
            field
            for endpoint in CATALOG.endpoints.values()
            for model in endpoint.models.values()
            for field in model.fields
        }
        - set(fields)
    )
    for unknown in ["text", "foreach", "promptTxt", *rng.sample(others, 3)]:
        yield f"{name} unknown {unknown}", {unknown: "x"}
    endpoint = str(step.get("endpoint"))
    models = sorted(CATALOG.model_endpoints)
    for model in ["gen5", *CATALOG.overlay.retired, *rng.sample(models, 4)]:
        if model not in CATALOG.endpoints.get(endpoint, CATALOG.endpoints["text_to_image"]).models:
            yield f"{name}.model={model}", {"model": model}
    yield f"{name}.endpoint=text_to_vid", {"endpoint": "text_to_vid"}
    for key in ("model", "endpoint"):
        yield f"{name} without {key}", {key: _DELETE}
    yield f"{name}.needs=x", {"needs": "x"}
    yield f"{name}.retry bad", {"retry": {"max_attempts": rng.choice([0, 11, "3", None])}}


_DELETE = object()


def _spec_mutations(
    data: dict[str, Any], rng: random.Random
) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("version", "name", "steps"):
        yield f"without {key}", {key: _DELETE}
    yield "version=2", {"version": 2}
    yield "tier=9", {"tier": 9}
    yield "budget=-1", {"budget": {"max_credits": -1}}
    yield "limits.generations=0", {"limits": {"generations": 0}}
    yield "unknown top key", {"stepz": {}}
    yield "bad step name", {"steps": {"bad name": next(iter(data["steps"].values()))}}
    first = next(iter(data["steps"]))
    yield "a step that is not a mapping", {"steps": {**data["steps"], first: "x"}}
    yield "steps as a list", {"steps": list(data["steps"].values())}
    yield "vars as a list", {"vars": ["x"]}
    yield "documents as a list", {"documents": ["x"]}
    yield (
        "needs with a number",
        {"steps": {**data["steps"], first: {**data["steps"][first], "needs": [5]}}},
    )
    yield "document without content", {"documents": {"faq": {"name": "FAQ"}}}
    yield "document unknown key", {"documents": {"faq": {"name": "FAQ", "text": "x"}}}
    avatar = {
        "name": "Ava",
        "personality": "kind",
        "referenceImage": f"@{next(iter(data['steps']))}",
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
    }
    for voice in (
        {"type": "runway-live-preset", "presetId": "Maya"},
        {"type": "runway-live-preset"},
        {"type": "custom"},
        {"type": "preset", "presetId": "clara"},
        {"type": "custom", "id": 5},
        "clara",
    ):
        yield f"avatar voice {voice!r}", {"avatars": {"ava": {**avatar, "voice": voice}}}
    yield "avatar imageProcessing", {"avatars": {"ava": {**avatar, "imageProcessing": "x"}}}
    yield (
        "avatar without name",
        {"avatars": {"ava": {k: v for k, v in avatar.items() if k != "name"}}},
    )
    yield "avatar unknown key", {"avatars": {"ava": {**avatar, "documentIds": ["x"]}}}
    del rng


def _apply(target: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    result = dict(target)
    for key, value in changes.items():
        if value is _DELETE:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def corpus(seed: int = SEED) -> list[Case]:
    """The mutated specs: per example, every mutation of its spec keys, documents and avatars,
    and a seeded sample of the mutations of its steps."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for path in sorted(SPECS.glob("*.yaml")):
        data = load_document(path).data
        assert isinstance(data, dict)
        for label, changes in _spec_mutations(data, rng):
            cases.append(Case(f"{path.stem}: {label}", _apply(data, changes)))
        found: list[Case] = []
        for step in data["steps"]:
            for label, changes in _step_mutations(data, step, rng):
                steps = dict(data["steps"])
                steps[step] = _apply(steps[step], changes)
                found.append(Case(f"{path.stem}: {label}", {**data, "steps": steps}))
        cases += rng.sample(found, min(CASES_PER_SPEC, len(found)))
    return cases


def _inside(span: Span, at: Span) -> bool:
    start, end = (span.line, span.col), (span.end_line, span.end_col)
    return start <= (at.line, at.col) <= end


@dataclass(frozen=True)
class SchemaError:
    """Where the schema refused a value, and the value."""

    path: tuple[str | int, ...]
    value: Any
    spans: tuple[Span, ...]
    leaves: tuple[tuple[tuple[str | int, ...], Any], ...]
    """The innermost errors (path and value) of an error about alternatives (anyOf)."""


def _leaves(error: ValidationError) -> list[tuple[tuple[str | int, ...], Any]]:
    if not error.context:
        return [(tuple(error.absolute_path), error.instance)]
    return [leaf for child in error.context for leaf in _leaves(child)]


def _spans(error: ValidationError, source_map: SourceMap) -> tuple[Span, ...]:
    """Where ``error`` is: an unknown key's own key, a missing key's mapping's key, a bad
    name's key, else the refused value (and a refused mapping's key: `validate` reports a
    mapping's problems, such as a document with both content and file, at its key)."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        return tuple(source_map.key((*path, key)) for key in error.instance if key not in known)
    if error.validator == "required":
        return (source_map.key(path),)
    if error.validator == "propertyNames":
        return (source_map.key((*path, error.instance)),)
    if isinstance(error.instance, dict):
        return (source_map.value(path), source_map.key(path))
    return (source_map.value(path),)


def _schema_errors(data: Any, source_map: SourceMap) -> list[SchemaError]:
    return [
        SchemaError(
            tuple(error.absolute_path),
            error.instance,
            _spans(error, source_map),
            tuple(_leaves(error)),
        )
        for error in VALIDATOR.iter_errors(data)
    ]


_SPEC_NUMBERS = {("tier",), ("budget", "max_credits"), ("retry", "max_attempts")}


def _coerced_by_pydantic(error: SchemaError) -> bool:
    return any(_coerced(path, value) for path, value in error.leaves)


def _coerced(path: tuple[str | int, ...], value: Any) -> bool:
    """A number written as a string in one of the spec language's own numeric keys: `validate`
    parses the spec with pydantic's lax mode, which reads ``"3"`` as 3 there (request fields
    are checked strictly: ``duration: "5"`` is RP206); the schema asks for a number."""
    own = path[:1] in {("tier",), ("budget",), ("limits",)} or path[-2:] in _SPEC_NUMBERS
    if not own or not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


@dataclass
class Outcome:
    """What both checkers said about one case."""

    case: Case
    field_errors: list[Diagnostic]
    errors: list[Diagnostic]
    schema_errors: list[SchemaError]

    @property
    def missed(self) -> list[Diagnostic]:
        """Field-level `validate` errors no schema error covers."""
        return [
            d
            for d in self.field_errors
            if d.span is None
            or not any(_inside(s, d.span) for e in self.schema_errors for s in e.spans)
        ]

    @property
    def schema_only(self) -> bool:
        """The schema refused this case and `validate` accepted it."""
        return bool(self.schema_errors) and not self.errors


def _check(case: Case, directory: Path, number: int) -> Outcome:
    path = directory / f"case{number}.yaml"
    path.write_text(yaml.safe_dump(case.data, sort_keys=False), encoding="utf-8")
    _, diagnostics = check_file(path, CATALOG)
    errors = [d for d in diagnostics if d.is_error]
    document = load_document(path)
    schema_errors = _schema_errors(document.data, document.source_map)
    field_errors = [d for d in errors if d.code in FIELD_LEVEL]
    return Outcome(case, field_errors, errors, schema_errors)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[Outcome]:
    directory = tmp_path_factory.mktemp("corpus")
    for item in SPECS.iterdir():
        if item.is_dir():
            shutil.copytree(item, directory / item.name)
    return [_check(case, directory, i) for i, case in enumerate(corpus())]


def test_the_corpus_is_large_and_varied(outcomes: list[Outcome]) -> None:
    codes = {d.code for o in outcomes for d in o.field_errors}
    assert len(outcomes) >= 500
    assert sum(bool(o.field_errors) for o in outcomes) >= 300
    assert sum(not o.errors for o in outcomes) >= 50, "too few accepted cases to check the reverse"
    assert any("(template)" in o.case.name and not o.errors for o in outcomes)
    assert {"RP204", "RP205", "RP206", "RP207", "RP208", "RP209", "RP210"} <= codes
    assert {"RP104", "RP105", "RP106", "RP107", "RP201", "RP202", "RP203"} <= codes


def test_every_field_level_validate_error_is_a_schema_error(outcomes: list[Outcome]) -> None:
    total = sum(len(o.field_errors) for o in outcomes)
    missed = [(o.case.name, d.code, d.message) for o in outcomes for d in o.missed]
    extra = [o for o in outcomes if o.schema_only]
    accepted = sum(not o.errors for o in outcomes)
    print(
        f"\n{total - len(missed)} of {total} field-level validate errors are schema errors "
        f"({len(outcomes)} mutated specs, {sum(bool(o.field_errors) for o in outcomes)} with "
        f"field-level errors); the schema flagged {len(extra)} of the {accepted} cases "
        "validate accepts, each a number written as a string in a spec key (pydantic's "
        "lax mode reads it as a number)"
    )
    assert not missed, missed[:10]


def test_the_schema_refuses_only_what_validate_coerces(outcomes: list[Outcome]) -> None:
    unexplained = [
        (o.case.name, [(e.path, e.value) for e in o.schema_errors])
        for o in outcomes
        if o.schema_only and not all(_coerced_by_pydantic(e) for e in o.schema_errors)
    ]
    assert not unexplained, unexplained[:10]


def test_the_corpus_refuses_what_the_old_schema_let_through(outcomes: list[Outcome]) -> None:
    """The agreement is not vacuous: the corpus holds the errors the issue lists."""
    names = {o.case.name for o in outcomes if o.field_errors}
    assert any(".duration=" in name for name in names)
    assert any(" unknown text" in name or " unknown foreach" in name for name in names)
    assert any("avatar voice" in name for name in names)
