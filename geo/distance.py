"""Distances, travel-time estimates and which position of a provider counts (pure).

* :func:`haversine_km`: great-circle distance on the mean-radius sphere. It is *the*
  distance of candidate search: sources compute ``CandidateFacts.distance_km`` with
  it (or with PostGIS ``ST_Distance(a, b, false)``, the same sphere).
* :class:`SpeedModel`: the seam where a router (OSRM, a traffic API) plugs in;
  :class:`StraightLineSpeedModel` is the default: straight line × detour factor at a
  constant urban speed.
* :func:`counted_position`: a provider's live position when fresh, its base otherwise.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from geo.errors import InvalidQueryError

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG R1); PostGIS's sphere for geography without spheroid."""

URBAN_DETOUR_FACTOR = 1.3
"""Road km per straight-line km in a dense street grid. Studies of urban circuity find
1.2 to 1.4; 1.3 suits São Paulo's mix of avenues, one-way streets and marginais."""

URBAN_SPEED_KMH = 30.0
"""Average door-to-door speed of a tow truck or car in São Paulo outside the worst
rush hours (CET measures 20 to 30 km/h on the main corridors at peak, more off-peak)."""

LIVE_POSITION_MAX_AGE_S = 120.0
"""A live position older than this no longer counts; the base address does."""


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in km between two WGS 84 points (degrees).

    Uses the haversine formula on a sphere of radius :data:`EARTH_RADIUS_KM`; accurate
    to rounding at any distance, within 0.6 % of the ellipsoidal distance.
    """
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    sin_dphi = math.sin((phi2 - phi1) / 2.0)
    sin_dlmb = math.sin(math.radians(lng2 - lng1) / 2.0)
    h = sin_dphi * sin_dphi + math.cos(phi1) * math.cos(phi2) * sin_dlmb * sin_dlmb
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


class SpeedModel(Protocol):
    """Estimates how long a provider takes to cover a straight-line distance."""

    def eta_minutes(self, distance_km: float, *, at: datetime | None = None) -> float:
        """Minutes to cover ``distance_km`` (straight line) when leaving at ``at``.

        ``at`` lets time-aware models (rush hour, a router with traffic) answer;
        None means "now / unknown".
        """
        ...


@dataclass(frozen=True, slots=True)
class StraightLineSpeedModel:
    """ETA = straight-line km × ``detour_factor`` at a constant ``speed_kmh``.

    Ignores ``at``. Raises :class:`~geo.errors.InvalidQueryError` on a detour factor
    below 1 or a non-positive speed.
    """

    detour_factor: float = URBAN_DETOUR_FACTOR
    speed_kmh: float = URBAN_SPEED_KMH

    def __post_init__(self) -> None:
        if not (math.isfinite(self.detour_factor) and self.detour_factor >= 1.0):
            raise InvalidQueryError(f"detour_factor must be >= 1, not {self.detour_factor}")
        if not (math.isfinite(self.speed_kmh) and self.speed_kmh > 0.0):
            raise InvalidQueryError(f"speed_kmh must be > 0, not {self.speed_kmh}")

    def road_km(self, distance_km: float) -> float:
        """Estimated road km for a straight-line distance (e.g. to price a job)."""
        _check_distance(distance_km)
        return distance_km * self.detour_factor

    def eta_minutes(self, distance_km: float, *, at: datetime | None = None) -> float:
        """Minutes to drive ``distance_km`` (straight line); see the class docstring."""
        return self.road_km(distance_km) / self.speed_kmh * 60.0


def _check_distance(distance_km: float) -> None:
    if not (math.isfinite(distance_km) and distance_km >= 0.0):
        raise InvalidQueryError(f"distance must be a finite number >= 0, not {distance_km}")


class PositionSource(enum.StrEnum):
    """Which of a provider's positions counted for the search."""

    LIVE = "live"  # the app's last GPS position, fresh enough
    BASE = "base"  # the registered base address


@dataclass(frozen=True, slots=True)
class LivePosition:
    """A provider's last GPS position and when it was taken (timezone-aware)."""

    lat: float
    lng: float
    at: datetime


@dataclass(frozen=True, slots=True)
class CountedPosition:
    """The position a provider is searched and measured from.

    ``age_s`` is the age of the last live position whichever position counted (None
    when there is none): the panel shows it as "last position N s ago".
    """

    lat: float
    lng: float
    source: PositionSource
    age_s: float | None


def counted_position(
    base_lat: float,
    base_lng: float,
    live: LivePosition | None,
    *,
    now: datetime,
    max_age_s: float = LIVE_POSITION_MAX_AGE_S,
) -> CountedPosition:
    """The live position if younger than ``max_age_s`` at ``now``, else the base.

    A live position stamped slightly in the future (clock skew between the phone and
    the server) counts as age 0. Raises :class:`~geo.errors.InvalidQueryError` when
    ``now`` or ``live.at`` is naive or ``max_age_s`` is not positive.
    """
    if not (math.isfinite(max_age_s) and max_age_s > 0.0):
        raise InvalidQueryError(f"max_age_s must be > 0, not {max_age_s}")
    if now.tzinfo is None:
        raise InvalidQueryError("now must be timezone-aware")
    if live is None:
        return CountedPosition(base_lat, base_lng, PositionSource.BASE, None)
    if live.at.tzinfo is None:
        raise InvalidQueryError("live.at must be timezone-aware")
    age_s = max(0.0, (now - live.at).total_seconds())
    if age_s < max_age_s:
        return CountedPosition(live.lat, live.lng, PositionSource.LIVE, age_s)
    return CountedPosition(base_lat, base_lng, PositionSource.BASE, age_s)
