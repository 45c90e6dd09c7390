"""Many simulated apps in one event loop: :class:`Fleet` and :func:`build_fleet`.

The fleet owns one task per app, plus a reporter (periodic stats) and, in load
mode, a starter that releases the load once every app is connected. All of them
are stopped, cancelled and awaited before :meth:`Fleet.run` returns; an exception
that escaped an app (a bug, not a network failure) is raised from it then.
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from clients.provider_app_sim.app import (
    SYSTEM_CLOCK,
    Answering,
    AppConfig,
    AppState,
    Clock,
    LoadPlan,
    SimulatedApp,
)
from clients.provider_app_sim.movement import MovementConfig, Vehicle
from clients.provider_app_sim.stats import Stats

CONNECT_CONCURRENCY = 64
"""Connection attempts in progress at once (each holds its slot until ``welcome``):
the server checks every token in its database, so a fleet must not stampede it."""

STOP_TIMEOUT_S = 10.0
"""How long apps get to close their sockets cleanly when the fleet stops."""

LOAD_START_TIMEOUT_S = 300.0
"""Load starts when every app is connected, or after this long regardless."""

CONNECTED_POLL_S = 0.05
"""How often the load starter looks at the connected count."""

Reporter = Callable[[float, Stats], None]
"""Called with (seconds since the fleet started, the fleet's stats)."""


class Fleet:
    """Simulated apps sharing one :class:`Stats` (and, in load mode, a plan).

    Attributes:
        apps: the apps, in token order.
        stats: their shared counters.
        load: the load plan the apps follow, if any.
    """

    def __init__(
        self, apps: Sequence[SimulatedApp], stats: Stats, load: LoadPlan | None = None
    ) -> None:
        self.apps = list(apps)
        self.stats = stats
        self.load = load

    async def run(
        self,
        duration_s: float | None = None,
        *,
        stop: asyncio.Event | None = None,
        report: Reporter | None = None,
        report_every_s: float = 5.0,
        load_start_timeout_s: float = LOAD_START_TIMEOUT_S,
    ) -> Stats:
        """Run every app until ``duration_s`` passes, ``stop`` is set, or every app
        has ended (gave up); then stop them all.

        Returns:
            The fleet's stats (the same object as :attr:`stats`).

        Raises:
            ExceptionGroup: apps failed with unexpected exceptions.
        """
        started = time.monotonic()
        tasks = [asyncio.create_task(app.run(), name=app.name) for app in self.apps]
        helpers: list[asyncio.Task[None]] = []
        if report is not None:
            helpers.append(asyncio.create_task(self._report(report, report_every_s, started)))
        if self.load is not None:
            helpers.append(asyncio.create_task(self._start_load(load_start_timeout_s)))
        try:
            await _until(tasks, duration_s, stop)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._stop(tasks)
        if report is not None:
            report(time.monotonic() - started, self.stats)
        return self.stats

    def connected_apps(self) -> int:
        """Apps holding an authenticated connection now."""
        return sum(1 for app in self.apps if app.state is AppState.CONNECTED)

    async def _stop(self, tasks: list[asyncio.Task[None]]) -> None:
        stoppers = [asyncio.create_task(app.stop()) for app in self.apps]
        await asyncio.wait([*stoppers, *tasks], timeout=STOP_TIMEOUT_S)
        for task in (*stoppers, *tasks):
            task.cancel()
        results = await asyncio.gather(*stoppers, *tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            raise ExceptionGroup("simulated apps failed", failures)

    async def _report(self, report: Reporter, every_s: float, started: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            report(time.monotonic() - started, self.stats)

    async def _start_load(self, timeout_s: float) -> None:
        assert self.load is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.stats.connected >= len(self.apps):
                break
            await asyncio.sleep(CONNECTED_POLL_S)
        # The connections live for the whole run: keep their objects out of the
        # collector's passes, whose pauses would otherwise throttle the load (and
        # the few reference cycles frozen with them outlive a closed app: fine for
        # a load generator, never do this in a server).
        gc.collect()
        gc.freeze()
        self.load.started.set()


async def _until(
    tasks: list[asyncio.Task[None]], duration_s: float | None, stop: asyncio.Event | None
) -> None:
    """Until ``duration_s`` passes, ``stop`` is set, or every task has ended."""
    waiters: list[asyncio.Task[Any]] = []
    if stop is not None:
        waiters.append(asyncio.create_task(stop.wait()))
    if tasks:
        # asyncio.wait, unlike gather, leaves the apps running when it is cancelled.
        waiters.append(asyncio.create_task(asyncio.wait(tasks)))
    try:
        if waiters:
            await asyncio.wait(waiters, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
        elif duration_s is not None:
            await asyncio.sleep(duration_s)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def build_fleet(
    url: str,
    tokens: Sequence[str],
    *,
    movement: MovementConfig | None = None,
    config: AppConfig | None = None,
    load: LoadPlan | None = None,
    answering: Answering | None = None,
    seed: int = 1,
    connect_concurrency: int = CONNECT_CONCURRENCY,
    clock: Clock = SYSTEM_CLOCK,
) -> Fleet:
    """One app per token, each with its own seeded vehicle and random generator;
    with ``answering``, each answers offers and drives jobs by its provider's profile.

    Must be called inside the event loop that will run the fleet (the apps create
    asyncio primitives).
    """
    movement = movement or MovementConfig()
    stats = Stats()
    gate = asyncio.Semaphore(connect_concurrency)
    apps = []
    for index, token in enumerate(tokens):
        rng = random.Random(seed * 1_000_003 + index)
        apps.append(
            SimulatedApp(
                url,
                token,
                vehicle=Vehicle(movement, rng),
                config=config,
                clock=clock,
                rng=rng,
                stats=stats,
                gate=gate,
                load=load,
                answering=answering,
                name=f"sim-{index:06d}",
            )
        )
    return Fleet(apps, stats, load)
