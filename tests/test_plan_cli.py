"""``runway-plan plan``, ``graph`` and ``diff`` as a user runs them; the live organization call."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner, Result

from runway_plan.cli import main, plan_state
from runway_plan.cli.plan_state import live_organization
from runway_plan.plan.live import API_VERSION, LiveError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
KEY = "key_" + "ab" * 64
SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI from the repository root (the examples' assets are relative to it)."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)


def _spec_name(path: Path) -> str:
    return f"specs/{path.name}"


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.name)
def test_plan_table_on_every_example(spec: Path) -> None:
    result = run("plan", _spec_name(spec))
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(spec.read_text())
    for name in data["steps"]:
        assert name in result.stdout
    assert "Total:" in result.stdout and "makespan" in result.stdout
    assert "catalog runwayml-" in result.stdout


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.name)
def test_plan_json_on_every_example(spec: Path) -> None:
    result = run("plan", _spec_name(spec), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "runway-plan/plan" and doc["version"] == 1
    assert set(doc) >= {
        "name",
        "source",
        "catalog",
        "limits",
        "total",
        "steps",
        "generations",
        "schedule",
        "budgets",
        "monthly_cap",
        "edges",
        "diagnostics",
    }
    steps = doc["steps"]
    low = sum(Decimal(s["credits"]["low"]) for s in steps)
    high = sum(Decimal(s["credits"]["high"]) for s in steps)
    assert (Decimal(doc["total"]["credits"]["low"]), Decimal(doc["total"]["credits"]["high"])) == (
        low,
        high,
    )
    for gen in doc["generations"]:
        assert gen["schedule"]["end_s"] >= gen["schedule"]["start_s"]
        if gen["unknown"]:
            assert gen["credits"] is None and gen["reasons"]
        else:
            assert Decimal(gen["usd"]["high"]) == Decimal(gen["credits"]["high"]) / 100
    assert doc["schedule"]["makespan_s"] >= doc["schedule"]["lower_bound_s"]
    assert len(doc["catalog"]["digest"]) == 64


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.name)
def test_plan_markdown_on_every_example(spec: Path) -> None:
    result = run("plan", _spec_name(spec), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("### ")
    assert "| Step | Model |" in result.stdout and "**Total**" in result.stdout


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.name)
def test_graph_mermaid_and_dot_on_every_example(spec: Path) -> None:
    mermaid = run("graph", _spec_name(spec))
    assert mermaid.exit_code == 0, mermaid.output
    assert mermaid.stdout.startswith("flowchart LR\n")
    dot = run("graph", _spec_name(spec), "--format", "dot")
    assert dot.exit_code == 0
    assert dot.stdout.startswith("digraph ") and dot.stdout.rstrip().endswith("}")
    data = yaml.safe_load(spec.read_text())
    for name in data["steps"]:
        assert f'"{name}"' in dot.stdout
        assert name in mermaid.stdout
    edges = sum(1 for line in dot.stdout.splitlines() if "->" in line)
    assert edges == sum(1 for line in mermaid.stdout.splitlines() if "-->" in line)


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.name)
def test_gantt_svg_and_html_parse(spec: Path, tmp_path: Path) -> None:
    svg = tmp_path / "gantt.svg"
    result = run("plan", _spec_name(spec), "--gantt", str(svg))
    assert result.exit_code == 0, result.output
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG}svg"
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    data = yaml.safe_load(spec.read_text())
    plan_json = json.loads(run("plan", _spec_name(spec), "--format", "json").stdout)
    assert len(bars) == len(plan_json["generations"])
    assert set(data["steps"]) <= {g["step"] for g in plan_json["generations"]}
    page = tmp_path / "gantt.html"
    assert run("plan", _spec_name(spec), "--gantt", str(page)).exit_code == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and "<svg" in text


def test_launch_figures() -> None:
    doc = json.loads(run("plan", "specs/launch.yaml", "--format", "json").stdout)
    steps = {s["name"]: s for s in doc["steps"]}
    assert steps["hero"]["credits"] == {"low": "8", "high": "8"}  # 1920:1080 is 1080p
    assert steps["shot"]["credits"] == {"low": "75", "high": "75"}  # 3 x 5 s x 5
    assert steps["voiceover"]["credits"] == {"low": "1", "high": "1"}  # 42 chars
    # 42 chars of speech at 4-25 characters a second: 1.6-10.5 s, dubbed per 2 s rounded up
    assert steps["dub_es"]["credits"] == {"low": "1", "high": "6"}
    assert steps["dub_es"]["unknown_generations"] == 0
    assert doc["total"]["credits"] == {"low": "85", "high": "90"}
    assert doc["total"]["unknown_models"] == []
    assert [d["code"] for d in doc["diagnostics"]] == ["RP404"]


def test_budget_from_the_command_line_fails_with_rp400() -> None:
    result = run("plan", "specs/launch.yaml", "--max-credits", "50")
    assert result.exit_code == 1
    assert "RP400" in result.stdout and "over --max-credits 50 by 40" in result.stdout


def test_a_budget_with_unpriced_generations_cannot_pass(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "specs" / "social-cutdowns.yaml").read_text())
    data.pop("prices")
    # Two models the catalog cannot price, in place of the example's aleph2 and sound effect.
    data["steps"]["restyle"] = {
        "endpoint": "video_to_video",
        "model": "kling_4",
        "videoUri": "@hero_clip",
        "promptText": "Repaint as a loose watercolour illustration",
    }
    data["steps"]["rain_bed"] |= {"model": "mirelo_sfx_2_0"}
    del data["steps"]["rain_bed"]["loop"]
    prices = {"kling_4": 200, "mirelo_sfx_2_0": 2}
    shutil.copytree(ROOT / "specs" / "assets", tmp_path / "assets")
    spec = tmp_path / "social.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    refused = run("plan", str(spec), "--format", "json")
    assert refused.exit_code == 1
    doc = json.loads(refused.stdout)
    assert doc["budgets"][0]["exceeded"] is False and doc["budgets"][0]["unpriced"] == 2
    [rp405] = [d for d in doc["diagnostics"] if d["code"] == "RP405"]
    assert (
        "2 generation(s) to make have no known price (kling_4, mirelo_sfx_2_0)"
        in (rp405["message"])
    )
    lines = spec.read_text().splitlines()
    assert "max_credits" in lines[rp405["line"] - 1]  # points at the budget
    assert "CANNOT BE CHECKED (2 unpriced)" in run("plan", str(spec)).stdout

    data["prices"] = prices
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    priced = run("plan", str(spec), "--format", "json")
    assert priced.exit_code == 0, priced.stdout
    assert json.loads(priced.stdout)["budgets"][0]["unpriced"] == 0


def test_budget_in_the_spec_fails_with_rp400(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "specs" / "storyboard.yaml").read_text())
    data["budget"] = {"max_credits": 500}
    spec = tmp_path / "storyboard.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = run("plan", str(spec), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["budgets"] == [
        {"source": "budget.max_credits", "max_credits": "500", "exceeded": True, "unpriced": 0}
    ]
    assert [d["code"] for d in doc["diagnostics"]] == ["RP400"]


def test_range_counts_by_its_high_end(tmp_path: Path) -> None:
    spec = tmp_path / "veo.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "veo",
                "steps": {
                    "v": {
                        "endpoint": "text_to_video",
                        "model": "veo3.1",
                        "promptText": "x",
                        "ratio": "1280:720",
                        "duration": 8,
                    }
                },
            }
        )
    )
    assert run("plan", str(spec), "--max-credits", "320").exit_code == 0
    over = run("plan", str(spec), "--max-credits", "200")
    assert over.exit_code == 1
    assert "up to 320 credits ($3.20) (the high end of its range)" in over.stdout
    assert "RP404" in over.stdout and "160-320" in over.stdout


def test_spec_with_errors_prints_diagnostics_and_no_plan(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "version: 1\nname: bad\nsteps:\n  a:\n    endpoint: text_to_video\n"
        "    model: gen4.5\n    promptText: x\n    ratio: '1280:720'\n"
        "    duration: 11\n"
    )
    result = run("plan", str(spec))
    assert result.exit_code == 1
    assert f"{spec}:9:15: RP208" in result.stdout
    assert "Total:" not in result.stdout


def test_deadline_and_tier_options() -> None:
    result = run("plan", "specs/storyboard.yaml", "--deadline", "2m40s", "--format", "json")
    assert result.exit_code == 0
    deadline = json.loads(result.stdout)["deadline"]
    assert deadline["deadline_s"] == 160
    assert deadline["cheapest_tier"] == 3
    table = run("plan", "specs/storyboard.yaml", "--deadline", "1h", "--tier", "1")
    assert "Deadline 1h 00m: cheapest tier that meets it: 1" in table.stdout
    assert "tier 1 limits" in table.stdout
    bad = run("plan", "specs/storyboard.yaml", "--deadline", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_latency_override_option() -> None:
    result = run(
        "plan", "specs/character-performance.yaml", "--latency", "act_two=5m", "--format", "json"
    )
    doc = json.loads(result.stdout)
    act = next(g for g in doc["generations"] if g["model"] == "act_two")
    assert act["latency_s"] == 300


# ---------------------------------------------------------------- diff


def test_diff_between_two_specs(tmp_path: Path) -> None:
    old = ROOT / "specs" / "launch.yaml"
    data = yaml.safe_load(old.read_text())
    data["vars"]["shots"].append("rooftop at night")
    data["steps"]["shot"]["model"] = "gen4.5"
    data["steps"]["shot"]["promptText"] = "{{ item }}"
    data["steps"]["shot"]["duration"] = 5
    del data["steps"]["dub_es"]
    data["steps"]["cover"] = {
        "endpoint": "text_to_image",
        "model": "gen4_image_turbo",
        "promptText": "cover",
        "ratio": "1280:720",
        "referenceImages": [{"uri": "@hero"}],
    }
    shutil.copytree(ROOT / "specs" / "assets", tmp_path / "assets")
    new = tmp_path / "launch.yaml"
    new.write_text(yaml.safe_dump(data, sort_keys=False))
    table = run("diff", "specs/launch.yaml", str(new))
    doc = json.loads(run("diff", "specs/launch.yaml", str(new), "--format", "json").stdout)
    markdown = run("diff", "specs/launch.yaml", str(new), "--format", "markdown")
    assert table.exit_code == 0, table.output
    status = {s["name"]: s["status"] for s in doc["steps"]}
    assert status == {
        "hero": "unchanged",
        "shot": "changed",
        "voiceover": "unchanged",
        "cover": "added",
        "dub_es": "removed",
    }
    shot = next(s for s in doc["steps"] if s["name"] == "shot")
    # 3 x 5 s x 5 = 75  ->  4 x 5 s x 12 = 240
    assert shot["delta"] == {"low": "165", "high": "165"}
    assert "model gen4_turbo → gen4.5" in shot["details"]
    # each end moves: +165 shot, +2 cover, and dub_es (1-6) removed
    assert doc["delta"]["credits"] == {"low": "166", "high": "161"}
    assert doc["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 2}
    assert "+165" in table.stdout and "85-90 → 251 credits (low +166, high +161" in table.stdout
    assert markdown.stdout.startswith("### 📈 runway-plan cost diff")


def _git(where: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=where,
        check=True,
        capture_output=True,
    )


def test_diff_against_a_git_ref(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    shutil.copytree(ROOT / "specs" / "assets", repo / "specs" / "assets")
    spec = repo / "specs" / "podcast.yaml"
    shutil.copy(ROOT / "specs" / "podcast-localization.yaml", spec)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    data = yaml.safe_load(spec.read_text())
    data["vars"]["languages"].append("it")
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.chdir(repo)
    result = run("diff", "HEAD:specs/podcast.yaml", "specs/podcast.yaml", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["old"]["source"] == "HEAD:specs/podcast.yaml"
    dub = next(s for s in doc["steps"] if s["name"] == "dub")
    assert dub["status"] == "changed"
    assert dub["delta"] == {"low": "6", "high": "7"}  # one more dub of 11.95-12.2 s, per 2 s
    monkeypatch.chdir(repo / "specs")
    relative = run("diff", "HEAD:./podcast.yaml", "podcast.yaml")
    assert relative.exit_code == 0, relative.output
    assert "28-32 → 34-39 credits" in relative.stdout
    missing = run("diff", "HEAD:nope.yaml", "podcast.yaml")
    assert missing.exit_code == 2 and "cannot read HEAD:nope.yaml" in missing.output


# ---------------------------------------------------------------- live


ORG = {
    "creditBalance": 5000,
    "tier": {
        "maxMonthlyCreditSpend": 10000,
        "models": {
            "gen4_image": {"maxConcurrentGenerations": 1, "maxDailyGenerations": 100},
            "gen4_turbo": {"maxConcurrentGenerations": 1, "maxDailyGenerations": 2},
        },
    },
    "usage": {"models": {"gen4_turbo": {"dailyGenerations": 1}}},
}


def _transport(
    seen: list[httpx.Request], status: int = 200, body: Any = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=ORG if body is None else body)

    return httpx.MockTransport(handler)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's waits between retries, recorded instead of slept."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(plan_state, "_sleep", sleep)
    return slept


def test_live_organization_sends_the_documented_request(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    seen: list[httpx.Request] = []
    monkeypatch.setattr(plan_state, "_transport", _transport(seen))
    org = live_organization(KEY)
    [request] = seen
    assert str(request.url) == "https://api.dev.runwayml.com/v1/organization"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["X-Runway-Version"] == API_VERSION == "2024-11-06"
    assert set(request.extensions["timeout"].values()) == {15.0}
    assert org.max_monthly_credit_spend == 10000 and org.credit_balance == 5000
    assert org.models["gen4_turbo"].max_daily == 2
    assert org.models["gen4_turbo"].used_today == 1
    live_organization(KEY, base_url="http://localhost:8123/")
    assert str(seen[-1].url) == "http://localhost:8123/v1/organization"
    assert waits == []


@pytest.mark.parametrize(
    ("status", "body", "message", "tries"),
    [
        (401, {"error": f"Invalid API key {KEY}"}, "answered 401: Invalid API key", 1),
        (500, {"error": "boom"}, "answered 500: boom", 6),
        (200, {"tier": {}}, "no tier.models", 1),
        (200, [], "not a JSON object", 1),
    ],
)
def test_live_organization_errors_never_show_the_key(
    monkeypatch: pytest.MonkeyPatch,
    waits: list[float],
    status: int,
    body: Any,
    message: str,
    tries: int,
) -> None:
    seen: list[httpx.Request] = []
    monkeypatch.setattr(plan_state, "_transport", _transport(seen, status, body))
    with pytest.raises(LiveError) as caught:
        live_organization(KEY)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)
    assert len(seen) == tries and len(waits) == tries - 1


def test_live_organization_is_retried_as_run_retries_it(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    answers = [httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200, json=ORG)]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    monkeypatch.setattr(plan_state, "_transport", httpx.MockTransport(handler))
    org = live_organization(KEY)
    assert org.credit_balance == 5000 and answers == []
    assert len(waits) == 1 and waits[0] >= 2.0


def test_live_organization_network_error(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused for {KEY}", request=request)

    monkeypatch.setattr(plan_state, "_transport", httpx.MockTransport(handler))
    with pytest.raises(LiveError) as caught:
        live_organization(KEY)
    assert "cannot reach https://api.dev.runwayml.com: refused for" in str(caught.value)
    assert KEY not in str(caught.value)
    assert len(waits) == 5


def test_live_without_a_key_is_a_usage_error() -> None:
    result = run("plan", "specs/launch.yaml", "--live")
    assert result.exit_code == 2
    assert "RUNWAYML_API_SECRET" in result.output


def test_live_limits_drive_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []
    monkeypatch.setattr(plan_state, "_transport", _transport(seen))
    result = run(
        "plan", "specs/launch.yaml", "--live", "--format", "json", env={"RUNWAYML_API_SECRET": KEY}
    )
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
    assert KEY not in result.output
    doc = json.loads(result.stdout)
    assert doc["limits"]["tier"] is None and "live" in doc["limits"]["description"]
    pools = {p["pool"]: p for p in doc["schedule"]["pools"]}
    # gen4_turbo: 3 clips, 1 slot, 2 a day of which 1 is used: the third waits a day.
    assert pools["gen4_turbo"]["max_concurrent"] == 1 and pools["gen4_turbo"]["used_today"] == 1
    assert pools["gen4_turbo"]["days"] == 2
    assert doc["schedule"]["days"] == 2
    assert doc["schedule"]["makespan_s"] >= 86400
    assert doc["monthly_cap"]["credits"] == "10000"
    assert any("lists no limits for eleven_multilingual_v2" in n for n in doc["notes"])
    assert "RP403" in [d["code"] for d in doc["diagnostics"]]


def test_live_with_a_base_url_that_is_not_http_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []
    monkeypatch.setattr(plan_state, "_transport", _transport(seen))
    env = {"RUNWAYML_API_SECRET": KEY}
    result = run("plan", "specs/launch.yaml", "--live", "--base-url", "ftp://x", env=env)
    assert result.exit_code == 2 and seen == []
    assert "'ftp://x' is not an http(s) URL" in result.output


def test_live_http_error_is_exit_2_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_state, "_transport", _transport([], 401, {"error": KEY}))
    result = run("plan", "specs/launch.yaml", "--live", env={"RUNWAYML_API_SECRET": KEY})
    assert result.exit_code == 2
    assert "answered 401" in result.output and KEY not in result.output


def test_library_calls_leave_the_garbage_collector_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from runway_plan.catalog import load_catalog
    from runway_plan.plan import plan
    from runway_plan.validate import check_file

    def refuse() -> None:
        raise AssertionError("a library call changed the process's garbage collector")

    catalog = load_catalog()
    monkeypatch.setattr(gc, "disable", refuse)
    monkeypatch.setattr(gc, "freeze", refuse)
    graph, diagnostics = check_file(ROOT / "specs" / "launch.yaml", catalog)
    assert not [d for d in diagnostics if d.is_error]
    assert plan(graph, catalog).total_high > 0
