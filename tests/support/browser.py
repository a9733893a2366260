"""Headless Debian Chromium for browser tests (Playwright drives it; no browser download),
and the checks the pages' browser tests share."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"Browser tests need Debian's chromium at {CHROMIUM}: "
                           "apt-get install chromium (.ci/run does).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def page_problems(page: Page) -> list[str]:
    """A list that fills with what went wrong on ``page`` from now on: console errors,
    uncaught exceptions, answers of 400 and more, and Content-Security-Policy refusals
    (reported to the console by a script added to every document). Failed loads are told
    by their responses; the browser's own favicon.ico request is not the page's."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Failed to load" not in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and "favicon" not in response.url else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', "
                         "event => console.error('CSP: ' + event.violatedDirective))")
    return problems


def chart_drawn(page: Page, selector: str) -> None:
    """Assert that uPlot drew the chart in ``selector``: one canvas, as wide as a page's
    chart at a desktop width, with more than a few pixels painted (axes, grid, series)."""
    canvas = page.locator(f"{selector} canvas")
    expect(canvas).to_have_count(1)
    box = canvas.bounding_box()
    assert box["width"] > 600 and box["height"] > 150, (selector, box)
    painted = page.evaluate("""selector => {
        const canvas = document.querySelector(selector);
        const pixels = canvas.getContext("2d")
            .getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
        return painted;
    }""", f"{selector} canvas")
    assert painted > 1000, (selector, painted)
