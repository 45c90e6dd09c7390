"""Candidate search: 100,000 providers in the São Paulo box, radius 20 km, top 20.

Target (issue 4): exact top 20 by score with p99 under 15 ms, and no more than 10 ×
the p99 of a bare PostGIS ``ORDER BY loc <-> point LIMIT 50`` GiST query over the
same points, measured in the same run.

Data: providers spread over lat −24.0..−23.2, lng −47.0..−46.2 (denser near the
centre), all serving one service type, 200 of them partners of the client, 30 % with a
fresh live position in Redis, 10 % busy. Kept in the database
``acionar_bench_candidates`` (reused when already full) and under its own Redis
prefix. The search reads the node's live mirror (loaded from Redis by a
:class:`~realtime.mirror.MirrorFeed`, as a server does) and asks Redis for presence;
the catalogue is loaded as a server's first search loads it (cells of the default
weights sorted ahead); a first pass of ``QUERIES`` searches is recorded apart, then
``QUERIES`` searches at other points are measured. The heap is frozen after loading,
as the server does after start-up.

Then the same search through a real server node (issue 13: "candidate query also
while ingesting 10k positions/s on the same node"): a database of its own with
:data:`NODE_PROVIDERS` providers, :data:`APPS` of them with simulated apps around
the jobs' origin. ``GET /jobs/{id}/candidates`` is timed while the apps send
:data:`INGEST_RATE` positions per second to the node, then with the same apps
connected and silent; beside each, ``GET /jobs/{id}`` (the job by primary key, the
raw baseline of a request to that node) and the bare GiST query from this process.
The node and the apps' simulator run on separate cores when there are enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import h3
import httpx
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bench.bench_dispatch import PASSWORD, bench_world, new_job
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
from bench.report import RATE_UNIT, Figure
from clients.provider_app_sim.processes import Child, cpu_s, raise_open_file_limit
from geo.catalogue import Catalogue
from geo.ranking import DEFAULT_OPTIONS, Weights
from geo.search import SearchQuery
from geo.source import CatalogueKeeper, find_candidates
from realtime.filter import PositionFix
from realtime.mirror import LiveMirror, MirrorFeed
from realtime.store import LiveStore, now_ms
from registry.cells import point_cell
from registry.db import make_engine, make_sessionmaker, to_async_url
from registry.validation import make_cnpj
from server.migrate import upgrade
from server.settings import Settings

NOTES = """
The first rows are the search in this process (the catalogue, the live mirror and
Redis presence as a server holds them). The rows marked *node* go through a real
server over HTTP: its candidates request while 10k positions/s from simulated apps
arrive on the same node, beside the same request with the apps connected and
silent, and the job read by primary key (the raw baseline of any request to that
node). The node's positions accepted and written to Redis meanwhile show whether
the search slowed the ingest, and its provider reads eased (load shedding,
docs/operations.md) whether the node ran late.
"""

QUICK = os.environ.get("QUICK") == "1"
DATABASE = "acionar_bench_candidates_quick" if QUICK else "acionar_bench_candidates"
PROVIDERS = 20_000 if QUICK else 100_000
LIVE_SHARE = 0.3
BUSY_SHARE = 0.1
FRESH_S = 120.0
QUERIES = 60 if QUICK else 300  # per pass: a first one, then the measured one at other points
RADIUS_KM = 20.0
TOP = 20
BOX = (-24.0, -23.2, -47.0, -46.2)
PREFIX = "acionar-bench-candidates:"
APPLY_BATCH = 500  # positions per published message (the writer's flush_max)
VISIBILITY_PROBES = 200
PROBE_ID = PROVIDERS + 1  # not in the catalogue: the probes do not disturb searches

NODE_DATABASE = "acionar_bench_candidates_node"
NODE_PREFIX = "acionar-bench-candidates-node:"
NODE_PROVIDERS = 20_000 if QUICK else PROVIDERS
"""The node's catalogue (its first search loads it: about 7 s for 100,000)."""
APPS = 500 if QUICK else 5_000
"""Simulated provider apps streaming to the node (each one a provider of the catalogue)."""
INGEST_RATE = 10_000.0
"""Positions per second the apps send in total (the issue's figure)."""
REQUESTS = 60 if QUICK else 300
"""Rounds of requests timed in each state of the node (a candidates request, the
job by primary key, the bare GiST query)."""
WARM_REQUESTS = 10
"""Rounds not timed, before any app connects (catalogue load, statement caches)."""
JOBS = 20
"""Jobs whose candidates are asked for, in turn (all at :data:`JOB_ORIGIN`)."""
JOB_ORIGIN = (CENTRE[0] + 0.01, CENTRE[1])
"""Where :func:`bench.bench_dispatch.new_job` puts a job (1 km north of the centre)."""
SETTLE_S = 2.0 if QUICK else 5.0
"""Seconds between the last app connecting and the first timed request."""
HTTP_TIMEOUT_S = 60.0
BARE_GIST = (
    "SELECT id FROM providers ORDER BY base_location <-> "
    "ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography LIMIT 50"
)


def _url(settings: Settings, database: str) -> str:
    url = make_url(to_async_url(settings.effective_database_url)).set(database=database)
    return url.render_as_string(hide_password=False)


def _dsn(settings: Settings, database: str) -> str:
    return _url(settings, database).replace("postgresql+asyncpg://", "postgresql://")


async def _prepare(settings: Settings) -> None:
    admin = await asyncpg.connect(_dsn(settings, "postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    await asyncio.to_thread(upgrade, _url(settings, DATABASE))  # Alembic runs its own loop
    conn = await asyncpg.connect(_dsn(settings, DATABASE))
    try:
        if await conn.fetchval("SELECT count(*) FROM providers") == PROVIDERS:
            return  # kept from the last run of this size
        print(f"[candidates] loading {PROVIDERS} providers", flush=True)
        await _load(conn)
    finally:
        await conn.close()


async def _load(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE providers, service_types, clients RESTART IDENTITY CASCADE")
    await conn.execute(
        "INSERT INTO service_types (code, name, target) VALUES ('tow', 'Reboque', 'vehicle')"
    )
    await conn.execute(
        "INSERT INTO clients (cnpj, trade_name, legal_name) VALUES ('11222333000181', 'C', 'C')"
    )
    rng = random.Random(7)
    rows = []
    for i in range(PROVIDERS):
        lat, lng = _base_point(rng)
        cell = int(h3.latlng_to_cell(lat, lng, 8), 16)
        cell = cell - (1 << 64) if cell >= 1 << 63 else cell
        rows.append(
            (
                f"{i:014d}",
                f"P{i}",
                f"SRID=4326;POINT({lng} {lat})",
                cell,
                rng.randint(0, 5),
                round(rng.random(), 4),
                round(rng.random(), 4),
            )
        )
    await conn.executemany(
        """INSERT INTO providers (person_kind, document, name, base_location, base_h3,
               preference, on_time_rate, acceptance_rate)
           VALUES ('pj', $1, $2, $3::geography, $4, $5, $6, $7)""",
        rows,
    )
    await conn.execute(
        """INSERT INTO provider_services (provider_id, service_type_id, departure_fee,
               price_per_km)
           SELECT id, 1, 150, 4 FROM providers"""
    )
    await conn.execute(
        "INSERT INTO provider_partnerships (provider_id, client_id) "
        "SELECT id, 1 FROM providers WHERE id % 500 = 0"
    )
    await conn.execute("ANALYZE")


def _base_point(rng: random.Random) -> tuple[float, float]:
    """A provider's base in the box, denser near the centre."""
    lat = min(max(rng.gauss(-23.6, 0.18), BOX[0]), BOX[1])
    lng = min(max(rng.gauss(-46.6, 0.18), BOX[2]), BOX[3])
    return lat, lng


async def _live(settings: Settings) -> LiveStore:
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    store = LiveStore(client, PREFIX)
    rng = random.Random(11)
    received = now_ms()
    batch = []
    for pid in range(1, PROVIDERS + 1):
        if rng.random() < LIVE_SHARE:
            lat, lng = rng.uniform(BOX[0], BOX[1]), rng.uniform(BOX[2], BOX[3])
            batch.append((pid, PositionFix(lat, lng, 5.0, received), received))
        if rng.random() < BUSY_SHARE:
            await store.set_busy(pid, True)
        if len(batch) == 5_000:
            await store.write_positions(batch)
            batch = []
    await store.write_positions(batch)
    return store


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _points(seed: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(rng.uniform(-23.75, -23.45), rng.uniform(-46.8, -46.45)) for _ in range(QUERIES)]


async def _measure(
    session: AsyncSession, feed: MirrorFeed, catalogue: Catalogue, points: list[tuple[float, float]]
) -> tuple[list[float], list[float]]:
    """Each point's search and bare query, in ms."""
    weights = Weights()
    bare = text(
        "SELECT id FROM providers ORDER BY base_location <-> "
        "ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography LIMIT 50"
    )
    search_ms: list[float] = []
    bare_ms: list[float] = []
    for lat, lng in points:
        query = SearchQuery(lat, lng, 1, 1, RADIUS_KM, TOP, weights)
        started = time.perf_counter()
        await find_candidates(catalogue, feed.mirror, feed.store, query, fresh_s=FRESH_S)
        search_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await session.execute(bare, {"lat": lat, "lng": lng})
        bare_ms.append((time.perf_counter() - started) * 1000)
    return search_ms, bare_ms


async def _until_seen(feed: MirrorFeed, received: int) -> None:
    while True:
        seen = feed.mirror.position(PROBE_ID)
        if seen is not None and seen[2] == received:
            return
        await asyncio.sleep(0)  # the listener runs in this loop


async def _visible_ms(feed: MirrorFeed) -> list[float]:
    """From a write of a position to the mirror holding it (what another node sees)."""
    delays = []
    for i in range(VISIBILITY_PROBES):
        received = now_ms() + i
        fix = PositionFix(-23.5, -46.6 + i * 1e-6, 5.0, received)
        started = time.perf_counter()
        await feed.store.write_positions([(PROBE_ID, fix, received)])
        await _until_seen(feed, received)
        delays.append((time.perf_counter() - started) * 1000)
    return delays


def _mirror_costs(feed: MirrorFeed) -> tuple[float, float]:
    """Bytes per position held by a node's mirror, and µs to apply one position."""
    rows = [(pid, _cell(fix), fix) for pid, fix in _positions(feed)]
    tracemalloc.start()
    mirror = LiveMirror()
    for pid, cell, fix in rows:
        mirror.put(pid, cell, fix)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    lines = [f"{cell} {fix[2]} {pid} {fix[0]!r} {fix[1]!r}".encode() for pid, cell, fix in rows]
    batches = [
        b"p\n" + b"\n".join(lines[i : i + APPLY_BATCH]) for i in range(0, len(lines), APPLY_BATCH)
    ]
    started = time.perf_counter()
    for message in batches:
        mirror.apply(message)
    apply_us = (time.perf_counter() - started) * 1e6 / max(1, len(lines))
    return size / max(1, len(rows)), apply_us


def _positions(feed: MirrorFeed) -> list[tuple[int, tuple[float, float, int]]]:
    mirror = feed.mirror
    return [(pid, fix) for pid in range(1, PROVIDERS + 1) if (fix := mirror.position(pid))]


def _cell(fix: tuple[float, float, int]) -> str:
    return str(h3.latlng_to_cell(fix[0], fix[1], LiveStore.resolution))


# --- a server node answering while it ingests ---------------------------------------


@dataclass
class Timings:
    """One state's requests, in ms, interleaved so that all three saw the same load."""

    candidates: list[float] = field(default_factory=list)
    lookup: list[float] = field(default_factory=list)
    gist: list[float] = field(default_factory=list)
    live: int = 0
    """Candidates answered with a live position (the others: their base)."""
    answered: int = 0


@dataclass(frozen=True, slots=True)
class Phase:
    """A state of the node (ingesting, or its apps silent) over its requests.

    Attributes:
        accepted_per_s: positions the apps had acknowledged per second.
        written_per_s: ``acionar_positions_written_total`` per second.
        eased: increase of ``acionar_provider_reads_eased_total``.
        node_cpu, apps_cpu: CPU used, in cores (1 = one).
    """

    timings: Timings
    seconds: float
    accepted_per_s: float
    written_per_s: float
    eased: float
    node_cpu: float
    apps_cpu: float


async def _node_database(settings: Settings) -> tuple[list[str], dict[str, int]]:
    """The node's database: :data:`APPS` providers with device tokens at the centre
    (their apps move around it), the rest of :data:`NODE_PROVIDERS` spread as in
    the catalogue above; all serve the tow of :func:`bench_world`."""
    tokens = await create_database(settings, NODE_DATABASE, APPS)
    rng = random.Random(7)
    points = [_base_point(rng) for _ in range(NODE_PROVIDERS - APPS)]
    async with _connection(settings) as conn:
        await conn.execute(
            """
            INSERT INTO providers (person_kind, document, name, base_location, base_h3)
            SELECT 'pj', d, 'Guincho ' || n,
                   ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, c
            FROM unnest($1::text[], $2::int[], $3::float8[], $4::float8[], $5::int8[])
                AS t(d, n, lat, lng, c)
            """,
            [make_cnpj(2_000_000 + i) for i in range(len(points))],
            list(range(len(points))),
            [lat for lat, _ in points],
            [lng for _, lng in points],
            [point_cell(lat, lng) for lat, lng in points],
        )
    world = await bench_world(settings, NODE_DATABASE)
    async with _connection(settings) as conn:
        await conn.execute("ANALYZE")
    return tokens, world


@contextlib.asynccontextmanager
async def _connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(_dsn(settings, NODE_DATABASE))
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _operator(port: int) -> AsyncIterator[httpx.AsyncClient]:
    """An operator's signed-in HTTP client of the node, under /api/v1."""
    base = f"http://127.0.0.1:{port}/api/v1"
    async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as http:
        login = await http.post("/auth/login", json={"login": "bench", "password": PASSWORD})
        login.raise_for_status()
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        yield http


async def _metric(port: int, name: str) -> float:
    """A counter of the node's ``GET /metrics`` (loopback may read it)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise RuntimeError(f"no {name} in /metrics")


async def _counters(port: int) -> tuple[float, float]:
    """The node's positions written and provider reads eased so far."""
    return (
        await _metric(port, "acionar_positions_written_total"),
        await _metric(port, "acionar_provider_reads_eased_total"),
    )


async def _timed(timings: list[float], request: Awaitable[httpx.Response]) -> httpx.Response:
    started = time.perf_counter()
    response = await request
    timings.append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response


async def _requests(
    http: httpx.AsyncClient, conn: asyncpg.Connection, jobs: list[int], count: int
) -> Timings:
    """``count`` rounds of: a job's candidates, the same job by primary key, and the
    bare GiST query at its origin."""
    timings = Timings()
    lat, lng = JOB_ORIGIN
    for i in range(count):
        job = jobs[i % len(jobs)]
        answer = await _timed(timings.candidates, http.get(f"/jobs/{job}/candidates"))
        found = answer.json()["candidates"]
        timings.answered += len(found)
        timings.live += sum(c["position_source"] == "live" for c in found)
        await _timed(timings.lookup, http.get(f"/jobs/{job}"))
        started = time.perf_counter()
        await conn.fetch(BARE_GIST, lng, lat)
        timings.gist.append((time.perf_counter() - started) * 1000)
    return timings


async def _phase(node: NodeUnderTest, apps: Child) -> Phase:
    """:data:`REQUESTS` rounds of requests, with the apps' and the node's counters
    over them."""
    first = await apps.latest()
    written0, eased0 = await _counters(node.port)
    cpu0, wall0 = (cpu_s(node.process.pid), cpu_s(apps.pid)), time.monotonic()
    timings = await _requests(node.http, node.conn, node.jobs, REQUESTS)
    wall = time.monotonic() - wall0
    node_cpu = (cpu_s(node.process.pid) - cpu0[0]) / wall
    apps_cpu = (cpu_s(apps.pid) - cpu0[1]) / wall
    written1, eased1 = await _counters(node.port)
    last = await apps.latest()
    accepted = (last["accepted"] - first["accepted"]) / (last["elapsed_s"] - first["elapsed_s"])
    written = (written1 - written0) / wall
    return Phase(timings, wall, accepted, written, eased1 - eased0, node_cpu, apps_cpu)


@dataclass(frozen=True, slots=True)
class NodeUnderTest:
    """The running node and what the benchmark holds of it."""

    process: Child
    port: int
    http: httpx.AsyncClient
    conn: asyncpg.Connection
    jobs: list[int]
    apps_file: Path
    logs: Path
    cores: Cores


async def _node_phases(
    settings: Settings, tokens: list[str], world: dict[str, int], logs: Path, cores: Cores
) -> tuple[Phase, Phase]:
    """The node ingesting, then with the same apps connected and silent (their
    positions still fresh: the same search, less the load)."""
    apps_file = write_tokens(tokens, logs / "tokens.txt")
    db_url = database_url(settings, NODE_DATABASE)
    server = acionar_server(settings, db_url, NODE_PREFIX, logs, cpus=cores.server)
    async with server as (process, port), _operator(port) as http, _connection(settings) as conn:
        jobs = [await new_job(http, world) for _ in range(JOBS)]
        await _requests(http, conn, jobs, WARM_REQUESTS)  # the first loads the catalogue
        node = NodeUnderTest(process, port, http, conn, jobs, apps_file, logs, cores)
        rate = ("--rate", f"{INGEST_RATE:.0f}", "--window", "1")
        ingesting = await _with_apps(node, "apps-ingesting", *rate)
        silent = await _with_apps(node, "apps-silent", "--idle")
    return ingesting, silent


async def _with_apps(node: NodeUnderTest, name: str, *options: str) -> Phase:
    """A phase with the simulated apps connected, run with ``options``."""
    gen = generator(node.port, node.apps_file, node.logs, name, *options, cpus=node.cores.generator)
    async with gen as apps:
        connect_s = await all_connected(apps, APPS)
        print(f"[candidates] {name}: {APPS} apps connected in {connect_s:.1f} s", flush=True)
        await asyncio.sleep(SETTLE_S)
        phase = await _phase(node, apps)
    _show(name, phase)
    return phase


def _show(name: str, phase: Phase) -> None:
    t = phase.timings
    print(
        f"[candidates] {name}: candidates p50 {_p(t.candidates, 50):.1f} ms "
        f"p99 {_p(t.candidates, 99):.1f} ms; {phase.accepted_per_s:.0f} accepted/s, "
        f"{phase.written_per_s:.0f} written/s, {phase.eased:.0f} eased; CPU node "
        f"{phase.node_cpu:.2f}, apps {phase.apps_cpu:.2f}; "
        f"{t.live}/{t.answered} candidates live; {phase.seconds:.1f} s",
        flush=True,
    )


async def _node(settings: Settings) -> tuple[Phase, Phase, Cores]:
    """A database of its own, a node on it, its two phases; everything dropped after."""
    raise_open_file_limit()
    cores = Cores.split()
    affinity = os.sched_getaffinity(0)
    try:
        tokens, world = await _node_database(settings)
        await clear_redis(settings, NODE_PREFIX)
        if cores.generator is not None:
            os.sched_setaffinity(0, cores.generator)  # with the apps, off the node's cores
        with tempfile.TemporaryDirectory(prefix="acionar-bench-candidates-") as tmp:
            ingesting, silent = await _node_phases(settings, tokens, world, Path(tmp), cores)
    finally:
        os.sched_setaffinity(0, affinity)
        await clear_redis(settings, NODE_PREFIX)
        await drop_database(settings, NODE_DATABASE)
    return ingesting, silent, cores


def _node_figures(ingesting: Phase, silent: Phase, cores: Cores) -> list[Figure]:
    busy, idle = ingesting.timings, silent.timings
    load = f"{INGEST_RATE / 1000:.0f}k positions/s from {APPS:,} apps"
    search = f"top 20 in 20 km of {NODE_PROVIDERS:,}"
    idle_name = "same request, node idle (apps connected, silent)"
    raw = "raw: GET /jobs/{id} (the job by primary key), same node and session"
    return [
        Figure(
            f"node: GET /jobs/{{id}}/candidates ({search}) while it ingests {load}, p50",
            _p(busy.candidates, 50),
            "ms",
            "recorded",
            f"{idle_name}, p50",
            _p(idle.candidates, 50),
        ),
        Figure(
            f"node: GET /jobs/{{id}}/candidates while it ingests {load}, p99",
            _p(busy.candidates, 99),
            "ms",
            "recorded",
            f"{idle_name}, p99",
            _p(idle.candidates, 99),
        ),
        Figure(
            "node: GET /jobs/{id}/candidates, node idle, p50",
            _p(idle.candidates, 50),
            "ms",
            "",
            f"{raw}, p50",
            _p(idle.lookup, 50),
        ),
        Figure(
            "node: GET /jobs/{id}/candidates, node idle, p99",
            _p(idle.candidates, 99),
            "ms",
            "",
            f"{raw}, p99",
            _p(idle.lookup, 99),
        ),
        Figure(
            "extra: node: raw GET /jobs/{id} while ingesting, p99",
            _p(busy.lookup, 99),
            "ms",
            "",
            "node idle, p99",
            _p(idle.lookup, 99),
        ),
        Figure(
            "extra: bare GiST <-> LIMIT 50 at the job (this process → PostgreSQL) "
            "while the node ingests, p99",
            _p(busy.gist, 99),
            "ms",
            "",
            "node idle, p99",
            _p(idle.gist, 99),
        ),
        Figure(
            "extra: node: positions accepted while the candidates were timed",
            ingesting.accepted_per_s,
            RATE_UNIT,
            "",
            "offered (the apps' --rate)",
            INGEST_RATE,
        ),
        Figure(
            "extra: node: positions written to Redis meanwhile (its metric)",
            ingesting.written_per_s,
            RATE_UNIT,
            "",
            "accepted",
            ingesting.accepted_per_s,
        ),
        Figure(
            "extra: node: provider socket reads eased meanwhile "
            "(acionar_provider_reads_eased_total)",
            ingesting.eased,
            "pauses",
            "",
            "node idle",
            silent.eased,
        ),
        Figure(
            f"extra: node CPU while ingesting ({cores.describe()})",
            ingesting.node_cpu,
            "cores",
            "",
            "node idle",
            silent.node_cpu,
        ),
        Figure("extra: simulated apps' CPU while ingesting", ingesting.apps_cpu, "cores"),
        Figure(
            "extra: node: candidates answered with a live position while ingesting",
            100 * busy.live / max(busy.answered, 1),
            "%",
            "",
            "node idle",
            100 * idle.live / max(idle.answered, 1),
        ),
    ]


async def run(settings: Settings) -> list[Figure]:
    await _prepare(settings)
    store = await _live(settings)
    engine = make_engine(_url(settings, DATABASE), pool_size=2)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, MirrorFeed(store).running() as feed:
            started = time.perf_counter()
            await feed.wait_ready()
            mirror_s = time.perf_counter() - started
            keeper = CatalogueKeeper(sessions, reload_s=3600.0, warm=[(Weights(), DEFAULT_OPTIONS)])
            started = time.perf_counter()
            catalogue = await keeper.current()  # as a server's first search: load, sort cells
            load_s = time.perf_counter() - started
            gc.collect()
            gc.freeze()  # as the server does after start-up (server.app)
            cold_ms, cold_bare_ms = await _measure(session, feed, catalogue, _points(3))
            search_ms, bare_ms = await _measure(session, feed, catalogue, _points(4))
            gc.unfreeze()
            visible_ms = await _visible_ms(feed)
            per_position, apply_us = _mirror_costs(feed)
    finally:
        await engine.dispose()
        keys = [k async for k in store.client.scan_iter(match=f"{PREFIX}*")]
        for i in range(0, len(keys), 1000):
            await store.client.unlink(*keys[i : i + 1000])
        await store.client.aclose()
    bare_p99 = _p(bare_ms, 99)
    return [
        Figure(
            f"exact top 20 in 20 km of {PROVIDERS:,}, p50",
            _p(search_ms, 50),
            "ms",
            "",
            "bare GiST <-> LIMIT 50 p50",
            _p(bare_ms, 50),
        ),
        Figure(
            f"exact top 20 in 20 km of {PROVIDERS:,}, p99",
            _p(search_ms, 99),
            "ms",
            "p99 < 15 ms and ≤ 10× bare",
            "bare GiST <-> LIMIT 50 p99",
            bare_p99,
        ),
        Figure(
            "extra: first pass after loading, p99",
            _p(cold_ms, 99),
            "ms",
            "",
            "bare GiST p99, first pass",
            _p(cold_bare_ms, 99),
        ),
        Figure(f"extra: load the catalogue of {PROVIDERS:,} providers, cells sorted", load_s, "s"),
        Figure(f"extra: load the live mirror ({len(feed.mirror):,} positions)", mirror_s, "s"),
        Figure("extra: live mirror memory per position", per_position, "bytes"),
        Figure("extra: position written → in the mirror, p50", _p(visible_ms, 50), "ms"),
        Figure("extra: position written → in the mirror, p99", _p(visible_ms, 99), "ms"),
        Figure("extra: live mirror, apply one published position", apply_us, "µs"),
        *_node_figures(*await _node(settings)),
    ]
