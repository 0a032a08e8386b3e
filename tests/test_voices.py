"""The custom voices of ``specs/custom-voice.yaml`` as a user runs them, against an emulator
served on a loopback port: validate, plan, run, a re-run that does nothing, a changed field
shown as a diff and applied alone, a changed design that makes the voice again (and moves the
avatar to it), drift seen with ``--live`` and put back, and ``--prune``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from support.execute import KEY, Harness, copy_specs, emulator, graph_of, served, write_spec

from runway_plan.catalog import load_catalog
from runway_plan.cli import main
from runway_plan.emulator import Emulator, EmulatorConfig, Fault, FaultPlan, FaultRule
from runway_plan.execute.fingerprint import Fingerprinter, OutputRef
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
    assert graph.voice_uses == {"intro": [(("speech", "voice"), "presenter")]}
    assert ("clean", "intro") in graph.edges  # the video waits for the voice's sample


def test_custom_voice_lifecycle_on_a_served_emulator(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    spec = specs / "custom-voice.yaml"
    emu = emulator(tier=2)
    with served(emu) as url:
        base = ["--base-url", url, "--speed", SPEED, "--yes"]
        code, out, err = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0, out + err
        assert "4 to create" in out
        assert "from: audio @clean, known after the run" in out
        assert "voice: custom, id known after the run: voice 'presenter' to be created" in out

        first = _run(spec, base)
        assert {r["key"]: r["action"] for r in first["resources"]} == {
            "episodes": "created",
            "presenter": "created",
            "announcer": "created",
            "host": "created",
        }
        assert {r["key"]: r["status"] for r in first["resources"] if r["kind"] != "document"} == {
            "presenter": "READY",
            "announcer": "READY",
            "host": "READY",
        }
        voices = _by_name(emu.voices())
        presenter_id = voices["Field Notes presenter"]["id"]
        avatar = next(iter(emu.avatars().values()))
        assert avatar["voice"]["type"] == "custom" and avatar["voice"]["id"] == presenter_id
        (db,) = (spec.parent / ".runway-plan").rglob("state.db")
        with sqlite3.connect(db) as con:
            sent = [json.loads(r[0]) for r in con.execute("SELECT request FROM attempts")]
        (video,) = [r for r in sent if r.get("model") == "gwm1_avatars"]
        assert video["speech"]["voice"] == {"type": "custom", "id": presenter_id}
        assert video["avatar"] == {"type": "custom", "avatarId": avatar["id"]}

        again = _run(spec, base)
        assert {r["action"] for r in again["resources"]} == {"unchanged"}
        writes = {k: v for k, v in again["requests"].items() if k != "resource_get"}
        assert writes == {}  # no API writes at all (only the refresh's reads)

        # A changed description: shown as a field diff, sent alone as a PATCH.
        _edit(spec, "Cloned from the presenter's cleaned interview.", "The presenter, cloned.")
        code, out, _ = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0
        changed = [line.split()[:3] for line in out.splitlines() if line.startswith("  ~ ")]
        assert changed == [["~", "voice", "presenter"]]
        assert 'description: "Cloned from the presenter\'s cleaned interview." → ' in out
        assert "0 to create, 1 to update, 3 unchanged" in out
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
        assert actions == {
            "episodes": "unchanged",
            "presenter": "created",
            "announcer": "unchanged",
            "host": "updated",
        }
        voices = _by_name(emu.voices())
        assert len(voices) == 2 and presenter_id not in emu.voices()
        new_id = voices["Field Notes presenter"]["id"]
        assert next(iter(emu.avatars().values()))["voice"]["id"] == new_id
        remade = {g["key"]: g["outcome"] for g in fourth["generations"]}
        assert remade["intro"] == "generated"  # its voice is a new one: the video is made again

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


def _catalog_taking_custom_voices(directory: Path) -> Path:
    """A copy of the packaged catalog in which text_to_speech's eleven_multilingual_v2 takes a
    custom voice too (``{type: custom, id}``), as avatar_videos' speech does in runwayml 5.24.0:
    a step field that takes one, for the generation side of ``voice: "@name"``."""
    source = Path(load_catalog().origin)
    directory.mkdir()
    for item in source.iterdir():
        if item.suffix in (".json", ".yaml"):
            (directory / item.name).write_bytes(item.read_bytes())
    constraints = directory / "constraints.json"
    data = json.loads(constraints.read_text())
    field = data["endpoints"]["text_to_speech"]["models"]["eleven_multilingual_v2"]["fields"]
    custom = {
        "kind": "object",
        "name": "VoiceCustom",
        "fields": {
            "id": {"required": True, "type": {"kind": "string"}},
            "type": {"required": True, "type": {"kind": "enum", "values": ["custom"]}},
        },
    }
    field["voice"]["type"] = {"kind": "union", "variants": [field["voice"]["type"], custom]}
    constraints.write_text(json.dumps(data))
    return directory


def test_a_step_field_taking_a_custom_voice_is_sent_the_voice_id(tmp_path: Path) -> None:
    catalog_dir = _catalog_taking_custom_voices(tmp_path / "catalog")
    spec = tmp_path / "speech.yaml"
    (tmp_path / "assets").mkdir()
    sample = Path(__file__).parent.parent / "specs" / "assets" / "interview.wav"
    (tmp_path / "assets" / "interview.wav").write_bytes(sample.read_bytes())
    spec.write_text(
        "version: 1\nname: speech\n"
        "voices:\n  presenter:\n    name: Presenter\n"
        "    from: {type: audio, audio: assets/interview.wav}\n"
        "steps:\n  line:\n    endpoint: text_to_speech\n    model: eleven_multilingual_v2\n"
        '    promptText: Welcome back to Field Notes.\n    voice: "@presenter"\n'
    )
    code, out, err = _invoke("validate", str(spec), "--catalog", str(catalog_dir))
    assert code == 0, out + err
    code, out, err = _invoke("validate", str(spec))  # the real SDK: presets only
    assert code == 1 and "RP304" in out and "takes no custom voice" in out

    config = EmulatorConfig(api_key=KEY, speed=float(SPEED), credits=1_000_000, tier=2)
    emu = Emulator(config, catalog=load_catalog(catalog_dir))
    with served(emu) as url:
        base = ["--base-url", url, "--speed", SPEED, "--yes", "--catalog", str(catalog_dir)]
        first = _run(spec, base)
        assert [r["action"] for r in first["resources"]] == ["created"]
        assert len(emu.ledger()) == 1
        voice_id = next(iter(emu.voices()))
        (db,) = (tmp_path / ".runway-plan").rglob("state.db")
        with sqlite3.connect(db) as con:
            (sent,) = [json.loads(r[0]) for r in con.execute("SELECT request FROM attempts")]
        assert sent["voice"] == {"type": "custom", "id": voice_id}
        again = _run(spec, base)
        assert [r["action"] for r in again["resources"]] == ["unchanged"]
        assert len(emu.ledger()) == 1  # the speech is reused

        # The emulator refuses a task naming a voice the account does not have.
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
            refused = http.post(
                "/v1/text_to_speech",
                json={
                    "model": "eleven_multilingual_v2",
                    "promptText": "Hello.",
                    "voice": {"type": "custom", "id": "00000000-0000-4000-8000-000000000000"},
                },
                headers=HEADERS,
            )
        assert refused.status_code == 400
        assert refused.json()["issues"][0]["path"] == ["voice", "id"]
    emu.close()


def test_a_voice_cloned_from_a_step_that_speaks_with_it_is_a_cycle(tmp_path: Path) -> None:
    catalog_dir = _catalog_taking_custom_voices(tmp_path / "catalog")
    spec = tmp_path / "loop.yaml"
    spec.write_text(
        "version: 1\nname: loop\n"
        'voices:\n  echo:\n    name: Echo\n    from: {type: audio, audio: "@line"}\n'
        "steps:\n  line:\n    endpoint: text_to_speech\n    model: eleven_multilingual_v2\n"
        "    promptText: A line long enough to make a sample of about ten seconds or so, "
        "said slowly and clearly by the speaker of this very line.\n"
        '    voice: "@echo"\n'
    )
    code, out, _ = _invoke("validate", str(spec), "--catalog", str(catalog_dir))
    assert code == 1
    assert "RP301 voice 'echo' is cloned from 'line', which needs the voice itself" in out


VOICE_SPEC = """\
version: 1
name: studio
voices:
  narrator:
    name: Narrator
    from: {type: audio, audio: assets/interview.wav}
avatars:
  host:
    name: Host
    personality: Friendly
    referenceImage: assets/founder.png
    voice: "@narrator"
"""


def test_a_failed_voice_is_reported_and_skips_the_avatar_naming_it(tmp_path: Path) -> None:
    reason = "The sample has more than one speaker."
    faults = FaultPlan(
        rules=[FaultRule(Fault.AVATAR_FAILED, on="voice", nth=(1,), failure_reason=reason)]
    )
    h = Harness(emulator(faults=faults), tmp_path / "state", tmp_path / "outputs")
    spec = write_spec(tmp_path / "project", VOICE_SPEC)
    result = h.run(graph_of(spec))
    assert result.exit_code == 1
    failed = [d.message for d in result.diagnostics if d.code == "RP512"]
    assert failed and reason in failed[0] and failed[0].startswith("voice 'narrator'")
    skipped = [d.message for d in result.diagnostics if d.code == "RP503"]
    assert skipped == ["avatar 'host' was skipped: its voice 'narrator' is not in place"]
    assert {(r.kind, r.status) for r in result.resources} == {("voice", "FAILED"), ("avatar", None)}
    assert h.emu.avatars() == {}
    posts = [
        json.loads(r.content)
        for r in h.requests
        if r.method == "POST" and r.url.path == "/v1/voices"
    ]
    assert len(posts) == 1 and set(posts[0]) == {"name", "from"}  # no description: not sent
    assert posts[0]["from"]["type"] == "audio"
    assert posts[0]["from"]["audio"].startswith(("runway://", "data:audio/"))
    failed_id = next(iter(h.emu.voices()))
    retried = h.run(graph_of(spec), retry_failed=True)  # the fault fired once: READY this time
    assert retried.exit_code == 0, retried.diagnostics
    assert {f"{r.kind}:{r.key}": r.action for r in retried.resources} == {
        "voice:narrator": "created",
        "avatar:host": "created",
    }
    assert failed_id not in h.emu.voices() and len(h.emu.voices()) == 1


def test_a_lost_voice_create_answer_is_found_by_name_not_created_twice(tmp_path: Path) -> None:
    faults = FaultPlan(rules=[FaultRule(Fault.LOST_RESPONSE, on="voice", nth=(1,))])
    h = Harness(emulator(faults=faults), tmp_path / "state", tmp_path / "outputs")
    spec = write_spec(tmp_path / "project", VOICE_SPEC)
    result = h.run(graph_of(spec))
    assert result.exit_code == 0, result.diagnostics
    assert {f"{r.kind}:{r.key}": r.action for r in result.resources} == {
        "voice:narrator": "adopted",
        "avatar:host": "created",
    }
    assert len(h.emu.voices()) == 1
    voice_id = next(iter(h.emu.voices()))
    assert next(iter(h.emu.avatars().values()))["voice"]["id"] == voice_id
    posts = [r for r in h.requests if r.method == "POST" and r.url.path == "/v1/voices"]
    assert len(posts) == 1  # sent once, adopted from the list


def test_a_video_speaking_with_a_cloned_voice_is_fingerprinted_by_the_sample(
    tmp_path: Path,
) -> None:
    graph = graph_of(copy_specs(tmp_path) / "custom-voice.yaml")
    fingerprinter = Fingerprinter(graph, "http://emulator")
    sample = OutputRef("clean", 0)
    assert sample in fingerprinter.upstream("intro")
    one = fingerprinter.fingerprint("intro", {sample: "a" * 64})
    assert one == fingerprinter.fingerprint("intro", {sample: "a" * 64})
    assert one != fingerprinter.fingerprint("intro", {sample: "b" * 64})  # a new voice
    document = fingerprinter.document("intro", {sample: "a" * 64})
    assert document["request"]["speech"]["voice"] == {
        "$voice": {"type": "audio", "audio": {"$sha256": "a" * 64}}
    }


def test_an_avatar_video_of_an_avatar_with_a_cloned_voice_follows_the_voice(
    tmp_path: Path,
) -> None:
    spec = copy_specs(tmp_path) / "custom-voice.yaml"
    _edit(spec, '      voice: "@presenter"\n', "")  # the video speaks in the avatar's voice
    graph = graph_of(spec)
    fingerprinter = Fingerprinter(graph, "http://emulator")
    sample = OutputRef("clean", 0)
    assert graph.voice_uses == {}
    assert ("clean", "intro") in graph.edges  # the sample is made before the video
    assert sample in fingerprinter.upstream("intro")
    one = fingerprinter.fingerprint("intro", {sample: "a" * 64})
    assert one != fingerprinter.fingerprint("intro", {sample: "b" * 64})
