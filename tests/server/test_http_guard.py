"""server/http_guard.py's sans-I/O parts: read deadlines and the per-address count.

No socket and no event loop: the deadlines are fed a clock by hand, and, to check
that they accept every order of events a real parser produces, httptools' own
parser (the one uvicorn uses) is fed request bytes cut at random places.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import httptools
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.http_guard import (
    AddressCounter,
    Expiry,
    Guard,
    GuardLimits,
    IllegalTransitionError,
    ReadDeadlines,
    ReadPhase,
    declared_length,
    timeout_response,
)

LIMITS = GuardLimits(
    header_timeout_s=10.0,
    body_timeout_s=30.0,
    body_total_s=100.0,
    upload_total_s=1000.0,
    upload_above_bytes=1000,
    max_per_address=2,
)


def _reading_body(now: float = 0.0) -> ReadDeadlines:
    reads = ReadDeadlines(LIMITS, now)
    reads.message_begun(now)
    reads.head_complete(now)
    return reads


# -- the request head ---------------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_quietly_after_the_header_timeout() -> None:
    reads = ReadDeadlines(LIMITS, 100.0)
    assert reads.deadline() == 110.0
    assert reads.expiry(answering=False) is Expiry.CLOSE


def test_half_a_head_keeps_the_deadline_of_the_connection_and_is_answered_408() -> None:
    reads = ReadDeadlines(LIMITS, 100.0)
    reads.message_begun(108.0)  # trickling in does not buy time
    assert reads.phase is ReadPhase.HEAD
    assert reads.deadline() == 110.0
    assert reads.expiry(answering=False) is Expiry.ANSWER_408


def test_the_wait_for_the_next_head_starts_at_the_previous_answer() -> None:
    reads = _reading_body(0.0)
    reads.message_complete(1.0)
    assert reads.deadline() is None  # the application's turn: nothing expected
    reads.response_complete(50.0)
    assert reads.deadline() == 60.0
    reads.message_begun(55.0)
    assert reads.deadline() == 60.0


# -- the body -------------------------------------------------------------------------------


def test_a_body_may_arrive_slowly_but_not_stop() -> None:
    reads = _reading_body(0.0)
    assert reads.deadline() == 30.0
    for now in (20.0, 40.0, 60.0):
        reads.body_received(now)
    assert reads.deadline() == 90.0
    assert reads.expiry(answering=False) is Expiry.ANSWER_408


def test_a_stalled_body_whose_answer_has_begun_is_only_closed() -> None:
    assert _reading_body().expiry(answering=True) is Expiry.CLOSE


def test_an_answer_before_the_body_ends_restarts_the_bodys_time() -> None:
    reads = _reading_body(0.0)
    reads.response_complete(25.0)  # say, a 413 before reading it
    assert reads.deadline() == 55.0
    reads.message_complete(30.0)
    assert (reads.phase, reads.deadline()) == (ReadPhase.IDLE, 40.0)


def test_a_body_that_trickles_is_cut_at_its_total_deadline() -> None:
    """One byte every 29 s never stops for the 30 s pause: the total ends it."""
    reads = _reading_body(0.0)
    for now in range(29, 100, 29):
        reads.body_received(float(now))
    assert reads.deadline() == 100.0  # not 87 + 30
    assert reads.expiry(answering=False) is Expiry.ANSWER_408


def test_an_upload_gets_the_longer_total_by_its_declared_size() -> None:
    assert LIMITS.body_budget_s(None) == LIMITS.body_budget_s(1000) == 100.0
    assert LIMITS.body_budget_s(1001) == 1000.0
    reads = ReadDeadlines(LIMITS, 0.0)
    reads.message_begun(0.0)
    reads.head_complete(0.0, declared_bytes=50_000)
    for now in range(20, 990, 20):
        reads.body_received(float(now))
    assert reads.deadline() == 1000.0


def test_time_the_server_spends_not_reading_is_not_the_clients() -> None:
    reads = _reading_body(0.0)
    reads.body_received(10.0)
    reads.reading_paused(20.0)
    assert reads.deadline() is None  # nothing expected while the server does not read
    reads.reading_paused(25.0)  # already paused: the first time counts
    reads.reading_resumed(220.0)
    assert reads.deadline() == 250.0  # its pause starts again...
    for now in (240.0, 260.0, 280.0):
        reads.body_received(now)
    assert reads.deadline() == 300.0  # ...and its total moved on by the 200 s paused
    reads.reading_resumed(290.0)  # not paused: nothing changes
    assert reads.deadline() == 300.0


def test_a_body_answered_before_it_ended_is_dropped_for_one_pause_at_most() -> None:
    reads = ReadDeadlines(LIMITS, 0.0)
    reads.message_begun(0.0)
    reads.head_complete(0.0, declared_bytes=10**9)  # an upload's total, had it been read
    reads.response_complete(5.0)  # a 413, say: the rest is read only to be dropped
    reads.body_received(20.0)
    assert reads.deadline() == 35.0
    assert reads.expiry(answering=True) is Expiry.CLOSE


def test_the_declared_length_is_read_from_the_head() -> None:
    assert declared_length([(b"host", b"x"), (b"content-length", b"42")]) == 42
    assert declared_length([(b"Content-Length", b"7")]) == 7
    assert declared_length([(b"transfer-encoding", b"chunked")]) is None


# -- pipelining and upgrades ------------------------------------------------------------------


def test_a_pipelined_request_is_timed_from_its_own_start_and_never_answered_408() -> None:
    reads = _reading_body(0.0)
    reads.message_complete(0.0)
    reads.message_begun(5.0)  # the second request, while the first is being answered
    assert reads.unanswered == 2
    assert reads.deadline() == 15.0
    assert reads.expiry(answering=False) is Expiry.CLOSE  # a 408 would cut the first answer
    reads.response_complete(7.0)
    assert reads.deadline() == 15.0
    assert reads.expiry(answering=False) is Expiry.ANSWER_408


def test_an_upgraded_connection_has_no_read_deadline() -> None:
    reads = _reading_body(0.0)
    reads.upgraded()
    assert reads.deadline() is None
    with pytest.raises(IllegalTransitionError):
        reads.message_begun(1.0)


@pytest.mark.parametrize(
    "event",
    [
        lambda r: r.head_complete(1.0),
        lambda r: r.body_received(1.0),
        lambda r: r.message_complete(1.0),
        lambda r: r.response_complete(1.0),
    ],
)
def test_events_an_idle_connection_cannot_have_raise(event: Any) -> None:
    with pytest.raises(IllegalTransitionError):
        event(ReadDeadlines(LIMITS, 0.0))


def test_a_second_head_cannot_begin_inside_the_first() -> None:
    reads = ReadDeadlines(LIMITS, 0.0)
    reads.message_begun(0.0)
    with pytest.raises(IllegalTransitionError):
        reads.message_begun(1.0)


# -- against httptools' parser ------------------------------------------------------------------


class _ParserEvents:
    """What GuardedHttpToolsProtocol does with the parser's callbacks, on a hand clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = ReadDeadlines(LIMITS, self.now)
        self.bodies: list[bytes] = []

    def on_message_begin(self) -> None:
        self.reads.message_begun(self.now)

    def on_headers_complete(self) -> None:
        self.reads.head_complete(self.now)

    def on_body(self, body: bytes) -> None:
        self.reads.body_received(self.now)
        self.bodies.append(body)

    def on_message_complete(self) -> None:
        self.reads.message_complete(self.now)


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
CHUNKED = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"


@given(
    requests=st.lists(st.sampled_from([GET, POST, CHUNKED]), min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=20),
    answered=st.lists(st.booleans(), max_size=40),
)
def test_every_order_httptools_produces_is_a_legal_one(
    requests: list[bytes], cuts: list[int], answered: list[bool]
) -> None:
    events = _ParserEvents()
    parser = httptools.HttpRequestParser(events)
    stream, at = b"".join(requests), 0
    for step, cut in enumerate([*cuts, len(requests) * 200]):
        events.now += 1.0
        parser.feed_data(stream[at : at + cut])
        at += cut
        owed = events.reads.unanswered > (events.reads.phase is not ReadPhase.IDLE)
        if owed and step < len(answered) and answered[step]:
            events.reads.response_complete(events.now)  # an answer between two reads
        if at >= len(stream):
            break
    reads = events.reads
    assert reads.phase is ReadPhase.IDLE
    while reads.unanswered:
        assert reads.deadline() is None
        reads.response_complete(events.now)
    assert reads.deadline() == events.now + LIMITS.header_timeout_s


def test_an_upgrade_request_ends_as_a_complete_message_before_the_upgrade() -> None:
    events = _ParserEvents()
    parser = httptools.HttpRequestParser(events)
    head = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    with pytest.raises(httptools.HttpParserUpgrade):
        parser.feed_data(head + b"\x81\x00")
    events.reads.upgraded()  # from whatever phase the parser left it in
    assert events.reads.deadline() is None


# -- the count per address ----------------------------------------------------------------------


def test_an_address_gets_its_cap_and_a_slot_back_when_one_ends() -> None:
    counter = AddressCounter(cap=2)
    assert counter.admit("203.0.113.7") and counter.admit("203.0.113.7")
    assert not counter.admit("203.0.113.7")
    assert counter.admit("203.0.113.8")  # another address has its own
    assert counter.refused == 1
    counter.release("203.0.113.7")
    assert counter.admit("203.0.113.7")
    assert counter.held("203.0.113.7") == 2


def test_trusted_proxies_and_non_ip_peers_are_not_counted() -> None:
    counter = AddressCounter(cap=1, spared=(ipaddress.ip_network("10.0.0.0/8"),))
    assert all(counter.admit("10.1.2.3") for _ in range(5))
    assert counter.admit(None) and counter.admit(None)  # a Unix socket
    assert counter.held("10.1.2.3") == 0
    assert counter.admit("::1") and not counter.admit("::1")


def test_the_408_is_a_complete_json_response_that_closes() -> None:
    raw = timeout_response([(b"date", b"Mon, 01 Jan 2024 00:00:00 GMT")])
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines[1:])
    assert lines[0] == b"HTTP/1.1 408 Request Timeout"
    assert int(headers[b"content-length"]) == len(body)
    assert headers[b"connection"] == b"close" and b"date" in headers
    assert b'"code":"request_timeout"' in body


# -- websocket upgrades keep their slot ---------------------------------------------------------


class _Websocket(asyncio.Protocol):
    """Stands for uvicorn's websocket protocol classes (slots and all)."""

    __slots__ = ("kwargs", "lost")

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.lost = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


def test_an_upgraded_connection_gives_its_slot_back_when_it_ends() -> None:
    guard = Guard(GuardLimits(max_per_address=1))
    assert guard.addresses.admit("198.51.100.1")
    build = guard.upgrade(_Websocket, "198.51.100.1")
    protocol = build(config=1, server_state=2, app_state=3)  # as uvicorn builds it
    assert isinstance(protocol, _Websocket)
    assert protocol.kwargs == {"config": 1, "server_state": 2, "app_state": 3}
    assert not guard.addresses.admit("198.51.100.1")  # still held by the websocket
    protocol.connection_lost(None)
    assert protocol.lost
    assert guard.addresses.held("198.51.100.1") == 0
    assert type(guard.upgrade(_Websocket, "198.51.100.1")(config=1)) is type(protocol)
