"""uvicorn's side of the provider socket: one websocket path served outside ASGI.

uvicorn is given a websocket protocol class (``ws=``); on each upgrade it builds one
with ``(config=, server_state=, app_state=)``, calls ``connection_made`` and
``data_received`` with the request head, then makes it the transport's protocol;
when it stops it calls ``shutdown()`` on each member of ``server_state.connections``
and waits until that set and ``server_state.tasks`` are empty. The class made by
:func:`upgrade_dispatch` reads the request's path and hands the connection either
to a protocol of ours (``/ws/provider``: :func:`server.ws_provider.websocket_protocol`)
or to uvicorn's own ASGI websocket protocol, then forwards every later callback.

That contract is uvicorn's, not a documented API: tests/server/test_uvicorn_contract.py
checks it against the installed uvicorn, and pyproject.toml's floor is the version
that has the protocol named here (docs/architecture.md, "The provider socket").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

Serve = Callable[[Any], asyncio.Protocol]
"""Builds our protocol for a connection, given uvicorn's ``server_state`` (its
``connections`` and ``tasks`` sets)."""


def request_path(head: bytes) -> bytes:
    """The path of the request line at the start of ``head`` (query left out)."""
    line = head[: head.find(b"\r\n")]
    parts = line.split(b" ")
    return parts[1].partition(b"?")[0] if len(parts) == 3 else b""


class _UpgradeDispatch(asyncio.Protocol):
    """Uvicorn's websocket protocol: picks the real one from the request's path.

    Uvicorn builds it for each websocket upgrade with ``(config=, server_state=,
    app_state=)``, calls ``connection_made`` and ``data_received`` with the request
    head, then makes it the transport's protocol; every later callback is forwarded.
    """

    __slots__ = ("_args", "_target", "_transport")
    path: ClassVar[bytes]
    serve: ClassVar[Serve]

    def __init__(self, config: Any, server_state: Any, app_state: Any, **_: Any) -> None:
        self._args = (config, server_state, app_state)
        self._transport: asyncio.BaseTransport | None = None
        self._target: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._target is None:
            self._target = self._choose(data)
            assert self._transport is not None
            self._target.connection_made(self._transport)
        self._target.data_received(data)

    def _choose(self, head: bytes) -> asyncio.Protocol:
        config, server_state, app_state = self._args
        if request_path(head) != self.path:
            protocol: asyncio.Protocol = WebSocketsSansIOProtocol(
                config=config, server_state=server_state, app_state=app_state
            )
            return protocol
        return type(self).serve(server_state)

    def eof_received(self) -> bool | None:
        return None if self._target is None else self._target.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._target is not None:
            self._target.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._target is not None:
            self._target.pause_writing()

    def resume_writing(self) -> None:
        if self._target is not None:
            self._target.resume_writing()


def upgrade_dispatch(path: str, serve: Serve) -> type[asyncio.Protocol]:
    """A websocket protocol class for uvicorn (``ws=``) that serves ``path`` with the
    protocol ``serve`` builds and any other path with uvicorn's own."""
    namespace = {"__slots__": (), "path": path.encode(), "serve": staticmethod(serve)}
    return type("WebSocketProtocol", (_UpgradeDispatch,), namespace)
