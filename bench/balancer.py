"""A small TCP balancer: several server nodes behind one address, for tests and
benchmarks (production uses HAProxy or nginx: deploy/).

It forwards bytes, nothing more (layer 4): a websocket or an HTTP connection stays
on the node it was given for its whole life, as behind HAProxy in ``mode tcp`` or
nginx's ``stream``. Each new client connection goes to the next node in
round-robin order, or to the node holding the fewest of the balancer's connections
(:class:`Policy`); a node that refuses a connection (or does not answer within
:attr:`Limits.connect_timeout_s`) is marked down for :attr:`Limits.retry_after_s`
and the next one is tried, so that a node that went away is skipped; connections it
held close with it, and their clients reconnect to the others.

The choice is a pure function (:func:`candidates`) tested without sockets; the
forwarding is two :class:`asyncio.Protocol` halves joined back to back, with flow
control (a side whose peer's write buffer passes :attr:`Limits.write_high` stops
reading until it drains), so memory per connection is bounded. Every bound is in
:class:`Limits`.

As a process (benchmarks)::

    python -m bench.balancer --port 8000 --backend 127.0.0.1:8001 \\
        --backend 127.0.0.1:8002 [--policy least-connections] [--stats-every 1]

prints one JSON line of counters per ``--stats-every`` seconds (the first as soon
as it listens) until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson


class Policy(enum.Enum):
    """How a node is chosen for a new connection."""

    ROUND_ROBIN = "round-robin"
    LEAST_CONNECTIONS = "least-connections"


@dataclass(frozen=True, slots=True)
class Limits:
    """The balancer's bounds."""

    max_connections: int = 50_000
    """Client connections held at once; one more is closed at once."""
    connect_timeout_s: float = 2.0
    """Longest wait for a node to accept a connection before trying the next."""
    retry_after_s: float = 2.0
    """How long a node that refused (or timed out) is skipped."""
    write_high: int = 64 * 1024
    """Bytes waiting to be written to one side before its peer stops reading."""
    backlog: int = 1024
    """The listening socket's backlog (thousands of apps connect at once)."""


DEFAULT_LIMITS = Limits()


@dataclass(slots=True)
class Backend:
    """A node behind the balancer and what the balancer knows of it."""

    host: str
    port: int
    active: int = 0
    """Connections forwarded to it now."""
    forwarded: int = 0
    """Connections forwarded to it since the start."""
    failures: int = 0
    """Connection attempts it refused or let time out."""
    down_until: float = 0.0
    """Monotonic time until which it is skipped."""

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    def up(self, now: float) -> bool:
        return now >= self.down_until


def candidates(backends: Sequence[Backend], policy: Policy, turn: int, now: float) -> list[int]:
    """The indexes of ``backends`` in the order a new connection tries them.

    Nodes that are up come first (round robin: from ``turn`` on, wrapping; least
    connections: fewest active first, ties in round-robin order), then the nodes
    marked down, soonest back first: when every node looks down, one may have come
    back early, and a client is better served by a try than by a refusal.
    """
    count = len(backends)
    ring = [(turn + offset) % count for offset in range(count)]
    up = [i for i in ring if backends[i].up(now)]
    down = sorted(
        (i for i in ring if not backends[i].up(now)), key=lambda i: backends[i].down_until
    )
    if policy is Policy.LEAST_CONNECTIONS:
        up.sort(key=lambda i: backends[i].active)  # stable: ties keep the ring's order
    return up + down


class _Half(asyncio.Protocol):
    """One side of a forwarded connection; its peer is the other side."""

    def __init__(self, limits: Limits, on_made: Callable[[_Half], None] | None = None) -> None:
        self.limits = limits
        self.on_made = on_made
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=self.limits.write_high)
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        return False  # close this side; connection_lost closes the peer

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()  # after what is buffered for it is written
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


@dataclass
class Counters:
    """What the balancer did since it started."""

    accepted: int = 0
    rejected_full: int = 0
    """Clients closed at once: :attr:`Limits.max_connections` were held."""
    no_backend: int = 0
    """Clients closed because no node accepted their connection."""


@dataclass
class Balancer:
    """Listens on ``host:port`` (0: a free port, read :attr:`port` after start) and
    forwards each connection to one of ``backends``.

    Use ``async with balancer.running():``; stopping closes the listening socket and
    every forwarded connection, and awaits the connection tasks it owns.
    """

    backends: list[Backend]
    policy: Policy = Policy.ROUND_ROBIN
    limits: Limits = DEFAULT_LIMITS
    host: str = "127.0.0.1"
    port: int = 0
    counters: Counters = field(default_factory=Counters)
    _turn: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _clients: set[_Half] = field(default_factory=set)

    @classmethod
    def to(cls, addresses: Sequence[tuple[str, int]], **options: Any) -> Balancer:
        """A balancer in front of ``(host, port)`` nodes."""
        return cls([Backend(host, port) for host, port in addresses], **options)

    @property
    def connections(self) -> int:
        """Client connections held now."""
        return len(self._clients)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Balancer]:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._accept, self.host, self.port, backlog=self.limits.backlog
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        try:
            yield self
        finally:
            await self._stop()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            if client.transport is not None:
                client.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _accept(self) -> _Half:
        return _Half(self.limits, on_made=self._admit)

    def _admit(self, client: _Half) -> None:
        """A client connected: refuse it when full, or start joining it to a node
        (it reads nothing until then)."""
        assert client.transport is not None
        if len(self._clients) >= self.limits.max_connections:
            self.counters.rejected_full += 1
            client.transport.abort()
            return
        self.counters.accepted += 1
        self._clients.add(client)
        client.transport.pause_reading()
        task = asyncio.create_task(self._forward(client), name="balancer-connection")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, client: _Half) -> None:
        """Join ``client`` to a node for its life (the task owns the pair)."""
        transport = client.transport
        assert transport is not None
        try:
            backend, upstream = await self._connect(client)
            if upstream is None or backend is None:
                self.counters.no_backend += 1
                transport.abort()
                return
            client.peer, upstream.peer = upstream, client
            backend.active += 1
            try:
                if not client.closed.done():
                    transport.resume_reading()
                await asyncio.wait({client.closed, upstream.closed})
            finally:
                backend.active -= 1
        finally:
            self._clients.discard(client)
            for half in (client, client.peer):
                if half is not None and half.transport is not None:
                    half.transport.abort()

    async def _connect(self, client: _Half) -> tuple[Backend | None, _Half | None]:
        loop = asyncio.get_running_loop()
        order = candidates(self.backends, self.policy, self._turn, time.monotonic())
        self._turn = (self._turn + 1) % len(self.backends)
        for index in order:
            backend = self.backends[index]
            if client.closed.done():
                return None, None
            try:
                async with asyncio.timeout(self.limits.connect_timeout_s):
                    _, upstream = await loop.create_connection(
                        lambda: _Half(self.limits), backend.host, backend.port
                    )
            except (OSError, TimeoutError):
                backend.failures += 1
                backend.down_until = time.monotonic() + self.limits.retry_after_s
                continue
            backend.forwarded += 1
            return backend, upstream
        return None, None

    def stats(self) -> dict[str, Any]:
        """Counters and, per node, its connections now and since the start."""
        return {
            "connections": self.connections,
            "accepted": self.counters.accepted,
            "rejected_full": self.counters.rejected_full,
            "no_backend": self.counters.no_backend,
            "backends": {
                b.name: {"active": b.active, "forwarded": b.forwarded, "failures": b.failures}
                for b in self.backends
            },
        }


# --- as a process --------------------------------------------------------------------


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {text!r}")
    return host, int(port)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.balancer", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", type=_address, action="append", required=True)
    parser.add_argument(
        "--policy", choices=[p.value for p in Policy], default=Policy.ROUND_ROBIN.value
    )
    parser.add_argument("--stats-every", type=float, default=1.0)
    return parser.parse_args(argv)


async def _serve(options: argparse.Namespace) -> None:
    balancer = Balancer.to(
        options.backend, policy=Policy(options.policy), host=options.host, port=options.port
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = time.monotonic()
    async with balancer.running():
        while not stop.is_set():
            line = {"elapsed_s": round(time.monotonic() - started, 3), **balancer.stats()}
            sys.stdout.buffer.write(orjson.dumps(line) + b"\n")
            sys.stdout.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), options.stats_every)


def main(argv: Sequence[str]) -> int:
    asyncio.run(_serve(_arguments(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
