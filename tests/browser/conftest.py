"""Browser tests: Debian's Chromium driven by Playwright (never a downloaded browser).

Screenshots go to ``.var/screenshots/`` (ignored by git) unless ``SCREENSHOTS_DIR``
names another folder (relative to the project's root): ``SCREENSHOTS_DIR=docs/screenshots``
retakes the ones the README and docs/console.md show.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from server.settings import Settings
from tests.support.server import ServerProcess, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / ".var" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 1280, "height": 800}
    )
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
def live_server(settings: Settings, tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(settings, tmp_path) as server:
        yield server


def screenshots_dir() -> Path:
    """``SCREENSHOTS_DIR`` (relative to the project's root) or ``.var/screenshots/``."""
    chosen = os.environ.get("SCREENSHOTS_DIR", "").strip()
    return PROJECT_ROOT / chosen if chosen else SCREENSHOTS


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot for people to look at (see the module's
    docstring)."""
    folder = screenshots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


async def console_operator(browser: Browser, url: str, login: str, password: str) -> Page:
    """A laptop-sized page of the operators' console at ``url`` (``/console#...``),
    signed in."""
    context = await browser.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 1366, "height": 860}
    )
    page = await context.new_page()
    await page.goto(url)
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("#login-form button")
    return page
