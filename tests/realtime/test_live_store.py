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
from typing_extensions import TypedDict

from realtime.bus import Bus, Relayed, event_type
from realtime.errors import RealtimeError
from realtime.events import PROVIDER_POSITIONS, EventType, Received
from realtime.filter import PositionFix
from realtime.hub import Handle, Hub, HubNews
from realtime.mirror import MirrorFeed
from realtime.store import (
    CELL_RESOLUTION,
    LAYOUT_VERSION,
    LEGACY_SCAN_COUNT,
    LivePosition,
    LiveStore,
    PositionRow,
)
from realtime.writer import PositionWriter, WriterConfig
from server.settings import Settings
from tests.conftest import unit


class Ping(TypedDict):
    n: int


PING = EventType.define("ping", Ping, durable=False, summary="a test")
OTHER = EventType.define("other", Ping, durable=False, summary="another")
WANTED = EventType.define("wanted", Ping, durable=True, summary="a durable one")


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
    heard: list[Received[Ping]] = []
    arrived = asyncio.Event()
    channel = settings.redis_prefix + "test-bus"
    a, b = Bus(redis, channel, "node-a"), Bus(redis, channel, "node-b")

    async def on_ping(event: Received[Ping]) -> None:
        heard.append(event)
        arrived.set()

    b.on(PING, on_ping)
    async with a.running(), b.running():
        await b.wait_ready()
        await a.publish(PING, Ping(n=1))
        await a.publish(OTHER, Ping(n=2))
        await asyncio.wait_for(arrived.wait(), unit(2))
    assert heard == [Received({"n": 1}, "node-a")]
    with pytest.raises(RealtimeError):
        await a.publish(WANTED, Ping(n=3))  # durable: only through the outbox


def test_hub_newest_connection_wins() -> None:
    hub = Hub()
    told: list[tuple[str, HubNews]] = []
    first = Handle("c1", lambda news: told.append(("c1", news)), credential_id=5)
    second = Handle("c2", lambda news: told.append(("c2", news)), credential_id=6)
    assert hub.attach(1, first) is None
    assert hub.attach(1, second) is first
    hub.detach(1, first)  # the replaced one leaving does not remove the newer one
    assert hub.held() == [(1, "c2")]
    hub.revoke(1, credential_id=5)  # not the token c2 uses
    hub.revoke(1, credential_id=6)
    hub.replaced_elsewhere(1, "c9")
    assert told == [("c2", HubNews.REVOKED), ("c2", HubNews.REPLACED)]
    assert len(hub) == 0


async def test_writer_keeps_the_newest_fix_and_throttles_panel_events(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    bus = Bus(redis, settings.redis_prefix + "writer-bus", "n")
    events: list[Any] = []
    arrived = asyncio.Event()

    async def on_positions(event: Received[Any]) -> None:
        events.append(event.payload)
        arrived.set()

    bus.on(PROVIDER_POSITIONS, on_positions)
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
    seen: list[Received[Ping]] = []

    async def handler(event: Received[Ping]) -> None:
        seen.append(event)

    bus.on(WANTED, handler)
    await bus._dispatch(b'{"type":"unwanted","node":"m", not JSON after all')
    assert not caplog.records  # skipped, not even found malformed
    await bus._dispatch(b'{"type":"wanted","node":"m","event_id":1,"seq":5,"n":1}')
    await bus._dispatch(b'{"node":"m","type":"wanted","event_id":2,"n":2}')
    await bus._dispatch(b'{"type":"wanted","node":"x","event_id":1,"seq":9,"n":1}')  # again
    assert [(e.payload["n"], e.event_id, e.seq) for e in seen] == [(1, 1, 5), (2, 2, None)]
    await bus._dispatch(b'{"type":"wanted", broken')
    assert "malformed" in caplog.text
    caplog.clear()
    await bus._dispatch(b'{"type":"wanted","node":"m","event_id":3,"n":"not a number"}')
    assert "malformed wanted" in caplog.text and len(seen) == 2


async def test_relayed_events_go_out_in_order_with_their_id_and_position(
    redis: aioredis.Redis, settings: Settings
) -> None:
    channel = settings.redis_prefix + "relay-bus"
    sender, listener = Bus(redis, channel, "a"), Bus(redis, channel, "b")
    heard: list[Received[Ping]] = []
    done = asyncio.Event()

    async def handler(event: Received[Ping]) -> None:
        heard.append(event)
        if len(heard) == 2:
            done.set()

    listener.on(WANTED, handler)
    async with listener.running():
        await listener.wait_ready()
        batch = [Relayed("wanted", {"n": n}, event_id=10 + n, seq=100 + n) for n in range(2)]
        await sender.relay(batch)
        await sender.relay(batch[:1])  # at least once: the repeat is dropped
        await asyncio.wait_for(done.wait(), unit(2))
        await asyncio.sleep(0.05)
    assert [(e.payload["n"], e.event_id, e.seq, e.node) for e in heard] == [
        (0, 10, 100, "a"),
        (1, 11, 101, "a"),
    ]


# -- keys of earlier layouts ----------------------------------------------------------


def _cells(count: int) -> list[str]:
    """``count`` distinct H3 cells around São Paulo, at the store's resolution."""
    centre = h3.latlng_to_cell(-23.55, -46.63, CELL_RESOLUTION)
    ring = 0
    while 1 + 3 * ring * (ring + 1) < count:
        ring += 1
    return sorted(h3.grid_disk(centre, ring))[:count]


async def _plant_legacy(redis: aioredis.Redis, prefix: str, cells: list[str]) -> int:
    """Keys as layouts 1 and 2 wrote them under ``prefix`` (half the cells each);
    returns how many keys that is."""
    half = len(cells) // 2
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(prefix + "poscell", mapping={"1": cells[0], "2": cells[half]})
        pipe.hset(prefix + "livecell", mapping={"1": f"{cells[0]} 1 -23.5 -46.6"})
        for cell in cells[:half]:
            pipe.sadd(prefix + "cell:" + cell, "1")
        for cell in cells[half:]:
            pipe.zadd(prefix + "cellz:" + cell, {"2 -23.5 -46.6": 1_700_000_000_000})
        await pipe.execute()
    return 2 + len(cells)


async def _keys(redis: aioredis.Redis, settings: Settings, prefix: str) -> set[str]:
    """The keys under ``prefix``, a prefix of this run's (whose own has no glob
    characters, unlike some of the tests')."""
    names = {key.decode() async for key in redis.scan_iter(match=settings.redis_prefix + "*")}
    return {name for name in names if name.startswith(prefix)}


async def test_keys_of_earlier_layouts_are_deleted_and_nothing_else(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    prefix = store.prefix
    cells = _cells(2 * LEGACY_SCAN_COUNT + 7)  # the keyspace takes several SCAN rounds
    planted = await _plant_legacy(redis, prefix, cells)
    await store.write_positions([(1, _fix(-23.55, -46.63), 10)])
    await store.hold(1, "conn-1", 60)
    await store.set_busy(1, True)
    await store.mark_web(2, 60)
    lookalikes = {
        prefix + "cell:not-a-cell",
        prefix + "cellz:zzzzzzzzzzzzzzz",
        prefix + "cell:" + cells[0] + ":x",
        prefix + "cellar",
    }
    for key in lookalikes:
        await redis.set(key, b"kept")
    other = prefix + "other:"  # another deployment, whose prefix starts like ours
    await _plant_legacy(redis, other, cells[:4])

    assert await store.drop_legacy_keys() == planted

    current = {prefix + "pos", prefix + "online:1", prefix + "busy", prefix + "web:2"}
    marker = prefix + "layout"
    others = {other + "poscell", other + "livecell"}
    others |= {other + "cell:" + cell for cell in cells[:2]}
    others |= {other + "cellz:" + cell for cell in cells[2:4]}
    assert await _keys(redis, settings, prefix) == current | lookalikes | others | {marker}
    assert await redis.get(marker) == str(LAYOUT_VERSION).encode()
    assert (await store.positions([1]))[1].received_ms == 10
    assert await store.online([1]) == {1: True}
    assert await store.all_busy() == {1}
    assert await LiveStore(redis, other).drop_legacy_keys() == 6  # its own, not ours


async def test_once_the_layout_is_recorded_later_calls_do_not_scan(
    redis: aioredis.Redis, settings: Settings
) -> None:
    store = _store(redis, settings)
    marker = store.prefix + "layout"
    assert await store.drop_legacy_keys() == 0  # nothing under the prefix yet
    assert await redis.get(marker) == str(LAYOUT_VERSION).encode()
    late = await _plant_legacy(redis, store.prefix, _cells(2))  # a node of an old version
    assert await store.drop_legacy_keys() == 0  # the marker is read; no SCAN
    assert len(await _keys(redis, settings, store.prefix + "cell")) == 2
    await redis.delete(marker)  # what an operator does to sweep again (docstring)
    assert await store.drop_legacy_keys() == late
    assert await _keys(redis, settings, store.prefix) == {marker}


async def test_a_newer_layout_is_left_alone(redis: aioredis.Redis, settings: Settings) -> None:
    store = _store(redis, settings)
    marker = store.prefix + "layout"
    await redis.set(marker, LAYOUT_VERSION + 1)
    await _plant_legacy(redis, store.prefix, _cells(2))
    assert await store.drop_legacy_keys() == 0
    assert await redis.get(marker) == str(LAYOUT_VERSION + 1).encode()  # not downgraded
    await redis.set(marker, b"garbage")  # unreadable: not a current layout
    assert await store.drop_legacy_keys() == 4
    assert await redis.get(marker) == str(LAYOUT_VERSION).encode()


async def test_a_prefix_with_glob_characters_matches_only_itself(
    redis: aioredis.Redis, settings: Settings
) -> None:
    odd = settings.redis_prefix + "\\a*[b]?:"
    # Read as a pattern unescaped, the odd prefix would miss its own keys and match
    # this one's.
    sibling = settings.redis_prefix + "aXb!:"
    await _plant_legacy(redis, odd, _cells(2))
    await _plant_legacy(redis, sibling, _cells(2))
    assert await LiveStore(redis, odd).drop_legacy_keys() == 4
    assert await _keys(redis, settings, odd) == {odd + "layout"}
    assert len(await _keys(redis, settings, sibling)) == 4
