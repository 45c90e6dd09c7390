"""The ``Clock`` seam: where "now" comes from.

Offers expire, links expire and SLA timers fire by the clock; code that asks
``datetime.now()`` itself can only be tested by sleeping. Everything that needs the
time takes a :class:`Clock` instead: :class:`SystemClock` in the server,
:class:`ManualClock` in tests, which move time by hand.

Times are timezone-aware and in UTC (stored in UTC, shown in America/Sao_Paulo).
``Clock`` is a wall clock, not a monotonic one: the system's may step backwards when
NTP corrects it, so :meth:`ManualClock.set` may move backwards too (to test that
case), while :meth:`ManualClock.advance` only moves forwards (a negative step there
is a bug in the test).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from operations.errors import InvalidInputError


class Clock(Protocol):
    """Tells the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)


def _aware_utc(when: datetime, name: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInputError(name, f"{name} must be timezone-aware, got {when!r}")
    return when.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to (for tests).

    Args:
        start: the initial time; any timezone-aware datetime (kept in UTC).

    Raises:
        InvalidInputError: ``start`` is naive (also a ValueError).
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start, "start")

    def now(self) -> datetime:
        """The clock's current time, in UTC."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forwards by ``delta`` (zero is allowed).

        Returns:
            The new current time.

        Raises:
            InvalidInputError: ``delta`` is negative (use :meth:`set` to step back
                on purpose); also a ValueError.
        """
        if delta < timedelta(0):
            raise InvalidInputError("delta", f"advance() only moves forwards, got {delta!r}")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        """Put the clock at ``when``, forwards or backwards (a wall clock may step
        back when NTP corrects it).

        Returns:
            The new current time, in UTC.

        Raises:
            InvalidInputError: ``when`` is naive (also a ValueError).
        """
        self._now = _aware_utc(when, "when")
        return self._now
