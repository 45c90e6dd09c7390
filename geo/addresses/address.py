"""The one address model of Acionar (pure): :class:`Address`, and :class:`Place`,
an address that has its point.

An :class:`Address` is what an operator fills in for a job's origin or destination,
or what an address source suggests: the street name only in ``street``
(logradouro: "Avenida Nove de Julho", the number goes in ``number``), then
complement, neighbourhood, city, UF, CEP, a reference point and the point
(:class:`registry.points.Point`, the one point type), plus where it came from
(``source``) and, for display, a ``label`` (a partner site's name, a geocoder's
one-line address). A geocoder's suggestion may lack a point; a job's origin or
destination may not: that is a :class:`Place`.

Construction normalises (text trimmed with inner blanks collapsed, empty text to
None, CEP to 8 digits, UF upper case) and validates (a known UF, 8-digit CEP, text
no longer than the registry's columns). Whether a point may lie outside Brazil is
the deployment's choice, so it is a separate check: :func:`check_territory`.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Any

from geo.addresses import brazil
from geo.addresses.errors import InvalidAddressError, InvalidCoordinatesError, OutsideBrazilError
from registry.errors import ValidationError
from registry.points import Point
from registry.validation import normalize_cep, normalize_uf

# Longest text per field: the widths of registry.models.columns.Address, and of the
# reference point the operations' job address keeps.
MAX_LENGTHS = {
    "street": 160,
    "number": 20,
    "complement": 80,
    "neighbourhood": 80,
    "city": 80,
    "reference": 160,
    "label": 200,
}
_FIELD_NAMES_PT = {
    "street": "O logradouro",
    "number": "O número",
    "complement": "O complemento",
    "neighbourhood": "O bairro",
    "city": "A cidade",
    "reference": "O ponto de referência",
    "label": "A descrição",
}
_BLANKS = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
# Letters NFKD does not decompose but PostgreSQL's unaccent rewrites.
_UNACCENT_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l"})


class AddressSource(enum.StrEnum):
    """Where an address came from."""

    MANUAL = "manual"  # typed by the operator
    MAPS_URL = "maps_url"  # a Google Maps link
    NOMINATIM = "nominatim"  # the Nominatim geocoder
    PARTNER_SITE = "partner_site"  # a client's partner site (Estabelecimento parceiro)
    BENEFICIARY = "beneficiary"  # a beneficiary's registered address
    JOB = "job"  # an earlier job's origin or destination


def checked_point(lat: float, lng: float) -> Point:
    """The :class:`Point` at (lat, lng), for values read from an address source.

    Raises:
        InvalidCoordinatesError: not finite, or out of range.
    """
    try:
        return Point(lat, lng)
    except ValidationError as exc:
        raise InvalidCoordinatesError(exc.field, exc.message + ".") from exc


def in_brazil(point: Point) -> bool:
    """True inside Brazil's coarse polygon (see :mod:`geo.addresses.brazil`)."""
    return brazil.in_brazil(point.lat, point.lng)


@dataclass(frozen=True, slots=True)
class Address:
    """A Brazilian address, normalised and validated on construction.

    Raises:
        InvalidAddressError: a malformed CEP or UF, a text field too long.
    """

    source: AddressSource
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighbourhood: str | None = None
    city: str | None = None
    state: str | None = None
    cep: str | None = None
    reference: str | None = None
    point: Point | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        for name, limit in MAX_LENGTHS.items():
            object.__setattr__(self, name, _text(name, getattr(self, name), limit))
        object.__setattr__(self, "state", _uf(self.state))
        object.__setattr__(self, "cep", _cep(self.cep))

    def key(self) -> tuple[object, ...]:
        """The address fields compared when removing duplicates (not source or label)."""
        return tuple(
            getattr(self, f.name) for f in fields(self) if f.name not in ("source", "label")
        )

    def one_line(self) -> str:
        """ "Rua X, 10 - Bairro, Cidade/UF" from the fields that are present (the
        point when there are none)."""
        street = ", ".join(p for p in (self.street, self.number) if p)
        city = "/".join(p for p in (self.city, self.state) if p)
        text = " - ".join(p for p in (street, self.neighbourhood, city) if p)
        if text or self.point is None:
            return text
        return f"{self.point.lat:.6f}, {self.point.lng:.6f}"


@dataclass(frozen=True, slots=True)
class Place(Address):
    """An address with its point: a job's origin or destination.

    Raises:
        InvalidAddressError: as :class:`Address`.
        InvalidCoordinatesError: no point.
    """

    def __post_init__(self) -> None:
        Address.__post_init__(self)  # slots: the class is rebuilt, so no bare super()
        if self.point is None:
            raise InvalidCoordinatesError("lat", "Informe latitude e longitude.")

    @property
    def at(self) -> Point:
        """The place's point (never None)."""
        assert self.point is not None  # checked at construction
        return self.point

    @classmethod
    def of(cls, address: Address, **changes: Any) -> Place:
        """``address`` as a place, with ``changes`` (a point, a reference...).

        Raises:
            InvalidCoordinatesError: it has no point, nor one among ``changes``.
        """
        values = {f.name: getattr(address, f.name) for f in fields(address)}
        return cls(**(values | changes))


def check_territory(point: Point, *, allow_outside_brazil: bool) -> Point:
    """``point`` itself, when it is in Brazil or the deployment allows points abroad.

    Raises:
        OutsideBrazilError: ``point`` is outside Brazil and that is not allowed.
    """
    if not allow_outside_brazil and not in_brazil(point):
        raise OutsideBrazilError(point.lat, point.lng)
    return point


def address_in_territory(address: Address, *, allow_outside_brazil: bool) -> bool:
    """True when the address has no point or :func:`check_territory` accepts it."""
    point = address.point
    return point is None or allow_outside_brazil or in_brazil(point)


def fold(text: str) -> str:
    """Lower case, accents stripped, every run of other characters one space:
    ``" Av. São  João-Nº 5 "`` → ``"av sao joao no 5"``. Mirrors
    ``lower(immutable_unaccent(...))`` closely enough for searching."""
    lowered = text.lower().translate(_UNACCENT_EXTRA)
    decomposed = unicodedata.normalize("NFKD", lowered)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.split(bare)).strip()


def _text(name: str, value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    cleaned = _BLANKS.sub(" ", str(value)).strip()
    if not cleaned:
        return None
    if len(cleaned) > limit:
        raise InvalidAddressError(name, f"{_FIELD_NAMES_PT[name]} aceita até {limit} caracteres.")
    return cleaned


def _uf(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize_uf(value)
    except ValidationError as exc:
        raise InvalidAddressError("state", f"UF inválida: {value.strip()!r}.") from exc


def _cep(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize_cep(value)
    except ValidationError as exc:
        raise InvalidAddressError("cep", "CEP inválido: informe 8 dígitos.") from exc
