"""Shared pieces of the registry's API schemas (pydantic v2).

The same models validate requests and describe them in the OpenAPI document, so
the document says exactly what the server checks. Validators raise
:class:`registry.errors.ValidationError` with pt-BR messages; the server turns them
into 422 responses listing each field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from geoalchemy2 import WKBElement
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from registry.errors import ValidationError
from registry.points import Point, point_from_wkb
from registry.validation import (
    cnpj_is_valid,
    normalize_cep,
    normalize_phone,
    normalize_plate,
    normalize_uf,
    only_digits,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def normalize_email(value: str) -> str:
    value = value.strip()
    if len(value) > 160 or not _EMAIL.fullmatch(value):
        raise ValidationError("email", "E-mail inválido")
    return value.lower()


def _cnpj(value: str) -> str:
    if not cnpj_is_valid(value):
        raise ValidationError("cnpj", "CNPJ inválido")
    return only_digits(value)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Email = Annotated[str, AfterValidator(normalize_email)]
Phone = Annotated[str, AfterValidator(normalize_phone)]
Cep = Annotated[str, AfterValidator(normalize_cep)]
Uf = Annotated[str, AfterValidator(normalize_uf)]
Plate = Annotated[str, AfterValidator(normalize_plate)]
Cnpj = Annotated[str, AfterValidator(_cnpj)]
Optional = BeforeValidator(_blank_to_none)
"""Put on optional text fields: an empty string means "no value"."""

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id: a number no row can have is refused (422), never sent to PostgreSQL."""

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _plausible_instant(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError("data fora do intervalo aceito (1900 a 2200)")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_plausible_instant)]
"""A moment with its UTC offset, between 1900 and 2200: the ends of the calendar
(year 1, or 9999 at -12:00, beyond what Python's datetime can convert) are refused."""

Name = Annotated[str, Field(min_length=1, max_length=160)]
ShortText = Annotated[str, Field(min_length=1, max_length=80)]

# Optional text of a bounded length; "" and spaces mean no value.
Text20 = Annotated[Annotated[str, Field(max_length=20)] | None, Optional]
Text30 = Annotated[Annotated[str, Field(max_length=30)] | None, Optional]
Text40 = Annotated[Annotated[str, Field(max_length=40)] | None, Optional]
Text60 = Annotated[Annotated[str, Field(max_length=60)] | None, Optional]
Text80 = Annotated[Annotated[str, Field(max_length=80)] | None, Optional]
Text120 = Annotated[Annotated[str, Field(max_length=120)] | None, Optional]
Text160 = Annotated[Annotated[str, Field(max_length=160)] | None, Optional]
LongText = Annotated[Annotated[str, Field(max_length=20000)] | None, Optional]
OptEmail = Annotated[Email | None, Optional]
OptPhone = Annotated[Phone | None, Optional]


class InModel(BaseModel):
    """Base of request bodies: unknown fields are refused, text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutModel(BaseModel):
    """Base of response bodies, built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class LatLng(BaseModel):
    """A point: latitude and longitude in decimal degrees (WGS 84)."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)

    def ewkt(self) -> str:
        return Point(self.lat, self.lng).ewkt()


def _point_out(value: Any) -> Any:
    if isinstance(value, WKBElement):
        point = point_from_wkb(value.data)
        return {"lat": point.lat, "lng": point.lng}
    return value


LatLngOut = Annotated[LatLng | None, BeforeValidator(_point_out)]


class AddressIn(InModel):
    """Brazilian address fields (all optional). ``street`` is the street name only."""

    street: Text160 = None
    number: Text20 = None
    complement: Text80 = None
    neighbourhood: Text80 = None
    city: Text80 = None
    state: Annotated[Uf | None, Optional] = None
    cep: Annotated[Cep | None, Optional] = None


class AddressOut(OutModel):
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighbourhood: str | None = None
    city: str | None = None
    state: str | None = None
    cep: str | None = None


class Stamped(OutModel):
    id: int
    created_at: datetime
    updated_at: datetime
