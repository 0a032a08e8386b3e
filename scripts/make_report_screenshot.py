"""Write ``docs/report-screenshot.png``: the HTML report of an example spec's run on the
emulator, as headless Chromium shows it (the README links the picture).

    python scripts/make_report_screenshot.py [--spec storyboard.yaml] [--output FILE]

It copies ``specs/`` to a temporary folder, runs the spec there with
``runway-plan run --emulate --report``, opens the report in Debian's Chromium
(``apt-get install chromium``) driven by Playwright's Python package with that system browser
(``playwright install`` is never needed), waits until every image and video has loaded, and
saves the top of the page, 1200 pixels wide, as a palette PNG.  Needs the ``test`` extra.

The browser set-up here (:func:`chromium_page`, :func:`load_media`) is the one the browser
tests use.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("RUNWAY_PLAN_CHROMIUM", "/usr/bin/chromium"))
"""Debian's Chromium (``RUNWAY_PLAN_CHROMIUM`` names another build)."""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
)
"""No background connections (a closed network refuses them), no sandbox (root in CI), and
no sound."""

WIDTH = 1200
HEIGHT = 1750


@contextlib.contextmanager
def chromium_page(width: int = WIDTH, height: int = HEIGHT) -> Iterator[Any]:
    """A Playwright page in a fresh headless Chromium with an empty profile."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="runway-plan-chromium-") as profile,
        sync_playwright() as driver,
    ):
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=list(FLAGS),
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def wait_until(page: Any, condition: str, timeout: float = 60.0) -> None:
    """Wait until the JavaScript expression ``condition`` holds in ``page``, asking every
    0.1 s (Playwright's own ``wait_for_function`` compiles its predicate with ``eval``,
    which the report's Content-Security-Policy forbids); TimeoutError past ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:g} s: {condition}")
        page.wait_for_timeout(100)


def load_media(page: Any) -> list[str]:
    """Bring every image, video and audio element into view (the report loads images
    lazily), wait until each has loaded or failed, and go back to the top; the ones that
    failed (an image without pixels, a player without a frame)."""
    for element in page.query_selector_all("img, video, audio"):
        element.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    wait_until(page, "[...document.images].every(i => i.complete)")
    wait_until(
        page,
        "[...document.querySelectorAll('video, audio')]"
        ".every(m => m.readyState >= 2 || m.error !== null)",
    )
    broken: list[str] = page.evaluate(
        """() => [
            ...[...document.images].filter(i => !(i.naturalWidth > 0)),
            ...[...document.querySelectorAll('video, audio')].filter(m => m.readyState < 2),
        ].map(m => m.currentSrc || m.getAttribute('src'))"""
    )
    return broken


def run_report(spec: Path, speed: float = 50.0) -> Path:
    """Run ``spec`` on the emulator with ``--report`` (from the folder above its own, so
    the page names it ``specs/<name>``); the report's path."""
    command = [sys.executable, "-m", "runway_plan", "run", str(spec), "--emulate", "--report"]
    done = subprocess.run(
        [*command, "--speed", str(speed)],
        cwd=spec.parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"^report \(run \d+\): (.+)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the run failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return spec.parent.parent / found.group(1)


def optimised_png(png: bytes) -> bytes:
    """``png`` reduced to a 256-colour palette and compressed as far as PNG goes."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Run the example, screenshot its report, write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="storyboard.yaml", help="an example in specs/")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "report-screenshot.png")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="runway-plan-screenshot-") as scratch:
        specs = Path(scratch) / "specs"
        shutil.copytree(
            ROOT / "specs", specs, ignore=shutil.ignore_patterns("outputs", ".runway-plan")
        )
        report = run_report(specs / args.spec)
        with chromium_page() as page:
            page.goto(report.as_uri())
            broken = load_media(page)
            if broken:
                raise SystemExit(f"media that did not load: {broken}")
            png = page.screenshot(full_page=False)
    args.output.write_bytes(optimised_png(png))
    print(f"{args.output} ({args.output.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
