"""A job's origin and destination (pure): the address fields the operator sees and
the point the provider drives to.

The address may come from a geocoder search, a Google Maps URL, one of the
client's partner sites, the beneficiary's address or be typed in
(:class:`geo.addresses.AddressSource`); whatever the source, the point must lie in
Brazil unless the deployment allows otherwise (the server checks it with
:func:`geo.addresses.check_territory`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from geo.addresses import AddressSource as PlaceSource
from operations.errors import InvalidInputError


class PlaceRole(enum.StrEnum):
    ORIGIN = "origin"
    DESTINATION = "destination"

    @property
    def label(self) -> str:
        return "Origem" if self is PlaceRole.ORIGIN else "Destino"


@dataclass(frozen=True, slots=True)
class Place:
    """An address with its point. ``street`` is the street name only (logradouro)."""

    lat: float
    lng: float
    source: PlaceSource = PlaceSource.MANUAL
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighbourhood: str | None = None
    city: str | None = None
    state: str | None = None
    cep: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90 <= self.lat <= 90):
            raise InvalidInputError("lat", "Latitude inválida: use um valor entre -90 e 90.")
        if not (math.isfinite(self.lng) and -180 <= self.lng <= 180):
            raise InvalidInputError("lng", "Longitude inválida: use um valor entre -180 e 180.")

    def one_line(self) -> str:
        """ "Rua X, 10 - Bairro, Cidade/UF" from the fields that are present."""
        street = ", ".join(p for p in (self.street, self.number) if p)
        city = "/".join(p for p in (self.city, self.state) if p)
        text = " - ".join(p for p in (street, self.neighbourhood, city) if p)
        return text or f"{self.lat:.6f}, {self.lng:.6f}"
