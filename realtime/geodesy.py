"""Pure geodesy helpers: great-circle distance on a spherical Earth."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), in metres. The sphere errs by under 0.5 %: ample for
plausibility checks, not for surveying."""


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance between two points, in metres.

    Args:
        lat1, lng1: first point, decimal degrees (WGS 84).
        lat2, lng2: second point, decimal degrees.

    Returns:
        The distance along the sphere of radius :data:`EARTH_RADIUS_M`; 0.0 for
        equal points, at most half the circumference for antipodes.
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    # Rounding can push ``a`` a hair past 1 near antipodes, and a latitude beyond
    # ±90 (a stored fix from elsewhere that was never checked) below 0; either would
    # make sqrt or asin raise. Clamped, the distance stays a number.
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, a))))
