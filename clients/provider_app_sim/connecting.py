"""How a simulated app opens its websocket: connect, then wait for ``welcome``.

docs/protocol.md: the app connects to ``/ws/provider`` with the ``acionar.v1``
subprotocol and ``Authorization: Bearer <token>``; the server's first message is
``welcome`` (or a close code saying why not). Every way an attempt can fail before
``welcome`` (network, handshake, timeout, a close, a first message that is not
``welcome``) is one :class:`NotWelcomedError` carrying the close code, if any, which
decides whether and when :class:`~clients.provider_app_sim.app.SimulatedApp`
reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from clients.provider_app_sim.config import MAX_FRAME_BYTES, USER_AGENT, AppConfig
from clients.provider_app_sim.protocol import SUBPROTOCOL


class NotWelcomedError(Exception):
    """A connection attempt ended before ``welcome``; ``code`` is the close code."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


def close_code(ws: ClientConnection) -> int | None:
    """The close code the server sent, or ``None`` if no close frame came."""
    received = ws.protocol.close_rcvd
    return None if received is None else received.code


async def open_welcomed(
    url: str,
    token: str,
    config: AppConfig,
    gate: asyncio.Semaphore | None,
    stopping: asyncio.Event,
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect and wait for ``welcome``, at most ``gate`` attempts at a time (held
    until ``welcome``); returns the connection and the ``welcome`` message.

    Raises:
        NotWelcomedError: the attempt failed (network, handshake, timeout, closed),
            or ``stopping`` was set before it started.
    """
    held = gate if gate is not None else contextlib.nullcontext()
    async with held:
        if stopping.is_set():
            raise NotWelcomedError(None)
        try:
            ws = await connect(
                url,
                subprotocols=[Subprotocol(SUBPROTOCOL)],
                additional_headers={"Authorization": f"Bearer {token}"},
                compression="deflate" if config.compression else None,
                user_agent_header=USER_AGENT,
                proxy=None,
                open_timeout=config.open_timeout_s,
                close_timeout=config.close_timeout_s,
                ping_interval=config.ping_interval_s,
                ping_timeout=config.ping_timeout_s,
                max_size=MAX_FRAME_BYTES,
            )
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise NotWelcomedError(None) from exc
        try:
            return ws, await read_welcome(ws, config.welcome_timeout_s)
        except BaseException:
            ws.transport.abort()
            raise


async def read_welcome(ws: ClientConnection, timeout_s: float) -> dict[str, Any]:
    """The server's first message, which must be ``welcome``, within ``timeout_s``.

    Raises:
        NotWelcomedError: no message in time, the connection closed (with its
            code), or the message is not a ``welcome``.
    """
    try:
        async with asyncio.timeout(timeout_s):
            raw = await ws.recv()
    except TimeoutError as exc:
        raise NotWelcomedError(None) from exc
    except ConnectionClosed as exc:
        raise NotWelcomedError(close_code(ws)) from exc
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise NotWelcomedError(None) from exc
    if not isinstance(message, dict) or message.get("type") != "welcome":
        raise NotWelcomedError(None)
    return message
