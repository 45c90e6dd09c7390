"""Usage counting (pure): which earlier jobs use up a plan service in its current
period, and the report of every plan's usage that the operator sees.

Which earlier jobs count against a plan service (:func:`counts_against`): same plan
id, same service type, not ad hoc, the same vehicle when the plan is held by a
vehicle, opened inside the current period, and either not cancelled or cancelled
and counted by the plan's :class:`~registry.enums.CancelledJobCount` policy. A job
in any other status (scheduled, open, dispatching, attempts exceeded, with a
provider, completed, closed) holds its use until it is cancelled.

:func:`usage_report` shows every plan that applies (usage of those in force, the
standing of the others); :func:`~operations.coverage.decision.decide` weighs the
same :class:`ServiceUsage` to pick the covering plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from operations.coverage.common import SAO_PAULO, _require_aware, format_brl
from operations.coverage.periods import Period, period_of
from operations.coverage.plans import Standing, _specificity, applies, standing
from operations.coverage.terms import HeldPlan, PastJob, ServiceTerms
from operations.lifecycle import JobStatus
from registry.enums import CancelledJobCount


def job_counts(job: PastJob, policy: CancelledJobCount) -> bool:
    """Whether ``job`` uses up a covered service, whatever the plan or period.

    Ad-hoc jobs never count; cancelled jobs count as ``policy`` says; a job in any
    other status counts.
    """
    if job.ad_hoc or job.plan_id is None:
        return False
    if job.status is not JobStatus.CANCELLED:
        return True
    if policy is CancelledJobCount.ALWAYS:
        return True
    return policy is CancelledJobCount.AFTER_DISPATCH and job.provider_assigned


def counts_against(job: PastJob, plan: HeldPlan, service_type_id: int, period: Period) -> bool:
    """Whether ``job`` uses up one of ``plan``'s ``service_type_id`` in ``period``."""
    if job.plan_id != plan.plan_id or job.service_type_id != service_type_id:
        return False
    if plan.vehicle_id is not None and job.vehicle_id != plan.vehicle_id:
        return False
    return job_counts(job, plan.options.cancelled_jobs_count) and period.contains(job.opened_at)


@dataclass(frozen=True, slots=True)
class ServiceUsage:
    """One covered service of a plan in force: its terms and use in the current
    period.

    ``used`` may exceed the limit (a limit lowered after use, jobs forced by a
    supervisor); ``remaining`` is then 0. ``counted_job_ids`` lists the counted
    jobs that have an id.
    """

    plan_id: int
    terms: ServiceTerms
    period: Period
    used: int
    counted_job_ids: tuple[int, ...] = ()

    @property
    def service_type_id(self) -> int:
        return self.terms.service_type_id

    @property
    def limit(self) -> int | None:
        """Uses allowed in the period; None is unlimited."""
        return self.terms.uses_per_period

    @property
    def remaining(self) -> int | None:
        """Uses left in the period (never negative); None is unlimited."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        """No use left in the period."""
        return self.remaining == 0

    @property
    def summary(self) -> str:
        """The operator's line: "Reboque leve: 2 de 3 usados em 2026, 100 km por uso"."""
        terms, label = self.terms, self.period.label
        if self.limit is None:
            noun = "uso" if self.used == 1 else "usos"
            text = f"{terms.service_name}: ilimitado ({self.used} {noun} {label})"
        else:
            text = f"{terms.service_name}: {self.used} de {self.limit} usados {label}"
        if terms.km_per_use is not None:
            text += f", {terms.km_per_use} km por uso"
        if terms.max_value is not None:
            text += f", teto de {format_brl(terms.max_value)} no período"
        return text


@dataclass(frozen=True, slots=True)
class PlanUsage:
    """A plan in force with the usage of each of its services."""

    plan: HeldPlan
    services: tuple[ServiceUsage, ...]


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Every plan that applies at ``at``: usage of those in force, the standing of
    the others."""

    at: datetime
    in_force: tuple[PlanUsage, ...]
    not_in_force: tuple[tuple[HeldPlan, Standing], ...]

    def usage(self, plan_id: int, service_type_id: int) -> ServiceUsage | None:
        """The usage of a service of a plan in force, or None."""
        for plan_usage in self.in_force:
            if plan_usage.plan.plan_id == plan_id:
                return next(
                    (u for u in plan_usage.services if u.service_type_id == service_type_id),
                    None,
                )
        return None


def service_usage(
    plan: HeldPlan,
    terms: ServiceTerms,
    jobs: Iterable[PastJob],
    now: datetime,
    tz: tzinfo = SAO_PAULO,
) -> ServiceUsage:
    """How much of ``plan``'s ``terms`` the ``jobs`` use in the period containing
    ``now``."""
    period = period_of(terms.period, now, plan, tz)
    counted = [j for j in jobs if counts_against(j, plan, terms.service_type_id, period)]
    ids = tuple(j.job_id for j in counted if j.job_id is not None)
    return ServiceUsage(plan.plan_id, terms, period, len(counted), ids)


def usage_report(
    plans: Iterable[HeldPlan],
    jobs: Sequence[PastJob],
    now: datetime,
    *,
    vehicle_id: int | None = None,
    tz: tzinfo = SAO_PAULO,
) -> CoverageReport:
    """The usage of every service of every plan that applies, at ``now``.

    Plans held by another vehicle than ``vehicle_id`` are left out. Plans come out
    in the order of :func:`decide`'s rule 3 (the vehicle's first, then by id).
    """
    _require_aware(now, "now")
    in_force: list[PlanUsage] = []
    others: list[tuple[HeldPlan, Standing]] = []
    for plan in sorted((p for p in plans if applies(p, vehicle_id)), key=_specificity):
        plan_standing = standing(plan, now, tz)
        if plan_standing is Standing.IN_FORCE:
            services = tuple(service_usage(plan, t, jobs, now, tz) for t in plan.services)
            in_force.append(PlanUsage(plan, services))
        else:
            others.append((plan, plan_standing))
    return CoverageReport(now, tuple(in_force), tuple(others))
