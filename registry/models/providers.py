"""Providers (Prestador), their price table (ProviderService) and their client
partnerships."""

from __future__ import annotations

from decimal import Decimal

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import Channel, PersonKind, ProviderStatus
from registry.models.beneficiaries import DOCUMENT_MATCHES_KIND, E164
from registry.models.columns import (
    Address,
    IdPk,
    StrEnumArray,
    array_values_check,
    geography_point,
    str_enum,
)

Money = Numeric(12, 2)
Rate = Numeric(5, 4)


class Provider(IdPk, Address, Timestamped, Base):
    """Prestador: a tow company, locksmith, driver... that executes services.

    * ``base_location``: where the provider is based (geography POINT, GiST
      indexed); ``base_h3``: its H3 cell at resolution 8 as a signed 64-bit id (see
      :mod:`registry.cells`), kept in step by whoever writes ``base_location``.
    * ``working_radius_km``: how far it goes for a job: candidate search leaves it
      out of jobs further than this from where it is (its fresh live position, else
      its base), whatever the search's own radius.
    * ``preference``: the assistance's own preference, 0 (lowest) to 5.
    * ``channels``: how offers may reach it (app, web, link, verbal).
    * ``max_active_jobs``: how many jobs it may be on at once (1: one at a time; a
      company with several trucks more). Accepting a job past it is refused.
    * ``on_time_rate`` / ``acceptance_rate``: 0..1, maintained by operations; NULL
      until there is history.
    * ``cities_served``: city names beyond the radius that it also attends.
    * ``vehicle_plate``: the plate of the vehicle it sends (shown on the requester's
      tracking page).
    """

    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint(DOCUMENT_MATCHES_KIND, name="document_matches_kind"),
        CheckConstraint(f"phone ~ '{E164}'", name="phone_e164"),
        CheckConstraint(f"whatsapp ~ '{E164}'", name="whatsapp_e164"),
        CheckConstraint("working_radius_km > 0", name="working_radius_positive"),
        CheckConstraint("preference BETWEEN 0 AND 5", name="preference_range"),
        CheckConstraint(array_values_check("channels", Channel), name="channels_known"),
        CheckConstraint("max_active_jobs BETWEEN 1 AND 20", name="max_active_jobs_range"),
        CheckConstraint("on_time_rate BETWEEN 0 AND 1", name="on_time_rate_range"),
        CheckConstraint("acceptance_rate BETWEEN 0 AND 1", name="acceptance_rate_range"),
        Index("ix_providers_base_location", "base_location", postgresql_using="gist"),
    )

    person_kind: Mapped[PersonKind] = mapped_column(str_enum(PersonKind, "person_kind"))
    document: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    trade_name: Mapped[str | None] = mapped_column(String(160))
    phone: Mapped[str | None] = mapped_column(String(16))
    whatsapp: Mapped[str | None] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(160))
    base_location: Mapped[WKBElement] = mapped_column(geography_point())
    base_h3: Mapped[int] = mapped_column(BigInteger, index=True)
    working_radius_km: Mapped[int] = mapped_column(Integer, server_default=text("30"))
    preference: Mapped[int] = mapped_column(SmallInteger, server_default=text("3"))
    status: Mapped[ProviderStatus] = mapped_column(
        str_enum(ProviderStatus, "status"), server_default=ProviderStatus.ACTIVE.value
    )
    channels: Mapped[list[Channel]] = mapped_column(
        StrEnumArray(Channel), server_default=text("'{app}'")
    )
    max_active_jobs: Mapped[int] = mapped_column(SmallInteger, server_default=text("1"))
    on_time_rate: Mapped[Decimal | None] = mapped_column(Rate)
    acceptance_rate: Mapped[Decimal | None] = mapped_column(Rate)
    cities_served: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    vehicle_plate: Mapped[str | None] = mapped_column(String(7))


class ProviderService(IdPk, Timestamped, Base):
    """Tabela padrão: a provider's standard prices for one service type.

    A job's payable is ``departure_fee`` + ``price_per_km`` for each km beyond
    ``included_km`` + ``hourly_rate`` per hour waited or worked, raised by
    ``night_holiday_surcharge_pct`` percent at night and on holidays.
    """

    __tablename__ = "provider_services"
    __table_args__ = (
        UniqueConstraint("provider_id", "service_type_id"),
        CheckConstraint("departure_fee >= 0", name="departure_fee_non_negative"),
        CheckConstraint("included_km >= 0", name="included_km_non_negative"),
        CheckConstraint("price_per_km >= 0", name="price_per_km_non_negative"),
        CheckConstraint("hourly_rate >= 0", name="hourly_rate_non_negative"),
        CheckConstraint(
            "night_holiday_surcharge_pct BETWEEN 0 AND 100", name="surcharge_pct_range"
        ),
    )

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_types.id"), index=True)
    departure_fee: Mapped[Decimal] = mapped_column(Money)
    included_km: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    price_per_km: Mapped[Decimal] = mapped_column(Money)
    hourly_rate: Mapped[Decimal | None] = mapped_column(Money)
    night_holiday_surcharge_pct: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), server_default=text("0")
    )


class ProviderPartnership(Timestamped, Base):
    """Parceiro do cliente: the provider is the client's partner (ranks higher)."""

    __tablename__ = "provider_partnerships"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[int] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True, index=True
    )
