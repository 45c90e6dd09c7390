"""Jobs (Atendimentos): register one in an incident, edit it, move it along its
state machine and read its timeline.

Everything here runs inside the caller's transaction and writes PostgreSQL only;
the application layer (:mod:`operations.service`) calls it inside a unit of work,
which announces each :class:`Change` with its events. Registering a job locks the
beneficiary's row, so that two operators cannot both spend the last use of a plan
service; moving or editing one locks the job's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from geo.addresses import Place
from operations import coverage as cov
from operations.errors import InvalidInputError, NotFoundError
from operations.lifecycle import (
    DONE,
    JobActor,
    JobKind,
    JobStatus,
    TimelineEntry,
    creation,
    initial_status,
    transition,
)
from operations.models import Incident, Job, JobPlace, JobTransition
from operations.places import PlaceRole
from operations.sla import SlaPolicy, due_times, handling_seconds
from operations.usage import held_plans, past_jobs, plan_service_id
from registry.db import change_params, change_with_line, line_values, table_of, utcnow
from registry.enums import ProviderStatus
from registry.models import Beneficiary, CancellationReason, Client, Provider, ServiceType

DEFAULT_SLA = SlaPolicy(15, 60)


@dataclass(frozen=True, slots=True)
class JobRules:
    """The deployment's settings that shape new jobs."""

    default_sla: SlaPolicy = DEFAULT_SLA
    max_schedule_ahead: timedelta = timedelta(days=90)
    max_requested_skew: timedelta = timedelta(minutes=5)
    max_requested_age: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class JobDraft:
    """What the operator fills in for a new job.

    ``requested_at`` defaults to now (the system fills it; the operator may edit
    it). ``ad_hoc``: open it as a chargeable service outside the plan (the operator's
    answer to a refusal).
    """

    kind: JobKind
    requester_name: str
    requester_phone: str
    service_type_id: int | None = None
    ad_hoc: bool = False
    requested_at: datetime | None = None
    notes_for_provider: str | None = None
    scheduled_for: datetime | None = None
    origin: Place | None = None
    destination: Place | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What a write did: the job, the timeline line of a status change, and the
    provider the job had before (whose busy flag may change)."""

    job: Job
    entry: TimelineEntry | None = None
    provider_before: int | None = None


# --- registering ------------------------------------------------------------------


async def _incident(session: AsyncSession, incident_id: int) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFoundError("Evento")
    return incident


async def _service_type(session: AsyncSession, draft: JobDraft) -> ServiceType | None:
    if draft.service_type_id is None:
        if draft.kind.needs_provider:
            raise InvalidInputError("service_type_id", "Informe o serviço do atendimento.")
        return None
    service = await session.get(ServiceType, draft.service_type_id)
    if service is None or not service.active:
        raise InvalidInputError("service_type_id", "Serviço inexistente ou inativo.")
    return service


def _check_places(draft: JobDraft, service: ServiceType | None) -> None:
    if draft.kind.needs_provider and draft.origin is None:
        raise InvalidInputError("origin", "Informe o endereço de origem.")
    if service is not None and service.needs_destination and draft.destination is None:
        raise InvalidInputError("destination", f"{service.name} exige um endereço de destino.")
    if service is not None and not service.needs_destination and draft.destination is not None:
        raise InvalidInputError("destination", f"{service.name} não tem destino.")


def _check_times(draft: JobDraft, now: datetime, rules: JobRules) -> datetime:
    requested = draft.requested_at or now
    if requested.tzinfo is None:
        raise InvalidInputError("requested_at", "Informe data e hora com fuso horário.")
    if requested > now + rules.max_requested_skew:
        raise InvalidInputError("requested_at", "A data do atendimento não pode estar no futuro.")
    if requested < now - rules.max_requested_age:
        days = rules.max_requested_age.days
        raise InvalidInputError(
            "requested_at", f"A data do atendimento não pode ter mais de {days} dias."
        )
    when = draft.scheduled_for
    if when is not None:
        if when.tzinfo is None:
            raise InvalidInputError("scheduled_for", "Informe data e hora com fuso horário.")
        if when <= now:
            raise InvalidInputError("scheduled_for", "O agendamento deve ser no futuro.")
        if when > now + rules.max_schedule_ahead:
            days = rules.max_schedule_ahead.days
            raise InvalidInputError(
                "scheduled_for", f"O agendamento pode ser de no máximo {days} dias à frente."
            )
    return requested


async def _coverage(
    session: AsyncSession,
    incident: Incident,
    draft: JobDraft,
    service: ServiceType | None,
    requested_at: datetime,
) -> cov.Coverage | None:
    """The job's coverage; raises CoverageRefusedError unless the operator chose
    ad hoc. None for jobs that need no provider."""
    if service is None or not draft.kind.needs_provider:
        return None
    if incident.beneficiary_id is None:
        decision = cov.Coverage(
            cov.Verdict.NOT_COVERED, service.id, "Evento sem beneficiário: nenhum plano cobre."
        )
    else:
        await session.execute(
            select(Beneficiary.id)
            .where(Beneficiary.id == incident.beneficiary_id)
            .with_for_update()
        )
        plans = await held_plans(session, incident.beneficiary_id)
        jobs = await past_jobs(session, incident.beneficiary_id)
        decision = cov.decide(
            plans, jobs, service.id, service.name, requested_at, vehicle_id=incident.vehicle_id
        )
    if draft.ad_hoc:
        return decision.as_ad_hoc()
    return decision.require_covered()


async def _sla(session: AsyncSession, incident: Incident, rules: JobRules) -> SlaPolicy:
    client = await session.get(Client, incident.client_id)
    assert client is not None  # a foreign key
    own = SlaPolicy(client.sla_dispatch_minutes, client.sla_arrival_minutes)
    return own.over(rules.default_sla)


def place_row(job_id: int, role: PlaceRole, place: Place) -> JobPlace:
    return JobPlace(
        job_id=job_id,
        role=role.value,
        reference=place.reference,
        source=place.source.value,
        location=place.at.ewkt(),
        street=place.street,
        number=place.number,
        complement=place.complement,
        neighbourhood=place.neighbourhood,
        city=place.city,
        state=place.state,
        cep=place.cep,
    )


def _timeline_row(job_id: int, entry: TimelineEntry) -> JobTransition:
    return JobTransition(**line_values(entry, job_id=job_id))


async def register_job(
    session: AsyncSession,
    incident_id: int,
    draft: JobDraft,
    *,
    actor: JobActor,
    now: datetime,
    rules: JobRules,
) -> Change:
    """A new job in the incident, with its coverage, SLA due times, places and the
    first timeline entry. Raises InvalidInputError, NotFoundError or
    CoverageRefusedError (nothing is written then)."""
    incident = await _incident(session, incident_id)
    service = await _service_type(session, draft)
    _check_places(draft, service)
    requested_at = _check_times(draft, now, rules)
    decision = await _coverage(session, incident, draft, service, requested_at)
    status = initial_status(scheduled=draft.scheduled_for is not None)
    due = due_times(now, draft.scheduled_for, await _sla(session, incident, rules))
    job = Job(
        incident_id=incident.id,
        client_id=incident.client_id,
        kind=draft.kind,
        status=status,
        service_type_id=service.id if service else None,
        requester_name=draft.requester_name,
        requester_phone=draft.requester_phone,
        requested_at=requested_at,
        notes_for_provider=draft.notes_for_provider,
        scheduled_for=draft.scheduled_for,
        dispatch_due_at=due.dispatch_due_at if draft.kind.needs_provider else None,
        arrival_due_at=due.arrival_due_at if draft.kind.needs_provider else None,
        status_changed_at=now,
        handling_time_s=handling_seconds(incident.opened_at, now),
        created_by=actor.user_id,
        **await _coverage_columns(session, decision),
    )
    session.add(job)
    await session.flush()
    for role, place in (
        (PlaceRole.ORIGIN, draft.origin),
        (PlaceRole.DESTINATION, draft.destination),
    ):
        if place is not None:
            session.add(place_row(job.id, role, place))
    entry = creation(status, now, actor)
    session.add(_timeline_row(job.id, entry))
    if incident.handling_time_s is None:
        incident.handling_time_s = job.handling_time_s
    await session.flush()
    return Change(job, entry)


async def _coverage_columns(session: AsyncSession, decision: cov.Coverage | None) -> dict[str, Any]:
    if decision is None:
        return {}
    columns: dict[str, Any] = {
        "ad_hoc": decision.chargeable,
        "chargeable": decision.chargeable,
        "coverage_note": decision.message,
    }
    if decision.covered and decision.plan is not None and decision.usage is not None:
        terms = decision.usage.terms
        columns |= {
            "plan_id": decision.plan.plan_id,
            "plan_service_id": await plan_service_id(
                session, decision.plan.plan_id, decision.service_type_id
            ),
            "covered_value": terms.covered_value,
            "km_per_use": terms.km_per_use,
        }
    return columns


# --- moving -----------------------------------------------------------------------


_LOCKED_JOB = select(Job).where(Job.id == bindparam("job_id")).with_for_update()


async def locked_job(session: AsyncSession, job_id: int) -> Job:
    job = (await session.execute(_LOCKED_JOB, {"job_id": job_id})).scalar_one_or_none()
    if job is None:
        raise NotFoundError("Atendimento")
    return job


async def _check_reason(session: AsyncSession, reason_id: int | None) -> None:
    if reason_id is None:
        return
    reason = await session.get(CancellationReason, reason_id)
    if reason is None or not reason.active:
        raise InvalidInputError("cancellation_reason_id", "Motivo de cancelamento inexistente.")


async def _check_provider(session: AsyncSession, provider_id: int | None) -> None:
    if provider_id is None:
        raise InvalidInputError("provider_id", "Informe o prestador designado.")
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise InvalidInputError("provider_id", "Prestador inexistente.")
    if provider.status is not ProviderStatus.ACTIVE:
        raise InvalidInputError("provider_id", f"{provider.name} está bloqueado.")


PROVIDER_ONLY_TO_ASSIGN = (
    "Informe o prestador só para designá-lo (Prestador designado); "
    "para acioná-lo, envie uma oferta."
)


async def move_job(
    session: AsyncSession,
    job_id: int,
    target: JobStatus,
    *,
    now: datetime,
    actor: JobActor,
    provider_id: int | None = None,
    cancellation_reason_id: int | None = None,
    note: str | None = None,
) -> Change:
    """Move a job to ``target`` and record it in the timeline.

    Moving to ``assigned`` needs the provider, and no other move takes one (a
    provider is asked by an offer, :mod:`operations.dispatch`); moving back to the
    dispatch queue (``open``/``dispatching``) releases it. Raises
    IllegalTransitionError, CancellationReasonRequiredError, InvalidInputError or
    NotFoundError.
    """
    job = await locked_job(session, job_id)
    return await move_locked(
        session,
        job,
        target,
        now=now,
        actor=actor,
        provider_id=provider_id,
        cancellation_reason_id=cancellation_reason_id,
        note=note,
    )


async def move_locked(
    session: AsyncSession,
    job: Job,
    target: JobStatus,
    *,
    now: datetime,
    actor: JobActor,
    provider_id: int | None = None,
    cancellation_reason_id: int | None = None,
    note: str | None = None,
) -> Change:
    """:func:`move_job` for a job the caller has locked (:func:`locked_job`)."""
    if provider_id is not None and target is not JobStatus.ASSIGNED:
        raise InvalidInputError("provider_id", PROVIDER_ONLY_TO_ASSIGN)
    before = job.provider_id
    entry = transition(
        job.kind,
        job.status,
        target,
        at=now,
        actor=actor,
        provider_id=provider_id if target is JobStatus.ASSIGNED else job.provider_id,
        cancellation_reason_id=cancellation_reason_id,
        note=note,
    )
    await _check_reason(session, entry.cancellation_reason_id)
    provider = job.provider_id
    if target is JobStatus.ASSIGNED:
        await _check_provider(session, provider_id)
        provider = provider_id
    elif target in (JobStatus.OPEN, JobStatus.DISPATCHING):
        provider = None
    moved = {
        "status": target,
        "status_changed_at": now,
        "provider_id": provider,
        "cancellation_reason_id": (
            entry.cancellation_reason_id
            if target is JobStatus.CANCELLED
            else job.cancellation_reason_id
        ),
        "updated_at": utcnow(),
    }
    line = line_values(entry, job_id=job.id)
    await session.execute(_MOVE, change_params(job.id, moved, line))
    for name, value in moved.items():  # the session's job as written (nothing to flush)
        set_committed_value(job, name, value)
    return Change(job, entry, before)


_MOVE = change_with_line(
    table_of(Job),
    ("status", "status_changed_at", "provider_id", "cancellation_reason_id", "updated_at"),
    table_of(JobTransition),
)
"""A job's status columns and its timeline line, in one round trip."""


EDITABLE = (
    "requester_name",
    "requester_phone",
    "requested_at",
    "notes_for_provider",
    "scheduled_for",
)


async def edit_job(
    session: AsyncSession,
    job_id: int,
    values: dict[str, Any],
    places: dict[PlaceRole, Place],
    *,
    now: datetime,
    rules: JobRules,
) -> Change:
    """Change a job's requester, notes, times or places while it is not done.

    A new ``agendamento`` moves the SLA due times with it.
    """
    job = await locked_job(session, job_id)
    if job.status in DONE:
        raise InvalidInputError("status", "Atendimento encerrado não pode ser alterado.")
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInputError(sorted(unknown)[0], "Campo não editável.")
    if "scheduled_for" in values and job.status is not JobStatus.SCHEDULED:
        raise InvalidInputError("scheduled_for", "Só atendimentos agendados mudam de agendamento.")
    if "scheduled_for" in values and values["scheduled_for"] is None:
        raise InvalidInputError(
            "scheduled_for", "Informe a nova data; para atender agora, mude a situação para Aberto."
        )
    _check_times(
        JobDraft(
            job.kind,
            job.requester_name,
            job.requester_phone,
            requested_at=values.get("requested_at", job.requested_at),
            scheduled_for=values.get("scheduled_for", job.scheduled_for),
        ),
        now,
        rules,
    )
    if values.get("requested_at") is None:
        values.pop("requested_at", None)
    for name, value in values.items():
        setattr(job, name, value)
    if "scheduled_for" in values:
        await _reschedule(session, job, rules)
    await _replace_places(session, job, places)
    await session.flush()
    return Change(job, provider_before=job.provider_id)


async def _reschedule(session: AsyncSession, job: Job, rules: JobRules) -> None:
    incident = await _incident(session, job.incident_id)
    due = due_times(job.created_at, job.scheduled_for, await _sla(session, incident, rules))
    job.dispatch_due_at, job.arrival_due_at = due.dispatch_due_at, due.arrival_due_at


async def _replace_places(session: AsyncSession, job: Job, places: dict[PlaceRole, Place]) -> None:
    service = await session.get(ServiceType, job.service_type_id) if job.service_type_id else None
    for role, place in places.items():
        if role is PlaceRole.DESTINATION and (service is None or not service.needs_destination):
            raise InvalidInputError("destination", "Este serviço não tem destino.")
        existing = (
            await session.execute(
                select(JobPlace).where(JobPlace.job_id == job.id, JobPlace.role == role.value)
            )
        ).scalar_one_or_none()
        if existing is not None:
            await session.delete(existing)
            await session.flush()
        session.add(place_row(job.id, role, place))


# --- reading ----------------------------------------------------------------------


async def timeline(session: AsyncSession, job_id: int) -> Sequence[JobTransition]:
    return (
        (
            await session.execute(
                select(JobTransition)
                .where(JobTransition.job_id == job_id)
                .order_by(JobTransition.at, JobTransition.id)
            )
        )
        .scalars()
        .all()
    )


async def places_of(session: AsyncSession, job_ids: Sequence[int]) -> dict[int, list[JobPlace]]:
    rows = (
        (await session.execute(select(JobPlace).where(JobPlace.job_id.in_(job_ids))))
        .scalars()
        .all()
    )
    by_job: dict[int, list[JobPlace]] = {}
    for row in rows:
        by_job.setdefault(row.job_id, []).append(row)
    return by_job
