"""Batches accepted positions into Redis and announces them to the panels.

Connections hand their accepted fixes to :meth:`PositionWriter.submit`, which keeps
only each provider's newest one; a background task writes the batch every
``flush_s`` (or sooner, when ``flush_max`` providers wait) in one round trip, and
publishes a throttled ``provider.positions`` event for the panels (each provider at
most once per ``publish_interval_s``). Memory is bounded by the number of providers
connected to this node. If Redis is down, a batch is dropped and logged: positions
are live data, and the next ones refill the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from realtime.bus import Bus
from realtime.events import PROVIDER_POSITIONS, PositionOut, PositionsPayload
from realtime.filter import PositionFix
from realtime.store import LiveStore
from realtime.tasks import owned_task

log = logging.getLogger("acionar.positions")


@dataclass(frozen=True, slots=True)
class WriterConfig:
    flush_s: float = 0.02
    flush_max: int = 500
    publish_interval_s: float = 2.0


class PositionWriter:
    def __init__(self, store: LiveStore, bus: Bus, config: WriterConfig) -> None:
        self.store = store
        self.bus = bus
        self.config = config
        self._pending: dict[int, tuple[PositionFix, int]] = {}
        self._published: dict[int, float] = {}
        self._wake = asyncio.Event()
        self.written = 0
        self.dropped = 0

    def submit(self, provider_id: int, fixes: Sequence[PositionFix], received_ms: int) -> None:
        """Queue a provider's accepted fixes (oldest first); only the newest is kept."""
        if not fixes:
            return
        self._pending[provider_id] = (fixes[-1], received_ms)
        if len(self._pending) >= self.config.flush_max:
            self._wake.set()

    def forget(self, provider_id: int) -> None:
        """The provider left this node: stop tracking when it was last published."""
        self._published.pop(provider_id, None)

    async def flush(self) -> None:
        batch, self._pending = self._pending, {}
        if not batch:
            return
        try:
            await self.store.write_positions((pid, fix, r) for pid, (fix, r) in batch.items())
            self.written += len(batch)
            await self._publish(batch)
        except (RedisError, OSError) as exc:
            self.dropped += len(batch)
            log.warning("positions: dropped %d (Redis unavailable: %s)", len(batch), exc)

    async def _publish(self, batch: dict[int, tuple[PositionFix, int]]) -> None:
        now = time.monotonic()
        interval = self.config.publish_interval_s
        due = [
            (pid, fix)
            for pid, (fix, _) in batch.items()
            if now - self._published.get(pid, -interval) >= interval
        ]
        if not due:
            return
        for pid, _ in due:
            self._published[pid] = now
        positions: list[PositionOut] = [
            {
                "provider_id": pid,
                "lat": fix.lat,
                "lng": fix.lng,
                "t": fix.time_ms,
                "spd": fix.speed_kmh,
                "hdg": fix.heading_deg,
            }
            for pid, fix in due
        ]
        payload: PositionsPayload = {"positions": positions}
        await self.bus.publish(PROVIDER_POSITIONS, payload)

    async def run(self) -> None:
        while True:
            # asyncio.timeout, not wait_for, which on Python 3.11 can swallow a
            # cancellation that arrives as the wake-up does.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.flush_s):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PositionWriter]:
        """Flush in a task owned by this block; the last batch is written at its end."""
        try:
            async with owned_task(self.run(), "position-writer"):
                yield self
        finally:
            await asyncio.shield(self.flush())
