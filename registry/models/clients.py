"""Clients (Cliente): the companies that buy assistance, their contacts, contracts
and partner sites."""

from __future__ import annotations

from datetime import date
from typing import Any

from geoalchemy2 import WKBElement
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import BankAccountType, ContactKind
from registry.models.beneficiaries import CNPJ_FORMAT
from registry.models.columns import Address, IdPk, geography_point, str_enum


class Client(IdPk, Address, Timestamped, Base):
    """Cliente: an insurer, association or company that buys assistance plans.

    ``cnpj`` is stored as its 14 characters: digits, or upper-case letters in the
    first 12 of an alphanumeric CNPJ. ``vip`` marks a priority client for the
    operators. ``sla_*_minutes`` override the assistance's default targets for
    dispatching a job and for the provider's arrival; ``ranking_weights`` overrides
    the candidate ranking weights (keys are the ranking's factor names).
    """

    __tablename__ = "clients"
    __table_args__ = (
        CheckConstraint(f"cnpj ~ '^{CNPJ_FORMAT}$'", name="cnpj_format"),
        CheckConstraint("sla_dispatch_minutes > 0", name="sla_dispatch_positive"),
        CheckConstraint("sla_arrival_minutes > 0", name="sla_arrival_positive"),
    )

    cnpj: Mapped[str] = mapped_column(String(14), unique=True)
    state_registration: Mapped[str | None] = mapped_column(String(20))
    contract_date: Mapped[date | None] = mapped_column(Date)
    trade_name: Mapped[str] = mapped_column(String(120))
    legal_name: Mapped[str] = mapped_column(String(160))
    vip: Mapped[bool] = mapped_column(Boolean, server_default=false())
    operator_script: Mapped[str | None] = mapped_column(Text)
    sla_dispatch_minutes: Mapped[int | None] = mapped_column(Integer)
    sla_arrival_minutes: Mapped[int | None] = mapped_column(Integer)
    ranking_weights: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class ClientContact(IdPk, Timestamped, Base):
    """One of a client's contacts: a phone, e-mail, Skype or WhatsApp, with a label."""

    __tablename__ = "client_contacts"
    __table_args__ = (UniqueConstraint("client_id", "kind", "value"),)

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind, "kind"))
    value: Mapped[str] = mapped_column(String(160))
    label: Mapped[str | None] = mapped_column(String(80))


class Contract(IdPk, Timestamped, Base):
    """Contrato: a client's contract, identified by a code unique within the client.

    The plans it covers are linked through :class:`registry.models.plans.ContractPlan`.
    """

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("client_id", "code"),)

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)


class PartnerSite(IdPk, Address, Timestamped, Base):
    """Estabelecimento parceiro: a client's named address (oficina, base...).

    ``kind`` is the client's own naming, free text. Jobs use partner sites as
    destinations (tow the car to the client's partner workshop).
    """

    __tablename__ = "partner_sites"
    __table_args__ = (
        UniqueConstraint("client_id", "name"),
        Index("ix_partner_sites_location", "location", postgresql_using="gist"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    location: Mapped[WKBElement | None] = mapped_column(geography_point())


class ClientBankAccount(IdPk, Timestamped, Base):
    """Conta: one of a client's bank accounts (bank by its COMPE code)."""

    __tablename__ = "client_bank_accounts"
    __table_args__ = (
        UniqueConstraint("client_id", "bank_code", "branch", "account"),
        CheckConstraint("bank_code ~ '^[0-9]{3}$'", name="bank_code_digits"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    bank_code: Mapped[str] = mapped_column(String(3))
    branch: Mapped[str] = mapped_column(String(10))
    account: Mapped[str] = mapped_column(String(20))
    account_type: Mapped[BankAccountType] = mapped_column(
        str_enum(BankAccountType, "account_type"), server_default=BankAccountType.CHECKING.value
    )
    holder_name: Mapped[str | None] = mapped_column(String(160))
    pix_key: Mapped[str | None] = mapped_column(String(120))


class ClientResponsible(IdPk, Timestamped, Base):
    """Responsável: a person in charge at the client (manager, contact person)."""

    __tablename__ = "client_responsibles"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    position: Mapped[str | None] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(16))
