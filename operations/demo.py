"""Demo incidents and jobs for ``make run``: a live-looking operations centre.

Built with the same functions the API uses (so the demo obeys every rule: coverage,
places, SLA, timeline). Idempotent: nothing is added when incidents already exist.
Jobs are opened "now", in a spread of statuses: some waiting for a provider, some
on their way, one on site, one scheduled for tomorrow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from geoalchemy2 import WKBElement
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.addresses import AddressSource as PlaceSource
from operations.errors import CoverageRefusedError
from operations.incidents import IncidentDraft, open_incident
from operations.jobs import JobDraft, JobRules, move_job, register_job
from operations.lifecycle import Channel, JobKind, JobStatus
from operations.models import Incident
from operations.places import Place
from registry.models import (
    Beneficiary,
    IncidentType,
    PartnerSite,
    Provider,
    ServiceType,
    Vehicle,
)
from registry.points import point_from_wkb

DEMO_INCIDENTS = 8
S = JobStatus
# The status each demo job is left in, in order; the path to get there follows.
SCRIPT: tuple[tuple[JobStatus, ...], ...] = (
    (),
    (S.DISPATCHING,),
    (),
    (S.DISPATCHING, S.ASSIGNED),
    (S.DISPATCHING, S.ASSIGNED, S.EN_ROUTE),
    (S.ASSIGNED, S.EN_ROUTE, S.ON_SITE),
    (S.DISPATCHING, S.ATTEMPTS_EXCEEDED),
    (),
)
OFFSET_DEG = 0.004  # the breakdown is a few hundred metres from home


@dataclass(frozen=True, slots=True)
class DemoOperationsSummary:
    incidents: int
    jobs: int


def _point(location: WKBElement | None) -> tuple[float, float] | None:
    if location is None:
        return None
    point = point_from_wkb(location.data)
    return point.lat, point.lng


async def _tow_and_reason(session: AsyncSession) -> tuple[int | None, int | None]:
    tow = await session.scalar(select(ServiceType.id).where(ServiceType.code == "reboque_leve"))
    reason = await session.scalar(select(IncidentType.id).where(IncidentType.name == "Pane seca"))
    return tow, reason


async def seed_operations_demo(session: AsyncSession, now: datetime) -> DemoOperationsSummary:
    """Open :data:`DEMO_INCIDENTS` incidents with a tow each, unless any exist."""
    existing = (await session.execute(select(func.count()).select_from(Incident))).scalar_one()
    if existing:
        return DemoOperationsSummary(0, 0)
    tow, reason = await _tow_and_reason(session)
    if tow is None or reason is None:
        return DemoOperationsSummary(0, 0)
    rows = (
        await session.execute(
            select(Vehicle, Beneficiary)
            .join(Beneficiary, Beneficiary.id == Vehicle.beneficiary_id)
            .where(Vehicle.plan_id.is_not(None), Beneficiary.location.is_not(None))
            .order_by(Vehicle.id)
            .limit(DEMO_INCIDENTS)
        )
    ).all()
    providers = list(
        (await session.execute(select(Provider.id).order_by(Provider.id).limit(20))).scalars()
    )
    jobs = 0
    for index, (vehicle, person) in enumerate(rows):
        jobs += await _demo_job(session, index, vehicle, person, tow, reason, providers, now)
    return DemoOperationsSummary(len(rows), jobs)


async def _destination(session: AsyncSession, client_id: int) -> Place | None:
    site = (
        await session.execute(
            select(PartnerSite)
            .where(PartnerSite.client_id == client_id, PartnerSite.location.is_not(None))
            .order_by(PartnerSite.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    point = _point(site.location) if site else None
    if site is None or point is None:
        return None
    return Place(
        point[0],
        point[1],
        PlaceSource.PARTNER_SITE,
        site.street,
        site.number,
        None,
        site.neighbourhood,
        site.city,
        site.state,
        site.cep,
        site.name,
    )


async def _demo_job(
    session: AsyncSession,
    index: int,
    vehicle: Vehicle,
    person: Beneficiary,
    tow: int,
    reason: int,
    providers: list[int],
    now: datetime,
) -> int:
    """Open one incident with one tow; the number of jobs opened (0 or 1)."""
    home = _point(person.location)
    destination = await _destination(session, person.client_id)
    if home is None or destination is None:
        return 0
    opened = now - timedelta(minutes=5 + 7 * index)
    incident = await open_incident(
        session,
        IncidentDraft(
            client_id=person.client_id,
            incident_type_id=reason,
            beneficiary_id=person.id,
            vehicle_id=vehicle.id,
            opened_at=opened,
            notes="Demonstração",
        ),
        actor_user_id=None,
        now=opened + timedelta(minutes=2),
    )
    origin = Place(
        home[0] + OFFSET_DEG,
        home[1] - OFFSET_DEG,
        PlaceSource.MANUAL,
        person.street,
        None,
        None,
        person.neighbourhood,
        person.city,
        person.state,
        None,
        "Perto de casa",
    )
    scheduled = now + timedelta(days=1) if index == len(SCRIPT) - 1 else None
    draft = JobDraft(
        kind=JobKind.ASSISTANCE,
        requester_name=person.name,
        requester_phone=person.phone or "+5511999990000",
        service_type_id=tow,
        notes_for_provider="Veículo não liga; beneficiário aguarda no local.",
        scheduled_for=scheduled,
        origin=origin,
        destination=destination,
    )
    saved_at = opened + timedelta(minutes=4)
    try:
        change = await register_job(
            session, incident.id, draft, actor_user_id=None, now=saved_at, rules=JobRules()
        )
    except CoverageRefusedError:  # the demo plan's limit: open it as avulso
        change = await register_job(
            session,
            incident.id,
            replace(draft, ad_hoc=True),
            actor_user_id=None,
            now=saved_at,
            rules=JobRules(),
        )
    await _advance(session, change.job.id, SCRIPT[index % len(SCRIPT)], providers, index, now)
    return 1


async def _advance(
    session: AsyncSession,
    job_id: int,
    path: tuple[JobStatus, ...],
    providers: list[int],
    index: int,
    now: datetime,
) -> None:
    for step, status in enumerate(path):
        await move_job(
            session,
            job_id,
            status,
            now=now - timedelta(minutes=len(path) - step),
            channel=Channel.SYSTEM if status is S.ATTEMPTS_EXCEEDED else Channel.OPERATOR,
            provider_id=providers[index % len(providers)] if providers else None,
        )
