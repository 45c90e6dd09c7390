"""Slow and greedy clients against a real server process, over raw TCP sockets
(server/http_guard.py, docs/security.md "Slow clients").

The read timeouts are set to one test unit, so each test waits a few seconds at
most; every "closed by" bound leaves room for a slow machine (ACIONAR_TEST_TIME_UNIT
scales them all).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from realtime.protocol import PATH, SUBPROTOCOL
from registry.validation import make_cpf
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import PASSWORD, Sessions, dispatch_world
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow

TIMEOUT_S = unit(1)
"""HTTP_HEADER_TIMEOUT_S and HTTP_BODY_TIMEOUT_S of the quick server."""
BODY_TOTAL_S = unit(3)
"""HTTP_BODY_TOTAL_S of the quick server: a body must be whole this soon."""
UPLOAD_ABOVE = 1024
"""API_MAX_BODY_BYTES of the quick server: a body declared larger is an upload, which
gets HTTP_UPLOAD_TOTAL_S (a minute: never reached here)."""
KEEP_ALIVE_S = max(1, round(unit(1)))
CLOSED_WITHIN_S = unit(4)
"""The longest a guarded connection may outlive its timeout here."""
CAP = 4
"""HTTP_MAX_CONNECTIONS_PER_ADDRESS of the capped server."""

Sockets = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def quick(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one-unit read timeouts (and a provider auth deadline long
    enough to outlive them)."""
    env = {
        "HTTP_HEADER_TIMEOUT_S": str(TIMEOUT_S),
        "HTTP_BODY_TIMEOUT_S": str(TIMEOUT_S),
        "HTTP_BODY_TOTAL_S": str(BODY_TOTAL_S),
        "HTTP_UPLOAD_TOTAL_S": str(unit(60)),
        "API_MAX_BODY_BYTES": str(UPLOAD_ABOVE),
        "HTTP_KEEP_ALIVE_S": str(KEEP_ALIVE_S),
        "WS_AUTH_DEADLINE_S": "60",
    }
    with running_server(settings, tmp_path_factory.mktemp("slow"), **env) as server:
        yield server


@pytest.fixture(scope="module")
def capped(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server that lets an address hold CAP connections (default timeouts)."""
    env = {"HTTP_MAX_CONNECTIONS_PER_ADDRESS": str(CAP), "WS_AUTH_DEADLINE_S": "60"}
    with running_server(settings, tmp_path_factory.mktemp("capped"), **env) as server:
        yield server


async def _open(server: ServerProcess) -> Sockets:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def _until_closed(reader: asyncio.StreamReader, bound_s: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    received = await asyncio.wait_for(reader.read(), bound_s)
    return received, time.monotonic() - started


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response read off a keep-alive connection: status, headers, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), unit(5))
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value for name, _, value in (line.partition(": ") for line in lines[1:-2])
    }
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def _login_head(length: int) -> bytes:
    return (
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def _provider_socket(server: ServerProcess) -> ClientConnection:
    """A provider app's websocket that has not authenticated (yet)."""
    return await connect(
        f"ws://127.0.0.1:{server.port}{PATH}",
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        open_timeout=unit(5),
    )


# -- read timeouts -----------------------------------------------------------------------------


async def test_a_socket_that_sends_nothing_is_closed_after_the_header_timeout(
    quick: ServerProcess,
) -> None:
    reader, writer = await _open(quick)
    received, took = await _until_closed(reader, CLOSED_WITHIN_S)
    assert received == b""  # nothing asked, nothing answered
    assert took >= TIMEOUT_S * 0.8  # the timeout closed it, not a refusal
    writer.close()


async def test_half_a_request_head_is_answered_408_and_closed(quick: ServerProcess) -> None:
    reader, writer = await _open(quick)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    received, took = await _until_closed(reader, CLOSED_WITHIN_S)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert took >= TIMEOUT_S * 0.8
    writer.close()


async def test_a_declared_body_that_stops_arriving_is_answered_408(quick: ServerProcess) -> None:
    reader, writer = await _open(quick)
    writer.write(_login_head(100) + b'{"login": ')  # 10 of the 100 bytes declared
    received, took = await _until_closed(reader, CLOSED_WITHIN_S)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert orjson.loads(body)["error"]["code"] == "request_timeout"
    assert took >= TIMEOUT_S * 0.8
    writer.close()


async def test_a_body_that_arrives_slowly_but_steadily_is_read(quick: ServerProcess) -> None:
    body = orjson.dumps({"login": "ninguem", "password": "x" * 30})
    reader, writer = await _open(quick)
    writer.write(_login_head(len(body)))
    pieces = [body[i : i + 10] for i in range(0, len(body), 10)]
    for piece in pieces:  # longer in all than the body timeout, never silent for it
        await asyncio.sleep(TIMEOUT_S * 0.4)
        writer.write(piece)
    assert len(pieces) * 0.4 > 1.5  # the whole body took well over the timeout
    status, _, answer = await _response(reader)
    assert status == 401 and orjson.loads(answer)["error"]["code"] == "bad_credentials"
    writer.close()


async def test_a_body_that_trickles_for_ever_is_cut_at_its_total_deadline(
    quick: ServerProcess,
) -> None:
    """A byte every half timeout never stops for the body timeout; before
    HTTP_BODY_TOTAL_S, this held the socket for as long as the client liked."""
    reader, writer = await _open(quick)
    writer.write(_login_head(1000))
    started = time.monotonic()

    async def trickle() -> None:
        while True:
            await asyncio.sleep(TIMEOUT_S * 0.5)
            writer.write(b" ")

    dripping = asyncio.create_task(trickle())
    try:
        received, _ = await _until_closed(reader, BODY_TOTAL_S + CLOSED_WITHIN_S)
    finally:
        dripping.cancel()
        writer.close()
    took = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 ")
    assert took >= BODY_TOTAL_S * 0.8  # the total ended it, not a pause


async def test_an_upload_may_take_longer_than_an_ordinary_body(
    quick: ServerProcess, db: Sessions
) -> None:
    """A CSV import larger than API_MAX_BODY_BYTES, sent for longer than
    HTTP_BODY_TOTAL_S, is read whole and imported."""
    world = await dispatch_world(db, 1)
    async with httpx.AsyncClient(base_url=quick.url) as http:
        signed = await http.post(
            "/api/v1/auth/login", json={"login": "admin", "password": PASSWORD}
        )
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        csrf = signed.json()["csrf_token"]
    rows = "".join(f"{make_cpf(100_000_000 + n)},Pessoa {n}\n" for n in range(60))
    csv = ("document,name\n" + rows).encode()
    assert len(csv) > UPLOAD_ABOVE
    head = (
        f"POST /api/v1/clients/{world['client']}/imports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(csv)}\r\n\r\n"
    ).encode()
    reader, writer = await _open(quick)
    writer.write(head)
    size = len(csv) // 8 + 1
    for start in range(0, len(csv), size):  # 8 pieces, half a timeout apart: 4 timeouts
        await asyncio.sleep(TIMEOUT_S * 0.5)
        writer.write(csv[start : start + size])
    status, _, answer = await _response(reader)
    assert status == 200, answer[:300]
    assert orjson.loads(answer)["beneficiaries_created"] == 60
    writer.close()


async def test_a_keep_alive_connection_serves_requests_then_closes_when_idle(
    quick: ServerProcess,
) -> None:
    reader, writer = await _open(quick)
    await asyncio.sleep(TIMEOUT_S * 0.6)
    writer.write(_get("/healthz"))
    first, headers, _ = await _response(reader)
    assert first == 200 and headers["x-content-type-options"] == "nosniff"
    # Longer than the header timeout since the connection opened: the wait for the
    # next head started at the answer.
    await asyncio.sleep(TIMEOUT_S * 0.6)
    writer.write(_get("/healthz"))
    assert (await _response(reader))[0] == 200
    received, took = await _until_closed(reader, KEEP_ALIVE_S + CLOSED_WITHIN_S)
    assert received == b"" and took >= KEEP_ALIVE_S * 0.8
    writer.close()


async def test_a_websocket_is_not_held_to_the_read_timeouts(quick: ServerProcess) -> None:
    ws = await _provider_socket(quick)
    await asyncio.sleep(TIMEOUT_S * 2.5)
    pong = await ws.ping()
    await asyncio.wait_for(pong, unit(5))  # still open, and answering
    await ws.close()


# -- connections per address -------------------------------------------------------------------


async def _served(sockets: Sockets) -> bool:
    reader, writer = sockets
    writer.write(_get("/healthz"))
    return (await _response(reader))[0] == 200


async def test_an_address_beyond_its_cap_is_refused_while_the_others_stay_open(
    capped: ServerProcess,
) -> None:
    ws = await _provider_socket(capped)  # websockets count too
    held = [await _open(capped) for _ in range(CAP - 1)]
    assert await _served(held[0])  # all CAP taken, and answered
    refused, extra = await _open(capped)
    received, took = await _until_closed(refused, unit(2))
    assert received == b"" and took < unit(2)  # closed at once, nothing read
    extra.close()
    assert all([await _served(sockets) for sockets in held])  # the others are untouched
    await ws.ping()
    await ws.close()  # its slot comes back when it closes
    deadline = time.monotonic() + unit(5)
    while True:
        reader, writer = await _open(capped)
        try:
            if await _served((reader, writer)):
                break
        except (asyncio.IncompleteReadError, ConnectionError):
            assert time.monotonic() < deadline, "the websocket's slot never came back"
            await asyncio.sleep(0.05)
        finally:
            writer.close()
    for _, writer in held:
        writer.close()
