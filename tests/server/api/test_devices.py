"""Device tokens: revoking one while Redis is down commits, answers, and tells every
node once Redis is back (the event goes through the outbox); revoking is idempotent
and finds only the provider's own tokens."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from operations.models import OutboxEvent
from realtime.tasks import cancel_and_wait
from registry import models as m
from registry.cells import point_cell
from registry.enums import PersonKind
from registry.validation import make_cnpj
from server.app import create_app
from server.settings import Settings
from tests.conftest import unit
from tests.server.api.conftest import PASSWORD, Login, World, anonymous_client
from tests.support.proxy import TcpProxy

Sessions = async_sessionmaker[AsyncSession]


@dataclasses.dataclass
class Cut:
    app: Starlette
    redis: TcpProxy


@pytest.fixture
async def cut(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Cut]:
    """The app with its Redis behind a proxy the test can cut."""
    url = make_url(settings.effective_redis_url.replace("redis://", "postgresql://"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 6379)
    await proxy.up()
    proxied = dataclasses.replace(
        settings,
        redis_url=f"redis://127.0.0.1:{proxy.port}/0",
        redis_timeout_s=unit(1),
        outbox_poll_s=0.1,
    )
    app = create_app(proxied)
    async with app.router.lifespan_context(app):
        yield Cut(app, proxy)
    await proxy.down()


async def _provider(db: Sessions, n: int) -> int:
    async with db() as session, session.begin():
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(n),
            name=f"Guincho {n}",
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add(provider)
    return provider.id


async def test_revoking_is_idempotent_and_only_the_providers_own_token(
    login: Login, db: Sessions
) -> None:
    admin = await login("admin")
    owner, other = await _provider(db, 41), await _provider(db, 42)
    tokens = f"/api/v1/providers/{owner}/device_tokens"
    token = (await admin.post(tokens, json={"name": "celular"})).json()
    elsewhere = await admin.delete(f"/api/v1/providers/{other}/device_tokens/{token['id']}")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"] == {"code": "not_found", "message": "Token não encontrado."}
    nobody = await admin.delete(f"/api/v1/providers/999999/device_tokens/{token['id']}")
    assert nobody.status_code == 404
    assert nobody.json()["error"]["message"] == "Prestador não encontrado."
    assert (await admin.delete(f"{tokens}/{token['id']}")).status_code == 204
    assert (await admin.delete(f"{tokens}/{token['id']}")).status_code == 204
    async with db() as session:
        events = (await session.execute(select(OutboxEvent))).scalars().all()
        assert [e.type for e in events] == ["device_token.revoked"]  # once
    listed = (await admin.get(tokens)).json()
    assert listed[0]["revoked_at"] is not None


async def _bus_events(
    redis: aioredis.Redis, channel: str, into: list[dict[str, Any]], arrived: asyncio.Event
) -> None:
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            if message["type"] == "message":
                into.append(orjson.loads(message["data"]))
                arrived.set()


async def test_revoking_while_redis_is_down_commits_answers_and_tells_later(
    cut: Cut, world: World, db: Sessions, redis: aioredis.Redis, settings: Settings
) -> None:
    provider_id = await _provider(db, 31)
    client: httpx.AsyncClient = anonymous_client(cut.app)
    async with client:
        signed = await client.post(
            "/api/v1/auth/login", json={"login": "admin", "password": PASSWORD}
        )
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        tokens = f"/api/v1/providers/{provider_id}/device_tokens"
        token = (await client.post(tokens, json={"name": "celular"})).json()
        heard: list[dict[str, Any]] = []
        arrived = asyncio.Event()
        channel = settings.redis_prefix + settings.bus_channel
        listener = asyncio.create_task(_bus_events(redis, channel, heard, arrived))
        try:
            await asyncio.sleep(0.1)  # subscribed
            await cut.redis.down()
            revoked = await client.delete(f"{tokens}/{token['id']}")
            assert revoked.status_code == 204, revoked.text  # was 503, after committing
            async with db() as session:
                row = await session.get(m.DeviceToken, token["id"])
                assert row is not None and row.revoked_at is not None
                pending = (await session.execute(select(OutboxEvent))).scalar_one()
                assert (pending.type, pending.seq) == ("device_token.revoked", None)
            await cut.redis.up()
            async with asyncio.timeout(unit(10)):
                while not any(e["type"] == "device_token.revoked" for e in heard):
                    await arrived.wait()
                    arrived.clear()
        finally:
            await cancel_and_wait(listener)
    event = next(e for e in heard if e["type"] == "device_token.revoked")
    assert (event["provider_id"], event["token_id"]) == (provider_id, token["id"])
    assert event["event_id"] == pending.id and event["seq"] >= 1
