"""The Redis live store, bus, hub and position writer against a real Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import h3
import redis.asyncio as aioredis

from realtime.bus import Bus
from realtime.filter import PositionFix
from realtime.hub import Handle, Hub
from realtime.store import CELL_RESOLUTION, LiveStore
from realtime.writer import POSITIONS_EVENT, PositionWriter, WriterConfig
from server.settings import Settings
from tests.conftest import unit


def _fix(lat: float, lng: float, t: int = 1_700_000_000_000) -> PositionFix:
    return PositionFix(lat=lat, lng=lng, accuracy_m=5.0, time_ms=t)


def _store(redis: aioredis.Redis, settings: Settings) -> LiveStore:
    return LiveStore(redis, settings.redis_prefix)


async def test_positions_move_between_cells(redis: aioredis.Redis, settings: Settings) -> None:
    store = _store(redis, settings)
    here, there = (-23.55, -46.63), (-23.60, -46.70)
    cell_here = h3.latlng_to_cell(*here, CELL_RESOLUTION)
    cell_there = h3.latlng_to_cell(*there, CELL_RESOLUTION)
    assert await store.write_positions([(1, _fix(*here), 10), (2, _fix(*here), 10)]) == 2
    assert await store.providers_in_cells([cell_here]) == {1, 2}
    assert await store.write_positions([(1, _fix(*there), 20)]) == 1
    assert await store.providers_in_cells([cell_here]) == {2}
    assert await store.providers_in_cells([cell_there, cell_here]) == {1, 2}
    assert await store.write_positions([(1, _fix(*there), 30)]) == 0  # same cell: no move
    positions = await store.positions([1, 2, 3])
    assert set(positions) == {1, 2}
    assert (positions[1].lat, positions[1].received_ms) == (there[0], 30)


async def test_presence_belongs_to_the_connection_that_holds_it(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    await store.hold(7, "old", ttl_s=30)
    await store.hold(7, "new", ttl_s=30)  # a newer connection takes over
    assert not await store.release(7, "old")  # the late offline of the old one
    assert (await store.online([7]))[7]
    assert await store.refresh([(7, "new"), (7, "old")], ttl_s=30) == 1
    assert await store.release(7, "new")
    assert (await store.online([7, 8])) == {7: False, 8: False}


async def test_presence_expires_without_refresh(redis: aioredis.Redis, settings: Settings) -> None:
    store = _store(redis, settings)
    await store.hold(9, "conn", ttl_s=0.2)
    await asyncio.sleep(0.4)
    assert not (await store.online([9]))[9]


async def test_bus_reaches_every_listener(redis: aioredis.Redis, settings: Settings) -> None:
    heard: list[dict[str, Any]] = []
    arrived = asyncio.Event()
    channel = settings.redis_prefix + "test-bus"
    a, b = Bus(redis, channel, "node-a"), Bus(redis, channel, "node-b")

    async def on_ping(event: dict[str, Any]) -> None:
        heard.append(event)
        arrived.set()

    b.on("ping", on_ping)
    async with a.running(), b.running():
        await b.wait_ready()
        await a.publish("ping", {"n": 1})
        await a.publish("other", {"n": 2})
        await asyncio.wait_for(arrived.wait(), unit(2))
    assert heard == [{"n": 1, "type": "ping", "node": "node-a"}]


def test_hub_newest_connection_wins() -> None:
    hub = Hub()
    told: list[tuple[str, str]] = []
    first = Handle("c1", lambda what: told.append(("c1", what)), credential_id=5)
    second = Handle("c2", lambda what: told.append(("c2", what)), credential_id=6)
    assert hub.attach(1, first) is None
    assert hub.attach(1, second) is first
    hub.detach(1, first)  # the replaced one leaving does not remove the newer one
    assert hub.held() == [(1, "c2")]
    hub.revoke(1, credential_id=5)  # not the token c2 uses
    hub.revoke(1, credential_id=6)
    hub.replaced_elsewhere(1, "c9")
    assert told == [("c2", "revoked"), ("c2", "replaced")]
    assert len(hub) == 0


async def test_writer_keeps_the_newest_fix_and_throttles_panel_events(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    bus = Bus(redis, settings.redis_prefix + "writer-bus", "n")
    events: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def on_positions(event: dict[str, Any]) -> None:
        events.append(event)
        arrived.set()

    bus.on(POSITIONS_EVENT, on_positions)
    writer = PositionWriter(
        store, bus, WriterConfig(flush_s=0.01, flush_max=100, publish_interval_s=60)
    )
    async with bus.running():
        await bus.wait_ready()
        async with writer.running():
            writer.submit(1, [_fix(-23.5, -46.6, 1), _fix(-23.6, -46.7, 2)], 100)
            await asyncio.sleep(0.1)
            writer.submit(1, [_fix(-23.7, -46.8, 3)], 200)
        await asyncio.wait_for(arrived.wait(), unit(2))
        await asyncio.sleep(0.1)  # time for a second (throttled, so absent) event
    assert (await store.positions([1]))[1].lat == -23.7  # the last flush ran at exit
    assert len(events) == 1  # the second position came within publish_interval_s
    assert events[0]["positions"][0]["lat"] == -23.6
    assert writer.written == 2


async def test_read_cells_gives_fresh_positions_and_busy_flags(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    here, there = (-23.55, -46.63), (-23.60, -46.70)
    cell_here = h3.latlng_to_cell(*here, CELL_RESOLUTION)
    cell_there = h3.latlng_to_cell(*there, CELL_RESOLUTION)
    await store.write_positions(
        [(1, _fix(*here), 1_000), (2, _fix(*here), 5_000), (3, _fix(*there), 5_000)]
    )
    await store.set_busy(2, True)
    await store.set_busy(4, True)
    await store.set_busy(4, False)
    read = await store.read_cells([cell_there, cell_here], [1, 3, 4], least_received_ms=2_000)
    assert sorted((i, pid, store.decode_fix(raw)) for i, pid, raw in read.in_cells) == [
        (0, 3, (there[0], there[1], 5_000)),
        (1, 2, (here[0], here[1], 5_000)),
    ]
    assert read.fresh == {3: (there[0], there[1], 5_000)}  # 1 is stale, 4 has none
    assert read.busy == {2}
    assert await store.busy([1, 2, 4]) == {2}
    await store.write_positions([(1, _fix(*there), 9_000)])  # moves, and is fresh now
    read = await store.read_cells([cell_here], [1], least_received_ms=2_000)
    assert [pid for _, pid, _ in read.in_cells] == [2]
    assert read.fresh == {1: (there[0], there[1], 9_000)}
