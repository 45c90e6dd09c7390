"""Which websocket protocol an upgrade gets is decided by its request line's path."""

from __future__ import annotations

import pytest

from server.ws_upgrade import request_path


@pytest.mark.parametrize(
    ("head", "path"),
    [
        (b"GET /ws/provider HTTP/1.1\r\nHost: x\r\n\r\n", b"/ws/provider"),
        (b"GET /ws/provider?v=1 HTTP/1.1\r\n", b"/ws/provider"),  # the query is left out
        (b"GET /ws/panel HTTP/1.1\r\n", b"/ws/panel"),
        (b"GET /ws/provider\r\n", b""),  # not a request line of HTTP/1.1
        (b"", b""),
    ],
)
def test_the_path_of_the_request_line(head: bytes, path: bytes) -> None:
    assert request_path(head) == path
