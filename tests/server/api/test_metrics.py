"""``/metrics`` with prometheus_client: latency per route template, responses by
status, API errors by code, sockets; readable from this machine or with the token
(hardening issue, "Observability")."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette

from operations.outbox import Backlog
from server.app import create_app
from server.settings import Settings
from tests.conftest import unit
from tests.server.api.conftest import Login, World


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_requests_are_measured_by_route_template(
    login: Login, world: World, app: Starlette
) -> None:
    admin = await login("admin")
    for client_id in (world.client_id, world.other_client_id, 2_000_000):
        await admin.get(f"/api/v1/clients/{client_id}")
    await admin.post("/api/v1/incident_types", json={})  # a 422
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as local:
        scraped = await local.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)
    route = "/api/v1/clients/{item_id}"
    ok = ("acionar_http_responses_total", (("method", "GET"), ("route", route), ("status", "200")))
    missing = (ok[0], (*ok[1][:2], ("status", "404")))
    assert samples[ok] == 2 and samples[missing] == 1
    count = ("acionar_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))
    assert samples[count] == 3
    assert samples[("acionar_api_errors_total", (("code", "validation_error"),))] == 1
    assert samples[("acionar_api_errors_total", (("code", "not_found"),))] == 1
    assert ("acionar_sockets", (("kind", "provider_app"),)) in samples
    # raw paths never become labels
    assert not [key for key in samples if "2000000" in str(key)]


async def test_metrics_need_the_token_or_this_machine(settings: Settings, redis: object) -> None:
    app = create_app(dataclasses.replace(settings, metrics_token="s3gredo-das-metricas"))
    async with app.router.lifespan_context(app):
        remote = httpx.ASGITransport(app=app, client=("203.0.113.5", 5000))
        async with httpx.AsyncClient(transport=remote, base_url="http://test") as client:
            assert (await client.get("/metrics")).status_code == 403
            wrong = {"Authorization": "Bearer outro"}
            assert (await client.get("/metrics", headers=wrong)).status_code == 403
            right = {"Authorization": "Bearer s3gredo-das-metricas"}
            assert (await client.get("/metrics", headers=right)).status_code == 200
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        remote = httpx.ASGITransport(app=app, client=("203.0.113.5", 5000))
        async with httpx.AsyncClient(transport=remote, base_url="http://test") as client:
            assert (await client.get("/metrics")).status_code == 403


async def test_the_bus_connection_and_the_outbox_backlog_are_gauges(
    settings: Settings, redis: object
) -> None:
    # a relay that polls once an hour: nothing measures again during the test
    app = create_app(dataclasses.replace(settings, outbox_poll_s=3600.0))
    async with app.router.lifespan_context(app):
        live = app.state.live
        await asyncio.wait_for(live.bus.wait_ready(), unit(5))
        live.relay.backlog = Backlog(waiting=3, oldest_s=12.5)  # as the relay measured
        local = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=local, base_url="http://test") as client:
            samples = _samples((await client.get("/metrics")).text)
    assert samples[("acionar_bus_connected", ())] == 1
    assert samples[("acionar_outbox_waiting", ())] == 3
    assert samples[("acionar_outbox_lag_seconds", ())] == 12.5
