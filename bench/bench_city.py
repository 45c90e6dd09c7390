"""The city scenario (``acionar sim city``) as a benchmark: does the ranking get
providers to beneficiaries sooner than sending the nearest one?

A database of its own with the demo assistance (``acionar seed-demo``), one server,
the demo providers' simulated apps answering (``acionar sim providers --mint``, at
``TIME_SCALE``), and the same seed of calls played twice: with the client's
configured ranking, then with the nearest provider only, the *baseline* of each
figure. The second run starts where the first left the providers (positions,
scorecards): the comparison is as fair as one machine and one afternoon allow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from pathlib import Path

from bench.bench_ingest import (
    _admin,
    acionar_server,
    clear_redis,
    database_url,
    drop_database,
)
from bench.report import Figure
from clients.city_scenario.outcomes import Summary
from clients.city_scenario.scenario import NEAREST_ONLY, ScenarioConfig, run_once, text_progress
from clients.provider_app_sim.processes import child
from server.demo import seed_demo_command
from server.migrate import upgrade
from server.settings import PROJECT_ROOT, Settings

NOTES = """
The same seed of calls (São Paulo neighbourhoods, a light tow each) played twice
against the demo assistance while its 200 app providers are simulated at 3× speed:
first with the client's configured ranking (distance, on-time and acceptance rates,
preference, partnership), then with the nearest provider only, whose figures stand
in the baseline column. Times are real seconds at that speed. The second run
starts where the first left the providers, so small differences mean little; the
quick run has a handful of calls.
"""

QUICK = os.environ.get("QUICK") == "1"
DATABASE = "acionar_bench_city"
PREFIX = "bench-city:"
TIME_SCALE = 3.0  # providers live 3× faster; their road fixes still pass the filter
PROVIDERS = 200
RATE_PER_MIN = 6.0 if QUICK else 3.0
DURATION_S = 60.0 if QUICK else 900.0
DRAIN_S = 360.0 if QUICK else 1200.0
SEED = 2026
DEMO_PASSWORD = "demo1234"


def _figures(configured: Summary, nearest: Summary) -> list[Figure]:
    rows = (
        ("jobs", "jobs", ""),
        ("jobs completed", "completed", ""),
        ("jobs no provider took", "not_taken", "fewer"),
        ("time to accept p50", "accept_p50_s", "lower"),
        ("time to accept p90", "accept_p90_s", "lower"),
        ("offers per job", "attempts_mean", "fewer"),
        ("time to arrival p50", "arrival_p50_s", "lower"),
        ("arrived on time", "on_time_rate", "higher"),
        ("empty km per job", "empty_km_mean", "lower"),
    )
    units = {"jobs": "", "completed": "", "not_taken": "", "attempts_mean": ""}
    units |= {"on_time_rate": "share", "empty_km_mean": "km"}
    figures = []
    for name, attribute, better in rows:
        value, base = getattr(configured, attribute), getattr(nearest, attribute)
        figures.append(
            Figure(
                name,
                float("nan") if value is None else float(value),
                units.get(attribute, "s"),
                target=f"{better} than nearest-only" if better else "",
                baseline_name="nearest provider only",
                baseline_value=None if base is None else float(base),
            )
        )
    return figures


async def _seed(settings: Settings) -> str:
    await drop_database(settings, DATABASE)
    await _admin(settings, f'CREATE DATABASE "{DATABASE}"')
    url = database_url(settings, DATABASE)
    await asyncio.to_thread(upgrade, url)
    await seed_demo_command(dataclasses.replace(settings, database_url=url))
    return url


async def run(settings: Settings) -> list[Figure]:
    url = await _seed(settings)
    await clear_redis(settings, PREFIX)
    logs = Path(tempfile.mkdtemp(prefix="bench-city-"))
    try:
        async with acionar_server(settings, url, PREFIX, logs, AUTO_DISPATCH_POLL_S="0.5") as (
            _,
            port,
        ):
            base = f"http://127.0.0.1:{port}"
            fleet = [
                *("-m", "clients.provider_app_sim.providers", "--url", base, "--mint"),
                *("--count", str(PROVIDERS), "--time-scale", str(TIME_SCALE)),
                *("--seed", str(SEED), "--stats-every", "30"),
            ]
            async with child("fleet", fleet, logs, cwd=PROJECT_ROOT):
                await asyncio.sleep(15)  # the fleet connects and reports its first fixes
                config = ScenarioConfig(
                    base_url=base,
                    login="admin",
                    password=DEMO_PASSWORD,
                    client_id=None,
                    rate_per_min=RATE_PER_MIN,
                    duration_s=DURATION_S,
                    seed=SEED,
                    drain_s=DRAIN_S,
                )
                configured = await run_once(config, None, text_progress)
                nearest = await run_once(config, NEAREST_ONLY, text_progress)
        print(f"[city] configured {configured}\n[city] nearest {nearest}", flush=True)
        return _figures(configured, nearest)
    finally:
        await drop_database(settings, DATABASE)
        await clear_redis(settings, PREFIX)
