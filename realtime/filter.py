"""The position filter: which GPS fixes may move a provider on the map.

In the spirit of Traccar's ``FilterHandler``: each fix is judged on its own (values
in range, not at (0, 0), not mocked, accurate enough), against the server's clock
(not in the future, not too old) and against the provider's last accepted fix (not
a duplicate, not older, no implied speed that no car reaches). A rejected fix never
moves the provider; it is counted under exactly one :class:`RejectReason`, the first
rule it breaks in this order:

1. ``out_of_range``  a value outside its domain (latitude, longitude, accuracy,
   speed, heading, time)
2. ``null_island``   latitude and longitude both (about) zero
3. ``mock_location`` the device says the fix comes from a mock provider
4. ``poor_accuracy`` accuracy radius above ``max_accuracy_m``
5. ``future``        device time more than ``max_future_s`` after server time
6. ``too_old``       device time more than ``max_age_s`` before server time
7. ``duplicate``     same device time as the last accepted fix
8. ``out_of_order``  device time before the last accepted fix
9. ``implied_speed`` the straight line from the last accepted fix needs more than
   ``max_speed_kmh``

Everything here is pure: the server's wall clock is an argument.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum

from realtime.errors import ConfigError
from realtime.geodesy import haversine_m

NULL_ISLAND_TOLERANCE_DEG = 1e-6
"""Both coordinates within this of zero count as (0, 0): about 10 cm."""

MAX_TIME_MS = 2**53 - 1
"""Largest device time accepted anywhere (the largest integer JSON carries exactly)."""


class RejectReason(StrEnum):
    """Why a fix was rejected; the values are stable (metrics labels, ``ack``)."""

    OUT_OF_RANGE = "out_of_range"
    NULL_ISLAND = "null_island"
    MOCK_LOCATION = "mock_location"
    POOR_ACCURACY = "poor_accuracy"
    FUTURE = "future"
    TOO_OLD = "too_old"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    IMPLIED_SPEED = "implied_speed"


@dataclass(frozen=True, slots=True)
class PositionFix:
    """One GPS fix as the device reported it.

    Attributes:
        lat, lng: WGS 84 decimal degrees.
        accuracy_m: radius of 68 % confidence, metres (Android ``getAccuracy()``).
        time_ms: device time of the fix, UTC milliseconds since the epoch
            (Android ``Location.getTime()``).
        speed_kmh: ground speed, km/h, or ``None`` when the device has none.
        heading_deg: bearing, degrees clockwise from true north in [0, 360], or
            ``None``.
        mock: the device flagged the fix as coming from a mock location provider.
    """

    lat: float
    lng: float
    accuracy_m: float
    time_ms: int
    speed_kmh: float | None = None
    heading_deg: float | None = None
    mock: bool = False


@dataclass(frozen=True, slots=True)
class FilterConfig:
    """Bounds of the position filter; every one finite and positive.

    Attributes:
        max_speed_kmh: highest implied speed between consecutive accepted fixes.
        max_accuracy_m: largest accuracy radius accepted.
        max_future_s: how far ahead of server time a device clock may run.
        max_age_s: oldest fix still useful (fixes buffered offline and sent late).
        max_reported_speed_kmh: above this, a reported speed is a sensor fault.
        reject_mock: reject fixes flagged as mock locations.
    """

    max_speed_kmh: float = 200.0
    max_accuracy_m: float = 100.0
    max_future_s: float = 30.0
    max_age_s: float = 24 * 3600.0
    max_reported_speed_kmh: float = 1000.0
    reject_mock: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{f.name} must be finite and positive, got {value!r}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The filter's judgement of one fix: accepted when ``reason`` is ``None``."""

    reason: RejectReason | None = None

    @property
    def accepted(self) -> bool:
        """Whether the fix passed every rule."""
        return self.reason is None


ACCEPTED = Verdict()


def implied_speed_kmh(earlier: PositionFix, later: PositionFix) -> float:
    """Straight-line speed needed to go from ``earlier`` to ``later``, in km/h.

    Returns ``math.inf`` when the device times are equal or reversed and the points
    differ, 0.0 when the points are equal.
    """
    distance_m = haversine_m(earlier.lat, earlier.lng, later.lat, later.lng)
    elapsed_s = (later.time_ms - earlier.time_ms) / 1000
    if distance_m == 0:
        return 0.0
    if elapsed_s <= 0:
        return math.inf
    return distance_m / elapsed_s * 3.6


def _between(value: float | None, low: float, high: float) -> bool:
    """``None`` or ``low <= value <= high`` (false for NaN)."""
    return value is None or low <= value <= high


class PositionFilter:
    """Judges fixes by the rules in this module's docstring."""

    def __init__(self, config: FilterConfig | None = None) -> None:
        self.config = config or FilterConfig()

    def check(
        self, last_accepted: PositionFix | None, fix: PositionFix, server_now_epoch_s: float
    ) -> Verdict:
        """Judge ``fix`` given the provider's last accepted fix.

        Args:
            last_accepted: the newest fix accepted so far for this provider, or
                ``None`` for the first one.
            fix: the fix to judge.
            server_now_epoch_s: the server's wall clock, seconds since the epoch.

        Returns:
            :data:`ACCEPTED` or a verdict naming the first rule broken.
        """
        reason = self._intrinsic(fix) or self._timing(fix, server_now_epoch_s)
        if reason is None and last_accepted is not None:
            reason = self._relative(last_accepted, fix)
        return ACCEPTED if reason is None else Verdict(reason)

    def _intrinsic(self, fix: PositionFix) -> RejectReason | None:
        if not self._in_range(fix):
            return RejectReason.OUT_OF_RANGE
        if abs(fix.lat) <= NULL_ISLAND_TOLERANCE_DEG and abs(fix.lng) <= NULL_ISLAND_TOLERANCE_DEG:
            return RejectReason.NULL_ISLAND
        if fix.mock and self.config.reject_mock:
            return RejectReason.MOCK_LOCATION
        if fix.accuracy_m > self.config.max_accuracy_m:
            return RejectReason.POOR_ACCURACY
        return None

    def _in_range(self, fix: PositionFix) -> bool:
        return (
            _between(fix.lat, -90.0, 90.0)
            and _between(fix.lng, -180.0, 180.0)
            and math.isfinite(fix.accuracy_m)
            and fix.accuracy_m >= 0
            and _between(fix.speed_kmh, 0.0, self.config.max_reported_speed_kmh)
            and _between(fix.heading_deg, 0.0, 360.0)
            and 0 <= fix.time_ms <= MAX_TIME_MS
        )

    def _timing(self, fix: PositionFix, server_now_epoch_s: float) -> RejectReason | None:
        fix_s = fix.time_ms / 1000
        if fix_s > server_now_epoch_s + self.config.max_future_s:
            return RejectReason.FUTURE
        if fix_s < server_now_epoch_s - self.config.max_age_s:
            return RejectReason.TOO_OLD
        return None

    def _relative(self, last: PositionFix, fix: PositionFix) -> RejectReason | None:
        if fix.time_ms == last.time_ms:
            return RejectReason.DUPLICATE
        if fix.time_ms < last.time_ms:
            return RejectReason.OUT_OF_ORDER
        if implied_speed_kmh(last, fix) > self.config.max_speed_kmh:
            return RejectReason.IMPLIED_SPEED
        return None


class RejectionCounts:
    """Rejected fixes counted per reason: the metrics the I/O layer exposes.

    Mutable and cumulative; :meth:`as_dict` lists every reason, zeros included, so a
    metrics exporter always sees the same label set.
    """

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[RejectReason, int] | None = None) -> None:
        # Only reasons that occurred: every provider track holds one of these.
        self._counts: dict[RejectReason, int] = {}
        if counts:
            self.update(counts)

    def record(self, reason: RejectReason, n: int = 1) -> None:
        """Count ``n`` more fixes rejected for ``reason``."""
        self._counts[reason] = self._counts.get(reason, 0) + n

    def update(self, counts: Mapping[RejectReason, int]) -> None:
        """Add every count of ``counts`` (e.g. one batch's) to these."""
        for reason, n in counts.items():
            self.record(reason, n)

    def __getitem__(self, reason: RejectReason) -> int:
        return self._counts.get(reason, 0)

    @property
    def total(self) -> int:
        """All rejected fixes, whatever the reason."""
        return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        """``{reason value: count}`` for every reason, in declaration order."""
        return {reason.value: self[reason] for reason in RejectReason}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RejectionCounts) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        nonzero = {r.value: n for r, n in self._counts.items() if n}
        return f"RejectionCounts({nonzero})"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What the filter made of one batch.

    Attributes:
        accepted: fixes that passed, oldest first; the last one is the provider's
            new last accepted fix.
        rejected: each rejected fix with its reason, in the order judged.
    """

    accepted: tuple[PositionFix, ...]
    rejected: tuple[tuple[PositionFix, RejectReason], ...]

    def rejection_counts(self) -> dict[RejectReason, int]:
        """``{reason: count}`` for the reasons that occurred in this batch."""
        counts: dict[RejectReason, int] = {}
        for _, reason in self.rejected:
            counts[reason] = counts.get(reason, 0) + 1
        return counts


_device_time = operator.attrgetter("time_ms")


class ProviderTrack:
    """One provider's stream of fixes: filters batches and keeps the last accepted.

    Batches are judged in device-time order (a stable sort, so of two fixes with the
    same time the one that arrived first wins and the other is a duplicate): fixes
    buffered offline and sent out of order are not rejected for their order alone.
    The last accepted fix's time only ever grows.
    """

    def __init__(
        self, position_filter: PositionFilter, last_accepted: PositionFix | None = None
    ) -> None:
        """Start a track, seeded with the provider's stored last fix if there is one."""
        self.filter = position_filter
        self.last_accepted = last_accepted
        self.counts = RejectionCounts()

    def add_batch(self, fixes: Iterable[PositionFix], server_now_epoch_s: float) -> BatchResult:
        """Judge ``fixes`` in device-time order; count and return the outcome."""
        accepted: list[PositionFix] = []
        rejected: list[tuple[PositionFix, RejectReason]] = []
        for fix in sorted(fixes, key=_device_time):
            verdict = self.filter.check(self.last_accepted, fix, server_now_epoch_s)
            if verdict.reason is None:
                accepted.append(fix)
                self.last_accepted = fix
            else:
                rejected.append((fix, verdict.reason))
                self.counts.record(verdict.reason)
        return BatchResult(tuple(accepted), tuple(rejected))
