"""The live state of providers in Redis: latest position, presence, busy flags.

Everything here can be lost and rebuilt: it refills from the next positions.
Keys (all under the deployment's prefix ``p``)::

    p:pos            HASH  provider id -> latest accepted position (a position line)
    p:online:<id>    STRING the id of the connection that holds the provider, with a TTL
    p:busy           SET   provider ids on an active job
    p:web:<id>       STRING the provider's web portal is open, with a TTL
    p:layout         STRING :data:`LAYOUT_VERSION` once the keys of earlier layouts
                           are deleted (:meth:`LiveStore.drop_legacy_keys`)

Presence is a key per provider whose value is the connection id, so that a late
"offline" from a replaced connection cannot delete the newer connection's mark
(compare-and-delete). The busy set is kept by operations (:meth:`LiveStore.set_busy`).

Channel ``p:live`` (pub/sub): every write of positions (with each position's H3
cell) and every change of the busy set is published there atomically with the write
(a script for positions, a ``MULTI`` for the busy set), so that each node's
:class:`realtime.mirror.LiveMirror` applies them in Redis's order; candidate
search reads that mirror, not Redis (docs/geo.md, "The live mirror"). A message is
a kind line (:data:`POSITIONS_MESSAGE`, :data:`BUSY_MESSAGE`,
:data:`BUSY_REPLACED_MESSAGE`) and its body.

A position is stored as the very line that announces it on ``p:live``
(:func:`position_line`), and a batch is written by a script that takes the message
as its only argument, splits it into the hash's fields and publishes it: the server
builds one line per position and the client packs one argument per batch (packing
two per position, and building the JSON beside the line, cost about 8 % of the
server's time per position). Entries stored as JSON by earlier versions are read
too.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import h3
import orjson
import redis.asyncio as aioredis

from realtime.filter import PositionFix
from realtime.presence import Connectivity

CELL_RESOLUTION = 8  # ~0.46 km edges: the same resolution as providers' bases

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

_WRITE_POSITIONS = r"""
-- KEYS[1]: the positions hash; ARGV[1]: the live channel; ARGV[2]: a positions
-- message (its kind line, then one position line each, the provider id third)
local message = ARGV[2]
local args, n, written = {}, 0, 0
for line in string.gmatch(message, '\n([^\n]+)') do
  args[n + 1] = string.match(line, '^%S+ %S+ (%d+) ')
  args[n + 2] = line
  n, written = n + 2, written + 1
  if n >= 7000 then  -- unpack's limit is about 8,000 values
    redis.call('HSET', KEYS[1], unpack(args, 1, n))
    n = 0
  end
end
if n > 0 then redis.call('HSET', KEYS[1], unpack(args, 1, n)) end
redis.call('PUBLISH', ARGV[1], message)
return written
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

    def fix(self) -> PositionFix:
        """The accepted fix it was (for the position filter to continue from)."""
        return PositionFix(
            lat=self.lat,
            lng=self.lng,
            accuracy_m=self.accuracy_m,
            time_ms=self.device_time_ms,
            speed_kmh=self.speed_kmh,
            heading_deg=self.heading_deg,
        )


def now_ms() -> int:
    return int(time.time() * 1000)


def position_line(provider_id: int, fix: PositionFix, received_ms: int) -> bytes:
    """A position as stored and published: ``<cell> <received ms> <id> <lat> <lng>
    <accuracy m> <device ms> <speed km/h or -> <heading or ->`` (floats as ``repr``
    writes them, so they read back exactly)."""
    lat, lng, speed, heading = fix.lat, fix.lng, fix.speed_kmh, fix.heading_deg
    cell = h3.latlng_to_cell(lat, lng, CELL_RESOLUTION)
    return (
        f"{cell} {received_ms} {provider_id} {lat!r} {lng!r} {fix.accuracy_m!r} {fix.time_ms} "
        f"{'-' if speed is None else repr(speed)} {'-' if heading is None else repr(heading)}"
    ).encode()


def _optional(word: str) -> float | None:
    return None if word == "-" else float(word)


def decode_position(provider_id: int, raw: bytes | str) -> LivePosition:
    """A stored position (a :func:`position_line`, or the JSON of earlier versions).

    Raises:
        ValueError, KeyError, IndexError: unreadable.
    """
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text.startswith("{"):
        data = orjson.loads(text)
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
    _, received, _, lat, lng, accuracy, device, speed, heading = text.split(" ")
    return LivePosition(
        provider_id=provider_id,
        lat=float(lat),
        lng=float(lng),
        accuracy_m=float(accuracy),
        device_time_ms=int(device),
        received_ms=int(received),
        speed_kmh=_optional(speed),
        heading_deg=_optional(heading),
    )


Fix = tuple[float, float, int]
"""(lat, lng, received ms) of a live position, as candidate search reads it."""

POSITIONS_MESSAGE = b"p"
"""Live channel: a batch of positions written, one :func:`position_line` each after
the kind's line (a reader takes the first five words: ``<cell> <received ms> <id>
<lat> <lng>``, and ignores any after them)."""
BUSY_MESSAGE = b"b"
"""Live channel: ``1`` (busy) or ``0`` (free), then provider ids, space-separated."""
BUSY_REPLACED_MESSAGE = b"B"
"""Live channel: the busy set is now exactly these provider ids."""
SNAPSHOT_CHUNK = 2_000
"""Positions per ``HSCAN`` round trip when a node loads its mirror."""

PositionRow = tuple[int, str, Fix]
"""(provider id, H3 cell of the position, the position) in a snapshot."""

LAYOUT_VERSION = 3
"""The key layout described above, kept in ``p:layout``. Layout 1 indexed positions
by H3 cell in Redis (``p:poscell`` HASH, ``p:cell:<hex>`` SETs), layout 2 likewise
(``p:livecell`` HASH, ``p:cellz:<hex>`` ZSETs); since layout 3 each node's mirror is
the index and Redis holds no cell keys."""
LEGACY_SCAN_COUNT = 1_000
"""Keys ``SCAN`` looks at per round trip while looking for keys of earlier layouts
(each round trip's finds are deleted before the next)."""
_LEGACY_HASHES = ("poscell", "livecell")
_LEGACY_CELL_KINDS = frozenset({"cell", "cellz"})
_H3_CELL_DIGITS = 15  # hex digits of any H3 cell index (longer ones overflow h3's check)


def _row(pid: bytes | str, raw: bytes | str) -> PositionRow | None:
    """A snapshot row, or None for an entry this version cannot read."""
    try:
        position = decode_position(int(pid), raw)
        lat, lng = position.lat, position.lng
        cell = h3.latlng_to_cell(lat, lng, CELL_RESOLUTION)
        return (position.provider_id, cell, (lat, lng, position.received_ms))
    except (ValueError, KeyError, TypeError, IndexError, h3.H3BaseException):
        return None


class LiveStore:
    """Positions, presence and busy flags of providers in Redis, for every node."""

    resolution = CELL_RESOLUTION

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = prefix + "live"
        self._write = client.register_script(_WRITE_POSITIONS)
        self._refresh = client.register_script(_REFRESH)
        self._release = client.register_script(_RELEASE)

    def _key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    # -- positions ------------------------------------------------------------------

    async def write_positions(self, latest: Iterable[tuple[int, PositionFix, int]]) -> int:
        """Store each provider's newest fix (provider id, fix, received ms) and publish
        the batch, atomically (one script); returns how many were written."""
        lines = [POSITIONS_MESSAGE]
        lines += [position_line(pid, fix, received) for pid, fix, received in latest]
        if len(lines) == 1:
            return 0
        message = b"\n".join(lines)
        return int(await self._write(keys=[self._key("pos")], args=[self.channel, message]))

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

    async def snapshot(self) -> AsyncIterator[list[PositionRow]]:
        """Every stored position with its cell, a chunk per round trip (not one
        instant: see :class:`realtime.mirror.MirrorFeed` for how a node copes)."""
        cursor = 0
        while True:
            cursor, found = await self.client.hscan(self._key("pos"), cursor, count=SNAPSHOT_CHUNK)
            assert isinstance(found, dict)  # HSCAN without NOVALUES
            yield [row for pid, raw in found.items() if (row := _row(pid, raw)) is not None]
            if cursor == 0:
                return

    # -- busy -----------------------------------------------------------------------

    async def set_busy(self, provider_id: int, busy: bool) -> None:
        """Mark the provider as on an active job (or no longer), and tell the nodes."""
        key, member = self._key("busy"), str(provider_id)
        async with self.client.pipeline(transaction=True) as pipe:
            if busy:
                pipe.sadd(key, member)
            else:
                pipe.srem(key, member)
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

    # -- the provider web portal ---------------------------------------------------

    async def mark_web(self, provider_id: int, ttl_s: float) -> None:
        """The provider's web portal is open (its page renews this within ``ttl_s``)."""
        await self.client.set(self._key("web", provider_id), b"1", px=int(ttl_s * 1000))

    async def unmark_web(self, provider_id: int) -> None:
        """The provider's last portal page on this node closed."""
        await self.client.delete(self._key("web", provider_id))

    async def reach(self, provider_ids: Sequence[int]) -> dict[int, tuple[bool, bool]]:
        """Per provider: (its app is connected, its web portal is open)."""
        if not provider_ids:
            return {}
        keys = [self._key(kind, pid) for pid in provider_ids for kind in ("online", "web")]
        values = await self.client.mget(keys)
        return {
            pid: (values[2 * i] is not None, values[2 * i + 1] is not None)
            for i, pid in enumerate(provider_ids)
        }

    async def connectivity(self, provider_ids: Sequence[int]) -> dict[int, Connectivity]:
        """How each provider can be reached now: its app, its web portal, or neither."""
        if not provider_ids:
            return {}
        keys = [self._key(kind, pid) for pid in provider_ids for kind in ("online", "web")]
        values = await self.client.mget(keys)
        return {
            pid: Connectivity.APP
            if values[2 * i] is not None
            else Connectivity.WEB
            if values[2 * i + 1] is not None
            else Connectivity.OFFLINE
            for i, pid in enumerate(provider_ids)
        }

    # -- earlier layouts --------------------------------------------------------------

    async def drop_legacy_keys(self) -> int:
        """Delete the keys that earlier layouts wrote (:data:`LAYOUT_VERSION`), then
        record in ``p:layout`` that the layout is current, so that later calls (each
        node's start) return at once; returns how many keys were deleted.

        The keyspace is walked with ``SCAN`` (:data:`LEGACY_SCAN_COUNT` keys per round
        trip, never ``KEYS``) and the finds are ``UNLINK``-ed (freed off Redis's main
        thread); only keys under this prefix named as an earlier layout named them
        (``cell:`` or ``cellz:`` and a valid H3 cell) go. A node of an earlier
        version still writing afterwards leaves such keys again: ``DEL p:layout``
        makes the next call look again.

        Raises:
            redis.exceptions.RedisError: Redis failed; the marker is then not set,
                and the next call starts over (deleting is idempotent).
        """
        marker = self._key("layout")
        layout = await self.client.get(marker)
        if layout is not None and layout.isdigit() and int(layout) >= LAYOUT_VERSION:
            return 0  # current, or a newer release's (which did its own sweep)
        dropped = int(await self.client.unlink(*(self._key(n) for n in _LEGACY_HASHES)))
        literal = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)
        cursor = 0
        while True:
            cursor, found = await self.client.scan(
                cursor, match=literal + "cell*", count=LEGACY_SCAN_COUNT
            )
            legacy = [key for key in found if self._is_legacy_cell_key(key)]
            if legacy:
                dropped += int(await self.client.unlink(*legacy))
            if cursor == 0:
                break
        await self.client.set(marker, LAYOUT_VERSION)
        return dropped

    def _is_legacy_cell_key(self, key: bytes | str) -> bool:
        """Whether ``key``, found under this prefix by ``SCAN``, is ``p:cell:<hex>`` or
        ``p:cellz:<hex>`` (earlier layouts)."""
        name = key.decode(errors="replace") if isinstance(key, bytes) else key
        kind, _, cell = name[len(self.prefix) :].partition(":")
        return (
            kind in _LEGACY_CELL_KINDS and len(cell) == _H3_CELL_DIGITS and h3.is_valid_cell(cell)
        )
