"""Incidents (Eventos): the pre-registration of a call, and what the operator
reads while on it (the client's script, the beneficiary, the vehicle, the plans
with their usage, the earlier incidents).

The handling-time clock starts at ``opened_at``: when the operator took the call
(the screen sends it when the call starts) or, by default, when the incident is
saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from operations import coverage as cov
from operations.errors import InvalidInputError, NotFoundError
from operations.models import Incident, Job
from operations.usage import held_plans, past_jobs
from registry.models import Beneficiary, Client, IncidentType, Vehicle

MAX_CALL_AGE = timedelta(hours=12)
"""How far back a call's start may be: a whole night shift."""
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_HISTORY = 50
"""Earlier incidents shown while on a call (the newest)."""


@dataclass(frozen=True, slots=True)
class IncidentDraft:
    client_id: int
    incident_type_id: int
    beneficiary_id: int | None = None
    vehicle_id: int | None = None
    opened_at: datetime | None = None
    notes: str | None = None


async def _client(session: AsyncSession, client_id: int) -> Client:
    client = await session.get(Client, client_id)
    if client is None or not client.active:
        raise InvalidInputError("client_id", "Cliente inexistente ou inativo.")
    return client


async def _people(
    session: AsyncSession, draft: IncidentDraft
) -> tuple[Beneficiary | None, Vehicle | None]:
    vehicle = await session.get(Vehicle, draft.vehicle_id) if draft.vehicle_id else None
    if draft.vehicle_id is not None and vehicle is None:
        raise InvalidInputError("vehicle_id", "Veículo inexistente.")
    beneficiary_id = draft.beneficiary_id or (vehicle.beneficiary_id if vehicle else None)
    beneficiary = await session.get(Beneficiary, beneficiary_id) if beneficiary_id else None
    if beneficiary_id is not None and beneficiary is None:
        raise InvalidInputError("beneficiary_id", "Beneficiário inexistente.")
    if vehicle is not None and beneficiary is not None and vehicle.beneficiary_id != beneficiary.id:
        raise InvalidInputError("vehicle_id", "O veículo não é deste beneficiário.")
    if beneficiary is not None and beneficiary.client_id != draft.client_id:
        raise InvalidInputError("beneficiary_id", "O beneficiário não é deste cliente.")
    return beneficiary, vehicle


def _opened_at(draft: IncidentDraft, now: datetime) -> datetime:
    opened = draft.opened_at or now
    if opened.tzinfo is None:
        raise InvalidInputError("opened_at", "Informe data e hora com fuso horário.")
    if opened > now + MAX_CLOCK_SKEW:
        raise InvalidInputError("opened_at", "O início do atendimento não pode estar no futuro.")
    if opened < now - MAX_CALL_AGE:
        hours = int(MAX_CALL_AGE.total_seconds() // 3600)
        raise InvalidInputError(
            "opened_at", f"O início do atendimento não pode ter mais de {hours} horas."
        )
    return min(opened, now)


async def open_incident(
    session: AsyncSession, draft: IncidentDraft, *, actor_user_id: int | None, now: datetime
) -> Incident:
    """A new incident; raises InvalidInputError on a reference that does not fit."""
    await _client(session, draft.client_id)
    beneficiary, vehicle = await _people(session, draft)
    kind = await session.get(IncidentType, draft.incident_type_id)
    if kind is None or not kind.active:
        raise InvalidInputError("incident_type_id", "Tipo de evento inexistente ou inativo.")
    incident = Incident(
        client_id=draft.client_id,
        beneficiary_id=beneficiary.id if beneficiary else None,
        vehicle_id=vehicle.id if vehicle else None,
        incident_type_id=kind.id,
        opened_at=_opened_at(draft, now),
        notes=draft.notes,
        created_by=actor_user_id,
    )
    session.add(incident)
    await session.flush()
    return incident


async def get_incident(session: AsyncSession, incident_id: int) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError("Evento")
    return incident


async def jobs_of(session: AsyncSession, incident_ids: Sequence[int]) -> list[Job]:
    return list(
        (
            await session.execute(
                select(Job).where(Job.incident_id.in_(incident_ids)).order_by(Job.id)
            )
        )
        .scalars()
        .all()
    )


async def history(
    session: AsyncSession, beneficiary_id: int, *, limit: int = MAX_HISTORY
) -> list[Incident]:
    """The beneficiary's incidents, newest first (Ocorrências)."""
    return list(
        (
            await session.execute(
                select(Incident)
                .where(Incident.beneficiary_id == beneficiary_id)
                .order_by(Incident.opened_at.desc(), Incident.id.desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )


async def count_incidents(session: AsyncSession, beneficiary_id: int) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Incident)
                .where(Incident.beneficiary_id == beneficiary_id)
            )
        ).scalar_one()
    )


async def coverage_report(
    session: AsyncSession, beneficiary_id: int, vehicle_id: int | None, at: datetime
) -> cov.CoverageReport:
    """The beneficiary's plans (and the vehicle's) with every service's usage at ``at``."""
    plans = await held_plans(session, beneficiary_id)
    jobs = await past_jobs(session, beneficiary_id)
    return cov.usage_report(plans, jobs, at, vehicle_id=vehicle_id)
