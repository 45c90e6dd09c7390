"""The provider catalogue follows registry writes: at commit on this node, through
the bus on the others, and by full reloads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import h3
import httpx
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from geo.ranking import DEFAULT_OPTIONS, Scorer, Weights
from geo.source import RESOLUTION, CatalogueKeeper
from geo.watch import changed_providers, watching
from registry import models as m
from registry.audit import SYSTEM, record
from registry.cells import point_cell
from registry.enums import AuditAction, PersonKind, ProviderStatus, ServiceTarget
from registry.permissions import OPERATIONS, ROLE_PERMISSIONS
from registry.validation import make_cnpj
from server.settings import Settings
from tests.conftest import unit
from tests.server.api.conftest import PASSWORD, World, app, login, password_hash, world
from tests.support.server import ServerProcess, running_server

__all__ = ["app", "login", "password_hash", "world"]  # fixtures shared with the API tests

PAULISTA = (-23.5614, -46.6559)


async def _provider(db: async_sessionmaker[AsyncSession], n: int = 1) -> tuple[int, int, int]:
    """A client, a tow service type and an active provider at Paulista serving it."""
    async with db() as session, session.begin():
        tow = m.ServiceType(code=f"tow{n}", name="Reboque", target=ServiceTarget.VEHICLE)
        client = m.Client(cnpj=make_cnpj(900 + n), trade_name="C", legal_name="C SA")
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(700 + n),
            name="Guincho Paulista",
            base_location=f"SRID=4326;POINT({PAULISTA[1]} {PAULISTA[0]})",
            base_h3=point_cell(*PAULISTA),
        )
        session.add_all([tow, client, provider])
        await session.flush()
        session.add(
            m.ProviderService(
                provider_id=provider.id,
                service_type_id=tow.id,
                departure_fee=Decimal("100"),
                price_per_km=Decimal("3"),
            )
        )
        return provider.id, tow.id, client.id


def test_changed_providers_reads_models_and_audit_entries() -> None:
    objects = [
        m.Provider(id=1),
        m.ProviderService(provider_id=2),
        m.ProviderPartnership(provider_id=3, client_id=9),
        m.AuditEntry(
            entity="provider_partnership", entity_id=9, parent_entity="provider", parent_id=4
        ),
        m.AuditEntry(entity="provider", entity_id=5),
        m.AuditEntry(entity="client", entity_id=6),
        m.Client(id=7),
        m.Provider(),  # not flushed yet
    ]
    assert changed_providers(objects) == {1, 2, 3, 4, 5}


async def test_the_next_search_sees_committed_writes_and_not_rolled_back_ones(
    db: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    pid, tow, client = await _provider(db)
    keeper = CatalogueKeeper(db, reload_s=3600)
    with watching(engine.sync_engine, keeper.invalidate):
        assert (await keeper.current()).eligible(pid, tow) is not None
        async with db() as session, session.begin():
            provider = await session.get(m.Provider, pid)
            assert provider is not None
            provider.status = ProviderStatus.BLOCKED
        assert (await keeper.current()).eligible(pid, tow) is None
        with pytest.raises(RuntimeError):
            async with db() as session, session.begin():
                provider = await session.get(m.Provider, pid)
                assert provider is not None
                provider.status = ProviderStatus.ACTIVE
                await session.flush()
                raise RuntimeError("rolled back")
        assert (await keeper.current()).eligible(pid, tow) is None
        async with db() as session, session.begin():  # as the API adds a partnership
            await session.execute(
                insert(m.ProviderPartnership).values(provider_id=pid, client_id=client)
            )
            await record(
                session,
                SYSTEM,
                "provider_partnership",
                client,
                AuditAction.CREATE,
                {},
                ("provider", pid),
            )
            provider = await session.get(m.Provider, pid)
            assert provider is not None
            provider.status = ProviderStatus.ACTIVE
        catalogue = await keeper.current()
    assert [e.provider_id for e in catalogue.partners(client, tow)] == [pid]
    assert keeper.loads == 1  # every change above was applied one provider at a time


async def test_a_reload_keeps_news_that_arrived_meanwhile(
    db: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    pid, tow, _ = await _provider(db)
    keeper = CatalogueKeeper(db, reload_s=3600)
    await keeper.current()
    keeper.invalidate_all()
    reloading = asyncio.ensure_future(keeper.current())
    await asyncio.sleep(0)  # the load has begun and read nothing yet
    async with db() as session, session.begin():
        provider = await session.get(m.Provider, pid)
        assert provider is not None
        provider.status = ProviderStatus.BLOCKED
    keeper.invalidate([pid])
    await reloading
    assert (await keeper.current()).eligible(pid, tow) is None
    assert keeper.loads == 2


async def test_a_loaded_catalogue_comes_with_its_cells_sorted(
    db: async_sessionmaker[AsyncSession],
) -> None:
    _, tow, _ = await _provider(db)
    keeper = CatalogueKeeper(db, reload_s=3600, warm=[(Weights(), DEFAULT_OPTIONS)])
    default, other = Scorer(Weights(), 5.0), Scorer(Weights().with_overrides({"price": 10}), 5.0)
    first = await keeper.current()
    assert first.view(tow, default).sorted_cells() == [point_cell_hex(*PAULISTA)]
    first.view(tow, other).ranked(point_cell_hex(*PAULISTA))  # a client's weights, used
    await keeper.reload()
    second = await keeper.current()
    assert second is not first
    for scorer in (default, other):  # sorted before the reloaded catalogue took over
        assert second.view(tow, scorer).sorted_cells() == [point_cell_hex(*PAULISTA)]


def point_cell_hex(lat: float, lng: float) -> str:
    return str(h3.latlng_to_cell(lat, lng, RESOLUTION))


async def _search(http: httpx.AsyncClient, tow: int) -> list[int]:
    params = {"lat": PAULISTA[0], "lng": PAULISTA[1], "service_type_id": tow, "radius_km": 5}
    response = await http.get("/api/v1/candidates", params=params)
    assert response.status_code == 200, response.text
    return [c["provider_id"] for c in response.json()["candidates"]]


async def test_a_provider_blocked_through_the_api_leaves_the_next_search(
    app: Starlette,
    login: object,
    world: World,
    db: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    pid, tow, _ = await _provider(db)
    admin = await login("admin")  # type: ignore[operator]
    assert await _search(admin, tow) == [pid]
    response = await admin.patch(f"/api/v1/providers/{pid}", json={"status": "blocked"})
    assert response.status_code == 200, response.text
    assert await _search(admin, tow) == []
    await app.state.live.store.set_busy(pid, True)
    response = await admin.patch(f"/api/v1/providers/{pid}", json={"status": "active"})
    assert response.status_code == 200, response.text
    params = {"lat": PAULISTA[0], "lng": PAULISTA[1], "service_type_id": tow, "radius_km": 5}
    (found,) = (await admin.get("/api/v1/candidates", params=params)).json()["candidates"]
    assert found["busy"] and found["score"] < 1 - 0.2 + 1e-9


@pytest.fixture(scope="module")
def nodes(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    logs = tmp_path_factory.mktemp("catalogue-nodes")
    with running_server(settings, logs) as a, running_server(settings, logs) as b:
        yield a, b


@pytest.mark.slow
async def test_a_provider_blocked_on_one_node_leaves_searches_on_the_other(
    nodes: tuple[ServerProcess, ServerProcess], db: async_sessionmaker[AsyncSession]
) -> None:
    node_a, node_b = nodes
    pid, tow, _ = await _provider(db, 2)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=OPERATIONS + " 2", permissions=sorted(ROLE_PERMISSIONS["Administrador"]))
        session.add(role)
        await session.flush()
        session.add(m.User(login="ana", name="Ana", password_hash=cheap, role_id=role.id))
    async with (
        httpx.AsyncClient(base_url=node_a.url) as a,
        httpx.AsyncClient(base_url=node_b.url) as b,
    ):
        for http in (a, b):
            login = await http.post(
                "/api/v1/auth/login", json={"login": "ana", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        assert await _search(b, tow) == [pid]  # node B has loaded its catalogue
        response = await a.patch(f"/api/v1/providers/{pid}", json={"status": "blocked"})
        assert response.status_code == 200, response.text
        assert await _search(a, tow) == []  # at once on the node that wrote
        sent = time.monotonic()
        while await _search(b, tow):
            assert time.monotonic() - sent < unit(1), "still a candidate on node B after 1 s"
            await asyncio.sleep(0.02)
