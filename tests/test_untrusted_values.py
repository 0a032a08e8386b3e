"""Untrusted specs, the values part: templates, numbers and rules never raise or hang.

Every number in a request is finite and within 64 bits, whether the spec wrote it or a
template made it, and is checked against its field's range; rules read any value a spec can
hold; templates nest no deeper than Python can compile.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runway_plan.catalog import load_catalog
from runway_plan.cli import main
from runway_plan.validate import validate_request

CATALOG = load_catalog()
GIB = 1024**3


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def _limits(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run_bounded(*args: str, memory: int = GIB, cpu: int = 60) -> subprocess.CompletedProcess[str]:
    """``runway-plan ARGS`` in a child limited to ``memory`` bytes and ``cpu`` CPU seconds
    (a hang spins the CPU, so the limit ends it)."""
    return subprocess.run(
        [sys.executable, "-m", "runway_plan", *args],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: _limits(memory, cpu),
        env={**os.environ, "RUNWAY_PLAN_DEBUG": ""},
        check=False,
    )


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


IMAGE = """\
version: 1
name: t
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "{prompt}"
    ratio: "1920:1080"
"""

SOUND = """\
version: 1
name: t
prices: {{eleven_text_to_sound_v2: 2}}
steps:
  sfx:
    endpoint: sound_effect
    model: eleven_text_to_sound_v2
    promptText: rain on a tin roof
    duration: {duration}
"""


# ------------------------------------------------------------------------------ templates


@pytest.mark.parametrize(
    "prompt",
    [
        "{% for i in [1] %}" * 21 + "x" + "{% endfor %}" * 21,
        "{% if 1 %}" * 99 + "x" + "{% endif %}" * 99,
        "{% for i in [1] %}{% if 1 %}" * 5 + "x" + "{% endif %}{% endfor %}" * 5,
        "{{ " + "(" * 150 + "1" + ")" * 150 + " }}",
        "{{ " + "-" * 180 + "1 }}",
        "{{ " + "x|default(" * 120 + "1" + ")" * 120 + " }}",
        "{{ " + "[" * 190 + "]" * 190 + " }}",
        "{{ " + "not " * 400 + "1 }}",
    ],
    ids=["21-for", "99-if", "10-mixed", "parens", "minus", "filters", "lists", "not"],
)
def test_deeply_nested_templates_are_a_diagnostic(tmp_path: Path, prompt: str) -> None:
    spec = write(tmp_path, IMAGE.format(prompt=prompt))
    code, out, err = run("validate", str(spec))
    assert code == 1, err
    assert f"{spec}:7:17: RP112" in out, out
    assert "internal error" not in err


def test_blocks_nested_eight_deep_and_elif_chains_still_render(tmp_path: Path) -> None:
    nested = "{% for i in [1] %}{% if 1 %}" * 4 + "x" + "{% endif %}{% endfor %}" * 4
    chain = "{% if 0 %}a" + "{% elif 0 %}b" * 60 + "{% else %}c{% endif %}"
    long = "{{ " + " ~ ".join(["'a'"] * 300) + " }}"
    for prompt in (nested, chain, long):
        spec = write(tmp_path, IMAGE.format(prompt=prompt))
        assert run("validate", str(spec))[:2] == (0, ""), prompt


# ------------------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("duration", "code_"),
    [
        (".nan", "RP117"),
        (".inf", "RP117"),
        ("\"{{ 'nan'|float }}\"", "RP117"),
        ('"{{ 1e308 * 10 }}"', "RP117"),
        ('"{{ 10 ** 400 }}"', "RP117"),
        ("1" + "0" * 400, "RP117"),
        ("1e999", "RP206"),
        ("31", "RP208"),
    ],
)
def test_a_number_no_field_can_take_never_reaches_the_planner(
    tmp_path: Path, duration: str, code_: str
) -> None:
    spec = write(tmp_path, SOUND.format(duration=duration))
    for command in ("validate", "plan"):
        done = run_bounded(command, str(spec))
        assert done.returncode == 1, (command, done.stderr)
        assert f"{spec}:9:15: {code_}" in done.stdout, (command, done.stdout)


def _duration_without_a_floor() -> list[tuple[str, str]]:
    """Every (endpoint, model) whose SDK type of ``duration`` has no lower bound."""
    found = []
    for endpoint in CATALOG.endpoints.values():
        for name, spec in endpoint.models.items():
            field = spec.fields.get("duration")
            variants = getattr(field.type, "variants", (field.type,)) if field else ()
            numeric = [v for v in variants if v.kind in ("integer", "number")]
            if any(v.minimum is None for v in numeric):  # type: ignore[union-attr]
                found.append((endpoint.name, name))
    return found


@pytest.mark.parametrize(("endpoint", "model"), _duration_without_a_floor())
def test_a_negative_duration_is_refused_where_the_sdk_gives_no_floor(
    tmp_path: Path, endpoint: str, model: str
) -> None:
    # Found by fuzzing: mirelo_sfx_2_0 with duration -1.0e+308 (or -3) validated clean, then
    # plan failed with an internal error (a negative latency in the schedule).
    spec = write(
        tmp_path,
        f"version: 1\nname: t\nsteps:\n  a:\n    endpoint: {endpoint}\n    model: {model}\n"
        "    duration: -3\n",
    )
    code, out, err = run("plan", str(spec))
    assert code == 1, out + err
    assert f"{spec}:7:15: RP208 duration -3 is out of range for {model}" in out


def test_a_number_within_the_range_plans(tmp_path: Path) -> None:
    spec = write(tmp_path, SOUND.format(duration="12.5"))
    code, out, err = run("plan", str(spec))
    assert code == 0, out + err


@pytest.mark.parametrize(
    ("prices", "code_"),
    [
        ("{gen4_image: 1e999}", "RP104"),
        ("{gen4_image: 12345678901234567890123456789}", "RP117"),
        ("{gen4_image: '12345678901234567890123456789'}", "RP104"),
        ("{gen4_image: .inf}", "RP117"),
        ("{gen4_image: -1}", "RP104"),
        ("{gen4_image: 0.0000001}", "RP104"),
    ],
)
def test_prices_are_finite_and_sane(tmp_path: Path, prices: str, code_: str) -> None:
    spec = write(tmp_path, IMAGE.format(prompt="x") + f"prices: {prices}\n")
    code, out, err = run("plan", str(spec))
    assert code == 1, err
    assert f"{spec}:9:22: {code_}" in out, out
    assert "internal error" not in err


def test_a_price_at_the_ceiling_plans_and_prints(tmp_path: Path) -> None:
    spec = write(
        tmp_path, IMAGE.format(prompt="x") + "prices: {gen4_image: '999999999999.999999'}\n"
    )
    code, out, err = run("plan", str(spec))
    assert code == 1 and "RP402" in out, out + err  # over the monthly cap, and said so
    assert "999,999,999,999.999999" in out


@pytest.mark.parametrize("budget", ["1" + "0" * 400, "'1e999'", ".nan", "-5"])
def test_budgets_are_finite_and_sane(tmp_path: Path, budget: str) -> None:
    spec = write(tmp_path, IMAGE.format(prompt="x") + f"budget: {{max_credits: {budget}}}\n")
    code, out, err = run("plan", str(spec))
    assert code == 1 and f"{spec}:9:23: RP1" in out, out + err


def test_an_api_body_with_huge_numbers_is_refused_not_raised() -> None:
    body = {
        "model": "gen4_turbo",
        "promptImage": "https://example.com/a.png",
        "ratio": "1280:720",
        "duration": 10**400,
        "seed": 10**30,
    }
    issues = validate_request(CATALOG, "image_to_video", body)
    assert {(issue.path, issue.code) for issue in issues} >= {
        (("duration",), "RP208"),
        (("seed",), "RP208"),
    }
    assert all(len(issue.message) < 200 for issue in issues)
    body = {"model": "eleven_text_to_sound_v2", "promptText": "rain", "duration": float("nan")}
    [issue] = validate_request(CATALOG, "sound_effect", body)
    assert (issue.path, issue.code) == (("duration",), "RP208")


# ------------------------------------------------------------------------------ rules and messages


def test_a_keyframe_position_that_is_a_list_is_a_diagnostic(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "version: 1\nname: t\nsteps:\n  clip:\n    endpoint: image_to_video\n"
        "    model: veo3.1\n"
        "    promptImage: [{uri: 'https://example.com/a.png', position: [first]}]\n"
        "    ratio: '1280:720'\n    duration: 8\n",
    )
    code, out, err = run("validate", str(spec))
    assert code == 1 and "internal error" not in err
    assert f"{spec}:7:" in out and "position" in out, out


def test_an_odd_ratio_gets_no_suggestion_rather_than_a_crash(tmp_path: Path) -> None:
    for ratio in ("1e-320:1e10", "1e400:1", "inf:1", "nan:nan", "0:0", "²:1"):
        spec = write(tmp_path, IMAGE.format(prompt="x").replace("1920:1080", ratio))
        code, out, err = run("validate", str(spec))
        assert code == 1 and "RP207" in out and "internal error" not in err, (ratio, err)


def test_a_tag_with_a_trailing_newline_is_not_a_tag(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "version: 1\nname: t\nsteps:\n  hero:\n    endpoint: text_to_image\n"
        "    model: gen4_image\n    promptText: '@cat here'\n    ratio: '1920:1080'\n"
        '    referenceImages: [{uri: "https://example.com/a.png", tag: "cat\\n"}]\n',
    )
    code, out, _ = run("validate", str(spec))
    assert code == 1 and "RP211" in out and "must be 3-16 letters" in out, out


def test_a_reference_index_too_long_for_an_integer_is_not_a_reference(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        IMAGE.format(prompt="x")
        + "  clip:\n    endpoint: image_to_video\n    model: gen4_turbo\n"
        + f"    promptImage: '@hero[{'9' * 5000}]'\n    ratio: '1280:720'\n    duration: 5\n",
    )
    code, out, err = run("validate", str(spec))
    assert code == 1 and "internal error" not in err
    assert f"{spec}:12:18: RP300" in out and "not a valid step reference" in out


def test_messages_echo_a_long_value_cut_short(tmp_path: Path) -> None:
    spec = write(tmp_path, IMAGE.format(prompt="x").replace("1920:1080", "9" * 50_000))
    code, out, _ = run("validate", str(spec))
    assert code == 1 and "RP207" in out
    assert "(50,000 characters)" in out and len(out) < 2_000


@pytest.mark.parametrize(
    "option",
    [
        ("--latency", "gen4_image=nan"),
        ("--latency", "gen4_image=1e400"),
        ("--deadline", "nan"),
        ("--deadline", "inf"),
        ("--deadline", "9" * 400 + "d"),
        ("--deadline", "-5"),
    ],
)
def test_plan_options_take_finite_durations(option: tuple[str, str]) -> None:
    root = Path(__file__).resolve().parents[1]
    done = run_bounded("plan", str(root / "specs" / "launch.yaml"), *option)
    assert done.returncode == 2, (option, done.stdout[-500:], done.stderr)
    assert option[0] in done.stderr and "internal error" not in done.stderr


def test_the_scheduler_refuses_a_latency_that_would_never_end() -> None:
    script = (
        "from runway_plan.plan import Limits, schedule\n"
        "for latency in (float('nan'), float('inf'), -1.0):\n"
        "    try:\n"
        "        schedule(['a'], [], {'a': latency}, {'a': 'p'}, {'p': Limits(1, 1)})\n"
        "    except ValueError as exc:\n"
        "        print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: _limits(GIB, 60),  # NaN used to keep the event loop going forever
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("is not a finite number of seconds") == 3
