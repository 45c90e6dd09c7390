"""This node's provider connections, by provider id.

The newest connection of a provider wins: attaching one returns the previous
connection so that the caller can close it (4003), and a ``provider.online`` event
from another node makes this node close its own (:meth:`Hub.replaced_elsewhere`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from realtime.protocol.server import ServerMessage


class HubNews(enum.Enum):
    """What the hub tells a connection."""

    REPLACED = "replaced"  # a newer connection of its provider took over (here or elsewhere)
    REVOKED = "revoked"  # the token it signed in with was revoked
    BLOCKED = "blocked"  # its provider was blocked in the registry
    SHUTDOWN = "shutdown"  # the server is stopping


def _nowhere(message: ServerMessage) -> bool:
    return False


@dataclass(eq=False)
class Handle:
    """A live connection as the hub sees it: its id, how to tell it things and how
    to send its app a message (``send`` returns whether the socket took it)."""

    connection_id: str
    notify: Callable[[HubNews], None]
    credential_id: int | None = None  # the token the connection signed in with
    send: Callable[[ServerMessage], bool] = _nowhere


class Hub:
    def __init__(self) -> None:
        self._by_provider: dict[int, Handle] = {}

    def __len__(self) -> int:
        return len(self._by_provider)

    def attach(self, provider_id: int, handle: Handle) -> Handle | None:
        """Register ``handle`` for the provider; returns the connection it replaces."""
        previous = self._by_provider.get(provider_id)
        self._by_provider[provider_id] = handle
        return previous if previous is not handle else None

    def detach(self, provider_id: int, handle: Handle) -> None:
        """Forget ``handle`` unless a newer connection took its place already."""
        if self._by_provider.get(provider_id) is handle:
            del self._by_provider[provider_id]

    def replaced_elsewhere(self, provider_id: int, connection_id: str) -> None:
        """Another node holds the provider now: close ours, if we have an older one."""
        handle = self._by_provider.get(provider_id)
        if handle is not None and handle.connection_id != connection_id:
            del self._by_provider[provider_id]
            handle.notify(HubNews.REPLACED)

    def revoke(self, provider_id: int, credential_id: int) -> None:
        """A token was revoked: close the provider's connection if it used it."""
        handle = self._by_provider.get(provider_id)
        if handle is not None and handle.credential_id == credential_id:
            handle.notify(HubNews.REVOKED)

    def block(self, provider_id: int) -> None:
        """The provider was blocked: close its connection here, if any."""
        handle = self._by_provider.get(provider_id)
        if handle is not None:
            handle.notify(HubNews.BLOCKED)

    def send(self, provider_id: int, message: ServerMessage) -> bool:
        """Send ``message`` to the provider's app if its connection is here; whether
        it was written to the socket."""
        handle = self._by_provider.get(provider_id)
        return handle is not None and handle.send(message)

    def holds(self, provider_id: int) -> bool:
        return provider_id in self._by_provider

    def providers(self) -> list[int]:
        """Every provider with a connection here."""
        return list(self._by_provider)

    def notify_all(self, news: HubNews) -> None:
        for handle in list(self._by_provider.values()):
            handle.notify(news)

    def held(self) -> list[tuple[int, str]]:
        """(provider id, connection id) of every connection here."""
        return [(pid, handle.connection_id) for pid, handle in self._by_provider.items()]
