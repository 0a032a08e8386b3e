"""The compiler through `runway-plan validate`: independent problems are all reported, templates
see `item` and `index` only where they are defined, and estimated lengths reach the checks."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from click.testing import CliRunner

from runway_plan.cli import main

HERO = """\
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "{prompt}"
    ratio: "1920:1080"
"""


FRAME_LINE = re.compile(r" *\d* \|")
"""The start of a line of a diagnostic's source frame (the numbered source line, its carets)."""


def validate(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    """Exit code and the diagnostic lines (hints included, source frames left out) of
    validating ``text``."""
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    prefix = f"{path}:"
    return result.exit_code, [
        line.removeprefix(prefix)
        for line in result.stdout.splitlines()
        if not FRAME_LINE.match(line)
    ]


def codes_at(lines: list[str]) -> list[str]:
    """``line:col: CODE`` of each diagnostic line."""
    return [" ".join(line.split()[:2]) for line in lines if not line.startswith("  hint:")]


# --- item and index outside a fan-out ----------------------------------------------------------


def test_item_in_a_step_without_for_each_is_an_error_at_its_position(tmp_path: Path) -> None:
    code, lines = validate(
        tmp_path,
        "version: 1\nname: t\nsteps:\n" + HERO.format(prompt="Shot {{ item }}"),
    )
    assert code == 1
    assert lines == [
        "7:26: RP111 'item' is undefined: step 'hero' has no for_each",
        "  hint: item and index are defined only in a step with for_each; defined here: nothing",
    ]


def test_index_in_a_step_without_for_each_is_an_error(tmp_path: Path) -> None:
    code, lines = validate(
        tmp_path,
        "version: 1\nname: t\nvars: {n: 1}\nsteps:\n"
        + HERO.format(prompt="{{ '%03d' | format(index) }}"),
    )
    assert code == 1
    assert lines[0] == "8:37: RP111 'index' is undefined: step 'hero' has no for_each"
    assert lines[1].endswith("defined here: n")


def test_item_in_a_fan_out_is_defined(tmp_path: Path) -> None:
    spec = "version: 1\nname: t\nsteps:\n" + HERO.format(prompt="Shot {{ index }}: {{ item }}")
    spec += "    for_each: [a, b]\n"
    assert validate(tmp_path, spec) == (0, [])


def test_a_var_named_item_is_still_defined_without_for_each(tmp_path: Path) -> None:
    spec = "version: 1\nname: t\nvars: {item: lamp}\nsteps:\n" + HERO.format(prompt="{{ item }}")
    assert validate(tmp_path, spec) == (0, [])


def test_for_each_cannot_use_its_own_items(tmp_path: Path) -> None:
    spec = "version: 1\nname: t\nsteps:\n" + HERO.format(prompt="x")
    spec += '    for_each: "{{ item }}"\n'
    code, lines = validate(tmp_path, spec)
    assert code == 1
    assert lines[0] == "9:19: RP111 'item' is undefined: for_each cannot use the items it makes"


# --- every independent problem at once --------------------------------------------------------

MANY = """\
version: 1
name: many
budgte: {max_credits: 10}
tier: "two"
budget: {max_credits: -5}
vars:
  shots: studio
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "Photo of {{ product | }}"
    ratio: "1920:1080"
  clips:
    for_each: "{{ shots }}"
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@hero"
    promptText: "{{ item | upper }} {% if %}"
    ratio: "1:1"
  video:
    endpoint: image_to_video
    model: gen4.5
    promptImage: "@heor"
    promptText: "Close-up {{ index }}"
    ratio: "1280:720"
    duration: 12
  sfx:
    endpoint: sound_effect
    model: eleven_text_to_sound_v9
    promptText: rain
  late:
    endpoint: text_to_image
    model: gen4_image
    promptText: x
    ratio: "1920:1080"
    needs: [heroo]
    retry: {max_attempts: 0}
"""


def test_a_spec_with_many_independent_errors_reports_each_at_its_line(tmp_path: Path) -> None:
    code, lines = validate(tmp_path, MANY)
    assert code == 1
    assert codes_at(lines) == [
        "3:1: RP105",  # unknown top-level key
        "4:7: RP104",  # tier of the wrong type
        "5:23: RP104",  # negative budget
        "12:17: RP110",  # template syntax error
        "15:15: RP114",  # for_each gives no list ...
        "19:17: RP110",  # ... and does not hide a syntax error of the same step
        "20:12: RP207",  # ... nor its ratio
        "24:18: RP300",  # unknown reference
        "25:30: RP111",  # index without for_each
        "27:15: RP208",  # duration out of range
        "30:12: RP201",  # unknown model
        "37:13: RP300",  # unknown step in needs
        "38:27: RP104",  # retry out of range, the step's other keys still checked
    ]


def test_an_unknown_top_level_key_hides_nothing(tmp_path: Path) -> None:
    spec = "version: 1\nname: t\nbudgte: {max_credits: 1}\nsteps:\n"
    spec += HERO.format(prompt="x").replace('"1920:1080"', '"1:2"')
    code, lines = validate(tmp_path, spec)
    assert code == 1
    assert codes_at(lines) == ["3:1: RP105", "9:12: RP207"]


def test_a_wrong_tier_hides_nothing(tmp_path: Path) -> None:
    spec = 'version: 1\nname: t\ntier: "two"\nsteps:\n' + HERO.format(prompt="{{ nope }}")
    code, lines = validate(tmp_path, spec)
    assert code == 1
    assert codes_at(lines) == ["3:7: RP104", "8:21: RP111"]


def test_a_broken_step_is_skipped_and_references_to_it_stay_quiet(tmp_path: Path) -> None:
    code, lines = validate(
        tmp_path,
        """\
        version: 1
        name: t
        steps:
          frame: 5
          noendpoint:
            model: gen4_image
          clip:
            endpoint: image_to_video
            model: gen4_turbo
            promptImage: "@frame"
            promptText: x
            ratio: "1280:720"
            duration: 5
            needs: [noendpoint]
          upscale:
            endpoint: video_upscale
            model: enhance_frame_rate
            videoUri: "@clip"
            targetFramerate: "60"
            foo: 1
        """,
    )
    assert code == 1
    assert codes_at(lines) == [
        "4:10: RP104",
        "5:3: RP104",
        "20:5: RP205",
    ]


def test_a_malformed_for_each_hides_neither_templates_nor_fields(tmp_path: Path) -> None:
    code, lines = validate(
        tmp_path,
        """\
        version: 1
        name: t
        steps:
          shots:
            for_each: 5
            endpoint: text_to_image
            model: gen4_image
            promptText: "{{ item | }}"
            ratio: "2:1"
          clips:
            for_each: "@shots"
            endpoint: image_to_video
            model: gen4_turbo
            promptImage: "{{ item }}"
            promptText: "{{ undefined_thing }}"
            ratio: "1280:720"
            duration: 5
          pick:
            endpoint: image_upscale
            model: magnific_precision_upscaler_v2
            imageUri: "@shots[3]"
        """,
    )
    assert code == 1
    assert codes_at(lines) == [
        "5:15: RP104",  # for_each of the wrong type
        "8:17: RP110",  # a template of the same step
        "9:12: RP207",  # a field of the same step
        "15:21: RP111",  # a step fanned out over it: its templates are still checked
    ]


def test_malformed_vars_do_not_make_every_template_undefined(tmp_path: Path) -> None:
    spec = "version: 1\nname: t\nvars: [a, b]\nsteps:\n" + HERO.format(prompt="{{ product }}")
    spec += HERO.format(prompt="{{ product | }}").replace("hero", "second")
    code, lines = validate(tmp_path, spec)
    assert code == 1
    assert codes_at(lines) == ["3:7: RP104", "13:17: RP110"]


def test_broken_parts_leave_avatars_checked_and_quiet_about_them(tmp_path: Path) -> None:
    code, lines = validate(
        tmp_path,
        """\
        version: 1
        name: t
        vars: [a]
        documents:
          faq: 5
        avatars:
          bot:
            name: bot
            personality: "{{ who }} {{ x | }}"
            referenceImage: "@img"
            voice: {type: runway-live-preset, presetId: x}
            documents: [faq, nope]
        steps:
          img: {endpoint: text_to_image}
        """,
    )
    assert code == 1
    assert codes_at(lines) == [
        "3:7: RP104",  # vars
        "5:8: RP104",  # the document: attaching it is not reported again
        "9:18: RP110",  # a template of the avatar, checked without the vars
        "11:49: RP207",  # the avatar's voice
        "12:22: RP300",  # a document the spec does not have
        "14:3: RP104",  # the step: the avatar's reference to it is not reported again
    ]


# --- estimated lengths along the graph --------------------------------------------------------

ISOLATE = """\
version: 1
name: t
steps:
  speech:
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "{text}"
    voice: {{type: runway-preset, presetId: Maya}}
  clean:
    endpoint: voice_isolation
    model: eleven_voice_isolation
    audioUri: "@speech"
"""


def test_speech_too_short_for_voice_isolation_is_an_error_at_the_reference(
    tmp_path: Path,
) -> None:
    code, lines = validate(tmp_path, ISOLATE.format(text="Hi"))
    assert code == 1
    assert lines == [
        "12:15: RP225 audioUri: '@speech' will be 0.08-0.5 s long (speech of 2 characters at "
        "4-25 characters a second); eleven_voice_isolation takes more than 4.6 and less than "
        "3600 s"
    ]


def test_speech_that_may_be_too_short_is_a_warning(tmp_path: Path) -> None:
    code, lines = validate(tmp_path, ISOLATE.format(text="x" * 50))
    assert code == 0
    assert lines == [
        "12:15: RP227 [warning] audioUri: '@speech' may be too short: it will be 2-12.5 s long "
        "(speech of 50 characters at 4-25 characters a second); eleven_voice_isolation takes "
        "more than 4.6 and less than 3600 s"
    ]


def test_speech_surely_long_enough_is_clean(tmp_path: Path) -> None:
    assert validate(tmp_path, ISOLATE.format(text="x" * 120)) == (0, [])


def test_an_estimated_length_propagates_through_a_dub(tmp_path: Path) -> None:
    spec = ISOLATE.format(text="Hi").replace('audioUri: "@speech"', 'audioUri: "@dub"')
    spec += (
        "  dub:\n    endpoint: voice_dubbing\n    model: eleven_voice_dubbing\n"
        '    audioUri: "@speech"\n    targetLang: es\n'
    )
    code, lines = validate(tmp_path, spec)
    assert code == 1
    [line] = lines
    assert line.startswith("12:15: RP225 audioUri: '@dub' will be 0.08-0.5 s long (length of ")


def test_speech_too_long_for_an_audio_reference_is_an_error(tmp_path: Path) -> None:
    code, lines = validate(
        tmp_path,
        ISOLATE.format(text="x" * 400).split("  clean:")[0]
        + """\
  still:
    endpoint: text_to_image
    model: gen4_image
    promptText: a lamp
    ratio: "1920:1080"
  video:
    endpoint: text_to_video
    model: grok_imagine_1_5
    promptText: a lamp
    references: [{uri: "@still"}]
    referenceAudio: [{type: audio, uri: "@speech"}]
""",
    )
    assert code == 1
    assert [line.split(" (")[0] for line in lines] == [
        "19:41: RP225 referenceAudio[0].uri: '@speech' will be 16-100 s long"
    ]


def test_a_cycle_elsewhere_does_not_stop_the_length_checks(tmp_path: Path) -> None:
    spec = ISOLATE.format(text="Hi") + (
        "  ping:\n    endpoint: image_upscale\n    model: magnific_precision_upscaler_v2\n"
        '    imageUri: "@pong"\n'
        "  pong:\n    endpoint: image_upscale\n    model: magnific_precision_upscaler_v2\n"
        '    imageUri: "@ping"\n'
    )
    code, lines = validate(tmp_path, spec)
    assert code == 1
    assert codes_at(lines) == ["12:15: RP225", "16:15: RP301", "20:15: RP301"]
