"""Demo incidents and jobs for ``make run``: a live-looking operations centre.

Built with the same functions the API uses (so the demo obeys every rule: coverage,
places, SLA, timeline). Idempotent: nothing is added when incidents already exist.
Jobs are opened "now", in a spread of statuses: some waiting for a provider, some
on their way, one on site, one scheduled for tomorrow.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.addresses import Address, AddressSource
from operations import service
from operations.errors import CoverageRefusedError
from operations.gateways import ManualClock
from operations.incidents import IncidentDraft
from operations.jobs import JobDraft
from operations.lifecycle import JobActor, JobKind, JobStatus
from operations.models import Incident
from operations.offering import reachable_channels
from operations.places import PlaceRequest
from operations.service import AfterCommit, Operations, Policy, UnitOfWork
from registry.enums import Channel, ProviderStatus
from registry.models import (
    Beneficiary,
    IncidentType,
    PartnerSite,
    Provider,
    ProviderService,
    ServiceType,
    Vehicle,
)
from registry.points import Point, point_from_wkb

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
OPERATOR = JobActor.operator(None)


@dataclass(frozen=True, slots=True)
class DemoOperationsSummary:
    incidents: int
    jobs: int


class _Demo:
    """Units of work in the seeding transaction, each at the moment the demo says
    it happened (a manual clock)."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self.clock = ManualClock(now)
        self.operations = Operations(
            async_sessionmaker(session.bind), clock=self.clock, policy=Policy()
        )
        self.hooks: list[AfterCommit] = []  # none: no relay to kick, no busy flags

    def at(self, when: datetime) -> UnitOfWork:
        self.clock.set(when)
        return self.operations.joined(self.session, self.hooks)


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
    providers = await _tow_providers(session, tow)
    demo = _Demo(session, now)
    jobs = 0
    for index, (vehicle, person) in enumerate(rows):
        jobs += await _demo_job(demo, index, vehicle, person, tow, reason, providers)
    return DemoOperationsSummary(len(rows), jobs)


DEMO_PROVIDERS = 20
"""Providers the demo jobs are given to, in turn."""


async def _tow_providers(session: AsyncSession, tow: int) -> list[int]:
    """Providers an operator may give a tow to by phone, as the rules say
    (:func:`operations.service.check_assignable`): active, tows in their price
    table, reachable by ``verbal``."""
    found = await session.execute(
        select(Provider)
        .join(
            ProviderService,
            (ProviderService.provider_id == Provider.id) & (ProviderService.service_type_id == tow),
        )
        .where(Provider.status == ProviderStatus.ACTIVE)
        .order_by(Provider.id)
    )
    by_phone = (p.id for p in found.scalars() if Channel.VERBAL in reachable_channels(p, ()))
    return list(itertools.islice(by_phone, DEMO_PROVIDERS))


async def _partner_site(session: AsyncSession, client_id: int) -> int | None:
    return await session.scalar(
        select(PartnerSite.id)
        .where(PartnerSite.client_id == client_id, PartnerSite.location.is_not(None))
        .order_by(PartnerSite.id)
        .limit(1)
    )


def _near_home(person: Beneficiary) -> PlaceRequest | None:
    if person.location is None:
        return None
    home = point_from_wkb(person.location.data)
    given = Address(
        AddressSource.MANUAL,
        street=person.street,
        neighbourhood=person.neighbourhood,
        city=person.city,
        state=person.state,
        reference="Perto de casa",
        point=Point(home.lat + OFFSET_DEG, home.lng - OFFSET_DEG),
    )
    return PlaceRequest(given)


async def _demo_job(
    demo: _Demo,
    index: int,
    vehicle: Vehicle,
    person: Beneficiary,
    tow: int,
    reason: int,
    providers: list[int],
) -> int:
    """Open one incident with one tow; the number of jobs opened (0 or 1)."""
    origin = _near_home(person)
    site = await _partner_site(demo.session, person.client_id)
    if origin is None or site is None:
        return 0
    opened = demo.now - timedelta(minutes=5 + 7 * index)
    incident = await service.open_incident(
        demo.at(opened + timedelta(minutes=2)),
        IncidentDraft(
            client_id=person.client_id,
            incident_type_id=reason,
            beneficiary_id=person.id,
            vehicle_id=vehicle.id,
            opened_at=opened,
            notes="Demonstração",
        ),
        OPERATOR,
    )
    scheduled = demo.now + timedelta(days=1) if index == len(SCRIPT) - 1 else None
    draft = JobDraft(
        kind=JobKind.ASSISTANCE,
        requester_name=person.name,
        requester_phone=person.phone or "+5511999990000",
        service_type_id=tow,
        notes_for_provider="Veículo não liga; beneficiário aguarda no local.",
        scheduled_for=scheduled,
    )
    destination = PlaceRequest(Address(AddressSource.PARTNER_SITE), partner_site_id=site)
    saved_at = opened + timedelta(minutes=4)
    places = {"origin": origin, "destination": destination}
    try:
        job = await service.register_job(demo.at(saved_at), incident.id, draft, OPERATOR, **places)
    except CoverageRefusedError:  # the demo plan's limit: open it as avulso
        ad_hoc = replace(draft, ad_hoc=True)
        job = await service.register_job(demo.at(saved_at), incident.id, ad_hoc, OPERATOR, **places)
    await _advance(demo, job.id, SCRIPT[index % len(SCRIPT)], providers, index)
    return 1


async def _advance(
    demo: _Demo,
    job_id: int,
    path: tuple[JobStatus, ...],
    providers: list[int],
    index: int,
) -> None:
    for step, status in enumerate(path):
        actor = JobActor.system() if status is S.ATTEMPTS_EXCEEDED else OPERATOR
        provider_id = None
        if status is S.ASSIGNED:  # only assigning names a provider
            if not providers:
                return
            provider_id = providers[index % len(providers)]
        await service.move_job(
            demo.at(demo.now - timedelta(minutes=len(path) - step)),
            job_id,
            status,
            actor,
            provider_id=provider_id,
        )
