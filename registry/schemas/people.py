"""API schemas of beneficiaries (with their plans and vehicles), representatives and
suppliers."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, model_validator

from registry.enums import PersonKind, Sex
from registry.errors import ValidationError
from registry.schemas.common import (
    AddressColumnsOut,
    AddressIn,
    Id,
    InModel,
    LatLng,
    LatLngOut,
    LongText,
    Name,
    OptEmail,
    OptPhone,
    Plate,
    Stamped,
    Text20,
    Text30,
    Text40,
    Text60,
    Text160,
)
from registry.validation import document_characters, normalize_document

_VIN = r"^[A-HJ-NPR-Z0-9]{17}$"


def _document(value: str, kind: PersonKind) -> str:
    return normalize_document(value, kind, "document")


def _period(starts: date | None, ends: date | None, field: str) -> None:
    if starts and ends and ends < starts:
        raise ValidationError(field, "A data final deve ser igual ou posterior à inicial")


class BeneficiaryIn(AddressIn):
    """Beneficiário. ``document`` is a CPF (``pf``) or CNPJ (``pj``, numeric or
    alphanumeric), with or without punctuation; it is stored without it (a CPF's 11
    digits, a CNPJ's 14 characters in upper case)."""

    client_id: Id
    person_kind: PersonKind = PersonKind.PF
    document: Annotated[str, Field(min_length=11, max_length=18)]
    rg: Text20 = None
    name: Name
    sex: Sex | None = None
    birth_date: date | None = None
    email: OptEmail = None
    phone: OptPhone = None
    phone_secondary: OptPhone = None
    whatsapp: OptPhone = None
    representative_id: Id | None = None
    location: LatLng | None = None
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> BeneficiaryIn:
        self.document = _document(self.document, self.person_kind)
        if self.birth_date and not date(1900, 1, 1) <= self.birth_date <= date.today():
            raise ValidationError("birth_date", "Data de nascimento inválida")
        return self


class BeneficiaryOut(Stamped, AddressColumnsOut):
    client_id: Id
    person_kind: PersonKind
    document: str
    rg: str | None
    name: str
    sex: Sex | None
    birth_date: date | None
    email: str | None
    phone: str | None
    phone_secondary: str | None
    whatsapp: str | None
    representative_id: Id | None
    location: LatLngOut = None
    active: bool


class BeneficiaryPlanIn(InModel):
    """A non-vehicle plan of the beneficiary's client, for a period (Data de Contrato)."""

    plan_id: Id
    starts_on: date
    ends_on: date | None = None

    @model_validator(mode="after")
    def _check(self) -> BeneficiaryPlanIn:
        _period(self.starts_on, self.ends_on, "ends_on")
        return self


class BeneficiaryPlanOut(Stamped):
    beneficiary_id: Id
    plan_id: Id
    starts_on: date
    ends_on: date | None


class VehicleIn(InModel):
    """Veículo: ``plate`` in either format, with or without dash; ``plan_id`` is a
    ``vehicle`` plan of the beneficiary's client."""

    plate: Plate
    vin: Annotated[str | None, Field(pattern=_VIN)] = None
    make: Text40 = None
    model: Text60 = None
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    colour: Text30 = None
    plan_id: Id | None = None
    plan_starts_on: date | None = None
    plan_ends_on: date | None = None
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> VehicleIn:
        if self.vin:
            self.vin = self.vin.upper()
        _period(self.plan_starts_on, self.plan_ends_on, "plan_ends_on")
        return self


class VehicleOut(Stamped):
    beneficiary_id: Id
    plate: str
    vin: str | None
    make: str | None
    model: str | None
    year: int | None
    colour: str | None
    plan_id: Id | None
    plan_starts_on: date | None
    plan_ends_on: date | None
    active: bool


class RepresentativeIn(InModel):
    """Representante: ``document`` (optional) is a CPF or a CNPJ."""

    name: Name
    document: Text20 = None
    email: OptEmail = None
    phone: OptPhone = None
    whatsapp: OptPhone = None
    notes: LongText = None
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> RepresentativeIn:
        if self.document:
            length = len(document_characters(self.document))
            kind = PersonKind.PF if length <= 11 else PersonKind.PJ
            self.document = _document(self.document, kind)
        return self


class RepresentativeOut(Stamped):
    name: str
    document: str | None
    email: str | None
    phone: str | None
    whatsapp: str | None
    notes: str | None
    active: bool


class SupplierIn(AddressIn):
    person_kind: PersonKind = PersonKind.PJ
    document: Annotated[str, Field(min_length=11, max_length=18)]
    name: Name
    trade_name: Text160 = None
    email: OptEmail = None
    phone: OptPhone = None
    notes: LongText = None
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> SupplierIn:
        self.document = _document(self.document, self.person_kind)
        return self


class SupplierOut(Stamped, AddressColumnsOut):
    person_kind: PersonKind
    document: str
    name: str
    trade_name: str | None
    email: str | None
    phone: str | None
    notes: str | None
    active: bool
