"""The Redis live store, bus, hub and position writer against a real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import h3
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from realtime.bus import Bus, event_type
from realtime.filter import PositionFix
from realtime.hub import Handle, Hub
from realtime.mirror import MirrorFeed
from realtime.store import CELL_RESOLUTION, LivePosition, LiveStore, PositionRow
from realtime.writer import POSITIONS_EVENT, PositionWriter, WriterConfig
from server.settings import Settings
from tests.conftest import unit


def _fix(lat: float, lng: float, t: int = 1_700_000_000_000) -> PositionFix:
    return PositionFix(lat=lat, lng=lng, accuracy_m=5.0, time_ms=t)


def _store(redis: aioredis.Redis, settings: Settings) -> LiveStore:
    return LiveStore(redis, settings.redis_prefix)


async def test_the_newest_position_is_kept(redis: aioredis.Redis, settings: Settings) -> None:
    store = _store(redis, settings)
    here, there = (-23.55, -46.63), (-23.60, -46.70)
    assert await store.write_positions([(1, _fix(*here), 10), (2, _fix(*here), 10)]) == 2
    assert await store.write_positions([(1, _fix(*there), 20)]) == 1
    assert await store.write_positions([]) == 0
    positions = await store.positions([1, 2, 3])
    assert set(positions) == {1, 2}
    assert (positions[1].lat, positions[1].received_ms) == (there[0], 20)
    await redis.hset(store.prefix + "pos", "9", b"not a position")  # skipped
    chunks = [chunk async for chunk in store.snapshot()]
    rows = sorted(row for chunk in chunks for row in chunk)
    assert rows == [
        (1, h3.latlng_to_cell(*there, CELL_RESOLUTION), (*there, 20)),
        (2, h3.latlng_to_cell(*here, CELL_RESOLUTION), (*here, 10)),
    ]


async def test_positions_read_back_exactly_in_batches_over_the_script_chunk(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    odd = PositionFix(-23.123456789012345, -46.1, 7.25, 1_700_000_000_123, 0.1, 359.9)
    batch = [(pid, _fix(-23.5, -46.6 + pid * 1e-6), pid) for pid in range(1, 4_001)]
    assert await store.write_positions([*batch, (5_000, odd, 99)]) == 4_001
    stored = await store.positions([1, 4_000, 5_000])
    assert (stored[4_000].lng, stored[4_000].received_ms) == (-46.6 + 4_000 * 1e-6, 4_000)
    assert (stored[1].speed_kmh, stored[1].heading_deg) == (None, None)
    assert stored[5_000] == LivePosition(5_000, odd.lat, odd.lng, 7.25, odd.time_ms, 99, 0.1, 359.9)


async def test_positions_stored_as_json_by_earlier_versions_are_read(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    old = b'{"lat":-23.5,"lng":-46.6,"acc":5.0,"t":1700000000000,"r":10,"spd":null,"hdg":2.0}'
    await redis.hset(store.prefix + "pos", "4", old)
    assert (await store.positions([4]))[4] == LivePosition(
        4, -23.5, -46.6, 5.0, 1_700_000_000_000, 10, None, 2.0
    )
    rows = [row async for chunk in store.snapshot() for row in chunk]
    assert rows == [(4, h3.latlng_to_cell(-23.5, -46.6, CELL_RESOLUTION), (-23.5, -46.6, 10))]


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


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + unit(2)
    while not condition():
        assert time.monotonic() < deadline, "the mirror did not catch up"
        await asyncio.sleep(0.01)


async def test_the_mirror_loads_a_snapshot_then_follows_every_write(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    here, there = (-23.55, -46.63), (-23.60, -46.70)
    cell_here = h3.latlng_to_cell(*here, CELL_RESOLUTION)
    cell_there = h3.latlng_to_cell(*there, CELL_RESOLUTION)
    await store.write_positions([(1, _fix(*here), 1_000), (2, _fix(*here), 5_000)])
    await store.set_busy(2, True)
    async with MirrorFeed(store).running() as feed:
        await asyncio.wait_for(feed.wait_ready(), unit(5))
        mirror = feed.mirror
        assert mirror.in_cell(cell_here) == {1: (*here, 1_000), 2: (*here, 5_000)}
        assert mirror.busy == {2}
        await store.write_positions([(1, _fix(*there), 9_000), (3, _fix(*there), 9_500)])
        await store.set_busy(4, True)
        await store.set_busy(2, False)
        await _until(lambda: mirror.busy == {4})
        assert mirror.in_cell(cell_here) == {2: (*here, 5_000)}  # published before busy
        assert mirror.in_cell(cell_there) == {1: (*there, 9_000), 3: (*there, 9_500)}
        assert mirror.position(1) == (*there, 9_000)
        await store.replace_busy([7, 8])
        await _until(lambda: mirror.busy == {7, 8})
        assert await store.all_busy() == {7, 8}
        assert await store.busy([2, 7]) == {7}
        assert feed.snapshots == 1 and feed.dropped == 0


async def test_the_mirror_skips_messages_it_cannot_read(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    async with MirrorFeed(store).running() as feed:
        await asyncio.wait_for(feed.wait_ready(), unit(5))
        await redis.publish(store.channel, b"p\nnot a position")
        await store.set_busy(5, True)
        await _until(lambda: feed.mirror.busy == {5})
        assert feed.dropped == 1


async def test_the_mirror_reloads_after_a_failure(
    redis: aioredis.Redis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(redis, settings)
    await store.write_positions([(1, _fix(-23.55, -46.63), 1_000)])
    snapshot, calls = store.snapshot, []

    def failing_once() -> AsyncIterator[list[PositionRow]]:
        calls.append(1)
        if len(calls) == 1:
            raise RedisConnectionError("Redis went away")
        return snapshot()

    monkeypatch.setattr(store, "snapshot", failing_once)
    async with MirrorFeed(store).running() as feed:
        await asyncio.wait_for(feed.wait_ready(), unit(5))
        assert len(calls) == 2 and feed.snapshots == 1
        assert feed.mirror.position(1) == (-23.55, -46.63, 1_000)


async def test_the_bus_decodes_only_events_a_handler_wants(
    redis: aioredis.Redis, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert event_type(b'{"type":"provider.positions","node":"a"}') == "provider.positions"
    assert event_type(b'{"node":"a","type":"x"}') is None  # another layout: decoded
    assert event_type(b'{"type":"a\\u0062"}') is None
    bus = Bus(redis, settings.redis_prefix + "skip-bus", "n")
    seen: list[dict[str, Any]] = []

    async def handler(event: dict[str, Any]) -> None:
        seen.append(event)

    bus.on("wanted", handler)
    await bus._dispatch(b'{"type":"unwanted","node":"m", not JSON after all')
    assert not caplog.records  # skipped, not even found malformed
    await bus._dispatch(b'{"type":"wanted","node":"m","v":1}')
    await bus._dispatch(b'{"node":"m","type":"wanted","v":2}')
    assert [event["v"] for event in seen] == [1, 2]
    await bus._dispatch(b'{"type":"wanted", broken')
    assert "malformed" in caplog.text
