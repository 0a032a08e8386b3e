"""Property tests: whatever the input, the linter only returns diagnostics, located in the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runway_plan.catalog import load_catalog
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
from runway_plan.validate import check_file

CATALOG = load_catalog()
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MODELS = sorted(
    (endpoint.name, model.name)
    for endpoint in CATALOG.endpoints.values()
    for model in endpoint.models.values()
)


def _assert_located(path: Path, text: str) -> None:
    _graph, diagnostics = check_file(path, CATALOG)
    lines = len(text.splitlines()) + 1  # YAML also breaks lines at NEL, LS and PS
    for diagnostic in diagnostics:
        span = diagnostic.span
        if span is None:
            continue
        assert span.path == str(path)
        assert 1 <= span.line <= lines + 1, diagnostic
        assert span.col >= 1, diagnostic


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["@a", "@b[1]", "@zz[-1]", "{{ x }}", "{{ item }}", "1:30", "no", "{%", "@"]),
)
data = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


@SETTINGS
@given(text=st.text(max_size=300))
def test_random_text_never_raises(tmp_path: Path, text: str) -> None:
    path = tmp_path / "random.yaml"
    path.write_text(text, encoding="utf-8")
    _assert_located(path, text)


@SETTINGS
@given(document=data)
def test_random_yaml_documents_never_raise(tmp_path: Path, document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    path = tmp_path / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    _assert_located(path, text)


def _value(node: TypeNode, depth: int = 0) -> st.SearchStrategy[Any]:
    junk = scalars
    if depth > 3:
        return junk
    if isinstance(node, EnumType):
        return st.sampled_from(list(node.values)) | junk
    if isinstance(node, StringType):
        if node.media:
            return st.sampled_from(
                [
                    "https://cdn.example.com/a.png",
                    "@s0",
                    "@s1[0]",
                    "http://1.2.3.4/x",
                    "missing.png",
                    "data:image/png;base64,iVBORw0KGgo=",
                    "runway://upload/1",
                ]
            )
        return st.text(max_size=40) | junk
    if isinstance(node, IntegerType | NumberType):
        return st.integers(-5, 40) | junk
    if isinstance(node, ArrayType):
        return st.lists(_value(node.items, depth + 1), max_size=4)
    if isinstance(node, ObjectType):
        return st.fixed_dictionaries(
            {}, optional={name: _value(spec.type, depth + 1) for name, spec in node.fields.items()}
        )
    if isinstance(node, UnionType):
        return st.one_of([_value(v, depth + 1) for v in node.variants])
    return junk


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 4))):
        endpoint, model = draw(st.sampled_from(MODELS))
        spec = CATALOG.endpoints[endpoint].models[model]
        fields = {
            name: draw(_value(field.type))
            for name, field in spec.fields.items()
            if name != "model" and (field.required or draw(st.booleans()))
        }
        step: dict[str, Any] = {"endpoint": endpoint, "model": model, **fields}
        mutation = draw(st.sampled_from(["none", "drop", "extra", "model", "fan", "needs"]))
        if mutation == "drop" and fields:
            step.pop(draw(st.sampled_from(sorted(fields))))
        elif mutation == "extra":
            step[draw(st.text(min_size=1, max_size=10))] = draw(scalars)
        elif mutation == "model":
            step["model"] = draw(st.sampled_from([m for _, m in MODELS] + ["gen4_aleph", "x"]))
        elif mutation == "fan":
            step["for_each"] = draw(st.sampled_from(["{{ items }}", "@s0", [1, 2], "nope", []]))
        elif mutation == "needs":
            step["needs"] = [f"s{draw(st.integers(0, 5))}"]
        steps[f"s{index}"] = step
    return {"version": 1, "name": "fuzz", "vars": {"items": ["a", "b"]}, "steps": steps}


@SETTINGS
@given(spec=specs())
def test_generated_and_mutated_specs_never_raise(tmp_path: Path, spec: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    _assert_located(path, text)
