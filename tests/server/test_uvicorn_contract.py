"""uvicorn's contract with the provider socket, checked against the installed uvicorn.

``server/ws_provider.py`` is not an ASGI route: it relies (``server/ws_upgrade.py``)
on how uvicorn drives a websocket protocol class (docs/architecture.md, "The
provider socket"). uvicorn builds the class for each upgrade with ``config=``,
``server_state=`` and ``app_state=``, gives it the request head through
``connection_made`` and ``data_received`` and then makes it the transport's
protocol; when it stops, it calls ``shutdown()`` on each member of
``server_state.connections`` and waits until that set and ``server_state.tasks``
are empty. These tests run real ``uvicorn.Server`` instances in this process on a
loopback socket, so a uvicorn release that changes any of it fails here, not in
production.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest
import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from realtime.protocol import PATH, SUBPROTOCOL
from server.live import open_live
from server.resources import open_resources
from server.settings import Settings
from server.ws_provider import ProviderProtocol, websocket_protocol
from tests.conftest import unit

HttpImpl = Literal["httptools", "h11"]

LINGER_S = unit(0.5)
"""How long a probe's shutdown task outlives its connection (uvicorn must wait)."""
GRACE_S = int(unit(5))
"""uvicorn's ``timeout_graceful_shutdown``: a connection that ignores ``shutdown()``
fails its test in this time instead of holding the server open."""

UPGRADE = (
    b"GET /probe?x=1 HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that never serves a websocket (the probe class takes them)."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _until(check: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + unit(5)
    while not check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


@asynccontextmanager
async def _serving(app: Any, **options: Any) -> AsyncIterator[tuple[uvicorn.Server, int]]:
    """A real uvicorn server on a loopback port of its own, stopped as SIGTERM would
    stop it (``should_exit``) when the block ends; yields the server and its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app, log_config=None, access_log=False, timeout_graceful_shutdown=GRACE_S, **options
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await _until(lambda: server.started or serving.done(), "uvicorn did not start")
            assert server.started, "uvicorn did not start"
            yield server, port
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, unit(15))


class Probe(asyncio.Protocol):
    """A websocket protocol class that records how uvicorn drives it.

    It keeps to what ``ProviderProtocol`` does with the server state: it joins
    ``connections`` when it gets its transport, leaves when the transport is lost,
    and does its closing work in a task it puts in ``tasks``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.state: ServerState = kwargs["server_state"]
        self.calls: list[str] = []
        self.received = bytearray()
        self.transport: asyncio.BaseTransport | None = None
        self.lingered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.calls.append("connection_made")
        self.transport = transport
        self.state.connections.add(self)  # type: ignore[arg-type]  # any protocol will do

    def data_received(self, data: bytes) -> None:
        self.calls.append("data_received")
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append("connection_lost")
        self.state.connections.discard(self)

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        task = asyncio.get_running_loop().create_task(self._linger())
        self.state.tasks.add(task)
        task.add_done_callback(self.state.tasks.discard)

    async def _linger(self) -> None:
        assert self.transport is not None
        self.transport.close()
        await asyncio.sleep(LINGER_S)
        self.lingered = True


def _parsed(head: bytes) -> Request:
    """The request the websockets library reads from ``head`` (nothing left over)."""
    ws = ServerProtocol()
    ws.receive_data(head)
    events = ws.events_received()
    assert len(events) == 1 and isinstance(events[0], Request)
    return events[0]


def _probe(server: uvicorn.Server) -> Probe | None:
    connections: list[object] = list(server.server_state.connections)
    probes = [c for c in connections if isinstance(c, Probe)]
    return probes[0] if len(probes) == 1 else None


def test_server_state_holds_the_sets_the_provider_socket_joins() -> None:
    state = ServerState()
    assert isinstance(state.connections, set) and not state.connections
    assert isinstance(state.tasks, set) and not state.tasks


async def test_uvicorns_websocket_protocol_is_built_with_the_keywords_it_is_given() -> None:
    # ws="auto" would import uvicorn's legacy websockets protocol, which older
    # uvicorn releases load from websockets' deprecated module; production passes
    # a class too (server/run.py).
    config = uvicorn.Config(
        _not_found, ws=WebSocketsSansIOProtocol, lifespan="off", log_config=None
    )
    state = ServerState()
    protocol = WebSocketsSansIOProtocol(config=config, server_state=state, app_state={})
    assert isinstance(protocol, asyncio.Protocol)
    assert callable(protocol.shutdown)  # what Server.shutdown calls on every connection


@pytest.mark.parametrize("http", ["httptools", "h11"])
async def test_an_upgrade_is_handed_over_and_shut_down_as_the_dispatcher_expects(
    http: HttpImpl,
) -> None:
    async with _serving(_not_found, ws=Probe, http=http, lifespan="off") as (server, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(UPGRADE)
        await _until(lambda: _probe(server) is not None, "no probe joined the connections")
        probe = _probe(server)
        assert probe is not None
        assert probe.calls == ["connection_made", "data_received"]
        assert probe.kwargs.keys() >= {"config", "server_state", "app_state"}
        assert probe.kwargs["config"] is server.config
        assert probe.kwargs["server_state"] is server.server_state
        request = _parsed(bytes(probe.received))  # as ProviderProtocol reads it
        assert request.path == "/probe?x=1"
        assert request.headers["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
        writer.write(b"after")  # the probe is now the transport's protocol
        await _until(lambda: probe.received.endswith(b"after"), "later bytes went elsewhere")
    assert probe.calls == [
        "connection_made",
        "data_received",
        "data_received",
        "shutdown",
        "connection_lost",
    ]
    assert probe.lingered  # serve() returned only once the probe's task had finished
    assert await asyncio.wait_for(reader.read(), unit(5)) == b""
    writer.close()


async def _close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), unit(5))
    return None if closed.value.rcvd is None else closed.value.rcvd.code


def _app(settings: Settings) -> Starlette:
    """An app with the realtime parts the provider socket takes from its state (as
    ``server.app.create_app`` opens them) and one ASGI websocket route."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_resources(settings) as resources, open_live(resources) as live:
            app.state.resources = resources
            app.state.live = live
            yield

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.send_text(await websocket.receive_text())

    return Starlette(routes=[WebSocketRoute("/ws/echo", echo)], lifespan=lifespan)


async def test_stopping_uvicorn_closes_the_provider_socket_with_1001(
    settings: Settings, redis: aioredis.Redis
) -> None:
    app = _app(settings)
    options = {"ws": websocket_protocol(app), "http": "httptools", "lifespan": "on"}
    async with _serving(app, **options) as (server, port):
        provider = await connect(
            f"ws://127.0.0.1:{port}{PATH}",
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            open_timeout=unit(5),
        )
        other = await connect(f"ws://127.0.0.1:{port}/ws/echo", open_timeout=unit(5))
        await other.send("olá")
        assert await asyncio.wait_for(other.recv(), unit(5)) == "olá"
        assert provider.subprotocol == SUBPROTOCOL
        kinds = sorted(type(c).__name__ for c in server.server_state.connections)
        assert kinds == [ProviderProtocol.__name__, WebSocketsSansIOProtocol.__name__]
    assert await _close_code(provider) == 1001  # ProviderProtocol.shutdown, called by uvicorn
    assert await _close_code(other) is not None  # uvicorn's own protocol: a close frame too
    assert not server.server_state.connections
    assert not server.server_state.tasks
