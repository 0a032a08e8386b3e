"""Helpers for the HTML report's tests: runs that write a report, and a small HTML reader.

Imported as ``support.html_report`` by the ``test_html_report*`` modules (pytest puts
``tests/`` on ``sys.path``); it holds no tests of its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from runway_plan.cli import main
from runway_plan.emulator import Fault, FaultPlan, FaultRule
from support.execute import KEY, SPEED, copy_specs, emulator, served, write_spec

HOSTILE_NAME = "x\"'><script>alert(1)</script></textarea><img src=x onerror=alert(2)>"
HOSTILE_PROMPT = (
    '</textarea><script>alert(3)</script><a href="javascript:alert(4)">click</a> '
    "javascript:alert(5) ' \" & <!-- -->"
)
HOSTILE_SPEC = f"""\
version: 1
name: {json.dumps(HOSTILE_NAME)}
description: "<iframe src=javascript:alert(6)></iframe>"
vars:
  evil: {json.dumps(HOSTILE_PROMPT)}
steps:
  hero:
    endpoint: text_to_image
    model: gen4_image
    promptText: "{{{{ evil }}}}"
    ratio: "1920:1080"
  shot:
    endpoint: image_to_video
    model: gen4_turbo
    promptImage: "@hero"
    promptText: "javascript:alert(7)"
    ratio: "1280:720"
    duration: 5
"""
"""A spec whose name and prompts try to break out of the page at every turn."""

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the CLI in process: exit code, standard output, standard error."""
    result = CliRunner().invoke(main, list(args), env={"RUNWAYML_API_SECRET": KEY})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def report_path(text: str) -> Path:
    """The page a ``report`` or ``run --report`` said it wrote."""
    found = re.search(r"^report \((?:run \d+|plan)\): (.+)$", text, re.MULTILINE)
    assert found is not None, text
    return Path(found.group(1))


def credits(text: str) -> tuple[Decimal, Decimal] | None:
    """A figure as the page shows it (``8``, ``1,250``, ``85-90``) as (low, high); None for
    ``–`` (nothing billed)."""
    text = text.strip().replace(",", "")
    if text == "–":
        return None
    low, _, high = text.partition("-")
    return Decimal(low), Decimal(high or low)


def expected(value: Any) -> tuple[Decimal, Decimal] | None:
    """A manifest figure (a string, or ``{"low", "high"}``) as (low, high)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return Decimal(value["low"]), Decimal(value["high"])
    return Decimal(value), Decimal(value)


@dataclass
class Element:
    """An HTML element: tag, attributes, children and text."""

    tag: str
    attrs: dict[str, str]
    children: list[Element] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    def text(self) -> str:
        """All text inside, as the page shows it (entities decoded)."""
        return "".join(self.parts) + "".join(c.text() for c in self.children)

    def iter(self) -> list[Element]:
        """This element and every element inside it, in document order."""
        found = [self]
        for child in self.children:
            found += child.iter()
        return found

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements inside with ``tag`` and these attribute values (``class_`` for class:
        one of its classes)."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        found = []
        for element in self.iter()[1:]:
            if tag is not None and element.tag != tag:
                continue
            ok = True
            for name, value in wanted.items():
                have = element.attrs.get(name)
                if name == "class":
                    ok = ok and value in (have or "").split()
                else:
                    ok = ok and have == value
            if ok:
                found.append(element)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Element:
        """The only element inside matching (see :meth:`find_all`)."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        holder = self.stack[-1]
        if holder.children:
            holder.children.append(Element("#text", {}, parts=[data]))
        else:
            holder.parts.append(data)


def parse_html(text: str) -> Element:
    """HTML (or inline SVG) text as a tree of elements."""
    reader = _Reader()
    reader.feed(text)
    reader.close()
    return reader.root


def read_page(path: Path) -> Element:
    """The page at ``path`` as a tree of elements."""
    return parse_html(path.read_text(encoding="utf-8"))


def failing_run(tmp_path: Path) -> tuple[Path, Path, dict[str, Any], int]:
    """``launch.yaml`` run with ``--report`` on a loopback emulator whose dubbing task fails
    for a safety reason: the spec, the report, the manifest and the run's exit code."""
    faults = FaultPlan(
        rules=[
            FaultRule(
                Fault.TASK_FAILED,
                model="eleven_voice_dubbing",
                nth=(1,),
                failure_code="SAFETY.INPUT.AUDIO",
            )
        ]
    )
    emu = emulator(faults=faults)
    spec = copy_specs(tmp_path) / "launch.yaml"
    try:
        with served(emu) as url:
            code, out, _ = invoke(
                "run", str(spec), "--base-url", url, "--speed", str(SPEED), "--yes", "--report"
            )
    finally:
        emu.close()
    page = report_path(out)
    manifest = json.loads((page.parent / "manifest.json").read_text(encoding="utf-8"))
    return spec, page, manifest, code


def hostile_run(tmp_path: Path) -> tuple[Path, Path]:
    """:data:`HOSTILE_SPEC` run on the emulator with ``--report``: the spec and the report."""
    spec = write_spec(tmp_path / "hostile", HOSTILE_SPEC)
    code, out, err = invoke("run", str(spec), "--emulate", "--speed", "500", "--report")
    assert code == 0, out + err
    return spec, report_path(out)
