"""Test infrastructure shared by every layer.

* One PostgreSQL database is created for the run (``acionar_test_<hex>``) on the
  server of DATABASE_URL (or the local instance), migrated to head, and dropped at
  the end. Tests that touch it take the ``db`` fixture, which empties every table
  first: each test starts from a clean state without restarting anything.
* Redis keys and channels get a per-run prefix; the ``redis`` fixture deletes the
  run's keys before each test.
* Timeouts in tests are multiples of :func:`unit` seconds, scaled by the
  ``ACIONAR_TEST_TIME_UNIT`` environment variable (default 1.0) for slow machines.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.db import make_engine, make_sessionmaker, to_async_url
from server.migrate import upgrade
from server.settings import Settings, load_settings

KEEP_TABLES = {"alembic_version", "spatial_ref_sys"}


def unit(multiple: float = 1.0) -> float:
    """``multiple`` test time units, in seconds."""
    return multiple * float(os.environ.get("ACIONAR_TEST_TIME_UNIT", "1.0"))


def _server_dsn(url: str, database: str) -> str:
    """A plain asyncpg DSN for ``database`` on the server of ``url``."""
    parsed = make_url(to_async_url(url)).set(drivername="postgresql", database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_server_dsn(url, "postgres"), timeout=unit(10))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def test_database_url(base_settings: Settings, run_id: str) -> Iterator[str]:
    """A database created for this run, migrated to head, dropped at the end."""
    server_url = base_settings.effective_database_url
    name = f"acionar_test_{run_id}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    url = (
        make_url(to_async_url(server_url)).set(database=name).render_as_string(hide_password=False)
    )
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(
    base_settings: Settings,
    test_database_url: str,
    run_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings pointing at the test database, the run's Redis prefix and a
    temporary files folder."""
    return dataclasses.replace(
        base_settings,
        database_url=test_database_url,
        redis_url=base_settings.effective_redis_url,
        redis_prefix=f"acionar-test-{run_id}:",
        files_dir=str(tmp_path_factory.mktemp("files")),
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.effective_database_url, pool_size=5)
    try:
        yield engine
    finally:
        await engine.dispose()


OUTBOX_IDS = "outbox_events_id_seq"


@pytest.fixture(scope="session")
async def _app_tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        return sorted(name for (name,) in rows if name not in KEEP_TABLES)


@pytest.fixture
async def db(engine: AsyncEngine, _app_tables: list[str]) -> async_sessionmaker[AsyncSession]:
    """A session factory on a database whose tables were all emptied for this test."""
    if _app_tables:
        quoted = ", ".join(f'"{name}"' for name in _app_tables)
        for attempt in range(TRUNCATE_ATTEMPTS):
            try:
                await _truncate(engine, quoted)
                break
            except DBAPIError as exc:
                # A server running through the module polls its tables (offer sweep,
                # automatic dispatch): PostgreSQL may pick the TRUNCATE as a
                # deadlock's victim. Its transaction is gone; try again.
                if "deadlock" not in str(exc) or attempt == TRUNCATE_ATTEMPTS - 1:
                    raise
    return make_sessionmaker(engine)


TRUNCATE_ATTEMPTS = 5


async def _truncate(engine: AsyncEngine, quoted: str) -> None:
    async with engine.begin() as conn:
        last = await conn.scalar(text(f"SELECT last_value FROM {OUTBOX_IDS}"))
        await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        # A server running through the module drops events whose ids it saw
        # (at-least-once delivery): the outbox's ids never go back.
        await conn.execute(text(f"SELECT setval('{OUTBOX_IDS}', {int(last or 0) + 1})"))


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A Redis client; the run's keys were deleted before this test."""
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.redis_prefix}*")]
        if keys:
            await client.unlink(*keys)
        yield client
    finally:
        await client.aclose()
