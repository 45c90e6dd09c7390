"""The candidate search through a real server node while it ingests (issue 13:
"candidate query also while ingesting 10k positions/s on the same node"), part of
``bench_candidates``.

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
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bench.bench_dispatch import PASSWORD, bench_world, new_job
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
from bench.report import RATE_UNIT, Figure
from clients.provider_app_sim.processes import Child, cpu_s, raise_open_file_limit
from registry.cells import point_cell
from registry.validation import make_cnpj
from server.settings import Settings

QUICK = os.environ.get("QUICK") == "1"
BOX = (-24.0, -23.2, -47.0, -46.2)
"""Where providers have their bases (as in ``bench_candidates``)."""

NODE_DATABASE = "acionar_bench_candidates_node"
NODE_PREFIX = "acionar-bench-candidates-node:"
NODE_PROVIDERS = 20_000 if QUICK else 100_000
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


def base_point(rng: random.Random) -> tuple[float, float]:
    """A provider's base in :data:`BOX`, denser near the centre."""
    lat = min(max(rng.gauss(-23.6, 0.18), BOX[0]), BOX[1])
    lng = min(max(rng.gauss(-46.6, 0.18), BOX[2]), BOX[3])
    return lat, lng


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


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
    points = [base_point(rng) for _ in range(NODE_PROVIDERS - APPS)]
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


async def node_figures(settings: Settings) -> list[Figure]:
    """The node's figures (its database, server and apps made and dropped here)."""
    return _node_figures(*await _node(settings))
