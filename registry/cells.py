"""H3 cell ids as stored in PostgreSQL (pure).

H3 ids are unsigned 64-bit integers; PostgreSQL's ``bigint`` is signed. Ids are
stored as the signed integer with the same 64 bits (two's complement), so that
equality and indexing work and the conversion round-trips exactly.
"""

from __future__ import annotations

import h3

PROVIDER_H3_RESOLUTION = 8  # cells of ~0.7 km²: a provider's base, candidate prefilter

_2_63 = 1 << 63
_2_64 = 1 << 64


def cell_to_signed(cell: str) -> int:
    """The signed 64-bit integer of an H3 cell given as a hex string."""
    value = int(cell, 16)
    return value - _2_64 if value >= _2_63 else value


def signed_to_cell(value: int) -> str:
    """The hex string of an H3 cell stored as a signed 64-bit integer."""
    return format(value + _2_64 if value < 0 else value, "x")


def point_cell(lat: float, lng: float, resolution: int = PROVIDER_H3_RESOLUTION) -> int:
    """The stored (signed) id of the H3 cell containing a WGS 84 point."""
    return cell_to_signed(h3.latlng_to_cell(lat, lng, resolution))
