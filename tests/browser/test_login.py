"""Signing in and out on the landing page, in Chromium."""

from __future__ import annotations

from argon2 import PasswordHasher
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import models as m
from registry.enums import PersonKind
from registry.permissions import OPERATIONS, ROLE_PERMISSIONS
from registry.validation import make_cnpj, make_cpf
from tests.browser.conftest import screenshot_path
from tests.support.server import ServerProcess

PASSWORD = "senha-do-teste"


async def _operator(db: async_sessionmaker[AsyncSession]) -> None:
    """An operator, and a beneficiary with a vehicle to find."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=OPERATIONS, permissions=sorted(ROLE_PERMISSIONS[OPERATIONS]))
        client = m.Client(cnpj=make_cnpj(1), trade_name="Paulista Seguros", legal_name="PS SA")
        session.add_all([role, client])
        await session.flush()
        session.add(m.User(login="ana", name="Ana Operadora", password_hash=cheap, role_id=role.id))
        joao = m.Beneficiary(
            client_id=client.id,
            person_kind=PersonKind.PF,
            document=make_cpf(123456789),
            name="João da Silva",
        )
        session.add(joao)
        await session.flush()
        session.add(m.Vehicle(beneficiary_id=joao.id, plate="ABC1D23", make="Fiat", model="Argo"))


async def test_sign_in_shows_the_search_and_sign_out_hides_it(
    page: Page, live_server: ServerProcess, db: async_sessionmaker[AsyncSession]
) -> None:
    await _operator(db)
    await page.goto(live_server.url + "/")
    await page.fill("#login", "ana")
    await page.fill("#password", "errada-errada")
    await page.click("#login-form button")
    await expect(page.locator("#login-error")).to_have_text("Login ou senha incorretos.")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button")
    await expect(page.locator("#who")).to_have_text("Ana Operadora · Operação")
    await expect(page.locator("#search-card")).to_be_visible()
    await expect(page.locator("#login-card")).to_be_hidden()
    await page.fill("#search", "joao sil")
    await expect(page.locator("#results li strong")).to_have_text(["João da Silva"])
    await expect(page.locator("#results li .meta")).to_contain_text(["123.456.789-"])
    await page.fill("#search", "abc-1d23")
    await expect(page.locator("#results li strong")).to_have_text(["ABC1D23 · Fiat Argo"])
    await page.fill("#search", "jo")
    await expect(page.locator("#results li")).to_have_count(0)
    await page.fill("#search", "joao")
    await expect(page.locator("#results li")).to_have_count(1)
    await page.screenshot(path=screenshot_path("signed-in"), full_page=True)
    await page.reload()
    await expect(page.locator("#who")).to_have_text("Ana Operadora · Operação")
    await page.click("#logout")
    await expect(page.locator("#login-card")).to_be_visible()
    await page.reload()
    await expect(page.locator("#login-card")).to_be_visible()
