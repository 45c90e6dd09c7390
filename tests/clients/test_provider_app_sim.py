"""The simulated provider apps: movement model, offline buffer and batching, backoff
(pure), and a small fleet against a real server process that loses its network."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator

import orjson
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clients.provider_app_sim import (
    AppConfig,
    AppState,
    Backoff,
    Fix,
    FixBuffer,
    LoadPlan,
    MovementConfig,
    Outbox,
    Pacer,
    PosMessage,
    Vehicle,
    build_fleet,
)
from clients.provider_app_sim.callbacks import run_callback_load
from clients.provider_app_sim.movement import haversine_m
from clients.provider_app_sim.protocol import reconnect_floor_s
from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import PersonKind
from registry.validation import make_cnpj
from server.settings import Settings
from tests.conftest import unit
from tests.support.fleet import eventually, running
from tests.support.server import ServerProcess, free_port, running_server

T0_MS = 1_718_000_000_000
CENTRE = (-23.55, -46.63)


# -- movement -----------------------------------------------------------------------


def _track(seed: int, config: MovementConfig, seconds: int, step_s: float) -> list[Fix]:
    vehicle = Vehicle(config, random.Random(seed))
    fixes = []
    for i in range(int(seconds / step_s)):
        vehicle.advance(step_s)
        fixes.append(vehicle.fix(T0_MS + round((i + 1) * step_s * 1000)))
    return fixes


@pytest.mark.parametrize("radius_km", [0.1, 0.5, 3.0])
def test_vehicles_never_leave_their_radius(radius_km: float) -> None:
    config = MovementConfig(centre=CENTRE, radius_m=radius_km * 1000)
    for seed in range(12):
        for fix in _track(seed, config, 3600, 5.0):
            # Coordinates are rounded to 6 decimals (~11 cm) on the way out.
            assert haversine_m(*CENTRE, fix.lat, fix.lng) <= radius_km * 1000 + 0.5


def test_speeds_headings_and_accuracy_are_plausible() -> None:
    config = MovementConfig(centre=CENTRE, radius_m=20_000)
    speeds: list[float] = []
    for seed in range(8):
        fixes = _track(seed, config, 3600, 1.0)
        for before, after in itertools.pairwise(fixes):
            metres = haversine_m(before.lat, before.lng, after.lat, after.lng)
            implied_kmh = metres / ((after.time_ms - before.time_ms) / 1000) * 3.6
            assert implied_kmh <= 60.0 + 1.0
        for fix in fixes:
            assert fix.speed_kmh is not None and 0.0 <= fix.speed_kmh <= 60.0
            assert fix.heading_deg is None or 0.0 <= fix.heading_deg < 360.0
            assert (fix.heading_deg is None) == (fix.speed_kmh == 0.0)
            assert 3.0 <= fix.accuracy_m <= 20.0
        speeds += [fix.speed_kmh or 0.0 for fix in fixes]
    stopped = sum(1 for s in speeds if s == 0.0) / len(speeds)
    assert 0.02 < stopped < 0.6, "vehicles stop at lights, but not most of the time"
    assert max(speeds) > 45.0
    assert 12.0 < sum(speeds) / len(speeds) < 45.0, "an urban average speed"


def test_vehicles_turn_and_the_same_seed_drives_the_same_track() -> None:
    config = MovementConfig(centre=CENTRE, radius_m=20_000)
    fixes = _track(3, config, 1800, 1.0)
    headings = [f.heading_deg for f in fixes if f.heading_deg is not None]
    sharp = sum(
        1 for a, b in itertools.pairwise(headings) if min(abs(a - b), 360 - abs(a - b)) > 30.0
    )
    assert sharp >= 5, "turns at intersections"
    assert _track(3, config, 600, 1.0) == fixes[:600]
    assert _track(4, config, 600, 1.0) != fixes[:600]


def test_movement_config_rejects_a_too_small_area() -> None:
    with pytest.raises(ValueError, match="radius_m"):
        MovementConfig(radius_m=50.0)


# -- buffer and stop-and-wait batching ------------------------------------------------


def _fix(i: int) -> Fix:
    return Fix(lat=-23.55 + i * 1e-5, lng=-46.63, accuracy_m=8.0, time_ms=T0_MS + i * 1000)


def _outbox(fixes: int, *, max_fixes: int = 1000) -> Outbox:
    buffer = FixBuffer(max_fixes=max_fixes)
    for i in range(fixes):
        buffer.add(_fix(i))
    return Outbox(buffer, max_batch=250, reply_timeout_s=10.0, retry_after_s=1.0)


def test_one_fix_goes_inline_and_several_go_as_a_batch() -> None:
    single = orjson.loads(PosMessage(7, (_fix(0),)).encode())
    assert single == {
        "type": "pos",
        "seq": 7,
        "lat": -23.55,
        "lng": -46.63,
        "accuracy_m": 8.0,
        "time_ms": T0_MS,
    }
    batch = orjson.loads(PosMessage(8, (_fix(0), _fix(1))).encode())
    assert batch["seq"] == 8 and "lat" not in batch
    assert [f["time_ms"] for f in batch["fixes"]] == [T0_MS, T0_MS + 1000]


def test_backlog_goes_oldest_first_in_batches_of_at_most_250_stop_and_wait() -> None:
    outbox = _outbox(600)
    sizes, times = [], []
    now = 0.0
    while (message := outbox.next_message(now)) is not None:
        assert outbox.next_message(now) is None, "one message in flight at a time"
        sizes.append(len(message.fixes))
        times += [f.time_ms for f in message.fixes]
        now += 0.1
        reply = outbox.on_ack(message.seq, now)
        assert reply.matched and reply.removed == len(message.fixes)
        assert reply.rtt_s == pytest.approx(0.1)
    assert sizes == [250, 250, 100]
    assert times == sorted(times) and len(set(times)) == 600
    assert len(outbox.buffer) == 0


def test_an_ack_removes_exactly_the_fixes_it_acknowledges() -> None:
    outbox = _outbox(3, max_fixes=4)
    message = outbox.next_message(0.0)
    assert message is not None and len(message.fixes) == 3
    assert not outbox.on_ack(message.seq + 1, 0.1).matched, "another seq: not this message"
    for i in range(3, 6):  # two more than fit: the two oldest in flight are dropped
        outbox.buffer.add(_fix(i))
    assert outbox.buffer.dropped == 2
    assert outbox.on_ack(message.seq, 0.2).removed == 1
    assert [f.time_ms for f in outbox.buffer] == [T0_MS + i * 1000 for i in (3, 4, 5)]


def test_a_lost_connection_resends_the_message_in_flight() -> None:
    outbox = _outbox(2)
    first = outbox.next_message(0.0)
    assert first is not None
    outbox.connection_lost()
    again = outbox.next_message(1.0)
    assert again is not None and again.fixes == first.fixes and again.seq > first.seq
    assert not outbox.on_ack(first.seq, 1.1).matched, "a late ack of the lost message"


def test_error_replies_halve_delay_or_discard() -> None:
    outbox = _outbox(300)
    first = outbox.next_message(0.0)
    assert first is not None and len(first.fixes) == 250
    assert outbox.on_error("batch_too_large", first.seq, 0.1).removed == 0
    halved = outbox.next_message(0.1)
    assert halved is not None and len(halved.fixes) == 125

    outbox.on_error("rate_limited", None, 0.2)  # no seq: the frame was dropped unread
    assert outbox.next_message(0.5) is None
    assert outbox.next_deadline() == pytest.approx(1.2)
    retried = outbox.next_message(1.2)
    assert retried is not None and retried.fixes == halved.fixes

    reply = outbox.on_error("invalid_field", retried.seq, 1.3)
    assert reply.removed == 125 and outbox.discarded == 125
    assert len(outbox.buffer) == 175
    assert not outbox.on_error("invalid_field", 999, 1.4).matched


def test_a_reply_overdue_means_reconnect() -> None:
    outbox = _outbox(1)
    assert outbox.next_deadline() is None
    outbox.next_message(5.0)
    assert outbox.next_deadline() == pytest.approx(15.0)
    assert not outbox.overdue(14.9)
    assert outbox.overdue(15.1)


def test_the_buffer_drops_fixes_older_than_the_server_accepts() -> None:
    buffer = FixBuffer(max_fixes=10, max_age_s=60.0)
    for i in range(5):
        buffer.add(_fix(i * 30))  # 0, 30, 60, 90, 120 s
    assert buffer.prune(T0_MS + 150_000) == 3  # older than 90 s
    assert [f.time_ms for f in buffer] == [T0_MS + 90_000, T0_MS + 120_000]
    assert buffer.dropped == 3


class _Highest(random.Random):
    """Always draws the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_doubles_up_to_its_cap_with_full_jitter_and_resets() -> None:
    backoff = Backoff(_Highest(), base_s=1.0, cap_s=60.0)
    assert [backoff.next_delay() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1.0
    jittered = Backoff(random.Random(5), base_s=1.0, cap_s=60.0)
    delays = [jittered.next_delay() for _ in range(200)]
    assert all(0.0 <= d <= 60.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150, "full jitter, not fixed steps"


@pytest.mark.parametrize(
    ("code", "floor"),
    [(None, 0.0), (1001, 0.0), (1006, 0.0), (1011, 0.0), (4005, 0.0), (4008, 10.0)]
    + [(code, None) for code in (1008, 4000, 4001, 4003, 4004)],
)
def test_close_codes_decide_whether_to_reconnect(code: int | None, floor: float | None) -> None:
    assert reconnect_floor_s(code) == floor


def test_the_pacer_spreads_slots_without_catching_up_in_a_burst() -> None:
    pacer = Pacer(100.0)
    assert [pacer.reserve(10.0) for _ in range(3)] == pytest.approx([0.0, 0.01, 0.02])
    assert pacer.reserve(20.0) == 0.0
    assert pacer.reserve(20.0) == pytest.approx(0.01)
    assert Pacer(None).reserve(0.0) == 0.0


# -- against a real server ------------------------------------------------------------


class CuttableProxy:
    """A TCP proxy in front of the server whose network can be cut and restored:
    cutting aborts every connection (no close frame) and stops listening."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, up_writer.transport}
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("provider-app-sim")
    with running_server(settings, logs, WS_RATE_LIMIT_PER_S="100") as process:
        yield process


async def _providers(db: async_sessionmaker[AsyncSession], count: int) -> list[str]:
    """``count`` providers with one device token each; returns the tokens."""
    tokens = [f"dt_sim-test-{i:03d}" for i in range(count)]
    async with db() as session, session.begin():
        for i, token in enumerate(tokens):
            provider = m.Provider(
                person_kind=PersonKind.PJ,
                document=make_cnpj(4242_0000 + i),
                name=f"Guincho Simulado {i}",
                base_location="SRID=4326;POINT(-46.63 -23.55)",
                base_h3=point_cell(-23.55, -46.63),
            )
            session.add(provider)
            await session.flush()
            session.add(
                m.DeviceToken(provider_id=provider.id, name="sim", token_hash=token_digest(token))
            )
    return tokens


FAST = AppConfig(interval_s=0.1, backoff_base_s=0.05, backoff_cap_s=0.2, compression=False)


@pytest.mark.slow
async def test_a_fleet_streams_then_delivers_its_offline_buffer_after_reconnecting(
    server: ServerProcess,
    db: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    tokens = await _providers(db, 5)
    proxy = CuttableProxy(server.port)
    await proxy.start()
    url = f"ws://127.0.0.1:{proxy.port}/ws/provider"
    fleet = build_fleet(url, tokens, movement=MovementConfig(centre=CENTRE), config=FAST)
    stats = fleet.stats
    async with running(fleet):
        await eventually(lambda: stats.connected == 5, unit(5), "the fleet never connected")
        await eventually(lambda: stats.acks >= 20, unit(5), "no acks")

        await proxy.cut()
        await eventually(lambda: stats.connected == 0, unit(2), "the cut went unnoticed")
        await asyncio.sleep(unit(0.8))
        assert all(len(app.buffer) >= 5 for app in fleet.apps), "fixes buffered offline"
        assert stats.connect_failures > 0, "reconnecting while the network is down"
        await proxy.start()

        await eventually(
            lambda: all(app.connects >= 2 and app.largest_batch >= 5 for app in fleet.apps),
            unit(5),
            "buffered fixes were not delivered as a batch after reconnecting",
        )
        await eventually(
            lambda: all(len(app.buffer) <= 2 for app in fleet.apps), unit(3), "backlog stuck"
        )
    await proxy.cut()

    assert all(app.state is AppState.STOPPED for app in fleet.apps)
    assert all(None in app.close_codes for app in fleet.apps), "the cut sent no close frame"
    assert stats.reconnects >= 5 and stats.gave_up == 0
    assert stats.errors == {} and stats.rejected == {}
    assert stats.fixes_dropped == 0
    buffered = sum(len(app.buffer) for app in fleet.apps)
    assert stats.fixes_acked + buffered == stats.fixes_taken, "every fix acked or still held"
    for app in fleet.apps:
        assert app.provider_id is not None and app.last_acked is not None
        # The server acks before its writer's next flush (every POSITION_FLUSH_MS).
        deadline = time.monotonic() + unit(1)
        while (stored := await _stored_time_ms(redis, settings, app.provider_id)) < (
            app.last_acked.time_ms
        ):
            assert time.monotonic() < deadline, f"{app.name}: newest acked fix not in Redis"
            await asyncio.sleep(0.02)
        assert stored <= max(fix.time_ms for fix in [app.last_acked, *app.buffer])


async def _stored_time_ms(redis: aioredis.Redis, settings: Settings, provider_id: int) -> int:
    """Device time of the provider's position in Redis (0: none)."""
    stored = await LiveStore(redis, settings.redis_prefix).positions([provider_id])
    return stored[provider_id].device_time_ms if stored else 0


@pytest.mark.slow
async def test_apps_give_up_after_replaced_or_bad_token(
    server: ServerProcess, db: async_sessionmaker[AsyncSession], redis: aioredis.Redis
) -> None:
    tokens = await _providers(db, 1)
    url = f"ws://127.0.0.1:{server.port}/ws/provider"
    first = build_fleet(url, tokens, config=FAST, seed=1)
    async with running(first):
        await eventually(lambda: first.stats.connected == 1, unit(5), "first never connected")
        second = build_fleet(url, [tokens[0], "dt_no-such-token"], config=FAST, seed=2)
        async with running(second):
            await eventually(
                lambda: first.apps[0].state is AppState.GAVE_UP, unit(5), "never replaced"
            )
            await eventually(
                lambda: second.apps[1].state is AppState.GAVE_UP, unit(5), "bad token accepted"
            )
            await asyncio.sleep(unit(0.5))  # a wrong app would be reconnecting by now
            assert first.apps[0].close_codes == [4003] and first.apps[0].connects == 1
            assert second.apps[1].connects == 0 and second.stats.connect_failures == 1
            assert second.apps[0].state is AppState.CONNECTED


@pytest.mark.slow
async def test_load_mode_paces_the_fleet_and_stamps_fixes_with_their_send_time(
    server: ServerProcess, db: async_sessionmaker[AsyncSession], redis: aioredis.Redis
) -> None:
    tokens = await _providers(db, 4)
    sends: list[tuple[int, int, float]] = []
    plan = LoadPlan(Pacer(200.0), window=1, on_send=lambda *sent: sends.append(sent))
    fleet = build_fleet(f"ws://127.0.0.1:{server.port}/ws/provider", tokens, load=plan)
    async with running(fleet):
        await eventually(plan.started.is_set, unit(5), "the load never started")
        before, started = len(sends), time.monotonic()
        await asyncio.sleep(unit(1))
        rate = (len(sends) - before) / (time.monotonic() - started)
    assert 100 < rate <= 200 * 1.1, "the fleet's total rate follows the pacer"
    assert {pid for pid, _, _ in sends} == {app.provider_id for app in fleet.apps}
    assert all(abs(t / 1000 - wall) < unit(0.05) for _, t, wall in sends)
    stats = fleet.stats
    assert stats.errors == {} and stats.rejected == {}
    assert len(sends) - 4 <= stats.accepted <= len(sends), "all acked but those in flight"


@pytest.mark.slow
@pytest.mark.parametrize("window", [1, 0])
async def test_the_callback_engine_loads_the_server_with_the_same_frames(
    server: ServerProcess,
    db: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
    settings: Settings,
    window: int,
) -> None:
    tokens = await _providers(db, 3)
    stats = await run_callback_load(
        f"ws://127.0.0.1:{server.port}/ws/provider",
        tokens,
        movement=MovementConfig(),
        window=window,
        duration_s=unit(0.5),
    )
    assert stats.connects == 3 and stats.connect_failures == 0
    assert stats.frames_sent >= stats.acks > 0
    assert stats.accepted > 0
    if window:  # stop-and-wait: one reply per frame, at most one frame in flight
        assert stats.frames_sent - (stats.acks + sum(stats.errors.values())) <= 3
        assert stats.rtt_ms
    store = LiveStore(redis, settings.redis_prefix)
    async with db() as session:
        ids = (await session.scalars(sa.select(m.Provider.id))).all()
    assert len(await store.positions(list(ids))) == 3
