"""A pure token bucket: how many frames a connection may send, and when."""

from __future__ import annotations

import math

from realtime.errors import ConfigError


class TokenBucket:
    """Allows ``burst`` events at once and ``rate_per_s`` on average.

    The bucket starts full. The clock is an argument (monotonic seconds); a clock
    that steps back refills nothing.
    """

    __slots__ = ("_last", "_tokens", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        """Raises :class:`ConfigError` unless both bounds are finite and positive."""
        if not (math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ConfigError(f"rate_per_s must be finite and positive, got {rate_per_s!r}")
        if burst < 1:
            raise ConfigError(f"burst must be at least 1, got {burst!r}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def allow(self, now: float) -> bool:
        """Take one token if there is one; ``False`` means over the limit."""
        elapsed = max(0.0, now - self._last)
        self._last = max(self._last, now)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
