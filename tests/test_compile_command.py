"""`runway-plan compile`: every request a run sends, rendered, as YAML or JSON; media shown as
paths and hashes, never as their bytes; a spec with errors exits 1; nothing outside the spec's
root is read, and no text of a spec acts on a terminal or a CI log."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from runway_plan.cli import main
from runway_plan.diagnostics.display import is_hidden

ROOT = Path(__file__).parent.parent
PRODUCT = ROOT / "specs" / "assets" / "product.png"
SECRET = "TOP-SECRET-CONTENT-5f1c"


def _compile(*args: str) -> Result:
    return CliRunner().invoke(main, ["compile", *args], env={"NO_COLOR": "1"})


def _spec(directory: Path, steps: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = directory / name
    spec = {"version": 1, "name": "t", "steps": steps}
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def _image(**fields: Any) -> dict[str, Any]:
    return {
        "endpoint": "text_to_image",
        "model": "gen4_image",
        "promptText": "a product photo",
        "ratio": "1920:1080",
        **fields,
    }


def test_launch_renders_every_generation_in_run_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = _compile("specs/launch.yaml")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert document["spec"] == "specs/launch.yaml" and document["name"] == "aurora-launch"
    generations = document["generations"]
    assert [g["key"] for g in generations] == [
        "hero",
        "shot[0]",
        "shot[1]",
        "shot[2]",
        "voiceover",
        "dub_es",
    ]
    hero = generations[0]
    assert hero["request"] == "POST /v1/text_to_image" and hero["model"] == "gen4_image"
    digest = hashlib.sha256(PRODUCT.read_bytes()).hexdigest()
    assert hero["body"]["referenceImages"] == [
        {
            "uri": {
                "$file": "assets/product.png",
                "media": "image/png",
                "bytes": PRODUCT.stat().st_size,
                "sha256": digest,
            },
            "tag": "product",
        }
    ]
    shots = generations[1:4]
    assert [g["index"] for g in shots] == [0, 1, 2]
    assert {g["body"]["promptText"] for g in shots} == {
        "studio turntable, slow dolly-in on the Aurora headphones",
        "city street at dusk, slow dolly-in on the Aurora headphones",
        "forest trail, slow dolly-in on the Aurora headphones",
    }
    for shot in shots:
        assert shot["inputs"] == ["hero"]
        assert shot["body"]["promptImage"] == {"$output": "hero", "index": 0}
        assert shot["body"]["ratio"] == "1280:720" and shot["body"]["duration"] == 5
    assert generations[5]["body"]["audioUri"] == {"$output": "voiceover", "index": 0}


@pytest.mark.parametrize("spec", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_yaml_and_json_say_the_same_and_twice_the_same(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    first = _compile(f"specs/{spec.name}")
    again = _compile(f"specs/{spec.name}")
    as_json = _compile(f"specs/{spec.name}", "--format", "json")
    assert first.exit_code == again.exit_code == as_json.exit_code == 0, first.output
    assert first.stdout == again.stdout
    assert yaml.safe_load(first.stdout) == json.loads(as_json.stdout)
    assert "base64," not in first.stdout


def test_a_spec_with_errors_exits_1_with_framed_diagnostics_and_no_document(
    tmp_path: Path,
) -> None:
    path = _spec(tmp_path, {"hero": _image(ratio="16:9")})
    result = _compile(str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "RP207 ratio '16:9' is not allowed for gen4_image" in result.stderr
    assert "^^^^^^" in result.stderr


def test_a_data_uri_is_shown_by_type_size_and_hash(tmp_path: Path) -> None:
    payload = PRODUCT.read_bytes()
    encoded = base64.b64encode(payload).decode()
    uri = f"data:image/png;base64,{encoded}"
    path = _spec(tmp_path, {"hero": _image(referenceImages=[{"uri": uri, "tag": "prod"}])})
    result = _compile(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    [hero] = json.loads(result.stdout)["generations"]
    assert hero["body"]["referenceImages"][0]["uri"] == {
        "$data": "image/png",
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    assert encoded[:40] not in result.stdout


def _outside(tmp_path: Path) -> tuple[Path, Path]:
    """A spec folder, and a secret file beside it (outside its root: not a repository)."""
    project = tmp_path / "project"
    project.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(PRODUCT.read_bytes() + SECRET.encode())
    return project, secret


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink"])
def test_an_asset_outside_the_root_is_a_diagnostic_and_nothing_of_it_is_shown(
    how: str, tmp_path: Path
) -> None:
    project, secret = _outside(tmp_path)
    if how == "symlink":
        (project / "innocent.png").symlink_to(secret)
        value = "innocent.png"
    else:
        value = str(secret) if how == "absolute" else "../secret.png"
    path = _spec(project, {"hero": _image(referenceImages=[{"uri": value, "tag": "prod"}])})
    for fmt in ("yaml", "json"):
        result = _compile(str(path), "--format", fmt)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert "RP228" in result.stderr and "outside the spec's root" in result.stderr
        digest = hashlib.sha256(secret.read_bytes()).hexdigest()
        for out in (result.stdout, result.stderr):
            assert SECRET not in out and digest not in out and "PNG" not in out


def test_an_allowed_folder_is_read_and_shown_by_hash(tmp_path: Path) -> None:
    project, secret = _outside(tmp_path)
    path = _spec(
        project, {"hero": _image(referenceImages=[{"uri": "../secret.png", "tag": "prod"}])}
    )
    result = _compile(str(path), "--allow-path", str(tmp_path))
    assert result.exit_code == 0, result.output
    uri = yaml.safe_load(result.stdout)["generations"][0]["body"]["referenceImages"][0]["uri"]
    assert uri["sha256"] == hashlib.sha256(secret.read_bytes()).hexdigest()
    assert SECRET not in result.stdout


HOSTILE = (
    "a\n::error file=x,line=1::forged\r\x1b[31mred\x1b]8;;https://e.example\x07l "
    "\u202eevil\u202c ##[error]v ##vso[task.complete]x \u2028 \x85 \x7f \ufeff # not a comment"
)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_spec_text_reads_back_exactly_and_cannot_act(fmt: str, tmp_path: Path) -> None:
    path = _spec(
        tmp_path, {"hero": _image(promptText=HOSTILE), "x": _image(promptText="::error::x")}
    )
    result = _compile(str(path), "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not [c for c in out if is_hidden(c) and c != "\n"]
    for line in out.splitlines():
        assert not line.lstrip().startswith("::") and "##[" not in line and "##vso[" not in line
    document = yaml.safe_load(out) if fmt == "yaml" else json.loads(out)
    prompts = [g["body"]["promptText"] for g in document["generations"]]
    assert prompts == [HOSTILE, "::error::x"]


def test_yaml_keeps_strings_that_yaml_1_1_would_read_as_numbers(tmp_path: Path) -> None:
    path = _spec(
        tmp_path,
        {
            "clip": {
                "endpoint": "image_to_video",
                "model": "gen4_turbo",
                "promptImage": "https://cdn.example.com/a.png",
                "ratio": "960:960",
                "promptText": "no",
                "duration": 5,
            }
        },
    )
    result = _compile(str(path))
    assert result.exit_code == 0, result.output
    body = yaml.safe_load(result.stdout)["generations"][0]["body"]
    assert body["promptText"] == "no" and body["ratio"] == "960:960"


def test_a_file_that_cannot_be_read_at_compile_time_is_a_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(PRODUCT, tmp_path / "p.png")
    path = _spec(tmp_path, {"hero": _image(referenceImages=[{"uri": "p.png", "tag": "prod"}])})
    from runway_plan.plan import requests

    real = requests._Assets.local

    def vanished(self: requests._Assets, value: str) -> object:
        os.unlink(tmp_path / "p.png")
        return real(self, value)

    monkeypatch.setattr(requests._Assets, "local", vanished)
    result = _compile(str(path))
    assert result.exit_code == 1 and result.stdout == ""
    assert "RP222" in result.stderr
