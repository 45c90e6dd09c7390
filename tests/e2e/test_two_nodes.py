"""Two server processes on one PostgreSQL and Redis behave as one platform."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import PersonKind, ServiceTarget
from registry.permissions import OPERATIONS, ROLE_PERMISSIONS
from registry.validation import make_cnpj
from server.settings import Settings
from tests.conftest import unit
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
TOKEN = "dt_two-nodes"
PASSWORD = "senha-operadora"
CAMPINAS = (-22.9056, -47.0608)  # the provider's base
PAULISTA = (-23.5614, -46.6559)  # where its truck is now


@pytest.fixture(scope="module")
def nodes(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    logs = tmp_path_factory.mktemp("two-nodes")
    with running_server(settings, logs) as a, running_server(settings, logs) as b:
        yield a, b


async def _world(db: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=OPERATIONS, permissions=sorted(ROLE_PERMISSIONS[OPERATIONS]))
        tow = m.ServiceType(code="tow", name="Reboque", target=ServiceTarget.VEHICLE)
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(42),
            name="Guincho Campinas",
            base_location=f"SRID=4326;POINT({CAMPINAS[1]} {CAMPINAS[0]})",
            base_h3=point_cell(*CAMPINAS),
        )
        session.add_all([role, tow, provider])
        await session.flush()
        session.add_all(
            [
                m.User(login="ana", name="Ana", password_hash=cheap, role_id=role.id),
                m.ProviderService(
                    provider_id=provider.id,
                    service_type_id=tow.id,
                    departure_fee=Decimal("120"),
                    price_per_km=Decimal("4"),
                ),
                m.DeviceToken(provider_id=provider.id, name="app", token_hash=token_digest(TOKEN)),
            ]
        )
        return provider.id, tow.id


async def _app(node: ServerProcess) -> ClientConnection:
    ws = await connect(
        f"ws://127.0.0.1:{node.port}/ws/provider",
        subprotocols=["acionar.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))["type"] == "welcome"
    return ws


async def test_a_position_sent_to_one_node_ranks_on_the_other_within_a_second(
    nodes: tuple[ServerProcess, ServerProcess],
    db: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
) -> None:
    node_a, node_b = nodes
    provider_id, tow = await _world(db)
    async with httpx.AsyncClient(base_url=node_b.url) as http:
        login = await http.post("/api/v1/auth/login", json={"login": "ana", "password": PASSWORD})
        assert login.status_code == 200
        params = {"lat": PAULISTA[0], "lng": PAULISTA[1], "service_type_id": tow, "radius_km": 5}
        before = (await http.get("/api/v1/candidates", params=params)).json()
        assert before["candidates"] == []  # its base is 80 km away
        app = await _app(node_a)
        sent = time.monotonic()
        fix = {
            "lat": PAULISTA[0],
            "lng": PAULISTA[1],
            "accuracy_m": 6.0,
            "time_ms": int(time.time() * 1000),
        }
        await app.send(orjson.dumps({"type": "pos", "seq": 1, **fix}).decode())
        assert orjson.loads(await asyncio.wait_for(app.recv(), unit(5)))["type"] == "ack"
        while True:
            found = (await http.get("/api/v1/candidates", params=params)).json()["candidates"]
            if found:
                break
            assert time.monotonic() - sent < unit(1), "not visible on node B within a second"
            await asyncio.sleep(0.02)
        assert found[0]["provider_id"] == provider_id
        assert found[0]["position_source"] == "live"
        assert found[0]["connectivity"] == "app"
        assert found[0]["distance_km"] < 0.01

        newer = await _app(node_b)  # the same provider connects to the other node
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(app.recv(), unit(5))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
        await newer.close()
