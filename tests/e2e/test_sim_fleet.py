"""The provider simulator in answering mode against a real server: 50 simulated
providers take automatically dispatched jobs through to ``completed``; and 50
connected providers ride out a server restart, their buffered positions arriving
in order."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from clients.provider_app_sim import (
    Answering,
    AppConfig,
    AppState,
    MovementConfig,
    Stats,
    build_fleet,
)
from clients.provider_app_sim.movement import Vehicle, destination
from clients.provider_app_sim.phone import SmsNetwork
from clients.provider_app_sim.portal import PortalProvider
from clients.provider_app_sim.profiles import ProfileKnobs
from operations.lifecycle import ActorKind, JobStatus
from operations.models import DispatchSettings, Job, JobTransition, Offer
from operations.offers import OPEN, OfferStatus
from realtime.store import LiveStore
from registry.enums import Channel
from server.settings import PROJECT_ROOT, Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import PASSWORD, Sessions, dispatch_world, login, provider_user
from tests.support.fleet import eventually, running
from tests.support.server import free_port, running_server, server_on

pytestmark = pytest.mark.slow
FAST = {"AUTO_DISPATCH_POLL_S": "0.1", "OFFER_SWEEP_S": "0.2", "OUTBOX_POLL_S": "0.1"}
CENTRE = (-23.55, -46.63)
PROVIDERS = 50
JOBS = 8
TIME_SCALE = 100.0
"""Most of two minutes of the providers' life per second: a job's drive, work and
tow take seconds (their fixes on the road then imply more than 200 km/h: the server rejects
those as ``implied_speed``, as docs/simulator.md says)."""


async def _job(http: httpx.AsyncClient, world: dict[str, object], rng: random.Random) -> int:
    """A tow within 1.5 km of the centre, to a destination 0.5 to 1 km further."""
    origin = destination(*CENTRE, rng.uniform(0, 360), rng.uniform(200, 1500))
    dest = destination(*origin, rng.uniform(0, 360), rng.uniform(500, 1000))
    incident = await http.post(
        "/api/v1/incidents", json={"client_id": world["client"], "incident_type_id": world["kind"]}
    )
    assert incident.status_code == 201, incident.text
    job = await http.post(
        f"/api/v1/incidents/{incident.json()['id']}/jobs",
        json={
            "service_type_id": world["tow"],
            "ad_hoc": True,
            "requester": {"name": "Ana", "phone": "11 98888-7777"},
            "origin": {"lat": origin[0], "lng": origin[1], "street": "Rua Vergueiro"},
            "destination": {"lat": dest[0], "lng": dest[1], "street": "Av. Ibirapuera"},
        },
    )
    assert job.status_code == 201, job.text
    return int(job.json()["id"])


async def _provider_moves(db: Sessions, job_id: int) -> list[tuple[str, Channel | None]]:
    """The job's moves made by its provider: (status reached, channel), in order."""
    async with db() as session:
        moves = await session.scalars(
            select(JobTransition).where(JobTransition.job_id == job_id).order_by(JobTransition.id)
        )
        return [(m.to_status.value, m.channel) for m in moves if m.actor is ActorKind.PROVIDER]


async def _jobs(db: Sessions, ids: list[int]) -> list[Job]:
    async with db() as session:
        rows = await session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id))
        return list(rows)


async def test_fifty_simulated_providers_take_auto_dispatched_jobs_to_completed(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, PROVIDERS)
    async with db() as session, session.begin():
        session.add(
            DispatchSettings(
                client_id=world["client"],
                auto_enabled=True,
                offer_timeout_s=10,
                max_attempts=10,
                batch_size=2,  # two offers out at once: the first accept wins
                radius_steps_km=[5, 30],
            )
        )
    logs = tmp_path_factory.mktemp("sim-fleet")
    with running_server(settings, logs, **FAST) as server:
        fleet = build_fleet(
            f"ws://127.0.0.1:{server.port}/ws/provider",
            [f"t{i}" for i in range(PROVIDERS)],
            movement=MovementConfig(centre=CENTRE, radius_m=2000, jitter=0.3, poor_fix_p=0.02),
            config=AppConfig(interval_s=1.0, time_scale=TIME_SCALE, compression=False),
            answering=Answering(
                reason_ids=(world["reason"],), seed=7, knobs=ProfileKnobs(ignore_bias=0.5)
            ),
            seed=7,
        )
        stats = fleet.stats
        async with running(fleet), httpx.AsyncClient(base_url=server.url) as http:
            await eventually(
                lambda: stats.connected == PROVIDERS, unit(15), "the fleet never connected"
            )
            await login(http)
            rng = random.Random(11)
            started = time.monotonic()
            ids = [await _job(http, world, rng) for _ in range(JOBS)]
            deadline = started + unit(50)
            while True:
                jobs = await _jobs(db, ids)
                if all(
                    job.status in (JobStatus.COMPLETED, JobStatus.ATTEMPTS_EXCEEDED) for job in jobs
                ):
                    break
                assert time.monotonic() < deadline, (
                    f"jobs still going: {[(j.id, j.status.value) for j in jobs]}; "
                    f"duty {dict(stats.duty)}"
                )
                await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
            print(f"{JOBS} jobs done in {elapsed:.1f} s; duty {dict(sorted(stats.duty.items()))}")

    completed = [job for job in jobs if job.status is JobStatus.COMPLETED]
    # attempts_exceeded (ten providers asked, none took it) is the documented way a
    # job ends without a provider; with these profiles it should not happen at all.
    assert len(completed) == JOBS, [(j.id, j.status.value) for j in jobs]
    async with db() as session:
        offers = list(await session.scalars(select(Offer).where(Offer.job_id.in_(ids))))
        moves = list(
            await session.scalars(
                select(JobTransition)
                .where(JobTransition.job_id.in_(ids))
                .order_by(JobTransition.job_id, JobTransition.id)
            )
        )
    assert offers and not [o for o in offers if o.status in OPEN], "no offer left pending"
    refused = [o for o in offers if o.status is OfferStatus.REFUSED]
    assert all(o.refusal_reason_id == world["reason"] for o in refused)
    for job in completed:
        accepted = [o for o in offers if o.job_id == job.id and o.status is OfferStatus.ACCEPTED]
        assert len(accepted) == 1, f"job {job.id}: one provider, never two"
        assert accepted[0].provider_id == job.provider_id
        assert accepted[0].eta_minutes is not None and accepted[0].eta_minutes >= 1
        by_provider = [
            m.to_status.value for m in moves if m.job_id == job.id and m.actor is ActorKind.PROVIDER
        ]
        # The accept assigns; then the app reports every step itself, in order.
        assert by_provider[-4:] == ["en_route", "on_site", "in_transit", "completed"], by_provider
        assert job.arrived_at is not None
    assert stats.duty["jobs_completed"] == JOBS
    assert stats.gave_up == 0 and all(app.state is AppState.STOPPED for app in fleet.apps)
    assert set(stats.errors) <= {"not_allowed"}, stats.errors


async def test_acionar_sim_providers_issues_device_tokens_and_runs_the_fleet(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, 3)
    await provider_user(db, world["p"][2], "guincho", "senha-do-guincho")
    logs = tmp_path_factory.mktemp("sim-cli")
    saved = logs / "tokens.txt"
    with running_server(settings, logs, **FAST) as server:
        command = [
            *("sim", "providers", "--url", server.url, "--mint", "--login", "admin"),
            *("--password", PASSWORD, "--count", "2", "--duration", "3", "--json"),
            *("--stats-every", "1", "--save-tokens", str(saved), "--interval", "0.5"),
            *("--portal", "guincho:senha-do-guincho"),
        ]
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "server.cli", *command],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=unit(30),
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "issued 2 device tokens"
    assert lines[1] == f"2 providers, refusal reasons [{world['reason']}]"
    last = orjson.loads(lines[-1])
    # Two apps and a portal page.
    assert last["connects"] == 3 and last["accepted"] > 0 and last["gave_up"] == 0
    tokens = [line for line in saved.read_text().splitlines() if not line.startswith("#")]
    assert len(tokens) == 2 and all(t.startswith("dt_") for t in tokens)
    assert f"# {world['p'][0]} Guincho 0" in saved.read_text()


async def test_a_simulated_provider_takes_and_completes_a_job_on_the_web_portal(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.WEB,))
    [pid] = world["p"]
    await provider_user(db, pid, "guincho", "senha-do-guincho")
    async with db() as session, session.begin():
        session.add(
            DispatchSettings(
                client_id=world["client"], auto_enabled=True, offer_timeout_s=10, max_attempts=3,
                radius_steps_km=[30], channels=[Channel.WEB],
            )
        )  # fmt: skip
    logs = tmp_path_factory.mktemp("sim-portal")
    with running_server(settings, logs, **FAST) as server:
        stats, stop = Stats(), asyncio.Event()
        rng = random.Random(5)
        portal = PortalProvider(
            server.url,
            "guincho",
            "senha-do-guincho",
            vehicle=Vehicle(MovementConfig(centre=CENTRE, radius_m=2000), rng),
            answering=Answering(seed=5, knobs=ProfileKnobs(accept_bias=10, ignore_bias=0)),
            rng=rng,
            stats=stats,
            time_scale=TIME_SCALE,
        )
        task = asyncio.create_task(portal.run(stop))
        try:
            await eventually(lambda: portal.connects == 1, unit(10), "the portal never opened")
            async with httpx.AsyncClient(base_url=server.url) as http:
                await login(http)
                [job_id] = [await _job(http, world, random.Random(2))]
            deadline = time.monotonic() + unit(40)
            while (job := (await _jobs(db, [job_id]))[0]).status is not JobStatus.COMPLETED:
                assert time.monotonic() < deadline, f"{job.status.value}; {dict(stats.duty)}"
                await asyncio.sleep(0.2)
            # The portal hears the reply to its last status a moment after the commit.
            await eventually(lambda: stats.duty["jobs_completed"] == 1, unit(5), str(stats.duty))
        finally:
            stop.set()
            await asyncio.wait_for(task, unit(10))
    assert portal.provider_id == pid and job.provider_id == pid
    own = await _provider_moves(db, job_id)
    assert own == [
        ("assigned", Channel.WEB), ("en_route", Channel.WEB), ("on_site", Channel.WEB),
        ("in_transit", Channel.WEB), ("completed", Channel.WEB),
    ]  # fmt: skip
    assert stats.duty["jobs_completed"] == 1 and not stats.errors


async def test_a_simulated_phone_takes_and_completes_a_job_by_its_sms_link(
    settings: Settings, db: Sessions, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The server's HTTP SMS adapter sends the offer's link to the simulated SMS
    network; the phone's owner opens it, accepts and reports every status by link."""
    world = await dispatch_world(db, 1, channels=(Channel.LINK,))
    async with db() as session, session.begin():
        session.add(
            DispatchSettings(
                client_id=world["client"], auto_enabled=True, offer_timeout_s=10, max_attempts=3,
                radius_steps_km=[30], channels=[Channel.LINK],
            )
        )  # fmt: skip
    sms_port = free_port()
    sms = {"SMS_GATEWAY": "http", "SMS_HTTP_URL": f"http://127.0.0.1:{sms_port}/sms"}
    logs = tmp_path_factory.mktemp("sim-phone")
    stats, stop = Stats(), asyncio.Event()
    network = SmsNetwork(
        "127.0.0.1",
        sms_port,
        movement=MovementConfig(centre=CENTRE, radius_m=2000),
        answering=Answering(seed=5, knobs=ProfileKnobs(accept_bias=10, ignore_bias=0)),
        seed=5,
        stats=stats,
        time_scale=TIME_SCALE,
    )
    task = asyncio.create_task(network.run(stop))
    try:
        with running_server(settings, logs, **FAST, **sms) as server:
            async with httpx.AsyncClient(base_url=server.url) as http:
                await login(http)
                job_id = await _job(http, world, random.Random(3))
            deadline = time.monotonic() + unit(40)
            while (job := (await _jobs(db, [job_id]))[0]).status is not JobStatus.COMPLETED:
                assert time.monotonic() < deadline, f"{job.status.value}; {dict(stats.duty)}"
                await asyncio.sleep(0.2)
            # The phone shows the last page (the job completed) a moment after the commit.
            await eventually(lambda: stats.duty["jobs_completed"] == 1, unit(5), str(stats.duty))
    finally:
        stop.set()
        await asyncio.wait_for(task, unit(10))
    # The provider's phone, and the requester's, which got the tracking link.
    assert sorted(network.phones) == ["+5511912345678", "+5511988887777"]
    assert stats.duty["sms_without_offer_link"] == 1 and job.provider_id == world["p"][0]
    own = await _provider_moves(db, job_id)
    assert own == [
        ("assigned", Channel.LINK), ("en_route", Channel.LINK), ("on_site", Channel.LINK),
        ("in_transit", Channel.LINK), ("completed", Channel.LINK),
    ]  # fmt: skip
    assert stats.duty["sms_received"] >= 1 and stats.duty["jobs_completed"] == 1, stats.duty
    assert not stats.errors, stats.errors


# -- a server restart under a connected fleet ---------------------------------------------


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
async def test_fifty_providers_reconnect_after_a_restart_and_deliver_their_buffer_in_order(
    settings: Settings,
    db: Sessions,
    redis: aioredis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
    how: str,
) -> None:
    world = await dispatch_world(db, PROVIDERS)
    logs = tmp_path_factory.mktemp(f"sim-restart-{how}")
    port = free_port()
    fleet = build_fleet(
        f"ws://127.0.0.1:{port}/ws/provider",
        [f"t{i}" for i in range(PROVIDERS)],
        movement=MovementConfig(centre=CENTRE, radius_m=2000),
        config=AppConfig(interval_s=0.5, compression=False, backoff_base_s=0.5, backoff_cap_s=4.0),
        answering=Answering(reason_ids=(world["reason"],), seed=3),
        seed=3,
    )
    stats = fleet.stats
    async with running(fleet):
        with server_on(settings, logs, port) as first:
            await asyncio.to_thread(first.wait_ready)
            await eventually(lambda: stats.connected == PROVIDERS, unit(15), "never connected")
            await eventually(lambda: stats.acks >= 2 * PROVIDERS, unit(5), "no acks")
            if how == "sigint":
                assert await asyncio.to_thread(first.interrupt) == 0
            else:
                first.proc.kill()
                await asyncio.to_thread(first.proc.wait)
        down_at = time.monotonic()
        await eventually(lambda: stats.connected == 0, unit(5), "the restart went unnoticed")
        await asyncio.sleep(unit(1.5))  # offline: every app buffers fixes
        assert all(len(app.buffer) >= 3 for app in fleet.apps)
        with server_on(settings, logs, port) as second:
            await asyncio.to_thread(second.wait_ready)
            await eventually(
                lambda: (
                    all(app.connects >= 2 for app in fleet.apps) and stats.connected == PROVIDERS
                ),
                unit(30),
                "not every provider reconnected within 30 s",
            )
            back_in = time.monotonic() - down_at
            await eventually(
                lambda: all(len(app.buffer) <= 2 for app in fleet.apps), unit(10), "backlog stuck"
            )
            print(f"{how}: all {PROVIDERS} back {back_in:.1f} s after the server went down")
            assert all(app.largest_batch >= 3 for app in fleet.apps), "the backlog went in batches"
            store = LiveStore(redis, settings.redis_prefix)
            for app in fleet.apps:
                assert app.provider_id is not None and app.last_acked is not None
                deadline = time.monotonic() + unit(2)
                while True:  # the server acks before its writer's next flush
                    stored = (await store.positions([app.provider_id]))[app.provider_id]
                    if stored.device_time_ms >= app.last_acked.time_ms:
                        break
                    assert time.monotonic() < deadline, f"{app.name}: newest fix not stored"
                    await asyncio.sleep(0.02)
    # Each app sent its buffer oldest first: the server, which rejects a fix older
    # than the newest it accepted (out_of_order), rejected none. A pos accepted
    # just before the server went down may come again (duplicate: harmless).
    assert stats.rejected.get("out_of_order", 0) == 0, stats.rejected
    assert set(stats.rejected) <= {"duplicate"}, stats.rejected
    assert stats.fixes_dropped == 0 and stats.gave_up == 0
    buffered = sum(len(app.buffer) for app in fleet.apps)
    assert stats.fixes_acked + buffered == stats.fixes_taken, "every fix acked or still held"
    assert world["p"]
