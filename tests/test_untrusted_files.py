"""A spec, every file it names and the state folder beside it may be written by someone hostile.

These tests play that part: symlinks and paths out of the spec's repository, a file swapped for
a symlink to a secret while a run goes, symlinks committed where runway-plan writes, and
corrupt or hostile journals beside a spec that ``plan`` and ``status`` read.
"""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.execute import KEY, SPECS, Harness, emulator, graph_of, served, write_spec

from runway_plan.cli import main
from runway_plan.execute import Execution, Outcome
from runway_plan.execute.runner import Event
from runway_plan.files import Root

SECRET = "RUNWAYML_API_SECRET=key_" + "ab" * 64


def _invoke(*args: str, key: str = KEY) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"RUNWAYML_API_SECRET": key})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding the example specs, with a secret file outside it."""
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for item in SPECS.iterdir():
        if item.is_dir():
            subprocess.run(["cp", "-r", str(item), str(root / "specs" / item.name)], check=True)
        else:
            (root / "specs" / item.name).write_bytes(item.read_bytes())
    (tmp_path / "secret.env").write_text(SECRET + "\n")
    (tmp_path / "secret.png").write_bytes((SPECS / "assets" / "product.png").read_bytes())
    return root


IMAGE_SPEC = """\
version: 1
name: hostile
tier: 2
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "@product on white"
    ratio: "1920:1080"
    referenceImages:
      - {{uri: "{uri}", tag: product}}
"""


def _image_spec(repo: Path, uri: str) -> Path:
    spec = repo / "specs" / "hostile.yaml"
    spec.write_text(IMAGE_SPEC.format(uri=uri))
    return spec


@pytest.mark.parametrize(
    "uri",
    [
        "/etc/passwd",
        "/etc/shadow",
        "/proc/self/environ",
        "../../secret.png",
        "../../nothing-here.png",
        "/definitely/not/a/file.png",
    ],
)
def test_paths_out_of_the_repository_are_refused_and_say_nothing(repo: Path, uri: str) -> None:
    spec = _image_spec(repo, uri)
    code, out, _ = _invoke("validate", str(spec))
    assert code == 1
    lines = [line for line in out.splitlines() if "RP2" in line]
    assert len(lines) == 1 and "RP228" in lines[0], out
    # The same words whatever is (or is not) there: nothing about the file leaks.
    assert lines[0].split("RP228 ", 1)[1].replace(uri, "PATH") == (
        f"referenceImages[0].uri: 'PATH' is outside the spec's root {repo}: a spec may only name "
        "files in its repository (or its folder); pass --allow-path DIR to allow another folder"
    )


def test_a_symlink_out_of_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "specs" / "assets" / "innocent.png").symlink_to(tmp_path / "secret.png")
    spec = _image_spec(repo, "assets/innocent.png")
    code, out, _ = _invoke("validate", str(spec))
    assert code == 1 and "RP228" in out and "secret" not in out


def test_allow_path_opts_a_folder_in(repo: Path, tmp_path: Path) -> None:
    spec = _image_spec(repo, str(tmp_path / "secret.png"))
    code, out, _ = _invoke("validate", str(spec), "--allow-path", str(tmp_path))
    assert code == 0, out
    code, out, _ = _invoke("validate", str(spec), "--allow-path", str(repo / "specs"))
    assert code == 1 and "RP228" in out


def test_a_knowledge_document_linked_to_the_environment_is_never_read(repo: Path) -> None:
    specs = repo / "specs"
    (specs / "knowledge" / "aurora-faq.md").unlink()
    (specs / "knowledge" / "aurora-faq.md").symlink_to("/proc/self/environ")
    spec = specs / "support-avatar.yaml"
    code, out, _ = _invoke("validate", str(spec))
    assert code == 1 and "RP228" in out
    code, out, err = _invoke("plan", str(spec), "--format", "json")
    assert code == 1 and "RP228" in out + err
    emu = emulator(tier=2)
    with served(emu) as url:
        code, out, err = _invoke("run", str(spec), "--base-url", url, "--yes")
    assert code == 1
    assert not emu.documents()  # nothing was uploaded
    for path in repo.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"RUNWAYML" not in path.read_bytes(), path


def test_special_files_and_long_names_are_diagnostics(repo: Path) -> None:
    assets = repo / "specs" / "assets"
    os.mkfifo(assets / "pipe.png")
    (assets / "folder.png").mkdir()
    for uri, words in [
        ("assets/pipe.png", "is not a regular file"),
        ("assets/folder.png", "is not a regular file"),
        ("assets/" + "x" * 300 + ".png", "name too long"),
        ("assets/missing.png", "does not exist"),
    ]:
        code, out, _ = _invoke("validate", str(_image_spec(repo, uri)))
        assert code == 1 and "RP222" in out and words in out, out


def test_an_unreadable_file_is_a_diagnostic(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = repo / "specs" / "assets" / "locked.png"
    locked.write_bytes((SPECS / "assets" / "product.png").read_bytes())
    real_open = os.open

    def denied(path: Any, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == "locked.png":  # as chmod 0 would, for anyone but root
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("runway_plan.files.os.open", denied)
    code, out, _ = _invoke("validate", str(_image_spec(repo, "assets/locked.png")))
    assert code == 1 and "RP222" in out and "permission denied" in out


def test_what_is_sent_is_what_was_checked(tmp_path: Path) -> None:
    """A file swapped for a symlink to a secret, or for other content, while the run goes
    is refused at the moment it would be sent; nothing of it reaches the API."""
    directory = tmp_path / "project"
    spec = write_spec(
        directory,
        textwrap.dedent(
            """\
            version: 1
            name: swap
            tier: 1
            steps:
              shot:
                for_each: [a, b, c, d]
                endpoint: image_to_video
                model: gen4_turbo
                promptImage: assets/product.png
                promptText: "{{ item }}"
                ratio: "1280:720"
                duration: 2
            """
        ),
    )
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n" + SECRET.encode() * 40)
    graph = graph_of(spec)
    asset = directory / "assets" / "product.png"
    h = Harness(emulator(tier=1), tmp_path / "state", tmp_path / "outputs")
    swapped: list[bool] = []

    def on_start(execution: Execution) -> None:
        def on_event(event: Event) -> None:
            h.events.append(event)
            if event.kind == "submitted" and not swapped:
                asset.unlink()
                asset.symlink_to(tmp_path / "secret.png")
                swapped.append(True)

        execution.on_event = on_event

    result = h.run(graph, on_start=on_start)
    assert swapped
    refused = [g for g in result.generations.values() if g.outcome is Outcome.FAILED]
    assert refused and all("nothing was sent" in g.message for g in refused)
    assert "RP506" in {d.code for d in result.diagnostics}
    encoded = base64.b64encode(SECRET.encode()[:30]).decode()[:20]
    for request in h.requests:
        body = request.content.decode("utf-8", "replace")
        assert SECRET not in body and encoded not in body


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    return victim


def test_a_committed_lock_symlink_truncates_nothing(repo: Path, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    state = repo / "specs" / ".runway-plan" / "launch" / "emulated"
    state.mkdir(parents=True)
    (state / "lock").symlink_to(victim)
    code, _, err = _invoke("run", str(repo / "specs" / "launch.yaml"), "--emulate")
    assert code == 2 and "RP516" in err and str(state / "lock") in err and "remove it" in err
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("name", ["state.db", "state.db-wal", "store", "runs"])
def test_committed_journal_symlinks_are_refused(repo: Path, tmp_path: Path, name: str) -> None:
    victim = _victim(tmp_path)
    state = repo / "specs" / ".runway-plan" / "launch" / "emulated"
    state.mkdir(parents=True)
    (state / name).symlink_to(victim)
    code, _, err = _invoke("run", str(repo / "specs" / "launch.yaml"), "--emulate")
    assert code == 2 and "RP516" in err
    assert victim.read_text() == "precious\n"


def test_a_committed_state_folder_symlink_is_refused(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "specs" / ".runway-plan").symlink_to(elsewhere)
    code, _, err = _invoke("run", str(repo / "specs" / "launch.yaml"), "--emulate")
    assert code == 2 and "RP516" in err
    assert not any(elsewhere.iterdir())


def test_a_committed_run_log_symlink_gets_nothing_appended(repo: Path, tmp_path: Path) -> None:
    spec = repo / "specs" / "launch.yaml"
    assert _invoke("run", str(spec), "--emulate")[0] == 0
    victim = _victim(tmp_path)
    runs = repo / "specs" / ".runway-plan" / "launch" / "emulated" / "runs"
    (runs / "2").mkdir()
    (runs / "2" / "run.log").symlink_to(victim)
    code, out, _ = _invoke("run", str(spec), "--emulate")
    assert code == 1 and "RP516" in out + _
    assert victim.read_text() == "precious\n"


def test_a_committed_outputs_symlink_sends_nothing_outside(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "specs" / "outputs").symlink_to(elsewhere)
    code, out, err = _invoke("run", str(repo / "specs" / "launch.yaml"), "--emulate")
    assert code == 1 and "RP516" in out + err and "outputs" in out + err
    assert not any(elsewhere.iterdir())
    # The outputs are paid for and kept in the store: removing the symlink links them.
    (repo / "specs" / "outputs").unlink()
    code, out, err = _invoke("run", str(repo / "specs" / "launch.yaml"), "--emulate")
    assert code == 0, out + err
    assert (repo / "specs" / "outputs" / "emulated" / "launch" / "hero" / "0.png").is_file()


def _journal(repo: Path, statements: list[str]) -> Path:
    folder = repo / "specs" / ".runway-plan" / "launch"
    folder.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(folder / "state.db") as db:
        for statement in statements:
            db.execute(statement)
    return folder


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "statements",
    [
        ["CREATE TABLE junk (x)", "PRAGMA user_version = 77"],
        [
            "CREATE TABLE runs (id INTEGER PRIMARY KEY)",
            "CREATE VIEW steps AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
            "FROM c) SELECT x AS id, 'f' AS fingerprint FROM c",
            "PRAGMA user_version = 3",
        ],
    ],
    ids=["newer-or-foreign", "endless-view"],
)
def test_a_hostile_journal_is_a_warning_for_plan(
    repo: Path, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runway_plan.execute.state.SNAPSHOT_SECONDS", 1.0)
    folder = _journal(repo, statements)
    before = _listing(repo)
    code, out, err = _invoke("plan", str(repo / "specs" / "launch.yaml"))
    assert code == 0, out + err
    assert "RP517" in out + err
    assert _listing(repo) == before  # no -wal, no -shm: nothing written beside the spec
    code, _, err = _invoke("status", str(repo / "specs" / "launch.yaml"))
    assert code == 2 and "RP517" in err
    assert (folder / "state.db").is_file()


def test_a_corrupt_journal_is_a_warning_for_plan(repo: Path) -> None:
    folder = repo / "specs" / ".runway-plan" / "launch"
    folder.mkdir(parents=True)
    (folder / "state.db").write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    code, out, err = _invoke("plan", str(repo / "specs" / "launch.yaml"))
    assert code == 0 and "RP517" in out + err
    assert "Traceback" not in out + err


def test_plan_writes_nothing_beside_a_real_journal(repo: Path) -> None:
    spec = repo / "specs" / "launch.yaml"
    assert _invoke("run", str(spec), "--emulate")[0] == 0
    before = _listing(repo)
    code, out, _ = _invoke("plan", str(spec), "--emulate", "--format", "json")
    assert code == 0 and '"reused_generations": 6' in out
    assert _listing(repo) == before


def test_the_root_is_the_repository_or_the_spec_folder(tmp_path: Path, repo: Path) -> None:
    assert Root.of_spec(repo / "specs" / "launch.yaml").base == repo.resolve()
    loose = tmp_path / "loose"
    loose.mkdir()
    assert Root.of_spec(loose / "x.yaml").base == loose.resolve()


def test_the_file_hasher_follows_a_symlink_only_when_asked_and_never_waits_on_a_fifo(
    tmp_path: Path,
) -> None:
    import hashlib

    from runway_plan.files import sha256_file

    target = tmp_path / "a.bin"
    target.write_bytes(b"runway" * 10_000)
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    expected = hashlib.sha256(target.read_bytes()).hexdigest()
    assert sha256_file(target) == expected
    assert sha256_file(link, follow_symlinks=True) == expected
    with pytest.raises(OSError):
        sha256_file(link)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        sha256_file(fifo, follow_symlinks=True)


def test_a_recorded_output_name_never_leaves_the_outputs_folder(repo: Path, tmp_path: Path) -> None:
    spec = repo / "specs" / "launch.yaml"
    code, out, err = _invoke("run", str(spec), "--emulate")
    assert code == 0, out + err
    outputs = repo / "specs" / "outputs"
    journal = repo / "specs" / ".runway-plan" / "launch" / "emulated" / "state.db"
    escape = "png/" + "../" * 12 + str(tmp_path / "escaped").lstrip("/")
    with sqlite3.connect(journal) as db:
        assert db.execute("UPDATE outputs SET ext = ?", (escape,)).rowcount > 0
    shutil.rmtree(outputs)
    code, out, err = _invoke("run", str(spec), "--emulate")
    assert code == 0, out + err
    assert not (tmp_path / "escaped").exists()
    assert not [p for p in tmp_path.rglob("*escaped*")]
    assert (outputs / "emulated" / "launch" / "hero" / "0.bin").is_file()
