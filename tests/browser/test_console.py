"""The operators' console in Chromium: two operators signed in, one dispatches a job by
app from the job page to a provider whose app accepts over its socket; both consoles
follow it live (no reload) from the Painel de Acionamento to the Painel de
Acompanhamento and the map, until the provider completes it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection

from registry import models as m
from tests.browser.conftest import console_operator, screenshot_path
from tests.conftest import unit
from tests.e2e.dispatch_support import (
    PASSWORD,
    app_socket,
    dispatch_world,
    login,
    new_job,
    next_frame,
)
from tests.support.server import ServerProcess

LIVE_MS = 5_000
"""How soon a change must be on screen without a reload."""


async def _operator(browser: Browser, url: str) -> tuple[BrowserContext, Page]:
    page = await console_operator(browser, url + "/console", "admin", PASSWORD)
    await expect(page.locator("#waiting")).to_be_visible()
    return page.context, page


async def _pos(ws: ClientConnection, seq: int, lat: float, lng: float) -> None:
    fix = {"lat": lat, "lng": lng, "accuracy_m": 5, "time_ms": int(time.time() * 1000)}
    await ws.send(orjson.dumps({"type": "pos", "seq": seq, **fix}).decode())
    ack = await next_frame(ws, "ack", seq)
    assert ack["accepted"] == 1, ack  # a fix the filter refused would never reach the map


async def _send(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send(orjson.dumps(frame).decode())
    return await next_frame(ws, "result", frame["seq"])


async def test_two_operators_follow_a_job_dispatched_by_app_live(
    browser: Browser, live_server: ServerProcess, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await dispatch_world(db, 2)
    app = await app_socket(live_server.port, "t0")
    contexts: list[BrowserContext] = []
    try:
        await _pos(app, 1, -23.5580, -46.6400)
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            await login(http)
            job_id = await new_job(http, world)
        a_context, a = await _operator(browser, live_server.url)
        b_context, b = await _operator(browser, live_server.url)
        contexts += [a_context, b_context]

        row_b = b.locator(f"#waiting tr[data-job='{job_id}']")
        await expect(row_b).to_contain_text("Reboque")
        await expect(row_b).to_contain_text("Rua Vergueiro")
        await b.screenshot(path=str(screenshot_path("console-acionamento")))

        await a.locator(f"#waiting tr[data-job='{job_id}'] a.button").click()
        candidate = a.locator(f"#candidates tr[data-provider='{world['p'][0]}']")
        await expect(candidate).to_contain_text("App conectado")
        await expect(candidate).to_contain_text("R$")
        offline = a.locator(f"#candidates tr[data-provider='{world['p'][1]}']")
        await expect(offline.locator("button")).to_have_text(["Verbal"])  # no app, no button
        await candidate.locator("button[data-channel='app']").click()

        offer = await next_frame(app, "offer")
        offer_id = offer["offer"]["offer_id"]
        offer_row = a.locator(f"#offers tr[data-offer='{offer_id}']")
        await expect(offer_row.locator(".offer-status")).to_have_text("entregue", timeout=LIVE_MS)
        await expect(row_b.locator("td").nth(5)).to_contain_text("1 oferta(s)", timeout=LIVE_MS)
        await a.screenshot(path=str(screenshot_path("console-job")), full_page=True)

        result = await _send(
            app, {"type": "offer.accept", "seq": 2, "offer_id": offer_id, "eta_min": 9}
        )
        assert result["code"] == "accepted"
        await expect(offer_row.locator(".offer-status")).to_have_text("aceita", timeout=LIVE_MS)
        await expect(a.locator("#job-status")).to_have_text("Prestador designado")
        await expect(row_b).to_have_count(0, timeout=LIVE_MS)  # left the dispatch panel

        await b.click("text=Painel de Acompanhamento")
        row_f = b.locator(f"#following tr[data-job='{job_id}']")
        await expect(row_f.locator(".status")).to_have_text("Prestador designado")
        await expect(row_f).to_contain_text("Guincho 0")
        await _send(app, {"type": "job.status", "seq": 3, "job_id": job_id, "status": "en_route"})
        await expect(row_f.locator(".status")).to_have_text("A caminho", timeout=LIVE_MS)
        await expect(row_f).to_contain_text("no prazo")
        await b.screenshot(path=str(screenshot_path("console-acompanhamento")))

        await a.evaluate(f"() => {{ location.hash = '#/mapa?atendimento={job_id}'; }}")
        await expect(a.locator("#map canvas").first).to_be_visible()
        following = "() => window.acionar.state.page.map?.trailOf"
        await a.wait_for_function(following, timeout=unit(3 * LIVE_MS))
        # 35 m from the first fix: a few seconds apart, any pace the filter believes
        await _pos(app, 4, -23.5583, -46.6401)
        moved = (
            f"() => window.acionar.state.page.map?.providers.get({world['p'][0]})"
            "?.marker.getLatLng().lat === -23.5583"
        )
        await a.wait_for_function(moved, timeout=unit(LIVE_MS))
        busy = f"() => window.acionar.state.page.map.providers.get({world['p'][0]}).data.busy"
        assert await a.evaluate(busy)  # on its job: busy on the map as soon as it opens
        trail = "() => window.acionar.state.page.map.trail.getLatLngs().map((p) => p.lat)"
        assert -23.5583 in await a.evaluate(trail)  # the assigned provider's track, live
        await a.screenshot(path=str(screenshot_path("console-map")))

        await b.click("text=Painel de Acompanhamento")
        await row_f.get_by_role("button", name="No local").click()  # the operator's word
        await expect(row_f.locator(".status")).to_have_text("No local", timeout=LIVE_MS)
        for seq, status in enumerate(("in_transit", "completed"), start=5):
            moved_to = await _send(
                app, {"type": "job.status", "seq": seq, "job_id": job_id, "status": status}
            )
            assert moved_to["code"] == "ok", moved_to
        await b.click("text=Painel de Acompanhamento")
        await expect(b.locator("#following td.empty")).to_be_visible(timeout=LIVE_MS)
    finally:
        await app.close()
        for context in contexts:
            await context.close()


async def test_the_console_catches_up_after_a_blink_and_cancels_with_a_reason(
    browser: Browser, live_server: ServerProcess, db: async_sessionmaker[AsyncSession]
) -> None:
    world = await dispatch_world(db, 1)
    async with db() as session, session.begin():
        session.add(m.CancellationReason(name="Desistiu"))
    context, page = await _operator(browser, live_server.url)
    try:
        await page.evaluate("() => window.acionar.link.socket.close()")  # the network blinked
        await expect(page.locator("#link-state")).to_have_text("Sem conexão: reconectando…")
        async with httpx.AsyncClient(base_url=live_server.url) as http:
            await login(http)
            job_id = await new_job(http, world)  # published while the page was away
        await expect(page.locator("#link-state")).to_be_hidden(timeout=unit(LIVE_MS))
        await expect(page.locator(f"#waiting tr[data-job='{job_id}']")).to_be_visible()

        await page.click(f"#waiting tr[data-job='{job_id}'] a.button")
        await page.get_by_role("button", name="Cancelar").click()
        await expect(page.locator(".flash")).to_contain_text("Escolha o motivo")
        await page.select_option("select[aria-label='Motivo do cancelamento']", label="Desistiu")
        await page.get_by_role("button", name="Cancelar").click()
        await expect(page.locator("#job-status")).to_have_text("Cancelado", timeout=LIVE_MS)
        await page.click("text=Painel de Acionamento")
        await expect(page.locator(f"#waiting tr[data-job='{job_id}']")).to_have_count(0)
    finally:
        await context.close()
