"""The portal pages' hub without a socket: which pages a block closes, and with
which code each way of closing ends (issue 12: a blocked provider's page stayed
open)."""

from __future__ import annotations

from server.ws_portal import (
    CLOSE_BLOCKED,
    CLOSE_RESTART,
    CLOSE_SLOW,
    SEND_QUEUE,
    PortalHub,
    PortalSocket,
)


def _drained(sock: PortalSocket) -> list[str | None]:
    out = []
    while not sock.queue.empty():
        out.append(sock.queue.get_nowait())
    return out


async def test_blocking_closes_every_page_of_that_provider_only() -> None:
    hub = PortalHub()
    tabs, other = [PortalSocket(), PortalSocket()], PortalSocket()
    for sock in tabs:
        hub.add(7, sock)
    hub.add(8, other)
    for sock in tabs:
        sock.push('{"type":"ping"}')
    hub.block(7)
    for sock in tabs:  # what was queued goes out first, then the close
        assert _drained(sock) == ['{"type":"ping"}', None]
        assert sock.close_code == CLOSE_BLOCKED
    assert other.queue.empty() and other.close_code != CLOSE_BLOCKED


async def test_a_page_that_stopped_reading_is_closed_as_slow_unless_blocked() -> None:
    slow, blocked = PortalSocket(), PortalSocket()
    for _ in range(SEND_QUEUE):
        slow.push("{}")
        blocked.push("{}")
    assert not slow.push("{}")  # one too many
    assert slow.close_code == CLOSE_SLOW and _drained(slow)[-1] is None
    blocked.close(CLOSE_BLOCKED)  # its queue is full: the close still goes in
    assert blocked.close_code == CLOSE_BLOCKED and _drained(blocked)[-1] is None


async def test_a_stopping_node_asks_pages_to_reconnect_not_to_sign_in() -> None:
    hub, sock = PortalHub(), PortalSocket()
    hub.add(1, sock)
    hub.close_all()
    assert _drained(sock) == [None] and sock.close_code == CLOSE_RESTART
