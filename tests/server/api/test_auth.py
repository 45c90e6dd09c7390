"""Sign in, sessions, CSRF, bearer tokens and the login rate limit."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from registry.db import utcnow
from registry.models import User, UserSession
from server.settings import Settings
from tests.server.api.conftest import PASSWORD, Login, World, anonymous_client

LOGIN = "/api/v1/auth/login"


async def test_login_sets_a_safe_cookie_and_returns_the_csrf_token(
    anon: httpx.AsyncClient, world: World
) -> None:
    response = await anon.post(LOGIN, json={"login": "ADMIN ", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["login"] == "admin" and body["role"] == "Administrador"
    assert "security.manage_users" in body["permissions"]
    assert len(body["csrf_token"]) == 64
    cookie = response.headers["set-cookie"]
    assert "acionar_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS adds it


async def test_bad_credentials_are_refused_without_saying_which(
    anon: httpx.AsyncClient, world: World
) -> None:
    wrong_password = await anon.post(LOGIN, json={"login": "admin", "password": "nope-nope"})
    unknown_user = await anon.post(LOGIN, json={"login": "ghost", "password": PASSWORD})
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert "set-cookie" not in wrong_password.headers


async def test_requests_without_credentials_get_401(anon: httpx.AsyncClient, world: World) -> None:
    response = await anon.get("/api/v1/clients")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_state_changing_requests_need_the_csrf_token(login: Login) -> None:
    admin = await login("admin")
    token = admin.headers.pop("X-CSRF-Token")
    body = {"name": "Guincho", "unit": "un", "price": "10.00"}
    refused = await admin.post("/api/v1/extra_items", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    assert (await admin.get("/api/v1/extra_items")).status_code == 200  # reads need none
    accepted = await admin.post("/api/v1/extra_items", json=body, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201


async def test_logout_ends_the_session(login: Login) -> None:
    admin = await login("admin")
    assert (await admin.post("/api/v1/auth/logout")).status_code == 204
    assert (await admin.get("/api/v1/auth/me")).status_code == 401


async def test_expired_sessions_and_inactive_users_are_refused(
    login: Login, db: async_sessionmaker[AsyncSession]
) -> None:
    admin = await login("admin")
    operator = await login("operacao")
    async with db() as session, session.begin():
        await session.execute(
            update(UserSession)
            .values(expires_at=utcnow() - timedelta(seconds=1))
            .where(UserSession.user_id == 1)
        )
        await session.execute(update(User).where(User.login == "operacao").values(active=False))
    assert (await admin.get("/api/v1/auth/me")).status_code == 401
    assert (await operator.get("/api/v1/auth/me")).status_code == 401


async def test_bearer_tokens_work_without_csrf_and_stop_when_revoked(
    login: Login, app: Starlette
) -> None:
    admin = await login("admin")
    issued = await admin.post(
        "/api/v1/auth/tokens", json={"name": "integração", "expires_in_days": 30}
    )
    assert issued.status_code == 201
    token, token_id = issued.json()["token"], issued.json()["id"]
    async with anonymous_client(app) as api_client:
        api_client.headers["Authorization"] = f"Bearer {token}"
        created = await api_client.post("/api/v1/incident_types", json={"name": "Pane seca"})
        assert created.status_code == 201
        listed = await admin.get("/api/v1/auth/tokens")
        assert [t["name"] for t in listed.json()] == ["integração"]
        assert "token" not in listed.json()[0]
        assert (await admin.delete(f"/api/v1/auth/tokens/{token_id}")).status_code == 204
        assert (await api_client.get("/api/v1/auth/me")).status_code == 401
        api_client.headers["Authorization"] = "Bearer not-a-token"
        assert (await api_client.get("/api/v1/auth/me")).status_code == 401


async def test_token_validity_is_bounded(login: Login) -> None:
    admin = await login("admin")
    response = await admin.post(
        "/api/v1/auth/tokens", json={"name": "x", "expires_in_days": 10_000}
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "expires_in_days"


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, login_max_failures=3, login_window_s=60)


async def test_repeated_failures_are_rate_limited_then_429(
    strict_settings: Settings, world: World, redis: object
) -> None:
    from server.app import create_app

    app = create_app(strict_settings)
    async with app.router.lifespan_context(app), anonymous_client(app) as client:
        for _ in range(3):
            failed = await client.post(LOGIN, json={"login": "admin", "password": "wrong-pass"})
            assert failed.status_code == 401
        blocked = await client.post(LOGIN, json={"login": "admin", "password": PASSWORD})
        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "too_many_attempts"
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
