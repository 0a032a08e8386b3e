"""Did-you-mean hints through `runway-plan validate`: each suggests what would be right there."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from runway_plan.catalog import load_catalog
from runway_plan.catalog.model import EnumType
from runway_plan.cli import main
from runway_plan.validate.languages import LANGUAGE_NAMES, language_code

FRAME_LINE = re.compile(r"^ *\d* \|.*\n", re.MULTILINE)
"""A line of a diagnostic's source frame (the numbered source line, its carets)."""


def validate(tmp_path: Path, steps: str) -> tuple[int, str]:
    """Exit code and output (without source frames) of validating a spec with these
    ``steps`` (YAML, indented 2)."""
    path = tmp_path / "spec.yaml"
    text = "version: 1\nname: t\nsteps:\n" + textwrap.indent(textwrap.dedent(steps), "  ")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, FRAME_LINE.sub("", result.stdout).replace(f"{path}:", "")


HERO = """\
hero:
  endpoint: text_to_image
  model: gen4_image
  promptText: x
  ratio: "1920:1080"
"""


def test_needs_suggests_the_step_name_not_a_reference(tmp_path: Path) -> None:
    code, out = validate(tmp_path, HERO + "late:\n" + HERO.split("\n", 1)[1] + "  needs: [heroo]\n")
    assert code == 1
    assert "RP300 unknown step 'heroo'\n  hint: did you mean 'hero'?\n" in out


def test_a_reference_still_suggests_a_reference(tmp_path: Path) -> None:
    code, out = validate(
        tmp_path,
        HERO + "up:\n  endpoint: image_upscale\n  model: magnific_precision_upscaler_v2\n"
        '  imageUri: "@heroo"\n',
    )
    assert code == 1
    assert "hint: did you mean '@hero'?" in out


@pytest.mark.parametrize(("typo", "key"), [("foreach", "for_each"), ("desription", "description")])
def test_a_misspelled_step_key_suggests_the_key(tmp_path: Path, typo: str, key: str) -> None:
    code, out = validate(tmp_path, HERO + f"  {typo}: [a]\n")
    assert code == 1
    assert f"RP205 unknown field '{typo}' for gen4_image\n" in out
    assert f"  hint: did you mean '{key}'? (a step key)\n" in out


def test_the_accepted_keys_include_the_step_keys(tmp_path: Path) -> None:
    code, out = validate(tmp_path, HERO + "  colour: red\n")
    assert code == 1
    assert out.endswith(
        "  hint: accepted: contentModeration, model, promptText, ratio, referenceImages, seed; "
        "step keys: description, endpoint, for_each, needs, retry\n"
    )


def test_a_field_other_models_take_gets_no_lookalike_suggestion(tmp_path: Path) -> None:
    code, out = validate(
        tmp_path,
        """\
        act:
          endpoint: character_performance
          model: act_two
          character: {type: image, uri: https://cdn.example.com/a.png}
          reference: {type: video, uri: https://cdn.example.com/a.mp4}
          duration: 5
        still:
          endpoint: text_to_image
          model: gen4_image
          promptText: x
          ratio: "1920:1080"
          promptImage: https://cdn.example.com/a.png
        """,
    )
    assert code == 1
    assert "did you mean" not in out
    assert (
        "RP205 unknown field 'duration' for act_two\n"
        "  hint: act_two has no duration: its output is as long as its input (reference); "
        "accepted: bodyControl, character, contentModeration, expressionIntensity, model, "
        "ratio, reference, seed; step keys: description, endpoint, for_each, needs, retry\n"
    ) in out
    assert "  hint: gen4_image has no promptImage (other models do); accepted: " in out


def test_a_retired_model_on_another_endpoint_names_its_endpoint(tmp_path: Path) -> None:
    code, out = validate(
        tmp_path,
        """\
        old:
          endpoint: image_to_video
          model: gen4_aleph
          promptImage: https://cdn.example.com/a.png
        """,
    )
    assert code == 1
    assert "aleph2" not in out
    assert (
        "RP203 model 'gen4_aleph' has been retired (SDK 5.0.0, 2026-06-10); it was a "
        "video_to_video model, never available on image_to_video\n"
        "  hint: models on image_to_video: gemini_omni_flash, "
    ) in out


def test_an_unknown_model_is_not_matched_to_another_endpoints_model(tmp_path: Path) -> None:
    code, out = validate(
        tmp_path,
        """\
        clip:
          endpoint: image_to_video
          model: aleph
          promptImage: https://cdn.example.com/a.png
        """,
    )
    assert code == 1
    assert "did you mean" not in out
    assert (
        "RP201 unknown model 'aleph'\n  hint: 'aleph2' is a model of video_to_video, not "
        "image_to_video; models on image_to_video: gemini_omni_flash, "
    ) in out


@pytest.mark.parametrize("written", ["Maya", "maya"])
def test_a_voice_preset_as_a_string_hints_the_mapping(tmp_path: Path, written: str) -> None:
    code, out = validate(
        tmp_path,
        f"""\
        speech:
          endpoint: text_to_speech
          model: eleven_multilingual_v2
          promptText: Hello there
          voice: {written}
        """,
    )
    assert code == 1
    assert out.endswith(
        "RP206 voice must be a mapping, not a string\n"
        "  hint: 'Maya' is a valid voice.presetId; write voice: "
        "{type: runway-preset, presetId: Maya}\n"
    )


def test_an_unknown_voice_as_a_string_hints_the_shape(tmp_path: Path) -> None:
    code, out = validate(
        tmp_path,
        """\
        speech:
          endpoint: text_to_speech
          model: eleven_multilingual_v2
          promptText: Hello there
          voice: Bob
        """,
    )
    assert code == 1
    assert out.endswith("  hint: voice takes a mapping: {type: runway-preset, presetId: ...}\n")


@pytest.mark.parametrize(
    ("written", "code"),
    [("Spanish", "es"), ("español", "es"), ("pt-BR", "pt"), ("Filipino", "fil")],
)
def test_a_language_name_suggests_its_code(tmp_path: Path, written: str, code: str) -> None:
    exit_code, out = validate(
        tmp_path,
        f"""\
        dub:
          endpoint: voice_dubbing
          model: eleven_voice_dubbing
          audioUri: https://cdn.example.com/a.mp3
          targetLang: "{written}"
        """,
    )
    assert exit_code == 1
    assert f"RP207 targetLang '{written}' is not allowed for eleven_voice_dubbing\n" in out
    assert out.endswith(f"… (29 in all); nearest: '{code}'\n")


def test_every_dubbing_language_of_the_catalog_has_names() -> None:
    field = load_catalog().model("voice_dubbing", "eleven_voice_dubbing")
    assert field is not None
    node = field.fields["targetLang"].type
    assert isinstance(node, EnumType)
    assert set(node.values) <= set(LANGUAGE_NAMES)
    for value in node.values:
        assert language_code(LANGUAGE_NAMES[str(value)][0].upper()) == value


def test_a_name_of_no_language_has_no_code() -> None:
    assert language_code("Klingon") is None
    assert language_code("xx-YY") is None
