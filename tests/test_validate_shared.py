"""Steps of one model share the clean results of their scalar fields: the diagnostics are
those of checking every field of every step."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runway_plan.catalog import load_catalog
from runway_plan.source import parse_document
from runway_plan.validate import Validator, check_document

CATALOG = load_catalog()

_VALUES: dict[str, list[Any]] = {
    "ratio": ["1280:720", "720:1280", "1920:1080", "1:1", 16, "wide"],
    "duration": [5, 10, 4, 0, -1, 2.5, "5", True, None],
    "seed": [0, 7, -3, 2**33, "x"],
    "promptText": ["a lighthouse", "", "x" * 1001, 3],
    "promptImage": ["@hero", "https://example.com/a.png", "http://10.0.0.1/a.png", "a.png", 5],
    "model": ["gen4_turbo", "gen3a_turbo", "gen4_image", "nope"],
}
_STEP = st.fixed_dictionaries(
    {"endpoint": st.sampled_from(["image_to_video", "text_to_image"])},
    optional={name: st.sampled_from(values) for name, values in _VALUES.items()},
)


class _Forgetful(set[tuple[Any, ...]]):
    """A ``clean`` set that never remembers: every field of every step is checked."""

    def add(self, item: tuple[Any, ...]) -> None:
        return None


def _diagnostics(text: str) -> list[tuple[str, str, object, object]]:
    _graph, found = check_document(parse_document(text, "spec.yaml"), CATALOG)
    return [(d.code, d.message, d.span, d.path) for d in found]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, min_size=1, max_size=6))
def test_shared_clean_results_change_no_diagnostic(steps: list[dict[str, Any]]) -> None:
    spec = {
        "version": 1,
        "name": "shared",
        "steps": {
            "hero": {"endpoint": "text_to_image", "model": "gen4_image", "promptText": "a"},
            **{f"s{i}": {"model": "gen4_turbo", **step} for i, step in enumerate(steps)},
        },
    }
    text = yaml.safe_dump(spec, sort_keys=False)
    shared = _diagnostics(text)
    run = Validator.run

    def forgetful_run(self: Validator) -> Any:
        self.clean = _Forgetful()
        return run(self)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(Validator, "run", forgetful_run)
        every = _diagnostics(text)
    assert shared == every


def test_a_clean_value_is_checked_once_per_model() -> None:
    steps = "".join(
        f"  s{i}:\n    endpoint: image_to_video\n    model: gen4_turbo\n"
        f"    promptImage: https://example.com/a.png\n    ratio: '1280:720'\n    duration: 5\n"
        for i in range(3)
    )
    graph, found = check_document(
        parse_document(f"version: 1\nname: x\nsteps:\n{steps}", "spec.yaml"), CATALOG
    )
    assert not [d for d in found if d.is_error]
    validator = Validator(graph)
    checked: list[object] = []
    validator.clean = set()
    for generation in graph.generations.values():
        validator.generation(generation)
        checked.append(len(validator.clean))
    assert checked[0] > 0 and checked[0] == checked[1] == checked[2]
