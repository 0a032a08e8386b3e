"""Limits the SDK docstrings leave out, adopted into the overlay from Runway's OpenAPI spec; the
free sizes of seedream5_lite; text lengths counted in UTF-16 code units everywhere.

Each limit is checked at its boundary: the last value allowed passes, the first beyond it is
refused at its field with its code.
"""

from __future__ import annotations

from typing import Any

import pytest
import runwayml
from runwayml.lib import polling

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.emulator import Emulator, EmulatorConfig, EmulatorServer, create_app
from runway_plan.spec_schema import json_schema
from runway_plan.validate import validate_request, validate_resource

IMG = "https://cdn.example.com/still.png"
VIDEO = "https://cdn.example.com/clip.mp4"
AUDIO = "https://cdn.example.com/voice.mp3"
WAVE = "\N{WATER WAVE}"
"""An emoji outside the Basic Multilingual Plane: one code point, two UTF-16 code units."""

BASES: dict[tuple[str, str], dict[str, Any]] = {
    ("text_to_video", "happyhorse_1_0"): {"promptText": "a horse", "duration": 5},
    ("image_to_video", "happyhorse_1_0"): {"promptImage": IMG, "duration": 5},
    ("text_to_image", "gemini_2.5_flash"): {"promptText": "a lamp", "ratio": "1024:1024"},
    ("text_to_image", "gemini_image3_pro"): {"promptText": "a lamp", "ratio": "1024:1024"},
    ("text_to_image", "gemini_image3.1_flash"): {"promptText": "a lamp", "ratio": "1024:1024"},
    ("text_to_video", "gemini_omni_flash"): {"promptText": "a wave"},
    ("image_to_video", "gemini_omni_flash"): {"promptImage": IMG},
    ("video_to_video", "gemini_omni_flash"): {"videoUri": VIDEO, "promptText": "in snow"},
    ("text_to_speech", "seed_audio"): {"promptText": "hello"},
    ("sound_effect", "seed_audio"): {"promptText": "rain"},
    ("sound_effect", "eleven_text_to_sound_v2"): {"promptText": "rain"},
    ("video_to_video", "aleph2"): {"videoUri": VIDEO, "promptText": "in snow"},
    ("text_to_video", "veo3.1"): {"promptText": "a wave", "ratio": "1280:720"},
    ("image_to_video", "veo3.1"): {"promptImage": IMG, "ratio": "1280:720"},
    ("text_to_video", "veo3.1_fast"): {"promptText": "a wave", "ratio": "1280:720"},
    ("image_to_video", "veo3.1_fast"): {"promptImage": IMG, "ratio": "1280:720"},
    ("image_to_video", "seedance2"): {"promptImage": IMG},
    ("video_to_video", "seedance2"): {"promptVideo": VIDEO},
    ("image_to_video", "seedance2_fast"): {"promptImage": IMG},
    ("video_to_video", "seedance2_mini"): {"promptVideo": VIDEO},
    ("voice_dubbing", "eleven_voice_dubbing"): {"audioUri": AUDIO, "targetLang": "es"},
    ("text_to_video", "seedance2"): {"promptText": "a wave"},
    ("text_to_image", "gpt_image_2"): {"promptText": "a lamp", "ratio": "auto"},
    ("text_to_image", "seedream5_pro"): {"promptText": "a lamp", "ratio": "2048:2048"},
    ("text_to_image", "seedream5_lite"): {"promptText": "a lamp", "ratio": "2048:2048"},
}

# (endpoint, model, field, the last value allowed, the first value refused, its code)
ADOPTED: list[tuple[str, str, str, Any, Any, str]] = [
    ("text_to_video", "happyhorse_1_0", "duration", 3, 2, "RP208"),
    ("text_to_video", "happyhorse_1_0", "duration", 15, 16, "RP208"),
    ("image_to_video", "happyhorse_1_0", "duration", 3, 2, "RP208"),
    ("image_to_video", "happyhorse_1_0", "duration", 15, 16, "RP208"),
    ("text_to_video", "happyhorse_1_0", "promptText", "ab", "a", "RP209"),
    ("image_to_video", "happyhorse_1_0", "promptText", "ab", "a", "RP209"),
    ("text_to_image", "gemini_2.5_flash", "promptText", "x" * 5500, "x" * 5501, "RP209"),
    ("text_to_image", "gemini_image3_pro", "promptText", "x" * 5500, "x" * 5501, "RP209"),
    ("text_to_image", "gemini_image3.1_flash", "promptText", "x" * 5500, "x" * 5501, "RP209"),
    ("text_to_video", "gemini_omni_flash", "promptText", "x" * 4000, "x" * 4001, "RP209"),
    ("image_to_video", "gemini_omni_flash", "promptText", "x" * 4000, "x" * 4001, "RP209"),
    ("image_to_video", "gemini_omni_flash", "promptText", "x", "", "RP209"),
    ("video_to_video", "gemini_omni_flash", "promptText", "x" * 4000, "x" * 4001, "RP209"),
    ("text_to_speech", "seed_audio", "promptText", "x" * 2048, "x" * 2049, "RP209"),
    ("sound_effect", "seed_audio", "promptText", "x" * 2048, "x" * 2049, "RP209"),
    ("sound_effect", "eleven_text_to_sound_v2", "promptText", "x" * 3000, "x" * 3001, "RP209"),
    ("sound_effect", "eleven_text_to_sound_v2", "promptText", "x", "", "RP209"),
    ("video_to_video", "aleph2", "promptText", "x" * 1000, "x" * 1001, "RP209"),
    ("text_to_video", "veo3.1", "negativePrompt", "x" * 1000, "x" * 1001, "RP209"),
    ("image_to_video", "veo3.1", "negativePrompt", "x" * 1000, "x" * 1001, "RP209"),
    ("text_to_video", "veo3.1_fast", "negativePrompt", "x" * 1000, "x" * 1001, "RP209"),
    ("image_to_video", "veo3.1_fast", "negativePrompt", "x", "", "RP209"),
    ("image_to_video", "seedance2", "promptText", "x", "", "RP209"),
    ("video_to_video", "seedance2", "promptText", "x", "", "RP209"),
    ("image_to_video", "seedance2_fast", "promptText", "x", "", "RP209"),
    ("video_to_video", "seedance2_mini", "promptText", "x", "", "RP209"),
    ("voice_dubbing", "eleven_voice_dubbing", "numSpeakers", 2**53 - 1, 2**53, "RP208"),
]

# Limits the docstrings state in "characters" alone, which the API counts in UTF-16 code units.
UTF16: list[tuple[str, str, int]] = [
    ("text_to_video", "seedance2", 3500),
    ("image_to_video", "seedance2", 3500),
    ("text_to_image", "gpt_image_2", 32000),
    ("text_to_image", "seedream5_pro", 4000),
    ("text_to_image", "seedream5_lite", 4000),
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The packaged catalog."""
    return load_catalog()


def _issues(catalog: Catalog, endpoint: str, model: str, **fields: Any) -> list[tuple[Any, str]]:
    body = {"model": model, **BASES[(endpoint, model)], **fields}
    return [(issue.path, issue.code) for issue in validate_request(catalog, endpoint, body)]


@pytest.mark.parametrize(("endpoint", "model"), sorted(BASES))
def test_the_base_requests_are_valid(catalog: Catalog, endpoint: str, model: str) -> None:
    assert _issues(catalog, endpoint, model) == []


@pytest.mark.parametrize(
    ("endpoint", "model", "field", "allowed", "refused", "code"),
    ADOPTED,
    ids=[f"{m}-{e}-{f}-{r!s:.8}" for e, m, f, _a, r, _c in ADOPTED],
)
def test_an_adopted_limit_holds_at_its_boundary(
    catalog: Catalog, endpoint: str, model: str, field: str, allowed: Any, refused: Any, code: str
) -> None:
    assert _issues(catalog, endpoint, model, **{field: allowed}) == []
    assert _issues(catalog, endpoint, model, **{field: refused}) == [((field,), code)]


@pytest.mark.parametrize(("endpoint", "model", "limit"), UTF16)
def test_an_emoji_counts_two_units(catalog: Catalog, endpoint: str, model: str, limit: int) -> None:
    fits = "x" * (limit - 2) + WAVE
    over = "x" * (limit - 1) + WAVE
    assert len(over) == limit, "within the limit counted in code points"
    assert _issues(catalog, endpoint, model, promptText=fits) == []
    body = {"model": model, **BASES[(endpoint, model)], "promptText": over}
    [issue] = validate_request(catalog, endpoint, body)
    assert (issue.path, issue.code) == (("promptText",), "RP209")
    assert f"is {limit + 1} UTF-16 code units long" in issue.message


def test_every_text_length_is_counted_in_utf16_units(catalog: Catalog) -> None:
    units = {
        node.get("length_unit")
        for endpoint in catalog.endpoints.values()
        for spec in endpoint.models.values()
        for node in _strings(spec.model_dump()["fields"])
        if "max_length" in node or "min_length" in node
    }
    assert units == {"utf16"}


def _strings(fields: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [field["type"] for field in fields.values()]
    while stack:
        node = stack.pop()
        if node["kind"] == "string":
            found.append(node)
        elif node["kind"] == "union":
            stack.extend(node["variants"])
        elif node["kind"] == "array":
            stack.append(node["items"])
        elif node["kind"] == "object":
            stack.extend(field["type"] for field in node["fields"].values())
    return found


@pytest.mark.parametrize(
    "ratio", ["2048:2048", "4704:2016", "1920:1920", "4096:4096", "2560:1440", "3000:2000"]
)
def test_seedream5_lite_takes_listed_sizes_and_free_sizes_within_the_area(
    catalog: Catalog, ratio: str
) -> None:
    assert _issues(catalog, "text_to_image", "seedream5_lite", ratio=ratio) == []


@pytest.mark.parametrize(
    ("ratio", "code", "pixels"),
    [
        ("1919:1920", "RP208", "3,684,480"),
        ("4097:4096", "RP208", "16,781,312"),
        ("1024:768", "RP208", "786,432"),
        ("0:5000", "RP208", "0"),
        ("square", "RP207", None),
        ("2048x2048", "RP207", None),
        ("16:9", "RP208", "144"),
        ("", "RP207", None),
        ("1920:1920 ", "RP207", None),
        ("99999999999999999999:1", "RP208", "more than 16,777,216"),
    ],
)
def test_seedream5_lite_refuses_other_ratios_naming_the_form_and_area(
    catalog: Catalog, ratio: str, code: str, pixels: str | None
) -> None:
    body = {"model": "seedream5_lite", "promptText": "a lamp", "ratio": ratio}
    [issue] = validate_request(catalog, "text_to_image", body)
    assert (issue.path, issue.code) == (("ratio",), code)
    assert "'W:H' (width:height in pixels)" in issue.message
    assert "area of 3,686,400 to 16,777,216 pixels" in issue.message
    assert "16 listed sizes" in issue.message
    if pixels is not None:
        assert f"is {pixels} pixels" in issue.message


def test_other_models_with_free_ratios_are_unchanged(catalog: Catalog) -> None:
    # aleph2's ratio is a free string the SDK does not bound: any text passes.
    body = {"model": "aleph2", "videoUri": VIDEO, "ratio": "whatever"}
    assert validate_request(catalog, "video_to_video", body) == []


def _request_schema(schema: dict[str, Any], endpoint: str, model: str) -> dict[str, Any]:
    step = schema["$defs"]["Step"]
    for rule in step["allOf"]:
        if rule["if"]["properties"]["endpoint"]["const"] != endpoint:
            continue
        for branch in rule["then"].get("allOf", []):
            if branch["if"]["properties"]["model"]["const"] == model:
                return _resolve(schema, branch["then"])
    raise AssertionError(f"no schema for {model} on {endpoint}")


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _field(schema: dict[str, Any], endpoint: str, model: str, name: str) -> dict[str, Any]:
    request = _request_schema(schema, endpoint, model)
    field = _resolve(schema, request["properties"][name])
    # A field that is not free text also takes a template: the request's own schema is the
    # alternative that is not the template.
    variants = field.get("anyOf", [field])
    own = [v for v in variants if v.get("$ref") != "#/$defs/Template"]
    return own[0] if len(own) == 1 else {"anyOf": own}


def test_the_json_schema_states_the_adopted_limits(catalog: Catalog) -> None:
    schema = json_schema(catalog)
    horse = _field(schema, "text_to_video", "happyhorse_1_0", "duration")
    assert (horse["minimum"], horse["maximum"]) == (3, 15)
    gemini = _field(schema, "text_to_image", "gemini_image3_pro", "promptText")
    assert (gemini["minLength"], gemini["maxLength"]) == (1, 5500)
    negative = _field(schema, "image_to_video", "veo3.1", "negativePrompt")
    assert (negative["minLength"], negative["maxLength"]) == (1, 1000)
    ratio = _field(schema, "text_to_image", "seedream5_lite", "ratio")
    [free] = [v for v in ratio["anyOf"] if v.get("type") == "string"]
    assert free["pattern"] == "^[0-9]+:[0-9]+$"
    assert "3,686,400 to 16,777,216 pixels" in free["description"]


SESSION = {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "influencer"}}

# (field, the last value allowed, the first value refused, its code) of a realtime session.
SESSION_LIMITS: list[tuple[str, Any, Any, str]] = [
    ("maxDuration", 10, 9, "RP208"),
    ("maxDuration", 1800, 1801, "RP208"),
    ("personality", "x", "", "RP209"),
    ("personality", "x" * 10000, "x" * 10001, "RP209"),
    ("startScript", "x", "", "RP209"),
    ("startScript", "x" * 1998 + WAVE, "x" * 1999 + WAVE, "RP209"),
]


@pytest.mark.parametrize(
    ("field", "allowed", "refused", "code"),
    SESSION_LIMITS,
    ids=[f"{f}-{len(r) if isinstance(r, str) else r}" for f, _a, r, _c in SESSION_LIMITS],
)
def test_a_realtime_session_limit_holds_at_its_boundary(
    catalog: Catalog, field: str, allowed: Any, refused: Any, code: str
) -> None:
    resource = "realtime_session_create"
    assert validate_resource(catalog, resource, {**SESSION, field: allowed}) == []
    [issue] = validate_resource(catalog, resource, {**SESSION, field: refused})
    assert (issue.path, issue.code) == ((field,), code)


def test_resource_patches_name_real_fields(catalog: Catalog) -> None:
    for resource, patches in catalog.overlay.resource_fields.items():
        fields = catalog.constraints.resources[resource].fields
        assert set(patches) <= set(fields), resource
        assert all(patch.source for patch in patches.values())


def test_the_emulator_refuses_through_the_official_sdk_what_validate_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(polling, "POLL_TIME", 0.02)
    monkeypatch.setattr(polling, "POLL_JITTER", 0.0)
    with (
        Emulator(EmulatorConfig(speed=5_000, tier=2)) as emulator,
        EmulatorServer(create_app(emulator)) as server,
        runwayml.RunwayML(api_key=emulator.api_key, base_url=server.base_url) as client,
    ):
        for ratio in ("1024:768", "square"):
            with pytest.raises(runwayml.BadRequestError) as refused:
                client.text_to_image.create(
                    model="seedream5_lite", prompt_text="a lamp", ratio=ratio
                )
            assert refused.value.body["issues"][0]["path"] == ["ratio"]  # type: ignore[index]
        with pytest.raises(runwayml.BadRequestError) as long:
            client.text_to_image.create(
                model="seedream5_pro", prompt_text="x" * 3999 + WAVE, ratio="2048:2048"
            )
        assert long.value.body["issues"][0]["path"] == ["promptText"]  # type: ignore[index]
        assert len(emulator.ledger()) == 0
        task = client.text_to_image.create(
            model="seedream5_lite", prompt_text="x" * 3998 + WAVE, ratio="1920:1920"
        ).wait_for_task_output(timeout=60)
        assert task.status == "SUCCEEDED"
