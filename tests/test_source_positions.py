"""The positions kept for a clean document answer every lookup as its composed nodes do."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runway_plan.source import DataPath, SourceMap, parse_document

_SCALARS = st.one_of(
    st.text(alphabet="ab: #-'\"\n", max_size=6),
    st.sampled_from(["no", "yes", "on", "1:30", "010", "0x1F", "1_000", "~", "null", "3.5"]),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.none(),
)
_KEYS = st.one_of(st.text(alphabet="abk_", min_size=1, max_size=4), st.sampled_from(["1", "2"]))
_DATA = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=25,
)


def _paths(data: Any, at: DataPath = ()) -> list[DataPath]:
    """Every path in ``data``, and paths that go astray below each one."""
    found: list[DataPath] = [at, (*at, "missing"), (*at, 0), (*at, 7), (*at, -1), (*at, True)]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*at, key))
            if key.isdigit():
                found.append((*at, int(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*at, index))
            found.append((*at, str(index)))
    return found


def _same_answers(text: str) -> None:
    document = parse_document(text, "spec.yaml")
    assert document.source_map.positions is not None
    nodes = SourceMap("spec.yaml", root=yaml.compose(text, Loader=yaml.CSafeLoader))
    for path in _paths(document.data):
        kept = document.source_map
        assert kept.value(path) == nodes.value(path), path
        assert kept.key(path) == nodes.key(path), path
        assert kept.missing(path) == nodes.missing(path), path
        assert kept.trap(path) == nodes.trap(path), path


@settings(max_examples=300, deadline=None)
@given(
    data=_DATA,
    flow=st.sampled_from([False, True, None]),
    style=st.sampled_from([None, "'", '"']),
)
def test_positions_answer_as_the_nodes_do(data: Any, flow: bool | None, style: str | None) -> None:
    text = yaml.safe_dump(
        {"steps": data}, default_flow_style=flow, default_style=style, allow_unicode=True
    )
    _same_answers(text)


def test_traps_aliases_and_odd_keys() -> None:
    _same_answers(
        "a: &x {b: no, c: 1:30, d: [010, on, 'no']}\n"
        "e: *x\n"
        "f:\n  - *x\n  - g: 0x1F\n"
        "1: one\n0x2: two\n"
    )


def test_a_document_with_a_problem_or_a_merge_keeps_its_nodes() -> None:
    assert parse_document("a: 1\na: 2\n", "spec.yaml").source_map.positions is None
    merged = parse_document("a: &x {b: 1}\nc:\n  <<: *x\n", "spec.yaml")
    assert merged.source_map.positions is None
    assert merged.source_map.root is not None
