"""The inputs of the coverage rules (pure): the plans a beneficiary holds, the
services each covers with their limits, and the earlier jobs that may have used
them.

Callers (:mod:`operations.usage` reads them from PostgreSQL) load these frozen
dataclasses and hand them to :mod:`~operations.coverage.counting` and
:mod:`~operations.coverage.decision`; each checks on construction what would make
the rules meaningless (a non-positive limit, a term ending before it starts, a
service listed twice, a naive date), so the rules never meet such data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from operations.coverage.common import _require_aware
from operations.errors import InvalidCoverageDataError
from operations.lifecycle import JobStatus
from registry.enums import CancelledJobCount, LimitPeriod, PlanKind


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """A service a plan covers (``PlanService``) with its value and usage limit.

    ``uses_per_period`` None is unlimited; ``km_per_use`` None is not km-based;
    ``max_value`` None is no ceiling.
    """

    service_type_id: int
    service_name: str
    covered_value: Decimal
    uses_per_period: int | None = None
    period: LimitPeriod = LimitPeriod.YEAR
    km_per_use: int | None = None
    max_value: Decimal | None = None

    def __post_init__(self) -> None:
        if self.uses_per_period is not None and self.uses_per_period <= 0:
            raise InvalidCoverageDataError("Limite de usos do serviço deve ser positivo.")
        if self.km_per_use is not None and self.km_per_use < 0:
            raise InvalidCoverageDataError("Km por uso do serviço não pode ser negativo.")


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """A plan's flags that shape usage counting and the km excess."""

    beneficiary_pays_excess_km: bool = False
    count_km_all_trips: bool = False
    cancelled_jobs_count: CancelledJobCount = CancelledJobCount.AFTER_DISPATCH


@dataclass(frozen=True, slots=True)
class HeldPlan:
    """A plan held by the beneficiary (``BeneficiaryPlan``) or by one of their
    vehicles (``Vehicle.plan_*``, then ``vehicle_id`` is set), for a contract term.

    ``ends_on`` is the last day in force (inclusive); None is open-ended.
    """

    plan_id: int
    code: str
    name: str
    kind: PlanKind
    starts_on: date
    ends_on: date | None
    services: tuple[ServiceTerms, ...]
    options: PlanOptions = field(default_factory=PlanOptions)
    vehicle_id: int | None = None

    def __post_init__(self) -> None:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise InvalidCoverageDataError(
                f"Vigência do plano {self.name} termina antes do início."
            )
        ids = [terms.service_type_id for terms in self.services]
        if len(ids) != len(set(ids)):
            raise InvalidCoverageDataError(f"Plano {self.name} lista um serviço duas vezes.")

    def terms_for(self, service_type_id: int) -> ServiceTerms | None:
        """The terms of ``service_type_id`` in this plan, or None if not covered."""
        return next((t for t in self.services if t.service_type_id == service_type_id), None)


@dataclass(frozen=True, slots=True)
class PastJob:
    """An earlier job of the beneficiary, as far as usage counting needs it.

    ``opened_at`` is the job's date and time (``requested_at``); ``plan_id`` is None
    for an ad-hoc job; ``provider_assigned``: a provider had been committed to the
    job before it was cancelled (it travelled).
    """

    service_type_id: int
    plan_id: int | None
    opened_at: datetime
    status: JobStatus
    provider_assigned: bool = False
    ad_hoc: bool = False
    vehicle_id: int | None = None
    job_id: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.opened_at, "opened_at")
