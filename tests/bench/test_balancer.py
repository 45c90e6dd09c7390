"""The benchmarks' TCP balancer spreads connections over nodes and skips a node
that went away (bench/balancer.py)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable

from bench.balancer import Backend, Balancer, Limits, Policy, candidates
from tests.conftest import unit

# --- the choice, without sockets ------------------------------------------------------


def test_round_robin_starts_at_the_turn_and_wraps() -> None:
    nodes = [Backend("a", 1), Backend("b", 2), Backend("c", 3)]
    assert candidates(nodes, Policy.ROUND_ROBIN, 0, now=10.0) == [0, 1, 2]
    assert candidates(nodes, Policy.ROUND_ROBIN, 2, now=10.0) == [2, 0, 1]


def test_least_connections_prefers_the_emptiest_node_then_the_ring() -> None:
    nodes = [Backend("a", 1, active=5), Backend("b", 2, active=1), Backend("c", 3, active=1)]
    assert candidates(nodes, Policy.LEAST_CONNECTIONS, 0, now=10.0) == [1, 2, 0]
    assert candidates(nodes, Policy.LEAST_CONNECTIONS, 2, now=10.0) == [2, 1, 0]


def test_a_node_marked_down_is_tried_last_until_its_time_is_up() -> None:
    nodes = [Backend("a", 1, down_until=12.0), Backend("b", 2), Backend("c", 3, down_until=11.0)]
    assert candidates(nodes, Policy.ROUND_ROBIN, 0, now=10.0) == [1, 2, 0]
    assert candidates(nodes, Policy.ROUND_ROBIN, 0, now=12.0) == [0, 1, 2]


# --- over real sockets ----------------------------------------------------------------


@contextlib.asynccontextmanager
async def _node(name: bytes) -> AsyncIterator[asyncio.Server]:
    """A node that answers every line with its name and the line; when it stops, it
    drops its clients."""
    clients: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.add(writer)
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                writer.write(name + b" " + line)
                await writer.drain()
        clients.discard(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.close()
        for writer in list(clients):
            writer.transport.abort()
        await server.wait_closed()


def _address(server: asyncio.Server) -> tuple[str, int]:
    return "127.0.0.1", int(server.sockets[0].getsockname()[1])


async def _ask(port: int) -> tuple[bytes, asyncio.StreamWriter]:
    """Connect through the balancer; returns the node's name and the open writer."""
    name, _, writer = await _connect(port)
    return name, writer


async def _connect(port: int) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello\n")
    answer = await asyncio.wait_for(reader.readline(), unit(5))
    name, _, echoed = answer.partition(b" ")
    assert echoed == b"hello\n"
    return name, reader, writer


async def _until(check: Callable[[], bool]) -> None:
    """Poll ``check`` (the balancer notices a closed connection a moment later)."""
    async with asyncio.timeout(unit(5)):
        for _ in itertools.count():
            if check():
                return
            await asyncio.sleep(0.01)


async def _close(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_connections_are_spread_round_robin_over_the_nodes() -> None:
    async with (
        _node(b"A") as a,
        _node(b"B") as b,
        Balancer.to([_address(a), _address(b)]).running() as balancer,
    ):
        answers = [await _ask(balancer.port) for _ in range(6)]
        assert [name for name, _ in answers] == [b"A", b"B"] * 3
        assert [n.active for n in balancer.backends] == [3, 3]
        await _close([writer for _, writer in answers])


async def test_least_connections_fills_the_node_that_lost_its_clients() -> None:
    async with _node(b"A") as a, _node(b"B") as b:
        policy = Policy.LEAST_CONNECTIONS
        async with Balancer.to([_address(a), _address(b)], policy=policy).running() as balancer:
            first = [await _ask(balancer.port) for _ in range(4)]
            on_a = [writer for name, writer in first if name == b"A"]
            await _close(on_a)
            await _until(lambda: balancer.backends[0].active == 0)
            more = [await _ask(balancer.port) for _ in range(2)]
            assert [name for name, _ in more] == [b"A", b"A"]
            await _close([w for name, w in first if name == b"B"] + [w for _, w in more])


async def test_a_node_that_went_away_is_skipped() -> None:
    async with _node(b"A") as a:
        async with _node(b"B") as b:
            address_b = _address(b)
        # B is gone: its port refuses connections
        async with Balancer.to([address_b, _address(a)]).running() as balancer:
            answers = [await _ask(balancer.port) for _ in range(4)]
            assert [name for name, _ in answers] == [b"A"] * 4
            gone = balancer.backends[0]
            assert gone.failures == 1  # tried once, then skipped while marked down
            assert balancer.stats()["no_backend"] == 0
            await _close([writer for _, writer in answers])


async def test_clients_of_a_node_that_dies_are_closed_and_reconnect_to_the_others() -> None:
    async with _node(b"A") as a, contextlib.AsyncExitStack() as stack:
        b = await stack.enter_async_context(_node(b"B"))
        async with Balancer.to([_address(b), _address(a)]).running() as balancer:
            name, from_b, on_b = await _connect(balancer.port)
            assert name == b"B"
            await stack.aclose()  # B stops
            assert await asyncio.wait_for(from_b.read(), unit(5)) == b""
            await _until(lambda: balancer.backends[0].active == 0)
            again = [await _ask(balancer.port) for _ in range(3)]
            assert [name for name, _ in again] == [b"A"] * 3
            await _close([on_b] + [writer for _, writer in again])


async def test_no_node_left_closes_the_client() -> None:
    async with _node(b"A") as a:
        address = _address(a)
    async with Balancer.to([address]).running() as balancer:
        reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
        assert await asyncio.wait_for(reader.read(), unit(5)) == b""
        assert balancer.stats()["no_backend"] == 1
        await _close([writer])


async def test_connections_beyond_the_bound_are_closed_at_once() -> None:
    async with _node(b"A") as a:
        limits = Limits(max_connections=2)
        async with Balancer.to([_address(a)], limits=limits).running() as balancer:
            held = [await _ask(balancer.port) for _ in range(2)]
            reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
            assert await asyncio.wait_for(reader.read(), unit(5)) == b""
            assert balancer.stats()["rejected_full"] == 1
            await _close([writer] + [w for _, w in held])


async def test_a_large_stream_arrives_whole_and_in_order_through_flow_control() -> None:
    lines = [b"%06d " % i + b"x" * 1000 + b"\n" for i in range(1000)]  # 1 MB
    async with _node(b"A") as a:
        limits = Limits(write_high=4096)  # far less than the stream: reading pauses
        async with Balancer.to([_address(a)], limits=limits).running() as balancer:
            reader, writer = await asyncio.open_connection("127.0.0.1", balancer.port)
            writer.write(b"".join(lines))
            expected = b"".join(b"A " + line for line in lines)
            answer = await asyncio.wait_for(reader.readexactly(len(expected)), unit(10))
            assert answer == expected
            await _close([writer])
