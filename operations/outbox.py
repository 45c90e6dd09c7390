"""The outbox: events that may not be lost reach the bus at least once.

A change and the events that announce it commit together: :func:`emit` adds the
event to the change's transaction (table ``outbox_events``): the session keeps the
transaction's events and writes them all in one INSERT just before it commits (a
``before_commit`` listener on every session, so that no way of committing can leave
them out; a rollback drops them). Events emitted inside a savepoint that rolls back
are written with the outer transaction all the same: nothing emits inside one.
Any node relays what
committed (:class:`OutboxRelay`): at most one node at a time holds the relay's
advisory lock, reads the waiting events in id order, publishes them, and numbers
them in the order published (``seq``, from a sequence) in the same transaction, so
that the numbering is the order in which panels could have seen them. A node kicks
its relay after each of its own commits, so events go out at once; every node
also polls (``OUTBOX_POLL_S``) for what a node that died before relaying left.

Each node's relay also measures, at most once per ``OUTBOX_POLL_S``, what still
waits after its round (:class:`Backlog`: how many events, the oldest one's age), for
the ``acionar_outbox_*`` gauges of ``/metrics``: a growing backlog is a relay that
cannot keep up, or that cannot reach PostgreSQL or Redis.

At least once: a relay that published and then failed to record it publishes the
same events again with new numbers; each carries its ``event_id``, and consumers
drop repeats (:class:`realtime.bus.Bus`). A panel that lost its connection asks
for the events after the last ``seq`` it saw (:func:`events_after`); relayed
events are kept ``OUTBOX_RETENTION_H`` hours.

Why not publish after commit: a process that dies (or a Redis that is down)
between the commit and the publish loses the news for good, and the panels show a
job that is no longer true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import bindparam, delete, event, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from operations.models import PUBLICATION_SEQUENCE, OutboxEvent
from realtime.bus import Bus, Relayed
from realtime.events import EventType, P
from realtime.tasks import owned_task
from registry.db import table_of

log = logging.getLogger("acionar.outbox")

RELAY_LOCK = 0x0AC1_0B0C
"""The advisory lock a relay holds while it publishes (one relay at a time, so the
publication numbers commit in the order they were given)."""
RETRY_DELAY_S = 0.5
RETRY_DELAY_MAX_S = 30.0
BUSY_RETRY_S = 0.02
"""When another node holds the relay lock: try again this soon (it may have read
the waiting events before ours committed)."""
BUSY_RETRIES = 50


_TAKE_RELAY = select(func.pg_try_advisory_xact_lock(RELAY_LOCK))
_WAITING_EVENTS = (
    select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.payload)
    .where(OutboxEvent.seq.is_(None))
    .order_by(OutboxEvent.id)
    .limit(bindparam("batch"))
)
_RECORD = text(
    "UPDATE outbox_events AS o SET seq = v.seq, published_at = now() "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[])) AS v(id, seq) "
    "WHERE o.id = v.id"
)
_NEXT_SEQS = text(f"SELECT nextval('{PUBLICATION_SEQUENCE}') FROM generate_series(1, :n)")
# Through the partial index of waiting events, at most :cap of them: cheap however
# long the backlog grows (the count then stops at the cap).
_WAITING = text(
    "SELECT count(*) AS waiting,"
    " coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest_s"
    " FROM (SELECT created_at FROM outbox_events WHERE seq IS NULL ORDER BY id LIMIT :cap) AS w"
)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """The relay's bounds.

    Attributes:
        poll_s: how often a node looks for events no relay took (a node died).
        batch: events published per round trip and transaction.
        retention: how long relayed events are kept for panels to resynchronise.
        prune_s: how often relayed events older than ``retention`` are deleted.
        prune_batch: rows deleted per statement.
        count_cap: waiting events counted at most when measuring the backlog.
    """

    poll_s: float = 1.0
    batch: int = 500
    retention: timedelta = timedelta(hours=24)
    prune_s: float = 300.0
    prune_batch: int = 5_000
    count_cap: int = 10_000


@dataclass(frozen=True, slots=True)
class Backlog:
    """Committed events no relay has published yet, as last measured.

    Attributes:
        waiting: how many (at most ``RelayConfig.count_cap``).
        oldest_s: how long ago the oldest of them was written (0: none waits).
    """

    waiting: int = 0
    oldest_s: float = 0.0


_PENDING = "acionar.outbox_pending"
"""``session.info`` key: the events emitted in the session's transaction, written
when it commits."""
_INSERT_EVENTS = insert(table_of(OutboxEvent))


def emit(session: AsyncSession, event: EventType[P], payload: P) -> None:
    """Add a durable event to the transaction of ``session``: it is written with
    that transaction's commit (one INSERT of all its events, in the order emitted,
    just before the commit) and so relayed once it commits, and never if it rolls
    back."""
    assert event.durable, f"{event.name} is lossy: publish it on the bus"
    pending = session.info.setdefault(_PENDING, [])
    pending.append({"type": event.name, "payload": event.encode(payload)})


def _write_pending(session: Session) -> None:
    """Before a commit: the events its transaction emitted, in one statement."""
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(_INSERT_EVENTS, pending)


def _drop_pending(session: Session) -> None:
    """After a rollback: its events are gone with it."""
    session.info.pop(_PENDING, None)


event.listen(Session, "before_commit", _write_pending)
event.listen(Session, "after_rollback", _drop_pending)


class OutboxRelay:
    """Publishes committed outbox events on the bus; see the module."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], bus: Bus, config: RelayConfig
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.config = config
        self.relayed = 0
        self.backlog = Backlog()
        self._wake = asyncio.Event()

    def kick(self) -> None:
        """Relay now: this node committed events."""
        self._wake.set()

    async def relay_once(self) -> int | None:
        """Publish up to ``batch`` waiting events; how many, or None when another
        node's relay holds the lock.

        Raises:
            SQLAlchemyError, RedisError, OSError: PostgreSQL or Redis is unavailable
                (nothing is recorded as published then).
        """
        async with self.sessions() as session, session.begin():
            if not await session.scalar(_TAKE_RELAY):
                return None
            rows = (await session.execute(_WAITING_EVENTS, {"batch": self.config.batch})).all()
            if not rows:
                return 0
            seqs = sorted((await session.execute(_NEXT_SEQS, {"n": len(rows)})).scalars())
            await self.bus.relay(
                [Relayed(r.type, r.payload, r.id, seq) for r, seq in zip(rows, seqs, strict=True)]
            )
            await session.execute(_RECORD, {"ids": [r.id for r in rows], "seqs": seqs})
        self.relayed += len(rows)
        return len(rows)

    async def drain(self) -> None:
        """Relay until nothing waits (retrying briefly while another node relays)."""
        busy = 0
        while True:
            count = await self.relay_once()
            if count is None:
                busy += 1
                if busy > BUSY_RETRIES:
                    return  # the other node takes ours with its next batch, or we poll
                await asyncio.sleep(BUSY_RETRY_S)
            elif count < self.config.batch:
                return

    async def measure(self) -> Backlog:
        """Measure what waits to be relayed (kept in :attr:`backlog` too).

        Raises:
            SQLAlchemyError, OSError: PostgreSQL is unavailable.
        """
        async with self.sessions() as session:
            row = (await session.execute(_WAITING, {"cap": self.config.count_cap})).one()
        self.backlog = Backlog(int(row.waiting), max(0.0, float(row.oldest_s)))
        return self.backlog

    async def prune(self, now: datetime) -> int:
        """Delete events relayed before ``now - retention``; how many."""
        cutoff = now - self.config.retention
        deleted = 0
        while True:
            async with self.sessions() as session, session.begin():
                doomed = (
                    select(OutboxEvent.id)
                    .where(OutboxEvent.published_at < cutoff)
                    .limit(self.config.prune_batch)
                    .scalar_subquery()
                )
                result = await session.execute(
                    delete(OutboxEvent).where(OutboxEvent.id.in_(doomed))
                )
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < self.config.prune_batch:
                return deleted

    async def run(self) -> None:
        """Relay on every kick and poll, measure the backlog at most once a poll,
        prune now and then, until cancelled."""
        loop = asyncio.get_running_loop()
        delay = RETRY_DELAY_S
        next_prune = next_measure = loop.time()
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow a
            # cancellation that arrives as the wake-up does (a kick at shutdown),
            # and the task would never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.poll_s):
                    await self._wake.wait()
            self._wake.clear()
            failed = False
            try:
                await self.drain()
                if loop.time() >= next_prune:
                    await self.prune(await self._now())
                    next_prune = loop.time() + self.config.prune_s
            except (SQLAlchemyError, RedisError, OSError) as exc:
                log.warning("outbox: relay failed (%s); retrying in %.1f s", exc, delay)
                failed = True
            if loop.time() >= next_measure:  # failed rounds too: Redis down, it grows
                with contextlib.suppress(SQLAlchemyError, OSError):  # kept as it was
                    await self.measure()
                next_measure = loop.time() + self.config.poll_s
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_DELAY_MAX_S)
                self._wake.set()
            else:
                delay = RETRY_DELAY_S

    async def _now(self) -> datetime:
        async with self.sessions() as session:
            return (await session.execute(select(func.now()))).scalar_one()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OutboxRelay]:
        """Relay in a task owned by this block; cancelled and awaited at its end."""
        async with owned_task(self.run(), "outbox-relay"):
            yield self


@dataclass(frozen=True, slots=True)
class EventPage:
    """Relayed events after a position, for a panel that resynchronises.

    Attributes:
        events: each as it went out on the bus (``type``, ``event_id``, ``seq`` and
            the payload's keys), in publication order.
        last_seq: the position to ask from next time.
        reload: events after the position asked were pruned: reload the state from
            the API, then follow from ``last_seq``.
    """

    events: list[dict[str, Any]]
    last_seq: int
    reload: bool


async def events_after(
    session: AsyncSession, after: int, types: Sequence[str], limit: int
) -> EventPage:
    """The relayed events of ``types`` published after position ``after``, oldest
    first, at most ``limit``."""
    newest, oldest = (
        await session.execute(select(func.max(OutboxEvent.seq), func.min(OutboxEvent.seq)))
    ).one()
    if newest is None or oldest is None:  # nothing kept: none relayed yet, or all pruned
        given = await _last_seq(session)
        return EventPage([], given, reload=after != given)
    if after > newest or after < oldest - 1:  # from another database, or pruned since
        return EventPage([], int(newest), reload=True)
    rows = (
        await session.execute(
            select(OutboxEvent)
            .where(
                OutboxEvent.seq > after,
                OutboxEvent.seq <= newest,  # what committed when we looked: no gap later
                OutboxEvent.type.in_(types),
            )
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
    ).scalars()
    events = [{"type": r.type, "event_id": r.id, "seq": r.seq, **r.payload} for r in rows]
    last = events[-1]["seq"] if len(events) == limit else newest
    return EventPage(events, int(last), reload=False)


async def _last_seq(session: AsyncSession) -> int:
    """The last publication number given out (0 before any)."""
    row = (
        await session.execute(text(f"SELECT last_value, is_called FROM {PUBLICATION_SEQUENCE}"))
    ).one()
    return int(row.last_value) if row.is_called else 0
