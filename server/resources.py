"""What a server process owns for its lifetime: the database engine and Redis client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.db import make_engine, make_sessionmaker
from server.settings import Settings

REDIS_HEALTH_CHECK_INTERVAL_S = 30


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis


def make_redis(settings: Settings) -> aioredis.Redis:
    """A Redis client with a bounded pool; it reconnects by itself after an outage.

    The pool blocks: a caller waits up to ``redis_timeout_s`` for a connection when
    all of them are busy (thousands of apps disconnecting at once each release their
    presence), then gets a ``ConnectionError`` like any other Redis failure, instead
    of failing at once with "Too many connections".
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.effective_redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        health_check_interval=REDIS_HEALTH_CHECK_INTERVAL_S,
    )
    return aioredis.Redis.from_pool(pool)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Create the engine and the Redis client; close both however the block ends.

    Nothing here connects yet: the server starts even while PostgreSQL or Redis is
    down, and /readyz says so until they come back.
    """
    engine = make_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout_s=settings.db_pool_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
    )
    redis = make_redis(settings)
    try:
        yield Resources(settings, engine, make_sessionmaker(engine), redis)
    finally:
        try:
            await redis.aclose()
        finally:
            await engine.dispose()
