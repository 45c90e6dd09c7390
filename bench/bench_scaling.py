"""Beyond one machine: two server nodes behind one address (bench/balancer.py).

1. **Ingest, 1 node and then 2.** Node A alone behind the balancer, then nodes A
   and B behind it (round robin: the simulator's apps dealt half and half). In
   each: (a) saturated, the simulator's callback apps send stop-and-wait as fast as
   acks allow (:data:`WINDOW_S` after :data:`WARMUP_S`): fixes/s the nodes
   accepted (their ``ack`` counts), positions/s they wrote to Redis (their own
   ``acionar_positions_written_total`` in ``GET /metrics``), each node's share,
   the CPU of every process and of the machine; (b) paced, the task-based apps at
   :data:`PACED_RATE` positions/s in total: send → ``ack`` p50/p99 (the
   simulator's sample of that run, connections included) and the nodes' CPU per
   position; (c) not with ``QUICK=1``, saturated again with one simulator per node
   and no balancer (a Python balancer costs as much CPU as the simulator).
2. **Cross-node offer delivery.** With A and B running and the simulator's apps
   (spread over both through the balancer) streaming a fix every 5 s, the
   benchmark's own :data:`MEASURED` apps connect directly, half to A, half to B;
   the operator's ``POST /api/v1/jobs/{id}/offers`` always goes to A; samples
   alternate between an app on A (same node) and an app on B (cross node); each
   time is from the POST until the app has the ``offer`` frame. Baseline: a bare
   Redis ``PUBLISH`` seen by a subscriber (bench_dispatch's), in the same run.

Pinning on two cores (:class:`bench.bench_ingest.Cores`): the simulator, the
balancer and this process on core 0 (they stand for phones and a load balancer);
every node on core 1. The servers' share of the machine is the same one core with
one node or two: the ratio of rates says what being two nodes costs per position,
not what a second machine would add (docs/scaling.md reads it). PostgreSQL and
Redis are not pinned.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

from bench.bench_dispatch import PASSWORD, bench_world, bus_baseline, new_job
from bench.bench_ingest import (
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
from bench.report import Figure, format_quantity
from bench.scaling_figures import Deliveries, Ingest, Saturated, ingest_figures, offer_figures
from clients.provider_app_sim.processes import (
    Child,
    child,
    cpu_s,
    free_port,
    raise_open_file_limit,
)
from server.settings import PROJECT_ROOT, Settings

NOTES = """\
How to read these figures (details in `bench/bench_scaling.py`; what they mean for a
fleet: [scaling.md](scaling.md)). Server nodes are `acionar serve` processes on one
PostgreSQL and one Redis; the simulator reaches them through one address,
`bench/balancer.py` (a layer-4 round-robin proxy in asyncio, standing for HAProxy:
deploy/), which deals its apps half and half to two nodes.

* **This machine has 2 cores.** The simulator, the balancer and the benchmark run
  on core 0, every node on core 1; PostgreSQL and Redis are unpinned, and so is
  anything else running on the machine (the *machine CPU* rows: 2.0 means both
  cores were busy, with whatever ran). One node and two nodes get the *same* core,
  so the 2-node figures say what being two nodes costs at equal CPU (each node
  also applies the other's positions to its live mirror), not what a second
  machine adds: a ratio near 1.0 means that nodes add up, below 1.0 by how much
  less. A Python balancer costs about as much CPU as the simulator: in the
  saturated rows the simulator and the balancer on core 0, not the nodes, limit
  the rate (the CPU rows say who was saturated); the *no balancer* rows (one
  simulator per node) take the balancer out. In the 1-node runs node B runs
  beside node A with no apps (not behind the balancer): its CPU is what one more
  node costs by itself (its timers, and its mirror applying A's positions).
* **accepted positions/s**: fixes the nodes acknowledged as accepted (the `ack`s'
  counts, summed by the simulator); **written to Redis**: the nodes' own
  `acionar_positions_written_total`. Saturated, an app sends its next fix as soon
  as the last is acknowledged; a node's writer keeps only each provider's newest
  fix, and when the node's core is full (the *no balancer* rows) the node runs
  late and eases off reading its sockets (docs/operations.md, "An overloaded
  node") so that the writer keeps up: the `ack`s slow down instead of Redis's copy
  going stale (compare written with accepted). **Paced**, every app
  sends a fix every few seconds as in the field (written = accepted): the nodes'
  CPU per position there is what docs/scaling.md's capacity model uses, and
  **ack p99** is the simulator's send → `ack` through the balancer.
* **offer delivery**: `POST /jobs/{id}/offers` to node A → the app has `offer`;
  *cross node*: the app's socket is on node B (the event crosses Redis to B's bus);
  *same node*: on A. Both go through the outbox relay and Redis pub/sub, so the
  difference is small; the rest of the machine's load is in both.
"""
"""Rendered under this section's stamp in docs/benchmarks.md (bench.report)."""

DATABASE = "acionar_bench_scaling"
PREFIX = "acionar-bench-scaling:"
QUICK = os.environ.get("QUICK") == "1"
MEASURED = 20
"""Apps of the benchmark itself (offers); the simulator runs the others."""
PROVIDERS = (400 if QUICK else 5_000) + MEASURED
WARMUP_S = 1.5 if QUICK else 5.0
"""Load before counting starts (every app is connected by then)."""
WINDOW_S = 4.0 if QUICK else 20.0
"""Seconds over which positions are counted."""
PACED_RATE = 1_000.0 if QUICK else 2_000.0
"""Total positions/s of the paced run (ack p99)."""
SAMPLES = 20 if QUICK else 200
"""Timed offers of each kind (same node, cross node)."""
WARM_SAMPLES = 6
"""Offers not timed (first statements prepared on each pooled connection)."""
FRAME_TIMEOUT_S = 30.0
"""Longest wait for an app's frame."""
BALANCER_READY_S = 10.0
ENGINE = ("--engine", "callbacks")
BESIDE = "node beside"
"""In the 1-node runs, node B runs too, with no apps: its CPU (its timers, and its
mirror applying node A's positions) is what one more node costs by itself."""
SERVER_ENV = {"OUTBOX_POLL_S": "1.0", "AUTO_DISPATCH_POLL_S": "3600", "DB_POOL_SIZE": "20"}


# --- processes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """A running server process and its port."""

    process: Child
    port: int


@contextlib.asynccontextmanager
async def balancer(
    ports: Sequence[int], logs: Path, *, cpus: Set[int] | None
) -> AsyncIterator[tuple[Child, int]]:
    """``python -m bench.balancer`` in front of ``ports``, listening; yields it and its
    port."""
    port = free_port()
    args = ["-m", "bench.balancer", "--port", str(port)]
    for backend in ports:
        args += ["--backend", f"127.0.0.1:{backend}"]
    async with child(f"balancer-{port}", args, logs, cwd=PROJECT_ROOT, cpus=cpus) as proc:
        await proc.wait_line(lambda line: "connections" in line, BALANCER_READY_S, "not listening")
        yield proc, port


async def written_all(nodes: Sequence[Node]) -> tuple[list[float], float]:
    """Every node's ``acionar_positions_written_total``, and the monotonic time
    halfway through the reads."""
    started = time.monotonic()
    counts = [await written(n.port) for n in nodes]
    return counts, (started + time.monotonic()) / 2


async def written(port: int) -> float:
    """A node's ``acionar_positions_written_total`` (loopback may read /metrics)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    for line in text.splitlines():
        if line.startswith("acionar_positions_written_total "):
            return float(line.split()[1])
    raise RuntimeError("no acionar_positions_written_total in /metrics")


async def redis_pid(settings: Settings) -> int | None:
    """Redis's process id, when it runs on this machine where we can see it."""
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    try:
        pid = int((await client.info("server"))["process_id"])
    finally:
        await client.aclose()
    return pid if _is_redis(pid) else None


def _is_redis(pid: int) -> bool:
    try:
        return "redis" in Path(f"/proc/{pid}/comm").read_text()
    except OSError:  # not on this machine, or not ours to see
        return False


# --- ingest ----------------------------------------------------------------------------


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores; ``/proc/stat``)."""
    with Path("/proc/stat").open() as stat:
        fields = [int(v) for v in stat.readline().split()[1:8]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """CPU seconds of named processes (and groups of them), and of the whole
    machine (``machine``), between two instants."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def _now(self) -> dict[str, float]:
        used = {name: sum(cpu_s(pid) for pid in pids) for name, pids in self.pids.items()}
        return {**used, "machine": machine_busy_s()}

    def start(self) -> None:
        self._start, self._wall = self._now(), time.monotonic()

    def cores(self) -> dict[str, float]:
        wall = time.monotonic() - self._wall
        return {name: (v - self._start[name]) / wall for name, v in self._now().items()}


@dataclass(frozen=True, slots=True)
class Load:
    """A simulator process's target: a port and the tokens of its apps."""

    port: int
    tokens: Path
    apps: int


async def forget_positions(settings: Settings) -> None:
    """Delete the stored positions, so that a new run's apps are not judged against
    where another run left them (the position filter continues from the stored fix:
    an app dealt a different start point would look like a jump)."""
    client = aioredis.Redis.from_url(settings.effective_redis_url)
    try:
        await client.unlink(f"{PREFIX}pos")
    finally:
        await client.aclose()


async def _saturated(
    nodes: Sequence[Node], loads: Sequence[Load], logs: Path, cores: Cores, pids: dict[str, int]
) -> Saturated:
    """Every load's apps send as fast as acks allow; counted over :data:`WINDOW_S`."""
    result = Saturated()
    options = ["--load", "--window", "1", *ENGINE]
    async with contextlib.AsyncExitStack() as stack:
        gens = [
            await stack.enter_async_context(
                generator(
                    load.port,
                    load.tokens,
                    logs,
                    f"load-{load.port}",
                    *options,
                    cpus=cores.generator,
                )
            )
            for load in loads
        ]
        started = time.monotonic()
        for gen, load in zip(gens, loads, strict=True):
            await all_connected(gen, load.apps)
        result.connect_s = time.monotonic() - started
        await asyncio.sleep(WARMUP_S)
        sampler = Sampler(
            {
                "nodes": [n.process.pid for n in nodes],
                **{f"node {i + 1}": [n.process.pid] for i, n in enumerate(nodes)},
                "simulator": [gen.pid for gen in gens],
                **{k: [v] for k, v in pids.items()},
            }
        )
        first = [await g.latest() for g in gens]
        before, t0 = await written_all(nodes)
        sampler.start()
        await asyncio.sleep(WINDOW_S)
        last = [await g.latest() for g in gens]
        after, t1 = await written_all(nodes)
        result.cpu = sampler.cores()
    result.accepted = sum(
        (b["accepted"] - a["accepted"]) / (b["elapsed_s"] - a["elapsed_s"])
        for a, b in zip(first, last, strict=True)
    )
    result.rejected = sum(sum(b.get("rejected", {}).values()) for b in last)
    counted = [b - a for a, b in zip(before, after, strict=True)]
    result.written = sum(counted) / (t1 - t0)
    result.shares = [c / max(sum(counted), 1.0) for c in counted]
    return result


async def _paced(
    nodes: Sequence[Node],
    port: int,
    tokens: Path,
    logs: Path,
    cores: Cores,
    result: Ingest,
    pids: dict[str, int],
) -> None:
    """The apps send :data:`PACED_RATE` positions/s in total (each app a fix every
    few seconds, as in the field: nothing to coalesce); ack times and the nodes' CPU
    per position."""
    options = ["--rate", str(PACED_RATE), "--window", "1"]
    name = f"paced-{result.nodes}-nodes"
    async with generator(port, tokens, logs, name, *options, cpus=cores.generator) as gen:
        await all_connected(gen, PROVIDERS - MEASURED)
        await asyncio.sleep(WARMUP_S)
        sampler = Sampler(
            {"nodes": [n.process.pid for n in nodes], **{k: [v] for k, v in pids.items()}}
        )
        first = await gen.latest()
        before, t0 = await written_all(nodes)
        sampler.start()
        await asyncio.sleep(WINDOW_S)
        last = await gen.latest()
        after, t1 = await written_all(nodes)
        cpu = sampler.cores()
    result.paced = (last["accepted"] - first["accepted"]) / (last["elapsed_s"] - first["elapsed_s"])
    result.paced_written = sum(b - a for a, b in zip(before, after, strict=True)) / (t1 - t0)
    result.paced_cpu = cpu["nodes"]
    result.paced_machine = cpu["machine"]
    result.paced_beside = cpu.get(BESIDE)
    result.ack_p50_ms = float(last.get("rtt_p50_ms") or 0.0)
    result.ack_p99_ms = float(last.get("rtt_p99_ms") or 0.0)


def split_tokens(tokens: Sequence[str], parts: int, logs: Path) -> list[tuple[Path, int]]:
    """``tokens`` dealt into ``parts`` files (as round robin deals connections)."""
    return [
        (write_tokens(tokens[k::parts], logs / f"tokens-{parts}-{k}.txt"), len(tokens[k::parts]))
        for k in range(parts)
    ]


async def ingest(
    settings: Settings,
    nodes: Sequence[Node],
    tokens: Sequence[str],
    logs: Path,
    cores: Cores,
    pids: dict[str, int],
) -> Ingest:
    """Through a balancer in front of ``nodes``: saturated, then paced; then (not
    with ``QUICK=1``) saturated again with one simulator per node, no balancer."""
    result = Ingest(len(nodes))
    (everyone, count), *_ = split_tokens(tokens, 1, logs)
    async with balancer([n.port for n in nodes], logs, cpus=cores.generator) as (proc, port):
        loads = [Load(port, everyone, count)]
        with_balancer = {**pids, "balancer": proc.pid}
        await forget_positions(settings)
        result.balanced = await _saturated(nodes, loads, logs, cores, with_balancer)
        await forget_positions(settings)
        await _paced(nodes, port, everyone, logs, cores, result, pids)
    if not QUICK:
        parts = split_tokens(tokens, len(nodes), logs)
        loads = [Load(n.port, path, apps) for n, (path, apps) in zip(nodes, parts, strict=True)]
        await forget_positions(settings)
        result.direct = await _saturated(nodes, loads, logs, cores, pids)
    _show(result)
    return result


def _show(result: Ingest) -> None:
    for how, window in (("balanced", result.balanced), ("direct", result.direct)):
        if window is None:
            continue
        cpu = ", ".join(f"{name} {value:.2f}" for name, value in window.cpu.items())
        print(
            f"[bench] scaling: {result.nodes} node(s), {how}: accepted {window.accepted:.0f}/s "
            f"(written {window.written:.0f}/s, shares {[round(s, 2) for s in window.shares]}); "
            f"CPU {cpu}; rejected {window.rejected}",
            flush=True,
        )
    print(
        f"[bench] scaling: {result.nodes} node(s): paced {result.paced:.0f}/s "
        f"(written {result.paced_written:.0f}/s, nodes' CPU {result.paced_cpu:.2f}, "
        f"machine {result.paced_machine:.2f}, beside {result.paced_beside}), "
        f"ack p50 {result.ack_p50_ms:.1f} ms, p99 {result.ack_p99_ms:.1f} ms",
        flush=True,
    )


# --- offers ----------------------------------------------------------------------------


async def _frame(ws: ClientConnection, kind: str, job_id: int | None = None) -> dict[str, Any]:
    """The next frame of ``kind`` (of ``job_id``'s offer, for ``offer``)."""
    async with asyncio.timeout(FRAME_TIMEOUT_S):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if frame["type"] != kind:
                continue
            if job_id is None or frame["offer"]["job_id"] == job_id:
                return frame


@dataclass
class App:
    """One of the benchmark's own apps, and whether its socket is on node B."""

    provider_id: int
    ws: ClientConnection
    cross: bool


async def _apps(ports: tuple[int, int], tokens: Sequence[str]) -> list[App]:
    apps = []
    for k, token in enumerate(tokens[:MEASURED]):
        cross = k % 2 == 1
        ws = await connect(
            f"ws://127.0.0.1:{ports[cross]}/ws/provider",
            subprotocols=["acionar.v1"],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token}"},
            max_queue=None,
        )
        apps.append(App((await _frame(ws, "welcome"))["provider_id"], ws, cross))
    return apps


async def offers(
    nodes: tuple[Node, Node], tokens: Sequence[str], world: dict[str, int]
) -> Deliveries:
    """Offers made on node A to apps on A and on B, alternately."""
    apps = await _apps((nodes[0].port, nodes[1].port), tokens)
    times = Deliveries()
    base = f"http://127.0.0.1:{nodes[0].port}/api/v1"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            login = await http.post("/auth/login", json={"login": "bench", "password": PASSWORD})
            http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            for i in range(WARM_SAMPLES + 2 * SAMPLES):
                app = apps[i % len(apps)]
                job_id = await new_job(http, world)
                started = time.perf_counter()
                body = {"provider_id": app.provider_id, "channel": "app"}
                made = await http.post(f"/jobs/{job_id}/offers", json=body)
                assert made.status_code == 201, made.text
                await _frame(app.ws, "offer", job_id)
                took = (time.perf_counter() - started) * 1000
                if i >= WARM_SAMPLES:
                    (times.cross if app.cross else times.same).append(took)
                cancelled = await http.post(
                    f"/jobs/{job_id}/cancel", json={"cancellation_reason_id": 1}
                )
                assert cancelled.status_code == 200, cancelled.text
    finally:
        for app in apps:
            await app.ws.close()
    return times


# --- the run ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def node(settings: Settings, db_url: str, logs: Path, cores: Cores) -> AsyncIterator[Node]:
    """A server node of the benchmark's platform, ready."""
    server = acionar_server(settings, db_url, PREFIX, logs, cpus=cores.server, **SERVER_ENV)
    async with server as (process, port):
        yield Node(process, port)


async def _measure(
    settings: Settings,
    db_url: str,
    tokens: list[str],
    world: dict[str, int],
    logs: Path,
    cores: Cores,
) -> tuple[Ingest, Ingest, Deliveries]:
    """Ingest on node A alone (B beside it, idle), then on A and B; then offers
    with A and B loaded."""
    simulated = write_tokens(tokens[MEASURED:], logs / "tokens.txt")
    pid = await redis_pid(settings)
    pids = {"redis": pid} if pid is not None else {}
    async with node(settings, db_url, logs, cores) as a, node(settings, db_url, logs, cores) as b:
        beside = {**pids, BESIDE: b.process.pid}
        one = await ingest(settings, [a], tokens[MEASURED:], logs, cores, beside)
        two = await ingest(settings, [a, b], tokens[MEASURED:], logs, cores, pids)
        await forget_positions(settings)
        streaming = ("--interval", "5")
        async with (
            balancer([a.port, b.port], logs, cpus=cores.generator) as (_, port),
            generator(port, simulated, logs, "apps", *streaming, cpus=cores.generator) as gen,
        ):
            await all_connected(gen, PROVIDERS - MEASURED)
            times = await offers((a, b), tokens, world)
    return one, two, times


async def run(settings: Settings) -> list[Figure]:
    """Ingest with 1 node then 2 behind the balancer; offers across nodes."""
    raise_open_file_limit()
    cores = Cores.split()
    if cores.generator is not None:
        os.sched_setaffinity(0, cores.generator)  # this process drives and counts
    tokens = await create_database(settings, DATABASE, PROVIDERS)
    world = await bench_world(settings, DATABASE)
    await clear_redis(settings, PREFIX)
    try:
        baseline = await bus_baseline(settings)
        with tempfile.TemporaryDirectory(prefix="acionar-bench-scaling-") as tmp:
            db_url = database_url(settings, DATABASE)
            one, two, times = await _measure(settings, db_url, tokens, world, Path(tmp), cores)
    finally:
        await drop_database(settings, DATABASE)
        await clear_redis(settings, PREFIX)
    apps = PROVIDERS - MEASURED
    figures = [
        *ingest_figures(one, two, apps=apps, paced_rate=PACED_RATE),
        *offer_figures(times, baseline),
    ]
    for figure in figures:
        print(f"[bench] scaling: {figure.name}: {format_quantity(figure.value, figure.unit)}")
    return figures
