"""``runway-plan report`` and ``run --report``: the HTML page of a run (or of a plan), read
back as HTML.  What a browser makes of the page is in ``test_html_report_browser.py``."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from support.execute import copy_specs
from support.html_report import (
    HOSTILE_NAME,
    HOSTILE_PROMPT,
    Element,
    credits,
    expected,
    failing_run,
    hostile_run,
    invoke,
    parse_html,
    read_page,
    report_path,
)

from runway_plan.html_report.charts import Bar, Lane, Node, dag_svg, lanes_svg


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """``launch.yaml`` run with ``run --emulate --report``: spec, page, manifest (read only)."""
    specs = copy_specs(tmp_path_factory.mktemp("emulated"))
    code, out, err = invoke(
        "run", str(specs / "launch.yaml"), "--emulate", "--speed", "500", "--report"
    )
    assert code == 0, out + err
    page = report_path(out)
    manifest = json.loads((page.parent / "manifest.json").read_text(encoding="utf-8"))
    return specs / "launch.yaml", page, manifest


def _target(page: Path, url: str) -> Path:
    """The file a relative link of the page at ``page`` points to."""
    return (page.parent / unquote(url)).resolve()


def _links(root: Element) -> list[str]:
    return [e.attrs[a] for e in root.iter() for a in ("href", "src") if a in e.attrs]


def test_run_report_shows_every_figure_and_output_of_the_manifest(
    emulated: tuple[Path, Path, dict],
) -> None:
    spec, page, manifest = emulated
    assert page == spec.parent / ".runway-plan/launch/emulated/runs/1/report.html"
    root = read_page(page)
    assert credits(root.one(id="total-planned").text()) == expected(manifest["planned"])
    assert credits(root.one(id="total-billed-this-run").text()) == expected(
        manifest["billedThisRun"]
    )
    for gen in manifest["generations"]:
        row = root.one("tr", data_key=gen["key"])
        assert credits(row.one("td", class_="planned").text()) == expected(gen["planned"])
        assert credits(row.one("td", class_="billed").text()) == expected(gen["billedCredits"])
        assert credits(row.one("td", class_="this-run").text()) == expected(gen["billedThisRun"])
        assert row.one("span", class_="badge").text() == gen["outcome"]
        details = root.one("details", data_key=gen["key"])
        request = gen["attempts"][-1]["request"]
        prompts = [b.text() for b in details.find_all("blockquote", class_="prompt")]
        assert prompts == ([request["promptText"]] if "promptText" in request else [])
        assert json.loads(details.one("pre", class_="request").text()) == request
        for output in gen["outputs"]:
            tile = root.one("figure", data_ref=output["ref"])
            tag = {"image": "img", "video": "video", "audio": "audio"}[output["mime"][:5]]
            media = tile.one(tag)
            assert _target(page, media.attrs["src"]) == Path(output["path"]).resolve()
            assert (
                _target(page, tile.one("a", class_="link").attrs["href"])
                == Path(output["path"]).resolve()
            )
            assert tile.one("code", class_="sha").text() == f"sha256 {output['sha256']}"
    sheet = root.one("section", data_step="shot").one("div", class_="sheet")
    assert "fan-out" in sheet.attrs["class"].split()
    assert len(sheet.find_all("video")) == 3
    dag = root.one("svg", class_="dag")
    assert {g.attrs["data-step"] for g in dag.find_all("g", class_="node")} == {
        "hero",
        "shot",
        "voiceover",
        "dub_es",
    }
    assert len(dag.find_all("path", class_="edge")) == 2
    made = len(manifest["generations"])
    assert len(root.one("svg", class_="gantt").find_all("rect", class_="bar")) == made
    assert len(root.one("svg", class_="timeline").find_all("rect", class_="bar")) == made


def test_the_page_needs_no_network_and_runs_no_script(emulated: tuple[Path, Path, dict]) -> None:
    _, page, _ = emulated
    root = read_page(page)
    policy = root.one("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert not root.find_all("script") and not root.find_all("link")
    for url in _links(root):
        assert url.startswith("#") or ("://" not in url and not url.startswith("//")), url
    assert "keep it where it was written" in root.one("footer").text()


def test_a_spec_never_run_reports_its_plan(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, out, err = invoke("report", str(spec))
    assert code == 0, out + err
    page = report_path(out)
    assert "report (plan)" in out
    assert page == spec.parent / ".runway-plan/launch/report.html"
    code, plan_out, _ = invoke("plan", str(spec), "--format", "json")
    plan = json.loads(plan_out)
    root = read_page(page)
    assert credits(root.one(id="total-planned").text()) == expected(plan["total"]["credits"])
    for gen in plan["generations"]:
        row = root.one("tr", data_key=gen["key"])
        assert credits(row.one("td", class_="planned").text()) == expected(gen["credits"])
    assert len(root.one("svg", class_="gantt").find_all("rect", class_="bar")) == len(
        plan["generations"]
    )
    assert not root.find_all("svg", class_="timeline")
    assert not root.find_all("figure")
    hero = root.one("details", data_key="hero")
    assert "Product photo of Aurora headphones" in hero.one("pre", class_="request").text()


def test_a_failed_generation_shows_its_failure_and_the_report_is_still_written(
    tmp_path: Path,
) -> None:
    _, page, manifest, code = failing_run(tmp_path)
    assert code == 1
    assert manifest["status"] != "finished" or any(
        g["outcome"] == "failed" for g in manifest["generations"]
    )
    root = read_page(page)
    row = root.one("tr", data_key="dub_es")
    assert row.one("span", class_="badge").text() == "failed"
    assert "SAFETY.INPUT.AUDIO" in row.one("td", class_="why").text()
    details = root.one("details", data_key="dub_es")
    assert "open" in details.attrs
    failure = details.one("td", class_="failure").text()
    assert failure == "SAFETY.INPUT.AUDIO: The input did not pass content moderation."
    node = root.one("svg", class_="dag").one("g", data_step="dub_es")
    assert node.one("circle").attrs["fill"] == "#dc2626"
    failed_bars = [
        bar
        for bar in root.one("svg", class_="timeline").find_all("rect", class_="bar")
        if bar.attrs.get("stroke") == "#d62728"
    ]
    assert len(failed_bars) == 1 and "dub_es" in failed_bars[0].text()
    assert not root.one("section", data_step="dub_es").find_all("figure")


def test_text_from_a_hostile_spec_is_only_text(tmp_path: Path) -> None:
    _, page = hostile_run(tmp_path)
    root = read_page(page)
    assert root.one("h1").text() == HOSTILE_NAME
    assert HOSTILE_NAME in root.one("head").one("title").text()
    assert root.one("details", data_key="hero").one("blockquote").text() == HOSTILE_PROMPT
    assert not root.find_all("script") and not root.find_all("iframe")
    assert len(root.find_all("img")) == 1  # the hero output; not the spec's <img src=x>
    for element in root.iter():
        assert not any(name.startswith("on") for name in element.attrs), element
    for url in _links(root):
        assert not url.strip().lower().startswith("javascript:"), url


def test_an_output_path_is_never_read_as_a_url(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500")
    assert code == 0, out + err
    run = spec.parent / ".runway-plan/launch/emulated/runs/1"
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    hero = manifest["generations"][0]["outputs"][0]
    sneaky = run / "javascript:alert(1).png"
    shutil.copyfile(hero["path"], sneaky)
    hero["path"] = str(sneaky)
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, out, err = invoke("report", str(spec), "--emulate")
    assert code == 0, out + err
    root = read_page(report_path(out))
    image = root.one("figure", data_ref=hero["ref"]).one("img")
    assert image.attrs["src"] == "javascript%3Aalert%281%29.png"
    assert _target(report_path(out), image.attrs["src"]) == sneaky


def test_a_missing_output_is_shown_from_the_store_or_said_missing(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500")
    assert code == 0, out + err
    state = spec.parent / ".runway-plan/launch/emulated"
    manifest = json.loads((state / "runs/1/manifest.json").read_text(encoding="utf-8"))
    hero = manifest["generations"][0]["outputs"][0]
    Path(hero["path"]).unlink()
    code, out, _ = invoke("report", str(spec), "--emulate")
    page = report_path(out)
    tile = read_page(page).one("figure", data_ref="@hero[0]")
    stored = state / "store/sha256" / hero["sha256"][:2] / hero["sha256"][2:]
    assert _target(page, tile.one("img").attrs["src"]) == stored.resolve()
    assert "is missing: the stored copy is shown" in tile.one("span", class_="note").text()
    stored.unlink()
    code, out, _ = invoke("report", str(spec), "--emulate")
    tile = read_page(report_path(out)).one("figure", data_ref="@hero[0]")
    assert not tile.find_all("img") and not tile.find_all("a")
    assert "missing" in tile.one("div", class_="missing").text()
    assert "the state's store has no copy" in tile.one("span", class_="note").text()


def test_a_manifest_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500")
    assert code == 0, out + err
    manifest = spec.parent / ".runway-plan/launch/emulated/runs/1/manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text("{", encoding="utf-8")
    code, out, err = invoke("report", str(spec), "--emulate")
    assert code == 2 and f"{manifest}: not JSON" in err and "Traceback" not in out + err
    del data["generations"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = invoke("report", str(spec), "--emulate")
    assert code == 2 and "not a run manifest: generations: Field required" in err


def test_output_replaces_only_a_report(tmp_path: Path, emulated: tuple[Path, Path, dict]) -> None:
    spec, _, _ = emulated
    mine = tmp_path / "notes.html"
    mine.write_text("my notes", encoding="utf-8")
    code, _, err = invoke("report", str(spec), "--emulate", "-o", str(mine))
    assert code == 2 and "is not a runway-plan report" in err
    assert mine.read_text(encoding="utf-8") == "my notes"
    link = tmp_path / "link.html"
    link.symlink_to(mine)
    code, _, err = invoke("report", str(spec), "--emulate", "-o", str(link))
    assert code == 2 and "symlink" in err and mine.read_text(encoding="utf-8") == "my notes"
    page = tmp_path / "run.html"
    for _ in range(2):  # the second time replaces the first report
        code, out, err = invoke("report", str(spec), "--emulate", "-o", str(page))
        assert code == 0 and report_path(out) == page, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.html", "notes.html", "run.html"]
    code, _, err = invoke("report", str(spec), "--emulate", "-o", str(tmp_path / "no/x.html"))
    assert code == 2 and "is not a folder" in err


def test_inline_embeds_the_media(tmp_path: Path, emulated: tuple[Path, Path, dict]) -> None:
    spec, _, manifest = emulated
    page = tmp_path / "shared.html"
    code, out, err = invoke("report", str(spec), "--emulate", "--inline", "-o", str(page))
    assert code == 0, out + err
    root = read_page(page)
    media = root.find_all("img") + root.find_all("video") + root.find_all("audio")
    outputs = [o for g in manifest["generations"] for o in g["outputs"]]
    assert len(media) == len(outputs)
    assert all(
        m.attrs["src"].startswith(("data:image/", "data:video/", "data:audio/")) for m in media
    )
    assert page.stat().st_size > sum(o["size"] for o in outputs)


def test_the_report_of_a_chosen_run_and_of_the_latest(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    for _ in range(2):
        code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500")
        assert code == 0, out + err
    runs = spec.parent / ".runway-plan/launch/emulated/runs"
    code, out, _ = invoke("report", str(spec), "--emulate")
    assert report_path(out) == runs / "2/report.html"
    root = read_page(runs / "2/report.html")
    assert {b.text() for b in root.find_all("span", class_="badge")} == {"reused"}
    assert not root.one("svg", class_="timeline").find_all("rect", class_="bar")
    code, out, _ = invoke("report", str(spec), "--emulate", "--run", "1")
    assert report_path(out) == runs / "1/report.html"
    code, _, err = invoke("report", str(spec), "--emulate", "--run", "3")
    assert code == 2 and "no manifest of run 3" in err


def test_a_shared_state_folder_reports_the_specs_own_run(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    shared = tmp_path / "shared-state"
    for name in ("launch.yaml", "storyboard.yaml"):
        code, out, err = invoke(
            "run", str(specs / name), "--emulate", "--speed", "500", "--state", str(shared)
        )
        assert code == 0, out + err
    code, out, _ = invoke("report", str(specs / "launch.yaml"), "--state", str(shared))
    assert report_path(out) == shared / "runs/1/report.html"
    assert read_page(shared / "runs/1/report.html").one("h1").text() == "aurora-launch"


def test_a_spec_changed_or_broken_since_its_run(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500")
    assert code == 0, out + err
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace("slow dolly-in", "slow pan"), encoding="utf-8")
    code, out, err = invoke("report", str(spec), "--emulate")
    assert code == 0 and "launch.yaml changed since run 1" in err
    notes = read_page(report_path(out)).one("section", class_="notes").text()
    assert "changed since run 1" in notes
    spec.write_text(text.replace('ratio: "1280:720"', 'ratio: "3:2"'), encoding="utf-8")
    code, out, err = invoke("report", str(spec), "--emulate")
    assert code == 0 and "has errors now" in err
    root = read_page(report_path(out))
    assert not root.find_all("svg", class_="dag")
    assert "RP207" in root.one("section", class_="diagnostics").text()
    assert len(root.find_all("tr", data_key="shot[0]")) == 1
    fresh = copy_specs(tmp_path / "fresh") / "launch.yaml"
    fresh.write_text(spec.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, err = invoke("report", str(fresh))
    assert code == 1 and "RP207" in err and "nothing to report" in err
    assert '|     ratio: "3:2"\n' in err and "^^^^^" in err  # the diagnostic's source frame
    assert not (fresh.parent / ".runway-plan").exists()


def test_run_report_with_json_output_keeps_standard_output_json(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    args = ("run", str(spec), "--emulate", "--speed", "500", "--report", "--format", "json")
    code, out, err = invoke(*args)
    assert code == 0, err
    assert json.loads(out)["run"] == 1
    assert report_path(err).is_file()


def test_a_refused_run_reports_what_it_would_have_made(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    args = ("run", str(spec), "--emulate", "--max-credits", "1", "--report")
    code, out, _ = invoke(*args)
    assert code == 1 and "refused" in out
    root = read_page(report_path(out))
    assert root.one(id="run-status").text() == "refused"
    assert "RP400" in root.one("section", class_="diagnostics").text()
    assert credits(root.one("tr", data_key="shot[0]").one("td", class_="planned").text()) == (
        expected("25")
    )
    assert len(root.one("svg", class_="gantt").find_all("rect", class_="bar")) == 6
    assert not (spec.parent / "outputs").exists()


def test_run_report_that_cannot_be_written_fails_a_run_that_succeeded(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    run = spec.parent / ".runway-plan/launch/emulated/runs/1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("not mine to replace", encoding="utf-8")
    code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500", "--report")
    assert code == 2 and "run 1 finished" in out
    assert "no report:" in err and "is not a runway-plan report" in err
    assert (run / "report.html").read_text(encoding="utf-8") == "not mine to replace"


def _boxes(svg: str) -> dict[str, float]:
    """The x of each step's box in a drawn graph."""
    return {
        g.attrs["data-step"]: float(g.find_all("rect")[0].attrs["x"])
        for g in parse_html(svg).find_all("g", class_="node")
    }


def test_the_graph_is_drawn_in_layers_by_longest_path() -> None:
    names = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d")]
    boxes = _boxes(dag_svg([Node(n, "m", "f", "#000000") for n in names], edges, "t"))
    assert boxes["a"] == boxes["e"] < boxes["b"] == boxes["c"] < boxes["d"]
    chain = [f"s{i}" for i in range(3000)]  # deeper than Python's recursion limit
    links = list(itertools.pairwise(chain))
    last_first = [Node(n, "m", "f", "#000000") for n in reversed(chain)]
    boxes = _boxes(dag_svg(last_first, links, "t"))
    assert [boxes[n] for n in chain] == sorted(boxes.values())
    assert len(set(boxes.values())) == len(chain)


def test_the_pictures_escape_their_text() -> None:
    text = "<script>alert(1)</script>"
    node = Node(text, text, text, "#000000", tip=text)
    bar = Bar(0, 5, text, "#000000", text)
    for svg in (
        dag_svg([node], [], text),
        lanes_svg(
            [Lane(text, [bar])],
            span=10,
            title=text,
            caption=text,
            legend={text: "#f00"},
            css_class="x",
        ),
    ):
        tree = parse_html(svg)
        assert not tree.find_all("script")
        assert text in tree.text()
