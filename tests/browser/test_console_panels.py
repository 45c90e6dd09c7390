"""The console's panels in Chromium beyond the main flow: what the sign-in screen and
each role see, a job opened cold by its URL, dispatch from a row of the Painel de
Acionamento (the best candidates' channels, automatic dispatch), the alerts (colour,
sound, mute) and the live map's clusters and job destinations."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from argon2 import PasswordHasher
from playwright.async_api import Browser, Locator, Page, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection

from operations.models import Job, Offer
from registry import models as m
from registry.cells import point_cell
from registry.enums import Channel, PersonKind
from registry.permissions import ANALYTICS, PROVIDER_NETWORK, ROLE_PERMISSIONS
from registry.validation import make_cnpj
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

Sessions = async_sessionmaker[AsyncSession]
LIVE_MS = 5_000
LATE_BG = "rgb(254, 242, 242)"  # --late-bg
UNANSWERED_BG = "rgb(255, 251, 235)"
MENU_ITEMS = ["#menu", "#mute", "#who", "#logout"]


async def _jobs(url: str, world: dict[str, Any], count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url) as http:
        await login(http)
        return [await new_job(http, world) for _ in range(count)]


async def _late(db: Sessions, job_id: int) -> None:
    """The job's dispatch due time passed a minute ago."""
    async with db() as session, session.begin():
        past = datetime.now(UTC) - timedelta(minutes=1)
        await session.execute(update(Job).where(Job.id == job_id).values(dispatch_due_at=past))


async def _user(db: Sessions, role: str, login_name: str) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        row = m.Role(name=role, permissions=sorted(ROLE_PERMISSIONS[role]))
        session.add(row)
        await session.flush()
        session.add(
            m.User(login=login_name, name=login_name.title(), password_hash=cheap, role_id=row.id)
        )


async def _no_menu(page: Page) -> None:
    """The sign-in screen: no menu, sound button, name or sign-out of anyone."""
    await expect(page.locator("#login-form")).to_be_visible()
    for selector in MENU_ITEMS:
        await expect(page.locator(selector)).to_be_hidden()


async def test_the_sign_in_screen_shows_no_menu_and_a_job_url_opens_cold(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1)
    on_time, late = await _jobs(live_server.url, world, 2)
    await _late(db, late)
    page = await console_operator(
        browser, f"{live_server.url}/console#/atendimentos/{on_time}", "admin", PASSWORD
    )
    try:
        # A new page, signed in on the way: the shared URL still opens its job.
        await expect(page.locator(".job-head h1")).to_contain_text(f"Atendimento #{on_time}")
        await expect(page.locator("#job-status")).to_have_text("Aberto")
        await expect(page.locator("#job-late")).to_be_hidden()
        await expect(page.locator("#menu a")).to_have_count(4)
        await page.evaluate(f"() => {{ location.hash = '#/atendimentos/{late}'; }}")
        await expect(page.locator(".job-head h1")).to_contain_text(f"Atendimento #{late}")
        await expect(page.locator("#job-late")).to_be_visible()

        await page.click("#logout")
        await _no_menu(page)  # the previous operator's menu is gone
        fresh = await page.context.new_page()
        await fresh.goto(f"{live_server.url}/console")
        await _no_menu(fresh)
    finally:
        await page.context.close()


async def test_analytics_and_network_roles_see_no_dispatch_buttons(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1)
    await _user(db, ANALYTICS, "analista")
    await _user(db, PROVIDER_NETWORK, "rede")
    (job_id,) = await _jobs(live_server.url, world, 1)
    for login_name in ("analista", "rede"):
        page = await console_operator(browser, live_server.url + "/console", login_name, PASSWORD)
        try:
            row = page.locator(f"#waiting tr[data-job='{job_id}']")
            await expect(row).to_contain_text("Rua Vergueiro")
            menu = ["Painel de Acionamento", "Painel de Acompanhamento", "Mapa"]
            await expect(page.locator("#menu a")).to_have_text(menu)  # no Novo Evento
            await expect(row.locator("button")).to_have_count(0)
            await row.get_by_role("link", name="Abrir").click()
            await expect(page.locator("#job-status")).to_have_text("Aberto")
            await expect(page.locator("#offers td.empty")).to_be_visible()
            view = page.locator("#view")
            await expect(view.get_by_role("button")).to_have_count(0)  # no dispatch, no cancel
            await expect(page.locator("#candidates")).to_have_count(0)
            await expect(page.locator(".flash")).to_have_count(0)  # no refused request
        finally:
            await page.context.close()


async def _pos(ws: ClientConnection, seq: int) -> None:
    fix = {"lat": -23.5580, "lng": -46.6400, "accuracy_m": 5, "time_ms": int(time.time() * 1000)}
    await ws.send(orjson.dumps({"type": "pos", "seq": seq, **fix}).decode())
    assert (await next_frame(ws, "ack", seq))["accepted"] == 1


async def _expire(db: Sessions, offer_id: int) -> None:
    """The offer's time is up: the server's sweep expires it, as if unanswered."""
    async with db() as session, session.begin():
        await session.execute(
            update(Offer).where(Offer.id == offer_id).values(expires_at=datetime.now(UTC))
        )


async def _sounded(page: Page, count: int) -> None:
    await page.wait_for_function(
        f"() => window.acionar.alerts.sounded === {count}", timeout=unit(LIVE_MS)
    )


async def _cells(row: Locator, colour: str) -> None:
    await expect(row.locator("td").nth(2)).to_have_css("background-color", colour)


async def test_a_row_dispatches_and_alerts_sound_unless_muted(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 2)
    app = await app_socket(live_server.port, "t0")
    late, waiting = await _jobs(live_server.url, world, 2)
    await _late(db, late)
    page = await console_operator(browser, live_server.url + "/console", "admin", PASSWORD)
    try:
        await _pos(app, 1)
        late_row = page.locator(f"#waiting tr[data-job='{late}']")
        row = page.locator(f"#waiting tr[data-job='{waiting}']")
        await expect(late_row.locator(".badge.late")).to_have_text("atrasado")
        await _cells(late_row, LATE_BG)
        await _sounded(page, 1)  # the sign-in's click made the sound possible
        running = "() => window.acionar.alerts.audio.state === 'running'"
        await page.wait_for_function(running, timeout=unit(LIVE_MS))

        await page.click("#mute")
        await expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
        assert await page.evaluate("() => localStorage.getItem('acionar.muted')") == "1"

        await row.get_by_role("button", name="Prestadores").click()
        best = page.locator(
            f"tr[data-candidates-of='{waiting}'] tr[data-provider='{world['p'][0]}']"
        )
        await expect(best).to_contain_text("App conectado")
        other = page.locator(
            f"tr[data-candidates-of='{waiting}'] tr[data-provider='{world['p'][1]}']"
        )
        await expect(other.locator("button")).to_have_text(["Verbal"])  # no app, no button
        await page.screenshot(path=str(screenshot_path("console-acionamento-linha")))
        await best.locator("button[data-channel='app']").click()
        offer = (await next_frame(app, "offer"))["offer"]
        assert offer["job_id"] == waiting
        await expect(row.locator(".badge.offered")).to_have_text("1 oferta(s)", timeout=LIVE_MS)
        await expect(best).to_contain_text("oferta aberta")

        await _expire(db, offer["offer_id"])
        await expect(row.locator(".badge.unanswered")).to_have_text("sem resposta", timeout=LIVE_MS)
        await expect(page.locator(".flash").last).to_contain_text("expirou sem resposta")
        await _cells(row, UNANSWERED_BG)
        key = f"offer:{offer['offer_id']}:expired"
        assert await page.evaluate(f"() => window.acionar.alerts.seen.has('{key}')")
        assert await page.evaluate("() => window.acionar.alerts.sounded") == 1  # muted

        await page.click("#mute")
        await expect(page.locator("#mute")).to_have_text("Som: ligado")
        assert await page.evaluate("() => localStorage.getItem('acionar.muted')") == "0"
        await row.get_by_role("button", name="Automático").click()
        await expect(row.locator(".badge.auto")).to_have_text("automático", timeout=LIVE_MS)
        again = (await next_frame(app, "offer"))["offer"]  # the run asked the app
        assert again["job_id"] == waiting and again["offer_id"] != offer["offer_id"]
        await _expire(db, again["offer_id"])  # nobody else has the app: the run gives up
        await expect(page.locator(".flash").last).to_contain_text("acione manualmente")
        await expect(row.locator(".status")).to_contain_text("Tentativas esgotadas")
        await _sounded(page, 2)
    finally:
        await app.close()
        await page.context.close()


FLEET = 400
"""Providers spread over the city (seeded), as many as a cluster count needs."""


async def _fleet(db: Sessions) -> int:
    """FLEET providers around the centre of São Paulo; returns how many."""
    spread = random.Random(11)
    async with db() as session, session.begin():
        for i in range(FLEET):
            lat = -23.55 + spread.gauss(0, 0.05)
            lng = -46.63 + spread.gauss(0, 0.07)
            session.add(
                m.Provider(
                    person_kind=PersonKind.PJ,
                    document=make_cnpj(5000 + i),
                    name=f"Frota {i}",
                    phone="+5511912345678",
                    base_location=f"SRID=4326;POINT({lng} {lat})",
                    base_h3=point_cell(lat, lng),
                    channels=[Channel.VERBAL],
                )
            )
    return FLEET


_CLUSTERS = """() => {
  const m = window.acionar.state.page.map;
  const layer = m.clusterLayer;
  const big = layer.clusters.reduce((a, b) => (a.count >= b.count ? a : b));
  const ratio = window.devicePixelRatio || 1;
  const ctx = layer.canvas.getContext("2d");
  const pixel = ctx.getImageData(Math.round(big.x * ratio), Math.round(big.y * ratio), 1, 1).data;
  const at = m.map.layerPointToContainerPoint([big.x + layer.origin.x, big.y + layer.origin.y]);
  return {
    clustered: m.clustered,
    total: layer.clusters.reduce((sum, c) => sum + c.count, 0),
    biggest: big.count,
    alpha: pixel[3],
    x: at.x,
    y: at.y,
    zoom: m.map.getZoom(),
  };
}"""

_JOB = """(id) => {
  const drawn = window.acionar.state.page.map.jobs.get(id);
  const to = drawn.destination.getLatLng();
  const origin = drawn.origin.options.fillColor;
  return { lat: to.lat, lng: to.lng, line: drawn.line.options.color, origin };
}"""


async def test_the_map_clusters_providers_and_draws_the_tow_s_destination(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1)
    providers = 1 + await _fleet(db)
    (job_id,) = await _jobs(live_server.url, world, 1)
    page = await console_operator(browser, live_server.url + "/console", "admin", PASSWORD)
    try:
        await expect(page.locator(f"#waiting tr[data-job='{job_id}']")).to_be_visible()
        await page.click("#menu >> text=Mapa")
        await page.wait_for_function(
            f"() => window.acionar.state.page.map?.clusterLayer.clusters.length > 0 "
            f"&& window.acionar.state.page.map.providers.size === {providers}",
            timeout=unit(LIVE_MS),
        )
        seen = await page.evaluate(_CLUSTERS)
        assert seen["clustered"] and seen["zoom"] == 11
        assert seen["total"] == providers  # every provider counted, in fewer marks
        assert seen["biggest"] > 1 and seen["alpha"] > 0  # a count drawn on the canvas
        drawn = await page.evaluate(_JOB, job_id)
        assert (round(drawn["lat"], 4), round(drawn["lng"], 4)) == (-23.60, -46.66)
        assert drawn["line"] == drawn["origin"] == "#ea580c"  # waiting, no offer
        await page.screenshot(path=str(screenshot_path("console-map-clusters")))

        box = await page.locator("#map").bounding_box()
        assert box is not None
        await page.mouse.click(box["x"] + seen["x"], box["y"] + seen["y"])  # into the cluster
        zoomed = """() => {
          const map = window.acionar.state.page.map.map;
          return map.getZoom() === 13 && !map._animatingZoom;
        }"""
        await page.wait_for_function(zoomed, timeout=unit(LIVE_MS))  # Leaflet's own flag
        await page.evaluate(
            "() => { window.acionar.state.page.map.map.setView([-23.55, -46.63], 15); }"
        )
        # Closer in: one marker each (on Leaflet's canvas), no clusters.
        closer = """() => {
          const m = window.acionar.state.page.map;
          return !m.clustered && !m.clusterLayer.clusters.length && m.map.hasLayer(m.providerLayer);
        }"""
        await page.wait_for_function(closer, timeout=unit(LIVE_MS))
    finally:
        await page.context.close()
