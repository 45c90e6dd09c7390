"""The live state of providers in Redis: latest position, its H3 cell, presence.

Everything here can be lost and rebuilt: it refills from the next positions.
Keys (all under the deployment's prefix ``p``)::

    p:pos            HASH  provider id -> latest accepted position (JSON)
    p:livecell       HASH  provider id -> "<cell> <member>": the H3 cell (hex) of that
                           position and the provider's member in that cell's set
    p:cellz:<hex>    ZSET  one member "<id> <lat> <lng>" per provider whose latest
                           position is in that cell, scored by when the server
                           received it (ms since the epoch)
    p:online:<id>    STRING the id of the connection that holds the provider, with a TTL
    p:busy           SET   provider ids on an active job

A provider is in exactly one cell set at a time: each write moves it (a Lua script
does the move and the write atomically, one round trip per batch). The score lets
a reader take only the fresh positions of a cell (:meth:`LiveStore.providers_in_cells`).
Presence is a key per provider whose value is the connection id, so that a late
"offline" from a replaced connection cannot delete the newer connection's mark
(compare-and-delete). The busy set is kept by operations (:meth:`LiveStore.set_busy`).

Channel ``p:live`` (pub/sub): every write of positions and every change of the busy
set is published there, in the same atomic step as the write (the Lua script, a
MULTI), so that each node's :class:`realtime.mirror.LiveMirror` applies them in
Redis's order. A message is a kind line (:data:`POSITIONS_MESSAGE`,
:data:`BUSY_MESSAGE`, :data:`BUSY_REPLACED_MESSAGE`) and its body.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import h3
import orjson
import redis.asyncio as aioredis

from realtime.filter import PositionFix

CELL_RESOLUTION = 8  # ~0.46 km edges: the same resolution as providers' bases

_WRITE = """
-- KEYS: pos hash, livecell hash
-- ARGV: cell key prefix, live channel, then quintuples (id, json, cell, received ms,
-- member); publishes the batch on the live channel (see POSITIONS_MESSAGE)
local moved = 0
local lines = {'p'}
for i = 3, #ARGV, 5 do
  local id, body, cell = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local received, member = ARGV[i + 3], ARGV[i + 4]
  local old = redis.call('HGET', KEYS[2], id)
  local new = cell .. ' ' .. member
  if old ~= new then
    local old_cell = nil
    if old then
      local old_member
      old_cell, old_member = string.match(old, '^(%S+) (.*)$')
      redis.call('ZREM', ARGV[1] .. old_cell, old_member)
    end
    if old_cell ~= cell then moved = moved + 1 end
    redis.call('HSET', KEYS[2], id, new)
  end
  redis.call('ZADD', ARGV[1] .. cell, received, member)
  redis.call('HSET', KEYS[1], id, body)
  lines[#lines + 1] = cell .. ' ' .. received .. ' ' .. member
end
redis.call('PUBLISH', ARGV[2], table.concat(lines, '\n'))
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


Fix = tuple[float, float, int]
"""(lat, lng, received ms) of a live position, as candidate search reads it."""

POSITIONS_MESSAGE = b"p"
"""Live channel: a batch of positions written, one line each after the kind's line:
``<cell> <received ms> <id> <lat> <lng>``."""
BUSY_MESSAGE = b"b"
"""Live channel: ``1`` (busy) or ``0`` (free), then provider ids, space-separated."""
BUSY_REPLACED_MESSAGE = b"B"
"""Live channel: the busy set is now exactly these provider ids."""
SNAPSHOT_CHUNK = 2_000
"""Positions per ``HSCAN`` round trip when a node loads its mirror."""

PositionRow = tuple[int, str, Fix]
"""(provider id, H3 cell of the position, the position) in a snapshot."""


def _row(pid: bytes, raw: bytes) -> PositionRow:
    data = orjson.loads(raw)
    lat, lng = data["lat"], data["lng"]
    return (int(pid), h3.latlng_to_cell(lat, lng, CELL_RESOLUTION), (lat, lng, data["r"]))


class LiveStore:
    """Positions, presence and busy flags of providers in Redis, for every node."""

    resolution = CELL_RESOLUTION

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = prefix + "live"
        self._write = client.register_script(_WRITE)
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    # -- positions ------------------------------------------------------------------

    async def write_positions(self, latest: Iterable[tuple[int, PositionFix, int]]) -> int:
        """Store each provider's newest fix (provider id, fix, received ms) and move it
        to its cell; returns how many providers changed cell."""
        args: list[str | bytes] = [self._key("cellz", ""), self.channel]
        for provider_id, fix, received in latest:
            cell = h3.latlng_to_cell(fix.lat, fix.lng, CELL_RESOLUTION)
            body = encode_position(provider_id, fix, received)
            member = f"{provider_id} {fix.lat!r} {fix.lng!r}"
            args += [str(provider_id), body, cell, str(received), member]
        if len(args) == 2:
            return 0
        moved = await self._write(keys=[self._key("pos"), self._key("livecell")], args=args)
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
                pipe.zrange(self._key("cellz", cell), 0, -1)
            results = await pipe.execute()
        return {int(member.split()[0]) for members in results for member in members}

    async def snapshot(self) -> AsyncIterator[list[PositionRow]]:
        """Every stored position with its cell, a chunk per round trip (not one
        instant: see :class:`realtime.mirror.MirrorFeed` for how a node copes)."""
        cursor = 0
        while True:
            cursor, found = await self.client.hscan(self._key("pos"), cursor, count=SNAPSHOT_CHUNK)
            yield [_row(pid, raw) for pid, raw in found.items()]
            if cursor == 0:
                return

    # -- busy -----------------------------------------------------------------------

    async def set_busy(self, provider_id: int, busy: bool) -> None:
        """Mark the provider as on an active job (or no longer), and tell the nodes."""
        key, member = self._key("busy"), str(provider_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.sadd(key, member) if busy else pipe.srem(key, member)
            pipe.publish(self.channel, b"%s\n%d %d" % (BUSY_MESSAGE, busy, provider_id))
            await pipe.execute()

    async def replace_busy(self, provider_ids: Iterable[int]) -> None:
        """The busy set becomes exactly ``provider_ids`` (a rebuild from the truth)."""
        key = self._key("busy")
        members = [str(pid) for pid in provider_ids]
        message = BUSY_REPLACED_MESSAGE + b"\n" + " ".join(members).encode()
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if members:
                pipe.sadd(key, *members)
            pipe.publish(self.channel, message)
            await pipe.execute()

    async def all_busy(self) -> set[int]:
        """Every busy provider."""
        return {int(pid) for pid in await self.client.smembers(self._key("busy"))}

    async def busy(self, provider_ids: Sequence[int]) -> set[int]:
        """Which of these providers are busy."""
        if not provider_ids:
            return set()
        flags = await self.client.smismember(self._key("busy"), [str(i) for i in provider_ids])
        return {pid for pid, flag in zip(provider_ids, flags, strict=True) if flag}

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
