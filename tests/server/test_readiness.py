"""/healthz and /readyz against real PostgreSQL and Redis, through cuttable proxies."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from server.app import create_app
from server.settings import Settings
from tests.conftest import unit
from tests.support.proxy import TcpProxy


@dataclasses.dataclass
class Stack:
    client: httpx.AsyncClient
    pg: TcpProxy
    redis: TcpProxy

    async def ready(self) -> tuple[int, dict[str, Any]]:
        response = await self.client.get("/readyz")
        return response.status_code, response.json()


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Stack]:
    db_url = make_url(settings.effective_database_url)
    redis_url = make_url(settings.effective_redis_url.replace("redis://", "postgresql://"))
    pg = TcpProxy(db_url.host or "127.0.0.1", db_url.port or 5432)
    redis = TcpProxy(redis_url.host or "127.0.0.1", redis_url.port or 6379)
    await pg.up()
    await redis.up()
    proxied = dataclasses.replace(
        settings,
        database_url=db_url.set(host="127.0.0.1", port=pg.port).render_as_string(False),
        redis_url=f"redis://127.0.0.1:{redis.port}/0",
        ready_timeout_s=unit(1),
        db_connect_timeout_s=unit(1),
        redis_timeout_s=unit(1),
    )
    app = create_app(proxied)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Stack(client, pg, redis)
    await pg.down()
    await redis.down()


async def test_healthz_answers_without_touching_services(stack: Stack) -> None:
    await stack.pg.down()
    await stack.redis.down()
    response = await stack.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_everything_answers(stack: Stack) -> None:
    status, body = await stack.ready()
    assert status == 200
    assert body["failed"] == []
    assert set(body["checks"]) == {"postgresql", "postgis", "redis"}


async def test_postgresql_outage_then_recovery_without_restart(stack: Stack) -> None:
    assert (await stack.ready())[0] == 200
    await stack.pg.down()
    status, body = await stack.ready()
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["failed"] == ["postgresql", "postgis"]
    assert body["checks"]["postgresql"] == {"ok": False, "error": "unreachable"}
    assert body["checks"]["redis"] == {"ok": True}
    await stack.pg.up()
    status, body = await stack.ready()
    assert (status, body["failed"]) == (200, [])


async def test_redis_outage_then_recovery_without_restart(stack: Stack) -> None:
    assert (await stack.ready())[0] == 200
    await stack.redis.down()
    status, body = await stack.ready()
    assert (status, body["failed"]) == (503, ["redis"])
    assert body["checks"]["postgresql"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": False, "error": "unreachable"}
    await stack.redis.up()
    status, body = await stack.ready()
    assert (status, body["failed"]) == (200, [])


async def test_hung_database_fails_within_the_ready_timeout(stack: Stack) -> None:
    await stack.pg.blackhole()
    status, body = await stack.ready()
    assert status == 503
    assert body["failed"] == ["postgresql", "postgis"]
    assert "no answer within" in body["checks"]["postgresql"]["error"]
    await stack.pg.up()
    assert (await stack.ready())[0] == 200


async def test_request_id_is_echoed_or_replaced(stack: Stack) -> None:
    kept = await stack.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = await stack.client.get("/healthz", headers={"X-Request-ID": "bad id\n"})
    assert replaced.headers["x-request-id"] != "bad id\n"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_landing_page_and_pt_br_errors(stack: Stack) -> None:
    page = await stack.client.get("/")
    assert page.status_code == 200
    assert "Acionar está no ar" in page.text
    assert (await stack.client.get("/static/status.js")).status_code == 200
    missing = await stack.client.get("/no-such-page")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Recurso não encontrado."}}


async def test_api_answers_503_while_the_database_is_down(stack: Stack) -> None:
    bearer = {"Authorization": "Bearer some-token"}
    await stack.pg.down()
    response = await stack.client.get("/api/v1/auth/me", headers=bearer)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": "Serviço temporariamente indisponível. Tente novamente.",
    }
    await stack.pg.up()
    assert (await stack.client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
