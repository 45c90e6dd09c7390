"""Dispatch end to end: the operator offers a job over HTTP, provider apps on real
sockets receive it, one accepts and wins, the other is told at once; answers,
statuses, bad commands and a reconnect, as docs/protocol.md describes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection

from server.settings import Settings
from tests.e2e.dispatch_support import (
    Frame,
    app_socket,
    dispatch_world,
    login,
    new_job,
    next_frame,
)
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
Sessions = async_sessionmaker[AsyncSession]
PASSWORD = "senha-do-admin"


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("dispatch")
    with running_server(settings, logs, OFFER_SWEEP_S="0.2") as process:
        yield process


async def _send(ws: ClientConnection, frame: Frame) -> None:
    await ws.send(orjson.dumps(frame).decode())


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_offer_accept_one_winner_over_real_sockets(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 2)
    a, b = world["p"]
    apps = [await app_socket(server.port, "t0"), await app_socket(server.port, "t1")]
    await login(http)
    job_id = await new_job(http, world)

    found = await http.get(f"/api/v1/jobs/{job_id}/candidates")
    assert found.status_code == 200, found.text
    channels = {c["provider_id"]: c["channels_now"] for c in found.json()["candidates"]}
    assert channels == {a: ["app", "verbal"], b: ["app", "verbal"]}

    offers = {}
    for pid in (a, b):
        made = await http.post(
            f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "app"}
        )
        assert made.status_code == 201, made.text
        offers[pid] = made.json()["id"]
    received = [await next_frame(ws, "offer") for ws in apps]
    assert {f["offer"]["offer_id"] for f in received} == set(offers.values())
    first = received[0]["offer"]
    assert first["service"] == "Reboque" and first["origin"]["street"] == "Rua Vergueiro"
    assert first["price"] is not None and first["expires_at_ms"] > 0
    assert "98888" not in orjson.dumps(received).decode()  # no requester before accept

    await _send(apps[0], {"type": "offer.accept", "seq": 7, "offer_id": offers[a], "eta_min": 15})
    result = await next_frame(apps[0], "result")
    assert (result["seq"], result["code"]) == (7, "accepted")
    update = await next_frame(apps[0], "job.update")
    assert update["job"]["requester"]["phone"] == "+5511988887777"
    assert update["job"]["next_statuses"] == ["en_route", "on_site"]
    withdrawn = await next_frame(apps[1], "offer.withdrawn")
    assert (withdrawn["offer_id"], withdrawn["reason"]) == (offers[b], "taken")
    await _send(apps[1], {"type": "offer.accept", "seq": 3, "offer_id": offers[b], "eta_min": 5})
    assert (await next_frame(apps[1], "result"))["code"] == "taken"

    listed = (await http.get(f"/api/v1/jobs/{job_id}/offers")).json()
    by_id = {o["id"]: o for o in listed}
    assert by_id[offers[a]]["status"] == "accepted" and by_id[offers[a]]["eta_minutes"] == 15
    assert by_id[offers[a]]["delivered_at"] is not None  # the socket got it first
    assert by_id[offers[b]]["status"] == "withdrawn"

    await _send(apps[0], {"type": "job.status", "seq": 8, "job_id": job_id, "status": "en_route"})
    assert (await next_frame(apps[0], "result"))["code"] == "ok"
    moved = await next_frame(apps[0], "job.update")
    assert moved["job"]["status"] == "en_route"
    await _send(apps[0], {"type": "job.status", "seq": 9, "job_id": job_id, "status": "completed"})
    refused = await next_frame(apps[0], "error")
    assert (refused["code"], refused["seq"]) == ("not_allowed", 9)
    await _send(apps[1], {"type": "job.status", "seq": 1, "job_id": job_id, "status": "on_site"})
    assert (await next_frame(apps[1], "error"))["code"] == "not_found"  # not b's job
    history = (await http.get(f"/api/v1/jobs/{job_id}/offer-history")).json()
    assert [h["to_status"] for h in history if h["offer_id"] == offers[a]] == [
        "pending",
        "delivered",
        "accepted",
    ]
    for ws in apps:
        await ws.close()


async def test_bad_commands_get_clear_errors_and_the_socket_lives_on(
    server: ServerProcess, db: Sessions
) -> None:
    await dispatch_world(db, 1)
    ws = await app_socket(server.port, "t0")
    for frame, code, field in (
        (
            {"type": "offer.accept", "seq": 1, "offer_id": 1, "eta_min": 0},
            "invalid_field",
            "eta_min",
        ),
        (
            {"type": "offer.accept", "seq": 2, "offer_id": "x", "eta_min": 5},
            "invalid_field",
            "offer_id",
        ),
        (
            {"type": "offer.refuse", "seq": 3, "offer_id": 2**40, "reason_id": 1},
            "invalid_field",
            "offer_id",
        ),
        (
            {"type": "job.status", "seq": 4, "job_id": 1, "status": "assigned"},
            "invalid_field",
            "status",
        ),
        (
            {"type": "job.status", "seq": 5, "job_id": 1, "status": "on_site", "lat": 1},
            "invalid_field",
            "lng",
        ),
        ({"type": "offer.accept", "seq": 6, "offer_id": 999999, "eta_min": 5}, "not_found", None),
    ):
        await _send(ws, frame)
        error = await next_frame(ws, "error")
        assert (error["code"], error["field"], error["seq"]) == (code, field, frame["seq"])
    await ws.close()


async def test_an_app_that_reconnects_gets_its_open_offers_again(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 1)
    [pid] = world["p"]
    ws = await app_socket(server.port, "t0")
    await login(http)
    job_id = await new_job(http, world)
    made = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "app"}
    )
    assert made.status_code == 201, made.text
    assert (await next_frame(ws, "offer"))["offer"]["offer_id"] == made.json()["id"]
    await ws.close()
    again = await app_socket(server.port, "t0")
    assert (await next_frame(again, "offer"))["offer"]["offer_id"] == made.json()["id"]
    await _send(
        again,
        {
            "type": "offer.refuse",
            "seq": 1,
            "offer_id": made.json()["id"],
            "reason_id": world["reason"],
        },
    )
    assert (await next_frame(again, "result"))["code"] == "refused"
    job = (await http.get(f"/api/v1/jobs/{job_id}")).json()
    assert job["status"] == "open"  # its only offer refused: back to the queue
    await again.close()


async def test_offline_app_and_verbal(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 1)
    [pid] = world["p"]
    await login(http)
    job_id = await new_job(http, world)
    offline = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "app"}
    )
    assert offline.status_code == 409 and offline.json()["error"]["code"] == "channel_unavailable"
    bad = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "fax"}
    )
    assert bad.status_code == 422
    verbal = await http.post(
        f"/api/v1/jobs/{job_id}/offers",
        json={"provider_id": pid, "channel": "verbal", "eta_minutes": 25},
    )
    assert verbal.status_code == 201 and verbal.json()["status"] == "accepted"
    job = (await http.get(f"/api/v1/jobs/{job_id}")).json()
    assert (job["status"], job["provider_id"]) == ("assigned", pid)
    again = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "verbal"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_awaiting"
