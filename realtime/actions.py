"""What a :class:`~realtime.session.ProviderConnection` asks its I/O layer to do.

Each event method of the connection returns a list of these, to be executed in
order. :class:`Close` is always the last action of its list; after it the
connection is closed and takes no more events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from realtime.filter import PositionFix, RejectReason
from realtime.protocol.client import ClientMessage
from realtime.protocol.constants import CloseCode
from realtime.protocol.server import ServerMessage, encode, encode_bytes


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` as a text frame (its text is :attr:`text`)."""

    message: ServerMessage

    @property
    def text(self) -> str:
        """The frame's text (compact JSON)."""
        return encode(self.message)

    @property
    def data(self) -> bytes:
        """The frame's text as UTF-8 bytes (for a library that sends them as a text
        frame without encoding again)."""
        return encode_bytes(self.message)


@dataclass(frozen=True, slots=True)
class Close:
    """Close the websocket with ``code`` and ``reason`` (at most 123 UTF-8 bytes)."""

    code: CloseCode
    reason: str


@dataclass(frozen=True, slots=True)
class CheckToken:
    """Look the device token up; then call ``token_checked`` with the result."""

    token: str = field(repr=False)  # keeps tokens out of logs


@dataclass(frozen=True, slots=True)
class ProviderOnline:
    """The connection is now the provider's current one.

    Register it in the hub (the provider's older connection, on this node or
    another, gets ``replaced()``) and mark the provider online.
    """

    provider_id: int


@dataclass(frozen=True, slots=True)
class ProviderOffline:
    """The provider's connection ended (not by being replaced).

    Unregister it and mark the provider offline, unless a newer connection of the
    same provider registered meanwhile.
    """

    provider_id: int


@dataclass(frozen=True, slots=True)
class RecordHello:
    """Record which app build and device the provider uses."""

    provider_id: int
    app_version: str
    device_id: str


@dataclass(frozen=True, slots=True)
class AcceptFixes:
    """Store fixes that passed the filter, oldest first; the last is the newest."""

    provider_id: int
    fixes: tuple[PositionFix, ...]


@dataclass(frozen=True, slots=True)
class CountRejections:
    """Add one message's rejected fixes, per reason, to the metrics."""

    provider_id: int
    counts: Mapping[RejectReason, int]


@dataclass(frozen=True, slots=True)
class Command:
    """The provider asks for a change (``offer.accept``, ``offer.refuse``,
    ``job.status``): hand ``message`` to the application, then send its reply (a
    ``result`` or an ``error`` carrying the message's ``seq``)."""

    provider_id: int
    message: ClientMessage


@dataclass(frozen=True, slots=True)
class Resume:
    """The app has just been welcomed: send it what it must not miss (its open
    offers, its active jobs), as after any reconnect."""

    provider_id: int


Action = (
    Send
    | Command
    | Resume
    | Close
    | CheckToken
    | ProviderOnline
    | ProviderOffline
    | RecordHello
    | AcceptFixes
    | CountRejections
)
"""Anything an event method may return; ``match`` on the classes."""
