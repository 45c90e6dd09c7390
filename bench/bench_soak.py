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
  a job, offer the job by app to one of its first candidates, cancel it);
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
import contextlib
import os
import random
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from argon2 import PasswordHasher
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.bench_dispatch import PASSWORD, bench_world, percentile
from bench.bench_ingest import (
    CENTRE,
    Cores,
    _dsn,
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
from clients.provider_app_sim.outbox import Fix, PosMessage
from clients.provider_app_sim.processes import Child, cpu_s, raise_open_file_limit, rss_kb
from clients.provider_app_sim.protocol import SUBPROTOCOL
from registry.permissions import OPERATIONS as OPERATOR_ROLE
from registry.permissions import ROLE_PERMISSIONS
from registry.validation import make_cpf
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

THINK_S = (0.5, 1.5)
"""An operator's pause between two actions: uniform in this range (about 1 s)."""

REQUEST_TIMEOUT_S = 30.0
PONG_TIMEOUT_S = 10.0
JOB_SPREAD_DEG = 0.08
"""Operators' jobs are registered within this of the centre (about 9 km), so that
their first candidates differ."""

OFFER_AMONG = 5
"""An operator offers its job to one of this many first candidates reachable by app."""

TARGET_SLOPE_MIB_PER_MIN = 1.0
TARGET_GROWTH = 0.05
"""Bounds of a flat RSS: growth under 1 MiB/min, and under 5 % over the steady phase."""

CONTENDED_CORES = 0.5
"""Machine CPU beyond our processes' above which the figures say it was contended."""

SEED = 20_260_501

LIST_JOBS = "GET /jobs?status=open,dispatching"
GET_JOB = "GET /jobs/{id}"
JOB_OFFERS = "GET /jobs/{id}/offers"
SEARCH = "GET /search?q="
CANDIDATES = "GET /jobs/{id}/candidates"
OPEN_INCIDENT = "POST /incidents"
REGISTER_JOB = "POST /incidents/{id}/jobs"
MAKE_OFFER = "POST /jobs/{id}/offers"
CANCEL_JOB = "POST /jobs/{id}/cancel"
ROUTES = (LIST_JOBS, GET_JOB, JOB_OFFERS, SEARCH, CANDIDATES, REGISTER_JOB, MAKE_OFFER, CANCEL_JOB)
"""The routes with a figure of their own (every route counts in "all routes")."""

FIRST_NAMES = (
    "Maria", "José", "Ana", "João", "Antônio", "Francisca", "Carlos", "Paulo",
    "Lúcia", "Pedro", "Juliana", "Marcos", "Fernanda", "Luís", "Beatriz", "Rafael",
)  # fmt: skip
SURNAMES = (
    "da Silva", "dos Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves",
    "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Araújo",
)  # fmt: skip


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


# --- the world -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    """What the operators work with."""

    client: int
    kind: int
    tow: int
    reason: int
    logins: tuple[str, ...]
    queries: tuple[str, ...]


def _beneficiaries(count: int) -> tuple[list[str], list[str], list[str]]:
    """Names, CPFs and search queries (a name's start, a CPF's first digits)."""
    rng = random.Random(SEED)
    names, documents, queries = [], [], []
    for i in range(count):
        first, middle, last = rng.choice(FIRST_NAMES), *rng.sample(SURNAMES, 2)
        names.append(f"{first} {middle} {last}")
        documents.append(make_cpf(100_000_000 + i * 7_919 % 900_000_000))
        if i % 100 == 0:
            queries.append(f"{first.lower()} {last.split()[-1][:3].lower()}")
            queries.append(documents[-1][:6])
    return names, documents, queries


async def _seed(settings: Settings, world: dict[str, int]) -> World:
    """Operators (Operação role) and beneficiaries of the world's client."""
    logins = tuple(f"op-{i:02d}" for i in range(OPERATORS))
    names, documents, queries = _beneficiaries(BENEFICIARIES)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    conn = await asyncpg.connect(_dsn(settings, DATABASE))
    try:
        role = await conn.fetchval(
            "INSERT INTO roles (name, permissions) VALUES ($1, $2) RETURNING id",
            OPERATOR_ROLE,
            sorted(ROLE_PERMISSIONS[OPERATOR_ROLE]),
        )
        await conn.execute(
            "INSERT INTO users (login, name, password_hash, role_id) "
            "SELECT l, l, $2, $3 FROM unnest($1::text[]) AS t(l)",
            list(logins),
            cheap,
            role,
        )
        await conn.execute(
            "INSERT INTO beneficiaries (client_id, person_kind, document, name) "
            "SELECT $1, 'pf', d, n FROM unnest($2::text[], $3::text[]) AS t(d, n)",
            world["client"],
            documents,
            names,
        )
        reason = await conn.fetchval("SELECT min(id) FROM cancellation_reasons")
    finally:
        await conn.close()
    return World(world["client"], world["kind"], world["tow"], reason, logins, tuple(queries))


# --- operators -----------------------------------------------------------------------


@dataclass
class Tally:
    """What the operators' requests met: latencies (ms, by route) while
    ``recording``; failures always.

    Attributes:
        server_errors: 5xx answers, by "route status".
        transport_errors: requests without an answer, by exception class.
        client_errors: unexpected 4xx answers, by "route status".
        requests: every request sent, whole run.
    """

    recording: bool = False
    ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_errors: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    client_errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    async def call(
        self, http: httpx.AsyncClient, method: str, route: str, url: str, **kwargs: Any
    ) -> Any:
        """The answer's JSON, or ``None`` when it failed (counted)."""
        self.requests += 1
        started = time.perf_counter()
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self.transport_errors[type(exc).__name__] += 1
            return None
        if self.recording:
            self.ms[route].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            self.server_errors[f"{route} {response.status_code}"] += 1
        elif response.status_code >= 400:
            self.client_errors[f"{route} {response.status_code}"] += 1
            print(f"[bench] soak: {route}: {response.status_code} {response.text[:200]}")
        else:
            return response.json()
        return None

    @property
    def failures(self) -> int:
        return sum(self.server_errors.values()) + sum(self.transport_errors.values())

    def all_ms(self) -> list[float]:
        return [ms for values in self.ms.values() for ms in values]


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass
class Operator:
    """One operator's session: signs in, then acts after each think time.

    Its own job goes through three steps, one per turn: registered (with its
    incident), offered by app to one of its first candidates, cancelled.
    """

    login: str
    http: httpx.AsyncClient
    tally: Tally
    world: World
    rng: random.Random
    jobs: list[int] = field(default_factory=list)
    own: int | None = None
    offered: bool = False

    async def run(self, stop: asyncio.Event) -> None:
        await self._sign_in()
        await _pause(stop, self.rng.uniform(0.0, THINK_S[1]))
        await self._list()
        actions = (self._list, self._read, self._search, self._candidates, self._own_job)
        weights = (30, 25, 20, 15, 10)
        while not stop.is_set():
            await self.rng.choices(actions, weights)[0]()
            await _pause(stop, self.rng.uniform(*THINK_S))

    async def _sign_in(self) -> None:
        body = {"login": self.login, "password": PASSWORD}
        me = await self.tally.call(self.http, "POST", "POST /auth/login", "/auth/login", json=body)
        if me is None:
            raise RuntimeError(f"{self.login} could not sign in")
        self.http.headers["X-CSRF-Token"] = me["csrf_token"]

    async def _list(self) -> None:
        url = "/jobs?status=open,dispatching&kind=assistance&order=oldest&page_size=100"
        page = await self.tally.call(self.http, "GET", LIST_JOBS, url)
        if page and page["items"]:
            self.jobs = [job["id"] for job in page["items"]]

    def _some_job(self) -> int | None:
        return self.rng.choice(self.jobs) if self.jobs else None

    async def _read(self) -> None:
        job = self._some_job()
        if job is not None:
            await self.tally.call(self.http, "GET", GET_JOB, f"/jobs/{job}")
            await self.tally.call(self.http, "GET", JOB_OFFERS, f"/jobs/{job}/offers")

    async def _search(self) -> None:
        query = self.rng.choice(self.world.queries)
        await self.tally.call(self.http, "GET", SEARCH, "/search", params={"q": query})

    async def _candidates(self, job: int | None = None) -> list[dict[str, Any]]:
        job = job or self._some_job()
        if job is None:
            return []
        found = await self.tally.call(self.http, "GET", CANDIDATES, f"/jobs/{job}/candidates")
        return list(found["candidates"]) if found else []

    async def _own_job(self) -> None:
        if self.own is None:
            self.own = await self._register()
        elif not self.offered:
            await self._offer(self.own)
            self.offered = True
        else:
            body = {"cancellation_reason_id": self.world.reason}
            await self.tally.call(
                self.http, "POST", CANCEL_JOB, f"/jobs/{self.own}/cancel", json=body
            )
            self.own, self.offered = None, False

    async def _register(self) -> int | None:
        return await register_job(self.http, self.tally, self.world, self.rng)

    async def _offer(self, job: int) -> None:
        reachable = [c for c in await self._candidates(job) if "app" in c["channels_now"]]
        if reachable:
            provider = self.rng.choice(reachable[:OFFER_AMONG])["provider_id"]
            body = {"provider_id": provider, "channel": "app"}
            await self.tally.call(self.http, "POST", MAKE_OFFER, f"/jobs/{job}/offers", json=body)


async def register_job(
    http: httpx.AsyncClient, tally: Tally, world: World, rng: random.Random
) -> int | None:
    """An incident with one ad hoc tow somewhere near the centre; the job's id."""
    body = {"client_id": world.client, "incident_type_id": world.kind}
    incident = await tally.call(http, "POST", OPEN_INCIDENT, "/incidents", json=body)
    if incident is None:
        return None
    spread = JOB_SPREAD_DEG
    job = await tally.call(
        http,
        "POST",
        REGISTER_JOB,
        f"/incidents/{incident['id']}/jobs",
        json={
            "service_type_id": world.tow,
            "ad_hoc": True,
            "requester": {"name": "Ana", "phone": "11 98888-7777"},
            "origin": {
                "lat": CENTRE[0] + rng.uniform(-spread, spread),
                "lng": CENTRE[1] + rng.uniform(-spread, spread),
                "street": "Rua A",
            },
        },
    )
    return None if job is None else int(job["id"])


def _client(port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=REQUEST_TIMEOUT_S)


async def _operator(port: int, index: int, tally: Tally, world: World, stop: asyncio.Event) -> None:
    async with _client(port) as http:
        rng = random.Random(SEED + index)
        await Operator(world.logins[index], http, tally, world, rng).run(stop)


async def _seed_jobs(port: int, world: World) -> None:
    tally = Tally()
    async with _client(port) as http:
        login = await http.post("/auth/login", json={"login": "bench", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        rng = random.Random(SEED)
        for _ in range(SEED_JOBS):
            if await register_job(http, tally, world, rng) is None:
                raise RuntimeError("could not register the waiting jobs")


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
            await _pause(stop, PROBE_EVERY_S)


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
            await _pause(stop, PROBE_EVERY_S)
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
        await _pause(stop, RSS_EVERY_S)


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
            group.create_task(_operator(port, index, tally, world, stop))
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
    world = await _seed(settings, await bench_world(settings, DATABASE))
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
                await _seed_jobs(port, world)
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
