"""The cross-node bus: events every server process must hear, over Redis pub/sub.

Events are typed (:class:`realtime.events.EventType`): a handler registers for an
event type and receives its checked payload. On the wire an event is a JSON object
with its ``type`` and the node that sent it, those two keys first: a node reads the
type off the front of the raw message and never decodes an event that no handler
of its own wants (``provider.positions``, the panels' news, is published on every
flush of every node and most nodes have no panel listening).

Pub/sub is fire-and-forget. A lossy event is news (a newer connection, positions
for the panels, providers edited in the registry), never the only copy of a fact.
A durable event (a job's change) reaches the bus through the outbox relay
(:meth:`Bus.relay`), at least once: each carries its ``event_id`` and the bus drops
one it has already delivered (the last :data:`DEDUPE_WINDOW` ids). The listener
reconnects by itself after a Redis outage and tells :meth:`Bus.on_resubscribe`
callbacks, which may catch up on what they missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pydantic
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from realtime.errors import RealtimeError
from realtime.events import EventType, Handler, P, Received
from realtime.tasks import owned_task

log = logging.getLogger("acionar.bus")

RECONNECT_DELAY_S = 1.0
RECONNECT_DELAY_MAX_S = 30.0
READ_TIMEOUT_S = 1.0
DEDUPE_WINDOW = 10_000
"""Durable event ids a node remembers to drop a repeated delivery (a relay that
published and then failed to record it publishes again)."""


_TYPE_PREFIX = b'{"type":"'


def event_type(raw: bytes) -> str | None:
    """The type of an event as the bus encodes it (``type`` first), read without
    decoding the rest; ``None`` for any other layout (then it is decoded)."""
    if not raw.startswith(_TYPE_PREFIX):
        return None
    end = raw.find(b'"', len(_TYPE_PREFIX))
    if end < 0:
        return None
    name = raw[len(_TYPE_PREFIX) : end]
    return name.decode() if name.isascii() and b"\\" not in name else None


@dataclass(frozen=True, slots=True)
class Relayed:
    """A durable event read from the outbox, to publish as it was stored."""

    type: str
    payload: dict[str, Any]
    event_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class _Subscription:
    event: EventType[Any]
    handler: Handler[Any]


class Bus:
    """Publish events to every node (this one included) and dispatch received ones."""

    def __init__(self, client: aioredis.Redis, channel: str, node_id: str) -> None:
        self.client = client
        self.channel = channel
        self.node_id = node_id
        self._subscriptions: dict[str, list[_Subscription]] = defaultdict(list)
        self._resubscribed: list[Callable[[], None]] = []
        self._subscribed_once = False
        self._ready = asyncio.Event()
        self._delivered: OrderedDict[int, None] = OrderedDict()

    def on(self, event: EventType[P], handler: Handler[P]) -> None:
        """Call ``handler`` (async) with each received event of this type."""
        self._subscriptions[event.name].append(_Subscription(event, handler))

    def on_resubscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the listener subscribes again after an outage:
        whatever was published meanwhile was lost, and it may want to catch up."""
        self._resubscribed.append(callback)

    def _encode(self, name: str, payload: dict[str, Any], *meta: tuple[str, int]) -> bytes:
        event: dict[str, Any] = {"type": name, "node": self.node_id}
        event.update(meta)
        event.update(payload)
        event["type"], event["node"] = name, self.node_id  # the payload's never win
        return orjson.dumps(event)

    async def publish(self, event: EventType[P], payload: P) -> None:
        """Publish a lossy event now.

        Raises:
            RealtimeError: ``event`` is durable (it goes through the outbox).
            RedisError, OSError: Redis is unavailable.
        """
        if event.durable:
            raise RealtimeError(f"{event.name} is durable: write it to the outbox")
        await self.client.publish(self.channel, self._encode(event.name, event.encode(payload)))

    async def relay(self, events: Sequence[Relayed]) -> None:
        """Publish durable events from the outbox, in order, in one round trip.

        Raises:
            RedisError, OSError: Redis is unavailable (none may have gone out).
        """
        async with self.client.pipeline(transaction=False) as pipe:
            for e in events:
                raw = self._encode(e.type, e.payload, ("event_id", e.event_id), ("seq", e.seq))
                pipe.publish(self.channel, raw)
            await pipe.execute()

    @property
    def connected(self) -> bool:
        """Whether the listener is subscribed now (what is published is heard)."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Until the listener is subscribed (events published before are not heard)."""
        await self._ready.wait()

    def _first_delivery(self, event_id: Any) -> bool:
        if not isinstance(event_id, int):
            return True  # a lossy event: no id
        if event_id in self._delivered:
            return False
        self._delivered[event_id] = None
        if len(self._delivered) > DEDUPE_WINDOW:
            self._delivered.popitem(last=False)
        return True

    async def _dispatch(self, raw: bytes) -> None:
        known = event_type(raw)
        if known is not None and not self._subscriptions.get(known):
            return  # nobody here wants it: not worth decoding
        try:
            data = orjson.loads(raw)
            subscriptions = self._subscriptions.get(data.get("type", ""), [])
        except (orjson.JSONDecodeError, AttributeError):
            log.warning("bus: dropped a malformed event")
            return
        if not subscriptions or not self._first_delivery(data.get("event_id")):
            return
        for subscription in subscriptions:
            await self._deliver(subscription, data)

    async def _deliver(self, subscription: _Subscription, data: dict[str, Any]) -> None:
        name = subscription.event.name
        try:
            payload = subscription.event.decode(data)
        except pydantic.ValidationError:
            log.warning("bus: dropped a malformed %s event", name)
            return
        received = Received(payload, str(data.get("node")), data.get("event_id"), data.get("seq"))
        try:
            await subscription.handler(received)
        except Exception:
            log.exception("bus: handler for %s failed", name)

    async def _listen_once(self) -> None:
        async with self.client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.channel)
            if self._subscribed_once:
                for callback in self._resubscribed:
                    callback()
            self._subscribed_once = True
            self._ready.set()
            while True:
                message = await pubsub.get_message(timeout=READ_TIMEOUT_S)
                if message is not None:
                    await self._dispatch(message["data"])

    async def listen(self) -> None:
        """Receive and dispatch events until cancelled, reconnecting after outages."""
        delay = RECONNECT_DELAY_S
        while True:
            try:
                await self._listen_once()
            except (RedisError, OSError) as exc:
                self._ready.clear()
                log.warning("bus: Redis unavailable (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_DELAY_MAX_S)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Bus]:
        """Listen in a task owned by this block; cancelled and awaited at its end."""
        async with owned_task(self.listen(), "bus-listener"):
            yield self
