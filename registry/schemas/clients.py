"""API schemas of clients and what hangs from them: contacts, bank accounts,
responsible persons, contracts, plans and their services, partner sites."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from registry.enums import (
    BankAccountType,
    CancelledJobCount,
    ContactKind,
    LimitPeriod,
    PlanKind,
)
from registry.errors import ValidationError
from registry.schemas.common import (
    ONE_LINE,
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
    ShortText,
    Stamped,
    Text20,
    Text80,
    Text120,
    Text160,
    normalize_email,
)
from registry.validation import normalize_cnpj, normalize_phone

Cnpj = Annotated[str, AfterValidator(normalize_cnpj)]
"""A CNPJ, numeric or alphanumeric, stored as its 14 characters (upper case)."""
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
RANKING_FACTORS = frozenset(
    {"distance", "on_time_rate", "acceptance_rate", "preference", "partnership", "price"}
)


class ClientIn(AddressIn):
    cnpj: Cnpj
    state_registration: Text20 = None
    contract_date: date | None = None
    trade_name: Annotated[str, Field(min_length=1, max_length=120), ONE_LINE]
    legal_name: Name
    vip: bool = False
    operator_script: LongText = None
    sla_dispatch_minutes: Annotated[int, Field(ge=1, le=10080)] | None = None
    sla_arrival_minutes: Annotated[int, Field(ge=1, le=10080)] | None = None
    ranking_weights: dict[str, Annotated[float, Field(ge=0, le=100)]] | None = None
    active: bool = True

    @model_validator(mode="after")
    def _known_factors(self) -> ClientIn:
        unknown = set(self.ranking_weights or {}) - RANKING_FACTORS
        if unknown:
            raise ValidationError(
                "ranking_weights",
                f"Fatores desconhecidos: {', '.join(sorted(unknown))}; "
                f"use {', '.join(sorted(RANKING_FACTORS))}",
            )
        return self


class ClientOut(Stamped, AddressColumnsOut):
    cnpj: str
    state_registration: str | None
    contract_date: date | None
    trade_name: str
    legal_name: str
    vip: bool
    operator_script: str | None
    sla_dispatch_minutes: int | None
    sla_arrival_minutes: int | None
    ranking_weights: dict[str, float] | None
    active: bool


class ClientContactIn(InModel):
    """A phone, e-mail, Skype or WhatsApp. Phones and WhatsApp are stored as E.164."""

    kind: ContactKind
    value: Annotated[str, Field(min_length=1, max_length=160), ONE_LINE]
    label: Text80 = None

    @model_validator(mode="after")
    def _normalise(self) -> ClientContactIn:
        if self.kind in (ContactKind.PHONE, ContactKind.WHATSAPP):
            self.value = normalize_phone(self.value, "value")
        elif self.kind is ContactKind.EMAIL:
            self.value = normalize_email(self.value)
        return self


class ClientContactOut(Stamped):
    client_id: Id
    kind: ContactKind
    value: str
    label: str | None


class ClientBankAccountIn(InModel):
    bank_code: Annotated[str, Field(pattern=r"^[0-9]{3}$")]
    branch: Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[0-9]+(-[0-9xX])?$")]
    account: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[0-9]+(-[0-9xX])?$")]
    account_type: BankAccountType = BankAccountType.CHECKING
    holder_name: Text160 = None
    pix_key: Text120 = None


class ClientBankAccountOut(Stamped):
    client_id: Id
    bank_code: str
    branch: str
    account: str
    account_type: BankAccountType
    holder_name: str | None
    pix_key: str | None


class ClientResponsibleIn(InModel):
    name: Name
    position: Text80 = None
    email: OptEmail = None
    phone: OptPhone = None


class ClientResponsibleOut(Stamped):
    client_id: Id
    name: str
    position: str | None
    email: str | None
    phone: str | None


class ContractIn(InModel):
    """A contract; ``plan_ids`` are the client's plans it covers."""

    code: Annotated[str, Field(min_length=1, max_length=40), ONE_LINE]
    description: LongText = None
    plan_ids: list[Id] = Field(default_factory=list, max_length=200)


class ContractOut(Stamped):
    client_id: Id
    code: str
    description: str | None
    plan_ids: list[Id] = Field(default_factory=list)


class PlanIn(InModel):
    """A plan. ``code`` is generated (``PL0001``...) when not given."""

    code: Annotated[str, Field(max_length=40)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=120), ONE_LINE]
    kind: PlanKind
    beneficiary_pays_excess_km: bool = False
    count_km_all_trips: bool = False
    cancelled_jobs_count: CancelledJobCount = CancelledJobCount.AFTER_DISPATCH
    active: bool = True


class PlanOut(Stamped):
    client_id: Id
    code: str
    name: str
    kind: PlanKind
    beneficiary_pays_excess_km: bool
    count_km_all_trips: bool
    cancelled_jobs_count: CancelledJobCount
    active: bool


class PlanServiceIn(InModel):
    """A service the plan covers, with its value and limits (empty limit: none)."""

    service_type_id: Id
    covered_value: Money
    uses_per_period: Annotated[int, Field(ge=1, le=1000)] | None = None
    period: LimitPeriod = LimitPeriod.YEAR
    km_per_use: Annotated[int, Field(ge=0, le=10000)] | None = None
    max_value: Money | None = None


class PlanServiceOut(Stamped):
    plan_id: Id
    service_type_id: Id
    covered_value: Decimal
    uses_per_period: int | None
    period: LimitPeriod
    km_per_use: int | None
    max_value: Decimal | None


class PartnerSiteIn(AddressIn):
    name: Annotated[str, Field(min_length=1, max_length=120), ONE_LINE]
    kind: ShortText = "oficina"
    location: LatLng | None = None


class PartnerSiteOut(Stamped, AddressColumnsOut):
    client_id: Id
    name: str
    kind: str
    location: LatLngOut = None


def contract_out(contract: Any, plan_ids: list[int]) -> ContractOut:
    """A contract with the ids of its plans (kept in a link table)."""
    out = ContractOut.model_validate(contract)
    out.plan_ids = plan_ids
    return out
