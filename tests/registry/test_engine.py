"""The engine's pool against a real PostgreSQL: a connection the server closed is
replaced on checkout (without asyncpg's three-round-trip ping on every checkout)."""

from __future__ import annotations

from sqlalchemy import text

from registry.db import make_engine
from server.settings import Settings
from tests.support.fleet import eventually

CLOSE_SEEN_S = 5.0
"""Longest wait for asyncpg to see the server close the socket."""


async def test_a_connection_the_server_closed_is_replaced_on_checkout(settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
        async with engine.connect() as other:  # the same pooled connection
            assert await other.scalar(text("SELECT pg_backend_pid()")) == first
        killer = make_engine(settings.effective_database_url, null_pool=True)
        try:
            async with killer.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        finally:
            await killer.dispose()
        await eventually(driver.is_closed, CLOSE_SEEN_S, "asyncpg never saw the close")
        async with engine.connect() as conn:  # no error: another connection
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        await engine.dispose()
