"""Load mode for benchmarks: the plan a fleet's apps share (:class:`LoadPlan`) and
the :class:`Pacer` that spreads their sends at a total rate.

Each app in load mode sends a fresh fix (device time = send time) whenever the
fleet's pacer grants a slot, with at most ``window`` messages awaiting their
``ack`` (0: acks are not awaited), once the fleet has set ``started``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from clients.provider_app_sim.clock import SYSTEM_CLOCK, Clock


class Pacer:
    """Spreads the sends of a whole fleet at a total rate (``None``: no limit).

    Slots are handed out in the order they are asked for, ``1 / rate`` seconds
    apart; a fleet that falls behind does not catch up in a burst.
    """

    def __init__(self, rate_per_s: float | None, clock: Clock = SYSTEM_CLOCK) -> None:
        if rate_per_s is not None and not rate_per_s > 0:
            raise ValueError("rate_per_s must be positive")
        self.rate_per_s = rate_per_s
        self.clock = clock
        self._next = 0.0

    def reserve(self, now: float) -> float:
        """Reserve the next slot; returns the seconds to wait for it."""
        if self.rate_per_s is None:
            return 0.0
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate_per_s
        return slot - now

    async def wait(self) -> None:
        """Wait for a slot (always yields to the event loop, even when unlimited)."""
        await asyncio.sleep(self.reserve(self.clock.monotonic()))


SendHook = Callable[[int, int, float], None]
"""Called after each load-mode send: (provider id, fix time_ms, wall time in seconds)."""


class LoadPlan:
    """How the apps of a fleet generate load (one plan shared by every app).

    Attributes:
        pacer: the fleet's total rate.
        window: most ``pos`` messages awaiting an ``ack`` per app; 0 sends without
            waiting (for servers that never reply).
        started: apps send only once this is set (the fleet sets it when every app
            is connected, so that the load does not slow the connections down).
        on_send: optional hook after each send (latency measurements).
    """

    def __init__(self, pacer: Pacer, window: int = 1, on_send: SendHook | None = None) -> None:
        if window < 0:
            raise ValueError("window must be 0 or more")
        self.pacer = pacer
        self.window = window
        self.on_send = on_send
        self.started = asyncio.Event()
