"""Messages the server sends to a provider app, and their encoding.

Adding a server message type: a frozen dataclass here subclassing
:class:`ServerMessage`, decorated with :func:`server_message`, with a ``TYPE``; its
fields are its JSON keys (nested dataclasses become objects, enums their values).
Then its section in ``docs/protocol.md`` (a test checks it is there).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, TypeVar

import orjson

from realtime.errors import RealtimeError
from realtime.protocol.constants import ErrorCode


class ServerMessage:
    """Base of the messages the server sends."""

    __slots__ = ()
    TYPE: ClassVar[str]


SERVER_MESSAGES: dict[str, type[ServerMessage]] = {}
"""``type`` value → message class, filled by :func:`server_message`."""

_S = TypeVar("_S", bound=type[ServerMessage])


def server_message(cls: _S) -> _S:
    """Class decorator: register ``cls`` under its ``TYPE``."""
    if cls.TYPE in SERVER_MESSAGES:
        raise RealtimeError(f"server message type {cls.TYPE!r} registered twice")
    SERVER_MESSAGES[cls.TYPE] = cls
    return cls


_FIELD_NAMES: dict[type[ServerMessage], tuple[str, ...]] = {}
"""Field names per message class, read once: ``fields()`` is slow for an ack per fix."""


def _field_names(cls: type[ServerMessage]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    return names


def to_json(message: ServerMessage) -> dict[str, object]:
    """``message`` as a dict: ``type`` first, then its fields in declaration order."""
    out: dict[str, object] = {"type": message.TYPE}
    for name in _field_names(type(message)):
        out[name] = getattr(message, name)
    return out


_PLAIN_ACK = b'{"type":"ack","seq":%d,"accepted":%d,"rejected":{}}'
"""An ``ack`` with a ``seq`` and nothing rejected (almost every one), byte for byte as
orjson writes it, formatted without building a dict first."""


def encode_bytes(message: ServerMessage) -> bytes:
    """``message`` as the UTF-8 payload of a websocket text frame (compact JSON)."""
    if type(message) is AckMessage and not message.rejected:
        seq, accepted = message.seq, message.accepted
        if type(seq) is int and type(accepted) is int:
            return _PLAIN_ACK % (seq, accepted)
    return orjson.dumps(to_json(message))


def encode(message: ServerMessage) -> str:
    """``message`` as the text of a websocket text frame (compact JSON)."""
    return encode_bytes(message).decode()


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """The bounds an app must respect, announced in ``welcome.config``."""

    max_frame_bytes: int
    max_batch_fixes: int
    rate_limit_per_s: float
    rate_limit_burst: int
    idle_timeout_s: float
    ping_interval_s: float
    max_accuracy_m: float
    max_fix_age_s: float


@server_message
@dataclass(frozen=True, slots=True)
class WelcomeMessage(ServerMessage):
    """``welcome``: authenticated; how often to send fixes and the bounds to respect."""

    TYPE: ClassVar[str] = "welcome"
    provider_id: int
    server_time_ms: int
    position_interval_s: float
    config: SessionLimits


@server_message
@dataclass(frozen=True, slots=True)
class ErrorMessage(ServerMessage):
    """``error``: a frame was refused; the connection lives on.

    ``field`` names the offending field (``"fixes[3].lat"``) when there is one;
    ``seq`` echoes the refused frame's ``seq`` when it had a valid one.
    """

    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    field: str | None = None
    seq: int | None = None


@server_message
@dataclass(frozen=True, slots=True)
class AckMessage(ServerMessage):
    """``ack``: a ``pos`` message was judged; the app may drop those fixes.

    ``rejected`` counts rejected fixes per reason (only reasons that occurred);
    ``accepted + sum(rejected.values())`` is the number of fixes in the message.
    """

    TYPE: ClassVar[str] = "ack"
    seq: int | None
    accepted: int
    rejected: dict[str, int]


# -- dispatch ---------------------------------------------------------------------------


@server_message
@dataclass(frozen=True, slots=True)
class OfferMessage(ServerMessage):
    """``offer``: a job offered to this provider (``offer`` as docs/protocol.md
    describes it: what to decide with, the expiry; nothing personal)."""

    TYPE: ClassVar[str] = "offer"
    offer: dict[str, object]


@server_message
@dataclass(frozen=True, slots=True)
class OfferWithdrawnMessage(ServerMessage):
    """``offer.withdrawn``: an offer is no longer open (another provider took the
    job, it was cancelled, the operator took it back, or it expired)."""

    TYPE: ClassVar[str] = "offer.withdrawn"
    offer_id: int
    reason: str
    message: str


@server_message
@dataclass(frozen=True, slots=True)
class JobUpdateMessage(ServerMessage):
    """``job.update``: one of the provider's jobs as it is now (after an accept, a
    status change, a cancellation; again after every reconnect)."""

    TYPE: ClassVar[str] = "job.update"
    job: dict[str, object]


@server_message
@dataclass(frozen=True, slots=True)
class ResultMessage(ServerMessage):
    """``result``: the answer to a command (``offer.accept``, ``offer.refuse``,
    ``job.status``) that the server could judge; ``code`` says what happened."""

    TYPE: ClassVar[str] = "result"
    seq: int | None
    code: str
    message: str
