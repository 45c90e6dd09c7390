"""One provider app's websocket connection, as a pure state machine.

The I/O layer owns the socket and the clocks; it feeds the connection events and
executes the :mod:`~realtime.actions` each event returns, in order::

    conn = ProviderConnection(config)
    handshake = read_handshake(scope["subprotocols"], headers.get("authorization"))
    await ws.accept(subprotocol=handshake.subprotocol)
    run(conn.start(handshake, monotonic()))
    # then, until conn.state is CLOSED:
    #   each frame:          run(conn.receive_frame(data, monotonic(), time()))
    #   at next_deadline():  run(conn.tick(monotonic()))
    #   after CheckToken:    run(conn.token_checked(provider_id_or_none, monotonic(), time()))
    #   hub / bus events:    conn.replaced(now), conn.token_revoked(now), conn.blocked(now),
    #                        conn.shutdown(now)
    #   socket gone:         run(conn.connection_lost(now))

States::

    CONNECTING ──start──▶ AWAITING_AUTH ──token──▶ AUTHENTICATING ──ok──▶ AUTHENTICATED
         │                      │                        │                      │
         └──────────────────────┴────────────┬───────────┴──────────────────────┘
                                             ▼
                                          CLOSED

``now`` is monotonic seconds (deadlines, rate limit); ``wall`` is seconds since the
epoch (``welcome.server_time_ms`` and the position filter's clock). Calling an
event in a state that does not allow it raises :class:`InvalidTransition`; a closed
connection takes no events. Nothing a client sends raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, ClassVar

from realtime.actions import (
    AcceptFixes,
    Action,
    CheckToken,
    Close,
    Command,
    CountRejections,
    ProviderOffline,
    ProviderOnline,
    RecordHello,
    Resume,
    Send,
)
from realtime.errors import ConfigError, InvalidTransition
from realtime.filter import FilterConfig, PositionFilter, PositionFix, ProviderTrack
from realtime.protocol.client import (
    AuthMessage,
    ClientMessage,
    HelloMessage,
    JobStatusMessage,
    MessageLimits,
    OfferAcceptMessage,
    OfferRefuseMessage,
    PositionMessage,
)
from realtime.protocol.constants import (
    AUTH_DEADLINE_S,
    FLOOD_CLOSE_AFTER,
    IDLE_TIMEOUT_S,
    MAX_BATCH_FIXES,
    MAX_FRAME_BYTES,
    MAX_TOKEN_CHARS,
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    POSITION_INTERVAL_S,
    RATE_LIMIT_BURST,
    RATE_LIMIT_PER_S,
    CloseCode,
    ErrorCode,
)
from realtime.protocol.handshake import Handshake
from realtime.protocol.parse import frame_size, parse_client_frame
from realtime.protocol.server import AckMessage, ErrorMessage, SessionLimits, WelcomeMessage
from realtime.ratelimit import TokenBucket


class ConnectionState(Enum):
    """Where a provider connection is in its life."""

    CONNECTING = "connecting"
    AWAITING_AUTH = "awaiting_auth"
    AUTHENTICATING = "authenticating"
    AUTHENTICATED = "authenticated"
    CLOSED = "closed"


_S = ConnectionState
_TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.CONNECTING: frozenset({_S.AWAITING_AUTH, _S.CLOSED}),
    _S.AWAITING_AUTH: frozenset({_S.AUTHENTICATING, _S.CLOSED}),
    _S.AUTHENTICATING: frozenset({_S.AUTHENTICATED, _S.CLOSED}),
    _S.AUTHENTICATED: frozenset({_S.CLOSED}),
    _S.CLOSED: frozenset(),
}
_OPEN = (_S.AWAITING_AUTH, _S.AUTHENTICATING, _S.AUTHENTICATED)


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Per-connection bounds; every number finite and positive.

    ``ping_interval_s`` and ``ping_timeout_s`` are not enforced here: the websocket
    server sends the pings (configure it with these values); they are announced in
    ``welcome`` so that an app can size its own timeouts.
    """

    auth_deadline_s: float = AUTH_DEADLINE_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_batch_fixes: int = MAX_BATCH_FIXES
    rate_limit_per_s: float = RATE_LIMIT_PER_S
    rate_limit_burst: int = RATE_LIMIT_BURST
    flood_close_after: int = FLOOD_CLOSE_AFTER
    position_interval_s: float = POSITION_INTERVAL_S
    ping_interval_s: float = PING_INTERVAL_S
    ping_timeout_s: float = PING_TIMEOUT_S
    filter: FilterConfig = field(default_factory=FilterConfig)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{f.name} must be finite and positive, got {value!r}")

    def session_limits(self) -> SessionLimits:
        """The bounds announced to the app in ``welcome.config``."""
        return SessionLimits(
            max_frame_bytes=self.max_frame_bytes,
            max_batch_fixes=self.max_batch_fixes,
            rate_limit_per_s=self.rate_limit_per_s,
            rate_limit_burst=self.rate_limit_burst,
            idle_timeout_s=self.idle_timeout_s,
            ping_interval_s=self.ping_interval_s,
            max_accuracy_m=self.filter.max_accuracy_m,
            max_fix_age_s=self.filter.max_age_s,
        )


_Handler = Callable[[Any, Any, float, float], list[Action]]


class ProviderConnection:
    """The protocol of one provider app's websocket connection, without I/O.

    Attributes:
        config: the connection's bounds.
        state: the current :class:`ConnectionState`.
        provider_id: the authenticated provider, else ``None``.
        close_code: why the server closed, or ``None`` (open, or the peer left).
        closed_at: monotonic time of the close, or ``None``.
    """

    def __init__(self, config: ConnectionConfig | None = None) -> None:
        self.config = config or ConnectionConfig()
        self.state = ConnectionState.CONNECTING
        self.provider_id: int | None = None
        self.close_code: CloseCode | None = None
        self.closed_at: float | None = None
        self._opened_at = 0.0
        self._last_frame_at = 0.0
        self._violations = 0
        self._bucket = TokenBucket(self.config.rate_limit_per_s, self.config.rate_limit_burst, 0.0)
        self._filter = PositionFilter(self.config.filter)
        self._limits = MessageLimits(max_batch_fixes=self.config.max_batch_fixes)
        self._track: ProviderTrack | None = None

    # -- events ---------------------------------------------------------------

    def start(self, handshake: Handshake, now: float) -> list[Action]:
        """The websocket was accepted: start the auth deadline.

        Returns ``Close(4000)`` if the client did not offer the subprotocol,
        ``CheckToken`` if the handshake carried a token, else nothing (the app
        must send ``auth``).
        """
        self._require("start", _S.CONNECTING)
        self._opened_at = self._last_frame_at = now
        self._bucket = TokenBucket(self.config.rate_limit_per_s, self.config.rate_limit_burst, now)
        if handshake.subprotocol is None:
            return self._close(
                CloseCode.UNSUPPORTED_PROTOCOL, "subprotocol acionar.v1 required", now
            )
        self._set_state(_S.AWAITING_AUTH)
        if handshake.token is None:
            return []
        return self._present_token(handshake.token, now)

    def receive_frame(self, data: bytes | str, now: float, wall: float) -> list[Action]:
        """A text or binary frame arrived: check its size and rate, parse it, act.

        Too big: ``Close(1009)``. Over the rate limit: an ``error rate_limited``
        reply, or ``Close(4008)`` after ``flood_close_after`` in a row. Invalid or
        not allowed yet: an ``error`` reply. Never raises for any ``data``.
        """
        self._require("receive_frame", *_OPEN)
        self._last_frame_at = now
        if frame_size(data, self.config.max_frame_bytes) > self.config.max_frame_bytes:
            return self._close(CloseCode.MESSAGE_TOO_BIG, "frame too big", now)
        if not self._bucket.allow(now):
            return self._over_rate_limit(now)
        self._violations = 0
        message = parse_client_frame(data, self._limits)
        if isinstance(message, ErrorMessage):
            return [Send(message)]
        return self._dispatch(message, now, wall)

    def token_checked(
        self,
        provider_id: int | None,
        now: float,
        wall: float,
        last_fix: PositionFix | None = None,
    ) -> list[Action]:
        """The I/O layer looked up the token asked for by :class:`CheckToken`.

        Args:
            provider_id: the token's provider, or ``None`` if the token is unknown,
                expired or revoked.
            now: monotonic seconds.
            wall: seconds since the epoch (for ``welcome.server_time_ms``).
            last_fix: the provider's stored last accepted fix, so that the filter
                continues from it across reconnects.

        Returns:
            ``ProviderOnline``, ``Send(welcome)`` and ``Resume``; ``Close(4001)`` for no
            provider; ``Close(4002)`` if the deadline passed meanwhile.
        """
        self._require("token_checked", _S.AUTHENTICATING)
        if now >= self._opened_at + self.config.auth_deadline_s:
            return self._close(CloseCode.AUTH_TIMEOUT, "authentication deadline passed", now)
        if provider_id is None:
            return self._close(CloseCode.AUTH_FAILED, "authentication failed", now)
        self._set_state(_S.AUTHENTICATED)
        self.provider_id = provider_id
        self._last_frame_at = now
        self._track = ProviderTrack(self._filter, last_fix)
        welcome = WelcomeMessage(
            provider_id=provider_id,
            server_time_ms=int(wall * 1000),
            position_interval_s=self.config.position_interval_s,
            config=self.config.session_limits(),
        )
        return [ProviderOnline(provider_id), Send(welcome), Resume(provider_id)]

    def tick(self, now: float) -> list[Action]:
        """Time passed: enforce the auth deadline (4002) and the idle timeout (4005)."""
        self._require("tick", *_OPEN)
        if now < self.next_deadline():
            return []
        if self.state is _S.AUTHENTICATED:
            return self._close(CloseCode.IDLE_TIMEOUT, "no frame received in time", now)
        return self._close(CloseCode.AUTH_TIMEOUT, "authentication deadline passed", now)

    def replaced(self, now: float) -> list[Action]:
        """A newer connection of the same provider authenticated: ``Close(4003)``.

        No ``ProviderOffline``: the provider is online through the newer one.
        """
        self._require("replaced", _S.AUTHENTICATED)
        return self._close(CloseCode.REPLACED, "replaced by a newer connection", now)

    def token_revoked(self, now: float) -> list[Action]:
        """The device token was revoked: ``ProviderOffline`` and ``Close(4004)``."""
        self._require("token_revoked", _S.AUTHENTICATED)
        return self._close(CloseCode.TOKEN_REVOKED, "device token revoked", now)

    def blocked(self, now: float) -> list[Action]:
        """The provider was blocked in the registry: ``ProviderOffline`` and ``Close(4006)``."""
        self._require("blocked", _S.AUTHENTICATED)
        return self._close(CloseCode.PROVIDER_BLOCKED, "provider blocked", now)

    def shutdown(self, now: float) -> list[Action]:
        """The server is stopping: ``Close(1001)`` (and ``ProviderOffline`` if authenticated)."""
        self._require("shutdown", *_OPEN)
        return self._close(CloseCode.GOING_AWAY, "server shutting down", now)

    def connection_lost(self, now: float) -> list[Action]:
        """The socket is gone (peer closed, ping timeout, network): no ``Close``, only
        ``ProviderOffline`` if authenticated. ``close_code`` stays ``None``."""
        self._require("connection_lost", *_OPEN)
        actions = self._offline_actions()
        self._set_state(_S.CLOSED)
        self.closed_at = now
        return actions

    # -- queries --------------------------------------------------------------

    def next_deadline(self) -> float:
        """Monotonic time by which :meth:`tick` must be called; ``math.inf`` if none.

        It moves: call again after every event.
        """
        if self.state in (_S.AWAITING_AUTH, _S.AUTHENTICATING):
            return self._opened_at + self.config.auth_deadline_s
        if self.state is _S.AUTHENTICATED:
            return self._last_frame_at + self.config.idle_timeout_s
        return math.inf

    @property
    def closed(self) -> bool:
        """Whether the connection is closed and takes no more events."""
        return self.state is _S.CLOSED

    @property
    def last_accepted(self) -> PositionFix | None:
        """The provider's newest accepted fix (seeded by :meth:`token_checked`)."""
        return None if self._track is None else self._track.last_accepted

    # -- handlers -------------------------------------------------------------

    def _dispatch(self, message: ClientMessage, now: float, wall: float) -> list[Action]:
        if self.state is not _S.AUTHENTICATED and not isinstance(message, AuthMessage):
            return [_error(ErrorCode.NOT_AUTHENTICATED, "send auth and wait for welcome", message)]
        return self._handlers[type(message)](self, message, now, wall)

    def _on_auth(self, message: AuthMessage, now: float, wall: float) -> list[Action]:
        if self.state is _S.AUTHENTICATING:
            return [_error(ErrorCode.AUTH_IN_PROGRESS, "a token is being checked", message)]
        if self.state is _S.AUTHENTICATED:
            return [_error(ErrorCode.ALREADY_AUTHENTICATED, "already authenticated", message)]
        return self._present_token(message.token, now)

    def _on_hello(self, message: HelloMessage, now: float, wall: float) -> list[Action]:
        provider_id, _ = self._authenticated()
        return [RecordHello(provider_id, message.app_version, message.device_id)]

    def _on_position(self, message: PositionMessage, now: float, wall: float) -> list[Action]:
        provider_id, track = self._authenticated()
        result = track.add_batch(message.fixes, wall)
        counts = result.rejection_counts()
        actions: list[Action] = []
        if result.accepted:
            actions.append(AcceptFixes(provider_id, result.accepted))
        if counts:
            actions.append(CountRejections(provider_id, counts))
        rejected = {reason.value: n for reason, n in counts.items()}
        actions.append(Send(AckMessage(message.seq, len(result.accepted), rejected)))
        return actions

    def _on_command(self, message: ClientMessage, now: float, wall: float) -> list[Action]:
        provider_id, _ = self._authenticated()
        return [Command(provider_id, message)]

    # One table per class, not per connection (thousands of them).
    _handlers: ClassVar[dict[type[ClientMessage], _Handler]] = {
        AuthMessage: _on_auth,
        HelloMessage: _on_hello,
        PositionMessage: _on_position,
        OfferAcceptMessage: _on_command,
        OfferRefuseMessage: _on_command,
        JobStatusMessage: _on_command,
    }

    # -- helpers --------------------------------------------------------------

    def _present_token(self, token: str, now: float) -> list[Action]:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return self._close(CloseCode.AUTH_FAILED, "authentication failed", now)
        self._set_state(_S.AUTHENTICATING)
        return [CheckToken(token)]

    def _over_rate_limit(self, now: float) -> list[Action]:
        self._violations += 1
        if self._violations >= self.config.flood_close_after:
            return self._close(CloseCode.RATE_LIMITED, "too many frames", now)
        return [Send(ErrorMessage(ErrorCode.RATE_LIMITED, "too many frames; frame dropped"))]

    def _close(self, code: CloseCode, reason: str, now: float) -> list[Action]:
        actions = [] if code is CloseCode.REPLACED else self._offline_actions()
        self._set_state(_S.CLOSED)
        self.close_code = code
        self.closed_at = now
        return [*actions, Close(code, reason)]

    def _offline_actions(self) -> list[Action]:
        if self.state is _S.AUTHENTICATED and self.provider_id is not None:
            return [ProviderOffline(self.provider_id)]
        return []

    def _authenticated(self) -> tuple[int, ProviderTrack]:
        if self.provider_id is None or self._track is None:
            raise InvalidTransition(self.state.name, "handling a message")
        return self.provider_id, self._track

    def _require(self, event: str, *states: ConnectionState) -> None:
        if self.state not in states:
            raise InvalidTransition(self.state.name, event)

    def _set_state(self, new: ConnectionState) -> None:
        if new not in _TRANSITIONS[self.state]:
            raise InvalidTransition(self.state.name, f"transition to {new.name}")
        self.state = new


def _error(code: ErrorCode, text: str, message: ClientMessage) -> Send:
    seq = getattr(message, "seq", None)  # echoed by any message type that has one
    return Send(ErrorMessage(code, text, seq=seq if isinstance(seq, int) else None))
