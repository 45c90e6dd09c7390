"""How late this process's event loop runs, and when provider sockets must ease off.

A node that receives more positions than its core can handle does not fail at the
sockets: every ``pos`` is still parsed and acknowledged. It fails behind them. On
uvloop (libuv), one poll phase goes on reading sockets for as long as they have
data, up to 48 rounds of 1,024 events, before any task runs: with thousands of
apps sending, the tasks waiting for Redis replies (the position writer), timers,
offers and HTTP requests waited seconds, Redis timed out (``REDIS_TIMEOUT_S``),
and every batch of positions was dropped while the apps were told all was well
(measured: 17,000 positions/s acknowledged, none written).

So the node sheds load where it enters. :class:`LoopLag` knows how late the loop
runs, two ways: a probe timer (period :attr:`LagConfig.probe_s`) measures how late
it fired, whatever the cause (smoothed, so that one hiccup does not count as an
overload); and the age of the current *turn*, the time since
the first provider frame the loop handled before it last ran its ready callbacks,
catches a long poll phase while it is still going on. While either is above
:attr:`LagConfig.ease_above_s`, each provider socket that delivers a frame stops
being read for a pause that grows with the lateness (jittered, so that sockets do
not come back together). The app's next frame waits in its TCP buffer or its
outbox: nothing is lost, acks come later, and the node's own work gets its turn.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

PAUSE_JITTER = 0.5
"""A pause lasts its nominal length times a factor drawn from 1 ± this."""
SMOOTHING = 0.2
"""Weight of each probe in the smoothed lateness: one stall (a collection, a slow
callback) moves it a fifth of the way, so sockets ease off for an overload that
lasts, not for as long as after a single hiccup."""


@dataclass(frozen=True, slots=True)
class LagConfig:
    probe_s: float = 0.05
    """How often the loop's lateness is measured by a timer."""
    ease_above_s: float = 0.1
    """Lateness above which provider sockets ease off."""
    pause_s: float = 0.25
    """How long (on average) an easing socket is not read when the lateness is just
    above :attr:`ease_above_s`; the pause grows in proportion to the lateness..."""
    max_pause_s: float = 5.0
    """...up to this (well below the keepalive's pong timeout)."""


class LoopLag:
    """The event loop's lateness, and the pauses asked of provider sockets."""

    __slots__ = ("_armed", "_random", "_turn_started", "config", "eased", "lag_s", "smoothed_s")

    def __init__(self, config: LagConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.lag_s = 0.0
        """How late the last probe fired (seconds)."""
        self.smoothed_s = 0.0
        """The probes' lateness, smoothed (:data:`SMOOTHING`)."""
        self.eased = 0
        """Pauses asked of provider sockets so far (a metric)."""
        self._random = rng or random.Random()
        self._armed = False
        self._turn_started = 0.0

    def lateness(self) -> float:
        """How far behind the loop is now (seconds): the probes' smoothed lateness or
        the current turn's age, whichever is greater. Called for each provider frame; the
        first of a turn starts it (and asks the loop to end it when it next runs its
        ready callbacks)."""
        now = time.monotonic()
        if not self._armed:
            self._armed = True
            self._turn_started = now
            asyncio.get_running_loop().call_soon(self._turn_over)
        return max(self.smoothed_s, now - self._turn_started)

    def pause(self, lateness: float) -> float | None:
        """Seconds a socket that just delivered a frame should not be read, or None
        when the loop keeps up (a pause is counted in :attr:`eased`)."""
        config = self.config
        if config.ease_above_s > 0 and lateness <= config.ease_above_s:
            return None  # (a threshold of 0 eases at every frame: drills and tests)
        self.eased += 1
        jitter = self._random.uniform(1 - PAUSE_JITTER, 1 + PAUSE_JITTER)
        ratio = lateness / config.ease_above_s if config.ease_above_s > 0 else 1.0
        nominal = config.pause_s * max(ratio, 1.0)
        return min(nominal * jitter, config.max_pause_s)

    def observe(self, expected: float, fired: float) -> None:
        """A probe due at ``expected`` ran at ``fired`` (loop time)."""
        self.lag_s = max(0.0, fired - expected)
        self.smoothed_s += SMOOTHING * (self.lag_s - self.smoothed_s)

    def _turn_over(self) -> None:
        self._armed = False

    async def run(self) -> None:
        """Probe for ever (in a task of the node's)."""
        loop = asyncio.get_running_loop()
        period = self.config.probe_s
        while True:
            expected = loop.time() + period
            await asyncio.sleep(period)
            self.observe(expected, loop.time())
