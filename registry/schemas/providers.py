"""API schemas of providers, their price table and their client partnerships."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from registry.enums import Channel, PersonKind, ProviderStatus
from registry.schemas.clients import Money
from registry.schemas.common import (
    ONE_LINE,
    AddressColumnsOut,
    AddressIn,
    Id,
    InModel,
    LatLng,
    LatLngOut,
    Name,
    OptEmail,
    OptPhone,
    OutModel,
    Plate,
    Stamped,
    Text160,
)
from registry.validation import normalize_document

MAX_ACTIVE_JOBS = 20
"""Most jobs a provider may be on at once (a fleet company with many trucks)."""

Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]


class ProviderIn(AddressIn):
    """Prestador. ``base_location`` is where it is based (required: candidates are
    searched around it when no live position is known)."""

    person_kind: PersonKind = PersonKind.PJ
    document: Annotated[str, Field(min_length=11, max_length=18)]
    name: Name
    trade_name: Text160 = None
    phone: OptPhone = None
    whatsapp: OptPhone = None
    email: OptEmail = None
    base_location: LatLng
    working_radius_km: Annotated[int, Field(ge=1, le=1000)] = 30
    preference: Annotated[int, Field(ge=0, le=5)] = 3
    status: ProviderStatus = ProviderStatus.ACTIVE
    channels: list[Channel] = Field(default_factory=lambda: [Channel.APP], max_length=4)
    max_active_jobs: Annotated[int, Field(ge=1, le=MAX_ACTIVE_JOBS)] = 1
    on_time_rate: Rate | None = None
    acceptance_rate: Rate | None = None
    cities_served: list[Annotated[str, Field(min_length=1, max_length=80), ONE_LINE]] = Field(
        default_factory=list, max_length=200
    )
    vehicle_plate: Plate | None = None

    @model_validator(mode="after")
    def _check(self) -> ProviderIn:
        self.document = normalize_document(self.document, self.person_kind, "document")
        self.channels = list(dict.fromkeys(self.channels))
        return self


class ProviderOut(Stamped, AddressColumnsOut):
    person_kind: PersonKind
    document: str
    name: str
    trade_name: str | None
    phone: str | None
    whatsapp: str | None
    email: str | None
    base_location: LatLngOut
    working_radius_km: int
    preference: int
    status: ProviderStatus
    channels: list[Channel]
    max_active_jobs: int
    on_time_rate: Decimal | None
    acceptance_rate: Decimal | None
    cities_served: list[str]
    vehicle_plate: str | None


class ProviderServiceIn(InModel):
    """One row of the provider's standard price table (Tabela padrão)."""

    service_type_id: Id
    departure_fee: Money
    included_km: Annotated[int, Field(ge=0, le=10000)] = 0
    price_per_km: Money
    hourly_rate: Money | None = None
    night_holiday_surcharge_pct: Annotated[
        Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)
    ] = Decimal(0)


class ProviderServiceOut(Stamped):
    provider_id: Id
    service_type_id: Id
    departure_fee: Decimal
    included_km: int
    price_per_km: Decimal
    hourly_rate: Decimal | None
    night_holiday_surcharge_pct: Decimal


class PartnershipIn(InModel):
    client_id: Id


class PartnershipOut(OutModel):
    provider_id: Id
    client_id: Id
