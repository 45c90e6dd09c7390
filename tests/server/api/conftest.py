"""API test fixtures: the app on the test database, and signed-in clients per role."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from registry import models as m
from registry.enums import PersonKind, PlanKind, UserKind
from registry.permissions import ROLE_PERMISSIONS
from registry.validation import make_cnpj
from server.app import create_app
from server.settings import Settings

PASSWORD = "senha-de-teste"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2id hash for every test user, with the lowest cost argon2 allows:
    verifying it (at every sign-in) takes microseconds instead of the production
    parameters' ~150 ms. Production hashes are tested in tests/registry."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


@dataclasses.dataclass
class World:
    """The rows every API test starts with."""

    roles: dict[str, int]
    client_id: int
    other_client_id: int
    users: dict[str, int]


async def _seed(sessions: async_sessionmaker[AsyncSession], password_hash: str) -> World:
    async with sessions() as session, session.begin():
        roles = {
            name: m.Role(name=name, permissions=sorted(perms))
            for name, perms in ROLE_PERMISSIONS.items()
        }
        session.add_all(roles.values())
        clients = [
            m.Client(
                cnpj=make_cnpj(100 + i), trade_name=f"Cliente {i}", legal_name=f"Cliente {i} SA"
            )
            for i in range(2)
        ]
        session.add_all(clients)
        await session.flush()
        users = {
            "admin": m.User(
                login="admin",
                name="Admin",
                password_hash=password_hash,
                role_id=roles["Administrador"].id,
            ),
            "operacao": m.User(
                login="operacao",
                name="Operadora",
                password_hash=password_hash,
                role_id=roles["Operação"].id,
            ),
            "cliente": m.User(
                login="cliente",
                name="Portal",
                password_hash=password_hash,
                role_id=roles["Portal do Cliente"].id,
                kind=UserKind.CLIENT,
                client_id=clients[0].id,
            ),
        }
        session.add_all(users.values())
        await session.flush()
        return World(
            {k: v.id for k, v in roles.items()},
            clients[0].id,
            clients[1].id,
            {k: v.id for k, v in users.items()},
        )


@pytest.fixture
async def world(db: async_sessionmaker[AsyncSession], password_hash: str) -> World:
    return await _seed(db, password_hash)


@pytest.fixture
async def app(settings: Settings, redis: Any) -> AsyncIterator[Starlette]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


Login = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def login(app: Starlette, world: World) -> AsyncIterator[Login]:
    """``await login("admin")``: a client signed in as that user, sending its CSRF token."""
    opened: list[httpx.AsyncClient] = []

    async def sign_in(user: str) -> httpx.AsyncClient:
        client = anonymous_client(app)
        opened.append(client)
        response = await client.post(
            "/api/v1/auth/login", json={"login": user, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    yield sign_in
    for client in opened:
        await client.aclose()


def anonymous_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def anon(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with anonymous_client(app) as client:
        yield client


__all__ = ["PASSWORD", "Login", "PersonKind", "PlanKind", "World"]
