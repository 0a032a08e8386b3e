"""Rules of a model that span several fields, named in the catalog overlay's ``rules``.

Each rule takes the request (as written, templates rendered) and the model's checker and returns
RP211 diagnostics.  A rule reads only values of the types it expects, so a malformed request (a
wrong type, a missing field, a failed template) leaves the field checks to report it, and a rule
about a field the step's endpoint does not take stays silent (RP205 reports the field).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runway_plan.catalog.model import ArrayType, EnumType, FieldSpec, Scalar
from runway_plan.diagnostics import Diagnostic, make
from runway_plan.validate import describe
from runway_plan.validate.checker import Checker


def _positions(request: dict[str, Any]) -> list[dict[str, Any]] | None:
    images = request.get("promptImage")
    if isinstance(images, list) and all(isinstance(item, dict) for item in images):
        return images
    return None


def _rule_prompt_image_modes(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    images = _positions(request)
    if not images:
        return []
    positioned = [("position" in item) for item in images]
    if any(positioned) and not all(positioned):
        return [
            make(
                "RP211",
                f"promptImage mixes keyframes (items with a position) and reference images "
                f"(items without); {checker.subject} takes one mode or the other",
                checker.locate(("promptImage",)),
            )
        ]
    return []


def _rule_first_frame_required(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    images = _positions(request)
    if not images:
        return []
    positions = [item.get("position") for item in images]  # any value: a list is no key
    if "last" in positions and "first" not in positions:
        return [
            make(
                "RP211",
                f"promptImage has a last frame but no first frame; {checker.subject} needs the "
                "first",
                checker.locate(("promptImage",)),
            )
        ]
    return []


def _rule_keyframe_ranges(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    keyframes = request.get("keyframes")
    if not isinstance(keyframes, list):
        return []
    frames = [k for k in keyframes if isinstance(k, dict)]
    with_range = [("range" in k) for k in frames]
    found: list[Diagnostic] = []
    if any(with_range) and not all(with_range):
        found.append(
            make(
                "RP211",
                "either every keyframe sets a range or none does",
                checker.locate(("keyframes",)),
            )
        )
    for index, frame in enumerate(frames):
        span_range = frame.get("range")
        seconds = frame.get("seconds")
        if not isinstance(span_range, dict):
            continue
        start, end = span_range.get("start_seconds"), span_range.get("end_seconds")
        if not isinstance(start, int | float) or not isinstance(end, int | float):
            continue
        if start >= end:
            found.append(
                make(
                    "RP211",
                    f"keyframes[{index}].range ends before it starts",
                    checker.locate(("keyframes", index, "range")),
                )
            )
        elif isinstance(seconds, int | float) and not start <= seconds < end:
            found.append(
                make(
                    "RP211",
                    f"keyframes[{index}] at {seconds} s is outside its range [{start}, {end})",
                    checker.locate(("keyframes", index, "seconds")),
                )
            )
    return found


def _rule_reference_tags(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    images = request.get("referenceImages")
    if not isinstance(images, list):
        return []
    found: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(images):
        tag = item.get("tag") if isinstance(item, dict) else None
        if not isinstance(tag, str):
            continue
        at = ("referenceImages", index, "tag")
        if not describe.TAG.match(tag):
            found.append(
                make(
                    "RP211",
                    f"referenceImages[{index}].tag '{tag}' must be 3-16 letters, digits or '_', "
                    "starting with a letter",
                    checker.locate(at),
                    hint="the prompt refers to it as @tag",
                )
            )
        if tag in seen:
            found.append(
                make(
                    "RP211",
                    f"tag '{tag}' is used by referenceImages[{seen[tag]}] too",
                    checker.locate(at),
                )
            )
        seen.setdefault(tag, index)
    return found


_PRORES_FORMATS = ("prores", "hdr_prores")
_HDR_PRORES_PROFILES = ("422", "422 HQ", "4444")
_AUTO_RATIO_PIXELS = {"auto_480p": 832 * 480, "auto_720p": 1280 * 720, "auto_1080p": 1920 * 1080}
_SUBJECT_LIMITS = {"human": 5, "object": 9}
_MULTI_PROMPT_SECONDS = (3, 15)


def _values(fields: dict[str, FieldSpec], name: str) -> tuple[Scalar, ...] | None:
    """The values an enum field accepts (None: not an enum, or no such field)."""
    field = fields.get(name)
    return field.type.values if field is not None and isinstance(field.type, EnumType) else None


def _count(value: Any) -> int:
    """How many items a list field holds (0 when it is missing or not a list)."""
    return len(value) if isinstance(value, list) else 0


def _absent(request: dict[str, Any], name: str) -> bool:
    """Whether a text field is missing or empty."""
    return request.get(name) in (None, "")


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def _rule_draft_task_alone(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 text_to_video ``draftTaskId``: "The draft is regenerated with its original
    prompt, references, and settings, so no other generation fields may be provided."
    """
    if (
        not isinstance(request.get("draftTaskId"), str)
        or "draftTaskId" not in checker.model_fields()
    ):
        return []
    others = [name for name in request if name not in ("model", "draftTaskId")]
    if not others:
        return []
    listed = _listed(others)
    return [
        make(
            "RP211",
            f"draftTaskId enhances a draft with its original prompt, references and settings; "
            f"{checker.subject} takes no other field with it, but the request also sets {listed}",
            checker.locate(("draftTaskId",)),
            hint=f"remove {listed}, or remove draftTaskId to generate a new video",
        )
    ]


def _rule_draft_mp4_only(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``outputFormat`` of seedance2_5: "Draft mode only supports `mp4`."."""
    output_format = request.get("outputFormat")
    if request.get("draft") is not True or not isinstance(output_format, str):
        return []
    formats = _values(checker.model_fields(), "outputFormat")
    if output_format == "mp4" or (formats is not None and output_format not in formats):
        return []
    return [
        make(
            "RP211",
            f"outputFormat '{output_format}' is not available with draft: true; "
            f"{checker.subject} drafts are mp4 only",
            checker.locate(("outputFormat",)),
            hint="set outputFormat: mp4 (or omit it), or remove draft for a full-quality video",
        )
    ]


def _rule_video_mode_fields(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 video_to_video ``mode`` of seedance2_5: "`extend` continues the input video,
    requires `promptText`, and matches the input aspect ratio, so `ratio` may not be provided.
    `edit` modifies the input video in place, requires `promptText`, requires
    `duration: "auto"`, and does not accept `ratio`."
    """
    mode = request.get("mode")
    if mode not in ("extend", "edit") or "mode" not in checker.model_fields():
        return []
    found: list[Diagnostic] = []
    extend = mode == "extend"
    if _absent(request, "promptText"):
        found.append(
            make(
                "RP211",
                f"mode '{mode}' requires promptText for {checker.subject}",
                checker.locate(("mode",)),
                hint=f"add promptText describing the {'continuation' if extend else 'edit'}, "
                "or use mode: reference",
            )
        )
    if "ratio" in request:
        found.append(
            make(
                "RP211",
                f"ratio is not accepted with mode '{mode}'; {checker.subject} keeps the input "
                "video's aspect ratio",
                checker.locate(("ratio",)),
                hint="remove ratio, or use mode: reference to choose one",
            )
        )
    duration = request.get("duration")
    if mode == "edit" and duration != "auto":
        if "duration" not in request:
            found.append(
                make(
                    "RP211",
                    f"mode 'edit' requires duration: \"auto\" for {checker.subject} "
                    "(duration defaults to 5)",
                    checker.locate(("mode",)),
                    hint='add duration: "auto"',
                )
            )
        elif isinstance(duration, int) and not isinstance(duration, bool):
            found.append(
                make(
                    "RP211",
                    f"duration {duration} is not accepted with mode 'edit'; {checker.subject} "
                    'requires duration: "auto"',
                    checker.locate(("duration",)),
                    hint='set duration: "auto"',
                )
            )
    return found


def _rule_prores_profile_format(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``proresProfile``: gen4.5 "Only valid when `outputFormat` is `prores` or
    `hdr_prores`. ... For `hdr_prores`, only `422`, `422 HQ` and `4444` are available"; aleph2
    "Only valid when `outputFormat` is `prores`"; ruby "Only valid when `outputFormat` is
    `hdr_prores`".
    """
    profile = request.get("proresProfile")
    output_format = request.get("outputFormat")
    if not isinstance(profile, str) or not isinstance(output_format, str | None):
        return []
    if output_format is None and "outputFormat" in request:
        return []
    fields = checker.model_fields()
    accepted = _values(fields, "outputFormat")
    formats = [f for f in _PRORES_FORMATS if accepted is None or f in accepted]
    if not formats or (accepted is not None and output_format not in (None, *accepted)):
        return []
    shown = " or ".join(f"'{f}'" for f in formats)
    if output_format not in formats:
        actual = "not set" if output_format is None else f"'{output_format}'"
        return [
            make(
                "RP211",
                f"proresProfile is only valid when outputFormat is {shown} for "
                f"{checker.subject}; outputFormat is {actual}",
                checker.locate(("proresProfile",)),
                hint=f"set outputFormat: {formats[0]}, or remove proresProfile",
            )
        ]
    profiles = _values(fields, "proresProfile")
    if (
        output_format == "hdr_prores"
        and profile not in _HDR_PRORES_PROFILES
        and (profiles is None or profile in profiles)
    ):
        return [
            make(
                "RP211",
                f"proresProfile '{profile}' is not available with outputFormat 'hdr_prores' for "
                f"{checker.subject}",
                checker.locate(("proresProfile",)),
                hint="use '422 HQ' (the default), '422' or '4444'; 12-bit HDR is outputFormat "
                "'hdr_pq_12bit_master'",
            )
        ]
    return []


def _rule_adaptive_ratio_media(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``ratio`` of hailuo3: "Use adaptive only when image or video references are
    provided; text-only requests require a concrete ratio."  An input image or video
    (``promptImage``, ``promptVideo``) counts as media: such a request is not text-only.
    """
    if request.get("ratio") != "adaptive":
        return []
    media = ("promptImage", "promptVideo", "references", "referenceVideos")
    if any(request.get(name) not in (None, "", []) for name in media):
        return []
    return [
        make(
            "RP211",
            f"ratio 'adaptive' needs image or video references; a text-only {checker.subject} "
            "request takes a concrete ratio",
            checker.locate(("ratio",)),
            hint="add references or referenceVideos, or choose a ratio such as '16:9'",
        )
    ]


def _rule_keyframe_auto_ratio(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``ratio`` of wan3 and wan3_prime: "Keyframe image-to-video requests must use
    `auto_480p`, `auto_720p`, or `auto_1080p` because their aspect ratio follows the first
    frame."  Keyframe mode is a ``promptImage`` list whose items set a ``position``.
    """
    images, ratio = request.get("promptImage"), request.get("ratio")
    if not isinstance(images, list) or not images or not isinstance(ratio, str):
        return []
    if not all(isinstance(item, dict) and "position" in item for item in images):
        return []
    accepted = _values(checker.model_fields(), "ratio")
    if ratio.startswith("auto_") or (accepted is not None and ratio not in accepted):
        return []
    width, _, height = ratio.partition(":")
    whole = all(part.isascii() and part.isdigit() and len(part) <= 9 for part in (width, height))
    pixels = int(width) * int(height) if whole else 1280 * 720
    nearest = min(_AUTO_RATIO_PIXELS, key=lambda name: abs(_AUTO_RATIO_PIXELS[name] - pixels))
    return [
        make(
            "RP211",
            f"ratio '{ratio}' is not available with keyframes; {checker.subject} keyframe "
            "image-to-video takes auto_480p, auto_720p or auto_1080p (the first frame sets the "
            "aspect ratio)",
            checker.locate(("ratio",)),
            hint=f"use ratio: {nearest}",
        )
    ]


def _rule_reference_subject_counts(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``referenceImages`` of the gemini image models: "Up to five of those images can
    pass `subject: "human"` ... and up to nine of those images can pass `subject: "object"`".
    """
    images = request.get("referenceImages")
    if not isinstance(images, list):
        return []
    found: list[Diagnostic] = []
    seen = dict.fromkeys(_SUBJECT_LIMITS, 0)
    for index, item in enumerate(images):
        subject = item.get("subject") if isinstance(item, dict) else None
        if not isinstance(subject, str) or subject not in _SUBJECT_LIMITS:
            continue
        seen[subject] += 1
        if seen[subject] == _SUBJECT_LIMITS[subject] + 1:
            total = sum(1 for i in images if isinstance(i, dict) and i.get("subject") == subject)
            found.append(
                make(
                    "RP211",
                    f"referenceImages has {total} images with subject '{subject}'; "
                    f"{checker.subject} allows at most {_SUBJECT_LIMITS[subject]}",
                    checker.locate(("referenceImages", index, "subject")),
                    hint=f"remove subject from {total - _SUBJECT_LIMITS[subject]} of them, "
                    "or remove those images",
                )
            )
    return found


def _rule_multi_prompt_shots(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``providerSettings.multiPrompt`` of the kling 3.0 and O3 models: "Total
    duration across all segments must be between 3 and 15 seconds. `promptText` is still
    required when `shotType` is `"intelligence"`."
    """
    settings = request.get("providerSettings")
    if not isinstance(settings, dict):
        return []
    found: list[Diagnostic] = []
    segments = settings.get("multiPrompt")
    if isinstance(segments, list) and segments:
        durations = [s.get("duration") if isinstance(s, dict) else None for s in segments]
        seconds = [d for d in durations if isinstance(d, int | float) and not isinstance(d, bool)]
        if len(seconds) == len(durations):
            total = sum(seconds)
            low, high = _MULTI_PROMPT_SECONDS
            if not low <= total <= high:
                found.append(
                    make(
                        "RP211",
                        "providerSettings.multiPrompt segments last "
                        f"{describe.show(total)} s in all; "
                        f"{checker.subject} needs {low} to {high} s",
                        checker.locate(("providerSettings", "multiPrompt")),
                        hint="change the segments' durations so that they add up to 3-15 s",
                    )
                )
    prompt = checker.model_fields().get("promptText")
    if (
        settings.get("shotType") == "intelligence"
        and _absent(request, "promptText")
        and prompt is not None
        and not (prompt.required and "promptText" not in request)
    ):
        found.append(
            make(
                "RP211",
                f"providerSettings.shotType 'intelligence' requires promptText for "
                f"{checker.subject}",
                checker.locate(("providerSettings", "shotType")),
                hint="add promptText, or use shotType: customize",
            )
        )
    return found


def _rule_image_total_with_frames(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``references`` of kling_4: "Up to 10 images in total, frames included."  The
    limit is the ``references`` item limit of the catalog; ``promptImage`` frames count to it.
    """
    references, frames = request.get("references"), request.get("promptImage")
    field = checker.model_fields().get("references")
    limit = field.type.max_items if field and isinstance(field.type, ArrayType) else None
    if not isinstance(references, list) or not references or limit is None:
        return []
    count = 1 if isinstance(frames, str) else _count(frames)
    total = len(references) + count
    if len(references) > limit or total <= limit:
        return []
    return [
        make(
            "RP211",
            f"references has {len(references)} images and promptImage {count} "
            f"frame{'s' if count != 1 else ''}; {checker.subject} takes at most {limit} images "
            "in all, frames included",
            checker.locate(("references",)),
            hint=f"remove {total - limit} of the reference images",
        )
    ]


def _rule_audio_needs_image_reference(
    request: dict[str, Any], checker: Checker
) -> list[Diagnostic]:
    """SDK 5.24.0 text_to_video ``referenceAudio`` of grok_imagine_1_5: "Audio references
    require at least one image reference".
    """
    if not _count(request.get("referenceAudio")) or "references" not in checker.model_fields():
        return []
    if _count(request.get("references")):
        return []
    return [
        make(
            "RP211",
            f"referenceAudio needs at least one image in references for {checker.subject}",
            checker.locate(("referenceAudio",)),
            hint="add an image to references, or remove referenceAudio",
        )
    ]


def _rule_edit_needs_reference(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0: grok_imagine_image_2 ``edit`` and ideogram_4_5 ``preciseEdit`` each "Requires
    at least one reference image."
    """
    if _count(request.get("referenceImages")):
        return []
    fields = checker.model_fields()
    return [
        make(
            "RP211",
            f"{name}: true edits a reference image, but this {checker.subject} request has no "
            "referenceImages",
            checker.locate((name,)),
            hint=f"add the image to edit to referenceImages, or remove {name}",
        )
        for name in ("edit", "preciseEdit")
        if request.get(name) is True and name in fields
    ]


def _rule_sized_ratio_references(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ``ratio`` of bria_fibo_edit_1_5: "Choosing a size requires at least 2 reference
    images; a single image always keeps its own framing."
    """
    ratio = request.get("ratio")
    accepted = _values(checker.model_fields(), "ratio")
    if not isinstance(ratio, str) or ratio == "auto" or (accepted and ratio not in accepted):
        return []
    count = _count(request.get("referenceImages"))
    if count >= 2:
        return []
    return [
        make(
            "RP211",
            f"ratio '{ratio}' needs at least 2 referenceImages for {checker.subject}, which has "
            f"{count}; a single image keeps its own framing",
            checker.locate(("ratio",)),
            hint="use ratio: auto (or omit it), or add another reference image",
        )
    ]


def _rule_edit_quality_ratio(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 ideogram_4_5: ``quality`` "`very_low` requires reference images and is not
    available with `preciseEdit`"; ``ratio`` "Not available with `maskUri` or `preciseEdit`,
    which keep the size of the first reference image" (``ratio: auto`` is let through).
    """
    found: list[Diagnostic] = []
    precise = request.get("preciseEdit") is True
    if request.get("quality") == "very_low":
        if not _count(request.get("referenceImages")):
            found.append(
                make(
                    "RP211",
                    f"quality 'very_low' requires referenceImages for {checker.subject}",
                    checker.locate(("quality",)),
                    hint="add reference images, or use quality: low",
                )
            )
        if precise:
            found.append(
                make(
                    "RP211",
                    f"quality 'very_low' is not available with preciseEdit for {checker.subject}",
                    checker.locate(("quality",)),
                    hint="use quality: low or higher, or remove preciseEdit",
                )
            )
    ratio = request.get("ratio")
    editing: list[str] = []
    if "maskUri" in request:
        editing.append("maskUri")
    if precise:
        editing.append("preciseEdit")
    if isinstance(ratio, str) and ratio != "auto" and editing:
        found.append(
            make(
                "RP211",
                f"ratio is not available with {_listed(editing)}; {checker.subject} keeps the size "
                "of the first reference image",
                checker.locate(("ratio",)),
                hint="remove ratio",
            )
        )
    return found


def _rule_multi_shot_mode(request: dict[str, Any], checker: Checker) -> list[Diagnostic]:
    """SDK 5.24.0 recipes/multi_shot_video, a union of two requests told apart by ``mode``:
    "`auto` decomposes a story prompt into exactly 5 shots" (``prompt`` required); "`custom`
    polishes a user-provided shot list of 3-5 shots" (``shots`` required) whose "Per-shot
    durations must sum to `duration`" ("Defaults to 10 seconds")."""
    mode = request.get("mode")
    wants, other = {"auto": ("prompt", "shots"), "custom": ("shots", "prompt")}.get(
        mode if isinstance(mode, str) else "", (None, None)
    )
    if wants is None or other is None:
        return []
    found: list[Diagnostic] = []
    if wants not in request:
        found.append(
            make(
                "RP211",
                f"mode '{mode}' requires {wants} for {checker.subject}",
                checker.locate_missing((wants,)),
                hint=f"add {wants}" + (", a story prompt" if wants == "prompt" else ", 3-5 shots"),
            )
        )
    if other in request:
        found.append(
            make(
                "RP211",
                f"{other} is not taken in mode '{mode}' of {checker.subject}",
                checker.locate_key((other,)),
                hint=f"remove {other}, or use mode: {'custom' if other == 'shots' else 'auto'}",
            )
        )
    shots = request.get("shots")
    duration = request.get("duration", 10)
    if mode == "custom" and isinstance(shots, list) and shots:
        seconds = [s.get("duration") if isinstance(s, dict) else None for s in shots]
        numbers = [d for d in seconds if isinstance(d, int) and not isinstance(d, bool)]
        if len(numbers) == len(seconds) and isinstance(duration, int) and sum(numbers) != duration:
            found.append(
                make(
                    "RP211",
                    f"the shots last {sum(numbers)} s in all, but duration is {duration} s"
                    + (" (its default)" if "duration" not in request else ""),
                    checker.locate(("shots",)),
                    hint="make the shots' durations add up to duration",
                )
            )
    return found


RULES: dict[str, Callable[[dict[str, Any], Checker], list[Diagnostic]]] = {
    "multi_shot_mode": _rule_multi_shot_mode,
    "prompt_image_modes": _rule_prompt_image_modes,
    "first_frame_required": _rule_first_frame_required,
    "keyframe_ranges": _rule_keyframe_ranges,
    "reference_tags": _rule_reference_tags,
    "draft_task_alone": _rule_draft_task_alone,
    "draft_mp4_only": _rule_draft_mp4_only,
    "video_mode_fields": _rule_video_mode_fields,
    "prores_profile_format": _rule_prores_profile_format,
    "adaptive_ratio_media": _rule_adaptive_ratio_media,
    "keyframe_auto_ratio": _rule_keyframe_auto_ratio,
    "reference_subject_counts": _rule_reference_subject_counts,
    "multi_prompt_shots": _rule_multi_prompt_shots,
    "image_total_with_frames": _rule_image_total_with_frames,
    "audio_needs_image_reference": _rule_audio_needs_image_reference,
    "edit_needs_reference": _rule_edit_needs_reference,
    "sized_ratio_references": _rule_sized_ratio_references,
    "edit_quality_ratio": _rule_edit_quality_ratio,
}
RULE_NAMES = frozenset(RULES)
