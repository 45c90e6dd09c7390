"""Slow and greedy clients, below ASGI: read deadlines and a per-address cap.

uvicorn reads a request for as long as the client takes: a socket that sends
nothing, half a request head, or a declared body that never comes holds its
connection (and a slot of the process's file descriptors) forever, and one address
may open as many as it likes. Its keep-alive timeout starts only after a response.
This module bounds all three (docs/security.md, "Slow clients"):

* the request head must be complete within ``header_timeout_s`` of the connection
  opening or of the previous response (nothing received: closed quietly; part of a
  head: answered 408);
* a declared body must keep arriving: ``body_timeout_s`` without a byte of it and
  the request is answered 408 (or, once its answer has begun, the connection is
  simply closed);
* and it must arrive whole within ``body_total_s`` of its head, however steadily
  it trickles (one byte every 29 s would otherwise hold the socket for ever);
  a body declared larger than ``upload_above_bytes`` (only a CSV import or a file
  may be that large) gets ``upload_total_s`` instead. Time the server spends not
  reading (uvicorn's flow control: the application has not taken what came) is
  not the client's: the deadlines wait meanwhile;
* an address may hold ``max_per_address`` connections at once, websockets included
  (they hold a socket too); more are closed as soon as they open. The addresses of
  trusted proxies are spared: every client behind them shares their address.

The rules are two sans-I/O parts, :class:`ReadDeadlines` and
:class:`AddressCounter`, tested without a socket or an event loop; the edge is
:func:`guarded_protocol`'s class, uvicorn's httptools protocol with one timer per
connection (re-armed when it fires early, as the provider socket's alarm is). The
idle keep-alive timeout stays uvicorn's own (``timeout_keep_alive``).

After a websocket upgrade none of the read deadlines apply (the websocket protocol
has its own: the provider socket's auth deadline and idle timeout, the pings), but
the connection still counts against its address until it closes.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import ipaddress
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.server import ServerState

from server.settings import IPNetwork

log = logging.getLogger("acionar.http")

REFUSAL_LOG_INTERVAL_S = 60.0
"""At most one warning this often about refused connections (an attack must not
flood the log); it says how many were refused since the last one."""

TIMEOUT_BODY = orjson.dumps(
    {
        "error": {
            "code": "request_timeout",
            "message": "A requisição demorou demais para chegar. Tente de novo.",
        }
    }
)
"""The 408's body, in the API's error shape (server/http.py)."""


class IllegalTransitionError(RuntimeError):
    """A parser event that cannot happen in the connection's phase (a bug)."""


class ReadPhase(enum.Enum):
    """What the server is reading from the client."""

    IDLE = "idle"  # between requests: nothing of the next one yet
    HEAD = "head"  # part of a request head
    BODY = "body"  # the head is complete; its body (if any) is arriving
    UPGRADED = "upgraded"  # a websocket now: its protocol's own timeouts apply


class Expiry(enum.Enum):
    """What to do with a connection whose deadline passed."""

    CLOSE = "close"  # quietly: nothing asked, or an answer already under way
    ANSWER_408 = "answer_408"  # 408 Request Timeout, then close


@dataclass(frozen=True, slots=True)
class GuardLimits:
    """The bounds of :mod:`server.http_guard` (settings ``HTTP_*``).

    Attributes:
        header_timeout_s: the request head must be complete within this long of
            the connection opening or of the previous response.
        body_timeout_s: a declared body may pause this long, no longer.
        body_total_s: a body must be complete within this long of its head.
        upload_total_s: the same for a body declared larger than
            ``upload_above_bytes``.
        upload_above_bytes: the declared size (``Content-Length``) above which a
            body is an upload.
        max_per_address: connections one address may hold at once.
        spared: networks whose addresses are never capped (trusted proxies).
    """

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    body_total_s: float = 120.0
    upload_total_s: float = 1_800.0
    upload_above_bytes: int = 1_048_576
    max_per_address: int = 256
    spared: tuple[IPNetwork, ...] = ()

    def body_budget_s(self, declared_bytes: int | None) -> float:
        """How long a body of ``declared_bytes`` (None: not declared, chunked) may
        take to arrive whole."""
        if declared_bytes is not None and declared_bytes > self.upload_above_bytes:
            return self.upload_total_s
        return self.body_total_s


class ReadDeadlines:
    """When the client's next bytes must have arrived: one connection's read
    deadlines, fed with the HTTP parser's events and the answers' ends.

    Requests may be pipelined, so it counts the requests begun and not yet answered
    (``unanswered``): after an answer, the wait for the next head starts only when
    no other answer is owed; while the application works on a request it has read,
    nothing is expected from the client.

    While the server does not read (:meth:`reading_paused` to
    :meth:`reading_resumed`), nothing is expected from the client, and a body's
    total deadline moves on by as long.

    Every method takes the time as an argument (a monotonic clock, in seconds); an
    event the phase does not allow raises :class:`IllegalTransitionError`.
    """

    __slots__ = ("_body_until", "_limits", "_paused_at", "_since", "phase", "unanswered")

    def __init__(self, limits: GuardLimits, now: float) -> None:
        self._limits = limits
        self.phase = ReadPhase.IDLE
        self.unanswered = 0
        self._since = now  # when the current wait began (or last made progress)
        self._body_until = math.inf  # when the body being read must be complete
        self._paused_at: float | None = None  # the server stopped reading then

    def message_begun(self, now: float) -> None:
        """The first byte of a request head arrived."""
        self._expect(ReadPhase.IDLE)
        self.phase = ReadPhase.HEAD
        self.unanswered += 1
        if self.unanswered > 1:
            self._since = now  # pipelined: its head's time starts now

    def head_complete(self, now: float, declared_bytes: int | None = None) -> None:
        """The request head is complete; its body follows, if it has one
        (``declared_bytes`` long, when the head says)."""
        self._expect(ReadPhase.HEAD)
        self.phase = ReadPhase.BODY
        self._since = now
        self._body_until = now + self._limits.body_budget_s(declared_bytes)

    def body_received(self, now: float) -> None:
        """Some of the body arrived."""
        self._expect(ReadPhase.BODY)
        self._since = now

    def message_complete(self, now: float) -> None:
        """The whole request arrived."""
        self._expect(ReadPhase.BODY)
        self.phase = ReadPhase.IDLE
        self._since = now
        self._body_until = math.inf

    def response_complete(self, now: float) -> None:
        """The answer to the oldest unanswered request went out."""
        if self.phase is ReadPhase.UPGRADED or self.unanswered == 0:
            raise IllegalTransitionError(f"an answer with none owed ({self.phase.value})")
        self.unanswered -= 1
        if self.phase is not ReadPhase.HEAD:
            # IDLE: the wait for the next head starts. BODY: the server stops
            # reading while an earlier answer is owed, so its time starts again.
            self._since = now
        if self.phase is ReadPhase.BODY and self.unanswered == 0:
            # answered before its body ended (a 413, a 401): the rest is read only
            # to be dropped, for one pause at most, whatever size it declared
            self._body_until = min(self._body_until, now + self._limits.body_timeout_s)

    def upgraded(self) -> None:
        """The connection became a websocket: no read deadline any more."""
        self._expect(ReadPhase.IDLE, ReadPhase.HEAD, ReadPhase.BODY)
        self.phase = ReadPhase.UPGRADED

    def reading_paused(self, now: float) -> None:
        """The server stopped reading (flow control, pipelining): the client cannot
        be late until it reads again."""
        if self._paused_at is None:
            self._paused_at = now

    def reading_resumed(self, now: float) -> None:
        """The server reads again: the client's time starts again, and a body's
        total deadline moves on by the time it was not read."""
        if self._paused_at is None:
            return
        self._body_until += now - self._paused_at
        self._paused_at = None
        self._since = now

    def deadline(self) -> float | None:
        """When the client must have sent more; None: nothing is expected."""
        if self._paused_at is not None:
            return None
        if self.phase is ReadPhase.BODY:
            return min(self._since + self._limits.body_timeout_s, self._body_until)
        if self.phase is ReadPhase.HEAD or (self.phase is ReadPhase.IDLE and self.unanswered == 0):
            return self._since + self._limits.header_timeout_s
        return None

    def expiry(self, answering: bool) -> Expiry:
        """What to do now that :meth:`deadline` passed.

        Args:
            answering: whether the application began answering the request whose
                body is being read (what it sent cannot be taken back).
        """
        if self.phase is ReadPhase.IDLE:
            return Expiry.CLOSE  # no request: nothing to answer
        if self.unanswered > 1 or (self.phase is ReadPhase.BODY and answering):
            return Expiry.CLOSE  # an answer is under way: a 408 would cut into it
        self._expect(ReadPhase.HEAD, ReadPhase.BODY)
        return Expiry.ANSWER_408

    def _expect(self, *phases: ReadPhase) -> None:
        if self.phase not in phases:
            raise IllegalTransitionError(f"unexpected in phase {self.phase.value}")


@dataclass(slots=True)
class AddressCounter:
    """Open connections per client address, with a cap.

    Attributes:
        cap: connections one address may hold at once.
        spared: networks never counted (trusted proxies).
        refused: connections refused since the count was last read (for the log).
    """

    cap: int
    spared: tuple[IPNetwork, ...] = ()
    refused: int = 0
    _open: dict[str, int] = field(default_factory=dict)

    def admit(self, address: str | None) -> bool:
        """Count a connection from ``address``; False (not counted) over the cap.
        An address that is not an IP (a Unix socket) and spared ones always pass,
        uncounted: :meth:`counts` says which are counted."""
        if not self.counts(address):
            return True
        assert address is not None
        held = self._open.get(address, 0)
        if held >= self.cap:
            self.refused += 1
            return False
        self._open[address] = held + 1
        return True

    def release(self, address: str) -> None:
        """One connection :meth:`admit` counted has ended."""
        held = self._open[address] - 1
        if held:
            self._open[address] = held
        else:
            del self._open[address]

    def counts(self, address: str | None) -> bool:
        """Whether connections from ``address`` are counted."""
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return not any(ip in network for network in self.spared)

    def held(self, address: str) -> int:
        """Connections ``address`` holds now."""
        return self._open.get(address, 0)


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """A request head's ``Content-Length`` (None without one: no body, or chunked).
    httptools refused the request already if it is not digits."""
    for name, value in headers:
        if name.lower() == b"content-length" and value.isdigit():  # bytes: 0-9 only
            return int(value)
    return None


class _MeteredFlow(FlowControl):
    """uvicorn's flow control, telling the read deadlines when the server stops
    reading and starts again (the callbacks run on the actual changes only)."""

    def __init__(
        self,
        transport: asyncio.Transport,
        paused: Callable[[], None],
        resumed: Callable[[], None],
    ) -> None:
        super().__init__(transport)
        self._paused = paused
        self._resumed = resumed

    def pause_reading(self) -> None:
        if not self.read_paused:
            super().pause_reading()
            self._paused()

    def resume_reading(self) -> None:
        if self.read_paused:
            super().resume_reading()
            self._resumed()


def timeout_response(default_headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The bytes of a 408 Request Timeout that closes the connection."""
    lines = [STATUS_LINE[408]]
    lines += [name + b": " + value + b"\r\n" for name, value in default_headers]
    lines += [
        b"content-type: application/json\r\n",
        b"content-length: " + str(len(TIMEOUT_BODY)).encode() + b"\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"connection: close\r\n",
        b"\r\n",
        TIMEOUT_BODY,
    ]
    return b"".join(lines)


class Guard:
    """What every connection of a server shares: the limits, the count per address,
    and the websocket classes that give an address's slot back."""

    __slots__ = ("_counted", "_last_warning", "addresses", "limits")

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self.addresses = AddressCounter(limits.max_per_address, limits.spared)
        self._last_warning = -math.inf
        self._counted: dict[type[asyncio.Protocol], type[_CountedUpgrade]] = {}

    def refused(self, address: str, now: float) -> None:
        """Log refusals, at most once per :data:`REFUSAL_LOG_INTERVAL_S`."""
        if now - self._last_warning < REFUSAL_LOG_INTERVAL_S:
            return
        self._last_warning = now
        count, self.addresses.refused = self.addresses.refused, 0
        log.warning(
            "refused %d connection(s) over HTTP_MAX_CONNECTIONS_PER_ADDRESS=%d (last from %s;"
            " behind a proxy, list it in TRUSTED_PROXIES)",
            count,
            self.limits.max_per_address,
            address,
        )

    def upgrade(self, base: type[asyncio.Protocol], address: str) -> Callable[..., Any]:
        """What builds the websocket protocol (``base``, the one uvicorn was given)
        of an upgrade from ``address``: it gives the address's slot back when the
        connection ends."""
        counted = self._counted.get(base)
        if counted is None:
            namespace = {"__slots__": ("_guard_release",)}
            counted = type(f"Counted{base.__name__}", (_CountedUpgrade, base), namespace)
            self._counted[base] = counted
        release = functools.partial(self.addresses.release, address)
        return functools.partial(counted, guard_release=release)


class _CountedUpgrade(asyncio.Protocol):
    """Mixin of :meth:`Guard.upgrade`'s classes: built as uvicorn builds its
    websocket protocols, plus the callback that releases the address's slot."""

    __slots__ = ()
    _guard_release: Callable[[], None]

    def __init__(self, *, guard_release: Callable[[], None], **kwargs: Any) -> None:
        self._guard_release = guard_release
        super().__init__(**kwargs)  # the websocket protocol's keywords

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            self._guard_release()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read deadlines and the per-address cap.

    Built per server by :func:`guarded_protocol` (``guard`` is a class attribute,
    as uvicorn builds the class itself for each connection).
    """

    guard: ClassVar[Guard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._reads = ReadDeadlines(self.guard.limits, self.loop.time())
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._address: str | None = None  # counted against the cap while set
        self._refused = False

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        remote = get_remote_addr(transport)
        address = None if remote is None else remote[0]
        if not self.guard.addresses.admit(address):
            assert address is not None
            self._refused = True
            transport.close()  # before a byte is read: the peer sees the end at once
            self.guard.refused(address, self.loop.time())
            return
        if self.guard.addresses.counts(address):
            self._address = address
        super().connection_made(transport)
        self.flow = _MeteredFlow(transport, self._reading_paused, self._reading_resumed)
        self._reads = ReadDeadlines(self.guard.limits, self.loop.time())
        self._schedule()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._refused:
            return  # uvicorn never saw it
        super().connection_lost(exc)
        self._release()

    # -- the parser's events (httptools calls them during data_received) -------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reads.message_begun(self.loop.time())
        self._schedule()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._reads.head_complete(self.loop.time(), declared_length(self.headers))
        self._schedule()

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._reads.body_received(self.loop.time())  # later: the timer re-arms itself

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reads.message_complete(self.loop.time())

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._reads.response_complete(self.loop.time())
        self._schedule()

    def handle_websocket_upgrade(self) -> None:
        self._reads.upgraded()
        self._cancel_timer()
        base = self.ws_protocol_class
        if self._address is not None and base is not None:
            # The websocket protocol becomes the transport's: it gives the slot back.
            # uvicorn only calls it with the protocol's keywords.
            build = self.guard.upgrade(base, self._address)
            self.ws_protocol_class = build  # type: ignore[assignment]
            self._address = None
        super().handle_websocket_upgrade()

    # -- the timer ------------------------------------------------------------------------

    def _schedule(self) -> None:
        """Make the timer fire by the current deadline (it may fire early: a later
        deadline only re-arms it then)."""
        at = self._reads.deadline()
        if at is None or at >= self._timer_at:
            return
        self._cancel_timer()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self.transport.is_closing():
            return
        now = self.loop.time()
        at = self._reads.deadline()
        if at is None:
            return
        if now < at:
            self._schedule()
            return
        answering = self.cycle is not None and self.cycle.response_started
        self._expire(self._reads.expiry(answering))

    def _expire(self, expiry: Expiry) -> None:
        log.debug("%s: %s after a read timeout (%s)", self.client, expiry.value, self._reads.phase)
        if expiry is Expiry.ANSWER_408:
            if self.cycle is not None and not self.cycle.response_complete:
                # The application's receive() now ends and its send() does nothing.
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.write(timeout_response(self.server_state.default_headers))
        self.transport.close()

    def _reading_paused(self) -> None:
        self._reads.reading_paused(self.loop.time())

    def _reading_resumed(self) -> None:
        self._reads.reading_resumed(self.loop.time())
        self._schedule()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf

    def _release(self) -> None:
        if self._address is not None:
            self.guard.addresses.release(self._address)
            self._address = None


def guarded_protocol(limits: GuardLimits) -> type[asyncio.Protocol]:
    """The HTTP protocol class to give uvicorn (``http=``), with a :class:`Guard` of
    its own (one per server: the count of connections per address is the
    process's)."""
    namespace = {"guard": Guard(limits)}
    return type("GuardedHttpProtocol", (GuardedHttpToolsProtocol,), namespace)
