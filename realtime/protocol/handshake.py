"""Reading the websocket handshake: which subprotocol to select, which token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from realtime.protocol.constants import SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the opening handshake offered.

    Attributes:
        subprotocol: the subprotocol to select when accepting (:data:`SUBPROTOCOL`),
            or ``None`` when the client did not offer it: accept without one and let
            the connection close with 4000.
        token: the device token from the ``Authorization`` header or, failing that,
            from an ``acionar.token.<token>`` subprotocol; ``None`` when neither
            carries one (the app then sends an ``auth`` message).
    """

    subprotocol: str | None
    token: str | None = field(default=None, repr=False)


def read_handshake(subprotocols: Sequence[str], authorization: str | None) -> Handshake:
    """Interpret the client's offered subprotocols and ``Authorization`` header.

    Never raises. The token subprotocol is never selected: selecting it would echo
    the token in the response.

    Args:
        subprotocols: the ``Sec-WebSocket-Protocol`` entries, in the client's order.
        authorization: the ``Authorization`` header's value, if any.
    """
    selected = SUBPROTOCOL if SUBPROTOCOL in subprotocols else None
    return Handshake(selected, bearer_token(authorization) or _subprotocol_token(subprotocols))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _subprotocol_token(subprotocols: Sequence[str]) -> str | None:
    for entry in subprotocols:
        if entry.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(entry) > len(
            TOKEN_SUBPROTOCOL_PREFIX
        ):
            return entry[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None
