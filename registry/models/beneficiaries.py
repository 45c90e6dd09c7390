"""Beneficiaries (Beneficiário / associado), their plans and their vehicles."""

from __future__ import annotations

from datetime import date

from geoalchemy2 import WKBElement
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import PersonKind, Sex
from registry.models.columns import Address, IdPk, geography_point, str_enum

# Documents are stored without punctuation: a CPF (11 digits) for a pessoa física, a
# CNPJ for a jurídica: 12 digits or upper-case letters (the alphanumeric CNPJ, from
# July 2026), then 2 check digits.
CNPJ_FORMAT = "[0-9A-Z]{12}[0-9]{2}"
DOCUMENT_MATCHES_KIND = (
    "(person_kind = 'pf' AND document ~ '^[0-9]{11}$') "
    f"OR (person_kind = 'pj' AND document ~ '^{CNPJ_FORMAT}$')"
)
E164 = r"^\+[1-9][0-9]{7,14}$"
# The search key of a name (registry.search mirrors it in Python): unaccented, lower
# case, a space before each word: "João da Silva" is " joao da silva". COLLATE "C"
# makes its btree order byte order, so that "starts with" is an index range whatever
# the database's collation. word_prefixes() (migration 0004) lists the first 3 to 8
# characters of each of its words: {joa, joao, sil, silv, silva}.
NAME_SEARCH_SQL = (
    "' ' || btrim(regexp_replace(lower(immutable_unaccent(name)), '[^a-z0-9]+', ' ', 'g'))"
)


class Beneficiary(IdPk, Address, Timestamped, Base):
    """Beneficiário: a person or company entitled to a client's assistance.

    ``document`` (CPF or CNPJ, without punctuation) is unique within the client: the same
    person may be a beneficiary of two clients. ``phone`` and ``whatsapp`` are E.164.
    Operators find beneficiaries by name (accent- and case-insensitive trigram
    index), by document or by a vehicle's plate.
    """

    __tablename__ = "beneficiaries"
    __table_args__ = (
        UniqueConstraint("client_id", "document"),
        CheckConstraint(DOCUMENT_MATCHES_KIND, name="document_matches_kind"),
        CheckConstraint(f"phone ~ '{E164}'", name="phone_e164"),
        CheckConstraint(f"whatsapp ~ '{E164}'", name="whatsapp_e164"),
        CheckConstraint(f"phone_secondary ~ '{E164}'", name="phone_secondary_e164"),
        Index("ix_beneficiaries_location", "location", postgresql_using="gist"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    person_kind: Mapped[PersonKind] = mapped_column(str_enum(PersonKind, "person_kind"))
    document: Mapped[str] = mapped_column(String(14), index=True)
    rg: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(160))
    sex: Mapped[Sex | None] = mapped_column(str_enum(Sex, "sex"))
    birth_date: Mapped[date | None] = mapped_column(Date)
    location: Mapped[WKBElement | None] = mapped_column(geography_point())
    email: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(16))
    phone_secondary: Mapped[str | None] = mapped_column(String(16))
    whatsapp: Mapped[str | None] = mapped_column(String(16))
    representative_id: Mapped[int | None] = mapped_column(
        ForeignKey("representatives.id", ondelete="SET NULL"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    name_search: Mapped[str] = mapped_column(
        Text(collation="C"), Computed(NAME_SEARCH_SQL, persisted=True)
    )


# Accent- and case-insensitive name search: WHERE immutable_unaccent(lower(name)) % ...
Index(
    "ix_beneficiaries_name_trgm",
    func.immutable_unaccent(func.lower(Beneficiary.name)).label("name_unaccent"),
    postgresql_using="gin",
    postgresql_ops={"name_unaccent": "gin_trgm_ops"},
)
# registry.search: names starting with ... as ordered, index-only range scans.
Index(
    "ix_beneficiaries_name_search",
    Beneficiary.name_search,
    postgresql_include=["id", "client_id"],
)
# registry.search: names with a word starting with each token, one exact key each.
Index(
    "ix_beneficiaries_name_words",
    func.word_prefixes(Beneficiary.name_search),
    postgresql_using="gin",
)


class BeneficiaryPlan(IdPk, Timestamped, Base):
    """A non-vehicle plan (home, pet, funeral...) held by a beneficiary for a period.

    ``ends_on`` NULL: open-ended. The plan must be of kind ``beneficiary`` (checked
    by the registry services, not by the database).
    """

    __tablename__ = "beneficiary_plans"
    __table_args__ = (
        UniqueConstraint("beneficiary_id", "plan_id", "starts_on"),
        CheckConstraint("ends_on >= starts_on", name="period_ordered"),
    )

    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)


class Vehicle(IdPk, Timestamped, Base):
    """Veículo: a beneficiary's vehicle, with the ``vehicle`` plan that covers it.

    ``plate`` is normalised (upper case, no dash; old ``ABC1234`` or Mercosul
    ``ABC1D23``) and unique: a plate identifies one vehicle in the whole registry.
    """

    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint("plate ~ '^[A-Z]{3}[0-9][A-Z0-9][0-9]{2}$'", name="plate_format"),
        CheckConstraint("vin ~ '^[A-HJ-NPR-Z0-9]{17}$'", name="vin_format"),
        CheckConstraint("year BETWEEN 1900 AND 2100", name="year_range"),
        CheckConstraint("plan_ends_on >= plan_starts_on", name="plan_period_ordered"),
    )

    beneficiary_id: Mapped[int] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    plate: Mapped[str] = mapped_column(String(7), unique=True)
    vin: Mapped[str | None] = mapped_column(String(17))
    make: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(60))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    colour: Mapped[str | None] = mapped_column(String(30))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_starts_on: Mapped[date | None] = mapped_column(Date)
    plan_ends_on: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
