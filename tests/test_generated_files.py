"""Checked-in generated files are current: the JSON Schema and the diagnostic code reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runway_plan.catalog import load_catalog
from runway_plan.diagnostics import CODES, make
from runway_plan.diagnostics.codes import codes_markdown
from runway_plan.spec_schema import json_schema

ROOT = Path(__file__).parent.parent


def test_spec_schema_is_current() -> None:
    checked_in = json.loads((ROOT / "schemas" / "spec.schema.json").read_text(encoding="utf-8"))
    assert checked_in == json_schema(load_catalog()), (
        "schemas/spec.schema.json is stale: run `runway-plan schema -o schemas/spec.schema.json`"
    )


def test_schema_constrains_models_by_endpoint() -> None:
    schema = json_schema(load_catalog())
    step = schema["$defs"]["Step"]
    assert "image_to_video" in step["properties"]["endpoint"]["enum"]
    [rule] = [
        r for r in step["allOf"] if r["if"]["properties"]["endpoint"]["const"] == "text_to_video"
    ]
    [template, allowed] = rule["then"]["properties"]["model"]["anyOf"]
    assert template == {"$ref": "#/$defs/Template"}
    assert "gen4.5" in allowed["enum"] and "gen4_turbo" not in allowed["enum"]


def test_diagnostic_reference_is_current() -> None:
    page = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert page == codes_markdown(), (
        "docs/diagnostics.md is stale: run `runway-plan codes --markdown`"
    )


def test_codes_are_stable_and_grouped() -> None:
    for code, info in CODES.items():
        assert code[:2] == "RP" and len(code) == 5 and code[2] in "12345"
        assert info.severity in ("error", "warning", "note")


def test_a_retired_code_stays_registered_and_is_never_emitted() -> None:
    assert CODES["RP115"].retired and "retired" in CODES["RP115"].title
    assert not CODES["RP116"].retired
    with pytest.raises(ValueError, match="RP115 is retired"):
        make("RP115", "a --var without '='", None)
