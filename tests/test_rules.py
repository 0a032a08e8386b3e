"""Multi-field model rules (RP211): each broken spec reports exactly its rule at the right place,
the corrected spec is clean, and the emulator refuses the broken request with a 400.

Every case is one step ``s`` (its YAML indented under ``steps:``); the emulator receives the same
step as a request body, without ``endpoint``.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from runway_plan.catalog import load_catalog
from runway_plan.compile import compile_request
from runway_plan.compile.graph import TemplateFailed
from runway_plan.emulator import Emulator, EmulatorConfig, ManualClock, create_app
from runway_plan.validate import RULE_NAMES, Validator, check_file, validate_request
from runway_plan.validate.checker import Checker
from runway_plan.validate.rules import RULES

CATALOG = load_catalog()
HEAD = "version: 1\nname: rules\nsteps:\n  s:\n"
HINTLESS = {"prompt_image_modes", "first_frame_required", "keyframe_ranges", "reference_tags"}
"""The first rules, whose messages (golden in tests/fixtures/broken/rules.yaml) carry no hint."""


@dataclass(frozen=True)
class Case:
    """A step that breaks ``rule``, the same step corrected, and what the broken one reports."""

    rule: str
    name: str
    broken: str
    fixed: str
    expected: list[str]
    """``line:column message`` of each RP211, in report order."""
    paths: list[list[str | int]]
    """The emulator's issue paths for the broken request, sorted."""


CASES = [
    Case(
        "prompt_image_modes",
        "seedance2_mixed_modes",
        """\
endpoint: image_to_video
model: seedance2
promptImage:
  - {uri: https://cdn.example.com/a.png, position: first}
  - {uri: https://cdn.example.com/b.png}
""",
        """\
endpoint: image_to_video
model: seedance2
promptImage:
  - {uri: https://cdn.example.com/a.png, position: first}
  - {uri: https://cdn.example.com/b.png, position: last}
""",
        [
            (
                "8:7 promptImage mixes keyframes (items with a position) and reference images"
                " (items without); seedance2 takes one mode or the other"
            ),
        ],
        [["promptImage"]],
    ),
    Case(
        "first_frame_required",
        "veo_last_frame_only",
        """\
endpoint: image_to_video
model: veo3.1
ratio: "1280:720"
promptImage:
  - {uri: https://cdn.example.com/b.png, position: last}
""",
        """\
endpoint: image_to_video
model: veo3.1
ratio: "1280:720"
promptImage:
  - {uri: https://cdn.example.com/a.png, position: first}
  - {uri: https://cdn.example.com/b.png, position: last}
""",
        [
            "9:7 promptImage has a last frame but no first frame; veo3.1 needs the first",
        ],
        [["promptImage"]],
    ),
    Case(
        "keyframe_ranges",
        "aleph2_range_mix",
        """\
endpoint: video_to_video
model: aleph2
videoUri: https://cdn.example.com/in.mp4
keyframes:
  - {seconds: 1, uri: https://cdn.example.com/a.png, range: {start_seconds: 0, end_seconds: 2}}
  - {seconds: 3, uri: https://cdn.example.com/b.png}
""",
        """\
endpoint: video_to_video
model: aleph2
videoUri: https://cdn.example.com/in.mp4
keyframes:
  - {seconds: 1, uri: https://cdn.example.com/a.png, range: {start_seconds: 0, end_seconds: 2}}
  - {seconds: 3, uri: https://cdn.example.com/b.png, range: {start_seconds: 2, end_seconds: 4}}
""",
        [
            "9:7 either every keyframe sets a range or none does",
        ],
        [["keyframes"]],
    ),
    Case(
        "reference_tags",
        "gen4_image_shared_tag",
        """\
endpoint: text_to_image
model: gen4_image
promptText: "@hero on a beach"
ratio: "1920:1080"
referenceImages:
  - {uri: https://cdn.example.com/a.png, tag: hero}
  - {uri: https://cdn.example.com/b.png, tag: hero}
""",
        """\
endpoint: text_to_image
model: gen4_image
promptText: "@hero on a beach"
ratio: "1920:1080"
referenceImages:
  - {uri: https://cdn.example.com/a.png, tag: hero}
  - {uri: https://cdn.example.com/b.png, tag: beach}
""",
        [
            "11:51 tag 'hero' is used by referenceImages[0] too",
        ],
        [["referenceImages", 1, "tag"]],
    ),
    Case(
        "draft_task_alone",
        "seedance2_5_draft_task_with_settings",
        """\
endpoint: text_to_video
model: seedance2_5
draftTaskId: 0f6c1d9e-2b7a-4c1e-9d3f-5a8b7c6d5e4f
duration: 5
ratio: "1280:720"
""",
        """\
endpoint: text_to_video
model: seedance2_5
draftTaskId: 0f6c1d9e-2b7a-4c1e-9d3f-5a8b7c6d5e4f
""",
        [
            (
                "7:18 draftTaskId enhances a draft with its original prompt, references and "
                "settings; seedance2_5 takes no other field with it, but the request also "
                "sets duration and ratio"
            ),
        ],
        [["draftTaskId"]],
    ),
    Case(
        "draft_mp4_only",
        "seedance2_5_draft_mov",
        """\
endpoint: image_to_video
model: seedance2_5
promptImage: https://cdn.example.com/a.png
draft: true
outputFormat: mov
""",
        """\
endpoint: image_to_video
model: seedance2_5
promptImage: https://cdn.example.com/a.png
draft: true
outputFormat: mp4
""",
        [
            (
                "9:19 outputFormat 'mov' is not available with draft: true; seedance2_5 "
                "drafts are mp4 only"
            ),
        ],
        [["outputFormat"]],
    ),
    Case(
        "video_mode_fields",
        "seedance2_5_extend_with_ratio",
        """\
endpoint: video_to_video
model: seedance2_5
promptVideo: https://cdn.example.com/in.mp4
promptText: the car drives on into the night
mode: extend
ratio: "1280:720"
""",
        """\
endpoint: video_to_video
model: seedance2_5
promptVideo: https://cdn.example.com/in.mp4
promptText: the car drives on into the night
mode: extend
""",
        [
            (
                "10:12 ratio is not accepted with mode 'extend'; seedance2_5 keeps the input "
                "video's aspect ratio"
            ),
        ],
        [["ratio"]],
    ),
    Case(
        "video_mode_fields",
        "seedance2_5_edit_without_prompt",
        """\
endpoint: video_to_video
model: seedance2_5
promptVideo: https://cdn.example.com/in.mp4
mode: edit
duration: 5
""",
        """\
endpoint: video_to_video
model: seedance2_5
promptVideo: https://cdn.example.com/in.mp4
mode: edit
duration: auto
promptText: make it snow
""",
        [
            "8:11 mode 'edit' requires promptText for seedance2_5",
            (
                "9:15 duration 5 is not accepted with mode 'edit'; seedance2_5 requires "
                'duration: "auto"'
            ),
        ],
        [["duration"], ["mode"]],
    ),
    Case(
        "video_mode_fields",
        "seedance2_5_edit_default_duration",
        """\
endpoint: video_to_video
model: seedance2_5
promptVideo: https://cdn.example.com/in.mp4
promptText: make it snow
mode: edit
""",
        """\
endpoint: video_to_video
model: seedance2_5
promptVideo: https://cdn.example.com/in.mp4
promptText: make it snow
mode: edit
duration: auto
""",
        [
            (
                "9:11 mode 'edit' requires duration: \"auto\" for seedance2_5 (duration "
                "defaults to 5)"
            ),
        ],
        [["mode"]],
    ),
    Case(
        "prores_profile_format",
        "gen4_5_profile_without_format",
        """\
endpoint: text_to_video
model: gen4.5
promptText: a fox in the snow
ratio: "1280:720"
duration: 5
proresProfile: 422 HQ
""",
        """\
endpoint: text_to_video
model: gen4.5
promptText: a fox in the snow
ratio: "1280:720"
duration: 5
outputFormat: prores
proresProfile: 422 HQ
""",
        [
            (
                "10:20 proresProfile is only valid when outputFormat is 'prores' or "
                "'hdr_prores' for gen4.5; outputFormat is not set"
            ),
        ],
        [["proresProfile"]],
    ),
    Case(
        "prores_profile_format",
        "gen4_5_hdr_prores_profile",
        """\
endpoint: image_to_video
model: gen4.5
promptImage: https://cdn.example.com/a.png
promptText: a fox in the snow
ratio: "1280:720"
duration: 5
outputFormat: hdr_prores
proresProfile: 422 LT
""",
        """\
endpoint: image_to_video
model: gen4.5
promptImage: https://cdn.example.com/a.png
promptText: a fox in the snow
ratio: "1280:720"
duration: 5
outputFormat: hdr_prores
proresProfile: "422"
""",
        [
            (
                "12:20 proresProfile '422 LT' is not available with outputFormat 'hdr_prores'"
                " for gen4.5"
            ),
        ],
        [["proresProfile"]],
    ),
    Case(
        "prores_profile_format",
        "aleph2_profile_with_png",
        """\
endpoint: video_to_video
model: aleph2
videoUri: https://cdn.example.com/in.mp4
outputFormat: png_sequence
proresProfile: "4444"
""",
        """\
endpoint: video_to_video
model: aleph2
videoUri: https://cdn.example.com/in.mp4
outputFormat: prores
proresProfile: "4444"
""",
        [
            (
                "9:20 proresProfile is only valid when outputFormat is 'prores' for aleph2; "
                "outputFormat is 'png_sequence'"
            ),
        ],
        [["proresProfile"]],
    ),
    Case(
        "prores_profile_format",
        "ruby_profile_with_hlg",
        """\
endpoint: video_to_hdr
model: ruby
videoUri: https://cdn.example.com/in.mp4
outputFormat: hlg
proresProfile: "4444"
""",
        """\
endpoint: video_to_hdr
model: ruby
videoUri: https://cdn.example.com/in.mp4
outputFormat: hdr_prores
proresProfile: "4444"
""",
        [
            (
                "9:20 proresProfile is only valid when outputFormat is 'hdr_prores' for ruby;"
                " outputFormat is 'hlg'"
            ),
        ],
        [["proresProfile"]],
    ),
    Case(
        "adaptive_ratio_media",
        "hailuo3_adaptive_text_only",
        """\
endpoint: text_to_video
model: hailuo3
promptText: a fox in the snow
ratio: adaptive
""",
        """\
endpoint: text_to_video
model: hailuo3
promptText: a fox in the snow
ratio: adaptive
references: [{uri: https://cdn.example.com/fox.png}]
""",
        [
            (
                "8:12 ratio 'adaptive' needs image or video references; a text-only hailuo3 "
                "request takes a concrete ratio"
            ),
        ],
        [["ratio"]],
    ),
    Case(
        "keyframe_auto_ratio",
        "wan3_keyframes_fixed_ratio",
        """\
endpoint: image_to_video
model: wan3
promptText: a fox runs across the field
promptImage:
  - {uri: https://cdn.example.com/a.png, position: first}
  - {uri: https://cdn.example.com/b.png, position: last}
ratio: "1280:720"
""",
        """\
endpoint: image_to_video
model: wan3
promptText: a fox runs across the field
promptImage:
  - {uri: https://cdn.example.com/a.png, position: first}
  - {uri: https://cdn.example.com/b.png, position: last}
ratio: auto_720p
""",
        [
            (
                "11:12 ratio '1280:720' is not available with keyframes; wan3 keyframe "
                "image-to-video takes auto_480p, auto_720p or auto_1080p (the first frame "
                "sets the aspect ratio)"
            ),
        ],
        [["ratio"]],
    ),
    Case(
        "reference_subject_counts",
        "gemini_image3_pro_six_humans",
        """\
endpoint: text_to_image
model: gemini_image3_pro
promptText: a team photo
ratio: "1024:1024"
referenceImages:
  - {uri: https://cdn.example.com/1.png, subject: human}
  - {uri: https://cdn.example.com/2.png, subject: human}
  - {uri: https://cdn.example.com/3.png, subject: object}
  - {uri: https://cdn.example.com/4.png, subject: human}
  - {uri: https://cdn.example.com/5.png, subject: human}
  - {uri: https://cdn.example.com/6.png, subject: human}
  - {uri: https://cdn.example.com/7.png, subject: human}
""",
        """\
endpoint: text_to_image
model: gemini_image3_pro
promptText: a team photo
ratio: "1024:1024"
referenceImages:
  - {uri: https://cdn.example.com/1.png, subject: human}
  - {uri: https://cdn.example.com/2.png, subject: human}
  - {uri: https://cdn.example.com/3.png, subject: object}
  - {uri: https://cdn.example.com/4.png, subject: human}
  - {uri: https://cdn.example.com/5.png, subject: human}
  - {uri: https://cdn.example.com/6.png, subject: human}
  - {uri: https://cdn.example.com/7.png}
""",
        [
            (
                "16:55 referenceImages has 6 images with subject 'human'; gemini_image3_pro "
                "allows at most 5"
            ),
        ],
        [["referenceImages", 6, "subject"]],
    ),
    Case(
        "reference_subject_counts",
        "gemini_image3_1_flash_lite_ten_objects",
        """\
endpoint: text_to_image
model: gemini_image3.1_flash_lite
promptText: a shelf of products
ratio: "1024:1024"
referenceImages:
  - {uri: https://cdn.example.com/1.png, subject: object}
  - {uri: https://cdn.example.com/2.png, subject: object}
  - {uri: https://cdn.example.com/3.png, subject: object}
  - {uri: https://cdn.example.com/4.png, subject: object}
  - {uri: https://cdn.example.com/5.png, subject: object}
  - {uri: https://cdn.example.com/6.png, subject: object}
  - {uri: https://cdn.example.com/7.png, subject: object}
  - {uri: https://cdn.example.com/8.png, subject: object}
  - {uri: https://cdn.example.com/9.png, subject: object}
  - {uri: https://cdn.example.com/10.png, subject: object}
""",
        """\
endpoint: text_to_image
model: gemini_image3.1_flash_lite
promptText: a shelf of products
ratio: "1024:1024"
referenceImages:
  - {uri: https://cdn.example.com/1.png, subject: object}
  - {uri: https://cdn.example.com/2.png, subject: object}
  - {uri: https://cdn.example.com/3.png, subject: object}
  - {uri: https://cdn.example.com/4.png, subject: object}
  - {uri: https://cdn.example.com/5.png, subject: object}
  - {uri: https://cdn.example.com/6.png, subject: object}
  - {uri: https://cdn.example.com/7.png, subject: object}
  - {uri: https://cdn.example.com/8.png, subject: object}
  - {uri: https://cdn.example.com/9.png, subject: object}
  - {uri: https://cdn.example.com/10.png}
""",
        [
            (
                "19:56 referenceImages has 10 images with subject 'object'; "
                "gemini_image3.1_flash_lite allows at most 9"
            ),
        ],
        [["referenceImages", 9, "subject"]],
    ),
    Case(
        "multi_prompt_shots",
        "klingO3_pro_intelligence_too_long",
        """\
endpoint: text_to_video
model: klingO3_pro
ratio: "1920:1080"
providerSettings:
  shotType: intelligence
  multiPrompt:
    - {prompt: a fox wakes up, duration: 10}
    - {prompt: the fox runs, duration: 8}
""",
        """\
endpoint: text_to_video
model: klingO3_pro
ratio: "1920:1080"
promptText: a day in the life of a fox
providerSettings:
  shotType: intelligence
  multiPrompt:
    - {prompt: a fox wakes up, duration: 10}
    - {prompt: the fox runs, duration: 5}
""",
        [
            ("9:17 providerSettings.shotType 'intelligence' requires promptText for klingO3_pro"),
            (
                "11:9 providerSettings.multiPrompt segments last 18 s in all; klingO3_pro "
                "needs 3 to 15 s"
            ),
        ],
        [["providerSettings", "multiPrompt"], ["providerSettings", "shotType"]],
    ),
    Case(
        "multi_prompt_shots",
        "kling3_0_pro_too_short",
        """\
endpoint: image_to_video
model: kling3.0_pro
promptImage: https://cdn.example.com/fox.png
providerSettings:
  multiPrompt:
    - {prompt: the fox looks up, duration: 1}
    - {prompt: the fox runs, duration: 1}
""",
        """\
endpoint: image_to_video
model: kling3.0_pro
promptImage: https://cdn.example.com/fox.png
providerSettings:
  multiPrompt:
    - {prompt: the fox looks up, duration: 2}
    - {prompt: the fox runs, duration: 1}
""",
        [
            (
                "10:9 providerSettings.multiPrompt segments last 2 s in all; kling3.0_pro "
                "needs 3 to 15 s"
            ),
        ],
        [["providerSettings", "multiPrompt"]],
    ),
    Case(
        "image_total_with_frames",
        "kling_4_eleven_images",
        """\
endpoint: image_to_video
model: kling_4
promptImage: https://cdn.example.com/first.png
references:
  - {uri: https://cdn.example.com/1.png}
  - {uri: https://cdn.example.com/2.png}
  - {uri: https://cdn.example.com/3.png}
  - {uri: https://cdn.example.com/4.png}
  - {uri: https://cdn.example.com/5.png}
  - {uri: https://cdn.example.com/6.png}
  - {uri: https://cdn.example.com/7.png}
  - {uri: https://cdn.example.com/8.png}
  - {uri: https://cdn.example.com/9.png}
  - {uri: https://cdn.example.com/10.png}
""",
        """\
endpoint: image_to_video
model: kling_4
promptImage: https://cdn.example.com/first.png
references:
  - {uri: https://cdn.example.com/1.png}
  - {uri: https://cdn.example.com/2.png}
  - {uri: https://cdn.example.com/3.png}
  - {uri: https://cdn.example.com/4.png}
  - {uri: https://cdn.example.com/5.png}
  - {uri: https://cdn.example.com/6.png}
  - {uri: https://cdn.example.com/7.png}
  - {uri: https://cdn.example.com/8.png}
  - {uri: https://cdn.example.com/9.png}
""",
        [
            (
                "9:7 references has 10 images and promptImage 1 frame; kling_4 takes at most "
                "10 images in all, frames included"
            ),
        ],
        [["references"]],
    ),
    Case(
        "audio_needs_image_reference",
        "grok_imagine_1_5_audio_only",
        """\
endpoint: text_to_video
model: grok_imagine_1_5
promptText: a fox sings
referenceAudio: [{type: audio, uri: https://cdn.example.com/song.mp3}]
""",
        """\
endpoint: text_to_video
model: grok_imagine_1_5
promptText: a fox sings
referenceAudio: [{type: audio, uri: https://cdn.example.com/song.mp3}]
references: [{uri: https://cdn.example.com/fox.png}]
""",
        [
            ("8:21 referenceAudio needs at least one image in references for grok_imagine_1_5"),
        ],
        [["referenceAudio"]],
    ),
    Case(
        "edit_needs_reference",
        "grok_imagine_image_2_edit_without_image",
        """\
endpoint: text_to_image
model: grok_imagine_image_2
promptText: make the sky pink
ratio: "1024:1024"
edit: true
""",
        """\
endpoint: text_to_image
model: grok_imagine_image_2
promptText: make the sky pink
ratio: "1024:1024"
edit: true
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        [
            (
                "9:11 edit: true edits a reference image, but this grok_imagine_image_2 "
                "request has no referenceImages"
            ),
        ],
        [["edit"]],
    ),
    Case(
        "edit_needs_reference",
        "ideogram_4_5_precise_edit_without_image",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: make the sky pink
preciseEdit: true
""",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: make the sky pink
preciseEdit: true
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        [
            (
                "8:18 preciseEdit: true edits a reference image, but this ideogram_4_5 "
                "request has no referenceImages"
            ),
        ],
        [["preciseEdit"]],
    ),
    Case(
        "sized_ratio_references",
        "bria_fibo_edit_1_5_size_for_one_image",
        """\
endpoint: text_to_image
model: bria_fibo_edit_1_5
promptText: make the sky pink
ratio: "1024:1024"
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        """\
endpoint: text_to_image
model: bria_fibo_edit_1_5
promptText: make the sky pink
ratio: auto
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        [
            (
                "8:12 ratio '1024:1024' needs at least 2 referenceImages for "
                "bria_fibo_edit_1_5, which has 1; a single image keeps its own framing"
            ),
        ],
        [["ratio"]],
    ),
    Case(
        "edit_quality_ratio",
        "ideogram_4_5_very_low_without_images",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: a fox
quality: very_low
""",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: a fox
quality: low
""",
        [
            "8:14 quality 'very_low' requires referenceImages for ideogram_4_5",
        ],
        [["quality"]],
    ),
    Case(
        "edit_quality_ratio",
        "ideogram_4_5_very_low_precise_edit",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: make the sky pink
quality: very_low
preciseEdit: true
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: make the sky pink
quality: low
preciseEdit: true
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        [
            "8:14 quality 'very_low' is not available with preciseEdit for ideogram_4_5",
        ],
        [["quality"]],
    ),
    Case(
        "edit_quality_ratio",
        "ideogram_4_5_mask_with_ratio",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: make the sky pink
maskUri: https://cdn.example.com/mask.png
ratio: "1280:720"
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        """\
endpoint: text_to_image
model: ideogram_4_5
promptText: make the sky pink
maskUri: https://cdn.example.com/mask.png
referenceImages: [{uri: https://cdn.example.com/sky.png}]
""",
        [
            (
                "9:12 ratio is not available with maskUri; ideogram_4_5 keeps the size of the"
                " first reference image"
            ),
        ],
        [["ratio"]],
    ),
    Case(
        "multi_shot_mode",
        "multi_shot_custom_with_prompt_and_short_shots",
        """\
endpoint: recipes/multi_shot_video
version: "2026-06"
mode: custom
prompt: a fox's day
shots:
  - {prompt: the fox wakes up, duration: 3}
  - {prompt: the fox hunts, duration: 3}
  - {prompt: the fox sleeps, duration: 3}
""",
        """\
endpoint: recipes/multi_shot_video
version: "2026-06"
mode: custom
shots:
  - {prompt: the fox wakes up, duration: 3}
  - {prompt: the fox hunts, duration: 4}
  - {prompt: the fox sleeps, duration: 3}
""",
        [
            "8:5 prompt is not taken in mode 'custom' of recipes/multi_shot_video",
            "10:7 the shots last 9 s in all, but duration is 10 s (its default)",
        ],
        [["prompt"], ["shots"]],
    ),
    Case(
        "multi_shot_mode",
        "multi_shot_auto_without_prompt",
        """\
endpoint: recipes/multi_shot_video
version: "2026-06"
mode: auto
duration: 15
""",
        """\
endpoint: recipes/multi_shot_video
version: "2026-06"
mode: auto
duration: 15
prompt: a fox's day, from dawn to dusk
""",
        ["4:3 mode 'auto' requires prompt for recipes/multi_shot_video"],
        [["prompt"]],
    ),
]


def _write(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + textwrap.indent(step, "    "), encoding="utf-8")
    return path


def _body(step: str) -> tuple[str, dict[str, Any]]:
    request: dict[str, Any] = yaml.safe_load(step)
    return request.pop("endpoint"), request


@pytest.fixture(scope="module")
def post() -> Iterator[Callable[[str, dict[str, Any]], httpx.Response]]:
    emulator = Emulator(EmulatorConfig(), clock=ManualClock())
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(emulator)),
        base_url="http://emulator.test",
        headers=emulator.headers,
    )

    def send(endpoint: str, body: dict[str, Any]) -> httpx.Response:
        return loop.run_until_complete(client.post(f"/v1/{endpoint}", json=body))

    yield send
    loop.run_until_complete(client.aclose())
    loop.close()
    emulator.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_broken_spec_reports_the_rule(case: Case, tmp_path: Path) -> None:
    path = _write(tmp_path, case.broken)
    _graph, diagnostics = check_file(path, CATALOG)
    assert [f"{d.span.line}:{d.span.col} {d.message}" for d in diagnostics if d.span] == (
        case.expected
    )
    assert all(d.code == "RP211" and d.span and d.span.path == str(path) for d in diagnostics)
    if case.rule not in HINTLESS:
        assert all(d.hint for d in diagnostics)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fixed_spec_is_clean(case: Case, tmp_path: Path) -> None:
    _graph, diagnostics = check_file(_write(tmp_path, case.fixed), CATALOG)
    assert diagnostics == []


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_emulator_refuses_the_broken_request(
    case: Case, post: Callable[[str, dict[str, Any]], httpx.Response]
) -> None:
    endpoint, body = _body(case.broken)
    response = post(endpoint, body)
    assert response.status_code == 400, response.text
    issues = response.json()["issues"]
    assert sorted(issue["path"] for issue in issues) == case.paths
    messages = sorted(e.partition(" ")[2] for e in case.expected)
    assert sorted(issue["message"] for issue in issues) == messages
    assert validate_request(CATALOG, *_body(case.fixed)) == []


def test_every_rule_is_tested_and_used() -> None:
    assert {case.rule for case in CASES} == RULE_NAMES
    assert {rule for o in CATALOG.overlay.models.values() for rule in o.rules} == RULE_NAMES
    assert len({case.name for case in CASES}) == len(CASES)


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    # an input image or video makes a hailuo3 request more than text: adaptive is allowed
    (
        "image_to_video",
        {
            "model": "hailuo3",
            "promptText": "a fox",
            "promptImage": "https://cdn.example.com/fox.png",
            "ratio": "adaptive",
        },
    ),
    (
        "video_to_video",
        {
            "model": "hailuo3",
            "promptText": "a fox",
            "promptVideo": "https://cdn.example.com/fox.mp4",
            "ratio": "adaptive",
        },
    ),
    # a single wan3 image is not keyframe mode
    (
        "image_to_video",
        {
            "model": "wan3",
            "promptText": "a fox",
            "promptImage": "https://cdn.example.com/fox.png",
            "ratio": "1280:720",
        },
    ),
    # ratio auto is let through with preciseEdit; mode reference takes ratio and duration
    (
        "text_to_image",
        {
            "model": "ideogram_4_5",
            "promptText": "pink sky",
            "preciseEdit": True,
            "ratio": "auto",
            "referenceImages": [{"uri": "https://cdn.example.com/sky.png"}],
        },
    ),
    (
        "video_to_video",
        {
            "model": "seedance2_5",
            "promptVideo": "https://cdn.example.com/in.mp4",
            "mode": "reference",
            "ratio": "1280:720",
            "duration": 5,
        },
    ),
    # draft mp4 (the default), and a full-quality mov
    (
        "text_to_video",
        {"model": "seedance2_5", "promptText": "a fox", "draft": True, "outputFormat": "mp4"},
    ),
    ("text_to_video", {"model": "seedance2_5", "promptText": "a fox", "outputFormat": "mov"}),
]


@pytest.mark.parametrize(("endpoint", "body"), ACCEPTED)
def test_requests_the_rules_let_through(endpoint: str, body: dict[str, Any]) -> None:
    assert validate_request(CATALOG, endpoint, body) == []


def test_a_field_the_endpoint_does_not_take_is_reported_once() -> None:
    body = {
        "model": "seedance2_5",
        "promptImage": "https://cdn.example.com/a.png",
        "draftTaskId": "0f6c1d9e",
        "mode": "edit",
    }
    issues = validate_request(CATALOG, "image_to_video", body)
    assert sorted((i.code, i.path) for i in issues) == [
        ("RP205", ("draftTaskId",)),
        ("RP205", ("mode",)),
    ]


def test_failed_templates_are_left_to_the_template_diagnostic(tmp_path: Path) -> None:
    step = """\
endpoint: image_to_video
model: wan3
promptText: a fox
promptImage:
  - {uri: https://cdn.example.com/a.png, position: first}
ratio: "{{ missing }}"
"""
    _graph, diagnostics = check_file(_write(tmp_path, step), CATALOG)
    assert diagnostics and not [d for d in diagnostics if d.code == "RP211"]


JUNK: list[Any] = [
    TemplateFailed(),
    None,
    True,
    0,
    2.5,
    "",
    "x",
    [],
    [None, 3, "a"],
    {},
    {"multiPrompt": [None, {"duration": True}, {"duration": "5"}], "shotType": ["intelligence"]},
    [{"position": 1, "subject": ["human"], "duration": None}],
]
TRIGGERS: dict[str, Any] = {
    "draftTaskId": "task",
    "draft": True,
    "outputFormat": "mov",
    "mode": "edit",
    "proresProfile": "422 LT",
    "ratio": "adaptive",
    "duration": 5,
    "promptImage": [{"position": "first"}, {"position": "last"}],
    "referenceImages": [{"subject": "human"}] * 6,
    "providerSettings": {"shotType": "intelligence", "multiPrompt": [{"duration": 20}]},
    "references": [{}] * 12,
    "referenceAudio": [{}],
    "edit": True,
    "preciseEdit": True,
    "quality": "very_low",
    "maskUri": "x",
}
RULED = sorted(
    (endpoint.name, model)
    for endpoint in CATALOG.endpoints.values()
    for model in endpoint.models
    if CATALOG.model_overlay(model).rules
)


@pytest.mark.parametrize(("endpoint", "model"), RULED)
def test_rules_never_raise_on_malformed_requests(endpoint: str, model: str) -> None:
    validator = Validator(compile_request(CATALOG, endpoint, {"model": model}), api=True)
    overlay = CATALOG.model_overlay(model)
    checker = Checker(validator, ("steps", "request"), model, overlay, {})
    for name in TRIGGERS:
        for junk in JUNK:
            for request in ({**TRIGGERS, name: junk}, {name: junk}):
                for rule in overlay.rules:
                    found = RULES[rule]({"model": model, **request}, checker)
                    assert all(d.code == "RP211" for d in found)
