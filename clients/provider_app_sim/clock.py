"""Where a simulated app reads time: :class:`Clock`, and :data:`SYSTEM_CLOCK`, the
process's own.

A seam, as the server's ``Clock`` is: the apps, the fleet and the pacer take a clock
as an argument, so that a test can give them one it drives.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Where an app reads time: monotonic seconds, and the device's wall clock."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def wall_ms(self) -> int:
        """UTC milliseconds since the epoch (``System.currentTimeMillis()``)."""
        ...


class SystemClock:
    """The process's clocks."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wall_ms(self) -> int:
        """``time.time()`` in whole milliseconds."""
        return time.time_ns() // 1_000_000


SYSTEM_CLOCK = SystemClock()
