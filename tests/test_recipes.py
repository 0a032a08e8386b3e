"""Endpoints without a ``model`` field (the ``recipes/*``): the catalog's entry for each, the
spec language (``model`` optional there and only there) and its JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from runway_plan.catalog import load_catalog
from runway_plan.catalog.model import ArrayType, EnumType, IntegerType
from runway_plan.spec_schema import json_schema
from runway_plan.validate import check_file, validate_request

CATALOG = load_catalog()
VALIDATOR = Draft202012Validator(json_schema(CATALOG))
RECIPES = (
    "ad_localization",
    "marketing_stock_image",
    "multi_shot_video",
    "product_ad",
    "product_campaign_image",
    "product_swap",
    "product_ugc",
)
IMG = "https://cdn.example.com/bottle.png"
AD = {"endpoint": "recipes/product_ad", "version": "2026-07", "productImages": [{"uri": IMG}]}


def _spec(step: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "r", "steps": {"s": step}}


def test_each_recipe_is_one_entry_named_by_its_endpoint() -> None:
    routed = {"generate/video", "generate/image", "generate/audio"}  # routers: configId + input
    recipes = CATALOG.model_less - {"workflows"} - routed  # a workflow runs at /v1/workflows/{id}
    assert recipes == {f"recipes/{name}" for name in RECIPES}
    for name in recipes:
        endpoint = CATALOG.endpoints[name]
        assert (endpoint.path, endpoint.implicit_model, list(endpoint.models)) == (
            f"/v1/{name}",
            name,
            [name],
        )
        assert "model" not in endpoint.models[name].fields
        assert CATALOG.price(name) is not None, name
        assert CATALOG.tiers.model_groups[name] == "other"
    assert all(
        CATALOG.endpoints[n].implicit_model is None for n in ("text_to_image", "sound_effect")
    )


def test_limits_read_from_the_recipe_docstrings() -> None:
    ad = CATALOG.model("recipes/product_ad", "recipes/product_ad")
    assert ad is not None
    images, styles, duration = (
        ad.fields[k].type for k in ("productImages", "styleImages", "duration")
    )
    assert isinstance(images, ArrayType) and (images.min_items, images.max_items) == (1, 10)
    assert isinstance(styles, ArrayType) and (styles.min_items, styles.max_items) == (0, 4)
    assert isinstance(duration, IntegerType) and (duration.minimum, duration.maximum) == (4, 15)
    shots = CATALOG.model("recipes/multi_shot_video", "recipes/multi_shot_video")
    assert shots is not None
    mode = shots.fields["mode"]
    assert isinstance(mode.type, EnumType) and mode.type.values == ("auto", "custom")
    assert mode.required and not shots.fields["prompt"].required
    assert (
        CATALOG.max_output_count("recipes/marketing_stock_image", "recipes/marketing_stock_image")
        == 4
    )


def test_outputs_are_typed_by_media() -> None:
    media = {name: CATALOG.output_media(f"recipes/{name}", f"recipes/{name}") for name in RECIPES}
    assert media == {
        "ad_localization": "image",
        "marketing_stock_image": "image",
        "multi_shot_video": "video",
        "product_ad": "video",
        "product_campaign_image": "image",
        "product_swap": "video",
        "product_ugc": "video",
    }


def test_the_schema_needs_a_model_only_where_the_request_has_one() -> None:
    assert VALIDATOR.is_valid(_spec(AD))
    assert VALIDATOR.is_valid(_spec({**AD, "model": "recipes/product_ad"}))
    assert not VALIDATOR.is_valid(_spec({**AD, "model": "gen4.5"}))
    assert not VALIDATOR.is_valid(_spec({**AD, "duration": 16}))
    assert not VALIDATOR.is_valid(_spec({"endpoint": "text_to_image", "promptText": "x"}))
    assert not VALIDATOR.is_valid(_spec({"endpoint": "image_to_vide", "promptText": "x"}))


@pytest.mark.parametrize(
    ("step", "found"),
    [
        (AD, []),
        ({**AD, "model": "recipes/product_ad"}, []),
        ({"endpoint": "text_to_image", "promptText": "x"}, ["RP104 missing required key 'model'"]),
        ({**AD, "model": "{{ 'gen4' }}"}, ["RP201 unknown model 'gen4'"]),
    ],
)
def test_a_model_is_optional_on_a_recipe_alone(
    step: dict[str, Any], found: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_spec(step)), encoding="utf-8")
    _graph, diagnostics = check_file(path, CATALOG)
    assert [f"{d.code} {d.message}" for d in diagnostics if d.is_error] == found


def test_an_api_body_for_a_recipe_has_no_model() -> None:
    body = {"version": "2026-06", "referenceImage": {"uri": IMG}}
    issues = validate_request(CATALOG, "recipes/ad_localization", body)
    assert [issue.path for issue in issues] == [("targetLanguage",)]
    issues = validate_request(CATALOG, "recipes/ad_localization", {**body, "model": "x"})
    assert sorted(issue.path for issue in issues) == [("model",), ("targetLanguage",)]
