"""Builders shared by the realtime tests."""

from __future__ import annotations

from typing import Any

import orjson

from realtime.filter import PositionFix

NOW_S = 1_718_000_000.0
"""A fixed server wall clock for the tests (June 2024), seconds since the epoch."""

NOW_MS = int(NOW_S * 1000)

SAO_PAULO = (-23.5505, -46.6333)


def fix(
    *,
    dt_s: float = 0.0,
    lat: float = SAO_PAULO[0],
    lng: float = SAO_PAULO[1],
    accuracy_m: float = 8.0,
    speed_kmh: float | None = 40.0,
    heading_deg: float | None = 90.0,
    mock: bool = False,
) -> PositionFix:
    """A plausible fix in São Paulo, ``dt_s`` seconds after :data:`NOW_S`."""
    return PositionFix(
        lat=lat,
        lng=lng,
        accuracy_m=accuracy_m,
        time_ms=NOW_MS + round(dt_s * 1000),
        speed_kmh=speed_kmh,
        heading_deg=heading_deg,
        mock=mock,
    )


def wire_fix(**overrides: Any) -> dict[str, Any]:
    """A fix as a JSON object, with ``overrides`` applied (``None`` removes a key)."""
    out: dict[str, Any] = {
        "lat": SAO_PAULO[0],
        "lng": SAO_PAULO[1],
        "accuracy_m": 8.0,
        "speed_kmh": 40.0,
        "heading_deg": 90.0,
        "time_ms": NOW_MS,
        "mock": False,
    }
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def frame(obj: object) -> bytes:
    """``obj`` as a JSON frame."""
    return orjson.dumps(obj)
