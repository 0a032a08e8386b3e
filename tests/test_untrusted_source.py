"""Untrusted specs, the reading part: whatever a file, a ``--var`` or a ``--catalog`` holds, the
answer is a diagnostic with a code and a position, never a traceback or a hang.

Heavy or hanging cases run in a child process with an address-space and a CPU limit (and a
generous wall-clock safety net for the ones that would block), so that the old behaviour fails
the test instead of taking the machine down.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runway_plan.catalog import CatalogError, load_catalog
from runway_plan.cli import main
from runway_plan.cli.app import parse_vars
from runway_plan.source import load_document, parse_document

CATALOG_DIR = Path(__file__).resolve().parents[1] / "runway_plan" / "catalog"
GIB = 1024**3

HEAD = "version: 1\nname: t\n"
HERO = """\
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: a lighthouse
    ratio: "1920:1080"
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _limits(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run_bounded(
    *args: str, memory: int = GIB, cpu: int = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``runway-plan ARGS`` in a child limited to ``memory`` bytes and ``cpu`` CPU seconds.

    The wall-clock timeout only keeps a blocked child (a FIFO) from hanging the suite.
    """
    return subprocess.run(
        [sys.executable, "-m", "runway_plan", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        preexec_fn=lambda: _limits(memory, cpu),
        env={**os.environ, "RUNWAY_PLAN_DEBUG": ""},
        check=False,
    )


# ------------------------------------------------------------------------------ YAML tags


@pytest.mark.parametrize(
    ("value", "col"),
    [("!!bool maybe", 14), ("!!timestamp 99999-99-99", 14), ("!!int ''", 14), ("!!float x", 14)],
)
def test_a_tagged_scalar_the_constructor_cannot_build_is_a_positioned_rp100(
    tmp_path: Path, value: str, col: int
) -> None:
    spec = write(tmp_path, HEAD + f"description: {value}\n" + HERO)
    code, out, err = run("validate", str(spec))
    assert code == 1, err
    assert out.startswith(f"{spec}:3:{col}: RP100 cannot read "), out
    assert "internal error" not in err


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object/apply:os.system [echo hi]",
        "!!python/object:builtins.dict {a: 1}",
        "!!python/name:os.system ''",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!!pairs [a: 1]",
        "!!binary aGk=",
        "!custom {a: 1}",
        "!local scalar",
    ],
)
def test_tags_beyond_plain_data_are_refused_where_they_are(tmp_path: Path, value: str) -> None:
    spec = write(tmp_path, HEAD + f"description: {value}\n" + HERO)
    code, out, _ = run("validate", str(spec))
    assert code == 1
    assert out.startswith(f"{spec}:3:14: RP116 "), out
    assert "tag" in out.splitlines()[0]


def test_standard_scalar_tags_still_read_as_before() -> None:
    doc = parse_document(
        "a: !!str 5\nb: !!int '7'\nc: !!float '1.5'\nd: !!bool 'true'\ne: !!null ''\n", "t.yaml"
    )
    assert doc.diagnostics == []
    assert doc.data == {"a": "5", "b": 7, "c": 1.5, "d": True, "e": None}


def test_every_unreadable_value_is_reported_at_once() -> None:
    doc = parse_document("a: !!bool maybe\nb: [!!int '', .nan]\nc: !!set {x}\n", "t.yaml")
    assert doc.data is None
    spots = [(d.code, d.span.line, d.span.col) for d in doc.diagnostics if d.span]
    assert spots == [("RP100", 1, 4), ("RP100", 2, 5), ("RP117", 2, 15), ("RP116", 3, 4)]


# ------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (".nan", "not a finite number"),
        (".inf", "not a finite number"),
        ("-.INF", "not a finite number"),
        ("1.0e+999", "not a finite number"),
        ("1" + "0" * 400, "outside"),
        ("-" + "9" * 25, "outside"),
        ("0x" + "f" * 40, "outside"),
    ],
)
def test_numbers_in_a_spec_are_finite_and_bounded(text: str, what: str) -> None:
    doc = parse_document(f"a:\n  b: {text}\n", "n.yaml")
    [error] = doc.diagnostics
    assert (error.code, error.span.line, error.span.col) == ("RP117", 2, 6)  # type: ignore[union-attr]
    assert what in error.message


def test_a_400_digit_duration_is_a_diagnostic_through_validate_and_plan(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        HEAD
        + "steps:\n  clip:\n    endpoint: image_to_video\n    model: gen4_turbo\n"
        + "    promptImage: https://example.com/a.png\n    ratio: '1280:720'\n"
        + "    duration: 1"
        + "0" * 400
        + "\n",
    )
    for command in ("validate", "plan"):
        code, out, err = run(command, str(spec))
        assert code == 1, err
        assert f"{spec}:9:15: RP117" in out
        assert "internal error" not in err


def test_sixty_four_bit_integers_are_fine() -> None:
    doc = parse_document(f"a: {2**63 - 1}\nb: {-(2**63)}\nc: 1.5e300\n", "n.yaml")
    assert doc.diagnostics == []


# ------------------------------------------------------------------------------ keys and names


@pytest.mark.parametrize(
    ("key", "read_as"), [("true", "boolean"), ("null", "null"), ("yes", "boolean"), ("~", "null")]
)
def test_a_key_yaml_reads_as_a_boolean_or_null_is_not_a_step(
    tmp_path: Path, key: str, read_as: str
) -> None:
    spec = write(
        tmp_path,
        HEAD + HERO + f"  {key}:\n    endpoint: text_to_image\n    model: gen4_image\n"
        "    promptText: x\n    ratio: '1920:1080'\n",
    )
    code, out, _ = run("validate", str(spec))
    assert code == 1
    assert out.startswith(f"{spec}:9:3: RP104 the key '{key}' is read as a {read_as}"), out


def test_a_step_name_with_a_trailing_newline_is_invalid(tmp_path: Path) -> None:
    spec = write(tmp_path, HEAD + HERO.replace("  hero:", '  "hero\\n":'))
    code, out, _ = run("validate", str(spec))
    assert code == 1 and f"{spec}:4:3: RP107 invalid name" in out


def test_a_reference_with_a_trailing_newline_is_not_a_reference(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        HEAD
        + HERO
        + "  clip:\n    endpoint: image_to_video\n    model: gen4_turbo\n"
        + '    promptImage: "@hero\\n"\n    ratio: "1280:720"\n    duration: 5\n',
    )
    code, out, _ = run("validate", str(spec))
    assert code == 1 and f"{spec}:12:18: RP300" in out and "not a valid step reference" in out, out


@pytest.mark.parametrize("version", ["true", "1.0", "'1'", "!!float 1"])
def test_version_is_the_whole_number_one(tmp_path: Path, version: str) -> None:
    spec = write(tmp_path, f"version: {version}\nname: t\n" + HERO)
    code, out, _ = run("validate", str(spec))
    assert code == 1 and out.startswith(f"{spec}:1:10: RP106"), out


# ------------------------------------------------------------------------------ JSON

JSON_SOUND = {
    "version": 1,
    "name": "t",
    "steps": {
        "sfx": {
            "endpoint": "sound_effect",
            "model": "eleven_text_to_sound_v2",
            "promptText": "rain on a tin roof",
            "duration": "DURATION",
        }
    },
}


def _json_spec(tmp_path: Path, duration: str, extra: str = "") -> Path:
    text = json.dumps(JSON_SOUND, indent=1).replace('"DURATION"', duration)
    return write(tmp_path, "{" + extra + text[1:], "spec.json")


@pytest.mark.parametrize("number", ["1e1", "1E1", "1.5e+1", "25e-1", "10"])
def test_json_numbers_are_numbers(tmp_path: Path, number: str) -> None:
    code, out, err = run("validate", str(_json_spec(tmp_path, number)))
    assert (code, out) == (0, ""), out + err


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_json_non_finite_numbers_are_refused(tmp_path: Path, number: str) -> None:
    spec = _json_spec(tmp_path, number)
    code, out, _ = run("validate", str(spec))
    assert code == 1 and f"{spec}:9:" in out and "RP117" in out, out


def test_a_json_spec_may_name_its_schema(tmp_path: Path) -> None:
    spec = _json_spec(tmp_path, "5", extra='"$schema": "../schemas/spec.schema.json",')
    code, out, err = run("validate", str(spec))
    assert (code, out) == (0, ""), out + err


# ------------------------------------------------------------------------------ the spec file


def test_a_directory_named_like_a_spec_does_not_stop_the_others(tmp_path: Path) -> None:
    good = write(tmp_path, HEAD + HERO, "good.yaml")
    (tmp_path / "x.yaml").mkdir()
    bad = write(tmp_path, HEAD + HERO.replace("1920:1080", "1:1"), "bad.yaml")
    code, out, err = run("validate", str(good), str(tmp_path / "x.yaml"), str(bad))
    assert code == 1, err
    assert (
        f"{tmp_path / 'x.yaml'}:1:1: RP103 cannot read {tmp_path / 'x.yaml'}: is a directory" in out
    )
    assert f"{bad}:8:12: RP207" in out


def test_a_name_too_long_is_a_diagnostic_in_validate_and_plan(tmp_path: Path) -> None:
    name = str(tmp_path / ("a" * 300 + ".yaml"))
    for command in ("validate", "plan"):
        code, out, err = run(command, name)
        assert code == 1, (command, err)
        assert "RP103" in out and "name too long" in out, (command, out)


def test_an_unreadable_spec_is_a_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write(tmp_path, HEAD + HERO)
    real_open = os.open

    def refusing(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path) == str(spec):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing)
    doc = load_document(spec)
    [error] = doc.diagnostics
    assert error.code == "RP103" and "Permission denied" in error.message
    assert error.span is not None and error.span.path == str(spec)


def test_a_fifo_given_as_the_spec_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    done = run_bounded("validate", str(fifo))
    assert done.returncode == 1, done.stderr
    assert "RP103" in done.stdout and "not a regular file" in done.stdout


def test_a_spec_linked_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "spec.yaml"
    link.symlink_to("/dev/zero")
    for command in ("validate", "plan"):
        done = run_bounded(command, str(link))
        assert done.returncode == 1, done.stderr
        assert "RP103" in done.stdout and "not a regular file" in done.stdout


def test_a_spec_larger_than_the_file_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "spec.yaml"
    with big.open("wb") as handle:
        handle.write((HEAD + HERO).encode())
        handle.truncate(3 * GIB)  # sparse: nothing is written to disk
    done = run_bounded("validate", str(big))
    assert done.returncode == 1, done.stderr
    assert f"{big}:1:1: RP118" in done.stdout and "file_bytes" in done.stdout


def test_the_file_limit_can_be_raised_on_the_command_line(tmp_path: Path) -> None:
    spec = write(tmp_path, HEAD + "description: " + "x" * 5000 + "\n" + HERO)
    code, out, _ = run("validate", str(spec), "--limit", "file_bytes=4096")
    assert code == 1 and "RP118" in out
    assert run("validate", str(spec), "--limit", "file_bytes=10000")[0] == 0


def test_a_bad_limit_option_is_a_usage_error(tmp_path: Path) -> None:
    spec = write(tmp_path, HEAD + HERO)
    for option in ("nope=3", "generations=0", "generations=many", "generations"):
        code, _, err = run("validate", str(spec), "--limit", option)
        assert code == 2 and "--limit" in err, option
        assert "is not NAME=N" in err or "takes a whole number" in err, err


# ------------------------------------------------------------------------------ --var


def test_var_values_go_through_the_safe_loader(tmp_path: Path) -> None:
    spec = write(tmp_path, HEAD + HERO.replace("a lighthouse", "{{ x }}"))
    bomb = "[" + ", ".join(f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9))
    bomb = "[&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol], " + bomb[1:] + "]"
    cases = {
        "{a: !!bool maybe}": "RP100",
        "{a: !!python/object/apply:os.system [ls]}": "RP116",
        "[" * 5000 + "]" * 5000: "RP109",
        bomb: "RP109",
        "[.nan]": "RP117",
    }
    for value, code_ in cases.items():
        code, _, err = run("validate", str(spec), "--var", f"x={value}")
        assert code == 2, (value[:40], err)
        assert "--var x" in err and code_ in err, (value[:40], err)
        assert "internal error" not in err


def test_var_values_keep_their_meaning(tmp_path: Path) -> None:
    expected = {
        "5": 5,
        "true": True,
        "null": None,
        '["a", 1]': ["a", 1],
        "{a: 1, b: [x]}": {"a": 1, "b": ["x"]},
        "1e1": 10.0,
        "1:1": "1:1",
        "no": "no",
        "hello world": "hello world",
        "[x": "[x",
        "": "",
    }
    for value, data in expected.items():
        assert parse_vars((f"x={value}",)) == {"x": data}, value
    spec = write(tmp_path, HEAD + HERO.replace("a lighthouse", "shot {{ x }}"))
    for value in expected:
        code, out, err = run("validate", str(spec), "--var", f"x={value}")
        assert (code, out) == (0, ""), (value, out, err)


# ------------------------------------------------------------------------------ --catalog


def _catalog_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    for name in ("constraints.json", "overlay.yaml", "prices.yaml", "tiers.yaml"):
        shutil.copy(CATALOG_DIR / name, folder / name)
    return folder


@pytest.mark.parametrize(
    ("name", "change", "code_"),
    [
        (
            "overlay.yaml",
            lambda t: t.replace("third_party: true", "third_party: !!bool maybe", 1),
            "RP100",
        ),
        ("tiers.yaml", lambda t: t + "x: !!python/object/apply:os.system [ls]\n", "RP116"),
        (
            "constraints.json",
            lambda t: t[:-2] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
            "RP109",
        ),
        (
            "prices.yaml",
            lambda t: (
                "a: &a [x, x, x, x, x, x, x, x, x]\n"
                + "".join(
                    f"a{i}: &a{i} [" + ", ".join(["*a" if i == 1 else f"*a{i - 1}"] * 9) + "]\n"
                    for i in range(1, 9)
                )
                + t
            ),
            "RP109",
        ),
    ],
)
def test_a_hostile_catalog_is_a_usage_error_naming_the_place(
    tmp_path: Path, name: str, change: object, code_: str
) -> None:
    folder = _catalog_copy(tmp_path)
    path = folder / name
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(CatalogError, match=code_) as caught:
        load_catalog(folder)
    assert str(path) in str(caught.value)
    spec = write(tmp_path, HEAD + HERO)
    code, _, err = run("validate", str(spec), "--catalog", str(folder))
    assert code == 2 and code_ in err and "internal error" not in err


def test_a_catalog_price_must_be_finite_and_sane(tmp_path: Path) -> None:
    folder = _catalog_copy(tmp_path)
    prices = folder / "prices.yaml"
    text = prices.read_text(encoding="utf-8")
    prices.write_text(
        text.replace('credits: "17"', 'credits: "1' + "0" * 40 + '"', 1), encoding="utf-8"
    )
    with pytest.raises(CatalogError):
        load_catalog(folder)


def test_a_catalog_file_past_the_file_limit_is_refused(tmp_path: Path) -> None:
    folder = _catalog_copy(tmp_path)
    with (folder / "tiers.yaml").open("ab") as handle:
        handle.truncate(2 * GIB)
    with pytest.raises(CatalogError, match="RP118"):
        load_catalog(folder)


def test_the_packaged_catalog_reads_the_same_through_the_safe_loader(tmp_path: Path) -> None:
    copy = load_catalog(_catalog_copy(tmp_path))
    packaged = load_catalog()
    assert copy.digest == packaged.digest
    assert copy.constraints == packaged.constraints and copy.overlay == packaged.overlay
    assert copy.prices == packaged.prices and copy.tiers == packaged.tiers
