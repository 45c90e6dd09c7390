"""The address value shared by every address source (pure).

An :class:`Address` is what an operator fills in for a job's origin or destination:
the street name only in ``street`` (logradouro: "Avenida Nove de Julho", the number
goes in ``number``), then complement, neighbourhood, city, UF, CEP, a reference
point and the coordinates, plus where it came from (``source``) and, for display,
a ``label`` (a partner site's name, a geocoder's one-line address).

Construction normalises (text trimmed with inner blanks collapsed, empty text to
None, CEP to 8 digits, UF upper case) and validates (a known UF, 8-digit CEP, text
no longer than the registry's columns, coordinates both given or both absent, finite
and in range). Whether coordinates may lie outside Brazil is the deployment's
choice, so it is a separate check: :func:`check_territory`.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from dataclasses import dataclass, fields, replace

from geo.addresses.brazil import in_brazil
from geo.addresses.errors import InvalidAddressError, InvalidCoordinatesError, OutsideBrazilError
from registry.errors import ValidationError
from registry.validation import normalize_cep, normalize_uf

COORDINATE_DECIMALS = 7
"""Coordinates are rounded to 7 decimals (about 1 cm), as PostGIS columns keep them."""

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


@dataclass(frozen=True, slots=True)
class Coordinates:
    """A WGS 84 point: finite, latitude in -90..90, longitude in -180..180.

    Raises:
        InvalidCoordinatesError: on construction, when out of range or not finite.
    """

    lat: float
    lng: float

    def __post_init__(self) -> None:
        lat, lng = float(self.lat), float(self.lng)
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise InvalidCoordinatesError(
                "lat", f"Latitude inválida ({self.lat}): use um valor entre -90 e 90."
            )
        if not (math.isfinite(lng) and -180 <= lng <= 180):
            raise InvalidCoordinatesError(
                "lng", f"Longitude inválida ({self.lng}): use um valor entre -180 e 180."
            )
        object.__setattr__(self, "lat", round(lat, COORDINATE_DECIMALS))
        object.__setattr__(self, "lng", round(lng, COORDINATE_DECIMALS))

    @property
    def in_brazil(self) -> bool:
        """True inside Brazil's coarse polygon (see :mod:`geo.addresses.brazil`)."""
        return in_brazil(self.lat, self.lng)


@dataclass(frozen=True, slots=True)
class Address:
    """A Brazilian address, normalised and validated on construction.

    Raises:
        InvalidAddressError: a malformed CEP or UF, a text field too long.
        InvalidCoordinatesError: only one of lat/lng, or either out of range.
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
    lat: float | None = None
    lng: float | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        for name, limit in MAX_LENGTHS.items():
            object.__setattr__(self, name, _text(name, getattr(self, name), limit))
        object.__setattr__(self, "state", _uf(self.state))
        object.__setattr__(self, "cep", _cep(self.cep))
        point = _point(self.lat, self.lng)
        object.__setattr__(self, "lat", None if point is None else point.lat)
        object.__setattr__(self, "lng", None if point is None else point.lng)

    @property
    def coordinates(self) -> Coordinates | None:
        """The point, when the address has one."""
        if self.lat is None or self.lng is None:
            return None
        return Coordinates(self.lat, self.lng)

    def with_coordinates(self, point: Coordinates | None) -> Address:
        """The same address at ``point`` (or without coordinates)."""
        return replace(
            self, lat=None if point is None else point.lat, lng=None if point is None else point.lng
        )

    def key(self) -> tuple[str | None, ...]:
        """The address fields compared when removing duplicates (not source or label)."""
        return tuple(
            getattr(self, f.name) for f in fields(self) if f.name not in ("source", "label")
        )


def check_territory(point: Coordinates, *, allow_outside_brazil: bool) -> Coordinates:
    """``point`` itself, when it is in Brazil or the deployment allows points abroad.

    Raises:
        OutsideBrazilError: ``point`` is outside Brazil and that is not allowed.
    """
    if not allow_outside_brazil and not point.in_brazil:
        raise OutsideBrazilError(point.lat, point.lng)
    return point


def address_in_territory(address: Address, *, allow_outside_brazil: bool) -> bool:
    """True when the address has no coordinates or :func:`check_territory` accepts them."""
    point = address.coordinates
    return point is None or allow_outside_brazil or point.in_brazil


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


def _point(lat: float | None, lng: float | None) -> Coordinates | None:
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        missing = "lat" if lat is None else "lng"
        raise InvalidCoordinatesError(missing, "Informe latitude e longitude juntas.")
    return Coordinates(lat, lng)
