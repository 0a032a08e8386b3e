"""The run's budget (``budget.max_credits``, ``--max-credits``) is never exceeded: each create
is re-priced from the measured lengths of its inputs and checked against what is committed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import support.execute
from support.execute import Harness, copy_specs, emulator, graph_of, write_spec

from runway_plan.catalog import Catalog
from runway_plan.execute import Execution


def _exact(catalog: Catalog) -> Catalog:
    """The catalog without output-length tolerance: the planner then trusts nominal lengths,
    as it did before, so only the run-time re-pricing stands between the run and the bill."""
    overlay = catalog.overlay.model_copy(update={"output_length_tolerance": {}})
    return dataclasses.replace(catalog, overlay=overlay)


def _harness(tmp_path: Path) -> Harness:
    return Harness(emulator(), tmp_path / "state", tmp_path / "outputs")


def _codes(result: Any) -> list[str]:
    return [d.code for d in result.diagnostics]


# Plans 18 exactly when lengths are taken as nominal: isolation of a 12 s WAV (2), two dubs of
# its 12 s output (6 + 6), speech-to-speech of the 12 s WAV (4).  The emulator's isolated
# audio is an MP3 of 12.024 s, so each dub bills 7: 20 in all.
HIGH_18 = """\
version: 1
name: high-18
steps:
  clean:
    endpoint: voice_isolation
    model: eleven_voice_isolation
    audioUri: assets/interview.wav
  dub:
    for_each: [es, fr]
    endpoint: voice_dubbing
    model: eleven_voice_dubbing
    audioUri: "@clean"
    targetLang: "{{ item }}"
  narrator:
    endpoint: speech_to_speech
    model: eleven_multilingual_sts_v2
    media: {type: audio, uri: assets/interview.wav}
    voice: {type: runway-preset, presetId: Bernard}
"""


def test_max_credits_18_is_never_exceeded_when_the_plan_trusts_nominal_lengths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(support.execute, "CATALOG", _exact(support.execute.CATALOG))
    h = _harness(tmp_path)
    result = h.run(graph_of(write_spec(tmp_path / "spec", HIGH_18)), max_credits=Decimal(18))
    assert result.plan is not None and result.plan.run_high == 18  # the plan says it fits
    billed = h.emu.ledger().billed_credits()
    assert billed <= 18 and result.billed_this_run == billed
    assert "RP509" in _codes(result) and result.exit_code == 1
    stopped = next(d for d in result.diagnostics if d.code == "RP509")
    assert "re-priced from the measured length of its inputs" in stopped.message
    assert "with 13 credits billed or committed, its 7 (" in stopped.message
    assert any(e.kind == "note" and "stopping: the budget of 18" in e.message for e in h.events)
    assert len(h.emu.ledger().for_model("eleven_voice_dubbing")) == 1


def test_max_credits_18_the_plan_now_refuses(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    result = h.run(graph_of(write_spec(tmp_path / "spec", HIGH_18)), max_credits=Decimal(18))
    assert result.plan is not None and (result.plan.run_low, result.plan.run_high) == (18, 20)
    assert "RP400" in _codes(result) and result.exit_code == 1
    assert len(h.emu.ledger()) == 0


def _podcast_with_budget(tmp_path: Path, credits: int) -> Path:
    path = copy_specs(tmp_path) / "podcast-localization.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("tier: 2\n", f"tier: 2\nbudget: {{max_credits: {credits}}}\n"))
    return path


def test_podcast_budget_30_is_refused_by_the_plan(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    result = h.run(graph_of(_podcast_with_budget(tmp_path, 30)))
    assert result.plan is not None and (result.plan.run_low, result.plan.run_high) == (28, 32)
    assert "RP400" in _codes(result) and len(h.emu.ledger()) == 0


def test_podcast_budget_30_stops_the_run_before_the_bill_passes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(support.execute, "CATALOG", _exact(support.execute.CATALOG))
    h = _harness(tmp_path)
    result = h.run(graph_of(_podcast_with_budget(tmp_path, 30)))
    assert result.plan is not None and result.plan.run_high == 28  # nominal: "within"
    assert "RP509" in _codes(result) and result.exit_code == 1
    ledger = h.emu.ledger()
    assert ledger.billed_credits() <= 30
    # clean 2 + narrator 2 + three dubs of 7: a fourth dub (7 more) could pass 30
    assert len(ledger.for_model("eleven_voice_dubbing")) == 3 and ledger.billed_credits() == 25


def test_podcast_runs_whole_within_its_planned_high_end(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    result = h.run(graph_of(_podcast_with_budget(tmp_path, 32)))
    assert result.exit_code == 0, result.diagnostics
    assert h.emu.ledger().billed_credits() == 32


CONCURRENT = """\
version: 1
name: concurrent
tier: 5
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "A lighthouse at dawn"
    ratio: "1280:720"
  shot:
    for_each: [a, b, c]
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@hero"
    promptText: "{{ item }}"
    ratio: "1280:720"
    duration: 5
"""


def test_creates_sent_together_cannot_all_pass_the_same_budget_check(tmp_path: Path) -> None:
    h = _harness(tmp_path)

    def squeeze(execution: Execution) -> None:
        preflight = execution._preflight

        async def squeezed() -> Any:
            refused = await preflight()
            execution.spending.limit = Decimal(55)  # the image (5) and two shots of 25
            return refused

        execution._preflight = squeezed  # type: ignore[method-assign]

    result = h.run(graph_of(write_spec(tmp_path / "spec", CONCURRENT)), on_start=squeeze)
    assert "RP509" in _codes(result) and result.exit_code == 1
    assert len(h.emu.ledger().for_model("gen4_turbo")) == 2
    assert h.emu.ledger().billed_credits() == 55
