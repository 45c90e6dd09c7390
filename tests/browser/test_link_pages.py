"""The signed-link pages in Chromium, on a phone: a provider takes a job from its
SMS link and reports it en route; the requester opens the tracking link it gets."""

from __future__ import annotations

import asyncio
import re

import httpx
from playwright.async_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.gateways.models import SentMessage
from registry.enums import Channel
from tests.browser.conftest import screenshot_path
from tests.conftest import unit
from tests.e2e.dispatch_support import dispatch_world, login, new_job
from tests.support.server import ServerProcess

Sessions = async_sessionmaker[AsyncSession]


async def _link(db: Sessions, kind: str) -> str:
    """The path of the newest ``/l/<kind>/`` link in a stored SMS."""
    pattern = re.compile(rf"https?://\S+(/l/{kind}/[A-Za-z0-9_.\-]+)")
    async with asyncio.timeout(unit(5)):
        while True:
            async with db() as session:
                bodies = (await session.execute(select(SentMessage.body))).scalars().all()
            found = [m.group(1) for body in bodies if (m := pattern.search(body))]
            if found:
                return found[-1]
            await asyncio.sleep(0.05)


async def test_a_provider_by_link_and_the_requester_following_it(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.LINK,))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await login(http)
        job_id = await new_job(http, world)
        made = await http.post(
            f"/api/v1/jobs/{job_id}/offers", json={"provider_id": world["p"][0], "channel": "link"}
        )
        assert made.status_code == 201, made.text
    offer_path = await _link(db, "o")
    context = await browser.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 390, "height": 844}
    )
    page = await context.new_page()
    try:
        await page.goto(live_server.url + offer_path)
        await expect(page.locator("h1")).to_have_text("Olá, Guincho 0")
        await expect(page.locator("dl")).to_contain_text("Rua Vergueiro")
        await expect(page.locator("dl")).not_to_contain_text("98888")
        await page.screenshot(path=str(screenshot_path("link-offer")), full_page=True)
        await page.fill("input[name=eta_min]", "15")
        await page.click("button.yes")
        await expect(page.locator("dl")).to_contain_text("+5511988887777")
        await page.get_by_role("button", name="Estou a caminho").click()
        await expect(page.locator("dl")).to_contain_text("A caminho")
        await page.screenshot(path=str(screenshot_path("link-job")), full_page=True)

        await page.goto(live_server.url + await _link(db, "t"))
        await expect(page.locator("h1")).to_have_text("Acompanhe o atendimento")
        await expect(page.locator("#status")).to_have_text("A caminho")
        await expect(page.locator("body")).not_to_contain_text("98888")
        await page.screenshot(path=str(screenshot_path("tracking")), full_page=True)
    finally:
        await context.close()
