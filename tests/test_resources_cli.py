"""``plan`` and ``run`` as a user runs them: reuse from the run state (``plan --emulate``),
and the documents and avatars of ``specs/support-avatar.yaml`` against an emulator served on a
loopback port: create, re-run, edit, remove, drift with ``--live``, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from support.execute import KEY, copy_specs, emulator, served

from runway_plan.catalog import load_catalog
from runway_plan.cli import main
from runway_plan.emulator import Fault, FaultPlan, FaultRule
from runway_plan.execute import State, reusable
from runway_plan.execute.reuse import credits_saved
from runway_plan.validate import check_file

SPEED = "400"


def _invoke(*args: str, key: str = KEY) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"RUNWAYML_API_SECRET": key})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _plan_json(*args: str) -> dict[str, Any]:
    code, out, err = _invoke("plan", *args, "--format", "json")
    assert code in (0, 1), err
    return dict(json.loads(out))


def _credits(pair: dict[str, str]) -> tuple[Decimal, Decimal]:
    return Decimal(pair["low"]), Decimal(pair["high"])


# ---------------------------------------------------------------------------- reuse (issue 5.6)


def test_plan_shows_what_a_run_reuses_and_the_credits_saved(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    code, out, err = _invoke("run", str(spec), "--emulate", "--speed", SPEED)
    assert code == 0, out + err
    fresh = _plan_json(str(spec), "--emulate")
    assert fresh["run"]["reused_generations"] == 6 and fresh["run"]["generations"] == 0
    assert fresh["run"]["saved"]["credits"] == fresh["total"]["credits"]

    spec.write_text(spec.read_text().replace("Sound, reimagined.", "Hear everything."))
    doc = _plan_json(str(spec), "--emulate")
    shown = {g["key"]: g["reuse"] for g in doc["generations"]}
    assert {k for k, r in shown.items() if not r["reused"]} == {"voiceover", "dub_es"}
    assert shown["voiceover"]["reason"] == "promptText changed"
    assert shown["dub_es"]["reason"] == "upstream voiceover[0] will be generated first"
    costs = {g["key"]: g["credits"] for g in doc["generations"]}
    saved = sum(
        (Decimal(costs[k]["high"]) for k in ("hero", "shot[0]", "shot[1]", "shot[2]")), Decimal(0)
    )
    assert _credits(doc["run"]["saved"]["credits"]) == (saved, saved)
    graph, _ = check_file(spec, load_catalog())
    emulated = spec.parent / ".runway-plan" / "launch" / "emulated"
    reuse = reusable(graph, emulated, base_url="http://emulator")
    prices = {k: _credits(c) for k, c in costs.items() if c is not None}
    assert credits_saved(reuse, prices) == (saved, saved)  # the executor's own count agrees
    assert doc["resources"] is None  # a spec without documents or avatars
    remade = Decimal(costs["voiceover"]["high"]) + Decimal(costs["dub_es"]["high"])
    assert _credits(doc["run"]["credits"])[1] == remade  # the speech and its dub, made again
    assert doc["run"]["unknown_generations"] == 0
    steps = {s["name"]: s["reused_generations"] for s in doc["steps"]}
    assert steps == {"hero": 1, "shot": 3, "voiceover": 0, "dub_es": 0}
    scheduled = {g["key"] for g in doc["generations"] if g["schedule"] is not None}
    assert scheduled == {"voiceover", "dub_es"}  # the schedule holds only the work to do

    code, table, _ = _invoke("plan", str(spec), "--emulate")
    assert code == 0
    assert "reused" in table.splitlines()[2]
    assert "  voiceover: promptText changed" in table
    assert f"Credits saved: {saved}" in table
    code, markdown, _ = _invoke("plan", str(spec), "--emulate", "--format", "markdown")
    assert "| Reused |" in markdown and "`voiceover`: `promptText changed`" in markdown

    # Without the state the plan is the whole spec; the emulated state does not serve the
    # real API (another origin), so nothing is reused there.
    plain = _plan_json(str(spec))
    assert plain["run"] is None or plain["run"]["reused_generations"] == 0


def test_the_budget_guard_counts_what_the_run_would_spend(tmp_path: Path) -> None:
    spec = copy_specs(tmp_path) / "launch.yaml"
    assert _invoke("run", str(spec), "--emulate", "--speed", SPEED)[0] == 0
    text = spec.read_text().replace("max_credits: 1500", "max_credits: 20")
    spec.write_text(text.replace("Sound, reimagined.", "Hear everything."))
    code, out, _ = _invoke("plan", str(spec))  # no state for the real API: the whole plan
    assert code == 1 and "RP400" in out
    code, out, _ = _invoke("plan", str(spec), "--emulate")
    assert code == 0, out
    assert "Budget (budget.max_credits): 20 credits: within (this run's high end is 7; " in out
    code, out, err = _invoke("run", str(spec), "--emulate", "--speed", SPEED)
    assert code == 0, out + err  # the runner applies the same guard
    text = spec.read_text().replace("max_credits: 20", "max_credits: 0.5")
    spec.write_text(text)
    code, out, _ = _invoke("plan", str(spec), "--emulate")
    assert code == 0  # nothing to make now: zero credits fit
    spec.write_text(text.replace("Hear everything.", "Listen closer."))
    code, out, _ = _invoke("plan", str(spec), "--emulate")
    assert code == 1 and "RP400" in out and "are reused from the run state" in out


# ---------------------------------------------------------------------------- resources


def _edit(spec: Path, old: str, new: str) -> None:
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def test_support_avatar_lifecycle_on_a_served_emulator(tmp_path: Path) -> None:
    specs = copy_specs(tmp_path)
    spec = specs / "support-avatar.yaml"
    emu = emulator(tier=2)
    with served(emu) as url:
        base = ["--base-url", url, "--speed", SPEED, "--yes"]
        code, out, err = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0 and "3 to create" in out
        code, out, err = _invoke("run", str(spec), *base, "--format", "json")
        assert code == 0, out + err
        first = json.loads(out)
        assert {r["key"]: r["action"] for r in first["resources"]} == {
            "faq": "created",
            "returns": "created",
            "support": "created",
        }
        assert first["requests"]["resource_create"] == 3
        avatar = next(iter(emu._avatars.values()))
        assert avatar["name"] == "Ava (Aurora support)" and len(avatar["documentIds"]) == 2

        code, out, _ = _invoke("run", str(spec), *base, "--format", "json")
        assert code == 0
        again = json.loads(out)
        assert {r["action"] for r in again["resources"]} == {"unchanged"}
        writes = {k: v for k, v in again["requests"].items() if k != "resource_get"}
        assert writes == {}  # no API writes at all (only the refresh's reads)

        _edit(spec, "Never promise refunds", "Never, ever promise refunds")
        faq = specs / "knowledge" / "aurora-faq.md"
        before = faq.read_text()
        after = before + "\n## Firmware\n\nUpdate it from the Aurora app.\n"
        faq.write_text(after)
        code, out, _ = _invoke("plan", str(spec), "--base-url", url)
        assert code == 0
        assert "~ document  faq" in out
        assert f"content: {len(before):,} chars → {len(after):,} chars (+4 -0 lines)" in out
        assert "personality: '…" in out and "0 to create, 2 to update, 1 unchanged" in out
        code, out, _ = _invoke("run", str(spec), *base, "--format", "json")
        assert code == 0
        third = json.loads(out)
        assert {r["key"]: r["fields"] for r in third["resources"] if r["action"] == "updated"} == {
            "faq": ["content"],
            "support": ["personality"],
        }
        assert third["requests"].get("resource_update") == 2
        assert set(third["requests"]) <= {"resource_get", "resource_update"}

        _edit(spec, "documents: [faq, returns]", "documents: [faq]")
        _edit(
            spec,
            "  returns:\n    name: Aurora returns and warranty policy\n"
            "    file: knowledge/returns-policy.md\n",
            "",
        )
        doc = _plan_json(str(spec), "--base-url", url)
        items = {i["key"]: i for i in doc["resources"]["items"]}
        assert items["returns"]["action"] == "delete"
        assert [c["field"] for c in items["support"]["changes"]] == ["documentIds"]
        code, out, err = _invoke("run", str(spec), *base)
        assert code == 0 and "RP513" in err + out and len(emu._documents) == 2
        code, out, err = _invoke("run", str(spec), *base, "--prune")
        assert code == 0, out + err
        assert "deleted" in out and len(emu._documents) == 1

        # Drift: changed and deleted behind the spec's back, seen with --live, put back by run.
        avatar_id = next(iter(emu._avatars))
        faq_id = next(iter(emu._documents))
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
            headers = {"X-Runway-Version": "2024-11-06"}
            answer = http.patch(
                f"/v1/avatars/{avatar_id}", json={"personality": "Off script"}, headers=headers
            )
            assert answer.status_code == 200
            assert http.delete(f"/v1/documents/{faq_id}", headers=headers).status_code == 204
        live = _plan_json(str(spec), "--base-url", url, "--live")
        assert live["resources"]["live"] is True and live["resources"]["drifted"] == 2
        drift = {i["key"]: i["drift"] for i in live["resources"]["items"]}
        assert drift["faq"] == [f"deleted remotely (id {faq_id})"]
        assert drift["support"] == ["changed remotely: personality, documentIds"]
        code, out, err = _invoke("run", str(spec), *base)
        assert code == 0, out + err
        assert (err + out).count("RP515") == 2
        assert "Off script" not in emu._avatars[avatar_id]["personality"]
        assert len(emu._documents) == 1 and len(emu._avatars) == 1
    emu.close()


def _child(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWAYML")}
    env["RUNWAYML_API_SECRET"] = KEY
    env["TMPDIR"] = str(tmp_path)
    return subprocess.Popen(
        [sys.executable, "-m", "runway_plan", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when_creating(
    child: subprocess.Popen[str], db: Path, kind: str, landed: Callable[[], bool]
) -> None:
    """SIGKILL ``child`` once a ``kind`` create is journaled, has ``landed`` at the API and
    its answer is awaited (the emulator holds it back: a SLOW fault)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if db.is_file() and landed():
            with sqlite3.connect(db, timeout=5) as con:
                try:
                    found = con.execute(
                        "SELECT COUNT(*) FROM resources WHERE kind = ? AND status = 'creating'",
                        (kind,),
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    found = 0
            if found:
                os.kill(child.pid, signal.SIGKILL)
                child.communicate(timeout=30)
                return
        time.sleep(0.02)
    child.kill()
    raise AssertionError(f"no {kind} create was seen in flight")


def test_sigkill_inside_create_windows_then_resume_makes_no_duplicates(tmp_path: Path) -> None:
    faults = FaultPlan(
        rules=[
            FaultRule(Fault.SLOW, on="document", nth=(1,), delay=4.0),
            FaultRule(Fault.SLOW, on="avatar", nth=(1,), delay=4.0),
        ]
    )
    emu = emulator(tier=2, faults=faults)
    specs = copy_specs(tmp_path)
    spec = specs / "support-avatar.yaml"
    db = specs / ".runway-plan" / "support-avatar" / "state.db"
    outputs: list[str] = []
    with served(emu) as url:
        command = ["run", str(spec), "--base-url", url, "--speed", SPEED, "--yes"]
        _kill_when_creating(
            _child(command, tmp_path), db, "document", lambda: len(emu._documents) == 1
        )
        _, out, _ = _invoke("plan", str(spec), "--base-url", url)
        assert "looks it up by name" in out
        _kill_when_creating(_child(command, tmp_path), db, "avatar", lambda: len(emu._avatars) == 1)
        last = _child([*command, "--format", "json"], tmp_path)
        out, err = last.communicate(timeout=60)
        outputs += [out, err]
        assert last.returncode == 0, out + err
        manifest = json.loads(out)
        assert {r["key"]: r["action"] for r in manifest["resources"]} == {
            "faq": "unchanged",
            "returns": "unchanged",
            "support": "adopted",
        }
        assert len(emu._documents) == 2 and len(emu._avatars) == 1  # no duplicates
        with State(db.parent, lock=False) as state:
            rows = state.resources("aurora-support", f"{url}")
            assert {r.remote_id for r in rows} == {*emu._documents, *emu._avatars}
            events = [(e.key, e.action) for e in state.resource_events()]
        assert ("faq", "adopted") in events and ("support", "adopted") in events
        avatar = next(iter(emu._avatars.values()))
        assert sorted(avatar["documentIds"]) == sorted(emu._documents)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    for text in outputs:
        assert KEY not in text
    emu.close()
