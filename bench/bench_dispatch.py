"""Dispatch latency with 5,000 provider apps connected and streaming positions.

* **offer delivery**: from the operator's ``POST /api/v1/jobs/{id}/offers`` until the
  provider's app socket has the ``offer`` frame (the HTTP request, the transaction,
  the outbox, the relay, the bus, the node's hub, the socket);
* **accept → panel**: from the app sending ``offer.accept`` until a panel's bus
  subscriber sees the ``offer.status`` event of the accepted offer;
* **automatic dispatch step**: one step of a due run (claim the job and the run
  with ``SKIP LOCKED``, rank the candidates among 5,000 live providers, make the
  offer, commit), timed in a process of its own on the same database and Redis,
  set up as a node is once started (catalogue loaded, live mirror following the
  apps' positions, the garbage collector settled as ``server.app`` does), each at a
  random point of the default timer period after its job was registered, as a
  node's timer takes it.

The baselines, measured in the same run: a bare Redis ``PUBLISH`` seen by a
subscriber (the floor of anything that crosses the bus); for the step, a bare
PostgreSQL round trip (a prepared ``SELECT 1``) from the stepping process between
its steps (the floor of each of a step's statements), and the step's CPU in that
process is recorded beside its wall time.

Everything runs on the one machine: the server, the simulator driving the other
apps, PostgreSQL, Redis and this process share its cores, as they would not in
production. The simulator (which stands for phones, not for anything the platform
runs) is pinned to the first core, so that it never takes more than one; the
server, PostgreSQL, Redis and this process (the platform) run wherever the
scheduler puts them. Unlike the ingest benchmark, which compares the server with a
bare one under the same shares, the server is not pinned to the remaining cores:
on a two-core machine that would be one core for the server while the other node,
PostgreSQL and Redis run on both, a share no deployment has.
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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from websockets.asyncio.client import ClientConnection, connect

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
from bench.report import Figure
from geo.ranking import ScoreOptions, Weights
from geo.source import CatalogueKeeper
from operations import auto_dispatch
from operations.candidates import CandidateFinder
from operations.gateways import ManualClock
from operations.service import Operations, Policy
from realtime.mirror import MirrorFeed
from realtime.store import LiveStore
from registry.db import make_engine, make_sessionmaker
from registry.permissions import ADMIN, ROLE_PERMISSIONS
from server.app import GC_THRESHOLDS
from server.dispatching import LiveReach
from server.settings import Settings

DATABASE = "acionar_bench_dispatch"
PREFIX = "acionar-bench-dispatch:"
QUICK = os.environ.get("QUICK") == "1"
PROVIDERS = 1_000 if QUICK else 5_000
MEASURED = 40
"""Apps of the benchmark itself (they receive offers and accept); the simulator
runs the others."""
SAMPLES = 60 if QUICK else 200
WARM_SAMPLES = 10
"""Offers not timed: a node's first ones prepare each statement on each pooled
connection (asyncpg's statement cache), which a running node has done long ago."""
STEPS = 40 if QUICK else 150
WARM_STEPS = 5
"""Steps not timed (first compilations of the statements, as any node's first)."""
ROUND_TRIPS_PER_STEP = 5
"""Bare PostgreSQL round trips timed after each timed step (the step's own floor)."""
STEP_POLL_S = Settings().auto_dispatch_poll_s
"""A step is taken at a random point of this period after its job's registration,
as a node's automatic dispatch timer (``AUTO_DISPATCH_POLL_S``) takes it."""
PASSWORD = "bench-dispatch"
SERVER_ENV = {"OUTBOX_POLL_S": "1.0", "AUTO_DISPATCH_POLL_S": "3600", "DB_POOL_SIZE": "20"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def bench_world(settings: Settings, database: str) -> dict[str, int]:
    """A client, an incident type, a tow every provider prices, an admin."""
    conn = await asyncpg.connect(_dsn(settings, database))
    try:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
        role = await conn.fetchval(
            "INSERT INTO roles (name, permissions) VALUES ($1, $2) RETURNING id",
            ADMIN,
            sorted(ROLE_PERMISSIONS[ADMIN]),
        )
        await conn.execute(
            "INSERT INTO users (login, name, password_hash, role_id) "
            "VALUES ('bench', 'Bench', $1, $2)",
            cheap,
            role,
        )
        client = await conn.fetchval(
            "INSERT INTO clients (cnpj, trade_name, legal_name) "
            "VALUES ('11222333000181', 'Bench', 'Bench SA') RETURNING id"
        )
        kind = await conn.fetchval("INSERT INTO incident_types (name) VALUES ('Pane') RETURNING id")
        tow = await conn.fetchval(
            "INSERT INTO service_types (code, name, target) "
            "VALUES ('reboque', 'Reboque', 'vehicle') RETURNING id"
        )
        await conn.execute(
            "INSERT INTO provider_services "
            "(provider_id, service_type_id, departure_fee, price_per_km) "
            "SELECT id, $1, 100, 3 FROM providers",
            tow,
        )
        await conn.execute("UPDATE providers SET max_active_jobs = 20, working_radius_km = 200")
        await conn.execute("INSERT INTO cancellation_reasons (name) VALUES ('Bench')")
        return {"client": client, "kind": kind, "tow": tow}
    finally:
        await conn.close()


async def new_job(http: httpx.AsyncClient, world: dict[str, int]) -> int:
    """An incident and a tow 1 km north of the centre (``http`` under /api/v1)."""
    incident = await http.post(
        "/incidents", json={"client_id": world["client"], "incident_type_id": world["kind"]}
    )
    job = await http.post(
        f"/incidents/{incident.json()['id']}/jobs",
        json={
            "service_type_id": world["tow"],
            "ad_hoc": True,
            "requester": {"name": "Ana", "phone": "11 98888-7777"},
            "origin": {"lat": CENTRE[0] + 0.01, "lng": CENTRE[1], "street": "Rua A"},
        },
    )
    return int(job.json()["id"])


async def bus_baseline(settings: Settings) -> list[float]:
    """Bare Redis publish → subscriber, in ms."""
    channel = PREFIX + "baseline"
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    seen: dict[int, float] = {}
    try:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(channel)
            sent: dict[int, float] = {}
            for i in range(SAMPLES):
                sent[i] = time.perf_counter()
                await client.publish(channel, orjson.dumps({"i": i}))
                while i not in seen:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        seen[orjson.loads(message["data"])["i"]] = time.perf_counter()
            return [(seen[i] - sent[i]) * 1000 for i in range(SAMPLES)]
    finally:
        await client.aclose()


class Panel:
    """When a panel's bus subscriber saw each accepted offer's event."""

    def __init__(self) -> None:
        self.seen: dict[int, asyncio.Future[float]] = {}

    def _future(self, offer_id: int) -> asyncio.Future[float]:
        return self.seen.setdefault(offer_id, asyncio.get_running_loop().create_future())

    def saw(self, offer_id: int, at: float) -> None:
        future = self._future(offer_id)
        if not future.done():
            future.set_result(at)

    async def wait(self, offer_id: int) -> float:
        return await asyncio.wait_for(self._future(offer_id), 30)


@contextlib.asynccontextmanager
async def _panel(settings: Settings) -> AsyncIterator[Panel]:
    """A panel's bus subscriber, running."""
    seen = Panel()
    client = aioredis.Redis.from_url(settings.effective_redis_url)

    async def listen() -> None:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(PREFIX + settings.bus_channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                event = orjson.loads(message["data"])
                if event.get("type") == "offer.status" and event["offer"]["status"] == "accepted":
                    seen.saw(event["offer"]["id"], time.perf_counter())

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()


async def _frame(ws: ClientConnection, kind: str) -> tuple[dict[str, Any], float]:
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if frame["type"] == kind:
                return frame, time.perf_counter()


@dataclass
class OfferTimes:
    """Per timed sample, in ms: the offer's delivery to the app and the POST's
    answer, the panel's sight of the accept and the app's ``result``."""

    delivery: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)
    accept: list[float] = field(default_factory=list)
    result: list[float] = field(default_factory=list)


async def _offers(port: int, tokens: list[str], world: dict[str, int], panel: Panel) -> OfferTimes:
    apps = []
    for token in tokens[:MEASURED]:
        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/provider",
            subprotocols=["acionar.v1"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token}"},
            max_queue=None,
        )
        welcome, _ = await _frame(ws, "welcome")
        apps.append((welcome["provider_id"], ws))
    times = OfferTimes()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30) as http:
        login = await http.post("/auth/login", json={"login": "bench", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        for i in range(WARM_SAMPLES + SAMPLES):
            provider_id, ws = apps[i % len(apps)]
            job_id = await new_job(http, world)
            started = time.perf_counter()
            made = await http.post(
                f"/jobs/{job_id}/offers", json={"provider_id": provider_id, "channel": "app"}
            )
            answered = time.perf_counter()
            assert made.status_code == 201, made.text
            frame, got = await _frame(ws, "offer")
            timed = i >= WARM_SAMPLES
            if timed:
                times.delivery.append((got - started) * 1000)
                times.answered.append((answered - started) * 1000)
            offer_id = frame["offer"]["offer_id"]
            sent = time.perf_counter()
            await ws.send(
                orjson.dumps({"type": "offer.accept", "seq": i, "offer_id": offer_id, "eta_min": 9})
            )
            await _frame(ws, "result")
            answered = time.perf_counter()
            seen = await panel.wait(offer_id)
            if timed:
                times.result.append((answered - sent) * 1000)
                times.accept.append((seen - sent) * 1000)
            await http.post(f"/jobs/{job_id}/cancel", json={"cancellation_reason_id": 1})
    for _, ws in apps:
        await ws.close()
    return times


@dataclass
class StepTimes:
    """Per timed step, in ms: its wall time and this process's CPU time over it;
    and bare PostgreSQL round trips (a prepared ``SELECT 1``) from this process
    between the steps, the floor of each of a step's statements."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    round_trip: list[float] = field(default_factory=list)


async def _round_trips(ping: asyncpg.prepared_stmt.PreparedStatement, times: StepTimes) -> None:
    for _ in range(ROUND_TRIPS_PER_STEP):
        started = time.perf_counter()
        await ping.fetchval()
        times.round_trip.append((time.perf_counter() - started) * 1000)


async def _steps(settings: Settings, db_url: str, world: dict[str, int], port: int) -> StepTimes:
    """Time automatic dispatch steps in this process (another node of the same
    platform), with the real candidate search over the live positions."""
    engine = make_engine(db_url, pool_size=5)
    sessions = make_sessionmaker(engine)
    store = LiveStore(aioredis.Redis.from_url(settings.effective_redis_url), PREFIX)
    keeper = CatalogueKeeper(sessions, reload_s=3600)
    times = StepTimes()
    bare = await asyncpg.connect(_dsn(settings, DATABASE))
    ping = await bare.prepare("SELECT 1")  # prepared once, as a node's statements are
    pacing = random.Random(STEPS)
    settled: tuple[int, int, int] | None = None
    try:
        async with MirrorFeed(store).running() as feed, keeper.running():
            await feed.wait_ready()
            await keeper.current()  # loaded once at start, as a node does
            settled = _settle_collector()
            clock = ManualClock(datetime.now(UTC))
            ops = Operations(sessions, clock=clock, policy=Policy(), reach=LiveReach(store, 120.0))
            ops.candidates = CandidateFinder(
                keeper, feed, store, weights=Weights(), options=ScoreOptions(), fresh_s=120.0
            )
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1") as http:
                login = await http.post(
                    "/auth/login", json={"login": "bench", "password": PASSWORD}
                )
                http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
                await http.put(
                    f"/clients/{world['client']}/dispatch-settings",
                    json={"auto_enabled": True, "radius_steps_km": [5, 20], "max_attempts": 3},
                )
                for i in range(WARM_STEPS + STEPS):
                    incident = await http.post(
                        "/incidents",
                        json={"client_id": world["client"], "incident_type_id": world["kind"]},
                    )
                    job = await http.post(
                        f"/incidents/{incident.json()['id']}/jobs",
                        json={
                            "service_type_id": world["tow"],
                            "ad_hoc": True,
                            "requester": {"name": "Ana", "phone": "11 98888-7777"},
                            "origin": {
                                "lat": CENTRE[0],
                                "lng": CENTRE[1] + 0.01,
                                "street": "Rua B",
                            },
                        },
                    )
                    # A node's timer takes the step at some point of its poll period
                    # after the registration, not in the instant the server is still
                    # relaying the registration's events.
                    await asyncio.sleep(pacing.uniform(0.0, STEP_POLL_S))
                    clock.set(datetime.now(UTC) + timedelta(seconds=1))
                    started, cpu = time.perf_counter(), time.process_time()
                    async with ops.unit() as uow:
                        taken = await auto_dispatch.step(uow, job.json()["id"])
                    if i >= WARM_STEPS:
                        times.wall.append((time.perf_counter() - started) * 1000)
                        times.cpu.append((time.process_time() - cpu) * 1000)
                        await _round_trips(ping, times)
                    assert taken == 1
    finally:
        if settled is not None:
            gc.unfreeze()
            gc.set_threshold(*settled)
        await bare.close()
        await store.client.aclose()
        await engine.dispose()
    return times


def _settle_collector() -> tuple[int, int, int]:
    """What a node does once started (server.app): what lives on is kept out of the
    collector's full passes, with the node's thresholds. Returns the old thresholds."""
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return old


async def run(settings: Settings) -> list[Figure]:
    tokens = await create_database(settings, DATABASE, PROVIDERS)
    world = await bench_world(settings, DATABASE)
    await clear_redis(settings, PREFIX)
    db_url = database_url(settings, DATABASE)
    baseline = await bus_baseline(settings)
    base_p99 = percentile(baseline, 0.99)
    try:
        with tempfile.TemporaryDirectory(prefix="acionar-bench-dispatch-") as tmp:
            logs = Path(tmp)
            cores = Cores.split()
            server = acionar_server(settings, db_url, PREFIX, logs, cpus=None, **SERVER_ENV)
            async with server as (_, port):
                others = write_tokens(tokens[MEASURED:], logs / "tokens.txt")
                apps = generator(
                    port, others, logs, "apps", "--interval", "5", cpus=cores.generator
                )
                async with apps as gen:
                    await all_connected(gen, PROVIDERS - MEASURED)
                    async with _panel(settings) as panel:
                        times = await _offers(port, tokens, world, panel)
                    steps = await _steps(settings, db_url, world, port)
    finally:
        await drop_database(settings, DATABASE)
        await clear_redis(settings, PREFIX)
    live = f"{PROVIDERS:,} apps connected, streaming a position every 5 s"
    return [
        Figure(
            f"offer delivery p99 ({live})",
            percentile(times.delivery, 0.99),
            "ms",
            "< 50 ms",
            "Redis publish → subscriber p99",
            base_p99,
        ),
        Figure("offer delivery median", statistics.median(times.delivery), "ms"),
        Figure("extra: offer POST answered, median", statistics.median(times.answered), "ms"),
        Figure(
            "accept → panel's bus event p99",
            percentile(times.accept, 0.99),
            "ms",
            "< 100 ms",
            "Redis publish → subscriber p99",
            base_p99,
        ),
        Figure("accept → panel median", statistics.median(times.accept), "ms"),
        Figure("extra: accept → app's result, median", statistics.median(times.result), "ms"),
        Figure(
            f"automatic dispatch step p99 (claim, rank {PROVIDERS:,} live, offer)",
            percentile(steps.wall, 0.99),
            "ms",
            "< 30 ms",
            "bare PostgreSQL round trip meanwhile, p99",
            percentile(steps.round_trip, 0.99),
        ),
        Figure(
            "automatic dispatch step median",
            statistics.median(steps.wall),
            "ms",
            baseline_name="bare PostgreSQL round trip meanwhile, median",
            baseline_value=statistics.median(steps.round_trip),
        ),
        Figure(
            "extra: automatic dispatch step, CPU of the stepping process, median",
            statistics.median(steps.cpu),
            "ms",
        ),
    ]
