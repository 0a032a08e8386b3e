"""The shipped prices as data: provenance, coverage, confidence shown, and the rounding rule.

The per-model hand-computed figures are in ``tests/test_plan_cost.py``; here: every price has
a source, a date and a confidence, every model is priced or listed as unknown with a reason,
no shipped file cites a development note, a medium-confidence figure is marked in every
format, a low-confidence one stays unknown with the figure as a hint, and a fractional total
whose rounding is undocumented is the range [floor, ceil].
"""

from __future__ import annotations

import json
import re
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.cli import main
from runway_plan.plan import Plan, PlanOptions, plan
from runway_plan.plan.report import CONFIDENCE_LEGEND, render_markdown, render_text
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parents[1]
CATALOG_FILES = sorted((ROOT / "runway_plan" / "catalog").glob("*.yaml"))
DEVELOPMENT_CITATIONS = re.compile(r"reference §|shared/|/work/")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The packaged catalog."""
    return load_catalog()


def _plan(where: Path, catalog: Catalog, steps: dict[str, Any]) -> tuple[Plan, Path]:
    path = where / "spec.yaml"
    spec = {"version": 1, "name": "confidence", "steps": steps}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    graph, diagnostics = check_file(path, catalog)
    assert not [d for d in diagnostics if d.is_error], [d.message for d in diagnostics]
    return plan(graph, catalog, PlanOptions(tier=5)), path


def test_every_price_is_sourced_dated_and_rated(catalog: Catalog) -> None:
    for name, price in catalog.prices.models.items():
        for variant in (price, *price.endpoints.values()):
            assert len(variant.source.split()) >= 5, f"{name}: say where the figure comes from"
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", variant.checked), name
            assert variant.confidence in ("high", "medium", "low"), name


def test_every_model_is_priced_or_unknown_with_a_reason(catalog: Catalog) -> None:
    models = set(catalog.model_endpoints)
    priced = set(catalog.prices.models)
    unknown = catalog.prices.unknown
    assert models <= priced | set(unknown), sorted(models - priced - set(unknown))
    assert not priced & set(unknown), sorted(priced & set(unknown))
    assert all(len(why.split()) >= 5 for why in unknown.values())
    trusted = {m for m in models & priced if catalog.prices.models[m].confidence != "low"}
    assert len(trusted) >= 43, f"{len(trusted)} of {len(models)} models priced"


@pytest.mark.parametrize("path", CATALOG_FILES, ids=lambda p: p.name)
def test_shipped_catalog_cites_only_public_sources(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [m.group(0) for m in DEVELOPMENT_CITATIONS.finditer(text)]
    assert not found, f"{path.name} cites a development note: {found}"


def test_shipped_messages_and_docs_cite_only_public_sources() -> None:
    files = [
        p
        for p in (ROOT / "runway_plan").rglob("*")
        if p.suffix in (".py", ".md", ".j2", ".json", ".yaml", ".html", ".css", ".js")
    ]
    files += [p for p in (ROOT / "docs").rglob("*.md")]
    files += [ROOT / "README.md"]
    bad = [str(p.relative_to(ROOT)) for p in files if DEVELOPMENT_CITATIONS.search(p.read_text())]
    assert not bad, f"these cite a development note: {bad}"


def test_medium_confidence_is_marked_in_text_markdown_and_json(
    tmp_path: Path, catalog: Catalog
) -> None:
    steps = {
        # h3_max 768p is medium: 6 s x 8 = 48; gen4.5 is high: 5 s x 12 = 60.
        "sketch": {
            "endpoint": "text_to_video",
            "model": "h3_max",
            "promptText": "a paper boat",
            "resolution": "768p",
            "duration": 6,
        },
        "hero": {
            "endpoint": "text_to_video",
            "model": "gen4.5",
            "promptText": "a paper boat",
            "ratio": "1280:720",
            "duration": 5,
        },
    }
    result, path = _plan(tmp_path, catalog, steps)
    assert [s.confidence for s in result.steps] == ["medium", "high"]
    assert result.confidence == "medium"
    text = render_text(result)
    assert " ~48 " in text and " 60 " in text and "~108" in text
    assert CONFIDENCE_LEGEND in text
    markdown = render_markdown(result)
    assert "~48" in markdown and "**~108**" in markdown and "medium-confidence" in markdown
    out = CliRunner().invoke(main, ["plan", str(path), "--format", "json"])
    doc = json.loads(out.stdout)
    assert doc["total"]["confidence"] == "medium"
    assert [s["confidence"] for s in doc["steps"]] == ["medium", "high"]
    by_step = {g["step"]: g for g in doc["generations"]}
    assert by_step["sketch"]["confidence"] == "medium"
    assert by_step["hero"]["confidence"] == "high"
    assert "FE" in by_step["sketch"]["source"]


def test_an_all_high_plan_has_no_mark(tmp_path: Path, catalog: Catalog) -> None:
    steps = {
        "hero": {
            "endpoint": "text_to_video",
            "model": "gen4.5",
            "promptText": "a paper boat",
            "ratio": "1280:720",
            "duration": 5,
        }
    }
    result, _path = _plan(tmp_path, catalog, steps)
    assert result.confidence == "high"
    text = render_text(result)
    assert "~" not in text.split("\n\n")[1] and CONFIDENCE_LEGEND not in text


@pytest.mark.parametrize(
    ("step", "figure"),
    [
        (
            {
                "endpoint": "text_to_video",
                "model": "wan3_prime",
                "promptText": "x",
                "ratio": "1280:720",
                "duration": 5,
            },
            "6.8-28 credits per second of output",
        ),
        (
            {
                "endpoint": "video_upscale",
                "model": "enhance_frame_rate",
                "videoUri": "https://example.com/clip.mp4",
                "targetFramerate": "60",
            },
            "1 credits per second of input",
        ),
    ],
    ids=["wan3_prime", "enhance_frame_rate"],
)
def test_a_low_confidence_figure_is_a_hint_not_a_price(
    tmp_path: Path, catalog: Catalog, step: dict[str, Any], figure: str
) -> None:
    result, _path = _plan(tmp_path, catalog, {"s": step})
    [only] = result.steps
    assert only.unknown == 1 and result.unknown_models == [step["model"]]
    [reason] = only.reasons
    assert "low-confidence figure" in reason and figure in reason
    assert "give it with prices: to use it" in reason
    [rp401] = [d for d in result.diagnostics if d.code == "RP401"]
    assert "prices:" in (rp401.hint or "")


def test_a_spec_price_makes_a_low_confidence_model_usable(tmp_path: Path) -> None:
    spec = {
        "version": 1,
        "name": "trusted",
        "prices": {"wan3_prime": 70},
        "steps": {
            "s": {
                "endpoint": "text_to_video",
                "model": "wan3_prime",
                "promptText": "x",
                "ratio": "1280:720",
                "duration": 5,
            }
        },
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    graph, _diagnostics = check_file(path, load_catalog())
    result = plan(graph, load_catalog(), PlanOptions(tier=5))
    assert (result.total_low, result.total_high, result.unknown) == (70, 70, 0)


def test_act_two_on_a_fractional_reference_covers_every_rounding(
    tmp_path: Path, catalog: Catalog
) -> None:
    # 4.5 s x 5 credits = 22.5; the API bills whole credits and does not say how it rounds,
    # so floor (22), nearest (22 or 23) and ceil (23) are all covered: 22-23.
    reference = tmp_path / "ref.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=320x240:r=10",
            "-t", "4.5", "-pix_fmt", "yuv420p", str(reference),
        ],
        check=True,
    )  # fmt: skip
    step = {
        "endpoint": "character_performance",
        "model": "act_two",
        "character": {"type": "image", "uri": "https://example.com/still.png"},
        "reference": {"type": "video", "uri": "ref.mp4"},
    }
    result, _path = _plan(tmp_path, catalog, {"s": step})
    [only] = result.steps
    assert (only.low, only.high) == (Decimal(22), Decimal(23))
    assert any("22.5 credits is not whole" in r and "rounds" in r for r in only.reasons)
