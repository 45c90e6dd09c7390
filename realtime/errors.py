"""Errors of the realtime package.

::

    RealtimeError                 base of every realtime error; raised as such for a
    │                             message type registered twice (at import time)
    ├── ConfigError               a bound in a config dataclass is not finite or out
    │                             of range (raised at construction, also a ValueError)
    ├── InvalidTransition         a ProviderConnection event arrived in a state that
    │                             does not allow it: a bug in the caller, never
    │                             caused by what a client sends
    ├── MirrorMessageError        a message on the live channel that a node's
    │                             mirror cannot read (also a ValueError; dropped and
    │                             counted)
    └── MessageError              a client frame breaks the protocol; carries the
                                  stable ``code``, a ``message`` and the offending
                                  ``field``. It never escapes
                                  :func:`realtime.protocol.parse_client_frame`, which
                                  turns it into an ``error`` reply.

Nothing a client sends raises out of this package: bad frames become ``error``
replies or close codes. The I/O layer closes with 1011 (no details) on any other
exception.
"""

from __future__ import annotations


class RealtimeError(Exception):
    """Base of every error raised by the realtime package."""


class ConfigError(RealtimeError, ValueError):
    """A configuration value is not finite or out of its range."""


class InvalidTransition(RealtimeError):  # noqa: N818  (reads as the event it rejects)
    """An event is not allowed in the connection's current state.

    Attributes:
        state: the name of the state the connection was in.
        event: the name of the rejected event.
    """

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"{event} is not allowed in state {state}")
        self.state = state
        self.event = event


class MessageError(RealtimeError):
    """A client frame cannot be accepted.

    Attributes:
        code: a stable error code (an :class:`realtime.protocol.ErrorCode` value).
        message: what is wrong, in English, for the app's developer.
        field: the offending field's path (``"fixes[3].lat"``), or ``None``.
    """

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {field}: {message}" if field else f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


class MirrorMessageError(RealtimeError, ValueError):
    """A message on the live channel that this mirror cannot read."""
