"""The custom voices of ``specs/custom-voice.yaml`` as a user runs them, against an emulator
served on a loopback port: validate, plan, run, a re-run that does nothing, a changed field
shown as a diff and applied alone, a changed design that makes the voice again (and moves the
avatar to it), drift seen with ``--live`` and put back, and ``--prune``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from support.execute import KEY, copy_specs, emulator, served

from runway_plan.catalog import load_catalog
from runway_plan.cli import main
from runway_plan.validate import check_file

SPEED = "400"
HEADERS = {"X-Runway-Version": "2024-11-06"}


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"RUNWAYML_API_SECRET": KEY})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _run(spec: Path, base: list[str], *more: str) -> dict[str, Any]:
    code, out, err = _invoke("run", str(spec), *base, *more, "--format", "json")
    assert code == 0, out + err
    return dict(json.loads(out))


def _edit(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def _by_name(voices: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in voices.values()}


def test_custom_voice_spec_validates_and_compiles_its_edges(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "custom-voice.yaml"
    graph, diagnostics = check_file(spec, load_catalog())
    assert diagnostics == []
    assert graph is not None
    assert set(graph.voices) == {"presenter", "announcer"}
    presenter = graph.voices["presenter"]
    assert presenter.name == "Field Notes presenter"  # rendered
    assert presenter.producer == ("clean", 0)  # an edge from the generation
    assert graph.voices["announcer"].producer is None
    assert graph.avatars["host"].voice == "presenter"  # an edge from the voice


def test_custom_voice_lifecycle_on_a_served_emulator(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    spec = specs / "custom-voice.yaml"
    emu = emulator(tier=2)
    with served(emu) as url:
        base = ["--base-url", url, "--speed", SPEED, "--yes"]
        code, out, err = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0, out + err
        assert "3 to create" in out
        assert "from: audio @clean, known after the run" in out
        assert "voice: custom, id known after the run: voice 'presenter' to be created" in out

        first = _run(spec, base)
        assert {r["key"]: r["action"] for r in first["resources"]} == {
            "presenter": "created",
            "announcer": "created",
            "host": "created",
        }
        assert {r["key"]: r["status"] for r in first["resources"]} == {
            "presenter": "READY",
            "announcer": "READY",
            "host": "READY",
        }
        voices = _by_name(emu.voices())
        presenter_id = voices["Field Notes presenter"]["id"]
        avatar = next(iter(emu.avatars().values()))
        assert avatar["voice"]["type"] == "custom" and avatar["voice"]["id"] == presenter_id

        again = _run(spec, base)
        assert {r["action"] for r in again["resources"]} == {"unchanged"}
        writes = {k: v for k, v in again["requests"].items() if k != "resource_get"}
        assert writes == {}  # no API writes at all (only the refresh's reads)

        # A changed description: shown as a field diff, sent alone as a PATCH.
        _edit(spec, "Cloned from the presenter's cleaned interview.", "The presenter, cloned.")
        code, out, _ = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0
        assert "~ voice   presenter" in out
        assert 'description: "Cloned from the presenter\'s cleaned interview." → ' in out
        assert "0 to create, 1 to update, 2 unchanged" in out
        third = _run(spec, base)
        updated = {r["key"]: r["fields"] for r in third["resources"] if r["action"] == "updated"}
        assert updated == {"presenter": ["description"]}
        assert third["requests"].get("resource_update") == 1
        assert emu.voices()[presenter_id]["description"] == "The presenter, cloned."

        # A changed design cannot be PATCHed: the voice is made again and the avatar follows.
        _edit(
            spec,
            'from: {type: audio, audio: "@clean"}',
            "from: {type: text, model: eleven_ttv_v3, prompt: 'A calm and precise presenter with a "
            "low voice'}",
        )
        code, out, _ = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0
        assert "the API cannot change it: the voice is made again" in out
        assert "voice 'presenter' is made again first" in out
        fourth = _run(spec, base)
        actions = {r["key"]: r["action"] for r in fourth["resources"]}
        assert actions == {"presenter": "created", "announcer": "unchanged", "host": "updated"}
        voices = _by_name(emu.voices())
        assert len(voices) == 2 and presenter_id not in emu.voices()
        new_id = voices["Field Notes presenter"]["id"]
        assert next(iter(emu.avatars().values()))["voice"]["id"] == new_id

        # Drift: renamed remotely, seen with --live, put back by run; deleted, made again.
        announcer_id = voices["Field Notes announcer"]["id"]
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
            renamed = http.patch(
                f"/v1/voices/{announcer_id}", json={"name": "Renamed"}, headers=HEADERS
            )
            assert renamed.status_code == 200
        code, out, _ = _invoke("plan", str(spec), "--base-url", url, "--live", "--format", "json")
        live = json.loads(out)
        drift = {i["key"]: i["drift"] for i in live["resources"]["items"]}
        assert drift["announcer"] == ["changed remotely: name"]
        code, out, err = _invoke("run", str(spec), *base)
        assert code == 0, out + err
        assert "RP515" in out + err
        assert emu.voices()[announcer_id]["name"] == "Field Notes announcer"

        # Gone from the spec: left in place without --prune, deleted with it.
        _edit(
            spec,
            '  announcer:\n    name: "{{ show }} announcer"\n    from:\n      type: text\n'
            "      model: eleven_ttv_v3\n      prompt: A bright, energetic radio announcer with a "
            "clear mid-range voice and quick pace\n",
            "",
        )
        code, out, err = _invoke("run", str(spec), *base)
        assert code == 0 and "RP513" in out + err and announcer_id in emu.voices()
        code, out, err = _invoke("run", str(spec), *base, "--prune")
        assert code == 0, out + err
        assert announcer_id not in emu.voices() and len(emu.voices()) == 1
    emu.close()
