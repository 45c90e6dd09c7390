"""``/ws/provider``: the provider app's websocket (protocol v1, docs/protocol.md).

A thin I/O shell around :class:`realtime.session.ProviderConnection`: it feeds the
pure connection the frames, the clock and the hub's news, and carries out the
actions it returns (send, close, check a token, go online or offline, store
positions). Everything the app can get wrong is decided by the pure layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable
from typing import Any

from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from realtime.actions import (
    AcceptFixes,
    Action,
    CheckToken,
    Close,
    CountRejections,
    ProviderOffline,
    ProviderOnline,
    RecordHello,
    Send,
)
from realtime.hub import Handle
from realtime.protocol import read_handshake
from realtime.session import ProviderConnection
from realtime.store import now_ms
from registry.devices import provider_for_token
from server.live import ONLINE_EVENT, Live
from server.resources import Resources

log = logging.getLogger("acionar.ws.provider")

EVENT_QUEUE = 64  # frames and hub news waiting for the connection (back-pressure)
GONE = "gone"


class _Socket:
    """One provider connection: the pure state machine and its I/O."""

    def __init__(self, websocket: WebSocket, live: Live, resources: Resources) -> None:
        self.ws = websocket
        self.live = live
        self.resources = resources
        self.conn = ProviderConnection(live.config)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(EVENT_QUEUE)
        self.handle = Handle(uuid.uuid4().hex, self._news)
        self.provider_id: int | None = None

    def _news(self, what: str) -> None:
        # Called by the hub (bus listener or another connection): never block it.
        with contextlib.suppress(asyncio.QueueFull):
            self.events.put_nowait((what, None))

    async def _receive(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = (
                    message.get("text")
                    if message.get("text") is not None
                    else message.get("bytes", b"")
                )
                await self.events.put(("frame", data))
        finally:
            with contextlib.suppress(asyncio.QueueFull):
                self.events.put_nowait((GONE, None))

    def _on_event(self, what: str, data: Any) -> list[Action]:
        now, wall = time.monotonic(), time.time()
        if what == "frame":
            return self.conn.receive_frame(data, now, wall)
        if what == "replaced":
            return self.conn.replaced(now)
        if what == "revoked":
            return self.conn.token_revoked(now)
        if what == "shutdown":
            return self.conn.shutdown(now)
        return self.conn.connection_lost(now)

    async def _next_actions(self) -> list[Action]:
        timeout = self.conn.next_deadline() - time.monotonic()
        try:
            what, data = await asyncio.wait_for(self.events.get(), max(timeout, 0.0))
        except TimeoutError:
            return self.conn.tick(time.monotonic())
        return self._on_event(what, data)

    async def run(self, subprotocols: list[str], authorization: str | None) -> None:
        handshake = read_handshake(subprotocols, authorization)
        await self.ws.accept(subprotocol=handshake.subprotocol)
        receiver = asyncio.create_task(self._receive(), name="ws-provider-receive")
        try:
            await self._execute(self.conn.start(handshake, time.monotonic()))
            while not self.conn.closed:
                await self._execute(await self._next_actions())
        except Exception:
            log.exception("provider socket failed")
            await self._close(1011, "")
            raise
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
            await asyncio.shield(self._leave())

    async def _execute(self, actions: list[Action]) -> None:
        pending = deque(actions)
        while pending:
            action = pending.popleft()
            pending.extend(await self._perform(action))

    async def _perform(self, action: Action) -> list[Action]:
        match action:
            case Send():
                if self.ws.application_state is WebSocketState.CONNECTED:
                    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                        await self.ws.send_text(action.text)
            case Close():
                await self._close(int(action.code), action.reason)
            case CheckToken():
                return await self._check_token(action.token)
            case ProviderOnline():
                await self._tolerate_redis(self._online(action.provider_id))
            case ProviderOffline():
                await self._tolerate_redis(self._offline(action.provider_id))
            case AcceptFixes():
                self.live.writer.submit(action.provider_id, action.fixes, now_ms())
            case CountRejections():
                self.live.rejections.update(action.counts)
            case RecordHello():
                log.info(
                    "provider %d: app %s on device %s",
                    action.provider_id,
                    action.app_version,
                    action.device_id,
                )
        return []

    async def _tolerate_redis(self, work: Awaitable[None]) -> None:
        """Presence is live data: a Redis outage must not cost the provider its
        socket (positions keep being accepted; presence returns with Redis)."""
        try:
            await work
        except (RedisError, OSError) as exc:
            log.warning("provider %s: presence not updated (%s)", self.provider_id, exc)

    async def _check_token(self, token: str) -> list[Action]:
        async with self.resources.sessions() as session, session.begin():
            found = await provider_for_token(session, token)
        provider_id = None
        if found is not None:
            provider_id, self.handle.credential_id = found
        return self.conn.token_checked(provider_id, time.monotonic(), time.time())

    async def _online(self, provider_id: int) -> None:
        self.provider_id = provider_id
        previous = self.live.hub.attach(provider_id, self.handle)
        if previous is not None:
            previous.notify("replaced")
        ttl = self.live.settings.presence_ttl_s
        await self.live.store.hold(provider_id, self.handle.connection_id, ttl)
        await self.live.bus.publish(
            ONLINE_EVENT, {"provider_id": provider_id, "connection_id": self.handle.connection_id}
        )

    async def _offline(self, provider_id: int) -> None:
        self.live.hub.detach(provider_id, self.handle)
        self.live.writer.forget(provider_id)
        await self.live.store.release(provider_id, self.handle.connection_id)

    async def _leave(self) -> None:
        """However the connection ended, it no longer holds its provider here."""
        if self.provider_id is not None:
            self.live.hub.detach(self.provider_id, self.handle)

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.ws.close(code, reason)


async def provider_socket(websocket: WebSocket) -> None:
    """The Starlette websocket endpoint."""
    socket = _Socket(websocket, websocket.app.state.live, websocket.app.state.resources)
    await socket.run(
        list(websocket.scope.get("subprotocols", [])), websocket.headers.get("authorization")
    )
