"""Names and bounds of the provider websocket protocol v1 (see ``docs/protocol.md``).

Every bound has a finite default here; the server's settings may override the
per-connection ones through :class:`realtime.session.ConnectionConfig`.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

PATH = "/ws/provider"
"""Where the provider websocket endpoint is mounted."""

SUBPROTOCOL = "acionar.v1"
"""The websocket subprotocol a client must offer and the server selects."""

TOKEN_SUBPROTOCOL_PREFIX = "acionar.token."
"""A client that cannot set headers offers ``acionar.token.<device token>``."""

MAX_FRAME_BYTES = 64 * 1024
"""Largest frame accepted, in bytes (UTF-8 for text frames); above it: close 1009."""

MAX_BATCH_FIXES = 250
"""Most fixes in one ``pos`` message. 250 fixes at full double precision take about
52 KB, so a full batch always fits in :data:`MAX_FRAME_BYTES`."""

MAX_TOKEN_CHARS = 512
"""Longest device token looked at; a longer one fails authentication unchecked."""

MAX_APP_VERSION_CHARS = 64
"""Longest ``hello.app_version``."""

MAX_DEVICE_ID_CHARS = 128
"""Longest ``hello.device_id``."""

MAX_SEQ = 2**53 - 1
"""Largest ``seq`` (the largest integer JSON carries exactly)."""

MAX_ID = 2**31 - 1
"""Largest offer, job or reason id (PostgreSQL's integer)."""

MAX_ETA_MIN = 1440
"""Largest ETA an ``offer.accept`` may bid, in minutes (a day)."""

MAX_STATUS_CHARS = 32
"""Longest ``job.status`` status name looked at."""

JOB_STATUSES = frozenset({"en_route", "on_site", "in_transit", "completed"})
"""The statuses an app reports on its job (``job.status``)."""

MAX_CLOSE_REASON_BYTES = 123
"""Websocket limit on a close frame's reason (RFC 6455 §5.5)."""

AUTH_DEADLINE_S = 5.0
"""Seconds from accept to authenticated; then: close 4002."""

IDLE_TIMEOUT_S = 120.0
"""Seconds without any frame from an authenticated app; then: close 4005."""

PING_INTERVAL_S = 20.0
"""Websocket ping interval; the websocket server sends the pings, not this package."""

PING_TIMEOUT_S = 20.0
"""Seconds to wait for a pong before the websocket server drops the connection."""

POSITION_INTERVAL_S = 5.0
"""How often an app should send a fix, announced in ``welcome``."""

RATE_LIMIT_PER_S = 5.0
"""Frames per second a connection may send on average (token bucket refill)."""

RATE_LIMIT_BURST = 30
"""Frames a connection may send at once (token bucket size)."""

FLOOD_CLOSE_AFTER = 20
"""Consecutive frames over the rate limit that make a flood: close 4008."""


class CloseCode(IntEnum):
    """Close codes the server uses; stable (apps switch on them)."""

    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    UNSUPPORTED_PROTOCOL = 4000
    AUTH_FAILED = 4001
    AUTH_TIMEOUT = 4002
    REPLACED = 4003
    TOKEN_REVOKED = 4004
    IDLE_TIMEOUT = 4005
    PROVIDER_BLOCKED = 4006
    RATE_LIMITED = 4008


class ErrorCode(StrEnum):
    """Codes of ``error`` replies; stable (apps switch on them)."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    BATCH_TOO_LARGE = "batch_too_large"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTH_IN_PROGRESS = "auth_in_progress"
    ALREADY_AUTHENTICATED = "already_authenticated"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"
    UNAVAILABLE = "unavailable"
