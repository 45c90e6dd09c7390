"""The app's offline buffer and its stop-and-wait sending, without I/O.

This is docs/protocol.md, "Offline buffer and reconnecting", as plain classes:

* :class:`FixBuffer` holds every fix not yet acknowledged, oldest first, bounded
  in size (the oldest go first when it is full) and in age.
* :class:`Outbox` turns the buffer's head into ``pos`` messages (one fix inline, or
  up to ``max_batch`` in ``fixes``), one at a time: the next message waits for the
  reply to the previous one. Replies remove fixes (``ack``, ``invalid_field``),
  halve the batch (``batch_too_large``) or delay a resend (``rate_limited``). A lost
  connection forgets the message in flight; its fixes stay and go again.
* :class:`Backoff` draws reconnect delays with exponential backoff and full jitter.

Times are arguments (monotonic seconds; device times in epoch milliseconds), so
everything here is tested without a clock or a socket.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from clients.provider_app_sim.protocol import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    DEFAULT_MAX_BATCH_FIXES,
    DEFAULT_MAX_FIX_AGE_S,
    RATE_LIMITED_RETRY_S,
    REPLY_TIMEOUT_S,
    ErrorCode,
)

DEFAULT_BUFFER_FIXES = 20_000
"""Fixes kept while offline: more than a day at one fix every 5 s."""


@dataclass(frozen=True, slots=True)
class Fix:
    """One GPS fix as the app sends it (docs/protocol.md, ``pos``)."""

    lat: float
    lng: float
    accuracy_m: float
    time_ms: int
    speed_kmh: float | None = None
    heading_deg: float | None = None

    def to_json(self) -> dict[str, float | int]:
        """The fix's wire fields; absent optional values are left out."""
        out: dict[str, float | int] = {
            "lat": self.lat,
            "lng": self.lng,
            "accuracy_m": self.accuracy_m,
            "time_ms": self.time_ms,
        }
        if self.speed_kmh is not None:
            out["speed_kmh"] = self.speed_kmh
        if self.heading_deg is not None:
            out["heading_deg"] = self.heading_deg
        return out


@dataclass(frozen=True, slots=True)
class PosMessage:
    """A ``pos`` message: its ``seq`` and the fixes it carries (oldest first)."""

    seq: int
    fixes: tuple[Fix, ...]

    def encode(self) -> str:
        """The message as a text frame: one fix inline, several in ``fixes``."""
        body: dict[str, object]
        if len(self.fixes) == 1:
            body = {"type": "pos", "seq": self.seq, **self.fixes[0].to_json()}
        else:
            body = {"type": "pos", "seq": self.seq, "fixes": [f.to_json() for f in self.fixes]}
        return orjson.dumps(body).decode()


class FixBuffer:
    """Fixes not yet acknowledged, oldest first; bounded in count and in age.

    Every fix gets a serial number when added; :meth:`drop_through` removes by
    serial, so that an acknowledgement removes exactly the fixes its message
    carried even if the oldest ones were dropped meanwhile.

    Attributes:
        max_fixes: the most fixes held; adding one more drops the oldest.
        max_age_ms: fixes older than this (device time) are dropped by :meth:`prune`.
        dropped: fixes lost to either bound since the buffer was created.
    """

    def __init__(
        self, max_fixes: int = DEFAULT_BUFFER_FIXES, max_age_s: float = DEFAULT_MAX_FIX_AGE_S
    ) -> None:
        if max_fixes < 1:
            raise ValueError("max_fixes must be at least 1")
        self.max_fixes = max_fixes
        self.max_age_ms = int(max_age_s * 1000)
        self.dropped = 0
        self._items: deque[tuple[int, Fix]] = deque()
        self._next_serial = 0

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Fix]:
        return (fix for _, fix in self._items)

    def add(self, fix: Fix) -> None:
        """Append a fix (the newest); drops the oldest when full."""
        if len(self._items) >= self.max_fixes:
            self._items.popleft()
            self.dropped += 1
        self._items.append((self._next_serial, fix))
        self._next_serial += 1

    def prune(self, now_ms: int) -> int:
        """Drop fixes older than ``max_age_ms`` at device time ``now_ms``; returns how many."""
        horizon = now_ms - self.max_age_ms
        count = 0
        while self._items and self._items[0][1].time_ms < horizon:
            self._items.popleft()
            count += 1
        self.dropped += count
        return count

    def head(self, limit: int) -> tuple[tuple[Fix, ...], int]:
        """The oldest ``limit`` fixes and the serial just past the last of them."""
        taken = [self._items[i] for i in range(min(limit, len(self._items)))]
        end = taken[-1][0] + 1 if taken else self._next_serial
        return tuple(fix for _, fix in taken), end

    def drop_through(self, end_serial: int) -> int:
        """Remove every fix whose serial is below ``end_serial``; returns how many."""
        count = 0
        while self._items and self._items[0][0] < end_serial:
            self._items.popleft()
            count += 1
        return count


@dataclass(frozen=True, slots=True)
class InFlight:
    """The ``pos`` message awaiting its reply."""

    message: PosMessage
    end_serial: int
    sent_at: float


@dataclass(frozen=True, slots=True)
class Reply:
    """What a reply did to the buffer.

    Attributes:
        matched: the reply was for the message in flight.
        removed: fixes removed from the buffer.
        rtt_s: seconds from sending the message to its reply, when matched.
    """

    matched: bool
    removed: int = 0
    rtt_s: float | None = None


NO_MATCH = Reply(matched=False)


class Outbox:
    """Stop-and-wait sending of a :class:`FixBuffer` (one ``pos`` in flight at most).

    Usage, by the I/O layer, while connected::

        message = outbox.next_message(now)   # None: nothing to send yet
        ... send message.encode() ...
        outbox.on_ack(seq, now) / outbox.on_error(code, seq, now) on replies
        outbox.overdue(now)                  # True: close the socket, reconnect
        outbox.connection_lost()             # the socket is gone

    Attributes:
        buffer: the fixes to deliver.
        max_batch: most fixes per message (from ``welcome``; halved on
            ``batch_too_large``).
        in_flight: the message awaiting its reply, if any.
        discarded: fixes dropped because the server refused their message for good.
    """

    def __init__(
        self,
        buffer: FixBuffer,
        *,
        max_batch: int = DEFAULT_MAX_BATCH_FIXES,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
        retry_after_s: float = RATE_LIMITED_RETRY_S,
        first_seq: int = 1,
    ) -> None:
        self.buffer = buffer
        self.max_batch = max(1, max_batch)
        self.reply_timeout_s = reply_timeout_s
        self.retry_after_s = retry_after_s
        self.in_flight: InFlight | None = None
        self.discarded = 0
        self._next_seq = first_seq
        self._retry_at = 0.0

    def take_seq(self) -> int:
        """A fresh ``seq`` (for messages sent outside the buffer, in load mode)."""
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def set_max_batch(self, max_batch: int) -> None:
        """Adopt the server's ``config.max_batch_fixes``."""
        self.max_batch = max(1, max_batch)

    def next_message(self, now: float) -> PosMessage | None:
        """The next message to send now, or ``None`` (one in flight, a resend is
        delayed, or the buffer is empty). The message counts as sent."""
        if self.in_flight is not None or now < self._retry_at or not self.buffer:
            return None
        fixes, end = self.buffer.head(self.max_batch)
        message = PosMessage(self.take_seq(), fixes)
        self.in_flight = InFlight(message, end, now)
        return message

    def on_ack(self, seq: int | None, now: float) -> Reply:
        """An ``ack`` arrived: the fixes of the message in flight were judged."""
        flight = self._match(seq)
        if flight is None:
            return NO_MATCH
        self.in_flight = None
        removed = self.buffer.drop_through(flight.end_serial)
        return Reply(True, removed, now - flight.sent_at)

    def on_error(self, code: str, seq: int | None, now: float) -> Reply:
        """An ``error`` arrived; act on it if it is about the message in flight.

        ``rate_limited`` carries no ``seq``: it always refers to the message in
        flight (the frame was dropped unread), which goes again after
        ``retry_after_s``. ``batch_too_large`` halves ``max_batch`` and resends.
        Any other code with the message's ``seq`` means it will never be accepted:
        its fixes are discarded.
        """
        flight = self.in_flight
        if flight is None:
            return NO_MATCH
        if code == ErrorCode.RATE_LIMITED:
            self.in_flight = None
            self._retry_at = now + self.retry_after_s
            return Reply(True, 0, now - flight.sent_at)
        if seq != flight.message.seq:
            return NO_MATCH
        self.in_flight = None
        if code == ErrorCode.BATCH_TOO_LARGE:
            self.max_batch = max(1, len(flight.message.fixes) // 2)
            return Reply(True, 0, now - flight.sent_at)
        removed = self.buffer.drop_through(flight.end_serial)
        self.discarded += removed
        return Reply(True, removed, now - flight.sent_at)

    def overdue(self, now: float) -> bool:
        """Whether the message in flight waited longer than ``reply_timeout_s``."""
        return self.in_flight is not None and now - self.in_flight.sent_at > self.reply_timeout_s

    def next_deadline(self) -> float | None:
        """Monotonic time when something changes by itself: the reply timeout or
        the end of a ``rate_limited`` wait; ``None`` when only news can."""
        if self.in_flight is not None:
            return self.in_flight.sent_at + self.reply_timeout_s
        if self._retry_at and self.buffer:
            return self._retry_at
        return None

    def connection_lost(self) -> None:
        """The socket is gone: the message in flight will be sent again."""
        self.in_flight = None
        self._retry_at = 0.0

    def _match(self, seq: int | None) -> InFlight | None:
        flight = self.in_flight
        if flight is None or seq != flight.message.seq:
            return None
        return flight


class Backoff:
    """Reconnect delays: exponential backoff with full jitter.

    The ``n``-th delay since the last :meth:`reset` (counting from 0) is uniform in
    ``[0, min(cap_s, base_s × 2^n)]``.
    """

    def __init__(
        self,
        rng: random.Random,
        base_s: float = BACKOFF_BASE_S,
        cap_s: float = BACKOFF_CAP_S,
    ) -> None:
        self.rng = rng
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0

    def ceiling(self) -> float:
        """The largest delay the next call to :meth:`next_delay` may return."""
        # Past 2^30 the cap has long been reached; the bound keeps the float finite.
        return min(self.cap_s, self.base_s * 2.0 ** min(self.attempt, 30))

    def next_delay(self) -> float:
        """The delay before the next attempt (and count the attempt)."""
        delay = self.rng.uniform(0.0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """A connection succeeded (``welcome``): start again from the base."""
        self.attempt = 0
