"""``/ws/panel``: the operators' console's live socket.

The console (``/console``) signs an operator in with the HTTP API (session cookie)
and opens this socket on the same origin. The handshake is refused unless its
``Origin`` is this server's own and the cookie's session is a user's with
``operations.view``. While open, the socket carries, server → page only:

* ``welcome`` (``user``, ``server_time_ms``);
* ``event``: each panel event of the bus (docs/protocol.md, "Panel events") as it
  went out, ``type``, ``event_id`` and ``seq`` included: the page applies each
  ``event_id`` once and remembers the last ``seq`` to resynchronise from
  (``GET /api/v1/events?after=``) after a reconnect;
* ``positions``: the providers' latest positions, coalesced for every page: at
  most one message per ``PANEL_POSITIONS_MS``, with each provider's last fix only;
* ``ping`` every ``HEARTBEAT_S`` (proxies drop sockets idle for 60 s); the session
  is checked again then, and a signed-out or expired one is closed with 4001.

Each socket has a bounded queue of events and keeps only the latest positions
message: a page that stops reading is closed at once (4009) before it can grow the
server's memory. A node that stops closes its consoles with 1012 (reconnect). A
refused handshake is an HTTP 403, which a browser sees as a close (1006) without a
code: the console then asks the HTTP API whether its session still holds. The page
sends nothing but may answer ``ping``; any frame it sends is ignored. An open
console keeps its session alive (its heartbeat uses it) up to ``SESSION_TTL_HOURS``:
an operator watching a panel at night is not signed out for not clicking.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from operations.events import PANEL_EVENTS
from realtime.bus import Bus
from realtime.events import PROVIDER_POSITIONS, EventType, PositionsPayload, Received
from realtime.tasks import owned_task
from registry.enums import UserKind
from registry.permissions import Permission
from server.api.auth import authenticate
from server.api.principal import AuthVia, Principal
from server.ws_portal import CLOSE_SLOW, CLOSE_UNAUTHORISED, same_origin

log = logging.getLogger("acionar.ws.panel")

PATH = "/ws/panel"
SEND_QUEUE = 500
"""Messages waiting for a slow page; beyond, the socket is closed (4009)."""
HEARTBEAT_S = 25.0
MAX_PANELS = 500
"""Console sockets one node holds; beyond, new ones are refused (1013, try later)."""
CLOSE_TRY_LATER = 1013
"""This node holds ``MAX_PANELS`` consoles: reconnect later (perhaps to another)."""
CLOSE_RESTART = 1012
"""The node is stopping: reconnect (and resynchronise)."""
MAX_COALESCED = 20_000
"""Providers whose latest position waits for the next ``positions`` message."""


class PanelSocket:
    """One open console page: its queue of events, the latest positions message
    waiting (a newer one replaces it: positions are news, not history), and how it
    is to be closed (a page that stops reading is closed at once, not after what
    waits for it)."""

    def __init__(self) -> None:
        self.events: collections.deque[str] = collections.deque()
        self.positions: str | None = None
        self.close_code: int | None = None
        self.wake = asyncio.Event()

    @property
    def slow(self) -> bool:
        return self.close_code == CLOSE_SLOW

    def push(self, text: str) -> bool:
        """Queue an event; a page with ``SEND_QUEUE`` waiting is closed (4009)."""
        if self.close_code is not None:
            return False
        if len(self.events) >= SEND_QUEUE:
            self.close(CLOSE_SLOW)
            return False
        self.events.append(text)
        self.wake.set()
        return True

    def push_positions(self, text: str) -> None:
        if self.close_code is None:
            self.positions = text
            self.wake.set()

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self.events.clear()
            self.positions = None
            self.wake.set()

    def take(self) -> list[str]:
        """What to send now, events first (in order), then the positions."""
        out = list(self.events)
        self.events.clear()
        if self.positions is not None:
            out.append(self.positions)
            self.positions = None
        self.wake.clear()
        return out


class PanelHub:
    """This node's console sockets, fed by the bus; positions coalesced."""

    def __init__(self, positions_s: float) -> None:
        self.positions_s = positions_s
        self._sockets: set[PanelSocket] = set()
        self._positions: dict[int, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, sock: PanelSocket) -> None:
        self._sockets.add(sock)

    def remove(self, sock: PanelSocket) -> None:
        self._sockets.discard(sock)

    def broadcast(self, text: str) -> None:
        for sock in list(self._sockets):
            sock.push(text)

    def close_all(self) -> None:
        """The server stops: every page reconnects (to another node) and catches up."""
        for sock in list(self._sockets):
            sock.close(CLOSE_RESTART)

    def subscribe(self, bus: Bus) -> None:
        """Follow every panel event of the bus."""
        for event in PANEL_EVENTS:
            if event is PROVIDER_POSITIONS:
                bus.on(PROVIDER_POSITIONS, self._on_positions)
            else:
                bus.on(event, self._forwarder(event))

    def _forwarder(self, event: EventType[Any]) -> Any:
        async def forward(received: Received[Any]) -> None:
            if not self._sockets:
                return
            body: dict[str, Any] = {"type": event.name}
            if received.event_id is not None:
                body["event_id"] = received.event_id
                body["seq"] = received.seq
            body.update(event.encode(received.payload))
            self.broadcast(orjson.dumps({"type": "event", "event": body}).decode())

        return forward

    async def _on_positions(self, received: Received[PositionsPayload]) -> None:
        if not self._sockets:
            return
        pending = self._positions
        for p in received.payload["positions"]:
            if len(pending) >= MAX_COALESCED and p["provider_id"] not in pending:
                continue  # the next message carries it; the map is seconds behind
            pending[p["provider_id"]] = [p["provider_id"], p["lat"], p["lng"], p["t"]]

    def flush_positions(self) -> None:
        """Send what positions arrived since the last flush, one per provider."""
        if not self._positions:
            return
        rows, self._positions = list(self._positions.values()), {}
        if self._sockets:
            text = orjson.dumps({"type": "positions", "positions": rows}).decode()
            for sock in list(self._sockets):
                sock.push_positions(text)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.positions_s)
            self.flush_positions()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[PanelHub]:
        async with owned_task(self.run(), "panel-positions"):
            yield self


async def _principal(websocket: WebSocket) -> Principal | None:
    state = websocket.app.state
    async with state.resources.sessions() as session, session.begin():
        found = await authenticate(websocket, session, state.resources.settings)
    if (
        found is None
        or found.via is not AuthVia.SESSION
        or found.kind is not UserKind.STAFF
        or not found.can(Permission.OPERATIONS_VIEW)
    ):
        return None
    return found


async def panel_socket(websocket: WebSocket) -> None:
    if not same_origin(websocket):
        await websocket.close(code=1008)  # before accept: the handshake gets a 403
        return
    principal = await _principal(websocket)
    if principal is None:
        await websocket.close(code=CLOSE_UNAUTHORISED)
        return
    hub: PanelHub = websocket.app.state.live.panels
    await websocket.accept()
    if len(hub) >= MAX_PANELS:
        await websocket.close(code=CLOSE_TRY_LATER)  # after accepting: the page sees the code
        return
    sock = PanelSocket()
    hub.add(sock)
    try:
        sock.push(
            orjson.dumps(
                {
                    "type": "welcome",
                    "user": principal.login,
                    "server_time_ms": int(time.time() * 1000),
                }
            ).decode()
        )
        async with asyncio.TaskGroup() as group:
            writer = group.create_task(_write(websocket, sock))
            beat = group.create_task(_heartbeat(websocket, sock))
            await _read(websocket, sock)
            writer.cancel()
            beat.cancel()
    except* (WebSocketDisconnect, OSError):
        pass
    finally:
        hub.remove(sock)


async def _write(websocket: WebSocket, sock: PanelSocket) -> None:
    try:
        while True:
            await sock.wake.wait()
            if sock.close_code is not None:
                await websocket.close(code=sock.close_code)
                return
            for text in sock.take():
                await websocket.send_text(text)
    except RuntimeError:
        return  # the page left first


async def _heartbeat(websocket: WebSocket, sock: PanelSocket) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            signed_out = await _principal(websocket) is None
        except (SQLAlchemyError, OSError):
            signed_out = False  # the database is down: keep the page, check next time
        if signed_out:
            sock.close(CLOSE_UNAUTHORISED)
            return
        sock.push('{"type":"ping"}')


async def _read(websocket: WebSocket, sock: PanelSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            sock.close(1000)
            return


ROUTES = [WebSocketRoute(PATH, panel_socket)]
