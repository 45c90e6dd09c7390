"""The live state of providers in Redis: latest position, its H3 cell, presence.

Everything here can be lost and rebuilt: it refills from the next positions.
Keys (all under the deployment's prefix ``p``)::

    p:pos            HASH  provider id -> latest accepted position (JSON)
    p:poscell        HASH  provider id -> the H3 cell (hex) of that position
    p:cell:<hex>     SET   provider ids whose latest position is in that cell
    p:online:<id>    STRING the id of the connection that holds the provider, with a TTL

A provider is in exactly one cell set at a time: each write moves it (a Lua script
does the move and the write atomically, one round trip per batch). Presence is a
key per provider whose value is the connection id, so that a late "offline" from a
replaced connection cannot delete the newer connection's mark (compare-and-delete).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import h3
import orjson
import redis.asyncio as aioredis

from realtime.filter import PositionFix

CELL_RESOLUTION = 8  # ~0.46 km edges: the same resolution as providers' bases

_WRITE = """
-- KEYS: pos hash, poscell hash; ARGV: cell key prefix, then triples (id, json, cell)
local moved = 0
for i = 2, #ARGV, 3 do
  local id, body, cell = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', KEYS[2], id)
  if old ~= cell then
    if old then redis.call('SREM', ARGV[1] .. old, id) end
    redis.call('SADD', ARGV[1] .. cell, id)
    redis.call('HSET', KEYS[2], id, cell)
    moved = moved + 1
  end
  redis.call('HSET', KEYS[1], id, body)
end
return moved
"""

_REFRESH = """
-- KEYS: presence keys; ARGV: ttl ms, then one connection id per key
local kept = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    kept = kept + 1
  end
end
return kept
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class LivePosition:
    """A provider's latest accepted position, as stored."""

    provider_id: int
    lat: float
    lng: float
    accuracy_m: float
    device_time_ms: int
    received_ms: int
    speed_kmh: float | None = None
    heading_deg: float | None = None

    def age_s(self, now_ms: int) -> float:
        """Seconds since the server received it."""
        return max(0.0, (now_ms - self.received_ms) / 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_position(provider_id: int, fix: PositionFix, received_ms: int) -> bytes:
    return orjson.dumps(
        {
            "lat": fix.lat,
            "lng": fix.lng,
            "acc": fix.accuracy_m,
            "t": fix.time_ms,
            "r": received_ms,
            "spd": fix.speed_kmh,
            "hdg": fix.heading_deg,
        }
    )


def decode_position(provider_id: int, raw: bytes | str) -> LivePosition:
    data = orjson.loads(raw)
    return LivePosition(
        provider_id=provider_id,
        lat=data["lat"],
        lng=data["lng"],
        accuracy_m=data["acc"],
        device_time_ms=data["t"],
        received_ms=data["r"],
        speed_kmh=data.get("spd"),
        heading_deg=data.get("hdg"),
    )


class LiveStore:
    """Positions and presence of providers in Redis, for every node."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._write = client.register_script(_WRITE)
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    # -- positions ------------------------------------------------------------------

    async def write_positions(self, latest: Iterable[tuple[int, PositionFix, int]]) -> int:
        """Store each provider's newest fix (provider id, fix, received ms) and move it
        to its cell; returns how many providers changed cell."""
        args: list[str | bytes] = [self._key("cell", "")]
        for provider_id, fix, received in latest:
            cell = h3.latlng_to_cell(fix.lat, fix.lng, CELL_RESOLUTION)
            args += [str(provider_id), encode_position(provider_id, fix, received), cell]
        if len(args) == 1:
            return 0
        moved = await self._write(keys=[self._key("pos"), self._key("poscell")], args=args)
        return int(moved)

    async def positions(self, provider_ids: Sequence[int]) -> dict[int, LivePosition]:
        """The stored positions of these providers (those without one are absent)."""
        if not provider_ids:
            return {}
        raws = await self.client.hmget(self._key("pos"), [str(i) for i in provider_ids])
        return {
            pid: decode_position(pid, raw)
            for pid, raw in zip(provider_ids, raws, strict=True)
            if raw is not None
        }

    async def providers_in_cells(self, cells: Sequence[str]) -> set[int]:
        """Ids of providers whose latest position lies in any of these cells."""
        if not cells:
            return set()
        async with self.client.pipeline(transaction=False) as pipe:
            for cell in cells:
                pipe.smembers(self._key("cell", cell))
            results = await pipe.execute()
        return {int(member) for members in results for member in members}

    # -- presence -------------------------------------------------------------------

    async def hold(self, provider_id: int, connection_id: str, ttl_s: float) -> None:
        """Mark the provider online, held by this connection (replacing any other)."""
        await self.client.set(self._key("online", provider_id), connection_id, px=int(ttl_s * 1000))

    async def refresh(self, held: Sequence[tuple[int, str]], ttl_s: float) -> int:
        """Extend the presence of connections that still hold their provider."""
        if not held:
            return 0
        keys = [self._key("online", pid) for pid, _ in held]
        args: list[str | int] = [int(ttl_s * 1000), *(conn for _, conn in held)]
        return int(await self._refresh(keys=keys, args=args))

    async def release(self, provider_id: int, connection_id: str) -> bool:
        """Mark the provider offline, unless a newer connection holds it now."""
        key = self._key("online", provider_id)
        return bool(await self._release(keys=[key], args=[connection_id]))

    async def online(self, provider_ids: Sequence[int]) -> dict[int, bool]:
        if not provider_ids:
            return {}
        keys = [self._key("online", pid) for pid in provider_ids]
        values = await self.client.mget(keys)
        return {pid: value is not None for pid, value in zip(provider_ids, values, strict=True)}
