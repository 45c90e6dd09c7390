"""Arrival on site by geofence (pure): is the provider at the job's origin yet?

A fix counts as inside when it is within ``radius_m`` of the origin, giving the fix
its accuracy (a fix 180 m away with 40 m accuracy may be 140 m away: inside a 150 m
fence), but never more than the radius itself, so that a fix too vague to say
anything cannot make an arrival. Arrival is declared once the provider has stayed
inside for ``dwell_s`` (a provider driving past the door has not arrived); leaving
needs ``exit_factor`` times the radius (hysteresis: jitter at the fence's edge does
not restart the dwell).

Detectors that need one fix outside and one inside miss a known case: the phone
loses signal on the way and its first fix afterwards is already at the door. Here a
fix inside that comes after a silence of ``gap_s`` or more (or the first fix ever)
counts as an arrival at once.

:class:`ArrivalDetector` is fed fixes in time order and returns the arrival time
once; a provider's explicit status (``on_site``) wins over it wherever it is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo.distance import haversine_km

DEFAULT_RADIUS_M = 150.0
DEFAULT_DWELL_S = 30.0
DEFAULT_GAP_S = 120.0
DEFAULT_EXIT_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class GeofenceConfig:
    radius_m: float = DEFAULT_RADIUS_M
    dwell_s: float = DEFAULT_DWELL_S
    gap_s: float = DEFAULT_GAP_S
    exit_factor: float = DEFAULT_EXIT_FACTOR

    def __post_init__(self) -> None:
        for name in ("radius_m", "dwell_s", "gap_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, not {value}")
        if not (math.isfinite(self.exit_factor) and self.exit_factor >= 1):
            raise ValueError(f"exit_factor must be at least 1, not {self.exit_factor}")


class ArrivalDetector:
    """Arrival at one origin, from one provider's fixes (see the module)."""

    __slots__ = ("_inside_since", "_last_t", "arrived_at", "config", "lat", "lng")

    def __init__(self, lat: float, lng: float, config: GeofenceConfig | None = None) -> None:
        self.lat = lat
        self.lng = lng
        self.config = config or GeofenceConfig()
        self.arrived_at: float | None = None
        self._inside_since: float | None = None
        self._last_t: float | None = None

    def distance_m(self, lat: float, lng: float) -> float:
        return haversine_km(self.lat, self.lng, lat, lng) * 1000.0

    def feed(self, lat: float, lng: float, accuracy_m: float, t: float) -> float | None:
        """A fix (``t`` in seconds); the arrival time the first time it is known.

        Fixes older than the last one fed are ignored.
        """
        if self.arrived_at is not None or (self._last_t is not None and t < self._last_t):
            return None
        c = self.config
        after_silence = self._last_t is None or t - self._last_t >= c.gap_s
        self._last_t = t
        slack = min(max(accuracy_m, 0.0), c.radius_m) if math.isfinite(accuracy_m) else 0.0
        near = self.distance_m(lat, lng) - slack
        fence = c.radius_m * (c.exit_factor if self._inside_since is not None else 1.0)
        if near > fence:
            self._inside_since = None
            return None
        if after_silence:
            self.arrived_at = t
            return t
        if self._inside_since is None:
            self._inside_since = t
        if t - self._inside_since >= c.dwell_s:
            self.arrived_at = t
            return t
        return None
