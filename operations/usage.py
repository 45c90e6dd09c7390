"""Reads what :mod:`operations.coverage` needs from PostgreSQL: the plans a
beneficiary (and their vehicles) hold, and their earlier jobs.

Everything is turned into the coverage module's plain values; the rules stay there.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from operations.coverage import SAO_PAULO, HeldPlan, PastJob, PlanOptions, ServiceTerms
from operations.lifecycle import WITH_PROVIDER
from operations.models import Incident, Job, JobTransition
from registry.models import BeneficiaryPlan, Plan, PlanService, ServiceType, Vehicle

MAX_PAST_JOBS = 5000
"""Earlier jobs read per beneficiary (the newest): far above any real history."""

MAX_HELD_PLANS = 200


async def _terms(session: AsyncSession, plan_ids: set[int]) -> dict[int, tuple[ServiceTerms, ...]]:
    rows = await session.execute(
        select(PlanService, ServiceType.name)
        .join(ServiceType, ServiceType.id == PlanService.service_type_id)
        .where(PlanService.plan_id.in_(plan_ids))
        .order_by(PlanService.plan_id, PlanService.id)
    )
    terms: dict[int, list[ServiceTerms]] = defaultdict(list)
    for service, name in rows:
        terms[service.plan_id].append(
            ServiceTerms(
                service_type_id=service.service_type_id,
                service_name=name,
                covered_value=service.covered_value,
                uses_per_period=service.uses_per_period,
                period=service.period,
                km_per_use=service.km_per_use,
                max_value=service.max_value,
            )
        )
    return {plan_id: tuple(items) for plan_id, items in terms.items()}


def _held(
    plan: Plan,
    starts_on: date,
    ends_on: date | None,
    terms: dict[int, tuple[ServiceTerms, ...]],
    vehicle_id: int | None = None,
) -> HeldPlan:
    return HeldPlan(
        plan_id=plan.id,
        code=plan.code,
        name=plan.name,
        kind=plan.kind,
        starts_on=starts_on,
        ends_on=ends_on,
        services=terms.get(plan.id, ()),
        options=PlanOptions(
            beneficiary_pays_excess_km=plan.beneficiary_pays_excess_km,
            count_km_all_trips=plan.count_km_all_trips,
            cancelled_jobs_count=plan.cancelled_jobs_count,
        ),
        vehicle_id=vehicle_id,
    )


async def held_plans(session: AsyncSession, beneficiary_id: int) -> list[HeldPlan]:
    """The active plans of the beneficiary and of each of their vehicles.

    A vehicle plan without a start date counts from the day the vehicle was
    registered.
    """
    own = (
        await session.execute(
            select(BeneficiaryPlan, Plan)
            .join(Plan, Plan.id == BeneficiaryPlan.plan_id)
            .where(BeneficiaryPlan.beneficiary_id == beneficiary_id, Plan.active)
            .limit(MAX_HELD_PLANS)
        )
    ).all()
    vehicles = (
        await session.execute(
            select(Vehicle, Plan)
            .join(Plan, Plan.id == Vehicle.plan_id)
            .where(Vehicle.beneficiary_id == beneficiary_id, Vehicle.active, Plan.active)
            .limit(MAX_HELD_PLANS)
        )
    ).all()
    own_rows, vehicle_rows = list(own), list(vehicles)
    terms = await _terms(session, {p.id for _, p in own_rows} | {p.id for _, p in vehicle_rows})
    held = [_held(plan, bp.starts_on, bp.ends_on, terms) for bp, plan in own_rows]
    held += [
        _held(
            plan,
            v.plan_starts_on or v.created_at.astimezone(SAO_PAULO).date(),
            v.plan_ends_on,
            terms,
            vehicle_id=v.id,
        )
        for v, plan in vehicle_rows
    ]
    return held


async def past_jobs(session: AsyncSession, beneficiary_id: int) -> list[PastJob]:
    """The beneficiary's earlier assistance jobs, newest first (at most
    :data:`MAX_PAST_JOBS`)."""
    had_provider = exists().where(
        JobTransition.job_id == Job.id, JobTransition.to_status.in_(WITH_PROVIDER)
    )
    rows = await session.execute(
        select(
            Job.id,
            Job.service_type_id,
            Job.plan_id,
            Job.requested_at,
            Job.status,
            Job.ad_hoc,
            Incident.vehicle_id,
            had_provider.label("had_provider"),
        )
        .join(Incident, Incident.id == Job.incident_id)
        .where(Incident.beneficiary_id == beneficiary_id, Job.service_type_id.is_not(None))
        .order_by(Job.requested_at.desc())
        .limit(MAX_PAST_JOBS)
    )
    return [_past(row) for row in rows]


def _past(row: Any) -> PastJob:
    return PastJob(
        service_type_id=row.service_type_id,
        plan_id=row.plan_id,
        opened_at=row.requested_at,
        status=row.status,
        provider_assigned=bool(row.had_provider),
        ad_hoc=row.ad_hoc,
        vehicle_id=row.vehicle_id,
        job_id=row.id,
    )


async def plan_service_id(session: AsyncSession, plan_id: int, service_type_id: int) -> int | None:
    return (
        await session.execute(
            select(PlanService.id).where(
                PlanService.plan_id == plan_id, PlanService.service_type_id == service_type_id
            )
        )
    ).scalar_one_or_none()
