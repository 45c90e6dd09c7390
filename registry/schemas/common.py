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
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from registry.errors import ValidationError
from registry.points import Point, point_from_wkb
from registry.validation import (
    normalize_cep,
    normalize_cnpj,
    normalize_phone,
    normalize_plate,
    normalize_uf,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


def normalize_email(value: str) -> str:
    value = value.strip()
    if len(value) > 160 or not _EMAIL.fullmatch(value):
        raise ValidationError("email", "E-mail inválido")
    return value.lower()


def _cnpj(value: str) -> str:
    return normalize_cnpj(value)


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

# Control characters (C0 and C1; line breaks and tabs excepted) and the invisible
# marks that reorder text (bidi embeddings, overrides, isolates: "Trojan Source").
_HIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_BREAKS = re.compile("[\t\n\r]")
HIDDEN_MESSAGE = "Caracteres de controle ou invisíveis não são permitidos"


def has_hidden_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (other than a line break or a
    tab) or a mark that reorders text."""
    return _HIDDEN.search(text) is not None


def _one_line(value: str) -> str:
    if _BREAKS.search(value):
        raise ValueError("use uma só linha, sem quebras nem tabulações")
    return value


ONE_LINE = AfterValidator(_one_line)
"""Put after a text's length constraints: one line, no breaks nor tabs (names,
codes, streets...). After them, so that a length error keeps its own message."""

Name = Annotated[str, Field(min_length=1, max_length=160), ONE_LINE]
ShortText = Annotated[str, Field(min_length=1, max_length=80), ONE_LINE]

# Optional one-line text of a bounded length; "" and spaces mean no value.
Text20 = Annotated[Annotated[str, Field(max_length=20), ONE_LINE] | None, Optional]
Text30 = Annotated[Annotated[str, Field(max_length=30), ONE_LINE] | None, Optional]
Text40 = Annotated[Annotated[str, Field(max_length=40), ONE_LINE] | None, Optional]
Text60 = Annotated[Annotated[str, Field(max_length=60), ONE_LINE] | None, Optional]
Text80 = Annotated[Annotated[str, Field(max_length=80), ONE_LINE] | None, Optional]
Text120 = Annotated[Annotated[str, Field(max_length=120), ONE_LINE] | None, Optional]
Text160 = Annotated[Annotated[str, Field(max_length=160), ONE_LINE] | None, Optional]
LongText = Annotated[Annotated[str, Field(max_length=20000)] | None, Optional]
OptEmail = Annotated[Email | None, Optional]
OptPhone = Annotated[Phone | None, Optional]


class InModel(BaseModel):
    """Base of request bodies: unknown fields are refused, text is trimmed, and no
    text field holds a control character or a mark that reorders text (names,
    notes, file names alike; one-line fields refuse line breaks too)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="after")
    def _visible_text(self) -> InModel:
        for name, value in self.__dict__.items():
            texts = value if isinstance(value, list | tuple) else (value,)
            if any(isinstance(t, str) and has_hidden_characters(t) for t in texts):
                raise ValidationError(name, HIDDEN_MESSAGE)
        return self


class OutModel(BaseModel):
    """Base of response bodies, built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class LatLng(BaseModel):
    """A point: latitude and longitude in decimal degrees (WGS 84)."""

    # The API's one point schema, in requests and answers alike (a registry row's
    # location, an address's point); registry.points.Point is the value behind it.

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


class AddressColumnsOut(OutModel):
    """The address columns of a registry row (:class:`registry.models.columns.Address`)
    as the row's answer shows them, flat beside its other fields: not a whole address
    (its source, point and label), which the API shows as operations' view of it."""

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
