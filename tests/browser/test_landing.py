"""The landing page in Chromium: it renders in pt-BR and shows the services' state."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot_path
from tests.conftest import unit
from tests.support.server import ServerProcess


async def test_landing_page_shows_every_service_ok(page: Page, live_server: ServerProcess) -> None:
    await page.goto(live_server.url + "/")
    await expect(page.locator("h1")).to_have_text("Acionar está no ar")
    checks = page.locator("#checks li")
    await expect(checks).to_have_count(3, timeout=unit(5) * 1000)
    await expect(page.locator("#checks li.ok")).to_have_count(3)
    await expect(checks.first).to_have_text("Banco de dados (PostgreSQL): ok")
    await page.screenshot(path=screenshot_path("landing"), full_page=True)
