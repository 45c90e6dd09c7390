"""The operators' console under load, in Debian's Chromium: how soon a bus event is
on screen.

The server runs with 5,000 provider apps connected and streaming positions (the
simulator, pinned to the first core as in the other benchmarks) and 300 jobs
waiting for a provider. One console tab shows the Painel de Acionamento (300 rows,
re-rendered on every change and every second), another the live map with the 5,000
providers moving on its canvas. Each sample registers a job through the HTTP API and
times, in each tab, until the page has it: the row in the panel's table, the marker
in the map's job layer. Clocks: the page's ``Date.now()`` and this process's
``time.time()`` on the same machine.

The target's figure runs from the job's ``job.created`` event on the bus (as a
subscriber of this process saw it) to the page; the extras from the request that
registered the job (its transaction and the outbox relay included).

Baseline, in the same run: a bare Redis ``PUBLISH`` seen by a subscriber.

Beside them, the map tab's cost of one drawing of the providers' clusters (at the
map's opening zoom, 11: all of them grouped on the cluster canvas), which the page
pays on every frame where positions arrive and on every pan or zoom.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from playwright.async_api import Page, async_playwright

from bench.bench_dispatch import PASSWORD, bench_world, bus_baseline, percentile
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
from bench.report import Figure
from server.settings import Settings

DATABASE = "acionar_bench_console"
PREFIX = "acionar-bench-console:"
QUICK = os.environ.get("QUICK") == "1"
PROVIDERS = 1_000 if QUICK else 5_000
WAITING = 100 if QUICK else 300
SAMPLES = 20 if QUICK else 60
CHROMIUM = "/usr/bin/chromium"
SEEN_TIMEOUT_MS = 30_000
CLUSTER_DRAWS = 50
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Both tabs are on screen, as on an operator's two monitors: Chromium would
    # otherwise take the one behind for hidden and run its timers once a second.
    "--disable-backgrounding-occluded-windows",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
]

_WATCH = """(jobId) => new Promise((resolve) => {
  const done = () => resolve(Date.now());
  const has = () =>
    document.querySelector(`#waiting tr[data-job='${jobId}']`) ||
    window.acionar.state.page?.map?.jobs.has(jobId);
  if (has()) return done();
  const timer = setInterval(() => { if (has()) { clearInterval(timer); done(); } }, 5);
  setTimeout(() => { clearInterval(timer); resolve(null); }, TIMEOUT);
})""".replace("TIMEOUT", str(SEEN_TIMEOUT_MS))
# A 5 ms poll rather than a MutationObserver: the map draws on a canvas, not in the
# DOM; the poll costs the page ~1% of a core and adds at most 5 ms to a figure.

_CLUSTER_DRAWS = """(n) => {
  const layer = window.acionar.state.page.map.clusterLayer;
  const times = [];
  for (let i = 0; i < n; i += 1) {
    const start = performance.now();
    layer.redraw();
    times.push(performance.now() - start);
  }
  return { times, clusters: layer.clusters.length };
}"""


async def _job(http: httpx.AsyncClient, world: dict[str, int], i: int) -> int:
    incident = await http.post(
        "/incidents", json={"client_id": world["client"], "incident_type_id": world["kind"]}
    )
    job = await http.post(
        f"/incidents/{incident.json()['id']}/jobs",
        json={
            "service_type_id": world["tow"],
            "ad_hoc": True,
            "requester": {"name": "Ana", "phone": "11 98888-7777"},
            "origin": {
                "lat": CENTRE[0] + (i % 50) * 0.002,
                "lng": CENTRE[1] + (i // 50) * 0.002,
                "street": "Rua A",
            },
        },
    )
    assert job.status_code == 201, job.text
    return int(job.json()["id"])


async def _console(browser: Any, port: int, hash_: str) -> Page:
    context = await browser.new_context(
        locale="pt-BR", timezone_id="America/Sao_Paulo", viewport={"width": 1366, "height": 860}
    )
    page: Page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{port}/console")
    await page.fill("#login", "bench")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button")
    await page.wait_for_selector("#waiting")
    await page.evaluate(f"() => {{ location.hash = '{hash_}'; }}")
    return page


@dataclass
class Times:
    """Per sample, in ms: from the job's ``job.created`` on the bus, and from the
    request that registered it, until each tab had it."""

    bus_panel: list[float] = field(default_factory=list)
    bus_map: list[float] = field(default_factory=list)
    request_panel: list[float] = field(default_factory=list)
    request_map: list[float] = field(default_factory=list)
    providers_drawn: int = 0
    cluster_ms: list[float] = field(default_factory=list)
    clusters: int = 0


class BusWatch:
    """When this process's own bus subscriber saw each job's ``job.created``."""

    def __init__(self) -> None:
        self.seen: dict[int, asyncio.Future[float]] = {}

    def future(self, job_id: int) -> asyncio.Future[float]:
        return self.seen.setdefault(job_id, asyncio.get_running_loop().create_future())


@contextlib.asynccontextmanager
async def _bus_watch(settings: Settings) -> AsyncIterator[BusWatch]:
    watch = BusWatch()
    client = aioredis.Redis.from_url(settings.effective_redis_url)

    async def listen() -> None:
        async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(PREFIX + settings.bus_channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                at = time.time() * 1000
                event = orjson.loads(message["data"])
                if event.get("type") == "job.created":
                    future = watch.future(event["job"]["id"])
                    if not future.done():
                        future.set_result(at)

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()


async def _samples(settings: Settings, port: int, world: dict[str, int]) -> Times:
    times = Times()
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30) as http,
        async_playwright() as playwright,
        _bus_watch(settings) as bus,
    ):
        login = await http.post("/auth/login", json={"login": "bench", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        for i in range(WAITING):
            await _job(http, world, i)
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            panel = await _console(browser, port, "#/acionamento")
            await panel.wait_for_function(
                f"() => document.querySelectorAll('#waiting tbody tr').length >= {WAITING}",
                timeout=60_000,
            )
            live_map = await _console(browser, port, "#/mapa")
            await live_map.wait_for_function(
                "() => window.acionar.state.page?.map?.providers.size > 0", timeout=60_000
            )
            drawn = "() => window.acionar.state.page.map.providers.size"
            times.providers_drawn = int(await live_map.evaluate(drawn))
            await asyncio.sleep(3)  # positions flowing onto the map
            draws = await live_map.evaluate(_CLUSTER_DRAWS, CLUSTER_DRAWS)
            times.cluster_ms, times.clusters = draws["times"], int(draws["clusters"])
            for i in range(SAMPLES):
                job_id = await _next_id(http)
                watchers = [
                    asyncio.create_task(page.evaluate(_WATCH, job_id)) for page in (panel, live_map)
                ]
                await asyncio.sleep(0.05)  # the watchers are running in the pages
                sent = time.time() * 1000
                made = await _job(http, world, WAITING + i)
                assert made == job_id, (made, job_id)
                seen_panel, seen_map = await asyncio.gather(*watchers)
                assert seen_panel is not None and seen_map is not None, "never on screen"
                on_bus = await asyncio.wait_for(bus.future(job_id), 30)
                times.bus_panel.append(seen_panel - on_bus)
                times.bus_map.append(seen_map - on_bus)
                times.request_panel.append(seen_panel - sent)
                times.request_map.append(seen_map - sent)
        finally:
            await browser.close()
    return times


async def _next_id(http: httpx.AsyncClient) -> int:
    """The id the next job will get (the benchmark is the only writer)."""
    jobs = (await http.get("/jobs?page_size=1")).json()["items"]
    return int(jobs[0]["id"]) + 1 if jobs else 1


async def run(settings: Settings) -> list[Figure]:
    tokens = await create_database(settings, DATABASE, PROVIDERS)
    world = await bench_world(settings, DATABASE)
    await clear_redis(settings, PREFIX)
    db_url = database_url(settings, DATABASE)
    baseline = await bus_baseline(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="acionar-bench-console-") as tmp:
            logs = Path(tmp)
            cores = Cores.split()
            server = acionar_server(settings, db_url, PREFIX, logs, cpus=cores.server)
            async with server as (_, port):
                apps = generator(
                    port,
                    write_tokens(tokens, logs / "tokens.txt"),
                    logs,
                    "apps",
                    "--interval",
                    "5",
                    cpus=cores.generator,
                )
                async with apps as gen:
                    await all_connected(gen, PROVIDERS)
                    times = await _samples(settings, port, world)
    finally:
        await drop_database(settings, DATABASE)
        await clear_redis(settings, PREFIX)
    base = percentile(baseline, 0.99)
    load = f"{WAITING} waiting jobs, {PROVIDERS:,} apps streaming"
    drawn = f"{times.providers_drawn:,} providers drawn"
    median = statistics.median
    return [
        Figure(
            f"bus event → row on the Painel de Acionamento, p99 ({load})",
            percentile(times.bus_panel, 0.99),
            "ms",
            "< 500 ms",
            "Redis publish → subscriber p99",
            base,
        ),
        Figure("bus event → panel row, median", median(times.bus_panel), "ms"),
        Figure(
            f"bus event → marker on the live map, p99 ({drawn})",
            percentile(times.bus_map, 0.99),
            "ms",
            "< 500 ms",
            "Redis publish → subscriber p99",
            base,
        ),
        Figure("bus event → map marker, median", median(times.bus_map), "ms"),
        Figure(
            f"map: one drawing of the clusters, median ({drawn} as {times.clusters:,} marks)",
            median(times.cluster_ms),
            "ms",
            "< 16 ms (a frame)",
        ),
        Figure("map: one drawing of the clusters, p99", percentile(times.cluster_ms, 0.99), "ms"),
        Figure(
            "extra: job registration requested → panel row, p99",
            percentile(times.request_panel, 0.99),
            "ms",
        ),
        Figure(
            "extra: job registration requested → map marker, p99",
            percentile(times.request_map, 0.99),
            "ms",
        ),
    ]
