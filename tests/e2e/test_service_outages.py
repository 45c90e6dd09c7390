"""PostgreSQL and Redis going away while a provider streams and an operator works
(hardening issue, "Fault tests").

Each service is reached through a TCP proxy that the test cuts (every connection
dropped, nothing listening: what the server sees when PostgreSQL or Redis dies) and
restores. Meanwhile the API answers 503 with a pt-BR message, the provider app stays
connected, the server recovers by itself within seconds once the service is back,
and every write committed before, during (where the other service held) and after
the outage is in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection

from operations.models import Job
from registry.db import to_async_url
from registry.enums import Channel
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import Sessions, app_socket, dispatch_world, login, new_job
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
RECOVERY_S = 15.0  # the API must answer again within this long of the service's return
FAST = {
    "READY_TIMEOUT_S": "1",
    "DB_POOL_TIMEOUT_S": "1",
    "DB_CONNECT_TIMEOUT_S": "1",
    "REDIS_TIMEOUT_S": "1",
    "OUTBOX_POLL_S": "0.2",
}


@contextlib.asynccontextmanager
async def _node(settings: Settings, logs: object, **env: str) -> AsyncIterator[ServerProcess]:
    """A server process; started from a thread, since the proxy forwards in this loop."""
    stack = contextlib.ExitStack()
    try:
        yield await asyncio.to_thread(
            stack.enter_context,
            running_server(settings, logs, **FAST, **env),  # type: ignore[arg-type]
        )
    finally:
        await asyncio.to_thread(stack.close)


async def _streams(ws: ClientConnection, seq: int) -> None:
    """The app sends a fix and gets it acknowledged (positions live in Redis)."""
    fix = {"lat": -23.55 + seq * 1e-7, "lng": -46.63, "accuracy_m": 8.0}  # standing still
    await ws.send(
        orjson.dumps({"type": "pos", "seq": seq, "time_ms": int(time.time() * 1000), **fix})
    )
    async with asyncio.timeout(unit(5)):
        while True:
            frame = orjson.loads(await ws.recv())
            if frame["type"] == "ack" and frame["seq"] == seq:
                assert frame["accepted"] == 1, frame
                return


async def _recovers(attempt: Callable[[], Awaitable[httpx.Response]], ok: int) -> float:
    """Seconds until ``attempt`` answers ``ok`` again (fails after RECOVERY_S)."""
    started = time.monotonic()
    while True:
        response = await attempt()
        if response.status_code == ok:
            return time.monotonic() - started
        assert response.status_code == 503, response.text
        assert time.monotonic() - started < unit(RECOVERY_S), "never recovered"
        await asyncio.sleep(0.2)


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "indisponível" in error["message"]


async def _jobs_in(db: Sessions, ids: list[int]) -> list[int]:
    async with db() as session:
        found = await session.scalars(select(Job.id).where(Job.id.in_(ids)))
        return sorted(found)


async def test_a_postgresql_outage_answers_503_and_heals_by_itself(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.APP,))
    url = make_url(to_async_url(settings.effective_database_url))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.up()
    through = url.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        async with (
            _node(settings, tmp_path_factory.mktemp("pg-outage"), DATABASE_URL=through) as node,
            httpx.AsyncClient(base_url=node.url, timeout=unit(20)) as http,
        ):
            ws = await app_socket(node.port, "t0")
            await login(http)
            before = await new_job(http, world)
            await _streams(ws, 1)

            await proxy.down()  # PostgreSQL is gone
            _unavailable(await http.get("/api/v1/jobs"))
            _unavailable(
                await http.post(
                    "/api/v1/incidents",
                    json={"client_id": world["client"], "incident_type_id": world["kind"]},
                )
            )
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "postgresql" in ready.json()["failed"]
            await _streams(ws, 2)  # the app stays connected; positions still flow

            await proxy.up()  # PostgreSQL is back
            await _recovers(lambda: http.get("/api/v1/jobs"), 200)
            after = await new_job(http, world)
            await _streams(ws, 3)
            await ws.close()
        assert await _jobs_in(db, [before, after]) == sorted([before, after])
    finally:
        await proxy.down()


async def test_a_redis_outage_keeps_jobs_committing_and_heals_by_itself(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.APP,))
    host, port = settings.effective_redis_url.split("//")[1].split("/")[0].split(":")
    database = settings.effective_redis_url.rsplit("/", 1)[1]
    proxy = TcpProxy(host, int(port))
    await proxy.up()
    through = f"redis://127.0.0.1:{proxy.port}/{database}"
    try:
        async with (
            _node(settings, tmp_path_factory.mktemp("redis-outage"), REDIS_URL=through) as node,
            httpx.AsyncClient(base_url=node.url, timeout=unit(20)) as http,
        ):
            ws = await app_socket(node.port, "t0")
            await login(http)
            before = await new_job(http, world)

            await proxy.down()  # Redis is gone
            during = await new_job(http, world)  # jobs still commit (events wait in the outbox)
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "redis" in ready.json()["failed"]

            await proxy.up()  # Redis is back
            await _recovers(lambda: http.get("/readyz"), 200)
            after = await new_job(http, world)
            with contextlib.suppress(Exception):
                await ws.close()
            ws = await app_socket(node.port, "t0")  # the app reconnects and streams
            await _streams(ws, 1)
            await ws.close()
        assert await _jobs_in(db, [before, during, after]) == sorted([before, during, after])
    finally:
        await proxy.down()
