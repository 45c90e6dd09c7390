"""The console's socket refuses what it must (another site's page, no session, a
provider's session) and carries the panel events and coalesced positions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import (
    PASSWORD,
    Sessions,
    app_socket,
    dispatch_world,
    login,
    new_job,
    next_frame,
    provider_user,
)
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        settings, tmp_path_factory.mktemp("panel"), POSITION_PUBLISH_INTERVAL_S="0"
    ) as process:
        yield process


async def _cookie(server: ServerProcess, user: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post("/api/v1/auth/login", json={"login": user, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


async def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(unit(10)):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def test_the_panel_socket_checks_origin_session_and_kind(
    server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1)
    await provider_user(db, world["p"][0], "guincho", PASSWORD)
    url = f"ws://127.0.0.1:{server.port}/ws/panel"
    own = f"http://127.0.0.1:{server.port}"
    staff = await _cookie(server, "admin")
    provider = await _cookie(server, "guincho")
    for headers in (
        {"Origin": "http://evil.example", "Cookie": staff},  # another site's page
        {"Cookie": staff},  # no Origin at all
        {"Origin": own},  # no session
        {"Origin": own, "Cookie": provider},  # a provider, not an operator
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=headers, open_timeout=unit(5))
        assert refused.value.response.status_code == 403

    async with connect(
        url, additional_headers={"Origin": own, "Cookie": staff}, open_timeout=unit(5)
    ) as ws:
        welcome = await _next(ws, "welcome")
        assert welcome["user"] == "admin"
        async with httpx.AsyncClient(base_url=server.url) as http:
            await login(http)
            job_id = await new_job(http, world)
        while True:
            event = (await _next(ws, "event"))["event"]
            if event["type"] == "job.created":
                break
        assert event["job"]["id"] == job_id
        assert isinstance(event["event_id"], int) and isinstance(event["seq"], int)

        app = await app_socket(server.port, "t0")
        try:
            now = int(time.time() * 1000)
            for seq, lat in enumerate((-23.5600, -23.5602, -23.5604), start=1):
                fix = {"lat": lat, "lng": -46.64, "accuracy_m": 5, "time_ms": now + seq * 1000}
                await app.send(orjson.dumps({"type": "pos", "seq": seq, **fix}).decode())
                await next_frame(app, "ack", seq)
            rows: dict[int, list[Any]] = {}
            while rows.get(world["p"][0], [0, 0])[1] != -23.5604:
                for row in (await _next(ws, "positions"))["positions"]:
                    rows[row[0]] = row
        finally:
            await app.close()


async def test_the_console_page_and_its_map_snapshot(server: ServerProcess, db: Sessions) -> None:
    world = await dispatch_world(db, 2)
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/console")
        assert page.status_code == 200 and "/console/assets/" in page.text
        assert (await http.get("/api/v1/console/providers")).status_code == 401
        await login(http)
        config = (await http.get("/api/v1/console/config")).json()
        assert config["tile_url"].startswith("https://") and config["positions_ms"] > 0
        found = (await http.get("/api/v1/console/providers")).json()
    by_id = {p["id"]: p for p in found["providers"]}
    assert set(by_id) == set(world["p"]) and not found["truncated"]
    app = await app_socket(server.port, "t1")
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            await login(http)
            first, second = await new_job(http, world), await new_job(http, world)
            made = await http.post(
                f"/api/v1/jobs/{first}/offers",
                json={"provider_id": world["p"][1], "channel": "app"},
            )
            assert made.status_code == 201, made.text
            oldest = (await http.get("/api/v1/jobs?status=open,dispatching&order=oldest")).json()[
                "items"
            ]
            waiting = (await http.get("/api/v1/offers/waiting")).json()
        assert [j["id"] for j in oldest] == [first, second]
        assert [(o["job_id"], o["provider_id"]) for o in waiting] == [(first, world["p"][1])]
    finally:
        await app.close()
    never_seen = by_id[world["p"][1]]  # no app when the snapshot was taken: base, offline
    assert (never_seen["lat"], never_seen["lng"], never_seen["live"], never_seen["reach"]) == (
        -23.55,
        -46.63,
        False,
        "offline",
    )
