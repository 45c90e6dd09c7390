"""One simulated provider app over a real websocket: :class:`SimulatedApp`.

The app does what docs/protocol.md asks of an Android app:

* connects with the ``acionar.v1`` subprotocol and ``Authorization: Bearer <token>``,
  waits for ``welcome`` and adopts its position interval (unless overridden) and
  bounds, then sends ``hello``;
* takes a fix from its :class:`~clients.provider_app_sim.movement.Vehicle` every
  interval, connected or not, into its offline buffer, and sends the buffer's head
  stop-and-wait (:class:`~clients.provider_app_sim.outbox.Outbox`): buffered fixes
  go as batches after a reconnect;
* reconnects after a drop with exponential backoff and full jitter, except after the
  close codes that forbid it (4001, 4003, 4004...);
* in answering mode (an :class:`~clients.provider_app_sim.config.Answering`), answers
  offers and drives its jobs through their statuses: a
  :class:`~clients.provider_app_sim.duty.Duty` decides, this class carries its
  actions out (send, follow a street route, roam), connected or not; it may also
  lose its signal now and then (``AppConfig.signal_loss_per_h``).

Two other modes serve benchmarks: ``idle`` (authenticate, say hello, then send
nothing; the websocket library still answers pings) and *load*, driven by a
:class:`~clients.provider_app_sim.load.LoadPlan` shared by the fleet (see
:mod:`~clients.provider_app_sim.load`).

Task ownership: :meth:`SimulatedApp.run` owns the sampler, duty and signal-loss
tasks; each connection owns its reader and pump tasks (none in load mode with a
window of one: sending and reading take turns in the app's own task); all are
cancelled and awaited before they return.

The clock, the load plan and pacer, and the options have modules of their own
(:mod:`.clock`, :mod:`.load`, :mod:`.config`), re-exported here for the fleet and
the command line; opening a connection up to ``welcome`` is :mod:`.connecting`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Coroutine
from enum import Enum
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from clients.provider_app_sim.clock import SYSTEM_CLOCK, Clock, SystemClock
from clients.provider_app_sim.config import DUTY_TICK_S, SIGNAL_LOSS_S, Answering, AppConfig
from clients.provider_app_sim.connecting import NotWelcomedError, close_code, open_welcomed
from clients.provider_app_sim.driving import carry_out, local_hour
from clients.provider_app_sim.duty import Action, Duty
from clients.provider_app_sim.load import LoadPlan, Pacer
from clients.provider_app_sim.movement import Vehicle
from clients.provider_app_sim.outbox import Backoff, Fix, FixBuffer, Outbox, PosMessage, Reply
from clients.provider_app_sim.profiles import profile_for
from clients.provider_app_sim.protocol import (
    DEFAULT_POSITION_INTERVAL_S,
    ErrorCode,
    reconnect_floor_s,
)
from clients.provider_app_sim.stats import Stats

__all__ = [
    "SYSTEM_CLOCK",
    "Answering",
    "AppConfig",
    "AppState",
    "Clock",
    "LoadPlan",
    "Pacer",
    "SimulatedApp",
    "SystemClock",
]


class AppState(Enum):
    """Where a simulated app is."""

    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # backing off before reconnecting
    GAVE_UP = "gave_up"  # a close code said not to reconnect
    STOPPED = "stopped"


class SimulatedApp:
    """A provider app: a vehicle, a device token and one websocket at a time.

    Args:
        url: ``ws://host:port/ws/provider``.
        token: the device token.
        vehicle: what the location provider reports.
        config: bounds and options.
        clock: monotonic and wall time (device time of fixes).
        rng: every random choice of the app (phase, backoff, samples).
        stats: counters, possibly shared by a fleet.
        gate: bounds concurrent connection attempts (held until ``welcome``).
        load: a load plan; ``None`` streams at the position interval.
        answering: answer offers and drive jobs (``None``: only stream positions).
        name: for task names and logs; also the ``hello.device_id``.

    Attributes:
        state: the app's :class:`AppState`.
        provider_id: from the last ``welcome``.
        connects: ``welcome`` messages received.
        close_codes: close codes of ended connections (``None``: no close frame).
        largest_batch: most fixes sent in one message.
        last_acked: the newest fix of the last message acknowledged.
        duty: answering mode's offers and job (made at the first ``welcome``, which
            names the provider whose profile it follows).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        vehicle: Vehicle,
        config: AppConfig | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        stats: Stats | None = None,
        gate: asyncio.Semaphore | None = None,
        load: LoadPlan | None = None,
        answering: Answering | None = None,
        name: str = "app",
    ) -> None:
        self.url = url
        self.token = token
        self.vehicle = vehicle
        self.config = config or AppConfig()
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats = stats or Stats()
        self.gate = gate
        self.load = load
        self.name = name
        self.state = AppState.NEW
        self.provider_id: int | None = None
        self.connects = 0
        self.close_codes: list[int | None] = []
        self.largest_batch = 0
        self.last_acked: Fix | None = None
        self.interval_s = self.config.interval_s or DEFAULT_POSITION_INTERVAL_S
        self.buffer = FixBuffer(self.config.buffer_max_fixes)
        self.outbox = Outbox(
            self.buffer,
            reply_timeout_s=self.config.reply_timeout_s,
            retry_after_s=self.config.rate_limited_retry_s,
        )
        self.backoff = Backoff(self.rng, self.config.backoff_base_s, self.config.backoff_cap_s)
        self._ws: ClientConnection | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._unacked: dict[int, float] = {}  # load mode: seq -> monotonic send time
        self._moved_at = clock.monotonic()
        self._last_time_ms = 0
        self.answering = answering
        self.duty: Duty | None = None
        self._offline_until = 0.0
        self._commands: list[str] = []  # duty messages to send, oldest first

    # -- life -----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, stream and reconnect until :meth:`stop` or a close code that
        forbids reconnecting."""
        jobs: list[tuple[str, Coroutine[Any, Any, None]]] = []
        if self.load is None and not self.config.idle:
            jobs.append(("sampler", self._sample_forever()))
            if self.answering is not None:
                jobs.append(("duty", self._duty_forever()))
            if self.config.signal_loss_per_h > 0:
                jobs.append(("signal", self._lose_signal_forever()))
        helpers = [asyncio.create_task(job, name=f"{self.name}-{what}") for what, job in jobs]
        try:
            await self._connect_loop()
        finally:
            for helper in helpers:
                helper.cancel()
            results = await asyncio.gather(*helpers, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result

    async def stop(self) -> None:
        """Stop: close the connection (1000) and do not reconnect."""
        self._stopping.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    def take_fix(self) -> Fix:
        """Move the vehicle to now and take a fix into the buffer (as the location
        provider does every interval); returns it."""
        fix = self._fresh_fix()
        dropped_before = self.buffer.dropped
        self.buffer.add(fix)
        self.buffer.prune(fix.time_ms)
        self.stats.fixes_taken += 1
        self.stats.fixes_dropped += self.buffer.dropped - dropped_before
        self._wake.set()
        return fix

    # -- connecting -----------------------------------------------------------------

    async def _connect_loop(self) -> None:
        while not self._stopping.is_set():
            offline_s = self._offline_until - self.clock.monotonic()
            if offline_s > 0:  # no signal: no connection either
                self.state = AppState.WAITING
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), offline_s)
                continue
            code = await self._session()
            if self._stopping.is_set():
                break
            floor = reconnect_floor_s(code)
            if floor is None:
                self.state = AppState.GAVE_UP
                self.stats.gave_up += 1
                return
            self.state = AppState.WAITING
            delay = max(floor, self.backoff.next_delay())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        self.state = AppState.STOPPED

    async def _session(self) -> int | None:
        """One connection, from connecting to its end; returns the close code."""
        self.state = AppState.CONNECTING
        try:
            ws, welcome = await open_welcomed(
                self.url, self.token, self.config, self.gate, self._stopping
            )
        except NotWelcomedError as failed:
            self.stats.connect_failures += 1
            return failed.code
        self._ws = ws
        self.state = AppState.CONNECTED
        self.stats.connected += 1
        try:
            self._on_welcome(welcome)
            await self._converse(ws)
        except ConnectionClosed:
            pass
        finally:
            self.stats.connected -= 1
            self._ws = None
            self.outbox.connection_lost()
            if self.duty is not None:
                self.duty.connection_lost()
                self._commands.clear()
            self._unacked.clear()
            ws.transport.abort()  # no-op when already closed
        code = close_code(ws)
        self.close_codes.append(code)
        self.stats.closes["none" if code is None else str(code)] += 1
        return code

    def _on_welcome(self, welcome: dict[str, Any]) -> None:
        self.provider_id = int(welcome["provider_id"])
        if self.config.interval_s is None:
            interval = welcome.get("position_interval_s")
            if isinstance(interval, int | float) and interval > 0:
                self.interval_s = float(interval)
        limits = welcome.get("config")
        if isinstance(limits, dict):
            max_batch = limits.get("max_batch_fixes")
            if isinstance(max_batch, int) and max_batch > 0:
                self.outbox.set_max_batch(max_batch)
            max_age = limits.get("max_fix_age_s")
            if isinstance(max_age, int | float) and max_age > 0:
                self.buffer.max_age_ms = int(max_age * 1000)
        self.backoff.reset()
        if self.answering is not None and self.duty is None:
            self.duty = self._new_duty(self.answering, self.provider_id)
        if self.connects:
            self.stats.reconnects += 1
        self.connects += 1
        self.stats.connects += 1

    # -- one connection ---------------------------------------------------------------

    async def _converse(self, ws: ClientConnection) -> None:
        """Say hello, then read replies and send until the connection ends."""
        hello = {"type": "hello", "app_version": self.config.app_version, "device_id": self.name}
        await ws.send(orjson.dumps(hello).decode())
        if self.duty is not None:
            self.duty.connected = True
        if self._stopping.is_set():
            return
        if self.load is not None and self.load.window == 1:
            await self._stop_and_wait(ws, self.load)
            return
        workers = [asyncio.create_task(self._read(ws), name=f"{self.name}-reader")]
        if not self.config.idle:
            pump = self._load_pump(ws) if self.load is not None else self._pump(ws)
            workers.append(asyncio.create_task(pump, name=f"{self.name}-pump"))
        try:
            await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for worker in workers:
                worker.cancel()
            results = await asyncio.gather(*workers, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, ConnectionClosed):
                raise result

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self._on_frame(raw)

    async def _pump(self, ws: ClientConnection) -> None:
        """Send the buffer's head, stop-and-wait, until the connection ends."""
        outbox = self.outbox
        while True:
            self._wake.clear()
            now = self.clock.monotonic()
            if outbox.overdue(now):
                self.stats.errors["reply_timeout"] += 1
                return  # ends the connection: the caller reconnects
            message = outbox.next_message(now)
            if message is not None:
                await ws.send(message.encode())
                self._count_sent(message)
                continue
            deadline = outbox.next_deadline()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(_loop_time(deadline, now)):
                    await self._wake.wait()

    async def _stop_and_wait(self, ws: ClientConnection, plan: LoadPlan) -> None:
        """Load mode with one message in flight, in one task: send a fresh fix, read
        until its reply, repeat. A reader task and an event per message would cost
        the generator more CPU than the server under test spends on the message."""
        await plan.started.wait()
        while True:
            if plan.pacer.rate_per_s is not None:  # else the reads below yield
                await plan.pacer.wait()
            await self._send_fresh(ws, plan)
            try:
                async with asyncio.timeout(self.config.reply_timeout_s):
                    while self._unacked:
                        self._on_frame(await ws.recv())
            except TimeoutError:
                self.stats.errors["reply_timeout"] += 1
                return  # ends the connection: the caller reconnects

    async def _send_fresh(self, ws: ClientConnection, plan: LoadPlan) -> None:
        fix = self._fresh_fix()
        message = PosMessage(self.outbox.take_seq(), (fix,))
        await ws.send(message.encode())
        if plan.window:
            self._unacked[message.seq] = self.clock.monotonic()
        self.stats.fixes_taken += 1
        self._count_sent(message)
        if plan.on_send is not None and self.provider_id is not None:
            plan.on_send(self.provider_id, fix.time_ms, time.time())

    async def _load_pump(self, ws: ClientConnection) -> None:
        """Send a fresh fix at each slot the fleet's pacer grants."""
        plan = self.load
        assert plan is not None
        await plan.started.wait()
        while True:
            if plan.window and not await self._window_open(plan.window):
                self.stats.errors["reply_timeout"] += 1
                return
            await plan.pacer.wait()
            await self._send_fresh(ws, plan)

    async def _window_open(self, window: int) -> bool:
        """Wait until fewer than ``window`` messages await an ack; ``False`` if the
        oldest waited longer than the reply timeout."""
        while len(self._unacked) >= window:
            self._wake.clear()
            oldest = min(self._unacked.values())
            deadline = oldest + self.config.reply_timeout_s
            now = self.clock.monotonic()
            if now >= deadline:
                return False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(_loop_time(deadline, now)):
                    await self._wake.wait()
        return True

    def _count_sent(self, message: PosMessage) -> None:
        count = len(message.fixes)
        self.stats.frames_sent += 1
        self.stats.fixes_sent += count
        if count > 1:
            self.stats.batches_sent += 1
        self.largest_batch = max(self.largest_batch, count)

    def _fresh_fix(self) -> Fix:
        """Advance the vehicle to now; a fix whose device time is now (strictly after
        the previous fix's, as the server's filter requires)."""
        self._move_vehicle()
        self._last_time_ms = max(self.clock.wall_ms(), self._last_time_ms + 1)
        return self.vehicle.fix(self._last_time_ms)

    def _move_vehicle(self) -> None:
        """Drive the vehicle to now (in simulated time)."""
        now = self.clock.monotonic()
        self.vehicle.advance((now - self._moved_at) * self.config.time_scale)
        self._moved_at = now

    async def _sample_forever(self) -> None:
        # A random phase: a fleet started at once does not send in lockstep.
        await asyncio.sleep(self.rng.uniform(0.0, self.interval_s))
        while True:
            self.take_fix()
            await asyncio.sleep(self.interval_s)

    # -- replies --------------------------------------------------------------------

    def _on_frame(self, raw: str | bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.stats.errors["bad_server_frame"] += 1
            return
        if not isinstance(message, dict):
            self.stats.errors["bad_server_frame"] += 1
            return
        kind = message.get("type")
        duty = self.duty
        if kind == "ack":
            self._on_ack(message)
        elif kind == "error" and not (duty is not None and duty.owns(message.get("seq"))):
            self._on_error(message)
        elif duty is not None and kind in DUTY_MESSAGES:
            if kind == "error":
                self.stats.errors[str(message.get("code"))] += 1
            self._move_vehicle()
            now, at = self.clock.monotonic(), (self.vehicle.lat, self.vehicle.lng)
            self._act(duty.on_message(message, now, local_hour(self.clock.wall_ms()), at))
        # Other types (a later version's messages...) are ignored, as the protocol asks.

    def _on_ack(self, message: dict[str, Any]) -> None:
        seq = _int_or_none(message.get("seq"))
        accepted = _int_or_none(message.get("accepted")) or 0
        rejected = message.get("rejected")
        self.stats.acks += 1
        self.stats.accepted += accepted
        if isinstance(rejected, dict):
            for reason, count in rejected.items():
                self.stats.rejected[str(reason)] += _int_or_none(count) or 0
        now = self.clock.monotonic()
        if self.load is not None:
            self._settle_load(seq, now)
            return
        flight = self.outbox.in_flight
        reply = self.outbox.on_ack(seq, now)
        if reply.matched and flight is not None:
            self.last_acked = flight.message.fixes[-1]
        self._settle(reply)

    def _on_error(self, message: dict[str, Any]) -> None:
        code = str(message.get("code"))
        seq = _int_or_none(message.get("seq"))
        self.stats.errors[code] += 1
        now = self.clock.monotonic()
        if self.load is not None:
            if code == ErrorCode.RATE_LIMITED and self._unacked:
                seq = min(self._unacked)  # dropped unread: the oldest one sent
            self._settle_load(seq, now)
            return
        self._settle(self.outbox.on_error(code, seq, now))

    def _settle(self, reply: Reply) -> None:
        if not reply.matched:
            return
        self.stats.fixes_acked += reply.removed
        if reply.rtt_s is not None:
            self.stats.record_rtt(reply.rtt_s, self.rng.random())
        self._wake.set()

    def _settle_load(self, seq: int | None, now: float) -> None:
        sent_at = self._unacked.pop(seq, None) if seq is not None else None
        if sent_at is None:
            return
        self.stats.fixes_acked += 1
        self.stats.record_rtt(now - sent_at, self.rng.random())
        self._wake.set()

    # -- answering ---------------------------------------------------------------------

    def _new_duty(self, answering: Answering, provider_id: int) -> Duty:
        history = answering.histories.get(provider_id)
        profile = profile_for(provider_id, answering.seed, answering.knobs, history)
        return Duty(
            profile,
            answering.reason_ids,
            random.Random(f"acionar-sim-duty:{answering.seed}:{provider_id}"),
            self.outbox.take_seq,
            time_scale=self.config.time_scale,
            arrival_radius_m=answering.arrival_radius_m,
            counts=self.stats.duty,
        )

    async def _duty_forever(self) -> None:
        while True:
            await asyncio.sleep(DUTY_TICK_S)
            duty = self.duty
            if duty is None:
                continue  # no welcome yet: the provider is not known
            self._move_vehicle()
            at = (self.vehicle.lat, self.vehicle.lng)
            self._act(duty.tick(self.clock.monotonic(), at, self.vehicle.arrived))
            ws = self._ws
            with contextlib.suppress(ConnectionClosed):  # the duty resends after reconnecting
                while self._commands and ws is not None:
                    await ws.send(self._commands.pop(0))

    def _act(self, actions: list[Action]) -> None:
        """Carry out a duty's actions (messages wait in ``_commands`` for the duty
        task, which sends them; here may be a socket's reader)."""
        hour = local_hour(self.clock.wall_ms())
        for message in carry_out(actions, self.vehicle, self.rng, hour):
            self._commands.append(orjson.dumps(message).decode())

    async def _lose_signal_forever(self) -> None:
        mean_s = 3600.0 / self.config.signal_loss_per_h
        while True:
            await asyncio.sleep(self.rng.expovariate(1.0 / mean_s))
            self._offline_until = self.clock.monotonic() + self.rng.uniform(*SIGNAL_LOSS_S)
            self.stats.duty["signal_losses"] += 1
            ws = self._ws
            if ws is not None:
                ws.transport.abort()  # no close frame: the network is gone


DUTY_MESSAGES = frozenset({"offer", "offer.withdrawn", "job.update", "result", "error"})
"""Server messages an answering app hands to its duty."""


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _loop_time(deadline: float | None, now: float) -> float | None:
    """A monotonic ``deadline`` (read at ``now``) on the event loop's clock."""
    if deadline is None:
        return None
    return asyncio.get_running_loop().time() + max(0.0, deadline - now)
