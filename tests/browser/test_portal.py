"""The provider web portal in Chromium, on a phone-sized screen: sign in, an offer
arrives live, accept it with an ETA, report the job's statuses."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.enums import Channel
from tests.browser.conftest import screenshot_path
from tests.e2e.dispatch_support import dispatch_world, login, new_job, provider_user
from tests.support.server import ServerProcess

PASSWORD = "senha-do-guincho"


async def _offer_by_web(server: ServerProcess, world: dict[str, Any]) -> int:
    async with httpx.AsyncClient(base_url=server.url) as http:
        await login(http)
        job_id = await new_job(http, world)
        found = await http.get(f"/api/v1/jobs/{job_id}/candidates")
        [candidate] = found.json()["candidates"]
        assert candidate["channels_now"] == ["web"]  # the portal page is open
        made = await http.post(
            f"/api/v1/jobs/{job_id}/offers",
            json={"provider_id": world["p"][0], "channel": "web"},
        )
        assert made.status_code == 201, made.text
        return job_id


async def _sign_in(page: Page, url: str, login_name: str) -> None:
    await page.goto(url + "/portal")
    await page.fill("#login", login_name)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button")


async def test_a_provider_takes_a_job_on_the_portal(
    browser: Browser, live_server: ServerProcess, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.WEB,))
    await provider_user(db, world["p"][0], "guincho", PASSWORD)
    context = await browser.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 390, "height": 844}
    )
    page = await context.new_page()
    try:
        await _sign_in(page, live_server.url, "guincho")
        await expect(page.locator("#hello")).to_have_text("Olá, Guincho 0")
        await expect(page.locator("#conn")).to_have_text("conectado")

        job_id = await _offer_by_web(live_server, world)
        offer = page.locator(".card.offer")
        await expect(offer.locator("h3")).to_have_text("Reboque")
        await expect(offer).to_contain_text("Rua Vergueiro")
        await expect(offer).not_to_contain_text("98888")  # no requester before accepting
        await expect(offer.locator("select option")).to_have_text(["Sem viatura"])
        await page.screenshot(path=str(screenshot_path("portal-offer")), full_page=True)

        await offer.locator("input").fill("20")
        await offer.locator("button.yes").click()
        await expect(page.locator("#status-line")).to_have_text(
            "Atendimento aceito. Siga para o local."
        )
        job = page.locator(".card.job")
        await expect(job.locator("h3")).to_have_text("Prestador designado")
        await expect(job).to_contain_text("+5511988887777")
        await expect(page.locator(".card.offer")).to_have_count(0)
        await job.get_by_role("button", name="Estou a caminho").click()
        await expect(job.locator("h3")).to_have_text("A caminho")
        await page.screenshot(path=str(screenshot_path("portal-job")), full_page=True)

        async with httpx.AsyncClient(base_url=live_server.url) as http:
            await login(http)
            offers = (await http.get(f"/api/v1/jobs/{job_id}/offers")).json()
        assert [(o["status"], o["channel"], o["eta_minutes"]) for o in offers] == [
            ("accepted", "web", 20)
        ]
    finally:
        await context.close()


async def test_a_blocked_provider_is_told_why_and_not_reconnected(
    browser: Browser, live_server: ServerProcess, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.WEB,))
    await provider_user(db, world["p"][0], "bloqueado", PASSWORD)
    context = await browser.new_context(locale="pt-BR", viewport={"width": 390, "height": 844})
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    blocked_text = "Prestador bloqueado: fale com a central para voltar a ser acionado."
    try:
        await _sign_in(page, live_server.url, "bloqueado")
        await expect(page.locator("#conn")).to_have_text("conectado")
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            await login(http)
            changed = await http.patch(
                f"/api/v1/providers/{world['p'][0]}", json={"status": "blocked"}
            )
            assert changed.status_code == 200, changed.text
        await expect(page.locator("#login-error")).to_have_text(blocked_text)
        await expect(page.locator("#login-card")).to_be_visible()
        await expect(page.locator("#work")).to_be_hidden()
        await page.screenshot(path=str(screenshot_path("portal-blocked")), full_page=True)
        await page.wait_for_timeout(1500)  # a retry would have come within a second
        assert len(sockets) == 1
        await page.reload()  # its session is still there: the page says why at once
        await expect(page.locator("#login-error")).to_have_text(blocked_text)
        await expect(page.locator("#work")).to_be_hidden()
    finally:
        await context.close()
