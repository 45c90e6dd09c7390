"""Geographic points between the API ({lat, lng}) and PostGIS (EWKB / EWKT). Pure."""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

from geoalchemy2 import WKTElement

from registry.errors import ValidationError

SRID = 4326
_WKB_POINT = 1
_EWKB_SRID_FLAG = 0x20000000


@dataclass(frozen=True, slots=True)
class Point:
    """A WGS 84 point, checked to be on Earth."""

    lat: float
    lng: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90 <= self.lat <= 90):
            raise ValidationError("lat", "Latitude inválida: use um valor entre -90 e 90")
        if not (math.isfinite(self.lng) and -180 <= self.lng <= 180):
            raise ValidationError("lng", "Longitude inválida: use um valor entre -180 e 180")

    def ewkt(self) -> str:
        """The EWKT that geography columns accept (longitude first)."""
        return f"SRID={SRID};POINT({self.wkt_coordinates()})"

    def wkt_coordinates(self) -> str:
        return f"{self.lng:.7f} {self.lat:.7f}"

    def element(self) -> WKTElement:
        """The value to assign to a geography column."""
        return WKTElement(f"POINT({self.wkt_coordinates()})", srid=SRID)


def point_from_wkb(data: bytes | memoryview | str) -> Point:
    """Decode a (E)WKB POINT, as PostGIS returns it, into a :class:`Point`.

    Raises:
        ValueError: the bytes are not a 2D point.
    """
    raw = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
    order = "<" if raw[0] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", raw, 1)
    offset = 5 + (4 if kind & _EWKB_SRID_FLAG else 0)
    if kind & 0xFFFF != _WKB_POINT:
        raise ValueError("not a POINT")
    lng, lat = struct.unpack_from(order + "dd", raw, offset)
    return Point(lat=round(lat, 7), lng=round(lng, 7))


_WKT_POINT = re.compile(r"^(?:SRID=\d+;)?POINT\s*\(\s*(\S+)\s+(\S+)\s*\)$", re.IGNORECASE)


def point_from_wkt(text: str) -> Point:
    """Decode ``POINT(lng lat)`` (optionally with an ``SRID=...;`` prefix).

    Raises:
        ValueError: not a 2D point.
    """
    match = _WKT_POINT.match(text.strip())
    if not match:
        raise ValueError("not a POINT")
    return Point(lat=round(float(match[2]), 7), lng=round(float(match[1]), 7))
