"""Soak: 5,000 provider apps streaming and 50 operators' HTTP sessions, ten minutes.

Targets (the issue's): over the run the server's RSS stays flat (its growth under a
bound: :data:`TARGET_SLOPE_MIB_PER_MIN`, :data:`TARGET_GROWTH`), nothing fails (no
5xx, no transport error, no provider socket closed), and the p99 latencies are
recorded.

The benchmark owns the database ``acionar_bench_soak`` (created and migrated as the
ingest benchmark does, with 5,001 providers and their device tokens, the dispatch
benchmark's world, an Operação role with :data:`OPERATORS` users and
:data:`BENEFICIARIES` beneficiaries; dropped at the end) and the Redis prefix
``acionar-bench-soak:``. One real server process (``python -m server.cli serve``)
serves, for :data:`WARMUP_S` then :data:`SOAK_S` (the steady phase):

* 5,000 simulated apps: the simulator's command line, as in the ingest benchmark,
  each app taking a fix every ``welcome.position_interval_s`` (5 s) and sending it
  stop-and-wait, as a phone does; the simulator counts its acks, error replies,
  reconnections and closed sockets, and samples send → ack round trips;
* :data:`OPERATORS` operators, tasks of this process, each with its own HTTP client
  and session: signs in once, then after each think time (about a second) one of:
  list the open jobs, read a job and its offers, search a beneficiary, the
  candidates of a job, or the next step of its own job (register an incident with
  a job, offer the job by app to one of its first candidates, cancel it); they and
  their world are :mod:`bench.soak_operators`;
* two probes of this process, the baselines, each every :data:`PROBE_EVERY_S`: a
  bare ``GET /healthz``; and, on a provider socket of their own (the 5,001st
  provider), a fix sent and acknowledged, then a websocket ping → pong (the raw
  round trip of that socket, answered by the ``websockets`` protocol layer).

The server's ``VmRSS`` is read every :data:`RSS_EVERY_S`; the figures are the RSS
at the start of the steady phase, its maximum, its end, and the least-squares slope
over the steady phase. Latencies are recorded during the steady phase only;
failures over the whole run. As in the other benchmarks the simulator is pinned to
the first core and the server to the others; PostgreSQL, Redis and this process run
wherever the scheduler puts them.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.bench_dispatch import bench_world, percentile
from bench.bench_ingest import (
    CENTRE,
    Cores,
    acionar_server,
    all_connected,
    clear_redis,
    create_database,
    database_url,
    drop_database,
    generator,
    write_tokens,
)
from bench.report import RATE_UNIT, Figure, format_quantity
from bench.soak_operators import (
    REQUEST_TIMEOUT_S,
    ROUTES,
    Tally,
    World,
    operate,
    pause,
    seed_jobs,
    seed_world,
)
from clients.provider_app_sim.outbox import Fix, PosMessage
from clients.provider_app_sim.processes import Child, cpu_s, raise_open_file_limit, rss_kb
from clients.provider_app_sim.protocol import SUBPROTOCOL
from server.settings import Settings

NOTES = """\
How to read these figures (details in `bench/bench_soak.py`). One server process
serves 5,000 simulated apps (a fix every 5 s each, stop-and-wait) and 50 operators'
HTTP sessions (a request or two about every second each) for the steady phase,
after a warm-up; the simulator runs on core 0, the server on core 1; PostgreSQL,
Redis and the operators' process are not pinned, and on this 2-core machine they
share the cores with whatever else runs (the CPU rows say how busy it was).

* **RSS**: the server's `VmRSS`, sampled every 5 s over the steady phase; the slope
  is a least-squares fit over all samples; the ratio of the end figure is the growth
  over the whole steady phase. The server reloads its whole provider catalogue every
  `CATALOGUE_RELOAD_S` (600 s): once within a 10-minute steady phase (not within
  the 60 s of `QUICK=1`).
* **failures** count over the whole run (warm-up included): operators' requests
  answered 5xx or failed in transport (connection, timeout), provider sockets that
  closed while the apps were running (every close is unexpected: the apps only close
  when the benchmark stops them).
* **latencies** are the operators' (send → full answer, measured in this process
  with httpx), beside a bare `GET /healthz` sent by the same process to the same
  server at the same time; the apps' send → `ack` (the simulator's reservoir of the
  whole run, connections included, measured in the simulator's own busy process)
  beside a websocket ping → pong on a probe's provider socket of the same server;
  the probe's own fix → `ack` on that socket, every 0.5 s, is the like-for-like
  comparison.
"""
"""Rendered under this section's stamp in docs/benchmarks.md (bench.report)."""

DATABASE = "acionar_bench_soak"
PREFIX = "acionar-bench-soak:"
QUICK = os.environ.get("QUICK") == "1"
PROVIDERS = 5_000
OPERATORS = 50
BENEFICIARIES = 20_000
SEED_JOBS = 100
"""Jobs waiting for a provider when the operators start (never cancelled)."""

SOAK_S = 60.0 if QUICK else 600.0
"""The steady phase, after :data:`WARMUP_S`."""

WARMUP_S = 20.0 if QUICK else 60.0
"""Full load before anything is recorded (pools, caches, statements warmed)."""

RSS_EVERY_S = 5.0
PROBE_EVERY_S = 0.5
PROGRESS_EVERY_S = 60.0
STATS_EVERY_S = 5.0
"""The simulator's stats period (each line sorts its 50,000 round-trip samples)."""
PONG_TIMEOUT_S = 10.0
"""Longest wait for the probe's ``ack`` or pong."""

TARGET_SLOPE_MIB_PER_MIN = 1.0
TARGET_GROWTH = 0.05
"""Bounds of a flat RSS: growth under 1 MiB/min, and under 5 % over the steady phase."""

CONTENDED_CORES = 0.5
"""Machine CPU beyond our processes' above which the figures say it was contended."""


# --- RSS (pure, tested in tests/bench/test_soak.py) ----------------------------------


@dataclass(frozen=True, slots=True)
class RssSample:
    """The server's RSS (KiB) at a monotonic time (seconds)."""

    at_s: float
    kib: int


def slope_per_min(samples: Sequence[RssSample]) -> float:
    """Least-squares slope of the samples' RSS, in KiB per minute (0 for fewer than
    two samples or a single instant)."""
    if len(samples) < 2:
        return 0.0
    mean_t = statistics.fmean(s.at_s for s in samples)
    mean_kib = statistics.fmean(s.kib for s in samples)
    spread = sum((s.at_s - mean_t) ** 2 for s in samples)
    if spread == 0:
        return 0.0
    covariance = sum((s.at_s - mean_t) * (s.kib - mean_kib) for s in samples)
    return covariance / spread * 60.0


@dataclass(frozen=True, slots=True)
class RssSummary:
    """The RSS over a phase: first, highest and last sample (KiB), and the slope."""

    start_kib: int
    max_kib: int
    end_kib: int
    slope_kib_per_min: float
    samples: int

    @classmethod
    def of(cls, samples: Sequence[RssSample]) -> RssSummary:
        """The summary of ``samples`` (in time order; at least one)."""
        if not samples:
            raise ValueError("no RSS samples")
        kib = [s.kib for s in samples]
        return cls(kib[0], max(kib), kib[-1], slope_per_min(samples), len(samples))

    @property
    def growth(self) -> float:
        """End over start, minus one (0.05: 5 % more)."""
        return self.end_kib / self.start_kib - 1.0


def between(samples: Sequence[RssSample], start_s: float, end_s: float) -> list[RssSample]:
    """The samples taken from ``start_s`` to ``end_s`` (both included)."""
    return [s for s in samples if start_s <= s.at_s <= end_s]


# --- probes (the baselines) ----------------------------------------------------------


@dataclass
class Probes:
    """The baselines' round trips (ms, while ``tally.recording``) and failures."""

    healthz_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    ping_ms: list[float] = field(default_factory=list)
    healthz_failures: int = 0
    socket_closed: int = 0


async def _healthz(port: int, probes: Probes, tally: Tally, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S) as http:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = await http.get(f"http://127.0.0.1:{port}/healthz")
                failed = response.status_code != 200
            except httpx.TransportError:
                failed = True
            if tally.recording:
                probes.healthz_ms.append((time.perf_counter() - started) * 1000)
            probes.healthz_failures += failed
            await pause(stop, PROBE_EVERY_S)


async def _ack(ws: ClientConnection, seq: int) -> None:
    """Read the server's frames until the ``ack`` of ``seq`` (others are dropped)."""
    async with asyncio.timeout(PONG_TIMEOUT_S):
        while True:
            frame = orjson.loads(await ws.recv())
            if frame.get("type") == "ack" and frame.get("seq") == seq:
                return


async def _round_trips(ws: ClientConnection, seq: int, probes: Probes, recording: bool) -> None:
    """One fix sent and acknowledged, then one ping answered."""
    started = time.perf_counter()
    fix = Fix(CENTRE[0], CENTRE[1], 10.0, int(time.time() * 1000))
    await ws.send(PosMessage(seq, (fix,)).encode())
    await _ack(ws, seq)
    acked = time.perf_counter()
    await asyncio.wait_for(await ws.ping(), PONG_TIMEOUT_S)
    if recording:
        probes.ack_ms.append((acked - started) * 1000)
        probes.ping_ms.append((time.perf_counter() - acked) * 1000)


async def _socket_probe(
    port: int, token: str, probes: Probes, tally: Tally, stop: asyncio.Event
) -> None:
    """A provider socket of its own: a fix → ack, then a ping → pong, each
    :data:`PROBE_EVERY_S`; the pong is the baseline of both acks."""
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/provider",
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        additional_headers={"Authorization": f"Bearer {token}"},
        ping_interval=None,
        compression=None,
    )
    try:
        await ws.recv()  # welcome
        await ws.send(orjson.dumps({"type": "hello", "app_version": "bench-soak"}).decode())
        seq = 0
        while not stop.is_set():
            seq += 1
            await _round_trips(ws, seq, probes, tally.recording)
            await pause(stop, PROBE_EVERY_S)
    except (ConnectionClosed, TimeoutError):
        probes.socket_closed += 1
    finally:
        await ws.close()


# --- the run -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Marks:
    """Counters read at one instant: CPU seconds (server, simulator, this process),
    the machine's busy CPU ticks, and the simulator's stats line."""

    at_s: float
    server_cpu: float
    generator_cpu: float
    own_cpu: float
    machine_busy_s: float
    apps: dict[str, Any]

    @classmethod
    async def read(cls, server: Child, gen: Child) -> Marks:
        apps = await gen.latest()
        return cls(
            time.monotonic(),
            cpu_s(server.pid),
            cpu_s(gen.pid),
            cpu_s(os.getpid()),
            _machine_busy_s(),
            apps,
        )


def _machine_busy_s() -> float:
    """CPU seconds the machine has spent busy (all cores; /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Outcome:
    """Everything the figures are made of."""

    tally: Tally
    probes: Probes
    rss: list[RssSample]
    first: Marks | None = None
    last: Marks | None = None
    min_connected: int = PROVIDERS


async def _sample_rss(pid: int, outcome: Outcome, stop: asyncio.Event) -> None:
    started = time.monotonic()
    next_print = started + PROGRESS_EVERY_S
    while not stop.is_set():
        outcome.rss.append(RssSample(time.monotonic(), rss_kb(pid)))
        if time.monotonic() >= next_print:
            next_print += PROGRESS_EVERY_S
            _progress(outcome, time.monotonic() - started)
        await pause(stop, RSS_EVERY_S)


def _progress(outcome: Outcome, elapsed_s: float) -> None:
    tally = outcome.tally
    print(
        f"[bench] soak: {elapsed_s / 60:.0f} min: RSS {outcome.rss[-1].kib / 1024:.1f} MiB, "
        f"{tally.requests:,} requests, {tally.failures} failed, "
        f"{sum(tally.client_errors.values())} unexpected 4xx",
        flush=True,
    )


async def _soak(server: Child, port: int, gen: Child, world: World, probe_token: str) -> Outcome:
    outcome = Outcome(Tally(), Probes(), [])
    tally, stop = outcome.tally, asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(_sample_rss(server.pid, outcome, stop))
        group.create_task(_healthz(port, outcome.probes, tally, stop))
        group.create_task(_socket_probe(port, probe_token, outcome.probes, tally, stop))
        for index in range(OPERATORS):
            group.create_task(operate(port, index, tally, world, stop))
        await asyncio.sleep(WARMUP_S)
        outcome.first = await Marks.read(server, gen)
        outcome.rss.append(RssSample(time.monotonic(), rss_kb(server.pid)))
        seen = len(gen.lines)
        tally.recording = True
        print(f"[bench] soak: steady phase, {SOAK_S:.0f} s", flush=True)
        await asyncio.sleep(SOAK_S)
        tally.recording = False
        outcome.rss.append(RssSample(time.monotonic(), rss_kb(server.pid)))
        outcome.last = await Marks.read(server, gen)
        outcome.min_connected = min(line["connected"] for line in gen.lines[seen:])
        stop.set()
    return outcome


async def run(settings: Settings) -> list[Figure]:
    """5,000 apps and 50 operators against one server for :data:`SOAK_S`."""
    raise_open_file_limit()
    tokens = await create_database(settings, DATABASE, PROVIDERS + 1)
    world = await seed_world(
        settings,
        DATABASE,
        await bench_world(settings, DATABASE),
        operators=OPERATORS,
        beneficiaries=BENEFICIARIES,
    )
    await clear_redis(settings, PREFIX)
    db_url = database_url(settings, DATABASE)
    cores = Cores.split()
    try:
        with tempfile.TemporaryDirectory(prefix="acionar-bench-soak-") as tmp:
            logs = Path(tmp)
            apps_file = write_tokens(tokens[:PROVIDERS], logs / "tokens.txt")
            stats = ("--stats-every", str(STATS_EVERY_S))
            async with (
                acionar_server(settings, db_url, PREFIX, logs, cpus=cores.server) as (server, port),
                generator(port, apps_file, logs, "apps", *stats, cpus=cores.generator) as gen,
            ):
                connect_s = await all_connected(gen, PROVIDERS)
                print(f"[bench] soak: {PROVIDERS:,} apps connected in {connect_s:.0f} s")
                await seed_jobs(port, world, SEED_JOBS)
                outcome = await _soak(server, port, gen, world, tokens[PROVIDERS])
    finally:
        await drop_database(settings, DATABASE)
        await clear_redis(settings, PREFIX)
    figures = _figures(outcome, cores)
    for figure in figures:
        print(f"[bench] soak: {figure.name}: {format_quantity(figure.value, figure.unit)}")
    return figures


# --- figures -------------------------------------------------------------------------


def _p(values: list[float], q: float) -> float:
    return percentile(values, q) if values else float("nan")


def _zero(name: str, count: int) -> Figure:
    """A count whose target is none at all."""
    return Figure(name, count, "", "0")


def _rss_figures(outcome: Outcome, first: Marks, last: Marks) -> list[Figure]:
    rss = RssSummary.of(between(outcome.rss, first.at_s, last.at_s))
    minutes = (last.at_s - first.at_s) / 60
    start, at_start = rss.start_kib / 1024, "RSS at the start of the steady phase"
    growth = f"< {TARGET_GROWTH:.0%} above the start (ratio < {1 + TARGET_GROWTH:.2f}×)"
    slope = (
        f"server RSS growth, least-squares slope over the {minutes:.0f}-minute steady "
        f"phase ({rss.samples} samples, every {RSS_EVERY_S:.0f} s)"
    )
    mib_per_min = rss.slope_kib_per_min / 1024
    return [
        Figure(slope, mib_per_min, "MiB/min", f"< {TARGET_SLOPE_MIB_PER_MIN:g} MiB/min"),
        Figure(
            "server RSS at the end of the steady phase",
            rss.end_kib / 1024,
            "MiB",
            growth,
            at_start,
            start,
        ),
        Figure(
            "extra: server RSS, highest sample of the steady phase",
            rss.max_kib / 1024,
            "MiB",
            "",
            at_start,
            start,
        ),
    ]


def _failure_figures(outcome: Outcome, last: Marks) -> list[Figure]:
    tally, probes, apps = outcome.tally, outcome.probes, last.apps
    requests = f"whole run, {tally.requests:,} requests"
    sockets = (
        f"whole run, {PROVIDERS:,} apps and the probe; fewest connected in the steady "
        f"phase: {outcome.min_connected:,}"
    )
    rejected = ", ".join(f"{k}: {v:,}" for k, v in sorted(apps["rejected"].items()))
    return [
        _zero(
            f"operators' requests answered 5xx or failed in transport ({requests})", tally.failures
        ),
        _zero(
            f"provider sockets closed unexpectedly ({sockets})",
            sum(apps["closes"].values()) + probes.socket_closed,
        ),
        _zero(
            "extra: operators' requests answered an unexpected 4xx",
            sum(tally.client_errors.values()),
        ),
        _zero(
            "extra: apps' failed connection attempts, reconnections and apps that gave up",
            apps["connect_failures"] + apps["reconnects"] + apps["gave_up"],
        ),
        _zero(
            "extra: error replies to the apps (and replies they waited for in vain)",
            sum(apps["errors"].values()),
        ),
        _zero("extra: bare GET /healthz failures", probes.healthz_failures),
        Figure(
            f"extra: fixes the server's filter rejected ({rejected or 'none'})",
            sum(apps["rejected"].values()),
            "",
        ),
    ]


def _latency_figures(outcome: Outcome) -> list[Figure]:
    tally, probes = outcome.tally, outcome.probes
    every = tally.all_ms()
    base99, base50 = _p(probes.healthz_ms, 0.99), _p(probes.healthz_ms, 0.50)
    healthz = "bare GET /healthz p99, same process and load"
    load = f"{OPERATORS} sessions, {len(every):,} requests in the steady phase"
    figures = [
        Figure(
            f"operators' requests p99, all routes ({load})",
            _p(every, 0.99),
            "ms",
            "recorded",
            healthz,
            base99,
        ),
        Figure(
            "operators' requests p50, all routes",
            _p(every, 0.50),
            "ms",
            "",
            "bare GET /healthz p50",
            base50,
        ),
    ]
    for route in ROUTES:
        ms = tally.ms.get(route, [])
        name = f"extra: {route} p99 (p50 {_p(ms, 0.5):.1f} ms, {len(ms):,} requests)"
        figures.append(Figure(name, _p(ms, 0.99), "ms", "", healthz, base99))
    return figures


def _app_figures(outcome: Outcome, first: Marks, last: Marks) -> list[Figure]:
    apps, ping = last.apps, outcome.probes.ping_ms
    span = apps["elapsed_s"] - first.apps["elapsed_s"]
    acks = (
        f"apps' position send → ack p99 ({PROVIDERS:,} apps, a fix every 5 s; "
        "the simulator's sample of the whole run)"
    )
    pong = "websocket ping → pong p99 on the probe's provider socket, same server and time"
    probe = "extra: the probe's own position send → ack p99 (a fix every 0.5 s, this process)"
    return [
        Figure(acks, float(apps["rtt_p99_ms"] or "nan"), "ms", "recorded", pong, _p(ping, 0.99)),
        Figure(probe, _p(outcome.probes.ack_ms, 0.99), "ms", "", pong, _p(ping, 0.99)),
        Figure(
            "extra: apps' position send → ack p50",
            float(apps["rtt_p50_ms"] or "nan"),
            "ms",
            "",
            "websocket ping → pong p50",
            _p(ping, 0.50),
        ),
        Figure(
            "extra: positions accepted per second, steady phase",
            (apps["accepted"] - first.apps["accepted"]) / span,
            RATE_UNIT,
            "",
            "fixes the apps took per second",
            (apps["fixes_taken"] - first.apps["fixes_taken"]) / span,
        ),
    ]


def _cpu_figures(first: Marks, last: Marks, cores: Cores) -> list[Figure]:
    wall = last.at_s - first.at_s
    server = (last.server_cpu - first.server_cpu) / wall
    apps = (last.generator_cpu - first.generator_cpu) / wall
    own = (last.own_cpu - first.own_cpu) / wall
    machine = (last.machine_busy_s - first.machine_busy_s) / wall
    others = machine - server - apps - own
    busy = (
        f"extra: machine CPU busy, steady phase, of {os.cpu_count()} cores "
        f"({'contended: ' if others > CONTENDED_CORES else ''}{others:.2f} cores to "
        "PostgreSQL, Redis and everything else)"
    )
    ours = "server + simulator + operators' process"
    return [
        Figure(f"extra: server CPU, steady phase ({cores.describe()})", server, "cores"),
        Figure("extra: simulator CPU (5,000 apps), steady phase", apps, "cores"),
        Figure("extra: operators' and probes' process CPU, steady phase", own, "cores"),
        Figure(busy, machine, "cores", "", ours, server + apps + own),
    ]


def _figures(outcome: Outcome, cores: Cores) -> list[Figure]:
    first, last = outcome.first, outcome.last
    assert first is not None and last is not None  # set by _soak
    return [
        *_rss_figures(outcome, first, last),
        *_failure_figures(outcome, last),
        *_latency_figures(outcome),
        *_app_figures(outcome, first, last),
        *_cpu_figures(first, last, cores),
    ]
