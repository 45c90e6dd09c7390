"""Ingest: 5,000 simulated provider apps streaming positions into a real server.

Targets (the issue's): sustained accepted positions per second at least 50 % of what
a bare ``websockets`` server that only receives and parses the same frames reaches
in the same run; at 2,000 positions/s, p99 from frame sent to position visible in
Redis under 100 ms.

The benchmark owns the database ``acionar_bench_ingest`` (created, migrated, loaded
with 5,000 providers and their device tokens, dropped at the end) and the Redis
prefix ``acionar-bench-ingest:``. Servers and the load generator are separate
processes: the real server (``python -m server.cli serve``), the bare server
(:mod:`clients.provider_app_sim.null_server`: one ``welcome`` per connection, then
only ``orjson.loads`` and a count per frame, never a reply) and the generator (the
simulator's command line; in the throughput rounds its callback engine,
:data:`ENGINE`). On a small machine they share its cores with Redis: the figures
say how many there were, how they were shared, and how much CPU each process took.

1. **Throughput.** :data:`ROUNDS` alternating rounds, each the real server then the
   bare one, with apps offering permessage-deflate (as OkHttp does; both servers
   decline it: docs/protocol.md, "Frames"). On two cores or more, the generator is
   pinned to the first core and the server under test to the others, so that the
   two never take each other's CPU and every round gives each the same share; Redis,
   a service of the machine, is left unpinned. 5,000 apps connect (64 handshakes at
   a time). Against the real server each app sends a fresh one-fix ``pos`` as soon
   as the previous one is acknowledged (stop-and-wait, as the protocol asks), so
   5,000 messages always wait at the server; accepted positions per second are
   counted from the ``ack`` messages over :data:`WINDOW_S` after :data:`WARMUP_S`.
   The bare server gets the same generator and frames, sent without waiting (it
   never replies); its own count of parsed frames over the same window is the
   baseline. Figures are the medians of the rounds, with the lowest and highest
   round's ratio beside them. When the generator uses a whole core and the server
   does not, the rate is the generator's, not the server's (a baseline is then a
   lower bound of the bare server's capacity, and the figure says so). Each rate is
   also divided by its server's CPU over the window (per CPU-second): steady
   whoever holds the cores, though a server that is not saturated spends more per
   frame (fewer frames per wake-up of its event loop).
2. **Latency** (the task-based generator, paced). A server with
   ``POSITION_PUBLISH_INTERVAL_S=0`` publishes a ``provider.positions`` bus event
   right after each Redis write; the benchmark subscribes to the bus, the
   generator sends 2,000 positions/s in total and logs
   each frame's (provider, device time, wall time) just after sending it; the
   latency of a position is its event's arrival minus its send time (an upper bound
   of "visible in Redis": the event follows the write).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis
from sqlalchemy.engine import make_url

from bench.report import RATE_UNIT, Figure, format_quantity
from clients.provider_app_sim.processes import (
    Child,
    child,
    cpu_s,
    free_port,
    raise_open_file_limit,
)
from registry.cells import point_cell
from registry.db import to_async_url
from registry.devices import token_digest
from registry.validation import make_cnpj
from server.migrate import upgrade
from server.settings import PROJECT_ROOT, Settings

NOTES = """\
How to read these figures (details in `bench/bench_ingest.py`). Each round runs the
real server, then the bare one, each started afresh and loaded by the same generator
(apps as socket callbacks, `--engine callbacks`) with the same 5,000 apps and frames;
rows marked *median* are the medians of the rounds. On 2 cores the generator (and the
benchmark's own process) run on core 0 and the server under test on core 1; Redis,
not pinned, took a few % of a core.

* **accepted positions/s**: `ack`s counted by the generator, each app stop-and-wait
  (one `pos` of one fix in flight, so 5,000 always wait at the server). Each of them
  was parsed, filtered, acknowledged, written to Redis and published on the live
  channel, and applied to the server's own live mirror. **bare**: frames per second
  counted by `clients/provider_app_sim/null_server.py`, a `websockets` server that
  only `orjson.loads` each frame and counts it (no reply, nothing stored), the
  generator sending the same frames without waiting for replies. A rate is the
  server's when its server uses a whole core (about 1.0 in the CPU rows); when only
  the generator does, it is the generator's (then the bare figure is a lower bound
  of what the bare server can do, and its name says so); when both do, the bare
  server may have had a little more to give.
* **per server CPU-second**: each rate divided by its server's CPU time over the same
  window: what each server does with a core, whoever else wants the CPU.
"""
"""Rendered under this section's stamp in docs/benchmarks.md (bench.report)."""

DATABASE = "acionar_bench_ingest"
REDIS_PREFIX = "acionar-bench-ingest:"
QUICK = os.environ.get("QUICK") == "1"
PROVIDERS = 500 if QUICK else 5_000
TOKEN_PREFIX = "dt_bench-"
CENTRE = (-23.55, -46.63)

WARMUP_S = 2.0 if QUICK else 5.0
"""Load before counting starts (every app is connected by then)."""

WINDOW_S = 4.0 if QUICK else 20.0
"""Seconds over which accepted positions (or parsed frames) are counted."""

LATENCY_RATE = 2_000.0
"""Total positions per second of the latency measurement."""

LATENCY_WINDOW_S = 5.0 if QUICK else 30.0
"""Seconds of sends whose latency is measured (after :data:`WARMUP_S`)."""

CONNECT_TIMEOUT_S = 300.0
"""Longest wait for every app to be connected."""

READY_TIMEOUT_S = 30.0
"""Longest wait for a server process to accept connections."""

STATS_EVERY_S = 1.0
"""How often the generator prints its counters."""

CONNECT_CONCURRENCY = 64
"""Handshakes in progress at once (the generator's gate)."""

GENERATOR_BOUND_CORES = 0.95
"""A generator using this much CPU is the bottleneck of its run."""

ENGINE = ("--engine", "callbacks")
"""The generator's engine in the throughput rounds, against both servers: apps as
socket callbacks (:mod:`clients.provider_app_sim.callbacks`). The task-based apps
spent about 70 µs of CPU per acknowledged position, so on a core of their own they,
not the server, set both rates (at about 14 k/s and 32 k/s)."""

ROUNDS = 1 if QUICK else 3
"""Alternating rounds (real server, then bare server); figures are their medians."""

TARGET_RATIO = 0.5
MIN_CPU = 0.01
"""Floor of a measured CPU share, in cores, when dividing by it."""
TARGET_P99_MS = 100.0

SERVER_ENV = {
    "LOG_LEVEL": "WARNING",
    # Generous bounds: the benchmark measures the server, not its rate limiter.
    "WS_RATE_LIMIT_PER_S": "1000",
    "WS_RATE_LIMIT_BURST": "1000",
    "WS_AUTH_DEADLINE_S": "30",
    "WS_IDLE_TIMEOUT_S": "900",
    # every simulated app connects from 127.0.0.1: lift the per-address cap
    "HTTP_MAX_CONNECTIONS_PER_ADDRESS": "100000",
}


# --- database and tokens (shared with bench_memory) -------------------------------


def bench_tokens(count: int) -> list[str]:
    """Deterministic device tokens of the benchmark's providers."""
    return [f"{TOKEN_PREFIX}{i:06d}" for i in range(count)]


def _dsn(settings: Settings, database: str) -> str:
    url = make_url(to_async_url(settings.effective_database_url))
    return url.set(drivername="postgresql", database=database).render_as_string(False)


def database_url(settings: Settings, database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the settings' PostgreSQL server."""
    url = make_url(to_async_url(settings.effective_database_url)).set(database=database)
    return url.render_as_string(hide_password=False)


async def _admin(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(_dsn(settings, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(settings: Settings, database: str, providers: int) -> list[str]:
    """Create ``database`` afresh, migrate it, add ``providers`` providers with one
    device token each; returns the tokens (token *i* belongs to provider *i*)."""
    await drop_database(settings, database)
    await _admin(settings, f'CREATE DATABASE "{database}"')
    await asyncio.to_thread(upgrade, database_url(settings, database))
    tokens = bench_tokens(providers)
    documents = [make_cnpj(1_000_000 + i) for i in range(providers)]
    conn = await asyncpg.connect(_dsn(settings, database))
    try:
        rows = await conn.fetch(
            """
            INSERT INTO providers (person_kind, document, name, base_location, base_h3)
            SELECT 'pj', d, 'Guincho Bench ' || n, ST_GeogFromText($3), $4
            FROM unnest($1::text[], $2::int[]) AS t(d, n)
            RETURNING id, document
            """,
            documents,
            list(range(providers)),
            f"SRID=4326;POINT({CENTRE[1]} {CENTRE[0]})",
            point_cell(*CENTRE),
        )
        ids = {row["document"]: row["id"] for row in rows}
        await conn.execute(
            """
            INSERT INTO device_tokens (provider_id, name, token_hash)
            SELECT p, 'bench', h FROM unnest($1::int[], $2::text[]) AS t(p, h)
            """,
            [ids[d] for d in documents],
            [token_digest(token) for token in tokens],
        )
    finally:
        await conn.close()
    return tokens


async def drop_database(settings: Settings, database: str) -> None:
    """Drop the benchmark's database (if it exists)."""
    await _admin(settings, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def clear_redis(settings: Settings, prefix: str) -> None:
    """Delete every key under the benchmark's own prefix (never anything else)."""
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await client.unlink(*keys[start : start + 1000])
    finally:
        await client.aclose()


def write_tokens(tokens: Sequence[str], path: Path) -> Path:
    """A tokens file for the simulator, one token per line."""
    path.write_text("".join(f"{token}\n" for token in tokens), encoding="ascii")
    return path


# --- processes (shared with bench_memory) ----------------------------------------


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


@contextlib.asynccontextmanager
async def acionar_server(
    settings: Settings,
    db_url: str,
    prefix: str,
    logs: Path,
    *,
    cpus: Set[int] | None = None,
    **env: str,
) -> AsyncIterator[tuple[Child, int]]:
    """The real server on a free port, ready (on ``cpus``, if given); yields it and
    its port."""
    port = free_port()
    full_env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": settings.effective_redis_url,
        "REDIS_PREFIX": prefix,
        **SERVER_ENV,
        **env,
    }
    args = ["-m", "server.cli", "serve", "--port", str(port)]
    name = f"server-{port}"
    async with child(name, args, logs, cwd=PROJECT_ROOT, env=full_env, cpus=cpus) as server:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not await asyncio.to_thread(_ready, port):
            server.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready")
            await asyncio.sleep(0.2)
        yield server, port


@contextlib.asynccontextmanager
async def bare_server(
    logs: Path, *, cpus: Set[int] | None = None
) -> AsyncIterator[tuple[Child, int]]:
    """The bare websockets server (the simulator's null server), listening (on
    ``cpus``, if given)."""
    port = free_port()
    args = ["-m", "clients.provider_app_sim.null_server", str(port)]
    async with child(f"bare-{port}", args, logs, cwd=PROJECT_ROOT, cpus=cpus) as server:
        await server.wait_line(lambda line: "frames" in line, READY_TIMEOUT_S, "never ready")
        yield server, port


def generator(
    port: int,
    tokens_file: Path,
    logs: Path,
    name: str,
    *options: str,
    cpus: Set[int] | None = None,
) -> contextlib.AbstractAsyncContextManager[Child]:
    """The simulator's command line against ``port``, printing JSON stats (on
    ``cpus``, if given)."""
    args = [
        *("-m", "clients.provider_app_sim", "--url", f"ws://127.0.0.1:{port}/ws/provider"),
        *("--tokens", str(tokens_file), "--centre", f"{CENTRE[0]},{CENTRE[1]}"),
        *("--json", "--stats-every", str(STATS_EVERY_S)),
        *("--connect-concurrency", str(CONNECT_CONCURRENCY), *options),
    ]
    return child(name, args, logs, cwd=PROJECT_ROOT, cpus=cpus)


async def all_connected(gen: Child, count: int) -> float:
    """Wait until the generator has ``count`` apps connected; returns the seconds."""
    started = time.monotonic()
    await gen.wait_line(
        lambda line: line.get("connected", 0) >= count, CONNECT_TIMEOUT_S, "apps never connected"
    )
    return time.monotonic() - started


# --- measurements ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """Counters over a measurement window.

    Attributes:
        rate: increase of the counted value per second.
        server_cpu, generator_cpu: CPU used over the window, in cores (1 = one).
        last: the counting process's last line of the window.
    """

    rate: float
    server_cpu: float
    generator_cpu: float
    last: dict[str, Any]

    @property
    def generator_bound(self) -> bool:
        """Whether the generator, not the server, limited the rate."""
        return self.generator_cpu >= GENERATOR_BOUND_CORES > self.server_cpu

    @property
    def both_saturated(self) -> bool:
        """Whether the generator and the server each used a whole core."""
        return min(self.generator_cpu, self.server_cpu) >= GENERATOR_BOUND_CORES


async def measure(counter: Child, key: str, server: Child, gen: Child) -> Window:
    """After :data:`WARMUP_S`, the rate of ``counter``'s ``key`` over :data:`WINDOW_S`."""
    await asyncio.sleep(WARMUP_S)
    first = await counter.latest()
    cpu0, wall0 = (cpu_s(server.pid), cpu_s(gen.pid)), time.monotonic()
    await asyncio.sleep(WINDOW_S)
    last = await counter.latest()
    wall = time.monotonic() - wall0
    server_cpu = (cpu_s(server.pid) - cpu0[0]) / wall
    gen_cpu = (cpu_s(gen.pid) - cpu0[1]) / wall
    rate = (last[key] - first[key]) / (last["elapsed_s"] - first["elapsed_s"])
    return Window(rate, server_cpu, gen_cpu, last)


@dataclass(frozen=True, slots=True)
class Cores:
    """Which cores each process of a phase may use.

    With two cores or more, the generator (and this process, which only reads its
    counters) get core 0 and the server under test the others, so that neither
    takes the other's CPU and each round gives the same shares; Redis, a service of
    the machine, is not pinned and runs wherever the scheduler puts it. On one core
    nothing is pinned.
    """

    generator: Set[int] | None
    server: Set[int] | None

    @classmethod
    def split(cls) -> Cores:
        available = sorted(os.sched_getaffinity(0))
        if len(available) < 2:
            return cls(None, None)
        return cls({available[0]}, set(available[1:]))

    def describe(self) -> str:
        if self.server is None:
            return "nothing pinned"
        return (
            f"generator on core {_cores(self.generator)}, "
            f"server on core {_cores(self.server)}, Redis unpinned"
        )


def _cores(cpus: Set[int] | None) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus or ()))


@dataclass(frozen=True, slots=True)
class Round:
    """One round: the real server's window, then the bare server's."""

    server: Window
    bare: Window

    @property
    def ratio(self) -> float:
        """Accepted positions/s over the bare server's parsed frames/s."""
        return self.server.rate / max(self.bare.rate, 1.0)


async def _throughput(
    settings: Settings, db_url: str, tokens: Path, logs: Path, cores: Cores
) -> tuple[Window, float]:
    """The real server's accepted positions/s; returns it and the connect time."""
    options = ["--load", "--window", "1", *ENGINE]
    async with (
        acionar_server(settings, db_url, REDIS_PREFIX, logs, cpus=cores.server) as (server, port),
        generator(port, tokens, logs, "generator-acionar", *options, cpus=cores.generator) as gen,
    ):
        connect_s = await all_connected(gen, PROVIDERS)
        print(f"[bench] ingest: {PROVIDERS} apps connected in {connect_s:.1f} s", flush=True)
        window = await measure(gen, "accepted", server, gen)
    _show("server", window)
    return window, connect_s


async def _bare(tokens: Path, logs: Path, cores: Cores) -> Window:
    """The bare server's parsed frames/s with the same generator."""
    options = ["--load", "--window", "0", *ENGINE]
    async with (
        bare_server(logs, cpus=cores.server) as (server, port),
        generator(port, tokens, logs, "generator-bare", *options, cpus=cores.generator) as gen,
    ):
        await all_connected(gen, PROVIDERS)
        window = await measure(server, "frames", server, gen)
    _show("bare server", window)
    return window


async def _rounds(
    settings: Settings, db_url: str, tokens: Path, logs: Path, cores: Cores
) -> tuple[list[Round], float]:
    """:data:`ROUNDS` rounds, each the real server then the bare one; returns them
    and the real server's median connect time."""
    rounds: list[Round] = []
    connects: list[float] = []
    for number in range(1, ROUNDS + 1):
        await clear_redis(settings, REDIS_PREFIX)
        server, connect_s = await _throughput(settings, db_url, tokens, logs, cores)
        bare = await _bare(tokens, logs, cores)
        rounds.append(Round(server, bare))
        connects.append(connect_s)
        print(f"[bench] ingest: round {number}: ratio {rounds[-1].ratio:.2f}", flush=True)
    return rounds, statistics.median(connects)


def _show(what: str, window: Window) -> None:
    print(
        f"[bench] ingest: {what}: {window.rate:.0f}/s; CPU: server {window.server_cpu:.2f}, "
        f"generator {window.generator_cpu:.2f} cores",
        flush=True,
    )


def _key(provider_id: int, time_ms: int) -> int:
    """One int for (provider, device time): a dict of ints and floats is not tracked
    by the garbage collector, whose pauses would add to the measured latency."""
    return provider_id << 44 | time_ms


async def _subscribe(settings: Settings, received: dict[int, float]) -> None:
    """Record when each (provider, device time) appears on the bus, until cancelled."""
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    try:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(REDIS_PREFIX + settings.bus_channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                now = time.time()
                event = orjson.loads(message["data"])
                if event.get("type") == "provider.positions":
                    for position in event["positions"]:
                        received.setdefault(_key(position["provider_id"], position["t"]), now)
    finally:
        await client.aclose()


@dataclass
class Latency:
    """The latency phase's results."""

    ms: list[float] = field(default_factory=list)
    sent: int = 0
    rate: float = 0.0
    ack_p99_ms: float | None = None


async def _latency(
    settings: Settings, db_url: str, tokens: Path, logs: Path, cores: Cores
) -> Latency:
    received: dict[int, float] = {}
    send_log = logs / "sends.txt"
    rate = ["--rate", str(LATENCY_RATE), "--window", "1", "--send-log", str(send_log)]
    publish_at_once = {"POSITION_PUBLISH_INTERVAL_S": "0"}
    result = Latency()
    subscriber = asyncio.create_task(_subscribe(settings, received), name="bench-bus")
    try:
        async with (
            acionar_server(
                settings, db_url, REDIS_PREFIX, logs, cpus=cores.server, **publish_at_once
            ) as (_, port),
            generator(port, tokens, logs, "generator-latency", *rate, cpus=cores.generator) as gen,
        ):
            await all_connected(gen, PROVIDERS)
            await asyncio.sleep(WARMUP_S)
            start, first = time.time(), await gen.latest()
            await asyncio.sleep(LATENCY_WINDOW_S)
            last, end = await gen.latest(), time.time()
        span = last["elapsed_s"] - first["elapsed_s"]
        result.rate = (last["accepted"] - first["accepted"]) / span
        result.ack_p99_ms = last.get("rtt_p99_ms")
    finally:
        subscriber.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await subscriber
    for line in send_log.read_text().splitlines():
        pid, t, wall = line.split()
        sent = float(wall)
        if start <= sent < end:
            result.sent += 1
            seen = received.get(_key(int(pid), int(t)))
            if seen is not None:
                result.ms.append((seen - sent) * 1000)
    return result


# --- figures -----------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _per_cpu(window: Window) -> float:
    return window.rate / max(window.server_cpu, MIN_CPU)


def _median_window(windows: Sequence[Window], value: Callable[[Window], float]) -> float:
    return _median([value(window) for window in windows])


def _throughput_figures(rounds: list[Round], connect_s: float, cores: Cores) -> list[Figure]:
    """Medians over the rounds; each round's ratio is the range."""
    servers, bares = [r.server for r in rounds], [r.bare for r in rounds]
    target = f"≥ {TARGET_RATIO:.0%} of bare"
    bare_name = "bare websockets server, same generator and frames, parsed frames/s"
    if any(window.generator_bound for window in bares):
        bare_name += " (generator-bound in some rounds: a lower bound)"
    elif any(window.both_saturated for window in bares):
        bare_name += " (its generator at a full core too: perhaps a lower bound)"
    ratios = sorted(r.ratio for r in rounds)
    cpu_ratios = sorted(_per_cpu(r.server) / max(_per_cpu(r.bare), 1.0) for r in rounds)
    cpus = os.cpu_count() or 1
    return [
        Figure(
            f"accepted positions/s, {PROVIDERS:,} apps stop-and-wait offering deflate, "
            f"median of {len(rounds)} alternating rounds ({cpus} cores: {cores.describe()})",
            _median_window(servers, lambda w: w.rate),
            RATE_UNIT,
            target,
            bare_name,
            _median_window(bares, lambda w: w.rate),
        ),
        Figure("extra: lowest round's ratio of rates", ratios[0], "×"),
        Figure("extra: highest round's ratio of rates", ratios[-1], "×"),
        Figure(
            "extra: accepted positions per server CPU-second, median",
            _median_window(servers, _per_cpu),
            RATE_UNIT,
            target,
            "bare server, parsed frames per CPU-second",
            _median_window(bares, _per_cpu),
        ),
        Figure("extra: lowest round's ratio per CPU-second", cpu_ratios[0], "×"),
        Figure("extra: highest round's ratio per CPU-second", cpu_ratios[-1], "×"),
        Figure(
            "extra: server CPU while saturated (1 = one core), median",
            _median_window(servers, lambda w: w.server_cpu),
            "cores",
            "",
            "bare server CPU",
            _median_window(bares, lambda w: w.server_cpu),
        ),
        Figure(
            "extra: generator CPU while the server is saturated, median",
            _median_window(servers, lambda w: w.generator_cpu),
            "cores",
            "",
            "generator CPU against the bare server",
            _median_window(bares, lambda w: w.generator_cpu),
        ),
        Figure(
            "extra: send → ack p99 while saturated (5,000 messages waiting), median",
            _median_window(servers, lambda w: float(w.last.get("rtt_p99_ms") or 0.0)) / 1000,
            "s",
        ),
        Figure(f"extra: connect and authenticate {PROVIDERS:,} apps, median", connect_s, "s"),
    ]


def _latency_figures(latency: Latency) -> list[Figure]:
    if not latency.ms:
        return []
    rate = f"{LATENCY_RATE / 1000:.0f}k positions/s"
    return [
        Figure(
            f"sent → visible in Redis p99 at {rate}",
            _percentile(latency.ms, 0.99),
            "ms",
            f"< {TARGET_P99_MS:.0f} ms",
            "send → ack p99, same run" if latency.ack_p99_ms is not None else "",
            latency.ack_p99_ms,
        ),
        Figure(
            f"extra: sent → visible in Redis p50 at {rate}", statistics.median(latency.ms), "ms"
        ),
        Figure(f"extra: sent → visible in Redis max at {rate}", max(latency.ms), "ms"),
        Figure(f"extra: accepted at the {rate} target", latency.rate, RATE_UNIT),
        Figure(
            "extra: sent positions seen on the bus",
            100 * len(latency.ms) / max(latency.sent, 1),
            "%",
        ),
    ]


async def run(settings: Settings) -> list[Figure]:
    """:data:`ROUNDS` alternating rounds against the real and the bare server; then
    latency at 2,000 positions/s."""
    raise_open_file_limit()
    cores = Cores.split()
    if cores.generator is not None:
        os.sched_setaffinity(0, cores.generator)  # this process only reads counters
    with tempfile.TemporaryDirectory(prefix="acionar-bench-ingest-") as tmp:
        logs = Path(tmp)
        tokens = write_tokens(
            await create_database(settings, DATABASE, PROVIDERS), logs / "tokens.txt"
        )
        db_url = database_url(settings, DATABASE)
        try:
            rounds, connect_s = await _rounds(settings, db_url, tokens, logs, cores)
            await clear_redis(settings, REDIS_PREFIX)
            latency = await _latency(settings, db_url, tokens, logs, cores)
        finally:
            await clear_redis(settings, REDIS_PREFIX)
            await drop_database(settings, DATABASE)
    figures = [*_throughput_figures(rounds, connect_s, cores), *_latency_figures(latency)]
    for figure in figures:
        print(f"[bench] ingest: {figure.name}: {format_quantity(figure.value, figure.unit)}")
    return figures
