"""The provider websocket protocol v1, sans I/O: names, bounds, messages, parsing.

The wire format is specified in ``docs/protocol.md``; this package is its single
source of truth in code:

* :mod:`~realtime.protocol.constants`: path, subprotocol, bounds, close and error codes;
* :mod:`~realtime.protocol.client`: messages from apps, and their registry;
* :mod:`~realtime.protocol.server`: messages to apps, their registry and encoding;
* :mod:`~realtime.protocol.parse`: :func:`parse_client_frame`, which never raises;
* :mod:`~realtime.protocol.handshake`: subprotocol selection and the handshake token.
"""

from realtime.protocol.client import (
    CLIENT_MESSAGES,
    AuthMessage,
    ClientMessage,
    HelloMessage,
    MessageLimits,
    PositionMessage,
    client_message,
    fix_from_json,
    fix_to_json,
)
from realtime.protocol.constants import (
    AUTH_DEADLINE_S,
    FLOOD_CLOSE_AFTER,
    IDLE_TIMEOUT_S,
    MAX_APP_VERSION_CHARS,
    MAX_BATCH_FIXES,
    MAX_CLOSE_REASON_BYTES,
    MAX_DEVICE_ID_CHARS,
    MAX_FRAME_BYTES,
    MAX_SEQ,
    MAX_TOKEN_CHARS,
    PATH,
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    POSITION_INTERVAL_S,
    RATE_LIMIT_BURST,
    RATE_LIMIT_PER_S,
    SUBPROTOCOL,
    TOKEN_SUBPROTOCOL_PREFIX,
    CloseCode,
    ErrorCode,
)
from realtime.protocol.handshake import Handshake, bearer_token, read_handshake
from realtime.protocol.parse import frame_size, parse_client_frame
from realtime.protocol.server import (
    SERVER_MESSAGES,
    AckMessage,
    ErrorMessage,
    ServerMessage,
    SessionLimits,
    WelcomeMessage,
    encode,
    encode_bytes,
    server_message,
    to_json,
)

__all__ = [
    "AUTH_DEADLINE_S",
    "CLIENT_MESSAGES",
    "FLOOD_CLOSE_AFTER",
    "IDLE_TIMEOUT_S",
    "MAX_APP_VERSION_CHARS",
    "MAX_BATCH_FIXES",
    "MAX_CLOSE_REASON_BYTES",
    "MAX_DEVICE_ID_CHARS",
    "MAX_FRAME_BYTES",
    "MAX_SEQ",
    "MAX_TOKEN_CHARS",
    "PATH",
    "PING_INTERVAL_S",
    "PING_TIMEOUT_S",
    "POSITION_INTERVAL_S",
    "RATE_LIMIT_BURST",
    "RATE_LIMIT_PER_S",
    "SERVER_MESSAGES",
    "SUBPROTOCOL",
    "TOKEN_SUBPROTOCOL_PREFIX",
    "AckMessage",
    "AuthMessage",
    "ClientMessage",
    "CloseCode",
    "ErrorCode",
    "ErrorMessage",
    "Handshake",
    "HelloMessage",
    "MessageLimits",
    "PositionMessage",
    "ServerMessage",
    "SessionLimits",
    "WelcomeMessage",
    "bearer_token",
    "client_message",
    "encode",
    "encode_bytes",
    "fix_from_json",
    "fix_to_json",
    "frame_size",
    "parse_client_frame",
    "read_handshake",
    "server_message",
    "to_json",
]
