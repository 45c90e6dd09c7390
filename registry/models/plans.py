"""Plans (Plano), the services they cover (PlanService) and the contracts that
include them (ContractPlan)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import CancelledJobCount, LimitPeriod, PlanKind
from registry.models.columns import IdPk, str_enum

Money = Numeric(12, 2)


class Plan(IdPk, Timestamped, Base):
    """Plano: a product a client sells, of kind ``beneficiary`` or ``vehicle``.

    ``beneficiary_pays_excess_km``: km beyond the plan's allowance are charged to
    the beneficiary (otherwise to the client). ``count_km_all_trips``: the km of
    every leg of a job count against the allowance, not only the loaded ones.
    ``cancelled_jobs_count``: which cancelled jobs count against usage limits.
    """

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("client_id", "code"),)

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[PlanKind] = mapped_column(str_enum(PlanKind, "kind"))
    beneficiary_pays_excess_km: Mapped[bool] = mapped_column(Boolean, server_default=false())
    count_km_all_trips: Mapped[bool] = mapped_column(Boolean, server_default=false())
    cancelled_jobs_count: Mapped[CancelledJobCount] = mapped_column(
        str_enum(CancelledJobCount, "cancelled_jobs_count"),
        server_default=CancelledJobCount.AFTER_DISPATCH.value,
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class ContractPlan(Timestamped, Base):
    """A plan covered by a contract (both of the same client)."""

    __tablename__ = "contract_plans"

    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True
    )
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PlanService(IdPk, Timestamped, Base):
    """Serviço do plano: a service type a plan covers, with its value and limits.

    * ``covered_value``: what the plan pays for one use.
    * ``uses_per_period`` over ``period``: how many uses; NULL is unlimited.
    * ``km_per_use``: km included per use (tows, taxi); NULL is not km-based.
    * ``max_value``: the most the plan pays for this service over the period;
      NULL is no ceiling.
    """

    __tablename__ = "plan_services"
    __table_args__ = (
        UniqueConstraint("plan_id", "service_type_id"),
        CheckConstraint("covered_value >= 0", name="covered_value_non_negative"),
        CheckConstraint("uses_per_period > 0", name="uses_per_period_positive"),
        CheckConstraint("km_per_use >= 0", name="km_per_use_non_negative"),
        CheckConstraint("max_value >= 0", name="max_value_non_negative"),
    )

    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    service_type_id: Mapped[int] = mapped_column(ForeignKey("service_types.id"), index=True)
    covered_value: Mapped[Decimal] = mapped_column(Money)
    uses_per_period: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[LimitPeriod] = mapped_column(
        str_enum(LimitPeriod, "period"), server_default=LimitPeriod.YEAR.value
    )
    km_per_use: Mapped[int | None] = mapped_column(Integer)
    max_value: Mapped[Decimal | None] = mapped_column(Money)
