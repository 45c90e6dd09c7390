"""The position writer's batching and publishing, with in-memory store and bus."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, cast

from realtime.bus import Bus
from realtime.events import PROVIDER_POSITIONS, EventType
from realtime.filter import PositionFix
from realtime.store import LiveStore
from realtime.writer import PositionWriter, WriterConfig
from tests.realtime.support import fix


class MemoryStore:
    def __init__(self) -> None:
        self.batches: list[list[tuple[int, PositionFix, int]]] = []

    async def write_positions(self, latest: Iterable[tuple[int, PositionFix, int]]) -> int:
        self.batches.append(list(latest))
        return 0


class MemoryBus:
    def __init__(self) -> None:
        self.events: list[tuple[EventType[Any], Mapping[str, Any]]] = []

    async def publish(self, event: EventType[Any], payload: Mapping[str, Any]) -> None:
        self.events.append((event, payload))


def writer(publish_interval_s: float) -> tuple[PositionWriter, MemoryStore, MemoryBus]:
    store, bus = MemoryStore(), MemoryBus()
    config = WriterConfig(publish_interval_s=publish_interval_s)
    return PositionWriter(cast(LiveStore, store), cast(Bus, bus), config), store, bus


def published(bus: MemoryBus) -> list[int]:
    return [
        p["provider_id"]
        for kind, payload in bus.events
        if kind is PROVIDER_POSITIONS
        for p in payload["positions"]
    ]


async def test_only_the_newest_fix_of_a_provider_is_written() -> None:
    w, store, _ = writer(2.0)
    w.submit(7, [fix(dt_s=0), fix(dt_s=1)], 10)
    w.submit(7, [fix(dt_s=2)], 11)
    w.submit(8, [fix(dt_s=0)], 12)
    await w.flush()
    assert store.batches == [[(7, fix(dt_s=2), 11), (8, fix(dt_s=0), 12)]]
    assert w.written == 2


async def test_a_zero_publish_interval_publishes_every_write() -> None:
    w, _, bus = writer(0.0)
    for second in range(3):
        w.submit(7, [fix(dt_s=second)], second)
        await w.flush()
    assert published(bus) == [7, 7, 7]


async def test_publishing_is_throttled_per_provider() -> None:
    w, _, bus = writer(60.0)
    for second in range(3):
        w.submit(7, [fix(dt_s=second)], second)
        await w.flush()
    assert published(bus) == [7]


async def test_a_wake_up_as_the_server_stops_does_not_keep_the_writer_alive() -> None:
    store, bus = MemoryStore(), MemoryBus()
    w = PositionWriter(
        cast(LiveStore, store), cast(Bus, bus), WriterConfig(flush_s=60.0, flush_max=1)
    )
    task = asyncio.create_task(w.run())
    try:
        await asyncio.sleep(0.01)  # waiting
        w.submit(7, [fix(dt_s=0)], 1)  # flush_max reached: wakes the writer...
        task.cancel()  # ...as the server stops
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert task in done and task.cancelled()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
