"""The provider websocket over a real socket, against a real server process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode

from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import PersonKind
from registry.permissions import ADMIN, ROLE_PERMISSIONS
from registry.validation import make_cnpj
from server.settings import Settings
from server.ws_provider import text_frame
from tests.conftest import unit
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
TOKEN = "dt_test-token-of-provider-one"
PASSWORD = "senha-do-admin"


@dataclass
class World:
    provider_id: int
    token_id: int


async def _world(db: async_sessionmaker[AsyncSession]) -> World:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=ADMIN, permissions=sorted(ROLE_PERMISSIONS[ADMIN]))
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(7),
            name="Guincho Teste",
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add_all([role, provider])
        await session.flush()
        session.add(m.User(login="admin", name="Admin", password_hash=cheap, role_id=role.id))
        token = m.DeviceToken(
            provider_id=provider.id, name="celular", token_hash=token_digest(TOKEN)
        )
        session.add(token)
        await session.flush()
        return World(provider.id, token.id)


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module (each test still starts from empty tables)."""
    logs = tmp_path_factory.mktemp("provider-socket")
    with running_server(settings, logs, WS_AUTH_DEADLINE_S="0.5") as process:
        yield process


@pytest.fixture
async def world(db: async_sessionmaker[AsyncSession], redis: aioredis.Redis) -> World:
    return await _world(db)


def _url(server: ServerProcess) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/provider"


async def _open(server: ServerProcess, token: str | None = TOKEN) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await connect(
        _url(server),
        subprotocols=["acionar.v1"],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=unit(5),
    )


async def _recv(ws: ClientConnection) -> dict[str, object]:
    message: dict[str, object] = orjson.loads(await asyncio.wait_for(ws.recv(), unit(5)))
    return message


async def _closed_with(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), unit(5))
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def _fix(lat: float = -23.55, lng: float = -46.63) -> dict[str, object]:
    return {"lat": lat, "lng": lng, "accuracy_m": 8.0, "time_ms": int(time.time() * 1000)}


async def test_position_reaches_redis_and_presence_is_online(
    server: ServerProcess,
    world: World,
    settings: Settings,
    redis: aioredis.Redis,
    db: async_sessionmaker[AsyncSession],
) -> None:
    ws = await _open(server)
    assert ws.subprotocol == "acionar.v1"
    welcome = await _recv(ws)
    assert welcome["type"] == "welcome" and welcome["provider_id"] == world.provider_id
    async with db() as session:
        token = await session.get(m.DeviceToken, world.token_id)
        assert token is not None and token.last_used_at is not None  # the check records it
    await ws.send(orjson.dumps({"type": "pos", "seq": 1, **_fix()}).decode())
    ack = await _recv(ws)
    assert ack["type"] == "ack" and ack["seq"] == 1 and ack["accepted"] == 1
    store = LiveStore(redis, settings.redis_prefix)
    deadline = time.monotonic() + unit(2)
    while not (positions := await store.positions([world.provider_id])):
        assert time.monotonic() < deadline, "position never reached Redis"
        await asyncio.sleep(0.02)
    assert positions[world.provider_id].lat == pytest.approx(-23.55)
    assert (await store.online([world.provider_id]))[world.provider_id]
    await ws.close()
    deadline = time.monotonic() + unit(2)
    while (await store.online([world.provider_id]))[world.provider_id]:
        assert time.monotonic() < deadline, "provider still online after closing"
        await asyncio.sleep(0.02)


async def test_the_position_filter_goes_on_across_reconnects(
    server: ServerProcess, world: World, settings: Settings, redis: aioredis.Redis
) -> None:
    """The first position after a reconnect is judged against the last one accepted
    before it (docs/protocol.md, "Position filtering")."""
    fix = _fix()
    ws = await _open(server)
    await _recv(ws)  # welcome
    await ws.send(orjson.dumps({"type": "pos", "seq": 1, **fix}).decode())
    assert (await _recv(ws))["accepted"] == 1
    store = LiveStore(redis, settings.redis_prefix)
    deadline = time.monotonic() + unit(2)
    while not await store.positions([world.provider_id]):  # written, as the next node reads it
        assert time.monotonic() < deadline, "position never reached Redis"
        await asyncio.sleep(0.02)
    await ws.close()
    again = await _open(server)
    await _recv(again)  # welcome
    earlier = {**fix, "time_ms": int(fix["time_ms"]) - 60_000}  # type: ignore[call-overload]
    far = {**_fix(-22.9, -43.2), "time_ms": int(fix["time_ms"]) + 1_000}  # type: ignore[call-overload]
    for seq, sent in enumerate((fix, earlier, far), start=2):
        await again.send(orjson.dumps({"type": "pos", "seq": seq, **sent}).decode())
    rejected = [(await _recv(again))["rejected"] for _ in range(3)]
    assert rejected == [{"duplicate": 1}, {"out_of_order": 1}, {"implied_speed": 1}]
    await again.close()


async def test_bad_frames_get_errors_and_the_connection_lives_on(
    server: ServerProcess, world: World
) -> None:
    ws = await _open(server)
    await _recv(ws)
    await ws.send("{not json")
    assert (await _recv(ws))["code"] == "malformed_json"
    await ws.send(orjson.dumps({"type": "dance"}).decode())
    assert (await _recv(ws))["code"] == "unknown_type"
    await ws.send(
        orjson.dumps({"type": "pos", "lat": "x", "lng": 1, "accuracy_m": 1, "time_ms": 1}).decode()
    )
    assert (await _recv(ws))["code"] == "invalid_field"
    await ws.send(orjson.dumps({"type": "pos", "seq": 9, **_fix()}).decode())
    assert (await _recv(ws))["type"] == "ack"
    await ws.send(orjson.dumps({"type": "pos", "seq": 10, **_fix(0.0, 0.0)}).decode())
    ack = await _recv(ws)
    assert (ack["accepted"], ack["rejected"]) == (0, {"null_island": 1})
    await ws.close()
    async with httpx.AsyncClient(base_url=server.url) as http:
        text = (await http.get("/metrics")).text
    counts = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(counts['acionar_positions_rejected_total{reason="null_island"}']) >= 1
    assert "acionar_provider_connections " in text


async def test_authentication_failures_close_with_documented_codes(
    server: ServerProcess, world: World
) -> None:
    assert await _closed_with(await _open(server, "dt_wrong")) == 4001
    silent = await _open(server, token=None)
    assert await _closed_with(silent) == 4002  # WS_AUTH_DEADLINE_S=0.5 in this server
    late = await _open(server, token=None)
    await late.send(orjson.dumps({"type": "auth", "token": TOKEN}).decode())
    assert (await _recv(late))["type"] == "welcome"
    await late.close()


async def test_oversized_frame_closes_with_1009(server: ServerProcess, world: World) -> None:
    ws = await _open(server)
    await _recv(ws)
    await ws.send("x" * 70_000)
    assert await _closed_with(ws) == 1009


async def test_newest_connection_wins_and_revoking_closes(
    server: ServerProcess, world: World
) -> None:
    first = await _open(server)
    await _recv(first)
    second = await _open(server)
    await _recv(second)
    assert await _closed_with(first) == 4003
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post("/api/v1/auth/login", json={"login": "admin", "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        url = f"/api/v1/providers/{world.provider_id}/device_tokens/{world.token_id}"
        assert (await http.delete(url, headers=csrf)).status_code == 204
    assert await _closed_with(second) == 4004
    assert await _closed_with(await _open(server)) == 4001


async def test_blocking_a_connected_provider_closes_its_socket(
    server: ServerProcess, world: World
) -> None:
    ws = await _open(server)
    await _recv(ws)
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post("/api/v1/auth/login", json={"login": "admin", "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        url = f"/api/v1/providers/{world.provider_id}"
        blocked = await http.patch(url, json={"status": "blocked"}, headers=csrf)
        assert blocked.status_code == 200, blocked.text
        assert await _closed_with(ws) == 4006
        assert await _closed_with(await _open(server)) == 4001  # and it cannot come back
        active = await http.patch(url, json={"status": "active"}, headers=csrf)
        assert active.status_code == 200
    again = await _open(server)
    assert (await _recv(again))["type"] == "welcome"
    await again.close()


# -- timing: heartbeat, idle timeout, shutdown --------------------------------------------


@pytest.fixture(scope="module")
def easing_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that eases off at every frame (a threshold of 0): each socket that
    delivers one is paused (briefly) and its frames handled when the pause ends."""
    logs = tmp_path_factory.mktemp("provider-socket-easing")
    env = {"LOOP_LAG_EASE_MS": "0", "LOOP_LAG_PAUSE_MS": "0.00001"}
    with running_server(settings, logs, **env) as process:
        yield process


async def test_an_easing_socket_loses_nothing_and_keeps_the_order(
    easing_server: ServerProcess, world: World, settings: Settings, redis: aioredis.Redis
) -> None:
    """Load shedding (realtime/lag.py) delays frames, never drops or reorders them."""
    ws = await _open(easing_server)
    assert (await _recv(ws))["type"] == "welcome"
    start = int(time.time() * 1000) - 60_000
    for seq in range(1, 31):  # all at once: they arrive while the socket is paused
        fix = {**_fix(-23.55 + seq * 1e-4), "time_ms": start + seq * 1000}
        await ws.send(orjson.dumps({"type": "pos", "seq": seq, **fix}).decode())
    acks = [await _recv(ws) for _ in range(30)]
    assert [(a["seq"], a["accepted"]) for a in acks] == [(seq, 1) for seq in range(1, 31)]
    store = LiveStore(redis, settings.redis_prefix)
    deadline = time.monotonic() + unit(2)
    while (stored := await store.positions([world.provider_id])).get(world.provider_id) is None or (
        stored[world.provider_id].device_time_ms != start + 30_000
    ):
        assert time.monotonic() < deadline, "the last position never reached Redis"
        await asyncio.sleep(0.02)
    await asyncio.wait_for(ws.close(), unit(5))  # a close frame waits out a pause too
    async with httpx.AsyncClient(base_url=easing_server.url) as http:
        text = (await http.get("/metrics")).text
    counts = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(counts["acionar_provider_reads_eased_total"]) >= 1
    assert float(counts["acionar_event_loop_lag_seconds"]) >= 0


PING_S = 0.2  # the timing server pings this often and waits this long for the pong


@pytest.fixture(scope="module")
def timing_server(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("provider-socket-timing")
    env = {
        "WS_PING_INTERVAL_S": str(PING_S),
        "WS_PING_TIMEOUT_S": str(PING_S),
        "WS_IDLE_TIMEOUT_S": str(unit(1)),
    }
    with running_server(settings, logs, **env) as process:
        yield process


async def _online(store: LiveStore, provider_id: int) -> bool:
    return (await store.online([provider_id]))[provider_id]


async def _until_offline(store: LiveStore, provider_id: int) -> None:
    deadline = time.monotonic() + unit(3)
    while await _online(store, provider_id):
        assert time.monotonic() < deadline, "provider still online"
        await asyncio.sleep(0.02)


async def test_an_app_that_stops_answering_pings_is_dropped_and_offline(
    timing_server: ServerProcess, world: World, settings: Settings, redis: aioredis.Redis
) -> None:
    # A raw socket: a websockets client would answer the pings by itself.
    reader, writer = await asyncio.open_connection("127.0.0.1", timing_server.port)
    writer.write(
        b"GET /ws/provider HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: acionar.v1\r\n"
        b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), unit(5))
    assert head.startswith(b"HTTP/1.1 101")
    store = LiveStore(redis, settings.redis_prefix)
    deadline = time.monotonic() + unit(3)
    while not await _online(store, world.provider_id):
        assert time.monotonic() < deadline, "never online"
        await asyncio.sleep(0.02)
    started = time.monotonic()
    while await asyncio.wait_for(reader.read(4096), unit(5)):
        pass  # welcome, pings, then the close frame: never answered
    assert time.monotonic() - started < unit(3)  # dropped after interval + timeout
    await _until_offline(store, world.provider_id)
    writer.close()


async def test_a_silent_app_is_closed_4005_and_offline(
    timing_server: ServerProcess, world: World, settings: Settings, redis: aioredis.Redis
) -> None:
    ws = await connect(
        f"ws://127.0.0.1:{timing_server.port}/ws/provider",
        subprotocols=["acionar.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
        open_timeout=unit(5),
    )
    assert (await _recv(ws))["type"] == "welcome"
    assert await _closed_with(ws) == 4005  # pongs (automatic) are not frames from the app
    await _until_offline(LiveStore(redis, settings.redis_prefix), world.provider_id)


async def test_text_that_is_not_utf8_is_malformed_json(server: ServerProcess, world: World) -> None:
    ws = await _open(server)
    await _recv(ws)
    await ws.send(b'{"type": "hello\xff"}', text=True)
    assert (await _recv(ws))["code"] == "malformed_json"
    await ws.close()


async def test_stopping_the_server_closes_1001_and_goes_offline(
    settings: Settings,
    world: World,
    redis: aioredis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with running_server(settings, tmp_path_factory.mktemp("provider-socket-stop")) as process:
        ws = await _open(process)
        assert (await _recv(ws))["type"] == "welcome"
        stopping = asyncio.create_task(asyncio.to_thread(process.interrupt))
        assert await _closed_with(ws) == 1001
        assert await stopping == 0
    assert not await _online(LiveStore(redis, settings.redis_prefix), world.provider_id)


async def test_the_path_decides_who_serves_a_websocket(server: ServerProcess, world: World) -> None:
    ws = await connect(
        _url(server) + "?app=1.4.2",  # a query string does not change the path
        subprotocols=["acionar.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
        open_timeout=unit(5),
    )
    assert (await _recv(ws))["type"] == "welcome"
    await ws.close()
    with pytest.raises(InvalidStatus) as rejected:  # no such route: the ASGI app says 403
        await connect(f"ws://127.0.0.1:{server.port}/ws/other", open_timeout=unit(5))
    assert rejected.value.response.status_code == 403


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536])
def test_acks_are_written_as_the_library_frames_text(size: int) -> None:
    payload = b"x" * size
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected
