"""The run report in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright with that system browser) opens the report of an emulated run, plays every
medium, reads the figures and takes a screenshot.

The browser set-up is the one ``scripts/make_report_screenshot.py`` uses for the README's
picture.  These tests skip only where Chromium is not installed and cannot be (``.ci/run``
installs it; under ``CI`` a missing browser is a failure, never a skip).
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.html_report import (
    HOSTILE_NAME,
    HOSTILE_PROMPT,
    credits,
    expected,
    failing_run,
    hostile_run,
)

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    path = ROOT / "scripts" / "make_report_screenshot.py"
    spec = importlib.util.spec_from_file_location("make_report_screenshot", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


def _browser_or_skip() -> None:
    problem = None
    if not os.access(SCRIPT.CHROMIUM, os.X_OK):
        problem = (
            f"Chromium is not installed at {SCRIPT.CHROMIUM} (Debian: apt-get install chromium)"
        )
    elif importlib.util.find_spec("playwright") is None:
        problem = "Playwright's Python package is not installed (pip install -e '.[test]')"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{problem}; .ci/run installs it, so CI never skips these tests")
    pytest.skip(f"{problem}: the browser tests need it")


class Visit:
    """A page opened in the browser, and everything it asked for or said."""

    def __init__(self, page: Any, url: str) -> None:
        self.page = page
        self.requests: list[str] = []
        self.console: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"error: {error}"))
        page.on("dialog", self._dialog)
        page.goto(url)
        self.broken = SCRIPT.load_media(page)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@dataclass(frozen=True)
class Reports:
    """The pages the tests open: a run whose dubbing failed (with its manifest), and the run
    of a hostile spec."""

    failed: Path
    manifest: dict[str, Any]
    hostile: Path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """The runs, made before the browser starts (Playwright's synchronous API holds an event
    loop, and a run starts its own)."""
    _browser_or_skip()
    _, failed, manifest, code = failing_run(tmp_path_factory.mktemp("failed"))
    assert code == 1
    _, hostile = hostile_run(tmp_path_factory.mktemp("hostile"))
    return Reports(failed, manifest, hostile)


@pytest.fixture(scope="module")
def browser(reports: Reports) -> Iterator[Any]:
    """One headless Chromium page for the module."""
    with SCRIPT.chromium_page() as page:
        yield page


@pytest.fixture(scope="module")
def failed_run(reports: Reports, browser: Any) -> tuple[Visit, Path, dict[str, Any]]:
    """The report of ``launch.yaml`` on the emulator (its dubbing failed), opened."""
    return Visit(browser, reports.failed.as_uri()), reports.failed, reports.manifest


def test_every_image_loads_and_every_video_and_audio_plays(
    failed_run: tuple[Visit, Path, dict[str, Any]],
) -> None:
    visit, _, manifest = failed_run
    assert visit.broken == []
    outputs = [o for g in manifest["generations"] for o in g["outputs"]]
    media = visit.page.evaluate(
        """() => [...document.querySelectorAll('img, video, audio')].map(m => ({
            tag: m.tagName.toLowerCase(), ref: m.closest('figure').dataset.ref,
            width: m.naturalWidth ?? m.videoWidth, ready: m.readyState ?? 4,
            error: m.error ? m.error.code : null}))"""
    )
    kinds = {"image": "img", "video": "video", "audio": "audio"}
    assert sorted((m["ref"], m["tag"]) for m in media) == sorted(
        (o["ref"], kinds[o["mime"].split("/")[0]]) for o in outputs
    )
    for item in media:
        assert item["error"] is None, item
        assert item["ready"] >= 2, item
        if item["tag"] != "audio":
            assert item["width"] > 0, item
    played = visit.page.evaluate(
        """async () => {
            const players = [...document.querySelectorAll('video, audio')];
            for (const m of players) { m.muted = true; await m.play(); }
            return players.length; }"""
    )
    assert played == sum(1 for o in outputs if not o["mime"].startswith("image/"))
    SCRIPT.wait_until(
        visit.page, "[...document.querySelectorAll('video, audio')].every(m => m.currentTime > 0)"
    )
    visit.page.evaluate("document.querySelectorAll('video, audio').forEach(m => m.pause())")
    assert all(url.startswith("file://") for url in visit.requests), visit.requests
    assert not visit.console, visit.console


def test_the_figures_in_the_page_are_the_manifests(
    failed_run: tuple[Visit, Path, dict[str, Any]],
) -> None:
    visit, _, manifest = failed_run

    def text(selector: str) -> str:
        return str(visit.page.inner_text(selector))

    assert credits(text("#total-planned")) == expected(manifest["planned"])
    assert credits(text("#total-billed-this-run")) == expected(manifest["billedThisRun"])
    for gen in manifest["generations"]:
        row = f'tr[data-key="{gen["key"]}"]'
        assert credits(text(f"{row} td.planned")) == expected(gen["planned"])
        assert credits(text(f"{row} td.billed")) == expected(gen["billedCredits"])
        assert credits(text(f"{row} td.this-run")) == expected(gen["billedThisRun"])
        assert text(f"{row} .badge") == gen["outcome"]
    failure = text('details[data-key="dub_es"] td.failure')
    assert failure == "SAFETY.INPUT.AUDIO: The input did not pass content moderation."


def test_the_screenshot_is_not_blank(
    failed_run: tuple[Visit, Path, dict[str, Any]], tmp_path: Path
) -> None:
    from PIL import Image

    visit, _, _ = failed_run
    visit.page.evaluate("window.scrollTo(0, 0)")
    png = visit.page.screenshot(full_page=True)
    (tmp_path / "report.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    assert width >= 1000 and height > 1500
    colours = image.getcolors(maxcolors=width * height)
    assert colours is not None
    commonest = max(count for count, _ in colours)
    assert len(colours) > 200  # text, charts, frames of the outputs
    assert commonest < 0.9 * width * height  # not one colour all over


def test_a_hostile_spec_runs_nothing_in_the_browser(reports: Reports, browser: Any) -> None:
    visit = Visit(browser, reports.hostile.as_uri())
    assert visit.dialogs == [] and visit.broken == []
    assert visit.page.evaluate("document.querySelectorAll('script, iframe').length") == 0
    assert visit.page.inner_text("h1") == HOSTILE_NAME
    assert visit.page.text_content('details[data-key="hero"] blockquote') == HOSTILE_PROMPT
    hrefs = visit.page.evaluate(
        "[...document.querySelectorAll('[href]')]"
        ".map(a => new URL(a.getAttribute('href'), document.baseURI).href)"
    )
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    assert all(url.startswith("file://") for url in visit.requests), visit.requests
    assert not visit.console, visit.console
