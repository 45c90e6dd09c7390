"""Every provider's latest position and the busy set, mirrored in each server process.

Candidate search reads live state for hundreds of cells per query; reading them from
Redis cost more than the search itself (docs/geo.md, "The live mirror"). So each
node keeps a copy in memory, fed by Redis:

* :class:`LiveMirror` (pure): provider id → latest position (lat, lng, received ms,
  which never goes back) and its H3 cell, the providers per cell, the busy set. It
  applies the messages the live store publishes (:mod:`realtime.store`, channel
  ``<prefix>live``) in the order Redis published them: every write of positions and
  every busy change, from any node.
* :class:`MirrorFeed` (async edge): subscribes, then loads a snapshot of the store
  (so nothing written in between is lost: the messages received meanwhile are
  applied after it, and each provider ends with its last one), then applies the
  messages as they come. After a Redis outage it does the same into a new mirror and
  swaps it in; searches go on with the old one meanwhile.

A search reads the mirror synchronously, so it sees one instant of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Iterable, Mapping, Set
from typing import Any

from redis.exceptions import RedisError

from realtime.errors import MirrorMessageError
from realtime.store import (
    BUSY_MESSAGE,
    BUSY_REPLACED_MESSAGE,
    POSITIONS_MESSAGE,
    Fix,
    LiveStore,
)
from realtime.tasks import owned_task

log = logging.getLogger("acionar.mirror")

RECONNECT_DELAY_S = 1.0
RECONNECT_DELAY_MAX_S = 30.0
SUBSCRIBE_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 1.0

_NO_MEMBERS: Mapping[int, Fix] = {}


class LiveMirror:
    """Latest positions by provider and by cell, and the busy set (pure)."""

    __slots__ = ("_cell_of", "_cells", "_fixes", "busy")

    def __init__(self) -> None:
        self._fixes: dict[int, Fix] = {}
        self._cell_of: dict[int, str] = {}
        self._cells: dict[str, dict[int, Fix]] = {}
        self.busy: set[int] = set()

    def __len__(self) -> int:
        return len(self._fixes)

    def position(self, provider_id: int) -> Fix | None:
        """The provider's latest position, fresh or not."""
        return self._fixes.get(provider_id)

    @property
    def positions(self) -> Mapping[int, Fix]:
        """Every provider's latest position, fresh or not (read only)."""
        return self._fixes

    def in_cell(self, cell: str) -> Mapping[int, Fix]:
        """The providers whose latest position (fresh or not) lies in ``cell``."""
        return self._cells.get(cell, _NO_MEMBERS)

    def is_busy(self, provider_id: int) -> bool:
        return provider_id in self.busy

    def put(self, provider_id: int, cell: str, fix: Fix) -> None:
        """The provider's latest position is ``fix``, in ``cell`` (H3 hex).

        Its received time never goes back (a later report stamped earlier by a node
        whose clock is behind keeps the stamp it follows): candidate search keeps
        who streams per cell on that promise (:class:`geo.search.LiveView`)."""
        held = self._fixes.get(provider_id)
        if held is not None and fix[2] < held[2]:
            fix = (fix[0], fix[1], held[2])
        old = self._cell_of.get(provider_id)
        if old != cell:
            if old is not None:
                members = self._cells[old]
                del members[provider_id]
                if not members:
                    del self._cells[old]
            cell = sys.intern(cell)  # one string per cell, however many providers
            self._cell_of[provider_id] = cell
        self._cells.setdefault(cell, {})[provider_id] = fix
        self._fixes[provider_id] = fix

    def set_busy(self, provider_ids: Iterable[int], busy: bool) -> None:
        if busy:
            self.busy.update(provider_ids)
        else:
            self.busy.difference_update(provider_ids)

    def replace_busy(self, provider_ids: Set[int]) -> None:
        self.busy = set(provider_ids)

    def apply(self, message: bytes) -> None:
        """Apply one message of the live channel (see :mod:`realtime.store`).

        Raises :class:`MirrorMessageError` when it cannot be read."""
        kind, _, body = message.partition(b"\n")
        try:
            if kind == POSITIONS_MESSAGE:
                put = self.put
                for line in body.split(b"\n"):
                    # The first five words; a stored position line has more.
                    cell, received, pid, lat, lng = line.split(b" ", 5)[:5]
                    put(int(pid), cell.decode(), (float(lat), float(lng), int(received)))
            elif kind == BUSY_MESSAGE:
                flag, *ids = body.split()
                if flag not in (b"0", b"1"):
                    raise ValueError(flag)
                self.set_busy([int(pid) for pid in ids], flag == b"1")
            elif kind == BUSY_REPLACED_MESSAGE:
                self.replace_busy({int(pid) for pid in body.split()})
            else:
                raise MirrorMessageError(f"unknown message kind {kind[:20]!r}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise MirrorMessageError(f"unreadable {kind[:20]!r} message") from exc


class MirrorFeed:
    """Keeps a :class:`LiveMirror` current from a live store; see the module.

    ``mirror`` is the current copy; :meth:`wait_ready` returns once the first
    snapshot is in."""

    def __init__(self, store: LiveStore) -> None:
        self.store = store
        self.mirror = LiveMirror()
        self._ready = asyncio.Event()
        self.snapshots = 0  # loaded so far (for tests and logs)
        self.dropped = 0  # unreadable messages

    async def wait_ready(self) -> None:
        """Until the first snapshot is loaded (and every message since applied)."""
        await self._ready.wait()

    def _apply(self, mirror: LiveMirror, message: dict[str, Any]) -> None:
        if message.get("type") != "message":
            return
        try:
            mirror.apply(message["data"])
        except MirrorMessageError as exc:
            self.dropped += 1
            log.warning("mirror: dropped a message (%s)", exc)

    async def _subscribed(self, pubsub: Any) -> None:
        await pubsub.subscribe(self.store.channel)
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            while True:  # the snapshot must start after Redis registered us
                message = await pubsub.get_message(timeout=READ_TIMEOUT_S)
                if message is not None and message["type"] == "subscribe":
                    return

    async def _load(self) -> LiveMirror:
        mirror = LiveMirror()
        async for chunk in self.store.snapshot():
            for pid, cell, fix in chunk:
                mirror.put(pid, cell, fix)
        mirror.replace_busy(await self.store.all_busy())
        return mirror

    async def _listen_once(self) -> None:
        async with self.store.client.pubsub() as pubsub:
            await self._subscribed(pubsub)
            mirror = await self._load()
            # What was published during the load waits in the socket: applied next,
            # in order, before anyone reads the new mirror.
            while (message := await pubsub.get_message(timeout=0.0)) is not None:
                self._apply(mirror, message)
            self.mirror = mirror
            self.snapshots += 1
            self._ready.set()
            log.info("mirror: %d positions, %d busy loaded", len(mirror), len(mirror.busy))
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT_S)
                if message is not None:
                    self._apply(mirror, message)

    async def listen(self) -> None:
        """Keep the mirror current until cancelled, reloading it after outages."""
        delay = RECONNECT_DELAY_S
        while True:
            loaded = self.snapshots
            try:
                await self._listen_once()
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("mirror: Redis unavailable (%s); retrying", exc)
            except Exception:  # a stale mirror is worse than a reload: never give up
                log.exception("mirror: listener failed; reloading")
            if self.snapshots > loaded:  # it had been working: a new outage
                delay = RECONNECT_DELAY_S
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_DELAY_MAX_S)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[MirrorFeed]:
        """Listen in a task owned by this block; cancelled and awaited at its end."""
        async with owned_task(self.listen(), "live-mirror"):
            yield self
