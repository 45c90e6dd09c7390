"""Fixed-window counters in Redis, for rate limits that must hold across nodes."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` events per ``seconds`` for one key."""

    limit: int
    seconds: int


async def blocked_for(client: aioredis.Redis, key: str, window: Window) -> int:
    """Seconds until ``key`` may act again (0: it may act now)."""
    count = await client.get(key)
    if count is None or int(count) < window.limit:
        return 0
    ttl = await client.ttl(key)
    return max(int(ttl), 1)


async def hit(client: aioredis.Redis, key: str, window: Window) -> None:
    """Count one event for ``key``; the window starts with the first event."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window.seconds, nx=True)
        await pipe.execute()


async def clear(client: aioredis.Redis, key: str) -> None:
    await client.delete(key)
