"""End-to-end tests start from an empty Redis too (the run's keys), not only from
empty tables: a server of an earlier test may have left presence marks (a provider
"online" for up to ``PRESENCE_TTL_S``) that would make a channel look reachable."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis


@pytest.fixture(autouse=True)
async def _fresh_redis(redis: aioredis.Redis) -> None:
    """The ``redis`` fixture deletes the run's keys before each test."""
