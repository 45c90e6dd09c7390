"""A bug's 500 closes its keep-alive connection cleanly (hardening issue, item 2).

Starlette answers the 500 and re-raises; uvicorn then drops the connection. The
answer must say ``Connection: close`` so that a keep-alive client (a browser, a
proxy) does not send its next request into a connection about to be reset.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.app import create_app
from server.settings import Settings
from tests.conftest import unit


async def _boom(request: Request) -> Response:
    raise RuntimeError("a bug")


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), unit(10))  # until the server closes
    finally:
        writer.close()


async def test_a_500_says_connection_close_and_ends_the_connection(
    settings: Settings, redis: Any
) -> None:
    app = create_app(settings)
    app.router.routes.append(Route("/boom", _boom))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                assert not serving.done(), "uvicorn did not start"
                await asyncio.sleep(0.05)
            keep_alive = b"GET /boom HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
            answer = await _exchange(port, keep_alive)
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, unit(15))
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 500"), answer
    assert b"connection: close" in head.split(b"\r\n"), head
    assert b"internal_error" in answer
