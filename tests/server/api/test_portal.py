"""The provider web portal's presence makes the provider reachable by ``web``."""

from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from realtime.presence import Connectivity
from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.enums import PersonKind, UserKind
from registry.validation import make_cnpj
from server.settings import Settings
from tests.server.api.conftest import Login, World


async def test_an_open_portal_makes_the_provider_reachable_by_web(
    db: async_sessionmaker[AsyncSession],
    login: Login,
    world: World,
    password_hash: str,
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    async with db() as session, session.begin():
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(91),
            name="Guincho Web",
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add(provider)
        await session.flush()
        session.add(
            m.User(
                login="prestador",
                name="Prestador",
                password_hash=password_hash,
                role_id=world.roles["Portal do Prestador"],
                kind=UserKind.PROVIDER,
                provider_id=provider.id,
            )
        )
    store = LiveStore(redis, settings.redis_prefix)
    assert await store.connectivity([provider.id]) == {provider.id: Connectivity.OFFLINE}

    portal = await login("prestador")
    answer = await portal.post("/api/v1/portal/presence")
    assert answer.status_code == 200, answer.text
    assert answer.json()["renew_s"] == settings.presence_ttl_s / 3
    assert await store.connectivity([provider.id]) == {provider.id: Connectivity.WEB}

    await store.hold(provider.id, "conn-1", 60)  # the GPS app connects: it wins
    assert await store.connectivity([provider.id]) == {provider.id: Connectivity.APP}

    staff = await login("operacao")
    assert (await staff.post("/api/v1/portal/presence")).status_code == 403
