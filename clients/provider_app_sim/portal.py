"""A provider answering on the web portal (the ``web`` channel): :class:`PortalProvider`.

The portal page signs a provider's user in (``POST /api/v1/auth/login``, a session
cookie) and opens ``/ws/portal`` on the same origin; the socket carries the same
dispatch messages as the app's (docs/dispatch.md, "The four channels"), and its
``welcome`` lists the refusal reasons. This class does what a person at that page
does, with the same :class:`~clients.provider_app_sim.duty.Duty` as the apps: answer
offers by the provider's profile, report the job's statuses as the (virtual)
vehicle drives. A browser sends no positions: the vehicle only times the statuses.

It reconnects with backoff after a drop, and signs in again when the session ended
(close 4001). Task ownership: :meth:`PortalProvider.run` owns one connection at a
time and its ticker, cancelled and awaited before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from clients.provider_app_sim.config import DUTY_TICK_S, Answering
from clients.provider_app_sim.driving import carry_out, local_hour
from clients.provider_app_sim.duty import Action, Duty
from clients.provider_app_sim.movement import Vehicle
from clients.provider_app_sim.outbox import Backoff
from clients.provider_app_sim.profiles import profile_for
from clients.provider_app_sim.stats import Stats

CLOSE_SIGNED_OUT = 4001
"""The portal socket's close code when the session is gone: sign in again."""

OPEN_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 15.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


class PortalProvider:
    """A provider's user with the portal open.

    Args:
        base_url: ``http://host:port`` of the server.
        login, password: a provider user (the portal's sign-in).
        vehicle: where the provider is; it drives the jobs (positions not sent).
        answering: the profile's seed and knobs (reasons come from ``welcome``
            when it names none).
        rng: every random choice.
        stats: counters (``connects``, ``duty``...), possibly a fleet's.
        time_scale: simulated seconds per real second.

    Attributes:
        provider_id: from the last ``welcome``.
        connects: ``welcome`` messages received.
        duty: the offers and job (made at the first ``welcome``).
    """

    def __init__(
        self,
        base_url: str,
        login: str,
        password: str,
        *,
        vehicle: Vehicle,
        answering: Answering,
        rng: random.Random,
        stats: Stats | None = None,
        time_scale: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.login, self.password = login, password
        self.vehicle = vehicle
        self.answering = answering
        self.rng = rng
        self.stats = stats or Stats()
        self.time_scale = time_scale
        self.provider_id: int | None = None
        self.connects = 0
        self.duty: Duty | None = None
        self._cookie: str | None = None
        self._moved_at = asyncio.get_running_loop().time()
        self._backoff = Backoff(rng, BACKOFF_BASE_S, BACKOFF_CAP_S)
        self._outgoing: list[dict[str, Any]] = []  # the ticker sends them, in order

    async def run(self, stop: asyncio.Event) -> None:
        """Sign in, connect, answer and reconnect until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self._session(stop)
            except (OSError, TimeoutError, InvalidHandshake, httpx.HTTPError) as exc:
                self.stats.errors[f"portal_{type(exc).__name__}"] += 1
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._backoff.next_delay())

    async def _sign_in(self) -> str:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=HTTP_TIMEOUT_S) as http:
            reply = await http.post(
                "/api/v1/auth/login", json={"login": self.login, "password": self.password}
            )
            reply.raise_for_status()
            return "; ".join(f"{name}={value}" for name, value in http.cookies.items())

    async def _session(self, stop: asyncio.Event) -> None:
        if self._cookie is None:
            self._cookie = await self._sign_in()
        ws_url = "ws" + self.base_url.removeprefix("http") + "/ws/portal"
        ws = await connect(
            ws_url,
            additional_headers={"Cookie": self._cookie, "Origin": self.base_url},
            open_timeout=OPEN_TIMEOUT_S,
            proxy=None,
        )
        ticker = asyncio.create_task(self._tick_forever(ws))
        stopper = asyncio.create_task(stop.wait())
        try:
            reader = asyncio.create_task(self._read(ws))
            await asyncio.wait([reader, stopper, ticker], return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, ticker, stopper):
                task.cancel()
            results = await asyncio.gather(reader, ticker, stopper, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, ConnectionClosed):
                    raise result
        finally:
            if self.duty is not None:
                self.duty.connection_lost()
            self._outgoing.clear()
            await ws.close()
        received = ws.protocol.close_rcvd
        if received is not None and received.code == CLOSE_SIGNED_OUT:
            self._cookie = None  # the session ended: sign in again

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            message = orjson.loads(raw)
            if not isinstance(message, dict):
                continue
            if message.get("type") == "welcome":
                self._on_welcome(message)
            elif self.duty is not None:
                if message.get("type") == "error":
                    self.stats.errors[str(message.get("code"))] += 1
                self._act(self.duty.on_message(message, self._now(), self._hour(), self._at()))

    def _on_welcome(self, welcome: dict[str, Any]) -> None:
        self.provider_id = int(welcome["provider_id"])
        self.connects += 1
        self.stats.connects += 1
        self._backoff.reset()
        if self.duty is None:
            reasons = self.answering.reason_ids or tuple(
                int(r["id"]) for r in welcome.get("reasons") or () if isinstance(r, dict)
            )
            answering = self.answering
            history = answering.histories.get(self.provider_id)
            self.duty = Duty(
                profile_for(self.provider_id, answering.seed, answering.knobs, history),
                reasons,
                random.Random(f"acionar-sim-portal:{answering.seed}:{self.provider_id}"),
                itertools.count(1).__next__,
                time_scale=self.time_scale,
                arrival_radius_m=answering.arrival_radius_m,
                counts=self.stats.duty,
            )
        self.duty.connected = True

    async def _tick_forever(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(DUTY_TICK_S)
            if self.duty is not None:
                self._act(self.duty.tick(self._now(), self._at(), self.vehicle.arrived))
            while self._outgoing:
                await ws.send(orjson.dumps(self._outgoing.pop(0)).decode())

    def _act(self, actions: list[Action]) -> None:
        self._outgoing += carry_out(actions, self.vehicle, self.rng, self._hour())

    def _now(self) -> float:
        now = asyncio.get_running_loop().time()
        self.vehicle.advance((now - self._moved_at) * self.time_scale)
        self._moved_at = now
        return now

    def _at(self) -> tuple[float, float]:
        return self.vehicle.lat, self.vehicle.lng

    def _hour(self) -> float:
        return local_hour(time.time_ns() // 1_000_000)
