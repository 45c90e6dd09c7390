"""The calls of a scenario (pure, deterministic for a seed): when each arrives, who
calls and where from, and where the tow goes.

Arrivals are a Poisson process: exponential gaps of mean ``60 / rate_per_min``
seconds. Each call picks a beneficiary and one of the São Paulo places below, with a
few hundred metres of jitter so that no two calls share a point, and a destination
(a workshop) 2 to 12 km away for the calls that need one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MAX_CALLS = 10_000  # a scenario never generates more, whatever its rate and length
JITTER_M = 400.0
DESTINATION_KM = (2.0, 12.0)
EARTH_M = 6_371_000.0

# Neighbourhoods of São Paulo where cars break down (lat, lng).
PLACES: tuple[tuple[str, float, float], ...] = (
    ("Sé", -23.5505, -46.6333),
    ("Paulista", -23.5614, -46.6559),
    ("Pinheiros", -23.5672, -46.6917),
    ("Vila Mariana", -23.5891, -46.6345),
    ("Moema", -23.6006, -46.6650),
    ("Itaim Bibi", -23.5847, -46.6782),
    ("Lapa", -23.5225, -46.7033),
    ("Santana", -23.5023, -46.6254),
    ("Tatuapé", -23.5403, -46.5766),
    ("Mooca", -23.5587, -46.5990),
    ("Ipiranga", -23.5869, -46.6097),
    ("Santo Amaro", -23.6525, -46.7087),
    ("Butantã", -23.5717, -46.7086),
    ("Barra Funda", -23.5253, -46.6668),
    ("Penha", -23.5231, -46.5422),
    ("Jabaquara", -23.6456, -46.6411),
    ("Vila Prudente", -23.5830, -46.5800),
    ("Perdizes", -23.5370, -46.6790),
    ("Campo Belo", -23.6225, -46.6705),
    ("Marginal Tietê", -23.5150, -46.6300),
)


@dataclass(frozen=True, slots=True)
class Call:
    """One call: ``at_s`` seconds after the start, beneficiary number ``caller``
    (an index into the scenario's beneficiaries), its origin and destination."""

    at_s: float
    caller: int
    place: str
    origin: tuple[float, float]
    destination: tuple[float, float]


def arrivals(rate_per_min: float, duration_s: float, rng: random.Random) -> list[float]:
    """Poisson arrival times in ``[0, duration_s)``, at most :data:`MAX_CALLS`."""
    if rate_per_min <= 0 or duration_s <= 0:
        return []
    mean_gap = 60.0 / rate_per_min
    times: list[float] = []
    at = rng.expovariate(1.0 / mean_gap)
    while at < duration_s and len(times) < MAX_CALLS:
        times.append(at)
        at += rng.expovariate(1.0 / mean_gap)
    return times


def offset(lat: float, lng: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lng) towards ``bearing_deg`` (spherical)."""
    angular = distance_m / EARTH_M
    bearing = math.radians(bearing_deg)
    lat1, lng1 = math.radians(lat), math.radians(lng)
    lat2 = math.asin(
        math.sin(lat1) * math.cos(angular) + math.cos(lat1) * math.sin(angular) * math.cos(bearing)
    )
    lng2 = lng1 + math.atan2(
        math.sin(bearing) * math.sin(angular) * math.cos(lat1),
        math.cos(angular) - math.sin(lat1) * math.sin(lat2),
    )
    return round(math.degrees(lat2), 6), round(math.degrees(lng2), 6)


def calls(rate_per_min: float, duration_s: float, callers: int, seed: int) -> list[Call]:
    """The scenario's calls: the same for the same arguments."""
    if callers <= 0:
        return []
    rng = random.Random(seed)
    made = []
    for at in arrivals(rate_per_min, duration_s, rng):
        name, lat, lng = rng.choice(PLACES)
        origin = offset(lat, lng, rng.uniform(0, 360), rng.uniform(0, JITTER_M))
        km = rng.uniform(*DESTINATION_KM)
        destination = offset(*origin, rng.uniform(0, 360), km * 1000)
        made.append(Call(at, rng.randrange(callers), name, origin, destination))
    return made
