"""Source loading: positions, duplicate keys, YAML 1.1 traps and syntax errors."""

from __future__ import annotations

from runway_plan.diagnostics import Span
from runway_plan.source import load_document, parse_document


def test_values_and_keys_keep_their_positions() -> None:
    doc = parse_document("steps:\n  hero:\n    ratio: '1280:720'\n    seed: 3\n", "s.yaml")
    assert doc.diagnostics == []
    assert doc.data == {"steps": {"hero": {"ratio": "1280:720", "seed": 3}}}
    assert doc.source_map.value(("steps", "hero", "ratio")) == Span("s.yaml", 3, 12, 3, 22)
    assert doc.source_map.key(("steps", "hero", "seed")) == Span("s.yaml", 4, 5, 4, 9)


def test_unknown_paths_fall_back_to_the_nearest_ancestor() -> None:
    doc = parse_document("steps:\n  hero: {a: 1}\n", "s.yaml")
    assert doc.source_map.value(("steps", "hero", "missing", 3)) == doc.source_map.value(
        ("steps", "hero")
    )
    assert doc.source_map.value(("nowhere",)).line == 1


def test_duplicate_keys_are_errors_with_both_spans() -> None:
    doc = parse_document("a: 1\nb:\n  c: 1\n  c: 2\n", "d.yaml")
    [dup] = doc.diagnostics
    assert dup.code == "RP101"
    assert dup.span == Span("d.yaml", 4, 3, 4, 4)
    assert dup.related == (("first definition", Span("d.yaml", 3, 3, 3, 4)),)
    assert doc.data["b"]["c"] == 1


def test_merge_keys_do_not_count_as_duplicates() -> None:
    doc = parse_document("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "m.yaml")
    assert doc.diagnostics == []
    assert doc.data["m"] == {"x": 1, "y": 3}


def test_yaml_11_traps_are_recorded_with_their_text() -> None:
    doc = parse_document("a: no\nb: 1:30\nc: 5\nd: true\ne: 'no'\n", "t.yaml")
    assert doc.data == {"a": False, "b": 90, "c": 5, "d": True, "e": "no"}
    traps = {key: doc.source_map.trap((key,)) for key in "abcde"}
    assert traps == {"a": "no", "b": "1:30", "c": None, "d": None, "e": None}


def test_yaml_syntax_error_is_a_positioned_diagnostic() -> None:
    doc = parse_document("a: [1, 2\nb: 3\n", "bad.yaml")
    [error] = doc.diagnostics
    assert error.code == "RP100"
    assert error.span is not None and error.span.path == "bad.yaml" and error.span.line == 2
    assert doc.data is None


def test_json_syntax_error_uses_the_json_position() -> None:
    doc = parse_document('{"a": 1,\n "b": }', "bad.json")
    [error] = doc.diagnostics
    assert (error.code, error.span.line, error.span.col) == ("RP100", 2, 7)  # type: ignore[union-attr]


def test_json_duplicate_keys_are_caught() -> None:
    doc = parse_document('{"a": 1,\n "a": 2}', "d.json")
    assert [d.code for d in doc.diagnostics] == ["RP101"]


def test_multiple_documents_are_a_syntax_error() -> None:
    doc = parse_document("a: 1\n---\nb: 2\n", "multi.yaml")
    assert [d.code for d in doc.diagnostics] == ["RP100"]


def test_missing_and_binary_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = load_document(tmp_path / "nope.yaml")
    assert [d.code for d in missing.diagnostics] == ["RP103"]
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert [d.code for d in load_document(binary).diagnostics] == ["RP100"]


def test_empty_document_has_no_data_and_no_diagnostics() -> None:
    doc = parse_document("# only a comment\n", "e.yaml")
    assert doc.data is None and doc.diagnostics == []


def _laughs(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_before_it_expands() -> None:
    doc = parse_document(_laughs(9), "bomb.yaml")
    [error] = doc.diagnostics
    assert error.code == "RP109" and "100,000" in error.message
    assert error.span is not None and (error.span.line, error.span.col) == (1, 5)  # the anchor
    assert doc.data is None


def test_a_few_repeated_anchors_are_fine() -> None:
    doc = parse_document(_laughs(4), "small.yaml")
    assert doc.diagnostics == []
    assert len(doc.data["l3"][0][0]) == 9


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    for text in ("a: &a\n  b: *a\n", "- &s [1, *s]\n", "m: &m {<<: *m}\n"):
        doc = parse_document(text, "loop.yaml")
        assert [d.code for d in doc.diagnostics] == ["RP109"], text
        assert doc.data is None


def test_deep_nesting_is_refused_in_yaml_and_json() -> None:
    for text, path in (
        ("a: " + "[" * 150 + "]" * 150, "deep.yaml"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "deep.json"),
    ):
        [error] = parse_document(text, path).diagnostics
        assert error.code == "RP109" and "levels deep" in error.message
    assert parse_document("a: " + "[" * 50 + "]" * 50, "ok.yaml").diagnostics == []
