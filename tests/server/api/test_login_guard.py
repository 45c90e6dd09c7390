"""Sign-in throttling never locks the owner out (hardening issue, item 3).

Before: ten wrong passwords for ``admin`` from ten addresses answered 429 to the
owner's correct password for five minutes, renewable forever.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from tests.server.api.conftest import PASSWORD, World

LOGIN = "/api/v1/auth/login"
Attempt = Callable[[str, str, str], Awaitable[httpx.Response]]


@asynccontextmanager
async def _served(settings: Settings) -> AsyncIterator[Attempt]:
    """``attempt(address, login, password)``: a sign-in from that client address."""
    app: Starlette = create_app(settings)
    async with app.router.lifespan_context(app):

        async def attempt(address: str, login: str, password: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post(LOGIN, json={"login": login, "password": password})

        yield attempt


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        login_max_failures=3,
        login_max_failures_per_address=6,
        login_window_s=60,
        login_slow_after=5,
        login_slow_delay_s=0.2,
    )


async def test_guessing_from_many_addresses_does_not_lock_the_owner_out(
    strict: Settings, world: World, redis: object
) -> None:
    async with _served(strict) as attempt:
        assert (await attempt("198.51.100.1", "admin", PASSWORD)).status_code == 200
        for n in range(10):
            for _ in range(3):
                wrong = await attempt(f"203.0.113.{n}", "admin", "not-the-password")
                assert wrong.status_code == 401
            # each guessing address is now blocked for admin...
            blocked = await attempt(f"203.0.113.{n}", "admin", PASSWORD)
            assert blocked.status_code == 429, blocked.text
        # ...but the owner, from their own address, signs in.
        assert (await attempt("198.51.100.1", "admin", PASSWORD)).status_code == 200


async def test_one_address_spraying_many_logins_is_refused(
    strict: Settings, world: World, redis: object
) -> None:
    async with _served(strict) as attempt:
        for n in range(6):
            assert (await attempt("203.0.113.9", f"user{n}", "guess")).status_code == 401
        refused = await attempt("203.0.113.9", "operacao", PASSWORD)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_attempts"
        assert int(refused.headers["retry-after"]) >= 1
        assert (await attempt("198.51.100.7", "operacao", PASSWORD)).status_code == 200


async def test_a_login_under_attack_slows_unknown_addresses_only(
    strict: Settings, world: World, redis: object, caplog: pytest.LogCaptureFixture
) -> None:
    async with _served(strict) as attempt:
        assert (await attempt("198.51.100.1", "admin", PASSWORD)).status_code == 200
        for n in range(5):
            assert (await attempt(f"203.0.113.{n}", "admin", "guess")).status_code == 401
        with caplog.at_level(logging.WARNING, logger="acionar.auth"):
            assert (await attempt("198.51.100.1", "admin", PASSWORD)).status_code == 200
            assert not [r for r in caplog.records if "slowed" in r.getMessage()]
            # a new address still gets in, after the delay (and it is logged)
            assert (await attempt("192.0.2.50", "admin", PASSWORD)).status_code == 200
        slowed = [r.getMessage() for r in caplog.records if "slowed" in r.getMessage()]
        assert len(slowed) == 1 and "192.0.2.50" in slowed[0] and "'admin'" in slowed[0]


async def test_a_refusal_is_logged_with_login_and_address(
    strict: Settings, world: World, redis: object, caplog: pytest.LogCaptureFixture
) -> None:
    async with _served(strict) as attempt:
        for _ in range(3):
            await attempt("203.0.113.77", "admin", "guess")
        with caplog.at_level(logging.WARNING, logger="acionar.auth"):
            assert (await attempt("203.0.113.77", "admin", "guess")).status_code == 429
        messages = [r.getMessage() for r in caplog.records if r.name == "acionar.auth"]
        assert any("'admin'" in m and "203.0.113.77" in m and "refused" in m for m in messages)
