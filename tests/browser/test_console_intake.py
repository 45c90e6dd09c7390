"""Novo Evento and the Atendimento form in Chromium: an operator finds the caller by
plate, opens the incident, registers a tow from a Google Maps link to the client's
partner workshop, sees the candidates and dispatches by app to a provider that
accepts; and, with the plan's limit reached, the form shows the refusal and opens the
job as serviço avulso on the operator's word."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.models import Job
from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import Channel, PersonKind
from registry.permissions import ADMIN, ROLE_PERMISSIONS
from registry.validation import make_cnpj
from tests.browser.conftest import console_operator, screenshot_path
from tests.e2e.dispatch_support import PASSWORD, app_socket, next_frame
from tests.operations.support import make_world
from tests.support.server import ServerProcess

Sessions = async_sessionmaker[AsyncSession]
MAPS_URL = (
    "https://www.google.com/maps/place/Rua+Vergueiro,+1000/@-23.5700,-46.6400,17z/"
    "data=!3m1!4b1!4m6!3m5!1s0x0:0x0!8m2!3d-23.5702!4d-46.6401"
)


async def _world(db: Sessions) -> dict[str, Any]:
    """The application layer's small world (a tow covered 3 times a year, Ana and her
    car ABC1D23), an admin, the client's partner workshop and a tow provider with
    the app."""
    world = await make_world(db)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=ADMIN, permissions=sorted(ROLE_PERMISSIONS[ADMIN]))
        session.add(role)
        await session.flush()
        session.add(m.User(login="admin", name="Admin", password_hash=cheap, role_id=role.id))
        site = m.PartnerSite(
            client_id=world.client,
            name="Oficina Parceira Centro",
            kind="oficina",
            street="Rua da Consolação",
            number="500",
            city="São Paulo",
            state="SP",
            location="SRID=4326;POINT(-46.6500 -23.5500)",
        )
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(77),
            name="Guincho Vergueiro",
            phone="+5511912345678",
            base_location="SRID=4326;POINT(-46.6400 -23.5650)",
            base_h3=point_cell(-23.565, -46.64),
            channels=[Channel.APP, Channel.VERBAL],
        )
        session.add_all([site, provider])
        await session.flush()
        session.add(
            m.ProviderService(
                provider_id=provider.id,
                service_type_id=world.tow,
                departure_fee=Decimal("120"),
                price_per_km=Decimal("4"),
            )
        )
        session.add(
            m.DeviceToken(provider_id=provider.id, name="app", token_hash=token_digest("t7"))
        )
    return {"world": world, "provider": provider.id, "site": site.id}


async def _operator(browser: Browser, url: str) -> Page:
    page = await console_operator(browser, url + "/console#/novo", "admin", PASSWORD)
    await expect(page.locator("#caller-search")).to_be_focused()
    return page


async def _open_incident(page: Page, shot: str | None = None) -> None:
    await page.fill("#caller-search", "ABC1D23")
    hit = page.locator("#caller-results button").first
    await expect(hit).to_contain_text("ABC-1D23")
    await hit.click()
    card = page.locator("#caller")
    await expect(card).to_contain_text("Ana Souza")
    await expect(card).to_contain_text("Reboque leve")  # the plan's service and its usage
    await page.select_option("#incident-type", label="Pane seca")
    if shot:
        await page.screenshot(path=str(screenshot_path(shot)))
    await page.click("#create-incident")
    await expect(page.locator("#job-form")).to_be_visible()


async def _places(page: Page) -> None:
    await page.fill("#requester-phone", "11 98765-4321")  # Ana has no phone on file
    await page.click("#origin-place button[data-source=maps]")
    await page.fill("#origin-maps", MAPS_URL)
    await page.click("#origin-place button:has-text('Usar link')")
    await expect(page.locator("#origin-summary")).to_contain_text("-23.5702")
    await page.click("#destination-place button[data-source=partner]")
    await page.select_option("#destination-partner", index=1)
    await expect(page.locator("#destination-summary")).to_contain_text("Rua da Consolação")
    await expect(page.locator(".pin")).to_have_count(2)


async def test_an_operator_takes_a_call_from_search_to_an_accepted_offer(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    made = await _world(db)
    app = await app_socket(live_server.port, "t7")
    page = await _operator(browser, live_server.url)
    try:
        await _open_incident(page, "console-novo-evento")
        await page.select_option("#job-service", label="Reboque leve: 0 de 3 usados em 2026")
        await _places(page)
        await page.fill("#notes", "Carro na garagem do prédio")
        await page.screenshot(path=str(screenshot_path("console-atendimento")), full_page=True)
        await page.click("#save-job")

        candidate = page.locator(f"#candidates tr[data-provider='{made['provider']}']")
        await expect(candidate).to_contain_text("App conectado")
        await candidate.locator("button[data-channel='app']").click()
        offer = await next_frame(app, "offer")
        brief = offer["offer"]
        assert brief["destination"]["street"] == "Rua da Consolação"
        await app.send(
            orjson.dumps(
                {"type": "offer.accept", "seq": 1, "offer_id": brief["offer_id"], "eta_min": 12}
            ).decode()
        )
        assert (await next_frame(app, "result", 1))["code"] == "accepted"
        await expect(page.locator("#job-status")).to_have_text("Prestador designado")
        async with db() as session:
            job = await session.get(Job, int(page.url.rsplit("/", 1)[1]))
            assert job is not None and job.notes_for_provider == "Carro na garagem do prédio"
    finally:
        await app.close()
        await page.context.close()


async def test_a_limit_reached_is_shown_and_the_job_opens_as_ad_hoc(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    made = await _world(db)
    async with db() as session, session.begin():
        await session.execute(update(m.PlanService).values(uses_per_period=1))
    page = await _operator(browser, live_server.url)
    try:
        for attempt in range(2):
            if attempt:
                await page.goto(live_server.url + "/console#/novo")
            await _open_incident(page)
            await page.select_option("#job-service", index=1)  # the plan's tow
            await _places(page)
            await page.click("#save-job")
            if not attempt:
                await expect(page.locator("#job-status")).to_be_visible()
        refusal = page.locator("#refusal")
        await expect(refusal).to_contain_text("Limite do serviço Reboque leve atingido")
        await page.screenshot(path=str(screenshot_path("console-limite")), full_page=True)
        await refusal.locator("#open-ad-hoc").click()
        await expect(page.locator("#job-status")).to_be_visible()
        async with db() as session:
            job = await session.get(Job, int(page.url.rsplit("/", 1)[1]))
            assert job is not None and job.ad_hoc and job.chargeable
        assert made["site"]
    finally:
        await page.context.close()


async def test_a_dragged_pin_moves_the_job_s_point(
    browser: Browser, live_server: ServerProcess, db: Sessions
) -> None:
    await _world(db)
    page = await _operator(browser, live_server.url)
    try:
        await _open_incident(page)
        await page.select_option("#job-service", index=1)
        await _places(page)
        pin = page.locator(".pin.origin")
        box = await pin.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.move(x, y)
        await page.mouse.down()
        for step in range(1, 11):  # a drag Leaflet sees, in small moves
            await page.mouse.move(x + 8 * step, y + 6 * step)
        await page.mouse.up()
        await expect(page.locator("#origin-summary")).to_contain_text("ponto ajustado no mapa")
        await page.click("#save-job")
        await expect(page.locator("#job-status")).to_be_visible()
        job_id = int(page.url.rsplit("/", 1)[1])
        origin = await page.evaluate(f"() => window.acionar.ops.jobs.get({job_id}).origin")
        # 80 px right and 60 px down at the form's zoom: east and south of the link's point
        assert origin["lng"] > -46.6401 + 0.0005 and origin["lat"] < -23.5702 - 0.0005, origin
        assert origin["source"] == "manual"  # the operator's point, not the link's
    finally:
        await page.context.close()
