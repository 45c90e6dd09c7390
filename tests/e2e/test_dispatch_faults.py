"""Dispatch through faults: a server killed (SIGKILL) in the middle of an automatic
dispatch, and Redis going away while offers are made. PostgreSQL holds the truth;
nothing is lost, duplicated, or left open past its time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import httpx
import orjson
import pytest
from sqlalchemy import select

from operations.auto_plan import RunStatus
from operations.models import DispatchRun, DispatchSettings, Job, Offer
from operations.offers import OPEN
from registry.enums import Channel
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import (
    Sessions,
    app_socket,
    dispatch_world,
    login,
    new_job,
    next_frame,
)
from tests.support.proxy import TcpProxy
from tests.support.server import running_server

pytestmark = pytest.mark.slow
FAST = {"AUTO_DISPATCH_POLL_S": "0.1", "OFFER_SWEEP_S": "0.2", "OUTBOX_POLL_S": "0.2"}


async def _offers(db: Sessions, job_id: int) -> list[Offer]:
    async with db() as session:
        stmt = select(Offer).where(Offer.job_id == job_id).order_by(Offer.id)
        return list((await session.execute(stmt)).scalars())


async def _run(db: Sessions, job_id: int) -> DispatchRun | None:
    async with db() as session:
        return await session.get(DispatchRun, job_id)


async def test_a_node_killed_mid_dispatch_is_taken_over(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, 3)
    async with db() as session, session.begin():
        session.add(
            DispatchSettings(
                client_id=world["client"],
                auto_enabled=True,
                offer_timeout_s=10,
                max_attempts=3,
                radius_steps_km=[30],
            )
        )
    logs = tmp_path_factory.mktemp("kill")
    with running_server(settings, logs, **FAST) as first:
        apps = [await app_socket(first.port, f"t{i}") for i in range(3)]
        async with httpx.AsyncClient(base_url=first.url) as http:
            await login(http)
            job_id = await new_job(http, world)
        deadline = time.monotonic() + unit(15)
        while not await _offers(db, job_id):  # the run made its first offer
            assert time.monotonic() < deadline, (
                f"no offer made: {vars(await _run(db, job_id) or object())}"
            )
            await asyncio.sleep(0.05)
        first.proc.kill()  # SIGKILL: no shutdown, no goodbye
        first.proc.wait()
        for ws in apps:
            await ws.close()
    made_before = await _offers(db, job_id)
    assert len(made_before) == 1

    with running_server(settings, logs, **FAST) as second:
        apps = [await app_socket(second.port, f"t{i}") for i in range(3)]
        deadline = time.monotonic() + unit(60)
        while True:  # the new node sweeps, steps, offers again, and finally gives up
            run = await _run(db, job_id)
            assert run is not None
            if run.status is not RunStatus.ACTIVE:
                break
            assert time.monotonic() < deadline, "the dispatch did not go on"
            await asyncio.sleep(0.2)
        offers = await _offers(db, job_id)
        assert run.status is RunStatus.GAVE_UP and run.attempts == 3
        assert len(offers) == 3  # none lost, none duplicated
        assert len({o.provider_id for o in offers}) == 3
        assert all(o.status not in OPEN for o in offers)  # none left pending
        for offer in offers:
            assert offer.closed_at is not None
            assert offer.closed_at <= offer.expires_at + timedelta(seconds=unit(3))
        async with db() as session:
            job = await session.get(Job, job_id)
            assert job is not None and job.status.value == "attempts_exceeded"
        for ws in apps:
            await ws.close()


async def test_offers_reach_apps_after_redis_comes_back(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.APP,))
    [pid] = world["p"]
    host, port = settings.effective_redis_url.split("//")[1].split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    await proxy.up()
    database = settings.effective_redis_url.rsplit("/", 1)[1]
    env = {**FAST, "REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{database}"}
    logs = tmp_path_factory.mktemp("redis-outage")
    stack = contextlib.ExitStack()
    try:
        # Started from a thread: the proxy forwards in this event loop, which a
        # waiting-for-ready in it would block.
        node = await asyncio.to_thread(stack.enter_context, running_server(settings, logs, **env))
        ws = await app_socket(node.port, "t0")
        async with httpx.AsyncClient(base_url=node.url, timeout=unit(20)) as http:
            await login(http)
            job_id = await new_job(http, world)
            await proxy.down()  # Redis is gone: its connections drop
            await ws.close()
            ws = await app_socket(node.port, "t0")  # the app reconnects meanwhile
            made = await http.post(
                f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "app"}
            )
            assert made.status_code == 201, made.text  # this node holds its socket
            await asyncio.sleep(1.0)
            await proxy.up()  # Redis is back: the outbox relays the offer
            offer = await next_frame(ws, "offer")
            assert offer["offer"]["offer_id"] == made.json()["id"]
            accept = {"type": "offer.accept", "seq": 1, "offer_id": made.json()["id"], "eta_min": 5}
            await ws.send(orjson.dumps(accept))
            assert (await next_frame(ws, "result"))["code"] == "accepted"
        await ws.close()
        async with db() as session:
            job = await session.get(Job, job_id)
            assert job is not None and job.provider_id == pid
    finally:
        await proxy.down()
        await asyncio.to_thread(stack.close)
