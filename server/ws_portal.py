"""``/ws/portal``: the provider web portal's live socket (the ``web`` channel).

The portal page (``/portal``) signs a provider's user in with the HTTP API (session
cookie) and opens this socket on the same origin. The handshake is refused unless
its ``Origin`` is this server's own (a page of another site cannot ride the
provider's cookie) and the cookie's session is a provider user's. While open, the
socket marks the provider reachable by ``web`` (renewed with each heartbeat) and
carries the messages of docs/protocol.md's dispatch part, the same as the app's:
``offer``, ``offer.withdrawn``, ``job.update``, ``result``, ``error`` from the
server; ``offer.accept``, ``offer.refuse``, ``job.status`` from the page. Plus:

* ``welcome`` (``provider_id``, ``name``, ``reasons``: the refusal reasons to offer)
  and, on connecting, every open web offer and active job (as after a reconnect);
* ``ping`` every ``HEARTBEAT_S`` (a proxy that drops idle sockets after 60 s keeps
  this one); the session is checked again then, and a signed-out or expired one is
  closed with 4001.

A blocked provider's pages are closed with 4006, as its app's socket is: at once
when the registry says so (:meth:`PortalHub.block`, on any node), and at the
handshake or the next session check otherwise (its users cannot sign in again:
:func:`registry.users.authenticate`).

Each socket has a bounded send queue: a page that stops reading is closed (4009)
before it can grow the server's memory. Commands are rate limited like the app's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from urllib.parse import urlsplit

import orjson
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime.protocol import (
    COMMANDS,
    CloseCode,
    ErrorCode,
    ErrorMessage,
    ServerMessage,
    encode,
    parse_client_frame,
)
from realtime.ratelimit import TokenBucket
from registry.enums import Channel, UserKind
from registry.models import Provider, RefusalReason
from server.api.auth import authenticate
from server.api.principal import AuthVia, Principal

log = logging.getLogger("acionar.ws.portal")

PATH = "/ws/portal"
SEND_QUEUE = 200
"""Messages waiting for a slow page; beyond, the socket is closed (4009)."""
HEARTBEAT_S = 25.0
"""A ``ping`` this often (proxies drop sockets idle for 60 s); the session and the
web presence are renewed then too."""
RATE_PER_S = 5.0
RATE_BURST = 20
CLOSE_UNAUTHORISED = 4001
CLOSE_BLOCKED = int(CloseCode.PROVIDER_BLOCKED)  # 4006, the app socket's code
CLOSE_SLOW = 4009
CLOSE_RESTART = 1012
"""The node is stopping: reconnect (as the console's socket does)."""


class PortalHub:
    """This node's portal sockets, by provider (a provider may have several tabs)."""

    def __init__(self) -> None:
        self._by_provider: defaultdict[int, set[PortalSocket]] = defaultdict(set)

    def add(self, provider_id: int, sock: PortalSocket) -> None:
        self._by_provider[provider_id].add(sock)

    def remove(self, provider_id: int, sock: PortalSocket) -> None:
        held = self._by_provider.get(provider_id)
        if held is not None:
            held.discard(sock)
            if not held:
                del self._by_provider[provider_id]

    def send(self, provider_id: int, message: ServerMessage) -> bool:
        """Queue ``message`` to every portal tab of the provider; whether any took it."""
        took = False
        for sock in list(self._by_provider.get(provider_id, ())):
            took = sock.push(encode(message)) or took
        return took

    def __len__(self) -> int:
        return sum(len(s) for s in self._by_provider.values())

    def holds(self, provider_id: int) -> bool:
        return provider_id in self._by_provider

    def providers(self) -> list[int]:
        """Every provider with a portal page open here."""
        return list(self._by_provider)

    def close_all(self) -> None:
        """The server stops: every page reconnects (to another node)."""
        for socks in list(self._by_provider.values()):
            for sock in list(socks):
                sock.close(CLOSE_RESTART)

    def block(self, provider_id: int) -> None:
        """The provider was blocked: close its pages here (4006)."""
        for sock in list(self._by_provider.get(provider_id, ())):
            sock.close(CLOSE_BLOCKED)


class PortalSocket:
    """One open portal page: its send queue (None closes it, with ``close_code``)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE)
        self.close_code = CLOSE_UNAUTHORISED

    def push(self, text: str | None) -> bool:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            if text is not None:
                self.close_code = CLOSE_SLOW  # it stopped reading
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait(None)  # close it
            return False
        return True

    def close(self, code: int) -> None:
        """Close the page with ``code`` once what is queued before went out."""
        self.close_code = code
        self.push(None)


def same_origin(websocket: WebSocket) -> bool:
    """Whether the handshake's ``Origin`` is this server's (scheme and host:port)."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


async def _principal(websocket: WebSocket) -> Principal | int:
    """The provider user the socket's session cookie signs in, or the close code
    that refuses it: 4001 (no session, not a provider's) or 4006 (blocked)."""
    state = websocket.app.state
    async with state.resources.sessions() as session, session.begin():
        found = await authenticate(websocket, session, state.resources.settings)
        if (
            found is None
            or found.via is not AuthVia.SESSION
            or found.kind is not UserKind.PROVIDER
            or found.provider_id is None
        ):
            return CLOSE_UNAUTHORISED
        if found.provider_blocked:
            return CLOSE_BLOCKED
    return found


async def _welcome(websocket: WebSocket, provider_id: int) -> str:
    async with websocket.app.state.resources.sessions() as session:
        name = await session.scalar(select(Provider.name).where(Provider.id == provider_id))
        rows = await session.execute(
            select(RefusalReason.id, RefusalReason.name)
            .where(RefusalReason.active)
            .order_by(RefusalReason.name)
        )
        reasons = [{"id": rid, "name": rname} for rid, rname in rows]
    return orjson.dumps(
        {
            "type": "welcome",
            "provider_id": provider_id,
            "name": name,
            "reasons": reasons,
            "server_time_ms": int(time.time() * 1000),
        }
    ).decode()


async def portal_socket(websocket: WebSocket) -> None:
    if not same_origin(websocket):
        await websocket.close(code=1008)  # before accept: the handshake gets a 403
        return
    principal = await _principal(websocket)
    if isinstance(principal, int):
        if principal == CLOSE_BLOCKED:
            await websocket.accept()  # then closed with 4006: the page learns why
        await websocket.close(code=principal)  # not accepted: the handshake gets a 403
        return
    await websocket.accept()
    live = websocket.app.state.live
    provider_id = principal.provider_id
    assert provider_id is not None  # _principal checked it
    sock = PortalSocket()
    live.portal.add(provider_id, sock)
    try:
        await _mark(websocket, provider_id)
        sock.push(await _welcome(websocket, provider_id))
        for message in await live.apps.resume(provider_id, Channel.WEB):
            sock.push(encode(message))
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(_write(websocket, sock))
            beat = group.create_task(_heartbeat(websocket, sock, provider_id))
            await _read(websocket, sock, provider_id)
            writer.cancel()
            beat.cancel()
    except* (WebSocketDisconnect, OSError):
        pass
    finally:
        live.portal.remove(provider_id, sock)
        if not live.portal.holds(provider_id):
            with contextlib.suppress(RedisError, OSError):
                await live.store.unmark_web(provider_id)


async def _mark(websocket: WebSocket, provider_id: int) -> None:
    live = websocket.app.state.live
    try:
        await live.store.mark_web(provider_id, live.settings.presence_ttl_s)
    except (RedisError, OSError) as exc:
        log.warning("provider %d: web presence not marked (%s)", provider_id, exc)


async def _write(websocket: WebSocket, sock: PortalSocket) -> None:
    try:
        while True:
            text = await sock.queue.get()
            if text is None:
                await websocket.close(code=sock.close_code)
                return
            await websocket.send_text(text)
    except RuntimeError:
        return  # the page left first: nothing more to send


async def _heartbeat(websocket: WebSocket, sock: PortalSocket, provider_id: int) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            refused = await _principal(websocket)
        except (DBAPIError, OSError):
            refused = None  # the database is down: keep the page, check next time
        if isinstance(refused, int):
            sock.close(refused)
            return
        await _mark(websocket, provider_id)
        sock.push('{"type":"ping"}')


async def _read(websocket: WebSocket, sock: PortalSocket, provider_id: int) -> None:
    apps = websocket.app.state.live.apps
    bucket = TokenBucket(RATE_PER_S, RATE_BURST, time.monotonic())
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            sock.push(None)
            return
        data: str | bytes | None = message.get("text")
        if data is None:
            data = message.get("bytes") or b""  # UTF-8 JSON in a binary frame, as the app's
        if not bucket.allow(time.monotonic()):
            sock.push(encode(ErrorMessage(ErrorCode.RATE_LIMITED, "too many frames")))
            continue
        parsed = parse_client_frame(data)
        if isinstance(parsed, ErrorMessage):
            sock.push(encode(parsed))
        elif not isinstance(parsed, COMMANDS):
            sock.push(encode(ErrorMessage(ErrorCode.UNKNOWN_TYPE, "not a portal message", "type")))
        else:
            reply = await apps.command(provider_id, parsed, Channel.WEB)
            sock.push(encode(reply))


ROUTES = [WebSocketRoute(PATH, portal_socket)]
