"""Documents and avatars as declarative resources: units, the journal, and the reconciler
against the emulator in process (exact API writes, lost answers, FAILED avatars, drift)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from support.execute import CATALOG, Harness, emulator, graph_of, write_spec

from runway_plan.emulator import Fault, FaultPlan, FaultRule
from runway_plan.execute import State
from runway_plan.execute.resources import (
    Desired,
    comparable_remote,
    compare,
    desired_state,
    resource_plan,
)
from runway_plan.execute.state import _V1, SCHEMA_VERSION, ResourceStatus
from runway_plan.validate import check_file
from runway_plan.validate.resources import knowledge_tokens

SPEC = """\
version: 1
name: helpdesk
tier: 2
steps:
  portrait:
    endpoint: text_to_image
    model: gen4_image
    promptText: "Portrait of a friendly support agent"
    ratio: "1280:720"
documents:
  faq: {{name: FAQ, content: "{faq}"}}
  policy: {{name: Policy, file: policy.md}}
avatars:
  ava:
    name: Ava
    personality: "{personality}"
    referenceImage: "@portrait"
    voice: {{type: runway-live-preset, presetId: clara}}
    startScript: Hello!
    documents: [faq, policy]
"""


def _spec(directory: Path, faq: str = "Q: hours? A: 9-5", personality: str = "Helpful") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    policy = directory / "policy.md"
    if not policy.exists():
        policy.write_text("# Policy\n\nReturns within 30 days.\n", encoding="utf-8")
    return write_spec(directory, SPEC.format(faq=faq, personality=personality))


def _harness(tmp_path: Path, **config: Any) -> Harness:
    return Harness(emulator(**config), tmp_path / "state", tmp_path / "outputs")


def _writes(h: Harness, since: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of the document and avatar writes sent since request ``since``."""
    found = []
    for request in h.requests[since:]:
        path = request.url.path
        if request.method in ("POST", "PATCH", "DELETE") and path.startswith(
            ("/v1/documents", "/v1/avatars")
        ):
            body = json.loads(request.content) if request.content else {}
            found.append((request.method, path, body))
    return found


def _actions(result: Any) -> dict[str, str]:
    return {f"{r.kind}:{r.key}": r.action for r in result.resources}


# ---------------------------------------------------------------------------- units


def test_desired_state_and_compare(tmp_path: Path) -> None:
    graph = graph_of(_spec(tmp_path))
    desired = desired_state(graph, {"faq": "d1"}, lambda ref: "ab" * 32)
    faq, ava = desired[("document", "faq")], desired[("avatar", "ava")]
    assert faq.fields == {"name": "FAQ", "content": "Q: hours? A: 9-5"}
    assert ava.fields["referenceImage"] == {"$sha256": "ab" * 32, "from": "@portrait"}
    assert ava.fields["imageProcessing"] == "optimize"  # the API's default, made explicit
    assert ava.unknown == {"documentIds": "document 'policy' to be created first"}
    assert compare(faq, None) == ["name", "content"]
    assert compare(faq, {"name": "FAQ", "content": "Q: hours? A: 9-5"}) == []
    assert compare(faq, {"name": "FAQ", "content": "old"}) == ["content"]
    applied = dict(ava.fields, documentIds=["d1", "d2"])
    done = Desired("avatar", "ava", "Ava", dict(ava.fields, documentIds=["d2", "d1"]))
    assert compare(done, applied) == []  # the order of attachments does not matter
    moved = Desired("avatar", "ava", "Ava", dict(done.fields, personality="Grumpy"))
    assert compare(moved, applied) == ["personality"]
    remote = comparable_remote(
        "avatar",
        {
            "id": "x",
            "status": "READY",
            "name": "Ava",
            "voice": {"type": "runway-live-preset", "presetId": "clara", "name": "Clara"},
            "documentIds": [],
        },
    )
    assert remote == {
        "name": "Ava",
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
        "documentIds": [],
    }


def test_schema_1_journal_migrates_to_the_current_schema(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    db = sqlite3.connect(folder / "state.db")
    for statement in _V1.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        "INSERT INTO uploads (sha256, uri, created_at) VALUES ('s', 'runway://u', ?)",
        (time.time(),),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with State(folder) as state:
        assert state.version == SCHEMA_VERSION == 3
        assert state.upload("s", 60) == "runway://u"  # old rows survive
        assert state.owner is None and state.claim("a.yaml") == "a.yaml"
        row = state.mark_resource_creating(
            spec_name="s",
            origin="http://o",
            kind="document",
            key="faq",
            spec_path="s.yaml",
            name="FAQ",
            pending={"name": "FAQ", "content": "x"},
            run_id=None,
        )
        assert row.status is ResourceStatus.CREATING and row.remote_id is None
        done = state.mark_resource_present(
            row.id,
            remote_id="r1",
            applied={"name": "FAQ", "content": "x"},
            applied_hash="h",
            remote_status=None,
            action="created",
            run_id=None,
        )
        assert done.status is ResourceStatus.PRESENT and done.applied == {
            "name": "FAQ",
            "content": "x",
        }
        assert state.claimed_remote_ids("http://o", "document") == {"r1"}
        assert [(e.action, e.outcome) for e in state.resource_events()] == [("created", "ok")]


def test_validation_of_resources(tmp_path: Path) -> None:
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00 not text")
    (tmp_path / "notes.pdf").write_text("text, but not a text file name", encoding="utf-8")
    (tmp_path / "big.txt").write_text("知" * 50_001, encoding="utf-8")
    spec = write_spec(
        tmp_path,
        """\
        version: 1
        name: checks
        steps:
          pics:
            endpoint: text_to_image
            model: gpt_image_2
            promptText: two portraits
            ratio: "1920:1088"
            outputCount: 2
        documents:
          a: {name: Same, content: hi}
          b: {name: Same, file: binary.md}
          c: {name: Other, file: notes.pdf}
          d: {name: Big, file: big.txt}
        avatars:
          ava:
            name: Ava
            personality: x
            referenceImage: assets/founder.png
            voice: {type: runway-live-preset, presetId: clara}
            documents: [d]
          bo:
            name: Bo
            personality: x
            referenceImage: "@pics"
            voice: {type: runway-live-preset, presetId: clara}
          cy:
            name: Cy
            personality: x
            referenceImage: "@pics[2]"
            voice: {type: runway-live-preset, presetId: Clara}
        """,
    )
    _, diagnostics = check_file(spec, CATALOG)
    found = {(d.code, d.span.line if d.span else 0) for d in diagnostics}
    assert ("RP108", 12) in found  # b repeats a's name
    assert ("RP212", 12) in found  # not UTF-8
    assert ("RP212", 13) in found  # not .txt or .md
    assert ("RP302", 25) in found  # two outputs: name one
    assert ("RP302", 30) in found  # out of range
    assert ("RP207", 31) in found  # preset ids are lower case
    templated = write_spec(
        tmp_path / "templated",
        """\
        version: 1
        name: templated
        vars: {brand: Aurora}
        documents:
          a: {name: "{{ brand }} FAQ", content: "About {{ brand }}"}
        avatars:
          ava:
            name: Ava
            personality: "You support {{ brand }} and {{ nope }}"
            referenceImage: assets/founder.png
            voice: {type: runway-live-preset, presetId: clara}
            documents: [a]
        """,
    )
    graph, found_there = check_file(templated, CATALOG)
    assert [(d.code, d.span.line if d.span else 0) for d in found_there] == [("RP111", 9)]
    desired = desired_state(graph, {}, lambda ref: "0" * 64)
    assert desired[("document", "a")].fields == {"name": "Aurora FAQ", "content": "About Aurora"}
    assert desired[("avatar", "ava")].problem is not None
    assert any(d.code == "RP211" and "50,001 tokens" in d.message for d in diagnostics)
    # 4 ASCII characters are a token; a character outside ASCII is one on its own.
    assert knowledge_tokens("abcd" * 10) == 10
    assert knowledge_tokens("abcde") == 2
    assert knowledge_tokens("日本語") == 3
    assert knowledge_tokens("café") == 2


# ---------------------------------------------------------------------------- reconciler


def test_create_rerun_edit_and_prune_send_exactly_the_writes_needed(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = _spec(tmp_path / "project")
    first = h.run(graph_of(spec))
    assert first.exit_code == 0, first.diagnostics
    assert _actions(first) == {
        "document:faq": "created",
        "document:policy": "created",
        "avatar:ava": "created",
    }
    writes = _writes(h)
    assert [(m, p) for m, p, _ in writes] == [
        ("POST", "/v1/documents"),
        ("POST", "/v1/documents"),
        ("POST", "/v1/avatars"),
    ]
    ava = writes[2][2]
    assert ava["referenceImage"].startswith("http://emulator/_files/")  # the portrait's output
    assert sorted(ava["documentIds"]) == sorted(h.emu._documents)
    assert "imageProcessing" not in ava  # omitted in the spec: the API's default
    avatar = next(iter(h.emu._avatars.values()))
    assert avatar["name"] == "Ava" and avatar["startScript"] == "Hello!"
    assert [r.status for r in first.resources if r.kind == "avatar"] == ["READY"]

    mark = len(h.requests)
    again = h.run(graph_of(spec))
    assert again.exit_code == 0
    assert set(_actions(again).values()) == {"unchanged"}
    assert _writes(h, mark) == []  # no API writes (only reads of the refresh)
    assert {r.method for r in h.requests[mark:]} == {"GET"}

    mark = len(h.requests)
    edited = _spec(tmp_path / "project", faq="Q: hours? A: 8-6", personality="Warm and brief")
    third = h.run(graph_of(edited))
    assert third.exit_code == 0, third.diagnostics
    faq_id = next(d for d, doc in h.emu._documents.items() if doc["name"] == "FAQ")
    avatar_id = next(iter(h.emu._avatars))
    assert _writes(h, mark) == [
        ("PATCH", f"/v1/documents/{faq_id}", {"content": "Q: hours? A: 8-6"}),
        ("PATCH", f"/v1/avatars/{avatar_id}", {"personality": "Warm and brief"}),
    ]
    assert h.emu._documents[faq_id]["content"] == "Q: hours? A: 8-6"
    assert h.emu._avatars[avatar_id]["personality"] == "Warm and brief"

    text = edited.read_text().replace("documents: [faq, policy]", "documents: [faq]")
    text = text.replace("  policy: {name: Policy, file: policy.md}\n", "")
    edited.write_text(text)
    graph = graph_of(edited)
    changes = resource_plan(graph, h.state_dir, h.base_url).changes
    assert [(c.kind, c.key, c.action) for c in changes] == [
        ("document", "faq", "unchanged"),
        ("avatar", "ava", "update"),
        ("document", "policy", "delete"),
    ]
    assert [f.name for f in changes[1].fields] == ["documentIds"]
    mark = len(h.requests)
    kept = h.run(graph)
    assert kept.exit_code == 0
    assert [d.code for d in kept.diagnostics] == ["RP513"]
    assert _actions(kept)["document:policy"] == "left"
    assert _writes(h, mark) == [("PATCH", f"/v1/avatars/{avatar_id}", {"documentIds": [faq_id]})]
    assert len(h.emu._documents) == 2  # left in place
    policy_id = next(d for d, doc in h.emu._documents.items() if doc["name"] == "Policy")
    mark = len(h.requests)
    pruned = h.run(graph, prune=True)
    assert pruned.exit_code == 0
    assert _writes(h, mark) == [("DELETE", f"/v1/documents/{policy_id}", {})]
    assert list(h.emu._documents) == [faq_id]
    with State(h.state_dir) as state:
        assert {r.key for r in state.resources("helpdesk", "http://emulator")} == {"faq", "ava"}


def test_a_lost_create_answer_is_found_by_name_not_created_twice(tmp_path: Path) -> None:
    faults = FaultPlan(
        rules=[
            FaultRule(Fault.LOST_RESPONSE, on="document", nth=(1,)),
            FaultRule(Fault.GATEWAY_TIMEOUT, on="avatar", nth=(1,), processed=True),
        ]
    )
    h = _harness(tmp_path, faults=faults)
    spec = _spec(tmp_path / "project")
    result = h.run(graph_of(spec))
    assert result.exit_code == 0, result.diagnostics
    assert _actions(result) == {
        "document:faq": "adopted",
        "document:policy": "created",
        "avatar:ava": "adopted",
    }
    assert len(h.emu._documents) == 2 and len(h.emu._avatars) == 1
    assert [m for m, _, _ in _writes(h)].count("POST") == 3  # each create sent once
    with State(h.state_dir) as state:
        events = [(e.key, e.action) for e in state.resource_events()]
    assert ("faq", "adopted") in events and ("ava", "adopted") in events


def test_a_create_in_doubt_whose_request_never_landed_is_made_once(tmp_path: Path) -> None:
    faults = FaultPlan(rules=[FaultRule(Fault.BAD_GATEWAY, on="document", nth=(1,))])
    h = _harness(tmp_path, faults=faults)
    result = h.run(graph_of(_spec(tmp_path / "project")))
    assert result.exit_code == 0, result.diagnostics
    assert _actions(result)["document:faq"] == "created"
    assert len(h.emu._documents) == 2
    assert any(e.kind == "lookup" for e in h.events)


def test_a_failed_avatar_is_reported_with_its_reason(tmp_path: Path) -> None:
    reason = "No face found in the reference image."
    faults = FaultPlan(
        rules=[FaultRule(Fault.AVATAR_FAILED, on="avatar", nth=(1,), failure_reason=reason)]
    )
    h = _harness(tmp_path, faults=faults)
    spec = _spec(tmp_path / "project")
    result = h.run(graph_of(spec))
    assert result.exit_code == 1
    failed = [d for d in result.diagnostics if d.code == "RP512"]
    assert failed and "No face found in the reference image." in failed[0].message
    assert [r.status for r in result.resources if r.kind == "avatar"] == ["FAILED"]
    changes = resource_plan(graph_of(spec), h.state_dir, h.base_url).changes
    assert any("processing FAILED: No face found" in n for c in changes for n in c.notes)
    mark = len(h.requests)
    retried = h.run(graph_of(spec), retry_failed=True)  # the fault fired once: READY this time
    assert retried.exit_code == 0, retried.diagnostics
    writes = _writes(h, mark)
    assert [(m, list(b)) for m, _, b in writes] == [("PATCH", ["referenceImage"])]


def test_drift_is_read_and_put_back(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = _spec(tmp_path / "project")
    assert h.run(graph_of(spec)).exit_code == 0
    avatar_id = next(iter(h.emu._avatars))
    faq_id = next(d for d, doc in h.emu._documents.items() if doc["name"] == "FAQ")
    h.emu.update_avatar(avatar_id, {"personality": "Changed in the dashboard"})
    h.emu.delete_document(faq_id)
    mark = len(h.requests)
    result = h.run(graph_of(spec))
    assert result.exit_code == 0, result.diagnostics
    assert [d.code for d in result.diagnostics].count("RP515") == 2
    new_faq = next(d for d, doc in h.emu._documents.items() if doc["name"] == "FAQ")
    assert new_faq != faq_id
    writes = _writes(h, mark)
    assert writes[0][:2] == ("POST", "/v1/documents")
    assert writes[1][0] == "PATCH" and set(writes[1][2]) == {"personality", "documentIds"}
    assert h.emu._avatars[avatar_id]["personality"] == "Helpful"
    assert new_faq in h.emu._avatars[avatar_id]["documentIds"]


def test_an_empty_remote_creates_everything_again(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    spec = _spec(tmp_path / "project")
    assert h.run(graph_of(spec)).exit_code == 0
    fresh = Harness(emulator(), h.state_dir, h.outputs_dir)  # a new, empty account
    result = fresh.run(graph_of(spec), empty_remote=True)
    assert result.exit_code == 0, result.diagnostics
    assert set(_actions(result).values()) == {"created"}
    assert len(fresh.emu._documents) == 2 and len(fresh.emu._avatars) == 1
