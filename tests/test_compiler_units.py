"""The compiler on its own (`compile_spec` on a parsed document, no CLI, no validator): fan-outs
expand into keyed generations, references become edges, `needs` between fan-outs stays one
wait per pair of steps, templates render with their native types, output lengths propagate
along references, and each problem is a diagnostic at the place in the file that caused it.

Specs are written from the step builders below, one field a line in a fixed order, so that a
position in a test can be counted: the header takes lines 1-3 (``version``, ``name``,
``steps:``), one more with ``vars:``, and each step its name line, then ``before`` lines, then
its fields."""

from __future__ import annotations

from graphlib import CycleError
from pathlib import Path
from typing import Any

import pytest

from runway_plan import load_catalog
from runway_plan.compile import Graph, compile_spec
from runway_plan.compile.graph import join_key
from runway_plan.source import parse_document

CATALOG = load_catalog()

HERO = """\
  hero:
    endpoint: text_to_image
    model: gpt_image_2
    promptText: a lighthouse
    ratio: "1024:1024"
    outputCount: 3
"""
"""Lines 4-9: one generation with three outputs."""


def _step(name: str, fields: str, before: str) -> str:
    lines = "".join(f"    {line}\n" for line in before.splitlines())
    return f"  {name}:\n{lines}{fields}"


def still(name: str, prompt: str, before: str = "") -> str:
    """A gen4_image step (one output); ``before`` holds fields written before ``endpoint``."""
    fields = (
        f'    endpoint: text_to_image\n    model: gen4_image\n    promptText: "{prompt}"\n'
        '    ratio: "1920:1080"\n'
    )
    return _step(name, fields, before)


def clip(name: str, image: str, before: str = "") -> str:
    """A gen4_turbo clip of ``image`` (its ``promptImage`` the step's third field line)."""
    fields = (
        f'    endpoint: image_to_video\n    model: gen4_turbo\n    promptImage: "{image}"\n'
        '    ratio: "1280:720"\n'
    )
    return _step(name, fields, before)


def shot(name: str, prompt: str = "a fox", before: str = "", duration: str = "5") -> str:
    """A gen4.5 text-to-video step of ``duration`` seconds."""
    fields = (
        f'    endpoint: text_to_video\n    model: gen4.5\n    promptText: "{prompt}"\n'
        f'    ratio: "1280:720"\n    duration: {duration}\n'
    )
    return _step(name, fields, before)


def upscale(name: str, video: str, before: str = "") -> str:
    """A video upscale, as long as its input (``videoUri`` the step's third field line)."""
    fields = f'    endpoint: video_upscale\n    model: upscale_v1\n    videoUri: "{video}"\n'
    return _step(name, fields, before)


def compiled(tmp_path: Path, *steps: str, head: str = "", **options: Any) -> Graph:
    """The graph of a spec with ``head`` (``vars:``, ``limits:``) and ``steps``."""
    text = f"version: 1\nname: t\n{head}steps:\n{''.join(steps)}"
    return compile_spec(parse_document(text, str(tmp_path / "spec.yaml")), CATALOG, **options)


def located(graph: Graph) -> list[str]:
    """``line:col CODE message`` of each diagnostic, in the order the compiler made them."""
    return [
        f"{d.span.line}:{d.span.col} {d.code} {d.message}" if d.span else f"{d.code} {d.message}"
        for d in graph.diagnostics
    ]


# --- fan-out expansion --------------------------------------------------------------------------


def test_a_fan_out_makes_one_generation_per_item_keyed_by_index(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path, still("shot", "{{ item }} (shot {{ index }})", "for_each: [dawn, noon, dusk]")
    )
    assert graph.diagnostics == []
    assert list(graph.generations) == ["shot[0]", "shot[1]", "shot[2]"]
    assert [g.index for g in graph.generations.values()] == [0, 1, 2]
    assert [g.request["promptText"] for g in graph.generations.values()] == [
        "dawn (shot 0)",
        "noon (shot 1)",
        "dusk (shot 2)",
    ]
    assert graph.steps["shot"].generations == list(graph.generations)
    assert graph.steps["shot"].outputs == [("shot[0]", 0), ("shot[1]", 0), ("shot[2]", 0)]


def test_a_step_without_for_each_is_one_generation_keyed_by_its_name(tmp_path: Path) -> None:
    graph = compiled(tmp_path, HERO)
    [(key, generation)] = graph.generations.items()
    assert (key, generation.index, generation.step) == ("hero", None, "hero")
    assert (generation.endpoint, generation.model) == ("text_to_image", "gpt_image_2")


def test_output_count_gives_a_step_several_outputs_only_within_the_model_s_maximum(
    tmp_path: Path,
) -> None:
    graph = compiled(tmp_path, HERO)
    assert graph.steps["hero"].outputs == [("hero", 0), ("hero", 1), ("hero", 2)]
    one = compiled(tmp_path, HERO.replace("gpt_image_2", "gen4_image"))
    assert one.steps["hero"].outputs == [("hero", 0)]  # gen4_image makes one; validate says so


def test_for_each_over_a_step_fans_out_over_each_of_its_outputs(tmp_path: Path) -> None:
    graph = compiled(tmp_path, HERO, clip("clip", "{{ item }}", 'for_each: "@hero"'))
    assert graph.diagnostics == []
    clips = [graph.generations[f"clip[{i}]"] for i in range(3)]
    assert [c.request["promptImage"] for c in clips] == ["@hero[0]", "@hero[1]", "@hero[2]"]
    assert [ref.index for c in clips for _path, ref in c.refs] == [0, 1, 2]
    assert list(graph.edges) == [("hero", "clip[0]"), ("hero", "clip[1]"), ("hero", "clip[2]")]


def test_a_fan_out_over_a_fan_out_follows_it_item_by_item(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        shot("shot", "{{ item }}", 'for_each: "{{ shots }}"'),
        upscale("up", "{{ item }}", 'for_each: "@shot"'),
        head="vars: {shots: [a, b]}\n",
    )
    assert graph.diagnostics == []
    assert list(graph.edges) == [("shot[0]", "up[0]"), ("shot[1]", "up[1]")]


# --- references and edges -----------------------------------------------------------------------


def test_a_reference_is_an_edge_and_a_ref_at_its_path_and_place(tmp_path: Path) -> None:
    graph = compiled(tmp_path, HERO, clip("clip", "@hero[2]"))
    assert graph.diagnostics == []
    clip_ = graph.generations["clip"]
    [(path, ref)] = clip_.refs
    assert path == ("promptImage",)
    assert (ref.step, ref.index, ref.text) == ("hero", 2, "@hero[2]")
    assert (ref.span.line, ref.span.col, ref.span.end_col) == (13, 18, 28)
    assert graph.edges == {("hero", "clip"): None}
    assert graph.producer(ref) is graph.generations["hero"]
    assert clip_.request["promptImage"] == "@hero[2]"  # the request keeps the reference


def test_a_rendered_reference_is_resolved_like_a_written_one(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        HERO,
        clip("clip", "@{{ source }}[{{ index + 1 }}]", "for_each: [x, y]"),
        head="vars: {source: hero}\n",
    )
    assert graph.diagnostics == []
    assert [r.text for g in graph.generations.values() for _p, r in g.refs] == [
        "@hero[1]",
        "@hero[2]",
    ]
    assert list(graph.edges) == [("hero", "clip[0]"), ("hero", "clip[1]")]


def test_edges_are_not_repeated_for_two_references_to_one_output(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        still("lamp", "a lamp"),
        still("room", "a room") + '    referenceImages: [{uri: "@lamp", tag: a}, {uri: "@lamp"}]\n',
    )
    assert graph.diagnostics == []
    assert len(graph.generations["room"].refs) == 2
    assert graph.edges == {("lamp", "room"): None}


# --- needs between fan-outs ---------------------------------------------------------------------


def test_needs_between_two_fan_outs_is_one_wait_not_a_cross_product(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        still("first", "a {{ item }}", 'for_each: "{{ range(300) | list }}"'),
        still("second", "b {{ item }}", 'for_each: "{{ range(200) | list }}"\nneeds: [first]'),
    )
    assert graph.diagnostics == []
    assert len(graph.generations) == 500
    assert graph.edges == {}  # needs carries no data
    assert graph.needs == {"second": ["first"]}
    joins, edges = graph.dependencies()
    assert joins == [join_key("first")]
    assert len(edges) == 300 + 200  # not 300 * 200
    order = graph.order_keys()
    assert order[:300] == graph.steps["first"].generations
    assert order[300:] == graph.steps["second"].generations


def test_a_step_named_twice_in_needs_waits_once(tmp_path: Path) -> None:
    graph = compiled(tmp_path, HERO, still("after", "later", "needs: [hero, hero]"))
    assert graph.diagnostics == []
    assert graph.needs == {"after": ["hero"]}


# --- templates ----------------------------------------------------------------------------------


def test_a_whole_expression_keeps_its_type_and_overrides_replace_vars(tmp_path: Path) -> None:
    step = shot("shot", "{{ subject }} at {{ hour }}h", duration='"{{ seconds }}"')
    head = "vars: {subject: a fox, hour: 6, seconds: 5}\n"
    graph = compiled(tmp_path, step, head=head)
    request = graph.generations["shot"].request
    assert request["duration"] == 5 and isinstance(request["duration"], int)
    assert request["promptText"] == "a fox at 6h"
    graph = compiled(tmp_path, step, head=head, overrides={"seconds": 8, "subject": "an owl"})
    request = graph.generations["shot"].request
    assert (request["duration"], request["promptText"]) == (8, "an owl at 6h")
    assert graph.variables["hour"] == 6


def test_a_fan_out_from_a_template_renders_each_item_and_leaves_other_fields_shared(
    tmp_path: Path,
) -> None:
    step = still("shot", "{{ item.text | upper }}", 'for_each: "{{ shots }}"')
    step += '    referenceImages: [{uri: "https://cdn.example.com/a.png", tag: a}]\n'
    graph = compiled(tmp_path, step, head="vars: {shots: [{text: one}, {text: two}]}\n")
    assert graph.diagnostics == []
    first, second = graph.generations.values()
    assert (first.request["promptText"], second.request["promptText"]) == ("ONE", "TWO")
    assert first.request["referenceImages"] is second.request["referenceImages"]


def test_an_undefined_name_is_reported_where_it_is_in_the_scalar(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        still("shot", "{{ item }} {{ mising }}", "for_each: [x]"),
        head="vars: {missing: 1}\n",
    )
    [diagnostic] = graph.diagnostics
    assert located(graph) == ["9:32 RP111 'mising' is undefined"]
    assert diagnostic.hint is not None and "missing" in diagnostic.hint


# --- durations ----------------------------------------------------------------------------------


def test_a_duration_field_gives_an_exact_length_that_passes_down_references(
    tmp_path: Path,
) -> None:
    graph = compiled(tmp_path, shot("shot", duration="7"), upscale("up", "@shot"))
    assert graph.diagnostics == []
    first, up = graph.generations["shot"], graph.generations["up"]
    assert (first.duration, first.duration_reason) == (7, "duration field")
    assert (up.duration, up.duration_reason) == (7, "length of @shot")


def test_estimated_speech_is_a_range_that_passes_down_as_a_range(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        """\
  speech:
    endpoint: text_to_speech
    model: eleven_multilingual_v2
    promptText: "{{ 'x' * 40 }}"
    voice: {type: runway-preset, presetId: Maya}
  dub:
    endpoint: voice_dubbing
    model: eleven_voice_dubbing
    audioUri: "@speech"
    targetLang: es
""",
    )
    assert graph.diagnostics == []
    speech, dub = graph.generations["speech"].length, graph.generations["dub"].length
    assert speech is not None and (speech.low, speech.high) == (1.6, 10.0)
    assert dub is not None and (dub.low, dub.high) == (1.6, 10.0)
    assert graph.generations["dub"].duration is None  # only bounds are known


def test_lengths_stop_at_a_cycle_without_stopping_elsewhere(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        shot("shot"),
        upscale("up", "@shot"),
        upscale("ping", "@pong"),
        upscale("pong", "@ping"),
    )
    assert [d.code for d in graph.diagnostics] == ["RP301", "RP301"]
    assert graph.generations["up"].duration == 5
    assert graph.generations["ping"].length is None and graph.generations["pong"].length is None


# --- diagnostics at their place -----------------------------------------------------------------


def test_an_unknown_step_is_reported_at_the_reference_with_a_did_you_mean(tmp_path: Path) -> None:
    graph = compiled(tmp_path, HERO, clip("clip", "@heor[0]") + "    needs: [herro]\n")
    assert located(graph) == ["13:18 RP300 unknown step 'heor'", "15:13 RP300 unknown step 'herro'"]
    assert [d.hint for d in graph.diagnostics] == ["did you mean '@hero'?", "did you mean 'hero'?"]
    assert graph.edges == {} and graph.needs == {}


def test_out_of_range_and_ambiguous_references_say_which_outputs_exist(tmp_path: Path) -> None:
    graph = compiled(tmp_path, HERO, clip("far", "@hero[3]"), clip("vague", "@hero"))
    assert located(graph) == [
        "13:18 RP302 '@hero[3]' is out of range: step 'hero' has 3 outputs",
        "18:18 RP302 step 'hero' has 3 outputs; reference one of them",
    ]
    assert [d.hint for d in graph.diagnostics] == [
        "valid indexes are 0 to 2",
        "write '@hero[0]' … '@hero[2]', or fan out with for_each: '@hero'",
    ]
    assert graph.edges == {}


def test_a_cycle_is_reported_at_each_reference_on_it_once(tmp_path: Path) -> None:
    graph = compiled(tmp_path, upscale("a", "@b"), upscale("b", "@a"))
    assert located(graph) == [
        "11:15 RP301 step 'b' depends on 'a', which is part of a cycle: a -> b -> a",
        "7:15 RP301 step 'a' depends on 'b', which is part of a cycle: a -> b -> a",
    ]
    assert set(graph.edges) == {("a", "b"), ("b", "a")}
    with pytest.raises(CycleError, match="in a cycle"):
        graph.order_keys()


def test_a_for_each_that_renders_to_no_list_is_reported_at_the_for_each(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        still("shot", "{{ item }}", 'for_each: "{{ count }}"'),
        head="vars: {count: three}\n",
    )
    assert located(graph) == ["6:15 RP114 for_each gave the string 'three', not a non-empty list"]
    assert graph.generations == {}
    assert list(graph.unexpanded) == ["shot"]  # its other fields are still checked


def test_for_each_over_itself_is_a_cycle_at_the_for_each(tmp_path: Path) -> None:
    graph = compiled(tmp_path, still("a", "a", 'for_each: "@b"'), still("b", "b", 'for_each: "@a"'))
    assert located(graph)[0] == "11:15 RP301 for_each cycle: a -> b -> a"
    assert graph.generations == {}


@pytest.mark.parametrize(("limit", "made"), [(2, []), (3, ["s[0]", "s[1]", "s[2]"])])
def test_the_generations_limit_stops_at_the_step_that_crosses_it(
    tmp_path: Path, limit: int, made: list[str]
) -> None:
    graph = compiled(
        tmp_path, still("s", "{{ item }}", "for_each: [a, b, c]"), limits={"generations": limit}
    )
    assert list(graph.generations) == made
    assert graph.limits.generations == limit
    if not made:
        [line] = located(graph)
        assert line.startswith("5:15 RP118 over the limit of 2 generations (limits.generations)")
        assert "step 's' makes 3" in line
    else:
        assert graph.diagnostics == []


def test_every_problem_of_one_spec_is_reported_in_one_compile(tmp_path: Path) -> None:
    graph = compiled(
        tmp_path,
        HERO,
        clip("a", "@nowhere") + '    promptText: "{{ undefined_name }}"\n',
        still("b", "x", 'for_each: "{{ 5 }}"'),
    )
    assert sorted(d.code for d in graph.diagnostics) == ["RP111", "RP114", "RP300"]
    spec = str(tmp_path / "spec.yaml")
    assert all(d.span is not None and d.span.path == spec for d in graph.diagnostics)
