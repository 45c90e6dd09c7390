"""The portal socket refuses what it must: another site's page, no session, a staff
session, a blocked provider; and it checks what a page sends like the app's socket
does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from registry.enums import Channel
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import PASSWORD, Sessions, dispatch_world, provider_user
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(settings, tmp_path_factory.mktemp("portal")) as process:
        yield process


async def _cookie(server: ServerProcess, login: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


async def test_the_portal_socket_checks_origin_session_and_kind(
    server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.WEB,))
    await provider_user(db, world["p"][0], "guincho", PASSWORD)
    url = f"ws://127.0.0.1:{server.port}/ws/portal"
    own = f"http://127.0.0.1:{server.port}"
    provider = await _cookie(server, "guincho")
    staff = await _cookie(server, "admin")
    for headers in (
        {"Origin": "http://evil.example", "Cookie": provider},  # another site's page
        {"Cookie": provider},  # no Origin at all
        {"Origin": own},  # no session
        {"Origin": own, "Cookie": staff},  # an operator, not a provider
    ):
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, additional_headers=headers, open_timeout=unit(5))
        assert refused.value.response.status_code == 403

    async with connect(
        url, additional_headers={"Origin": own, "Cookie": provider}, open_timeout=unit(5)
    ) as ws:
        welcome = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))
        assert welcome["type"] == "welcome" and welcome["provider_id"] == world["p"][0]
        assert [r["name"] for r in welcome["reasons"]] == ["Sem viatura"]
        for frame, code in (
            ("not json", "malformed_json"),
            ('{"type": "pos", "lat": 1, "lng": 2, "accuracy_m": 3, "time_ms": 4}', "unknown_type"),
            ('{"type": "offer.accept", "seq": 2, "offer_id": 0, "eta_min": 5}', "invalid_field"),
            ('{"type": "offer.accept", "seq": 3, "offer_id": 77, "eta_min": 5}', "not_found"),
        ):
            await ws.send(frame)
            reply = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))
            assert (reply["type"], reply["code"]) == ("error", code), reply
        await ws.send(b'{"type": "offer.refuse", "seq": 4, "offer_id": 77, "reason_id": 1}')
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))  # binary is fine
        assert (reply["code"], reply["seq"]) == ("not_found", 4)
        await ws.send(b"\xff\xfe")
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))
        assert reply["code"] == "malformed_json"


async def _close_code(ws: ClientConnection) -> int | None:
    """The code the server closed ``ws`` with (messages before it are skipped)."""
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(unit(5)):
            while True:
                await ws.recv()
    return ws.close_code


async def test_a_blocked_provider_loses_its_page_and_cannot_sign_in_again(
    server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.WEB,))
    provider_id = world["p"][0]
    await provider_user(db, provider_id, "reboque", PASSWORD)
    url = f"ws://127.0.0.1:{server.port}/ws/portal"
    headers = {
        "Origin": f"http://127.0.0.1:{server.port}",
        "Cookie": await _cookie(server, "reboque"),
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed = await http.post(
            "/api/v1/auth/login", json={"login": "admin", "password": PASSWORD}
        )
        csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
        provider = f"/api/v1/providers/{provider_id}"
        async with connect(url, additional_headers=headers, open_timeout=unit(5)) as ws:
            assert orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))["type"] == "welcome"
            blocked = await http.patch(provider, json={"status": "blocked"}, headers=csrf)
            assert blocked.status_code == 200, blocked.text
            assert await _close_code(ws) == 4006  # at once, not at the next heartbeat
        # the session it had: accepted, then closed with the reason
        async with connect(url, additional_headers=headers, open_timeout=unit(5)) as again:
            assert await _close_code(again) == 4006
        # the session it had no longer acts through the API either, with the reason
        kept = httpx.AsyncClient(base_url=server.url, headers={"Cookie": headers["Cookie"]})
        me = await kept.get("/api/v1/auth/me")
        assert me.status_code == 403 and me.json()["error"]["code"] == "provider_blocked"
        async with httpx.AsyncClient(base_url=server.url) as page:
            wrong = {"login": "reboque", "password": "not the password"}
            assert (await page.post("/api/v1/auth/login", json=wrong)).status_code == 401
            refused = await page.post("/api/v1/auth/login", json={**wrong, "password": PASSWORD})
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "provider_blocked"
            assert "bloqueado" in refused.json()["error"]["message"]
            assert not page.cookies  # no session
        active = await http.patch(provider, json={"status": "active"}, headers=csrf)
        assert active.status_code == 200
        assert (await kept.get("/api/v1/auth/me")).status_code == 200
        await kept.aclose()
    headers["Cookie"] = await _cookie(server, "reboque")  # signs in again
    async with connect(url, additional_headers=headers, open_timeout=unit(5)) as back:
        assert orjson.loads(await asyncio.wait_for(back.recv(), unit(5)))["type"] == "welcome"
