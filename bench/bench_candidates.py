"""Candidate search: 100,000 providers in the São Paulo box, radius 20 km, top 20.

Target (issue 4): exact top 20 by score with p99 under 15 ms, and no more than 10 ×
the p99 of a bare PostGIS ``ORDER BY loc <-> point LIMIT 50`` GiST query over the
same points, measured in the same run.

Data: providers spread over lat −24.0..−23.2, lng −47.0..−46.2 (denser near the
centre), all serving one service type, 200 of them partners of the client, 30 % with a
fresh live position in Redis. Kept in the database ``acionar_bench_candidates``
(reused when already full) and under its own Redis prefix.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import asyncpg
import h3
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bench.report import Figure
from geo.catalogue import Catalogue
from geo.ranking import Weights
from geo.search import SearchQuery
from geo.source import find_candidates, load_catalogue
from realtime.filter import PositionFix
from realtime.store import LiveStore, now_ms
from registry.db import make_engine, make_sessionmaker, to_async_url
from server.migrate import upgrade
from server.settings import Settings

DATABASE = "acionar_bench_candidates"
PROVIDERS = 100_000
LIVE_SHARE = 0.3
BUSY_SHARE = 0.1
FRESH_S = 120.0
QUERIES = 300
WARMUP = 30
RADIUS_KM = 20.0
TOP = 20
BOX = (-24.0, -23.2, -47.0, -46.2)
PREFIX = "acionar-bench-candidates:"


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
        if await conn.fetchval("SELECT count(*) FROM providers") >= PROVIDERS:
            return
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
        lat = min(max(rng.gauss(-23.6, 0.18), BOX[0]), BOX[1])
        lng = min(max(rng.gauss(-46.6, 0.18), BOX[2]), BOX[3])
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


async def _measure(
    session: AsyncSession, store: LiveStore, catalogue: Catalogue
) -> tuple[list[float], list[float]]:
    rng = random.Random(3)
    points = [(rng.uniform(-23.75, -23.45), rng.uniform(-46.8, -46.45)) for _ in range(QUERIES)]
    weights = Weights()
    bare = text(
        "SELECT id FROM providers ORDER BY base_location <-> "
        "ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography LIMIT 50"
    )
    search_ms: list[float] = []
    bare_ms: list[float] = []
    for i, (lat, lng) in enumerate(points):
        query = SearchQuery(lat, lng, 1, 1, RADIUS_KM, TOP, weights)
        started = time.perf_counter()
        await find_candidates(catalogue, store, query, fresh_s=FRESH_S)
        s = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        await session.execute(bare, {"lat": lat, "lng": lng})
        b = (time.perf_counter() - started) * 1000
        if i >= WARMUP:
            search_ms.append(s)
            bare_ms.append(b)
    return search_ms, bare_ms


async def run(settings: Settings) -> list[Figure]:
    await _prepare(settings)
    store = await _live(settings)
    engine = make_engine(_url(settings, DATABASE), pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session:
            started = time.perf_counter()
            catalogue = await load_catalogue(session)
            load_s = time.perf_counter() - started
            search_ms, bare_ms = await _measure(session, store, catalogue)
    finally:
        await engine.dispose()
        keys = [k async for k in store.client.scan_iter(match=f"{PREFIX}*")]
        for i in range(0, len(keys), 1000):
            await store.client.unlink(*keys[i : i + 1000])
        await store.client.aclose()
    bare_p99 = _p(bare_ms, 99)
    return [
        Figure(
            "exact top 20 in 20 km, p50",
            _p(search_ms, 50),
            "ms",
            "",
            "bare GiST <-> LIMIT 50 p50",
            _p(bare_ms, 50),
        ),
        Figure(
            "exact top 20 in 20 km, p99",
            _p(search_ms, 99),
            "ms",
            "p99 < 15 ms and ≤ 10× bare",
            "bare GiST <-> LIMIT 50 p99",
            bare_p99,
        ),
        Figure("extra: load the catalogue of 100,000 providers", load_s, "s"),
    ]
