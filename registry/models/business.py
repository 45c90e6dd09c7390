"""The smaller registries of the Negócio module: representatives, suppliers, extra
items and ledger categories."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Numeric, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import LedgerKind, PersonKind
from registry.models.beneficiaries import CNPJ_FORMAT, DOCUMENT_MATCHES_KIND, E164
from registry.models.columns import Address, IdPk, str_enum


class Representative(IdPk, Timestamped, Base):
    """Representante: the broker or seller who closed a beneficiary's contract."""

    __tablename__ = "representatives"
    __table_args__ = (
        CheckConstraint(f"document ~ '^([0-9]{{11}}|{CNPJ_FORMAT})$'", name="document_format"),
        CheckConstraint(f"phone ~ '{E164}'", name="phone_e164"),
        CheckConstraint(f"whatsapp ~ '{E164}'", name="whatsapp_e164"),
    )

    name: Mapped[str] = mapped_column(String(160))
    document: Mapped[str | None] = mapped_column(String(14), unique=True)
    email: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(16))
    whatsapp: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Supplier(IdPk, Address, Timestamped, Base):
    """Fornecedor: a company or person the assistance buys from (payables)."""

    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint(DOCUMENT_MATCHES_KIND, name="document_matches_kind"),
        CheckConstraint(f"phone ~ '{E164}'", name="phone_e164"),
    )

    person_kind: Mapped[PersonKind] = mapped_column(str_enum(PersonKind, "person_kind"))
    document: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    trade_name: Mapped[str | None] = mapped_column(String(160))
    email: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class ExtraItem(IdPk, Timestamped, Base):
    """Item extra: a chargeable item beyond the contract (patins, hora parada...)."""

    __tablename__ = "extra_items"
    __table_args__ = (CheckConstraint("price >= 0", name="price_non_negative"),)

    name: Mapped[str] = mapped_column(String(120), unique=True)
    unit: Mapped[str] = mapped_column(String(20))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class LedgerCategory(IdPk, Timestamped, Base):
    """Categoria para lançamento: a category of expense or revenue entries."""

    __tablename__ = "ledger_categories"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[LedgerKind] = mapped_column(str_enum(LedgerKind, "kind"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
