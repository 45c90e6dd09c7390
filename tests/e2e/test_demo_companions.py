"""``acionar serve --demo`` starts the simulated providers beside the server once it
is ready, and stops them with it (``make run``'s demo that moves)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from sqlalchemy import update

from realtime.store import LiveStore
from registry import models as m
from registry.enums import Channel
from server.settings import PROJECT_ROOT, Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import Sessions, dispatch_world
from tests.support.server import free_port

pytestmark = pytest.mark.slow
DEMO_PASSWORD = "demo1234"  # what the simulator signs in with by default (the seeded demo's)


def _companions_of(port: int) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-f", f"clients.provider_app_sim.providers --url http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.split()


def _serve_demo(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--demo"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_serve_demo_runs_the_simulated_providers_and_stops_them(
    settings: Settings, db: Sessions, redis: aioredis.Redis, tmp_path: object
) -> None:
    world = await dispatch_world(db, 3, channels=(Channel.APP,))
    demo_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(DEMO_PASSWORD)
    async with db() as session, session.begin():
        await session.execute(update(m.User).values(password_hash=demo_hash))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.effective_database_url,
        "REDIS_URL": settings.effective_redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "DEMO_CALLS": "false",
        "DEMO_SIM_PROVIDERS": "3",
    }
    server = _serve_demo(port, env)
    store = LiveStore(redis, settings.redis_prefix)
    try:
        deadline = time.monotonic() + unit(60)
        while not all((await store.online(world["p"])).values()):
            assert server.poll() is None, "the server stopped"
            assert time.monotonic() < deadline, "the demo providers never came online"
            await asyncio.sleep(0.2)
        assert _companions_of(port), "the simulator runs beside the server"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=unit(30))
    assert server.returncode == 0
    deadline = time.monotonic() + unit(10)
    while _companions_of(port):
        assert time.monotonic() < deadline, "the simulator outlived the server"
        await asyncio.sleep(0.1)
