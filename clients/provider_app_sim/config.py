"""An app's bounds and options: :class:`AppConfig`, and the connection defaults it
starts from.

Every bound is named and finite: the reply, rate-limit and backoff defaults come
from docs/protocol.md (:mod:`~clients.provider_app_sim.protocol`), the buffer's from
:mod:`~clients.provider_app_sim.outbox`, the connection's own are below.
"""

from __future__ import annotations

from dataclasses import dataclass

from clients.provider_app_sim.outbox import DEFAULT_BUFFER_FIXES
from clients.provider_app_sim.protocol import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    RATE_LIMITED_RETRY_S,
    REPLY_TIMEOUT_S,
)

APP_VERSION = "acionar-sim 0.1 (1)"
"""What ``hello.app_version`` says."""

USER_AGENT = "acionar-provider-app-sim/0.1"

OPEN_TIMEOUT_S = 10.0
"""Longest TCP connect plus websocket handshake."""

WELCOME_TIMEOUT_S = 10.0
"""Longest wait for ``welcome`` after the handshake (the server's deadline is 5 s)."""

CLOSE_TIMEOUT_S = 5.0
"""Longest wait for the server's close frame when the app closes."""

PING_INTERVAL_S = 20.0
"""The app's own websocket pings, like OkHttp's ``pingInterval`` in the docs."""

PING_TIMEOUT_S = 20.0
"""No pong within this: the connection is dead."""

MAX_FRAME_BYTES = 1 << 20
"""Largest frame accepted from the server."""


@dataclass(frozen=True, slots=True)
class AppConfig:
    """An app's bounds and options; every one finite.

    Attributes:
        interval_s: seconds between fixes; ``None`` uses ``welcome.position_interval_s``.
        buffer_max_fixes: most fixes kept while offline.
        reply_timeout_s: no reply to a ``pos`` within this: reconnect.
        rate_limited_retry_s: wait after ``rate_limited`` before resending.
        backoff_base_s, backoff_cap_s: reconnect backoff bounds.
        open_timeout_s, welcome_timeout_s, close_timeout_s: connection timeouts.
        ping_interval_s, ping_timeout_s: the app's websocket keepalive.
        compression: offer permessage-deflate, as OkHttp does by default.
        idle: authenticate, say hello, then send nothing.
        app_version: ``hello.app_version``.
    """

    interval_s: float | None = None
    buffer_max_fixes: int = DEFAULT_BUFFER_FIXES
    reply_timeout_s: float = REPLY_TIMEOUT_S
    rate_limited_retry_s: float = RATE_LIMITED_RETRY_S
    backoff_base_s: float = BACKOFF_BASE_S
    backoff_cap_s: float = BACKOFF_CAP_S
    open_timeout_s: float = OPEN_TIMEOUT_S
    welcome_timeout_s: float = WELCOME_TIMEOUT_S
    close_timeout_s: float = CLOSE_TIMEOUT_S
    ping_interval_s: float = PING_INTERVAL_S
    ping_timeout_s: float = PING_TIMEOUT_S
    compression: bool = True
    idle: bool = False
    app_version: str = APP_VERSION
