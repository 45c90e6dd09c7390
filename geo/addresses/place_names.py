"""Address fields out of the one-line address Google Maps names places with (pure).

A place link's name is often Google's formatted Brazilian address:
``Av. Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200`` — street, number,
neighbourhood, city, UF and CEP. :func:`address_from_place_name` splits that shape
into an :class:`Address` (the operator checks it before saving); any other name
(a business's, "MASP") is kept whole as the address's ``label``.
"""

from __future__ import annotations

import re

from geo.addresses.address import Address, AddressSource
from geo.addresses.errors import InvalidAddressError
from registry.points import Point

_FORMATTED = re.compile(
    r"(?P<street>[^,]+?)"
    r"(?:,\s*(?P<number>\d[\w/]*(?:\s*[A-Za-z])?))?"
    r"\s+-\s+(?P<neighbourhood>[^,]+?),\s*"
    r"(?P<city>[^,]+?)\s+-\s+(?P<state>[A-Z]{2})"
    r"(?:,\s*(?P<cep>\d{5}-?\d{3}))?"
    r"(?:,\s*(?:Brasil|Brazil))?"
)


def address_from_place_name(
    name: str | None, point: Point | None, source: AddressSource = AddressSource.MAPS_URL
) -> Address:
    """An address at ``point``, its fields split from ``name`` when it is Google's
    formatted Brazilian address; ``name`` is the label either way.

    A name that looks formatted but holds an invalid UF or CEP gives only the label:
    a guess must never make the whole link fail.
    """
    match = _FORMATTED.fullmatch(name.strip()) if name else None
    if match is not None:
        try:
            return Address(source, point=point, label=name, **match.groupdict())
        except InvalidAddressError:
            pass
    return Address(source, point=point, label=name)
