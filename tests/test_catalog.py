"""Tests of the packaged model catalog and of the script that generates its constraints."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
import runwayml

from runway_plan.catalog import Catalog, CatalogError, load_catalog
from runway_plan.catalog.model import FieldSpec, ModelSpec
from runway_plan.validate import RULE_NAMES

ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = ROOT / "runway_plan" / "catalog"
SDK_VERSION = "5.24.0"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The packaged catalog."""
    return load_catalog()


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """``scripts/generate_catalog.py`` imported as a module."""
    path = ROOT / "scripts" / "generate_catalog.py"
    spec = importlib.util.spec_from_file_location("generate_catalog", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def resolve(fields: dict[str, FieldSpec], path: str) -> list[dict]:
    """Every type node reachable at dotted wire ``path`` (through arrays and unions)."""
    head, _, rest = path.partition(".")
    if head not in fields:
        return []
    nodes = list(_expand(fields[head].type.model_dump()))
    if not rest:
        return nodes
    found = []
    for node in nodes:
        if node["kind"] == "object":
            specs = {k: FieldSpec.model_validate(v) for k, v in node["fields"].items()}
            found += resolve(specs, rest)
    return found


def _expand(node: dict) -> Iterator[dict]:
    yield node
    if node["kind"] == "union":
        for variant in node["variants"]:
            yield from _expand(variant)
    elif node["kind"] == "array":
        yield from _expand(node["items"])


def specs_of(catalog: Catalog, model: str) -> list[ModelSpec]:
    """The request types of ``model`` on every endpoint that accepts it."""
    return [catalog.endpoints[e].models[model] for e in catalog.model_endpoints[model]]


def field_type(catalog: Catalog, endpoint: str, model: str, name: str) -> dict:
    """The type node of top-level field ``name``."""
    spec = catalog.model(endpoint, model)
    assert spec is not None, f"{model} missing on {endpoint}"
    return spec.fields[name].type.model_dump(exclude_none=True)


# ------------------------------------------------------------------------------ loading


def test_packaged_catalog_loads(catalog: Catalog) -> None:
    assert catalog.constraints.sdk_version == SDK_VERSION
    assert catalog.version == f"runwayml-{SDK_VERSION}+{catalog.overlay.version}"
    assert len(catalog.digest) == 64
    assert len(catalog.endpoints) == 26
    assert len(catalog.model_less) == 11  # seven recipes, workflows, three generate (routers)
    assert {"generate/video", "generate/image", "generate/audio"} <= catalog.model_less
    assert {"router_create", "router_update"} <= set(catalog.constraints.resources)
    assert catalog.endpoints["avatar_videos"].path == "/v1/avatar_videos"


def test_broken_catalog_raises_catalog_error(tmp_path: Path) -> None:
    for name in ("constraints.json", "overlay.yaml", "prices.yaml", "tiers.yaml"):
        shutil.copy(CATALOG_DIR / name, tmp_path / name)
    assert load_catalog(tmp_path).digest == load_catalog().digest

    prices = (tmp_path / "prices.yaml").read_text(encoding="utf-8")
    (tmp_path / "prices.yaml").write_text(prices.replace("unit: image", "unit: pixel", 1))
    with pytest.raises(CatalogError, match="Prices"):
        load_catalog(tmp_path)

    (tmp_path / "prices.yaml").write_text(prices)
    (tmp_path / "constraints.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogError):
        load_catalog(tmp_path)

    (tmp_path / "constraints.json").unlink()
    with pytest.raises(CatalogError):
        load_catalog(tmp_path)


# ------------------------------------------------------------------------------ generator


def test_constraints_match_installed_sdk(generator: ModuleType) -> None:
    assert runwayml.__version__ == SDK_VERSION
    generated = generator.render(generator.generate())
    checked_in = (CATALOG_DIR / "constraints.json").read_text(encoding="utf-8")
    assert generated == checked_in, "run scripts/generate_catalog.py"


def test_generator_check_mode(generator: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "constraints.json"
    shutil.copy(CATALOG_DIR / "constraints.json", target)
    assert generator.main(["--check", "--output", str(target)]) == 0
    data = json.loads(target.read_text(encoding="utf-8"))
    data["sdk_version"] = "0.0.0"
    target.write_text(generator.render(data), encoding="utf-8")
    assert generator.main(["--check", "--output", str(target)]) == 1


def test_docstring_helpers(generator: ModuleType) -> None:
    doc = "A HTTPS URL (e.g.\n\n`data:image/png;base64,...`, up to 5MB) image.\n\nMore."
    assert generator.first_paragraph(doc) == (
        "A HTTPS URL (e.g. `data:image/png;base64,...`, up to 5MB) image."
    )
    assert not generator.is_deprecated('Tier.\n\n- `720P` - Deprecated: Use "720p" instead.')
    assert generator.is_deprecated("Deprecated, ignored; output follows input.")


# ------------------------------------------------------------------------------ coverage


def test_every_model_has_a_price_or_an_unknown_reason(catalog: Catalog) -> None:
    models = set(catalog.model_endpoints)
    priced = set(catalog.prices.models)
    unknown = set(catalog.prices.unknown)
    assert not priced & unknown
    assert models <= priced | unknown, sorted(models - priced - unknown)
    assert (priced | unknown) - models <= set(catalog.overlay.retired)
    assert all(reason.strip() for reason in catalog.prices.unknown.values())


def test_prices_are_decimal_and_sourced(catalog: Catalog) -> None:
    assert catalog.prices.usd_per_credit == Decimal("0.01")
    for name, price in catalog.prices.models.items():
        assert price.rates, name
        assert price.source and price.checked == "2026-12-02", name
        for rate in price.rates:
            assert isinstance(rate.credits, Decimal) and rate.credits >= 0, name
        assert isinstance(price.per, Decimal) and price.per > 0


def test_price_fields_exist_on_the_model(catalog: Catalog) -> None:
    for name, whole in catalog.prices.models.items():
        if name in catalog.overlay.retired:
            continue
        for endpoint in catalog.model_endpoints[name]:
            spec = catalog.endpoints[endpoint].models[name]
            price = whole.on(endpoint)
            for path in filter(None, (price.count_field, price.text_field, price.input_field)):
                assert resolve(spec.fields, path), f"{name}: {path}"
            if price.input_field:
                media = {n.get("media") for n in resolve(spec.fields, price.input_field)}
                assert media & {"audio", "video"}, f"{name}: {price.input_field}"
            for tier, derived in price.derived.items():
                assert derived.field in spec.fields, f"{name}: {tier} from {derived.field}"
                node = spec.fields[derived.field].type.model_dump()
                values = {v for n in _expand(node) if n["kind"] == "enum" for v in n["values"]}
                if derived.otherwise is None:
                    missing = {str(v) for v in values} - set(derived.map)
                    assert not missing, f"{name}: {tier} misses {sorted(missing)} on {endpoint}"
            whens = [key for rate in price.rates for key in rate.when if key not in price.derived]
            for key in {*whens, *price.defaults, *price.unknown_defaults}:
                assert key in spec.fields, f"{name}: {key}"
            for rate in price.rates:
                for key, values in rate.when.items():
                    if key in price.derived:
                        derived = price.derived[key]
                        known = {*derived.map.values(), derived.otherwise, derived.default}
                        assert set(values) <= known, f"{name}: {key}"
                        continue
                    node = spec.fields[key].type.model_dump()
                    if node["kind"] == "enum":
                        assert set(values) <= set(node["values"]), f"{name}: {key}"
        for extra in whole.surcharges:
            for path in extra.fields:
                assert any(
                    resolve(catalog.endpoints[e].models[name].fields, path)
                    for e in catalog.model_endpoints[name]
                ), f"{name}: surcharge field {path}"


def test_every_model_has_a_tier_group(catalog: Catalog) -> None:
    assert set(catalog.tiers.tiers) == {1, 2, 3, 4, 5}
    groups = set(catalog.tiers.tiers[1].groups)
    assert len(groups) == 5
    assert all(set(t.groups) == groups for t in catalog.tiers.tiers.values())
    assert catalog.tiers.default_group in groups
    for model in catalog.model_endpoints:
        assert catalog.tiers.model_groups.get(model) in groups, model
    spend = [catalog.tier(n).max_monthly_spend_usd for n in range(1, 6)]
    assert spend == [Decimal(v) for v in ("100", "500", "2000", "20000", "100000")]
    # SKILL: gen4.5 has concurrency 2 and 200 generations a day at tier 1.
    video = catalog.tier(1).groups[catalog.limit_group("gen4.5")]
    assert (video.max_concurrent, video.max_daily) == (2, 200)


def test_retired_models_are_gone_and_replaced(catalog: Catalog) -> None:
    assert set(catalog.overlay.retired) == {"gen4_aleph", "veo3", "gen3a_turbo"}
    for name, retired in catalog.overlay.retired.items():
        assert name not in catalog.model_endpoints
        for endpoint in retired.endpoints:
            assert retired.replacement in catalog.endpoints[endpoint].models, (name, endpoint)


def test_overlay_refers_to_real_models_and_fields(catalog: Catalog) -> None:
    # A workflow's outputs are declared per step (its `outputs:`), never by the catalog.
    assert set(catalog.overlay.endpoint_output) == set(catalog.endpoints) - {"workflows"}
    for name, overlay in catalog.overlay.models.items():
        assert name in catalog.model_endpoints, name
        assert overlay.source, name
        for path, patch in overlay.fields.items():
            hits = [n for s in specs_of(catalog, name) for n in resolve(s.fields, path)]
            texts = (patch.min_length, patch.max_length, patch.pattern, patch.pixel_area)
            kinds = {"string"} if any(t is not None for t in texts) else {"integer", "number"}
            assert any(n["kind"] in kinds for n in hits), f"{name}: {path}"
        for path in overlay.input_durations:
            hits = [n for s in specs_of(catalog, name) for n in resolve(s.fields, path)]
            assert any(n.get("media") in {"audio", "video"} for n in hits), f"{name}: {path}"
        if overlay.duration_range:
            low, high = overlay.duration_range
            assert low <= high
    assert {r for o in catalog.overlay.models.values() for r in o.rules} <= RULE_NAMES
    for endpoint, renames in catalog.overlay.field_renames.items():
        if endpoint == "*":
            continue
        fields = {f for m in catalog.endpoints[endpoint].models.values() for f in m.fields}
        assert set(renames.values()) <= fields, endpoint
        assert not set(renames) & fields, endpoint


def test_reference_tag_rule_covers_every_tagged_model(catalog: Catalog) -> None:
    tagged = {
        model
        for endpoint in catalog.endpoints.values()
        for model, spec in endpoint.models.items()
        if resolve(spec.fields, "referenceImages.tag")
    }
    ruled = {m for m, o in catalog.overlay.models.items() if "reference_tags" in o.rules}
    assert tagged == ruled


# ------------------------------------------------------------------------------ spot checks


def test_gen45_image_to_video(catalog: Catalog) -> None:
    spec = catalog.model("image_to_video", "gen4.5")
    assert spec is not None and spec.sdk_type == "Gen4_5"
    ratio = field_type(catalog, "image_to_video", "gen4.5", "ratio")
    assert set(ratio["values"]) == {
        "1280:720",
        "720:1280",
        "1104:832",
        "960:960",
        "832:1104",
        "1584:672",
    }
    duration = spec.fields["duration"]
    assert duration.required
    assert duration.type.model_dump(exclude_none=True) == {
        "kind": "integer",
        "minimum": 2,
        "maximum": 10,
    }
    assert {n for n, f in spec.fields.items() if f.required} == {
        "model",
        "promptImage",
        "promptText",
        "ratio",
        "duration",
    }
    prompt = field_type(catalog, "image_to_video", "gen4.5", "promptText")
    assert (prompt["min_length"], prompt["max_length"], prompt["length_unit"]) == (1, 1000, "utf16")
    image = field_type(catalog, "image_to_video", "gen4.5", "promptImage")
    assert (image["variants"][0]["kind"], image["variants"][0]["media"]) == ("string", "image")
    item = image["variants"][1]["items"]
    assert item["fields"]["uri"]["type"]["media"] == "image"
    assert item["fields"]["position"]["type"]["values"] == ("first",)


def test_text_to_video_models(catalog: Catalog) -> None:
    models = catalog.endpoints["text_to_video"].models
    assert "gen4_turbo" not in models
    assert "gen4_turbo" in catalog.endpoints["image_to_video"].models
    assert set(field_type(catalog, "text_to_video", "gen4.5", "ratio")["values"]) == {
        "1280:720",
        "720:1280",
    }
    assert catalog.endpoints["text_to_video"].path == "/v1/text_to_video"
    assert catalog.endpoints["text_to_video"].sdk_module == "text_to_video_create_params"


def test_eleven_multilingual_v2_presets(catalog: Catalog) -> None:
    voice = field_type(catalog, "text_to_speech", "eleven_multilingual_v2", "voice")
    presets = voice["fields"]["presetId"]["type"]["values"]
    assert len(presets) == 49 and "Maya" in presets and "clara" not in presets
    assert voice["fields"]["type"]["type"]["values"] == ("runway-preset",)


def test_voice_dubbing_target_languages(catalog: Catalog) -> None:
    spec = catalog.model("voice_dubbing", "eleven_voice_dubbing")
    assert spec is not None
    lang = spec.fields["targetLang"]
    assert lang.required
    values = lang.type.model_dump()["values"]
    assert len(values) == 29 and {"en", "es", "fil", "ta"} <= set(values)
    assert "targetLanguage" not in spec.fields
    assert spec.fields["audioUri"].type.model_dump()["media"] == "audio"


def test_gen4_image_turbo_requires_reference_images(catalog: Catalog) -> None:
    spec = catalog.model("text_to_image", "gen4_image_turbo")
    assert spec is not None and spec.fields["referenceImages"].required
    refs = spec.fields["referenceImages"].type.model_dump(exclude_none=True)
    assert (refs["min_items"], refs["max_items"]) == (1, 3)
    tag = refs["items"]["fields"]["tag"]["type"]
    assert (tag["min_length"], tag["max_length"]) == (3, 16)
    assert tag["pattern"] == "^[A-Za-z][A-Za-z0-9_]*$"
    gen4_image = catalog.model("text_to_image", "gen4_image")
    assert gen4_image is not None and not gen4_image.fields["referenceImages"].required


@pytest.mark.parametrize(
    ("endpoint", "model", "limit", "unit"),
    [
        ("text_to_image", "gpt_image_2", 32000, "utf16"),
        ("text_to_image", "seedream5_pro", 4000, "utf16"),
        ("text_to_video", "seedance2", 3500, "utf16"),
        ("text_to_video", "seedance2_5", 15000, "utf16"),
        ("text_to_video", "happyhorse_1_0", 2500, "utf16"),
        ("text_to_speech", "eleven_multilingual_v2", 1000, "utf16"),
        ("text_to_video", "veo3.1", 1000, "utf16"),
    ],
)
def test_prompt_max_length(
    catalog: Catalog, endpoint: str, model: str, limit: int, unit: str
) -> None:
    prompt = field_type(catalog, endpoint, model, "promptText")
    assert (prompt["max_length"], prompt["length_unit"]) == (limit, unit)


def test_docstring_ranges(catalog: Catalog) -> None:
    intensity = field_type(catalog, "character_performance", "act_two", "expressionIntensity")
    assert (intensity["minimum"], intensity["maximum"]) == (1, 5)
    sfx = field_type(catalog, "sound_effect", "eleven_text_to_sound_v2", "duration")
    assert (sfx["kind"], sfx["minimum"], sfx["maximum"]) == ("number", 0.5, 30.0)
    count = field_type(catalog, "text_to_image", "gpt_image_2", "outputCount")
    assert (count["minimum"], count["maximum"]) == (1, 10)
    keyframes = field_type(catalog, "video_to_video", "aleph2", "keyframes")
    assert keyframes["max_items"] == 5
    omni = field_type(catalog, "text_to_video", "gemini_omni_flash_1.1", "duration")
    integer = next(v for v in omni["variants"] if v["kind"] == "integer")
    assert (integer["minimum"], integer["maximum"]) == (3, 10)
    # A range about a nested or combined value must not land on the field itself.
    reference = field_type(catalog, "character_performance", "act_two", "reference")
    assert reference["kind"] == "object" and "minimum" not in json.dumps(reference)
    multi = field_type(catalog, "image_to_video", "kling3.0_pro", "providerSettings")
    assert "min_items" not in json.dumps(multi) and "minimum" not in json.dumps(multi)


def test_asset_media(catalog: Catalog) -> None:
    act_two = field_type(catalog, "character_performance", "act_two", "character")
    media = {
        v["fields"]["type"]["type"]["values"][0]: v["fields"]["uri"]["type"]["media"]
        for v in act_two["variants"]
    }
    assert media == {"image": "image", "video": "video"}
    sts = field_type(catalog, "speech_to_speech", "eleven_multilingual_sts_v2", "media")
    assert {v["fields"]["uri"]["type"]["media"] for v in sts["variants"]} == {"audio", "video"}
    assert field_type(catalog, "video_to_video", "seedance2", "promptVideo")["media"] == "video"
    assert (
        field_type(catalog, "image_upscale", "magnific_precision_upscaler_v2", "imageUri")["media"]
        == "image"
    )
    refs = field_type(catalog, "sound_effect", "seed_audio", "referenceAudios")
    assert refs["items"]["media"] == "audio" and refs["max_items"] == 3
    hailuo = field_type(catalog, "image_to_video", "hailuo3", "promptImage")
    assert hailuo["variants"][0]["media"] == "image"


def test_resources(catalog: Catalog) -> None:
    resources = catalog.constraints.resources
    assert set(resources) == {
        "avatar_create",
        "avatar_update",
        "document_create",
        "document_update",
        "realtime_session_create",
        "voice_create",
        "voice_update",
        "voice_preview",
        "router_create",
        "router_update",
    }
    voice = resources["voice_create"].fields
    assert {n for n, f in voice.items() if f.required} == {"name", "from"}
    sources = voice["from"].type.model_dump()["variants"]
    assert [v["fields"]["type"]["type"]["values"] for v in sources] == [("audio",), ("text",)]
    assert sources[0]["fields"]["audio"]["type"]["media"] == "audio"
    assert sources[1]["fields"]["prompt"]["type"]["min_length"] == 20
    assert not any(f.required for f in resources["voice_update"].fields.values())
    create = resources["avatar_create"].fields
    assert {n for n, f in create.items() if f.required} == {
        "name",
        "personality",
        "referenceImage",
        "voice",
    }
    assert create["referenceImage"].type.model_dump()["media"] == "image"
    update = resources["avatar_update"].fields
    assert not any(f.required for f in update.values())
    kinds = {v["kind"] for v in update["startScript"].type.model_dump()["variants"]}
    assert kinds == {"string", "null"}


def test_outputs_and_assets(catalog: Catalog) -> None:
    assert catalog.output_media("image_to_video", "gen4.5") == "video"
    assert catalog.output_media("text_to_speech", "eleven_multilingual_v2") == "audio"
    assert catalog.output_media("video_to_audio", "mirelo_sfx_2_0") == "audio"
    assert catalog.output_media("image_upscale", "magnific_precision_upscaler_v2") == "image"
    limits = catalog.overlay.asset_limits
    assert limits["image"].url == 16_000_000 and limits["video"].url == 32_000_000
    assert all(limits[m].upload == 200_000_000 for m in ("image", "video", "audio"))
    assert catalog.overlay.seed_range == (0, 4294967295)
    assert catalog.overlay.field_renames["text_to_speech"] == {"text": "promptText"}
    assert catalog.overlay.field_renames["*"]["runwayUri"] == "uri"


def test_selected_prices(catalog: Catalog) -> None:
    veo = catalog.price("veo3.1")
    assert veo is not None and veo.unknown_defaults == ("audio",)
    assert [r.credits for r in veo.rates] == [Decimal(40), Decimal(20)]
    gpt = catalog.price("gpt_image_2")
    assert (
        gpt is not None and gpt.count_field == "outputCount" and gpt.defaults == {"quality": "high"}
    )
    tts = catalog.price("eleven_multilingual_v2")
    assert tts is not None and (tts.unit, tts.per, tts.rounding) == ("characters", 50, "ceil")
    act = catalog.price("act_two")
    assert act is not None and (act.unit, act.input_field) == ("input_second", "reference.uri")
    sfx = catalog.price("eleven_text_to_sound_v2")
    assert sfx is not None and sfx.confidence == "medium"
    assert catalog.price("kling_4") is None and "Kling" in catalog.prices.unknown["kling_4"]


@pytest.mark.parametrize(
    ("endpoint", "model", "most"),
    [
        ("text_to_image", "gpt_image_2", 10),  # the SDK's integer range
        ("text_to_image", "gemini_image3_pro", 4),  # the SDK's literal {1, 4}
        ("text_to_image", "seedream5_pro", 4),  # the overlay's patch
        ("text_to_image", "seedream5_flash", 10),  # undocumented: the overlay's fallback
        ("text_to_image", "gen4_image", 1),  # no outputCount field
        ("text_to_image", "no_such_model", 1),
    ],
)
def test_max_output_count(catalog: Catalog, endpoint: str, model: str, most: int) -> None:
    assert catalog.max_output_count(endpoint, model) == most
