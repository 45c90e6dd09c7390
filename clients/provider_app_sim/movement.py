"""How a simulated tow truck moves: a pure, seeded model of urban driving.

A :class:`Vehicle` drives along a heading at urban speeds (0 to 60 km/h by default),
wanders a little, turns at intersections, stops at lights and in traffic, and never
leaves a circle around a centre: near the edge it turns back inwards, and a step
that would cross the edge is taken towards the centre instead. Time only moves when
:meth:`Vehicle.advance` is called with the elapsed seconds, and every random choice
comes from the :class:`random.Random` passed in, so a run is reproducible.

By default reported positions are the true ones: the accuracy a fix claims (3 to
20 m) is not turned into noise, because white noise of that size between fixes taken
a fraction of a second apart (load mode) would imply speeds that no car reaches.
Answering mode (fixes every few seconds) turns on ``jitter`` (noise of a fraction
of the claimed accuracy) and ``poor_fix_p`` (now and then a fix of 120 to 400 m
accuracy, as under a viaduct: the server rejects it as ``poor_accuracy``).

On a job the vehicle follows a route instead (:meth:`Vehicle.follow`, corners from
:func:`~clients.provider_app_sim.routes.street_route`): straight legs, slowing at
each corner, still stopping at lights; at its end it parks until told to roam.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from enum import Enum

from clients.provider_app_sim.outbox import Fix

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), the one the server's geodesy uses too."""

MIN_RADIUS_M = 100.0
"""Smallest driving area: a step of :data:`MAX_STEP_S` at top speed must fit in it."""

MAX_STEP_S = 1.0
"""Longest time step of the integration; longer advances are split."""

INWARD_MARGIN = 0.9
"""Beyond this fraction of the radius a vehicle heading outwards turns back."""

START_MARGIN = 0.9
"""Vehicles start within this fraction of the radius."""

POOR_ACCURACY_M = (120.0, 400.0)
"""Range of the accuracy of a poor fix (above the server's 100 m bound)."""

CORNER_KMH = 15.0
"""Speed through a corner of a route."""


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS 84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north, [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def destination(lat: float, lng: float, heading: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` metres from (lat, lng) along ``heading`` degrees."""
    delta = distance_m / EARTH_RADIUS_M
    theta, p1, l1 = math.radians(heading), math.radians(lat), math.radians(lng)
    sin_p2 = math.sin(p1) * math.cos(delta) + math.cos(p1) * math.sin(delta) * math.cos(theta)
    p2 = math.asin(max(-1.0, min(1.0, sin_p2)))
    l2 = l1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(p1),
        math.cos(delta) - math.sin(p1) * sin_p2,
    )
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def _angle_between(a: float, b: float) -> float:
    """Smallest absolute difference between two headings, degrees in [0, 180]."""
    d = abs(a - b) % 360.0
    return 360.0 - d if d > 180.0 else d


@dataclass(frozen=True, slots=True)
class MovementConfig:
    """Where and how the simulated vehicles drive; every bound finite.

    Attributes:
        centre: (lat, lng) of the driving area's centre.
        radius_m: the driving area's radius; vehicles never leave it.
        max_speed_kmh: top speed (urban).
        cruise_kmh: range of the speeds a vehicle settles at between stops.
        accel_kmh_per_s, brake_kmh_per_s: how fast speed changes.
        mean_s_between_turns: mean time between turns at intersections.
        mean_s_between_stops: mean driving time between stops (lights, traffic).
        stop_s: range of the length of a stop, once stopped.
        mean_s_between_cruise_changes: mean time between changes of cruise speed.
        wander_deg_per_s: largest drift of the heading per second (road curves).
        accuracy_m: range of the accuracy radius fixes report.
        jitter: reported positions move by Gaussian noise of this fraction of the
            accuracy they claim (0: true positions).
        poor_fix_p: the chance that a fix claims :data:`POOR_ACCURACY_M` (and is
            that far off).
    """

    centre: tuple[float, float] = (-23.5505, -46.6333)
    radius_m: float = 20_000.0
    max_speed_kmh: float = 60.0
    cruise_kmh: tuple[float, float] = (20.0, 60.0)
    accel_kmh_per_s: float = 7.0
    brake_kmh_per_s: float = 12.0
    mean_s_between_turns: float = 45.0
    mean_s_between_stops: float = 90.0
    stop_s: tuple[float, float] = (5.0, 60.0)
    mean_s_between_cruise_changes: float = 30.0
    wander_deg_per_s: float = 3.0
    accuracy_m: tuple[float, float] = (3.0, 20.0)
    jitter: float = 0.0
    poor_fix_p: float = 0.0

    def __post_init__(self) -> None:
        if not self.radius_m >= MIN_RADIUS_M:
            raise ValueError(f"radius_m must be at least {MIN_RADIUS_M}, got {self.radius_m}")
        if not -90.0 <= self.centre[0] <= 90.0 or not -180.0 <= self.centre[1] <= 180.0:
            raise ValueError(f"centre out of range: {self.centre}")
        low, high = self.cruise_kmh
        if not 0.0 < low <= high <= self.max_speed_kmh:
            raise ValueError("cruise_kmh must lie within (0, max_speed_kmh]")
        if self.max_speed_kmh / 3.6 * MAX_STEP_S > self.radius_m:
            # A step towards the centre must not overshoot the far edge.
            raise ValueError("max_speed_kmh is too high for this radius")
        for name in ("accel_kmh_per_s", "brake_kmh_per_s", "mean_s_between_turns"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if not 0.0 <= self.jitter <= 1.0 or not 0.0 <= self.poor_fix_p <= 1.0:
            raise ValueError("jitter and poor_fix_p must lie in [0, 1]")


class Phase(Enum):
    """What the driver is doing."""

    DRIVING = "driving"
    STOPPING = "stopping"  # braking towards a stop
    STOPPED = "stopped"


class Vehicle:
    """One vehicle's position, heading and speed; advanced by :meth:`advance`.

    Attributes:
        lat, lng: current position (WGS 84 degrees).
        heading_deg: direction of travel, degrees clockwise from north, [0, 360).
        speed_kmh: current ground speed, [0, ``config.max_speed_kmh``].
        phase: driving, braking for a stop, or stopped.
    """

    def __init__(self, config: MovementConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        centre_lat, centre_lng = config.centre
        # Uniform over the disc's area: the radius goes with the square root.
        distance = config.radius_m * START_MARGIN * math.sqrt(rng.random())
        self.lat, self.lng = destination(centre_lat, centre_lng, rng.uniform(0, 360), distance)
        self.heading_deg = rng.uniform(0.0, 360.0)
        self.speed_kmh = 0.0
        self.phase = Phase.DRIVING
        self._cruise_kmh = rng.uniform(*config.cruise_kmh)
        self._stop_left_s = 0.0
        self._route: deque[tuple[float, float]] = deque()
        self._route_kmh: tuple[float, float] | None = None  # cruise range on a route
        self.parked = False

    # -- on a job ---------------------------------------------------------------------

    def follow(self, corners: list[tuple[float, float]], speed_factor: float = 1.0) -> None:
        """Drive through ``corners`` (the last one is the destination), cruising at
        the config's speeds times ``speed_factor`` (traffic, the driver); park there."""
        low, high = self.config.cruise_kmh
        top = self.config.max_speed_kmh
        factor = max(0.05, speed_factor)
        self._route = deque(corners)
        self._route_kmh = (min(top, low * factor), min(top, high * factor))
        self._cruise_kmh = self.rng.uniform(*self._route_kmh)
        self.parked = not corners
        if self.phase is Phase.STOPPED:
            self._stop_left_s = min(self._stop_left_s, 3.0)

    @property
    def arrived(self) -> bool:
        """The route is driven: the vehicle is parked at its end."""
        return self.parked

    def roam(self) -> None:
        """Leave the route (or the parking spot) and wander again."""
        self._route.clear()
        self._route_kmh = None
        self.parked = False
        self._cruise_kmh = self.rng.uniform(*self.config.cruise_kmh)

    def distance_to_m(self, lat: float, lng: float) -> float:
        """Straight-line metres from the vehicle to (lat, lng)."""
        return haversine_m(self.lat, self.lng, lat, lng)

    def advance(self, seconds: float) -> None:
        """Drive for ``seconds`` (split into steps of at most :data:`MAX_STEP_S`)."""
        left = max(0.0, seconds)
        while left > 0.0:
            step = min(left, MAX_STEP_S)
            self._step(step)
            left -= step

    def fix(self, time_ms: int) -> Fix:
        """A fix at the current position, as the device would report it at ``time_ms``.

        The heading is absent while stopped (a phone has no bearing then).
        """
        cfg = self.config
        low, high = cfg.accuracy_m
        speed = round(self.speed_kmh, 1)
        accuracy = self.rng.uniform(low, high)
        lat, lng = self.lat, self.lng
        poor = cfg.poor_fix_p > 0.0 and self.rng.random() < cfg.poor_fix_p
        if poor:
            accuracy = self.rng.uniform(*POOR_ACCURACY_M)
        if poor or cfg.jitter > 0.0:
            sigma = accuracy * (0.5 if poor else cfg.jitter)
            lat, lng = destination(
                lat, lng, self.rng.uniform(0, 360), abs(self.rng.gauss(0, sigma))
            )
        return Fix(
            lat=round(lat, 6),
            lng=round(lng, 6),
            accuracy_m=round(accuracy, 1),
            time_ms=time_ms,
            speed_kmh=speed,
            heading_deg=round(self.heading_deg, 1) % 360.0 if speed > 0.0 else None,
        )

    def distance_from_centre_m(self) -> float:
        """How far the vehicle is from the centre of its area."""
        return haversine_m(*self.config.centre, self.lat, self.lng)

    # -- one integration step --------------------------------------------------------

    def _step(self, dt: float) -> None:
        if self.parked:
            self.speed_kmh, self.phase = 0.0, Phase.DRIVING
            return
        if self._route_kmh is not None:
            self._step_on_route(dt)
            return
        self._decide(dt)
        self._change_speed(dt)
        if self.speed_kmh > 0.0:
            self._wander(dt)
            self._move(self.speed_kmh / 3.6 * dt)

    def _step_on_route(self, dt: float) -> None:
        cfg = self.config
        if self.phase is Phase.DRIVING and self._happens(cfg.mean_s_between_stops, dt):
            self.phase = Phase.STOPPING  # a light, a jam
        elif self.phase is Phase.STOPPED and self._stop_left_s - dt <= 0.0:
            self._cruise_kmh = self.rng.uniform(*(self._route_kmh or cfg.cruise_kmh))
        if self.phase is Phase.STOPPED:
            self._stop_left_s -= dt
            if self._stop_left_s > 0.0:
                self.speed_kmh = 0.0
                return
            self.phase = Phase.DRIVING
        self._change_speed(dt)
        left = self.speed_kmh / 3.6 * dt
        while left > 0.0 and self._route:
            lat, lng = self._route[0]
            self.heading_deg = bearing_deg(self.lat, self.lng, lat, lng)
            to_corner = haversine_m(self.lat, self.lng, lat, lng)
            if to_corner > left:
                self.lat, self.lng = destination(self.lat, self.lng, self.heading_deg, left)
                return
            self.lat, self.lng = lat, lng
            left -= to_corner
            self._route.popleft()
            self.speed_kmh = min(self.speed_kmh, CORNER_KMH)  # slow for the corner
        if not self._route:
            self.parked = True
            self.speed_kmh = 0.0

    def _happens(self, mean_s: float, dt: float) -> bool:
        """A Poisson event with mean interval ``mean_s`` occurs within ``dt``."""
        return self.rng.random() < 1.0 - math.exp(-dt / mean_s)

    def _decide(self, dt: float) -> None:
        cfg = self.config
        if self.phase is Phase.STOPPED:
            self._stop_left_s -= dt
            if self._stop_left_s <= 0.0:
                self.phase = Phase.DRIVING
                self._cruise_kmh = self.rng.uniform(*cfg.cruise_kmh)
                if self._happens(cfg.mean_s_between_turns / 10, 1.0):
                    self._turn_at_intersection()
            return
        if self.phase is Phase.DRIVING:
            if self._happens(cfg.mean_s_between_stops, dt):
                self.phase = Phase.STOPPING
            elif self._happens(cfg.mean_s_between_turns, dt):
                self._turn_at_intersection()
            elif self._happens(cfg.mean_s_between_cruise_changes, dt):
                self._cruise_kmh = self.rng.uniform(*cfg.cruise_kmh)

    def _turn_at_intersection(self) -> None:
        turn = self.rng.choice((-90.0, 90.0, -45.0, 45.0))
        self.heading_deg = (self.heading_deg + turn) % 360.0
        # Slow down for the corner.
        self.speed_kmh = min(self.speed_kmh, self.config.cruise_kmh[0])

    def _change_speed(self, dt: float) -> None:
        cfg = self.config
        if self.phase is Phase.STOPPED:
            self.speed_kmh = 0.0
            return
        target = 0.0 if self.phase is Phase.STOPPING else self._cruise_kmh
        if self.speed_kmh < target:
            self.speed_kmh = min(target, self.speed_kmh + cfg.accel_kmh_per_s * dt)
        else:
            self.speed_kmh = max(target, self.speed_kmh - cfg.brake_kmh_per_s * dt)
        self.speed_kmh = min(self.speed_kmh, cfg.max_speed_kmh)
        if self.phase is Phase.STOPPING and self.speed_kmh == 0.0:
            self.phase = Phase.STOPPED
            self._stop_left_s = self.rng.uniform(*cfg.stop_s)

    def _wander(self, dt: float) -> None:
        drift = self.config.wander_deg_per_s * dt
        self.heading_deg = (self.heading_deg + self.rng.uniform(-drift, drift)) % 360.0

    def _move(self, distance_m: float) -> None:
        centre_lat, centre_lng = self.config.centre
        radius = self.config.radius_m
        from_centre = haversine_m(centre_lat, centre_lng, self.lat, self.lng)
        if from_centre > radius * INWARD_MARGIN:
            inward = bearing_deg(self.lat, self.lng, centre_lat, centre_lng)
            if _angle_between(self.heading_deg, inward) > 90:
                # Near the edge and heading out: take a turn back into the area.
                self.heading_deg = (inward + self.rng.uniform(-60.0, 60.0)) % 360.0
        lat, lng = destination(self.lat, self.lng, self.heading_deg, distance_m)
        # Only a step that may reach the edge (triangle inequality) needs checking.
        if (
            from_centre + distance_m > radius
            and haversine_m(centre_lat, centre_lng, lat, lng) > radius
        ):
            # Never cross the edge: this step goes straight towards the centre.
            self.heading_deg = bearing_deg(self.lat, self.lng, centre_lat, centre_lng)
            lat, lng = destination(self.lat, self.lng, self.heading_deg, distance_m)
        self.lat, self.lng = lat, lng
