"""Street-like paths between two points, without a road network: :func:`street_route`.

A city's streets are, near enough, a grid: a trip is a staircase of legs along two
perpendicular directions, turning at corners every few blocks. The grid's angle is
drawn per trip (streets do not all run north–south), corners move a few metres off
the ideal line (streets are not straight), and the last leg ends exactly at the
destination. The path is about ``|dx| + |dy|`` long in the grid's frame: between
1 and 1.41 times the straight line, which is what the server's ETA model assumes on
average (``DETOUR``, :mod:`.profiles`).

Pure: every random choice comes from the :class:`random.Random` passed in.
"""

from __future__ import annotations

import math
import random

from clients.provider_app_sim.movement import EARTH_RADIUS_M

Point = tuple[float, float]
"""(lat, lng) in WGS 84 degrees."""

BLOCK_M = (120.0, 400.0)
"""Range of the length of a leg between two turns."""

CORNER_JITTER_M = 8.0
"""Largest offset of a corner from the ideal staircase."""

MAX_GRID_ANGLE_DEG = 40.0
"""The grid's rotation from north is drawn in ±this."""

MAX_WAYPOINTS = 400
"""Longest path, in corners: a trip across a metropolis stays bounded."""


def _to_metres(origin: Point, point: Point) -> tuple[float, float]:
    """(east, north) metres of ``point`` from ``origin`` (equirectangular: exact
    enough over a city)."""
    lat0 = math.radians(origin[0])
    east = math.radians(point[1] - origin[1]) * EARTH_RADIUS_M * math.cos(lat0)
    north = math.radians(point[0] - origin[0]) * EARTH_RADIUS_M
    return east, north


def _to_degrees(origin: Point, east: float, north: float) -> Point:
    lat0 = math.radians(origin[0])
    lat = origin[0] + math.degrees(north / EARTH_RADIUS_M)
    lng = origin[1] + math.degrees(east / (EARTH_RADIUS_M * math.cos(lat0)))
    return lat, lng


def street_route(start: Point, end: Point, rng: random.Random) -> list[Point]:
    """Corners of a street-like path from ``start`` to ``end`` (``start`` excluded,
    ``end`` last). Empty when the two points coincide."""
    east, north = _to_metres(start, end)
    if math.hypot(east, north) < 1.0:
        return []
    angle = math.radians(rng.uniform(-MAX_GRID_ANGLE_DEG, MAX_GRID_ANGLE_DEG))
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    # The trip in the grid's frame: u along the "avenues", v along the "streets".
    u_total = east * cos_a - north * sin_a
    v_total = east * sin_a + north * cos_a
    corners: list[tuple[float, float]] = []
    u = v = 0.0
    along_u = rng.random() < 0.5
    for _ in range(MAX_WAYPOINTS - 1):
        if abs(u_total - u) < 1.0 and abs(v_total - v) < 1.0:
            break
        left = (u_total - u) if along_u else (v_total - v)
        if abs(left) >= 1.0:
            step = min(abs(left), rng.uniform(*BLOCK_M))
            if along_u:
                u += math.copysign(step, left)
            else:
                v += math.copysign(step, left)
            corners.append((u, v))
        along_u = not along_u
    points: list[Point] = []
    for cu, cv in corners[:-1]:
        ju = rng.uniform(-CORNER_JITTER_M, CORNER_JITTER_M)
        jv = rng.uniform(-CORNER_JITTER_M, CORNER_JITTER_M)
        cu, cv = cu + ju, cv + jv
        points.append(_to_degrees(start, cu * cos_a + cv * sin_a, -cu * sin_a + cv * cos_a))
    points.append(end)
    return points


def path_length_m(start: Point, points: list[Point]) -> float:
    """Length of the path from ``start`` through ``points``, in metres."""
    total, here = 0.0, start
    for point in points:
        east, north = _to_metres(here, point)
        total += math.hypot(east, north)
        here = point
    return total
