"""The cross-node bus: events every server process must hear, over Redis pub/sub.

An event is a JSON object with a ``type`` (``provider.online``,
``provider.positions``, ``device_token.revoked``...) and the node that sent it,
those two keys first: a node reads the type off the front of the raw message and
never decodes an event that no handler of its own wants (``provider.positions``,
the panels' news, is published on every flush of every node and most nodes have no
panel listening).
Pub/sub is fire-and-forget: the bus carries news (a newer connection, a position
for the panels, providers edited in the registry), never the only copy of a fact,
which PostgreSQL or the Redis keys hold. The listener reconnects by itself after a
Redis outage and tells :meth:`Bus.on_resubscribe` callbacks, which may catch up on
what they missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from realtime.tasks import owned_task

log = logging.getLogger("acionar.bus")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
RECONNECT_DELAY_S = 1.0
RECONNECT_DELAY_MAX_S = 30.0
READ_TIMEOUT_S = 1.0


_TYPE_PREFIX = b'{"type":"'


def event_type(raw: bytes) -> str | None:
    """The type of an event as :meth:`Bus.publish` encodes it (``type`` first), read
    without decoding the rest; ``None`` for any other layout (then it is decoded)."""
    if not raw.startswith(_TYPE_PREFIX):
        return None
    end = raw.find(b'"', len(_TYPE_PREFIX))
    if end < 0:
        return None
    name = raw[len(_TYPE_PREFIX) : end]
    return name.decode() if name.isascii() and b"\\" not in name else None


class Bus:
    """Publish events to every node (this one included) and dispatch received ones."""

    def __init__(self, client: aioredis.Redis, channel: str, node_id: str) -> None:
        self.client = client
        self.channel = channel
        self.node_id = node_id
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._resubscribed: list[Callable[[], None]] = []
        self._subscribed_once = False
        self._ready = asyncio.Event()

    def on(self, event_type: str, handler: Handler) -> None:
        self._handlers[event_type].append(handler)

    def on_resubscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the listener subscribes again after an outage:
        whatever was published meanwhile was lost, and it may want to catch up."""
        self._resubscribed.append(callback)

    async def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        event: dict[str, Any] = {"type": event_type, "node": self.node_id}
        event.update(payload)
        event["type"], event["node"] = event_type, self.node_id  # the payload's never win
        await self.client.publish(self.channel, orjson.dumps(event))

    async def wait_ready(self) -> None:
        """Until the listener is subscribed (events published before are not heard)."""
        await self._ready.wait()

    async def _dispatch(self, raw: bytes) -> None:
        known = event_type(raw)
        if known is not None and not self._handlers.get(known):
            return  # nobody here wants it: not worth decoding
        try:
            event = orjson.loads(raw)
            handlers = self._handlers.get(event.get("type", ""), [])
        except (orjson.JSONDecodeError, AttributeError):
            log.warning("bus: dropped a malformed event")
            return
        for handler in handlers:
            try:
                await handler(event)
            except Exception:
                log.exception("bus: handler for %s failed", event.get("type"))

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
