"""What the scaling benchmark (bench/bench_scaling.py) measured, and its figures.

Pure: :class:`Saturated` and :class:`Ingest` hold one node count's ingest counters,
:class:`Deliveries` the offer delivery times; :func:`ingest_figures` and
:func:`offer_figures` turn them into the figures recorded in docs/benchmarks.md,
each beside its baseline (1 node against 2; the bare Redis publish).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.bench_dispatch import percentile
from bench.report import RATE_UNIT, Figure

# --- measurements ----------------------------------------------------------------------


@dataclass
class Saturated:
    """Counters of a window in which the apps sent as fast as acks allowed."""

    accepted: float = 0.0
    """Fixes/s the nodes accepted, as their ``ack`` replies counted them."""
    written: float = 0.0
    """Positions/s the nodes wrote to Redis (``acionar_positions_written_total``,
    summed): fewer than accepted, since a flush writes a provider's newest only."""
    shares: list[float] = field(default_factory=list)
    """Each node's part of :attr:`written`."""
    cpu: dict[str, float] = field(default_factory=dict)
    """Cores used over the window, per process (``nodes``: all nodes summed)."""
    connect_s: float = 0.0
    rejected: int = 0
    """Fixes the nodes' position filter refused over the whole run (expected: none)."""

    @property
    def per_cpu(self) -> float:
        """Accepted positions per second of the nodes' CPU."""
        return self.accepted / max(self.cpu.get("nodes", 0.0), 0.01)


@dataclass
class Ingest:
    """One node count's ingest figures."""

    nodes: int
    balanced: Saturated = field(default_factory=Saturated)
    """Through the balancer (one simulator)."""
    direct: Saturated | None = None
    """Without it: one simulator per node, each holding its share of the apps (not
    measured with ``QUICK=1``)."""
    paced: float = 0.0
    """Positions/s accepted in the paced run."""
    paced_written: float = 0.0
    """Positions/s the nodes wrote to Redis in the paced run."""
    paced_cpu: float = 0.0
    """The nodes' CPU in the paced run, in cores (summed)."""
    paced_machine: float = 0.0
    """The whole machine's CPU in the paced run, in cores."""
    paced_beside: float | None = None
    """With 1 node: the CPU of the other node, running beside it but not behind the
    balancer (no apps), in the paced run: what one more node costs on its own."""
    ack_p50_ms: float = 0.0
    ack_p99_ms: float = 0.0

    @property
    def paced_per_cpu(self) -> float:
        """Positions accepted in the paced run per second of the nodes' CPU."""
        return self.paced / max(self.paced_cpu, 0.01)


@dataclass
class Deliveries:
    """Offer delivery times in ms, by where the app's socket was."""

    same: list[float] = field(default_factory=list)
    cross: list[float] = field(default_factory=list)


# --- figures ---------------------------------------------------------------------------


def _cpu_figures(how: str, one: Saturated, two: Saturated) -> list[Figure]:
    return [
        Figure(
            f"extra: {how}: CPU of the {name}, 2 nodes"
            + (" (all processes, of 2 cores)" if name == "machine" else ""),
            two.cpu[name],
            "cores",
            "",
            "1 node",
            one.cpu[name],
        )
        for name in ("nodes", "simulator", "balancer", "redis", "machine")
        if name in two.cpu and name in one.cpu
    ]


def ingest_figures(one: Ingest, two: Ingest, *, apps: int, paced_rate: float) -> list[Figure]:
    """1 node against 2: ``apps`` simulated apps, the paced runs at ``paced_rate``
    positions/s in total."""
    connect = f"extra: behind the balancer, connect {apps:,} apps, 2 nodes"
    paced = f"{paced_rate / 1000:g}k positions/s in total"
    apps_sent = f"{apps:,} apps stop-and-wait"
    b1, b2 = one.balanced, two.balanced
    figures = [
        Figure(
            f"accepted positions/s, 2 nodes behind the balancer ({apps_sent}; 2 cores: simulator "
            "and balancer on core 0, every node on core 1)",
            b2.accepted,
            RATE_UNIT,
            "recorded",
            "the same, 1 node",
            b1.accepted,
        ),
        Figure(
            "accepted positions per second of the nodes' CPU, 2 nodes behind the balancer",
            b2.per_cpu,
            RATE_UNIT,
            "",
            "the same, 1 node",
            b1.per_cpu,
        ),
        Figure(
            "extra: behind the balancer, node A's share of the positions, 2 nodes",
            100 * b2.shares[0],
            "%",
        ),
        Figure(
            "extra: behind the balancer, positions/s written to Redis, 2 nodes",
            b2.written,
            RATE_UNIT,
            "",
            "1 node",
            b1.written,
        ),
        *_cpu_figures("behind the balancer", b1, b2),
        Figure(
            connect,
            b2.connect_s,
            "s",
            "",
            "1 node",
            b1.connect_s,
        ),
        Figure(
            f"send → ack p99 at {paced}, 2 nodes behind the balancer",
            two.ack_p99_ms,
            "ms",
            "recorded",
            "the same, 1 node",
            one.ack_p99_ms,
        ),
        Figure(
            f"extra: send → ack p50 at {paced}, 2 nodes",
            two.ack_p50_ms,
            "ms",
            "",
            "1 node",
            one.ack_p50_ms,
        ),
        Figure(
            f"extra: accepted at {paced}, 2 nodes", two.paced, RATE_UNIT, "", "1 node", one.paced
        ),
        Figure(
            f"positions per second of the nodes' CPU at {paced}, 2 nodes behind the balancer",
            two.paced_per_cpu,
            RATE_UNIT,
            "",
            "the same, 1 node",
            one.paced_per_cpu,
        ),
        Figure(
            f"extra: written to Redis at {paced}, 2 nodes",
            two.paced_written,
            RATE_UNIT,
            "",
            "1 node",
            one.paced_written,
        ),
        Figure(
            f"extra: nodes' CPU at {paced}, 2 nodes (summed)",
            two.paced_cpu,
            "cores",
            "",
            "1 node",
            one.paced_cpu,
        ),
        *_beside_figure(one, paced),
        Figure(
            f"extra: machine CPU at {paced}, 2 nodes (all processes, of 2 cores)",
            two.paced_machine,
            "cores",
            "",
            "1 node",
            one.paced_machine,
        ),
    ]
    if one.direct is not None and two.direct is not None:
        figures += _direct_figures(one.direct, two.direct)
    windows = [one.balanced, two.balanced, one.direct, two.direct]
    refused = sum(w.rejected for w in windows if w is not None)
    figures.append(Figure("extra: fixes the position filter refused, saturated runs", refused, ""))
    return figures


def _beside_figure(one: Ingest, paced: str) -> list[Figure]:
    if one.paced_beside is None:
        return []
    name = f"extra: CPU of an idle node B beside node A at {paced} (1 node; its mirror, timers)"
    return [Figure(name, one.paced_beside, "cores", "", "node A's CPU", one.paced_cpu)]


def _direct_figures(d1: Saturated, d2: Saturated) -> list[Figure]:
    return [
        Figure(
            "accepted positions/s, 2 nodes, no balancer (one simulator per node, both on core 0)",
            d2.accepted,
            RATE_UNIT,
            "recorded",
            "the same, 1 node",
            d1.accepted,
        ),
        Figure(
            "accepted positions per second of the nodes' CPU, 2 nodes, no balancer",
            d2.per_cpu,
            RATE_UNIT,
            "",
            "the same, 1 node",
            d1.per_cpu,
        ),
        Figure(
            "extra: no balancer, positions/s written to Redis, 2 nodes (a saturated node "
            "eases off reading so that its writer keeps up)",
            d2.written,
            RATE_UNIT,
            "",
            "1 node",
            d1.written,
        ),
        *_cpu_figures("no balancer", d1, d2),
    ]


def offer_figures(times: Deliveries, baseline: list[float]) -> list[Figure]:
    """Offer delivery across nodes and on one, beside the bare Redis publish."""
    base_p99 = percentile(baseline, 0.99)
    bus = "Redis publish → subscriber p99"
    return [
        Figure(
            "cross-node offer delivery p99 (POST on node A, app on node B)",
            percentile(times.cross, 0.99),
            "ms",
            "recorded",
            bus,
            base_p99,
        ),
        Figure("cross-node offer delivery p50", statistics.median(times.cross), "ms"),
        Figure(
            "same-node offer delivery p99 (POST and app on node A), same run",
            percentile(times.same, 0.99),
            "ms",
            "",
            bus,
            base_p99,
        ),
        Figure("same-node offer delivery p50", statistics.median(times.same), "ms"),
        Figure(
            "extra: cross-node p50 over same-node p50",
            statistics.median(times.cross) / statistics.median(times.same),
            "×",
        ),
        Figure("extra: Redis publish → subscriber p50", statistics.median(baseline), "ms"),
    ]
