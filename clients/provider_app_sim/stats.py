"""Counters of a simulated app or of a whole fleet (apps may share one instance)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

MAX_RTT_SAMPLES = 50_000
"""Reply round trips kept for percentiles; later ones overwrite at random slots."""


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) of ``values`` by nearest rank, or ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return ordered[rank]


@dataclass(slots=True)
class Stats:
    """What simulated apps did. Counters only grow, except the ``connected`` gauge.

    Attributes:
        connected: apps holding an authenticated connection now.
        connects: ``welcome`` messages received (first connections and reconnects).
        reconnects: ``welcome`` messages after the first one of an app.
        connect_failures: attempts that ended before ``welcome``.
        fixes_taken: fixes the apps' location providers produced.
        frames_sent, fixes_sent: ``pos`` messages and the fixes they carried
            (resends included).
        batches_sent: ``pos`` messages that carried more than one fix.
        acks: ``ack`` replies; ``accepted`` and ``rejected`` sum their counts.
        fixes_acked: fixes removed from the buffers by replies (each fix once).
        errors: ``error`` replies by code.
        closes: ended connections by close code (``"none"``: no close frame).
        fixes_dropped: fixes lost to the buffer's bounds.
        gave_up: apps that stopped reconnecting (4001, 4003, 4004...).
        rtt_ms: a sample of the times from sending a ``pos`` to its reply.
        duty: answering mode: offers, answers, replies, statuses and jobs, by name
            (:class:`~clients.provider_app_sim.duty.Duty`).
    """

    connected: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    fixes_taken: int = 0
    frames_sent: int = 0
    fixes_sent: int = 0
    batches_sent: int = 0
    acks: int = 0
    accepted: int = 0
    fixes_acked: int = 0
    fixes_dropped: int = 0
    gave_up: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    rtt_ms: list[float] = field(default_factory=list)
    duty: Counter[str] = field(default_factory=Counter)
    _rtt_seen: int = 0

    def record_rtt(self, seconds: float, slot: float) -> None:
        """Keep a reply round trip (reservoir sampling; ``slot`` is uniform in [0, 1))."""
        self._rtt_seen += 1
        if len(self.rtt_ms) < MAX_RTT_SAMPLES:
            self.rtt_ms.append(seconds * 1000)
            return
        index = int(slot * self._rtt_seen)
        if index < MAX_RTT_SAMPLES:
            self.rtt_ms[index] = seconds * 1000

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON-able values, with reply-time percentiles."""
        return {
            "connected": self.connected,
            "connects": self.connects,
            "reconnects": self.reconnects,
            "connect_failures": self.connect_failures,
            "fixes_taken": self.fixes_taken,
            "frames_sent": self.frames_sent,
            "fixes_sent": self.fixes_sent,
            "batches_sent": self.batches_sent,
            "acks": self.acks,
            "accepted": self.accepted,
            "fixes_acked": self.fixes_acked,
            "fixes_dropped": self.fixes_dropped,
            "gave_up": self.gave_up,
            "rejected": dict(self.rejected),
            "errors": dict(self.errors),
            "closes": dict(self.closes),
            "rtt_p50_ms": percentile(self.rtt_ms, 0.50),
            "rtt_p99_ms": percentile(self.rtt_ms, 0.99),
            **({"duty": dict(self.duty)} if self.duty else {}),
        }

    def line(self, total_apps: int) -> str:
        """A one-line human summary."""
        p50, p99 = percentile(self.rtt_ms, 0.5), percentile(self.rtt_ms, 0.99)
        rtt = f" rtt p50 {p50:.1f} ms p99 {p99:.1f} ms" if p50 is not None and p99 else ""
        return (
            f"connected {self.connected}/{total_apps} sent {self.frames_sent} "
            f"(fixes {self.fixes_sent}, batches {self.batches_sent}) acked {self.acks} "
            f"accepted {self.accepted} rejected {dict(self.rejected)} "
            f"errors {dict(self.errors)} closes {dict(self.closes)} "
            f"reconnects {self.reconnects} failures {self.connect_failures} "
            f"dropped {self.fixes_dropped} gave up {self.gave_up}{rtt}"
            + (f" duty {dict(sorted(self.duty.items()))}" if self.duty else "")
        )
