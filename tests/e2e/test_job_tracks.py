"""A provider on a job: its positions over the real socket become the job's track in
PostgreSQL, and it is flagged busy for candidate search; once the job is done,
neither."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from operations.models import TrackPoint
from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import Channel, PersonKind, ServiceTarget
from registry.permissions import ADMIN, ROLE_PERMISSIONS
from registry.validation import make_cnpj
from server.settings import Settings
from tests.conftest import unit
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
Sessions = async_sessionmaker[AsyncSession]
TOKEN = "dt_track-test-token"
PASSWORD = "senha-do-admin"


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("job-tracks")
    with running_server(settings, logs, TRACK_FLUSH_MS="50") as process:
        yield process


async def _world(db: Sessions) -> dict[str, int]:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=ADMIN, permissions=sorted(ROLE_PERMISSIONS[ADMIN]))
        client = m.Client(cnpj=make_cnpj(41), trade_name="Seguradora", legal_name="Seg SA")
        kind = m.IncidentType(name="Chave trancada")
        service = m.ServiceType(code="chaveiro", name="Chaveiro", target=ServiceTarget.HOME)
        provider = m.Provider(  # given the job by phone: it takes calls, opens locks
            person_kind=PersonKind.PJ,
            document=make_cnpj(42),
            name="Chaveiro 24h",
            phone="+5511912345678",
            channels=[Channel.APP, Channel.VERBAL],
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add_all([role, client, kind, service, provider])
        await session.flush()
        session.add(
            m.ProviderService(
                provider_id=provider.id,
                service_type_id=service.id,
                departure_fee=Decimal("90.00"),
                price_per_km=Decimal("2.00"),
            )
        )
        session.add(m.User(login="admin", name="Admin", password_hash=cheap, role_id=role.id))
        session.add(
            m.DeviceToken(provider_id=provider.id, name="app", token_hash=token_digest(TOKEN))
        )
        return {
            "client": client.id,
            "kind": kind.id,
            "service": service.id,
            "provider": provider.id,
        }


async def _points(db: Sessions) -> int:
    async with db() as session:
        return int(
            (await session.execute(select(func.count()).select_from(TrackPoint))).scalar_one()
        )


async def _send_fix(ws: ClientConnection, seq: int) -> None:
    fix = {"lat": -23.55 + seq * 1e-6, "lng": -46.63, "accuracy_m": 8.0}  # walking pace
    frame = {"type": "pos", "seq": seq, "time_ms": int(time.time() * 1000), **fix}
    await ws.send(orjson.dumps(frame).decode())
    ack = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))
    while ack["type"] == "job.update":  # the job the provider was assigned, pushed
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))
    assert ack["type"] == "ack" and ack["accepted"] == 1, ack


async def test_positions_of_a_provider_on_a_job_become_its_track(
    server: ServerProcess, db: Sessions, redis: aioredis.Redis, settings: Settings
) -> None:
    world = await _world(db)
    store = LiveStore(redis, settings.redis_prefix)
    ws = await connect(
        f"ws://127.0.0.1:{server.port}/ws/provider",
        subprotocols=["acionar.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
        open_timeout=unit(5),
    )
    assert orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))["type"] == "welcome"
    await _send_fix(ws, 1)  # on no job yet: not tracked
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post("/api/v1/auth/login", json={"login": "admin", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        incident = await http.post(
            "/api/v1/incidents",
            json={"client_id": world["client"], "incident_type_id": world["kind"]},
        )
        assert incident.status_code == 201, incident.text
        job = await http.post(
            f"/api/v1/incidents/{incident.json()['id']}/jobs",
            json={
                "service_type_id": world["service"],
                "ad_hoc": True,  # a caller without a plan: chargeable
                "requester": {"name": "Ana", "phone": "11 98888-7777"},
                "origin": {"lat": -23.56, "lng": -46.64, "street": "Rua Vergueiro"},
            },
        )
        assert job.status_code == 201, job.text
        status = f"/api/v1/jobs/{job.json()['id']}/status"
        assign = {"to": "assigned", "provider_id": world["provider"], "channel": "verbal"}
        assert (await http.post(status, json=assign)).status_code == 200
        assert await store.busy([world["provider"]]) == {world["provider"]}

        deadline = time.monotonic() + unit(3)
        seq = 2
        while await _points(db) < 2:  # the node learns of the job from the bus
            assert time.monotonic() < deadline, "no track points written"
            await _send_fix(ws, seq)
            seq += 1
            await asyncio.sleep(0.1)

        for step in ("on_site", "completed"):
            assert (await http.post(status, json={"to": step, "channel": "app"})).status_code == 200
        assert await store.busy([world["provider"]]) == set()
        await asyncio.sleep(0.3)  # let the completion event and a flush go by
        written = await _points(db)
        await _send_fix(ws, seq)
        await asyncio.sleep(0.3)
        assert await _points(db) == written  # done: no longer tracked
        track = (await http.get(f"/api/v1/jobs/{job.json()['id']}/track")).json()
        assert len(track) == written  # the map draws it
        assert {f["provider_id"] for f in track} == {world["provider"]}
        times = [datetime.fromisoformat(f["at"]) for f in track]
        assert times == sorted(times)
        assert (await http.get("/api/v1/jobs/2147483647/track")).status_code == 404
    await ws.close()
