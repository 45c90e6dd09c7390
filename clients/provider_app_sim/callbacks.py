"""Load mode without a task per app: :func:`run_callback_load`.

The task-based apps (:mod:`clients.provider_app_sim.app`) pay, for every ``ack``, a
task switch, a future and a timeout: about 70 µs of the generator's CPU per
position, more than the server under test spends on it, so a benchmark that pits
them against a server on a core of its own measures the generator. Here each app is
an ``asyncio.Protocol`` around the ``websockets`` library's sans-I/O client (the
server's own design, docs/architecture.md, "The provider socket"): the ``ack`` of
a position is read, counted and answered with the next position inside the
callback that received it.

Same frames as the task-based apps (a :class:`~clients.provider_app_sim.movement.
Vehicle` per app, :class:`~clients.provider_app_sim.outbox.PosMessage`), same
handshake (``acionar.v1``, bearer token, permessage-deflate offered unless told
not to), same counters (:class:`~clients.provider_app_sim.stats.Stats`). Load only:
no offline buffer, no reconnection (a dropped app is counted in ``closes`` and stays
down), no pacing. ``window`` 1 is stop-and-wait; 0 sends without waiting for acks
(for servers that never reply), a frame to each app whose socket accepts more, in
rounds, yielding to the event loop between rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import OPEN
from websockets.typing import Subprotocol
from websockets.uri import WebSocketURI, parse_uri

from clients.provider_app_sim.movement import MovementConfig, Vehicle
from clients.provider_app_sim.outbox import PosMessage
from clients.provider_app_sim.protocol import SUBPROTOCOL
from clients.provider_app_sim.stats import Stats

MAX_FRAME_BYTES = 1 << 20
WELCOME_TIMEOUT_S = 30.0
"""Longest wait for one app's ``welcome`` after it started connecting."""

WRITE_BUFFER_LIMIT = 64 * 1024
"""Window 0: an app whose socket holds this much unsent is skipped in a round."""

USER_AGENT = "acionar-provider-app-sim/0.1 (callbacks)"

Reporter = Callable[[float, Stats], None]


class LoadApp(asyncio.Protocol):
    """One simulated app in load mode, driven by its socket's callbacks."""

    def __init__(
        self,
        uri: WebSocketURI,
        token: str,
        vehicle: Vehicle,
        stats: Stats,
        *,
        window: int,
        compression: bool,
        rng: random.Random,
    ) -> None:
        extensions = enable_client_permessage_deflate(None) if compression else None
        self.ws = ClientProtocol(
            uri,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            extensions=extensions,
            max_size=MAX_FRAME_BYTES,
        )
        self.token = token
        self.vehicle = vehicle
        self.stats = stats
        self.window = window
        self.rng = rng
        self.welcomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sending = False
        self.transport: asyncio.Transport | None = None
        self._seq = 0
        self._sent_at = 0.0
        self._moved_at = time.monotonic()
        self._last_time_ms = 0

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request = self.ws.connect()
        request.headers["Authorization"] = f"Bearer {self.token}"
        request.headers["User-Agent"] = USER_AGENT
        self.ws.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._on_text(event.data)
            elif isinstance(event, Response) and event.status_code != 101:
                self._fail("handshake refused")
        self._flush()

    def eof_received(self) -> None:
        self.ws.receive_eof()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.welcomed.done() and self.welcomed.exception() is None:
            self.stats.connected -= 1
            close = self.ws.close_rcvd
            self.stats.closes[str(close.code) if close is not None else "none"] += 1
        self._fail("connection lost")
        self.transport = None

    # -- messages -------------------------------------------------------------------

    def _on_text(self, data: bytes | bytearray | memoryview) -> None:
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.stats.errors["bad_server_frame"] += 1
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ack":
            self._on_ack(message)
        elif kind == "error":
            self.stats.errors[str(message.get("code"))] += 1
            if self.window:
                self._send_position()  # the refused one is settled: on to the next
        elif kind == "welcome" and not self.welcomed.done():
            self.stats.connected += 1
            self.stats.connects += 1
            hello = {"type": "hello", "app_version": USER_AGENT, "device_id": self.token[-12:]}
            self.ws.send_text(orjson.dumps(hello))
            self.welcomed.set_result(None)

    def _on_ack(self, message: dict[str, Any]) -> None:
        stats = self.stats
        accepted = message.get("accepted")
        stats.acks += 1
        stats.accepted += accepted if type(accepted) is int else 0
        rejected = message.get("rejected")
        if rejected:
            for reason, count in rejected.items():
                stats.rejected[str(reason)] += count if type(count) is int else 0
        if self.window and message.get("seq") == self._seq:
            stats.fixes_acked += 1
            stats.record_rtt(time.monotonic() - self._sent_at, self.rng.random())
            self._send_position()

    def start(self) -> None:
        """Start sending (window 1: the first position; window 0: see :func:`_blast`)."""
        self.sending = True
        if self.window:
            self._send_position()
            self._flush()

    def _send_position(self) -> None:
        if not self.sending or self.transport is None or self.ws.state is not OPEN:
            return
        now = time.monotonic()
        self.vehicle.advance(now - self._moved_at)
        self._moved_at = now
        self._last_time_ms = max(time.time_ns() // 1_000_000, self._last_time_ms + 1)
        self._seq += 1
        message = PosMessage(self._seq, (self.vehicle.fix(self._last_time_ms),))
        self.ws.send_text(message.encode().encode())
        self._sent_at = now
        stats = self.stats
        stats.fixes_taken += 1
        stats.frames_sent += 1
        stats.fixes_sent += 1

    def send_blind(self) -> None:
        """Window 0: one more position, unless the socket is backed up."""
        transport = self.transport
        if transport is not None and transport.get_write_buffer_size() < WRITE_BUFFER_LIMIT:
            self._send_position()
            self._flush()

    def close(self) -> None:
        self.sending = False
        if self.transport is not None:
            self.transport.close()

    def _flush(self) -> None:
        transport = self.transport
        for chunk in self.ws.data_to_send():
            if transport is None or transport.is_closing():
                continue
            if chunk:
                transport.write(chunk)
            else:
                transport.write_eof()

    def _fail(self, why: str) -> None:
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError(why))
            self.welcomed.exception()  # retrieved: a failed app is counted, not raised


async def _connect(app: LoadApp, uri: WebSocketURI, gate: asyncio.Semaphore, stats: Stats) -> None:
    async with gate:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: app, uri.host, uri.port)
            async with asyncio.timeout(WELCOME_TIMEOUT_S):
                await asyncio.shield(app.welcomed)
        except (OSError, TimeoutError):
            stats.connect_failures += 1
            app.close()


async def _blast(apps: Sequence[LoadApp]) -> None:
    """Window 0: rounds of one frame per app, the event loop reading in between."""
    while True:
        for app in apps:
            app.send_blind()
        await asyncio.sleep(0)


async def run_callback_load(
    url: str,
    tokens: Sequence[str],
    *,
    movement: MovementConfig,
    window: int,
    compression: bool = True,
    seed: int = 1,
    connect_concurrency: int = 64,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    report: Reporter | None = None,
    report_every_s: float = 5.0,
) -> Stats:
    """Connect an app per token, then load the server until ``duration_s`` passes or
    ``stop`` is set; returns the fleet's counters. ``window`` is 0 or 1."""
    if window not in (0, 1):
        raise ValueError("the callback engine supports windows 0 and 1")
    uri, stats = parse_uri(url), Stats()
    gate = asyncio.Semaphore(connect_concurrency)
    apps = []
    for index, token in enumerate(tokens):
        rng = random.Random(seed * 1_000_003 + index)
        apps.append(
            LoadApp(
                uri,
                token,
                Vehicle(movement, rng),
                stats,
                window=window,
                compression=compression,
                rng=rng,
            )
        )
    started = time.monotonic()
    reporter = asyncio.create_task(_report(report, report_every_s, started, stats))
    blaster: asyncio.Task[None] | None = None
    try:
        await asyncio.gather(*(_connect(app, uri, gate, stats) for app in apps))
        gc.collect()
        gc.freeze()  # the connections live for the whole run (as in fleet.py)
        for app in apps:
            app.start()
        if window == 0:
            blaster = asyncio.create_task(_blast(apps), name="blaster")
        await _wait(duration_s, stop)
    finally:
        for task in (blaster, reporter):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for app in apps:
            app.close()
        await asyncio.sleep(0)
    if report is not None:
        report(time.monotonic() - started, stats)
    return stats


async def _wait(duration_s: float | None, stop: asyncio.Event | None) -> None:
    event = stop or asyncio.Event()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), duration_s)


async def _report(report: Reporter | None, every_s: float, started: float, stats: Stats) -> None:
    if report is None:
        return
    while True:
        await asyncio.sleep(every_s)
        report(time.monotonic() - started, stats)
