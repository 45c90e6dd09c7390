"""The one point type of Acionar, between the API (``{lat, lng}``), the address
sources and PostGIS (EWKB / EWKT). Pure.

Every package that speaks of a place on Earth uses :class:`Point`: the registry's
geography columns, geo's addresses and Maps links, operations' job places, the API
schemas. (A GPS fix from a provider app is more than a point: ``realtime`` has its
own, with time and accuracy.)
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

from geoalchemy2 import WKTElement

from registry.errors import ValidationError

SRID = 4326
COORDINATE_DECIMALS = 7
"""Coordinates are rounded to 7 decimals (about 1 cm), as the columns keep them."""
_WKB_POINT = 1
_EWKB_SRID_FLAG = 0x20000000


@dataclass(frozen=True, slots=True)
class Point:
    """A WGS 84 point, checked to be on Earth, rounded to :data:`COORDINATE_DECIMALS`.

    Raises:
        ValidationError: on construction, a latitude or longitude that is not a
            finite number in range (``field`` says which).
    """

    lat: float
    lng: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lat", _coordinate("lat", self.lat, 90, "Latitude"))
        object.__setattr__(self, "lng", _coordinate("lng", self.lng, 180, "Longitude"))

    def ewkt(self) -> str:
        """The EWKT that geography columns accept (longitude first)."""
        return f"SRID={SRID};POINT({self.wkt_coordinates()})"

    def wkt_coordinates(self) -> str:
        return f"{self.lng:.7f} {self.lat:.7f}"

    def element(self) -> WKTElement:
        """The value to assign to a geography column."""
        return WKTElement(f"POINT({self.wkt_coordinates()})", srid=SRID)


def _coordinate(field: str, value: float, limit: int, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):  # a caller that ignored the type hints
        number = math.nan
    if not (math.isfinite(number) and -limit <= number <= limit):
        raise ValidationError(
            field, f"{name} inválida ({value}): use um valor entre -{limit} e {limit}"
        )
    return round(number, COORDINATE_DECIMALS)


def point_from_wkb(data: bytes | memoryview | str) -> Point:
    """Decode a (E)WKB POINT, as PostGIS returns it, into a :class:`Point`.

    Raises:
        ValidationError: the bytes are not a 2D point on Earth (a ValueError).
    """
    try:
        raw = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
        order = "<" if raw[0] == 1 else ">"
        (kind,) = struct.unpack_from(order + "I", raw, 1)
        offset = 5 + (4 if kind & _EWKB_SRID_FLAG else 0)
        lng, lat = struct.unpack_from(order + "dd", raw, offset)
    except (ValueError, IndexError, struct.error) as exc:
        raise ValidationError("location", "Ponto ilegível") from exc
    if kind & 0xFFFF != _WKB_POINT:
        raise ValidationError("location", "Não é um ponto")
    return Point(lat, lng)


_WKT_POINT = re.compile(r"^(?:SRID=\d+;)?POINT\s*\(\s*(\S+)\s+(\S+)\s*\)$", re.IGNORECASE)


def point_from_wkt(text: str) -> Point:
    """Decode ``POINT(lng lat)`` (optionally with an ``SRID=...;`` prefix).

    Raises:
        ValidationError: not a 2D point on Earth (a ValueError).
    """
    match = _WKT_POINT.match(text.strip())
    if not match:
        raise ValidationError("location", "Não é um ponto")
    try:
        lat, lng = float(match[2]), float(match[1])
    except ValueError as exc:
        raise ValidationError("location", "Não é um ponto") from exc
    return Point(lat, lng)
