"""An app's bounds and options: :class:`AppConfig`, and the connection defaults it
starts from.

Every bound is named and finite: the reply, rate-limit and backoff defaults come
from docs/protocol.md (:mod:`~clients.provider_app_sim.protocol`), the buffer's from
:mod:`~clients.provider_app_sim.outbox`, the connection's own are below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clients.provider_app_sim.duty import ARRIVAL_RADIUS_M
from clients.provider_app_sim.outbox import DEFAULT_BUFFER_FIXES
from clients.provider_app_sim.profiles import History, ProfileKnobs
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

DUTY_TICK_S = 0.25
"""How often an answering app looks at its offers, its job and its vehicle."""

SIGNAL_LOSS_S = (5.0, 40.0)
"""Range of the length of a simulated signal loss."""

MAX_TIME_SCALE = 100.0
"""Fastest simulated time (the server rejects fixes implying over 200 km/h: above
a scale of about 3, fixes on the road are rejected as ``implied_speed``)."""


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
        time_scale: simulated seconds per real second: the vehicle drives, and an
            answering provider answers and works, this many times faster. Device
            times stay real.
        signal_loss_per_h: mean signal losses per hour (the app drops its socket
            and stays offline, buffering fixes, for a time in :data:`SIGNAL_LOSS_S`).
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
    time_scale: float = 1.0
    signal_loss_per_h: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.time_scale <= MAX_TIME_SCALE:
            raise ValueError(f"time_scale must lie in (0, {MAX_TIME_SCALE}]")
        if not 0.0 <= self.signal_loss_per_h <= 3600.0:
            raise ValueError("signal_loss_per_h must lie in [0, 3600]")


@dataclass(frozen=True, slots=True)
class Answering:
    """Answering mode: the app answers offers and drives its jobs
    (:class:`~clients.provider_app_sim.duty.Duty`).

    Attributes:
        reason_ids: the assistance's refusal reasons (``GET /api/v1/refusal_reasons``);
            empty: providers let the offers they would refuse expire.
        seed: with the provider id, draws each provider's profile.
        knobs: fleet-wide adjustments of the profiles.
        histories: what the registry says about providers, by provider id.
        arrival_radius_m: ``on_site`` within this of the origin.
    """

    reason_ids: tuple[int, ...] = ()
    seed: int = 1
    knobs: ProfileKnobs = field(default_factory=ProfileKnobs)
    histories: Mapping[int, History] = field(default_factory=dict)
    arrival_radius_m: float = ARRIVAL_RADIUS_M
