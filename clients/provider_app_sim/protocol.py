"""The provider websocket protocol v1 as an app sees it (docs/protocol.md).

The simulator is a client of the published protocol only: these names and defaults
are copied from the document, not imported from the server, exactly as an Android
app would hold them.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

SUBPROTOCOL = "acionar.v1"
"""The subprotocol every connection offers."""

DEFAULT_POSITION_INTERVAL_S = 5.0
"""Position interval used until a ``welcome`` says otherwise."""

DEFAULT_MAX_BATCH_FIXES = 250
"""Most fixes per ``pos`` until ``welcome.config.max_batch_fixes`` says otherwise."""

DEFAULT_MAX_FIX_AGE_S = 86_400.0
"""Fixes older than this are dropped from the buffer (``config.max_fix_age_s``)."""

REPLY_TIMEOUT_S = 10.0
"""No reply to a ``pos`` within this: close the socket and reconnect."""

RATE_LIMITED_RETRY_S = 1.0
"""After ``rate_limited``: wait this long, then resend the same message."""

BACKOFF_BASE_S = 1.0
"""Reconnect backoff: a random wait in [0, min(cap, base × 2^attempt)]."""

BACKOFF_CAP_S = 60.0
"""Longest reconnect backoff."""

FLOOD_BACKOFF_S = 10.0
"""Least wait before reconnecting after close 4008 (flood)."""


class CloseCode(IntEnum):
    """Close codes the app acts on."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006
    POLICY_VIOLATION = 1008
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


NO_RECONNECT = frozenset(
    {
        CloseCode.POLICY_VIOLATION,
        CloseCode.UNSUPPORTED_PROTOCOL,
        CloseCode.AUTH_FAILED,
        CloseCode.REPLACED,
        CloseCode.TOKEN_REVOKED,
        CloseCode.PROVIDER_BLOCKED,
    }
)
"""Close codes after which the app must not reconnect on its own."""


class ErrorCode(StrEnum):
    """Codes of ``error`` replies the app handles specially."""

    INVALID_FIELD = "invalid_field"
    BATCH_TOO_LARGE = "batch_too_large"
    RATE_LIMITED = "rate_limited"


def reconnect_floor_s(code: int | None) -> float | None:
    """The least wait before reconnecting after a close with ``code``.

    ``None`` (no close frame: network loss, 1006) and unknown codes reconnect with
    the usual backoff (floor 0); 4008 waits at least :data:`FLOOD_BACKOFF_S`.

    Returns:
        The floor in seconds, or ``None`` when the app must not reconnect.
    """
    if code in NO_RECONNECT:
        return None
    if code == CloseCode.RATE_LIMITED:
        return FLOOD_BACKOFF_S
    return 0.0
