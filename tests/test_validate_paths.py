"""Diagnostics carry the data path of the value they are about; a bare API body validates on
paths alone (no source file, no spans); ``check_document`` is ``check_file`` for parsed text."""

from __future__ import annotations

from pathlib import Path

from runway_plan import check_document, check_file, load_catalog
from runway_plan.compile import compile_request
from runway_plan.diagnostics import Location, Span, make
from runway_plan.source import parse_document
from runway_plan.validate import Validator, validate_request, validate_resource

CATALOG = load_catalog()

SPEC = """\
version: 1
name: paths
steps:
  still:
    endpoint: text_to_image
    model: gen4_image
    promptText: hello
    ratio: "1920:1081"
    colour: red
    referenceImages:
      - uri: ftp://example.com/a.png
  shot:
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@still"
    promptText: go
    ratio: "1280:720"
    duration: 99
"""


def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_make_takes_a_location_and_the_path_is_not_part_of_equality() -> None:
    span = Span("s.yaml", 3, 5, 3, 9)
    located = make("RP207", "bad", Location(span, ("steps", "a", "ratio")))
    assert located.span == span and located.path == ("steps", "a", "ratio")
    assert make("RP207", "bad", span).path is None
    assert located == make("RP207", "bad", Location(span, ("steps", "b", "ratio")))
    assert make("RP207", "bad", Location(None, ("x",))).span is None


def test_model_check_diagnostics_carry_the_path_of_their_value(tmp_path: Path) -> None:
    _graph, diagnostics = check_file(_spec(tmp_path), CATALOG)
    by_path = {d.path: d for d in diagnostics if d.path is not None}
    ratio = by_path[("steps", "still", "ratio")]
    assert ratio.code == "RP207" and ratio.span is not None and ratio.span.line == 8
    assert by_path[("steps", "still", "colour")].code == "RP205"
    assert by_path[("steps", "still", "referenceImages", 0, "uri")].code == "RP226"
    assert by_path[("steps", "shot", "duration")].code == "RP208"
    for diagnostic in diagnostics:
        if diagnostic.path is not None and diagnostic.span is not None:
            assert diagnostic.span.line > 3


def test_check_document_is_check_file_for_text_in_memory(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    _g1, from_file = check_file(path, CATALOG)
    _g2, from_text = check_document(parse_document(SPEC, str(path)), CATALOG)
    assert from_file == from_text and from_file
    assert [d.path for d in from_file] == [d.path for d in from_text]


def test_check_document_reports_a_syntax_error_at_its_place() -> None:
    graph, diagnostics = check_document(parse_document("steps: [\n", "bad.yaml"), CATALOG)
    assert graph.spec is None
    assert [d.code for d in diagnostics] == ["RP100"]
    assert diagnostics[0].span is not None and diagnostics[0].span.path == "bad.yaml"


def test_a_bare_body_validates_on_paths_without_spans() -> None:
    body = {"model": "gen4_image", "promptText": "", "ratio": "1:1", "colour": 1}
    validator = Validator(compile_request(CATALOG, "text_to_image", body), api=True)
    validator.generation(validator.graph.generations["request"])
    errors = [d for d in validator.diagnostics if d.is_error]
    assert errors and all(d.span is None for d in errors)
    assert {d.path for d in errors} == {
        ("steps", "request", "promptText"),
        ("steps", "request", "ratio"),
        ("steps", "request", "colour"),
    }
    issues = validate_request(CATALOG, "text_to_image", body)
    assert [(i.path, i.code) for i in issues] == [
        (("colour",), "RP205"),
        (("promptText",), "RP209"),
        (("ratio",), "RP207"),
    ]


def test_a_resource_body_reports_paths_below_the_body() -> None:
    issues = validate_resource(CATALOG, "document_create", {"name": 5})
    paths = {i.path for i in issues}
    assert ("name",) in paths and ("content",) in paths
