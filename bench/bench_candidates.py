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

The same search through a real server node while it ingests 10k positions/s:
:mod:`bench.candidates_node`.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import time
import tracemalloc

import asyncpg
import h3
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bench.candidates_node import BOX, base_point, node_figures
from bench.report import Figure
from geo.catalogue import Catalogue
from geo.ranking import DEFAULT_OPTIONS, Weights
from geo.search import SearchQuery
from geo.source import CatalogueKeeper, find_candidates
from realtime.filter import PositionFix
from realtime.mirror import LiveMirror, MirrorFeed
from realtime.store import LiveStore, now_ms
from registry.db import make_engine, make_sessionmaker, to_async_url
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
PREFIX = "acionar-bench-candidates:"
APPLY_BATCH = 500  # positions per published message (the writer's flush_max)
VISIBILITY_PROBES = 200
PROBE_ID = PROVIDERS + 1  # not in the catalogue: the probes do not disturb searches


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
        lat, lng = base_point(rng)
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
        *await node_figures(settings),
    ]
