"""Lengths along edges are ranges (the catalog's output-length tolerance), and a generation is
re-priced exactly once the lengths of its inputs are measured."""

from __future__ import annotations

import dataclasses
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.media import silent_wav

from runway_plan.catalog import Catalog, load_catalog
from runway_plan.catalog.model import LengthTolerance
from runway_plan.compile import Graph
from runway_plan.plan import plan
from runway_plan.plan.cost import Pricer
from runway_plan.validate import check_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The packaged catalog."""
    return load_catalog()


def _graph(where: Path, catalog: Catalog, steps: dict[str, Any]) -> Graph:
    path = where / "spec.yaml"
    spec = {"version": 1, "name": "bounds", "steps": steps}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    graph, diagnostics = check_file(path, catalog)
    errors = [d for d in diagnostics if d.is_error and d.code != "RP203"]  # retired: priced
    assert graph is not None and not errors, errors
    return graph


def _without_tolerance(catalog: Catalog) -> Catalog:
    overlay = catalog.overlay.model_copy(update={"output_length_tolerance": {}})
    return dataclasses.replace(catalog, overlay=overlay)


ISOLATE_THEN_DUB = {
    "clean": {
        "endpoint": "voice_isolation",
        "model": "eleven_voice_isolation",
        "audioUri": "a12.wav",
    },
    "dub": {
        "endpoint": "voice_dubbing",
        "model": "eleven_voice_dubbing",
        "audioUri": "@clean",
        "targetLang": "es",
    },
}


def test_the_shipped_podcast_plans_a_range_that_covers_padded_audio(
    tmp_path: Path, catalog: Catalog
) -> None:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    graph, diagnostics = check_file(tmp_path / "specs" / "podcast-localization.yaml", catalog)
    assert graph is not None and not [d for d in diagnostics if d.is_error]
    result = plan(graph, catalog)
    # clean 12 s / 6 = 2; narrator 6 s / 3 = 2; four dubs of the 12 s isolated audio, which
    # arrives 11.95-12.2 s long (the emulator's MP3 of it is 12.024 s): 6-7 blocks of 2 s each.
    assert (result.run_low, result.run_high) == (Decimal(28), Decimal(32))
    dub = next(step for step in result.steps if step.name == "dub")
    assert (dub.low, dub.high) == (Decimal(24), Decimal(28))
    widened = "a delivered audio file may run 0.05 s shorter or 0.2 s longer"
    assert any(widened in reason for reason in dub.reasons)


def test_local_files_stay_exact_and_edges_take_the_catalogs_tolerance(
    tmp_path: Path, catalog: Catalog
) -> None:
    silent_wav(tmp_path / "a12.wav", 12.0)
    graph = _graph(tmp_path, catalog, ISOLATE_THEN_DUB)
    pricer = Pricer(graph, catalog)
    clean = pricer.price(graph.generations["clean"])
    assert (clean.low, clean.high, clean.quantity_low) == (2, 2, 12)  # measured: exact
    dub = pricer.price(graph.generations["dub"])
    assert (dub.quantity_low, dub.quantity_high) == (Decimal("11.95"), Decimal("12.2"))
    assert (dub.low, dub.high) == (6, 7)

    exact = _without_tolerance(catalog)
    dub = Pricer(graph, exact).price(graph.generations["dub"])
    assert (dub.low, dub.high) == (6, 6)

    tight = LengthTolerance(below=0, above=0.5, source="a test")
    model = catalog.model_overlay("eleven_voice_isolation").model_copy(
        update={"output_length_tolerance": tight}
    )
    own = dataclasses.replace(
        exact,
        overlay=exact.overlay.model_copy(
            update={"models": {**exact.overlay.models, "eleven_voice_isolation": model}}
        ),
    )
    dub = Pricer(graph, own).price(graph.generations["dub"])
    assert (dub.quantity_low, dub.quantity_high, dub.low, dub.high) == (12, Decimal("12.5"), 6, 7)


CLIP_THEN_RESTYLE: dict[str, Any] = {
    "clip": {
        "endpoint": "text_to_video",
        "model": "gen4.5",
        "promptText": "x",
        "ratio": "1280:720",
        "duration": 5,
    },
    "restyle": {
        "endpoint": "video_to_video",
        "model": "gen4_aleph",
        "videoUri": "@clip",
        "promptText": "y",
    },
}


def test_a_kept_length_widens_at_every_hop(tmp_path: Path, catalog: Catalog) -> None:
    steps = {
        **CLIP_THEN_RESTYLE,
        "voice": {
            "endpoint": "speech_to_speech",
            "model": "eleven_multilingual_sts_v2",
            "media": {"type": "video", "uri": "@restyle"},
            "voice": {"type": "runway-preset", "presetId": "Maya"},
        },
    }
    graph = _graph(tmp_path, catalog, steps)
    pricer = Pricer(graph, catalog)
    restyle = pricer.price(graph.generations["restyle"])
    assert (restyle.quantity_low, restyle.quantity_high) == (Decimal("4.9"), Decimal("5.25"))
    voice = pricer.price(graph.generations["voice"])
    # two hops of video: 5 - 0.1 - 0.1 .. 5 + 0.25 + 0.25, per 3 s rounded up
    assert (voice.quantity_low, voice.quantity_high) == (Decimal("4.8"), Decimal("5.5"))
    assert (voice.low, voice.high) == (2, 2)


def test_reprice_uses_the_measured_length_of_each_input(tmp_path: Path, catalog: Catalog) -> None:
    silent_wav(tmp_path / "a12.wav", 12.0)
    graph = _graph(tmp_path, catalog, ISOLATE_THEN_DUB)
    pricer = Pricer(graph, catalog)
    dub = graph.generations["dub"]
    planned = pricer.price(dub)
    for seconds, blocks in ((12.024, 7), (12.0, 6), (11.97, 6), (14.5, 8)):
        cost = pricer.reprice(dub, {("audioUri",): seconds})
        assert (cost.low, cost.high) == (blocks, blocks), seconds
        assert cost.quantity_low == Decimal(str(seconds)).normalize()
        assert any("measured" in r for r in cost.reasons) or cost.low == cost.high
    assert pricer.price(dub) == planned  # repricing leaves the plan's figures alone
    unmeasured = pricer.reprice(dub, {})
    assert (unmeasured.low, unmeasured.high) == (planned.low, planned.high)


def test_reprice_of_a_kept_length_model(tmp_path: Path, catalog: Catalog) -> None:
    steps = CLIP_THEN_RESTYLE
    graph = _graph(tmp_path, catalog, steps)
    cost = Pricer(graph, catalog).reprice(graph.generations["restyle"], {("videoUri",): 5.0417})
    # 5.0417 s x 15 = 75.6255 credits; how the API rounds it is not documented: 75-76
    assert (cost.low, cost.high) == (75, 76)
