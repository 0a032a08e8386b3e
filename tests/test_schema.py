"""The generated JSON Schema: valid, passes the shipped examples, and refuses what `validate`
refuses field by field (the issue's examples here; a mutated corpus in test_schema_agreement)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import runway_plan
from runway_plan.catalog import load_catalog
from runway_plan.compile.templating import is_template
from runway_plan.source import load_document
from runway_plan.spec_schema import SCHEMA_ID, TEMPLATE_PATTERN, json_schema

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))
SCHEMA = json_schema(load_catalog())
VALIDATOR = Draft202012Validator(SCHEMA)


def _errors(data: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in VALIDATOR.iter_errors(data)
    ]


def _launch() -> dict[str, Any]:
    data = load_document(SPECS[[p.name for p in SPECS].index("launch.yaml")]).data
    assert isinstance(data, dict)
    return data


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert (
        SCHEMA["$id"] == SCHEMA_ID == f"urn:runway-plan:{runway_plan.__version__}:spec.schema.json"
    )


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_shipped_examples_pass(path: Path) -> None:
    document = load_document(path)
    assert not document.diagnostics
    assert _errors(document.data) == []


def _set(step: str, **fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["steps"][step].update(fields)


def _drop(step: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["steps"][step].pop(key)


ISSUE_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "foreach instead of for_each": (_set("shot", foreach=["a"]), "'foreach' was unexpected"),
    "ratio 16:9 on gen4_turbo": (_set("shot", ratio="16:9"), "steps.shot.ratio"),
    "ratio read by YAML 1.1 as 969": (_set("shot", ratio=969), "steps.shot.ratio"),
    "duration 12 on gen4_turbo": (_set("shot", duration=12), "steps.shot.duration"),
    "duration as a string": (_set("shot", duration="5"), "steps.shot.duration"),
    "text instead of promptText": (_set("voiceover", text="hi"), "'text' was unexpected"),
    "speech preset maya (Maya)": (
        _set("voiceover", voice={"type": "runway-preset", "presetId": "maya"}),
        "steps.voiceover.voice",
    ),
    "missing required promptText": (
        _drop("voiceover", "promptText"),
        "'promptText' is a required property",
    ),
    "model of another endpoint": (_set("shot", model="gen4_image"), "steps.shot.model"),
    "no steps": (lambda data: data.pop("steps"), "is not valid under any of the given schemas"),
    "avatar preset unknown": (
        lambda data: data.setdefault("avatars", {}).update(
            ava={
                "name": "Ava",
                "personality": "kind",
                "referenceImage": "@hero",
                "voice": {"type": "runway-live-preset", "presetId": "Maya"},
            }
        ),
        "avatars.ava.voice",
    ),
}


@pytest.mark.parametrize("case", sorted(ISSUE_CASES))
def test_issue_examples_are_schema_errors(case: str) -> None:
    mutate, expected = ISSUE_CASES[case]
    data = copy.deepcopy(_launch())
    assert _errors(data) == []
    mutate(data)
    errors = _errors(data)
    assert any(expected in error for error in errors), errors


@pytest.mark.parametrize(
    "value", ["{{ seconds }}", "{{ 2 + 3 }}", "{% if long %}10{% else %}5{% endif %}"]
)
def test_templated_values_are_left_to_validate(value: str) -> None:
    data = copy.deepcopy(_launch())
    data["steps"]["shot"].update(duration=value, ratio=value)
    data["steps"]["voiceover"]["voice"] = value
    assert _errors(data) == []


@pytest.mark.parametrize(
    "text", ["{{ x }}", "a {% if x %}b{% endif %}", "{# note #}", "{ x }", "%}", "plain", "{{"]
)
def test_the_template_pattern_is_what_the_compiler_renders(text: str) -> None:
    assert bool(re.search(TEMPLATE_PATTERN, text)) == is_template(text)


def test_a_document_takes_content_or_file() -> None:
    data = copy.deepcopy(_launch())
    data["documents"] = {"faq": {"name": "FAQ"}}
    assert _errors(data)
    data["documents"]["faq"].update(content="text", file="faq.md")
    assert _errors(data)
    data["documents"]["faq"].update(content=None)
    assert _errors(data) == []
