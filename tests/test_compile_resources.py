"""Documents and avatars in the compiler: resource nodes with their texts rendered once, an
avatar's ``@step`` image resolved to the one output it names (an edge from that generation),
and the problems reported at their place; ``run`` and ``plan`` read the same nodes, and the
planner puts the resource part on the plan."""

from __future__ import annotations

from pathlib import Path

from runway_plan import load_catalog
from runway_plan.compile import Graph, compile_spec
from runway_plan.execute.fingerprint import OutputRef
from runway_plan.execute.resources import desired_state, image_source
from runway_plan.plan import PlanOptions, ResourceChange, ResourcePlan, plan
from runway_plan.source import parse_document

CATALOG = load_catalog()

HEAD = """\
version: 1
name: t
vars: {brand: Aurora}
steps:
  hero: {endpoint: text_to_image, model: gpt_image_2, promptText: a lighthouse, outputCount: 3}
documents:
  faq: {name: "{{ brand }} FAQ", content: "About {{ brand }}"}
avatars:
"""
"""Lines 1-8 (the step one generation of three outputs); the avatars follow from line 9."""


def avatar(name: str, image: str, personality: str = "Helpful") -> str:
    """An avatar (5 lines, its image on the third) attaching ``faq``."""
    return (
        f'  {name}:\n    name: {name.title()}\n    referenceImage: "{image}"\n'
        f'    personality: "{personality}"\n'
        "    voice: {type: runway-live-preset, presetId: clara}\n    documents: [faq, faq]\n"
    )


def compiled(tmp_path: Path, *avatars: str) -> Graph:
    text = HEAD + "".join(avatars)
    return compile_spec(parse_document(text, str(tmp_path / "spec.yaml")), CATALOG)


def located(graph: Graph) -> list[str]:
    return [f"{d.span.line}:{d.span.col} {d.code} {d.message}" for d in graph.diagnostics if d.span]


def test_resource_texts_are_rendered_once_into_nodes(tmp_path: Path) -> None:
    graph = compiled(tmp_path, avatar("ava", "@hero[1]", "Support for {{ brand }}"))
    assert located(graph) == []
    faq = graph.documents["faq"]
    assert (faq.name, faq.content, faq.file, faq.problems) == (
        "Aurora FAQ",
        "About Aurora",
        None,
        (),
    )
    assert faq.span.line == 7
    ava = graph.avatars["ava"]
    assert ava.name == "Ava" and ava.documents == ("faq", "faq")
    assert ava.request["personality"] == "Support for Aurora"
    assert "documents" not in ava.request and ava.reference_image == "@hero[1]"
    assert ava.image is not None and (ava.image.step, ava.image.index) == ("hero", 1)
    assert ava.producer == ("hero", 1)
    assert image_source(graph, ava).ref == OutputRef("hero", 1)
    desired = desired_state(graph, {"faq": "d1"}, lambda ref: f"{ref.key}:{ref.index}")
    assert desired[("document", "faq")].fields == {"name": "Aurora FAQ", "content": "About Aurora"}
    fields = desired[("avatar", "ava")].fields
    assert fields["personality"] == "Support for Aurora" and fields["documentIds"] == ["d1"]
    assert fields["referenceImage"] == {"$sha256": "hero:1", "from": "@hero[1]"}


def test_an_image_naming_no_single_output_is_reported_and_has_no_producer(
    tmp_path: Path,
) -> None:
    graph = compiled(
        tmp_path, avatar("vague", "@hero"), avatar("far", "@hero[3]"), avatar("lost", "@heor[0]")
    )
    assert located(graph) == [
        "11:21 RP302 step 'hero' has 3 outputs; an avatar takes one of them",
        "17:21 RP302 '@hero[3]' is out of range: step 'hero' has 3 outputs",
        "23:21 RP300 unknown step 'heor'",
    ]
    assert graph.diagnostics[2].hint == "did you mean '@hero'?"
    assert [a.producer for a in graph.avatars.values()] == [None, None, None]
    # `run` and `plan` read the node: '@hero' is not taken as output 0 of 'hero'.
    desired = desired_state(graph, {}, lambda ref: "0" * 64)
    assert desired[("avatar", "vague")].problem == "@hero names no output"
    assert image_source(graph, graph.avatars["vague"]).ref is None


def test_a_failed_template_is_reported_once_and_kept_as_written(tmp_path: Path) -> None:
    graph = compiled(tmp_path, avatar("ava", "https://example.com/a.png", "Support for {{ nope }}"))
    assert [d.code for d in graph.diagnostics] == ["RP111"]
    assert graph.diagnostics[0].span is not None and graph.diagnostics[0].span.line == 12
    ava = graph.avatars["ava"]
    assert ava.request["personality"] == "Support for {{ nope }}"
    assert ava.problems == (graph.diagnostics[0].message,)
    assert ava.image is None and ava.producer is None
    assert desired_state(graph, {}, lambda ref: "")[("avatar", "ava")].problem == ava.problems[0]


def test_the_planner_puts_the_resource_part_on_the_plan(tmp_path: Path) -> None:
    graph = compiled(tmp_path, avatar("ava", "@hero[0]"))
    found = ResourcePlan("state (https://api.dev.runwayml.com)", live=False)
    assert plan(graph, CATALOG, PlanOptions(resources=found)).resources is found
    assert plan(graph, CATALOG).resources is None
    bare = compile_spec(
        parse_document(HEAD.split("documents:")[0], str(tmp_path / "bare.yaml")), CATALOG
    )
    assert bare.documents == {} and bare.avatars == {}
    assert plan(bare, CATALOG, PlanOptions(resources=found)).resources is None
    gone = ResourceChange("avatar", "old", "Old", "delete", remote_id="a1")
    left = ResourcePlan(found.source, live=False, changes=(gone,))
    assert plan(bare, CATALOG, PlanOptions(resources=left)).resources is left
