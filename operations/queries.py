"""Reading incidents and jobs: lists, one job, its timeline, a beneficiary's
coverage and occurrences, and what the incident screen shows while on a call.

Nothing here writes; the views are :mod:`operations.views`. Writes are the
application layer's (:mod:`operations.service`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from operations import incidents, jobs
from operations.coverage import CoverageReport
from operations.errors import NotFoundError
from operations.lifecycle import JobKind, JobStatus
from operations.models import Incident, Job, JobTransition, TrackPoint
from operations.views import IncidentView, JobView, incident_view, job_view
from registry.models import Beneficiary, Client, Vehicle

HISTORY_ON_CALL = 10
"""Earlier incidents the incident screen shows while on a call."""


@dataclass(frozen=True, slots=True)
class IncidentWithJobs:
    incident: IncidentView
    jobs: list[JobView]


async def job_views(session: AsyncSession, rows: Sequence[Job]) -> list[JobView]:
    """Views of jobs with their places (one query for the places of all)."""
    places = await jobs.places_of(session, [j.id for j in rows])
    return [job_view(j, places.get(j.id, [])) for j in rows]


async def with_jobs(session: AsyncSession, rows: Sequence[Incident]) -> list[IncidentWithJobs]:
    """Incidents with their jobs, in their order: two queries whatever their number."""
    views = await job_views(session, await incidents.jobs_of(session, [i.id for i in rows]))
    by_incident: dict[int, list[JobView]] = {}
    for view in views:
        by_incident.setdefault(view.incident_id, []).append(view)
    return [IncidentWithJobs(incident_view(i), by_incident.get(i.id, [])) for i in rows]


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and how many items the whole list holds."""

    items: list[T]
    total: int


async def _page(session: AsyncSession, stmt: Select[Any], limit: int, offset: int) -> Page[Any]:
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = (await session.execute(stmt.limit(limit).offset(offset))).scalars().all()
    return Page(list(rows), int(total or 0))


async def list_incidents(
    session: AsyncSession,
    *,
    client_id: int | None,
    beneficiary_id: int | None,
    limit: int,
    offset: int,
) -> Page[IncidentWithJobs]:
    """Incidents, newest first, with their jobs."""
    stmt = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc())
    if client_id is not None:
        stmt = stmt.where(Incident.client_id == client_id)
    if beneficiary_id is not None:
        stmt = stmt.where(Incident.beneficiary_id == beneficiary_id)
    page = await _page(session, stmt, limit, offset)
    return Page(await with_jobs(session, page.items), page.total)


async def incident(session: AsyncSession, incident_id: int) -> IncidentWithJobs:
    """One incident with its jobs; raises NotFoundError."""
    return (await with_jobs(session, [await incidents.get_incident(session, incident_id)]))[0]


async def list_jobs(
    session: AsyncSession,
    *,
    statuses: Sequence[JobStatus],
    incident_id: int | None,
    provider_id: int | None,
    limit: int,
    offset: int,
    client_id: int | None = None,
    oldest_first: bool = False,
    kind: JobKind | None = None,
) -> Page[JobView]:
    """Jobs, newest first (or oldest: the longest waiting), filtered by status (any
    of), kind, incident, provider or client."""
    stmt = select(Job).order_by(Job.id if oldest_first else Job.id.desc())
    if kind is not None:
        stmt = stmt.where(Job.kind == kind)
    if client_id is not None:
        stmt = stmt.where(Job.client_id == client_id)
    if statuses:
        stmt = stmt.where(Job.status.in_(statuses))
    if incident_id is not None:
        stmt = stmt.where(Job.incident_id == incident_id)
    if provider_id is not None:
        stmt = stmt.where(Job.provider_id == provider_id)
    page = await _page(session, stmt, limit, offset)
    return Page(await job_views(session, page.items), page.total)


async def job(session: AsyncSession, job_id: int) -> JobView:
    """One job; raises NotFoundError."""
    row = await session.get(Job, job_id)
    if row is None:
        raise NotFoundError("Atendimento")
    return (await job_views(session, [row]))[0]


async def timeline(session: AsyncSession, job_id: int) -> Sequence[JobTransition]:
    """A job's timeline, oldest first; raises NotFoundError."""
    if await session.get(Job, job_id) is None:
        raise NotFoundError("Atendimento")
    return await jobs.timeline(session, job_id)


@dataclass(frozen=True, slots=True)
class TrackFix:
    """One fix of the track of a job's provider."""

    at: datetime
    lat: float
    lng: float
    provider_id: int


async def track(session: AsyncSession, job_id: int, limit: int) -> list[TrackFix]:
    """The last ``limit`` fixes of the job's track (its providers while on it),
    oldest first; raises NotFoundError."""
    if await session.get(Job, job_id) is None:
        raise NotFoundError("Atendimento")
    point = func.geometry(TrackPoint.location)
    rows = await session.execute(
        select(TrackPoint.at, func.ST_Y(point), func.ST_X(point), TrackPoint.provider_id)
        .where(TrackPoint.job_id == job_id)
        .order_by(TrackPoint.at.desc())
        .limit(limit)
    )
    return [TrackFix(at, lat, lng, pid) for at, lat, lng, pid in reversed(rows.all())]


async def coverage(
    session: AsyncSession, beneficiary_id: int, vehicle_id: int | None, at: datetime
) -> CoverageReport:
    """The beneficiary's plans with each service's usage at ``at``; raises
    NotFoundError."""
    if await session.get(Beneficiary, beneficiary_id) is None:
        raise NotFoundError("Beneficiário")
    return await incidents.coverage_report(session, beneficiary_id, vehicle_id, at)


async def occurrences(
    session: AsyncSession, beneficiary_id: int, *, client_id: int | None = None
) -> list[IncidentWithJobs]:
    """The beneficiary's incidents with their jobs (Ocorrências), newest first.

    Args:
        client_id: only if the beneficiary is this client's (a client-portal user).

    Raises:
        NotFoundError: no such beneficiary (for that client).
    """
    who = await session.get(Beneficiary, beneficiary_id)
    if who is None or (client_id is not None and who.client_id != client_id):
        raise NotFoundError("Beneficiário")
    return await with_jobs(session, await incidents.history(session, who.id))


BENEFICIARY_FIELDS = (
    *("id", "name", "document", "person_kind", "phone", "whatsapp", "email"),
    *("street", "number", "neighbourhood", "city", "state", "cep", "active"),
)
VEHICLE_FIELDS = ("id", "plate", "make", "model", "year", "colour", "vin", "plan_id", "active")


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the incident screen shows while on a call."""

    client: Client | None
    beneficiary: dict[str, Any] | None
    vehicle: dict[str, Any] | None
    coverage: CoverageReport | None
    history: list[IncidentWithJobs]
    incidents_total: int


def _public(row: Any, fields: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


async def prefill(
    session: AsyncSession,
    *,
    beneficiary_id: int | None,
    vehicle_id: int | None,
    client_id: int | None,
    now: datetime,
) -> Prefill:
    """The client's script, the beneficiary and vehicle, their plans with usage and
    the latest incidents, for a beneficiary or vehicle found by the search.

    Raises:
        NotFoundError: the beneficiary or vehicle does not exist.
    """
    vehicle = await session.get(Vehicle, vehicle_id) if vehicle_id else None
    beneficiary_id = beneficiary_id or (vehicle.beneficiary_id if vehicle else None)
    who = await session.get(Beneficiary, beneficiary_id) if beneficiary_id else None
    if (vehicle_id and vehicle is None) or (beneficiary_id and who is None):
        raise NotFoundError("Beneficiário ou veículo")
    client_id = who.client_id if who else client_id
    client = await session.get(Client, client_id) if client_id else None
    if who is None:
        return Prefill(client, None, _vehicle(vehicle), None, [], 0)
    report = await incidents.coverage_report(session, who.id, vehicle.id if vehicle else None, now)
    rows = await incidents.history(session, who.id, limit=HISTORY_ON_CALL)
    return Prefill(
        client,
        _public(who, BENEFICIARY_FIELDS),
        _vehicle(vehicle),
        report,
        await with_jobs(session, rows),
        await incidents.count_incidents(session, who.id),
    )


def _vehicle(vehicle: Vehicle | None) -> dict[str, Any] | None:
    return _public(vehicle, VEHICLE_FIELDS) if vehicle else None
