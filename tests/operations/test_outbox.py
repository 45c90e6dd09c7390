"""The outbox relay against the real PostgreSQL and Redis: committed events reach
the bus in order, at least once, numbered in publication order; one relay at a time;
nothing is lost while Redis is down; panels resynchronise from a position."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.events import DEVICE_TOKEN_REVOKED, TokenRevokedEvent
from operations.models import OutboxEvent
from operations.outbox import (
    RELAY_LOCK,
    Backlog,
    OutboxRelay,
    RelayConfig,
    emit,
    events_after,
)
from realtime.bus import Bus, Relayed
from realtime.events import Received
from server.settings import Settings
from tests.conftest import unit

Sessions = async_sessionmaker[AsyncSession]
TYPES = (DEVICE_TOKEN_REVOKED.name,)


@pytest.fixture
async def bus(redis: aioredis.Redis, settings: Settings) -> AsyncIterator[Bus]:
    listening = Bus(redis, settings.redis_prefix + "outbox-bus", "listener")
    async with listening.running():
        await listening.wait_ready()
        yield listening


def _sender(bus: Bus, client: aioredis.Redis | None = None) -> Bus:
    return Bus(client or bus.client, bus.channel, "relay-node")


async def _emit(db: Sessions, *token_ids: int) -> None:
    async with db() as session, session.begin():
        for token_id in token_ids:
            emit(session, DEVICE_TOKEN_REVOKED, TokenRevokedEvent(provider_id=1, token_id=token_id))


def _heard(bus: Bus) -> tuple[list[Received[TokenRevokedEvent]], asyncio.Event]:
    heard: list[Received[TokenRevokedEvent]] = []
    changed = asyncio.Event()

    async def on_revoked(event: Received[TokenRevokedEvent]) -> None:
        heard.append(event)
        changed.set()

    bus.on(DEVICE_TOKEN_REVOKED, on_revoked)
    return heard, changed


async def _until(condition: asyncio.Event, check: object) -> None:
    async with asyncio.timeout(unit(3)):
        while not callable(check) or not check():
            await condition.wait()
            condition.clear()


async def test_committed_events_go_out_in_order_numbered_as_published(
    db: Sessions, bus: Bus
) -> None:
    heard, changed = _heard(bus)
    await _emit(db, 1, 2, 3)
    async with db() as session, session.begin():  # rolled back: never relayed
        emit(session, DEVICE_TOKEN_REVOKED, TokenRevokedEvent(provider_id=1, token_id=99))
        await session.rollback()
    relay = OutboxRelay(db, _sender(bus), RelayConfig(batch=2))
    assert await relay.relay_once() == 2
    assert await relay.relay_once() == 1
    assert await relay.relay_once() == 0
    await _until(changed, lambda: len(heard) == 3)
    assert [e.payload.token_id for e in heard] == [1, 2, 3]
    seqs = [e.seq or 0 for e in heard]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3 and 0 not in seqs
    assert {e.node for e in heard} == {"relay-node"}
    async with db() as session:
        pending = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.seq.is_(None))
        )
        assert pending == 0


async def test_one_relay_at_a_time(db: Sessions, bus: Bus) -> None:
    await _emit(db, 1)
    first, second = (
        OutboxRelay(db, _sender(bus), RelayConfig()),
        OutboxRelay(db, _sender(bus), RelayConfig()),
    )
    async with db() as session, session.begin():  # hold the lock as a busy relay would
        await session.execute(select(func.pg_advisory_xact_lock(RELAY_LOCK)))
        assert await first.relay_once() is None
    assert await second.relay_once() == 1


async def test_nothing_is_lost_while_redis_is_down(
    db: Sessions, bus: Bus, settings: Settings
) -> None:
    heard, changed = _heard(bus)
    await _emit(db, 7)
    down = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    try:
        with pytest.raises((OSError, aioredis.ConnectionError)):
            await OutboxRelay(db, _sender(bus, down), RelayConfig()).relay_once()
    finally:
        await down.aclose()
    async with db() as session:
        assert await session.scalar(select(OutboxEvent.seq)) is None  # still waiting
    relay = OutboxRelay(db, _sender(bus), RelayConfig(poll_s=0.05))
    async with relay.running():  # Redis is back: the next poll relays it
        await _until(changed, lambda: len(heard) == 1)
    assert heard[0].payload.token_id == 7


async def test_the_backlog_is_measured_while_redis_is_down_and_after(
    db: Sessions, bus: Bus
) -> None:
    """What the /metrics gauges show: a relay that cannot publish still measures."""
    await _emit(db, 1, 2, 3)
    async with db() as session, session.begin():
        await session.execute(
            update(OutboxEvent).values(created_at=func.now() - timedelta(minutes=1))
        )
    down = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    stuck = OutboxRelay(db, _sender(bus, down), RelayConfig(poll_s=0.05, count_cap=2))
    try:
        async with stuck.running():
            for _ in range(int(unit(3) / 0.02)):  # the relay's own polls, a few
                if stuck.backlog.waiting:
                    break
                await asyncio.sleep(0.02)
    finally:
        await down.aclose()
    assert stuck.backlog.waiting == 2  # counted up to the cap, no further
    assert 60 <= stuck.backlog.oldest_s < 60 + unit(10)
    relay = OutboxRelay(db, _sender(bus), RelayConfig())
    assert relay.backlog == Backlog(0, 0.0)  # not measured yet
    assert await relay.relay_once() == 3
    assert await relay.measure() == Backlog(0, 0.0) == relay.backlog


async def test_a_repeat_after_a_lost_record_is_dropped_by_consumers(db: Sessions, bus: Bus) -> None:
    heard, changed = _heard(bus)
    await _emit(db, 5)
    async with db() as session:
        row = (await session.execute(select(OutboxEvent))).scalar_one()
    sender = _sender(bus)
    # A relay published, then died before recording it: the next one publishes again.
    await sender.relay([Relayed(row.type, row.payload, row.id, 41)])
    assert await OutboxRelay(db, sender, RelayConfig()).relay_once() == 1
    await _until(changed, lambda: len(heard) >= 1)
    await asyncio.sleep(0.1)
    assert [(e.event_id, e.seq) for e in heard] == [(row.id, 41)]


async def test_panels_resynchronise_from_their_position(db: Sessions, bus: Bus) -> None:
    async with db() as session:
        empty = await events_after(session, 0, TYPES, 10)
    assert (empty.events, empty.last_seq, empty.reload) == ([], 0, False)
    await _emit(db, 1, 2, 3)
    relay = OutboxRelay(db, _sender(bus), RelayConfig(retention=timedelta(hours=1)))
    assert await relay.relay_once() == 3
    async with db() as session:
        page = await events_after(session, 0, TYPES, 2)
        assert [e["token_id"] for e in page.events] == [1, 2] and not page.reload
        rest = await events_after(session, page.last_seq, TYPES, 2)
        assert [e["token_id"] for e in rest.events] == [3]
        assert rest.events[0]["type"] == "device_token.revoked"
        assert {"event_id", "seq"} <= set(rest.events[0])
        done = await events_after(session, rest.last_seq, TYPES, 2)
        assert (done.events, done.last_seq) == ([], rest.last_seq)
        other = await events_after(session, 0, ("job.status",), 10)
        assert other.events == [] and other.last_seq == rest.last_seq
    async with db() as session, session.begin():  # the first two were relayed long ago
        old = func.now() - timedelta(hours=2)
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.seq <= page.last_seq).values(published_at=old)
        )
    async with db() as session:
        now = (await session.execute(select(func.now()))).scalar_one()
        assert await relay.prune(now) == 2
        stale = await events_after(session, 0, TYPES, 10)
        assert stale.reload and stale.events == [] and stale.last_seq == rest.last_seq
        fresh = await events_after(session, page.last_seq, TYPES, 10)
        assert not fresh.reload and [e["token_id"] for e in fresh.events] == [3]
        unknown = await events_after(session, rest.last_seq + 1000, TYPES, 10)
        assert unknown.reload  # a position from another database


async def test_a_kick_as_the_server_stops_does_not_keep_the_relay_alive(
    db: Sessions, bus: Bus
) -> None:
    # The kick after a request's commit and the cancellation at shutdown arrive
    # together: the relay must end (Python 3.11's wait_for could swallow it).
    relay = OutboxRelay(db, _sender(bus), RelayConfig(poll_s=60.0))
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.05)  # waiting for a kick
        relay.kick()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=unit(2))
        assert task in done and task.cancelled()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
