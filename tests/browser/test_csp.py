"""Every page under the Content-Security-Policy (server/security_headers.py), in
Chromium: the landing page, the provider portal, the operators' console (panels,
map, new incident) and a provider's offer link and the requester's tracking link
all work and make the browser refuse nothing."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import redis.asyncio as aioredis
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.gateways.models import SentMessage
from realtime.filter import PositionFix
from realtime.store import LiveStore
from registry.enums import Channel
from server.settings import Settings
from tests.browser.conftest import console_operator
from tests.conftest import unit
from tests.e2e.dispatch_support import PASSWORD, dispatch_world, login, new_job
from tests.support.server import ServerProcess

Sessions = async_sessionmaker[AsyncSession]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
"""Run before each page's own scripts (Playwright's init scripts are not subject
to the page's policy)."""


async def _violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__cspViolations")
    return found


async def _watched(context: BrowserContext) -> tuple[Page, list[str]]:
    """A page whose console messages about the policy are kept too."""
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    messages: list[str] = []
    page.on(
        "console",
        lambda message: (
            messages.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return page, messages


async def _sms_link(db: Sessions, kind: str) -> str:
    pattern = re.compile(rf"https?://\S+(/l/{kind}/[A-Za-z0-9_.\-]+)")
    async with asyncio.timeout(unit(5)):
        while True:
            async with db() as session:
                bodies = (await session.execute(select(SentMessage.body))).scalars().all()
            found = [m.group(1) for body in bodies if (m := pattern.search(body))]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)


async def test_the_landing_page_and_the_portal_run_under_the_policy(
    browser: Browser, live_server: ServerProcess
) -> None:
    context = await browser.new_context(locale="pt-BR")
    try:
        page, messages = await _watched(context)
        response = await page.goto(live_server.url + "/")
        assert response is not None
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        await expect(page.locator("#checks")).not_to_contain_text("Verificando")  # status.js ran
        await expect(page.locator("#login-card")).to_be_visible()
        assert await _violations(page) == []
        await page.goto(live_server.url + "/portal")
        await expect(page.locator("#login-card")).to_be_visible()  # portal.js ran
        assert await _violations(page) == [] and messages == []
    finally:
        await context.close()


async def test_the_console_runs_under_the_policy(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    await dispatch_world(db, 1)
    page = await console_operator(browser, live_server.url + "/console", "admin", PASSWORD)
    try:
        await expect(page.locator("#waiting")).to_be_visible()  # signed in
        await page.context.add_init_script(RECORD_VIOLATIONS)
        await page.reload()  # the console again, from the start, watched
        await expect(page.locator("#waiting")).to_be_visible()
        for route, shown in (("#/mapa", "#map.leaflet-container"), ("#/novo", "form, input")):
            await page.goto(live_server.url + "/console" + route)
            await expect(page.locator(shown).first).to_be_visible()
        await expect(page.locator("#view")).not_to_be_empty()
        assert await _violations(page) == []
    finally:
        await page.context.close()


async def test_the_offer_and_tracking_links_run_under_the_policy(
    browser: Browser,
    live_server: ServerProcess,
    db: Sessions,
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    """(``redis``: no provider position left by an earlier test, so no dot yet.)"""
    world = await dispatch_world(db, 1, channels=(Channel.LINK,))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await login(http)
        job_id = await new_job(http, world)
        made = await http.post(
            f"/api/v1/jobs/{job_id}/offers", json={"provider_id": world["p"][0], "channel": "link"}
        )
        assert made.status_code == 201, made.text
    context = await browser.new_context(locale="pt-BR", viewport={"width": 390, "height": 844})
    try:
        page, messages = await _watched(context)
        response = await page.goto(live_server.url + await _sms_link(db, "o"))
        assert response is not None and response.headers["referrer-policy"] == "no-referrer"
        await page.fill("input[name=eta_min]", "15")
        await page.click("button.yes")  # a form post, and its redirect (form-action 'self')
        await expect(page.locator("dl")).to_contain_text("+5511988887777")
        await page.get_by_role("button", name="Estou a caminho").click()  # sends the tracking link
        await expect(page.locator("dl")).to_contain_text("A caminho")
        assert await _violations(page) == []

        tracking = await _sms_link(db, "t")
        async with page.expect_response(f"**{tracking}/state") as polled:  # tracking.js ran
            await page.goto(live_server.url + tracking)
        assert (await polled.value).status == 200
        await expect(page.locator("#status")).to_have_text("A caminho")
        dot = page.locator("#provider")
        await expect(dot).to_have_attribute("display", "none")  # no position yet
        fix = PositionFix(-23.5605, -46.6400, 8.0, int(time.time() * 1000))
        await LiveStore(redis, settings.redis_prefix).write_positions(
            [(world["p"][0], fix, fix.time_ms)]
        )
        await page.reload()
        await expect(dot).to_have_attribute("transform", re.compile("translate"))
        assert await dot.get_attribute("display") is None  # shown, without a style attribute
        assert await _violations(page) == [] and messages == []
    finally:
        await context.close()
