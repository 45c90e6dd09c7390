"""Operations API: incidents (Eventos), jobs (Atendimentos), their timeline, the
beneficiary's coverage and occurrences.

Handlers parse and authorise, call :mod:`operations`, and publish each change on
the cross-node bus once the transaction has committed (``job.created``,
``job.updated``, ``job.status``, ``incident.updated``: docs/protocol.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from geo.addresses import AddressSource as PlaceSource
from geo.addresses import Coordinates, check_territory, parse_maps_url
from geo.addresses.errors import AddressError
from operations import incidents as inc
from operations import jobs as ops
from operations.coverage import CoverageReport, Standing
from operations.errors import (
    CoverageRefusedError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    OperationsError,
)
from operations.lifecycle import JobStatus, next_statuses
from operations.models import Incident, Job, JobPlace
from operations.places import Place, PlaceRole
from operations.sla import SlaPolicy, lateness
from registry import models as m
from registry.db import utcnow
from registry.permissions import Permission
from registry.points import point_from_wkb
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.errors import ApiError, forbidden, not_found
from server.api.job_schemas import (
    CancelIn,
    CoverageOut,
    CoverageQuery,
    IncidentIn,
    IncidentListQuery,
    IncidentOut,
    JobIn,
    JobListQuery,
    JobOut,
    JobPatch,
    OccurrencesOut,
    PlaceIn,
    PlaceOut,
    PlanUsageOut,
    PrefillOut,
    PrefillQuery,
    RequesterOut,
    ServiceUsageOut,
    StatusIn,
    TimelineOut,
)
from server.settings import Settings
from server.tracks import busy_providers, sync_busy

log = logging.getLogger("acionar.api.jobs")
P = Permission


# --- errors -----------------------------------------------------------------------


def api_error(exc: OperationsError) -> ApiError:
    """The HTTP answer to an operations error."""
    if isinstance(exc, NotFoundError):
        return not_found(exc.entity)
    if isinstance(exc, InvalidInputError):
        return ApiError(
            422, "validation_error", exc.message, [{"field": exc.field, "message": exc.message}]
        )
    if isinstance(exc, CoverageRefusedError):
        return ApiError(409, exc.coverage.verdict.value, exc.message)
    if isinstance(exc, IllegalTransitionError):
        return ApiError(409, "illegal_transition", exc.message)
    return ApiError(422, "operations_error", exc.message)


def address_error(exc: AddressError, field: str) -> ApiError:
    message = exc.message
    return ApiError(422, "validation_error", message, [{"field": field, "message": message}])


# --- conversions ------------------------------------------------------------------


def rules(settings: Settings) -> ops.JobRules:
    return ops.JobRules(
        default_sla=SlaPolicy(settings.sla_dispatch_minutes, settings.sla_arrival_minutes),
        max_schedule_ahead=timedelta(days=settings.job_max_schedule_days),
    )


def _place_out(row: JobPlace) -> PlaceOut:
    point = point_from_wkb(row.location.data)
    place = Place(
        point.lat,
        point.lng,
        PlaceSource(row.source),
        row.street,
        row.number,
        row.complement,
        row.neighbourhood,
        row.city,
        row.state,
        row.cep,
        row.reference,
    )
    return PlaceOut(
        source=row.source,
        street=row.street,
        number=row.number,
        complement=row.complement,
        neighbourhood=row.neighbourhood,
        city=row.city,
        state=row.state,
        cep=row.cep,
        reference=row.reference,
        point={"lat": point.lat, "lng": point.lng},  # type: ignore[arg-type]
        one_line=place.one_line(),
    )


def job_out(job: Job, places: Sequence[JobPlace] = ()) -> JobOut:
    by_role = {p.role: _place_out(p) for p in places}
    now = utcnow()
    return JobOut(
        id=job.id,
        incident_id=job.incident_id,
        kind=job.kind,
        status=job.status,
        status_label=job.status.label,
        next_statuses=sorted(next_statuses(job.kind, job.status)),
        service_type_id=job.service_type_id,
        plan_id=job.plan_id,
        plan_service_id=job.plan_service_id,
        ad_hoc=job.ad_hoc,
        chargeable=job.chargeable,
        coverage_note=job.coverage_note,
        covered_value=job.covered_value,
        km_per_use=job.km_per_use,
        requester=RequesterOut(name=job.requester_name, phone=job.requester_phone),
        requested_at=job.requested_at,
        notes_for_provider=job.notes_for_provider,
        scheduled_for=job.scheduled_for,
        provider_id=job.provider_id,
        cancellation_reason_id=job.cancellation_reason_id,
        dispatch_due_at=job.dispatch_due_at,
        arrival_due_at=job.arrival_due_at,
        late=sorted(lateness(job.status, now, job.dispatch_due_at, job.arrival_due_at)),
        handling_time_s=job.handling_time_s,
        status_changed_at=job.status_changed_at,
        origin=by_role.get(PlaceRole.ORIGIN.value),
        destination=by_role.get(PlaceRole.DESTINATION.value),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


async def jobs_out(ctx: Ctx, jobs: Sequence[Job]) -> list[JobOut]:
    places = await ops.places_of(ctx.session, [j.id for j in jobs])
    return [job_out(j, places.get(j.id, [])) for j in jobs]


async def incidents_out(ctx: Ctx, incidents: Sequence[Incident]) -> list[IncidentOut]:
    """Incidents with their jobs, in their order: two queries whatever their number."""
    jobs = await jobs_out(ctx, await inc.jobs_of(ctx.session, [i.id for i in incidents]))
    by_incident: dict[int, list[JobOut]] = {}
    for job in jobs:
        by_incident.setdefault(job.incident_id, []).append(job)
    return [
        IncidentOut.model_validate(i).model_copy(update={"jobs": by_incident.get(i.id, [])})
        for i in incidents
    ]


def _address_fields(body: PlaceIn) -> dict[str, Any]:
    return {
        "street": body.street,
        "number": body.number,
        "complement": body.complement,
        "neighbourhood": body.neighbourhood,
        "city": body.city,
        "state": body.state,
        "cep": body.cep,
        "reference": body.reference,
    }


async def _from_partner_site(ctx: Ctx, body: PlaceIn, incident: Incident) -> Place:
    site = await ctx.session.get(m.PartnerSite, body.partner_site_id)
    if site is None or site.client_id != incident.client_id:
        raise InvalidInputError("partner_site_id", "Estabelecimento parceiro não é deste cliente.")
    if site.location is None:
        raise InvalidInputError("partner_site_id", "Estabelecimento parceiro sem coordenadas.")
    point = point_from_wkb(site.location.data)
    return Place(
        point.lat,
        point.lng,
        PlaceSource.PARTNER_SITE,
        site.street,
        site.number,
        site.complement,
        site.neighbourhood,
        site.city,
        site.state,
        site.cep,
        body.reference or site.name,
    )


async def _from_beneficiary(ctx: Ctx, body: PlaceIn, incident: Incident) -> Place:
    who = (
        await ctx.session.get(m.Beneficiary, incident.beneficiary_id)
        if incident.beneficiary_id
        else None
    )
    if who is None or who.location is None:
        raise InvalidInputError("beneficiary", "O beneficiário não tem endereço com coordenadas.")
    point = point_from_wkb(who.location.data)
    return Place(
        point.lat,
        point.lng,
        PlaceSource.BENEFICIARY,
        who.street,
        who.number,
        who.complement,
        who.neighbourhood,
        who.city,
        who.state,
        who.cep,
        body.reference,
    )


def _from_maps_url(body: PlaceIn, role: PlaceRole, field: str) -> Place:
    """The link's point; of a route, its end for a destination and its start for
    an origin (whichever end it carries when it has only one)."""
    assert body.maps_url is not None
    try:
        link = parse_maps_url(body.maps_url, allow_outside_brazil=True)  # checked below
    except AddressError as exc:
        raise address_error(exc, field + ".maps_url") from exc
    ends = (link.destination, link.origin)
    if role is PlaceRole.ORIGIN:
        ends = (link.origin, link.destination)
    point = next(p for p in ends if p is not None)
    return Place(point.lat, point.lng, PlaceSource.MAPS_URL, **_address_fields(body))


async def resolve_place(
    ctx: Ctx, body: PlaceIn, role: PlaceRole, incident: Incident, field: str
) -> Place:
    """The place a :class:`PlaceIn` names, checked to lie where jobs may be."""
    if body.maps_url is not None:
        place = _from_maps_url(body, role, field)
    elif body.partner_site_id is not None:
        place = await _from_partner_site(ctx, body, incident)
    elif body.beneficiary:
        place = await _from_beneficiary(ctx, body, incident)
    else:
        assert body.lat is not None and body.lng is not None
        source = body.source or PlaceSource.MANUAL
        place = Place(body.lat, body.lng, source, **_address_fields(body))
    try:
        check_territory(Coordinates(place.lat, place.lng), allow_outside_brazil=_outside_ok(ctx))
    except AddressError as exc:
        raise address_error(exc, field) from exc
    return place


def _outside_ok(ctx: Ctx) -> bool:
    return ctx.resources.settings.addresses_allow_outside_brazil


# --- publishing -------------------------------------------------------------------


def publish_after_commit(ctx: Ctx, events: Sequence[str], payload: dict[str, Any]) -> None:
    """Announce ``events`` on the bus once committed; a bus outage loses news only."""

    async def announce() -> None:
        live = getattr(ctx.request.app.state, "live", None)
        if live is None:
            return
        for event in events:
            try:
                await live.bus.publish(event, payload)
            except (RedisError, OSError) as exc:
                log.warning("bus: %s not published (%s)", event, exc)

    ctx.after_commit.append(announce)


def _job_event(job: JobOut, incident_id: int) -> dict[str, Any]:
    return {"incident_id": incident_id, "job": job.model_dump(mode="json")}


# --- handlers: incidents ----------------------------------------------------------


async def create_incident(ctx: Ctx) -> IncidentOut:
    body: IncidentIn = ctx.body
    draft = inc.IncidentDraft(
        client_id=body.client_id,
        incident_type_id=body.incident_type_id,
        beneficiary_id=body.beneficiary_id,
        vehicle_id=body.vehicle_id,
        opened_at=body.opened_at,
        notes=body.notes,
    )
    try:
        incident = await inc.open_incident(
            ctx.session, draft, actor_user_id=ctx.user.user_id, now=utcnow()
        )
    except OperationsError as exc:
        raise api_error(exc) from exc
    out = IncidentOut.model_validate(incident)
    publish_after_commit(
        ctx, [ops.Event.INCIDENT_UPDATED], {"incident": out.model_dump(mode="json")}
    )
    return out


async def list_incidents(ctx: Ctx) -> list[IncidentOut]:
    q: IncidentListQuery = ctx.query
    stmt = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc())
    if q.client_id is not None:
        stmt = stmt.where(Incident.client_id == q.client_id)
    if q.beneficiary_id is not None:
        stmt = stmt.where(Incident.beneficiary_id == q.beneficiary_id)
    rows = (await ctx.session.execute(stmt.limit(q.limit).offset(q.offset))).scalars().all()
    return await incidents_out(ctx, rows)


async def get_incident(ctx: Ctx) -> IncidentOut:
    try:
        incident = await inc.get_incident(ctx.session, ctx.path["incident_id"])
    except OperationsError as exc:
        raise api_error(exc) from exc
    return (await incidents_out(ctx, [incident]))[0]


def coverage_out(report: CoverageReport) -> CoverageOut:
    plans = [
        PlanUsageOut(
            plan_id=u.plan.plan_id,
            code=u.plan.code,
            name=u.plan.name,
            kind=u.plan.kind.value,
            vehicle_id=u.plan.vehicle_id,
            starts_on=u.plan.starts_on,
            ends_on=u.plan.ends_on,
            in_force=True,
            standing=Standing.IN_FORCE.value,
            services=[
                ServiceUsageOut(
                    service_type_id=s.service_type_id,
                    service_name=s.terms.service_name,
                    covered_value=s.terms.covered_value,
                    used=s.used,
                    limit=s.limit,
                    remaining=s.remaining,
                    period=s.terms.period.value,
                    period_start=s.period.start,
                    period_end=s.period.end,
                    km_per_use=s.terms.km_per_use,
                    max_value=s.terms.max_value,
                    summary=s.summary,
                )
                for s in u.services
            ],
        )
        for u in report.in_force
    ]
    plans += [
        PlanUsageOut(
            plan_id=plan.plan_id,
            code=plan.code,
            name=plan.name,
            kind=plan.kind.value,
            vehicle_id=plan.vehicle_id,
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            in_force=False,
            standing=standing.value,
            services=[],
        )
        for plan, standing in report.not_in_force
    ]
    return CoverageOut(at=report.at, plans=plans)


async def beneficiary_coverage(ctx: Ctx) -> CoverageOut:
    q: CoverageQuery = ctx.query
    beneficiary_id = ctx.path["beneficiary_id"]
    if await ctx.session.get(m.Beneficiary, beneficiary_id) is None:
        raise not_found("Beneficiário")
    report = await inc.coverage_report(ctx.session, beneficiary_id, q.vehicle_id, q.at or utcnow())
    return coverage_out(report)


async def occurrences(ctx: Ctx) -> OccurrencesOut:
    """The beneficiary's incidents with their jobs (Ocorrências), newest first; a
    client-portal user sees only its own client's beneficiaries."""
    beneficiary = await ctx.session.get(m.Beneficiary, ctx.path["item_id"])
    user = ctx.user
    if beneficiary is None or (user.is_client_user and user.client_id != beneficiary.client_id):
        raise not_found("Beneficiário")
    rows = await inc.history(ctx.session, beneficiary.id)
    return OccurrencesOut(beneficiary_id=beneficiary.id, incidents=await incidents_out(ctx, rows))


def _public(row: Any, fields: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


BENEFICIARY_FIELDS = (
    *("id", "name", "document", "person_kind", "phone", "whatsapp", "email"),
    *("street", "number", "neighbourhood", "city", "state", "cep", "active"),
)
VEHICLE_FIELDS = ("id", "plate", "make", "model", "year", "colour", "vin", "plan_id", "active")


async def prefill(ctx: Ctx) -> PrefillOut:
    """The incident screen's data for a beneficiary or vehicle found by the search."""
    q: PrefillQuery = ctx.query
    vehicle = await ctx.session.get(m.Vehicle, q.vehicle_id) if q.vehicle_id else None
    beneficiary_id = q.beneficiary_id or (vehicle.beneficiary_id if vehicle else None)
    beneficiary = await ctx.session.get(m.Beneficiary, beneficiary_id) if beneficiary_id else None
    if (q.vehicle_id and vehicle is None) or (beneficiary_id and beneficiary is None):
        raise not_found("Beneficiário ou veículo")
    client_id = beneficiary.client_id if beneficiary else q.client_id
    client = await ctx.session.get(m.Client, client_id) if client_id else None
    coverage = history = None
    total = 0
    if beneficiary is not None:
        report = await inc.coverage_report(
            ctx.session, beneficiary.id, vehicle.id if vehicle else None, utcnow()
        )
        coverage = coverage_out(report)
        rows = await inc.history(ctx.session, beneficiary.id, limit=10)
        history = await incidents_out(ctx, rows)
        total = await inc.count_incidents(ctx.session, beneficiary.id)
    return PrefillOut(
        ask_client_first=ctx.resources.settings.incident_ask_client_first,
        client_id=client.id if client else None,
        client_name=client.trade_name if client else None,
        operator_script=client.operator_script if client else None,
        vip=bool(client and client.vip),
        beneficiary=_public(beneficiary, BENEFICIARY_FIELDS) if beneficiary else None,
        vehicle=_public(vehicle, VEHICLE_FIELDS) if vehicle else None,
        coverage=coverage,
        history=history or [],
        incidents_total=total,
    )


# --- handlers: jobs ---------------------------------------------------------------


async def _places(ctx: Ctx, body: JobIn | JobPatch, incident: Incident) -> dict[PlaceRole, Place]:
    places: dict[PlaceRole, Place] = {}
    for role, given in ((PlaceRole.ORIGIN, body.origin), (PlaceRole.DESTINATION, body.destination)):
        if given is not None:
            places[role] = await resolve_place(ctx, given, role, incident, role.value)
    return places


async def _job_response(ctx: Ctx, change: ops.Change) -> JobOut:
    places = await ops.places_of(ctx.session, [change.job.id])
    await ctx.session.refresh(change.job)
    out = job_out(change.job, places.get(change.job.id, []))
    publish_after_commit(ctx, change.events, _job_event(out, change.job.incident_id))
    await _flag_busy(ctx, change)
    return out


async def _flag_busy(ctx: Ctx, change: ops.Change) -> None:
    """Once committed, tell the candidate search which providers are on a job."""
    if change.entry is None or ops.Event.JOB_STATUS not in change.events:
        return  # only a status change moves a provider on or off a job
    before = change.entry.provider_id
    providers = {p for p in (before, change.job.provider_id) if p is not None}
    if not providers:
        return
    busy = await busy_providers(ctx.session, providers)
    live = getattr(ctx.request.app.state, "live", None)
    if live is not None:
        ctx.after_commit.append(lambda: sync_busy(live.store, providers, busy))


async def create_job(ctx: Ctx) -> JobOut:
    body: JobIn = ctx.body
    try:
        incident = await inc.get_incident(ctx.session, ctx.path["incident_id"])
        places = await _places(ctx, body, incident)
        draft = ops.JobDraft(
            kind=body.kind,
            requester_name=body.requester.name,
            requester_phone=body.requester.phone,
            service_type_id=body.service_type_id,
            ad_hoc=body.ad_hoc,
            requested_at=body.requested_at,
            notes_for_provider=body.notes_for_provider,
            scheduled_for=body.scheduled_for,
            origin=places.get(PlaceRole.ORIGIN),
            destination=places.get(PlaceRole.DESTINATION),
        )
        change = await ops.register_job(
            ctx.session,
            incident.id,
            draft,
            actor_user_id=ctx.user.user_id,
            now=utcnow(),
            rules=rules(ctx.resources.settings),
        )
    except OperationsError as exc:
        raise api_error(exc) from exc
    return await _job_response(ctx, change)


async def list_jobs(ctx: Ctx) -> list[JobOut]:
    q: JobListQuery = ctx.query
    stmt = select(Job).order_by(Job.id.desc())
    if q.status:
        try:
            statuses = [JobStatus(s.strip()) for s in q.status.split(",") if s.strip()]
        except ValueError as exc:
            message = "Situação desconhecida: use " + ", ".join(s.value for s in JobStatus)
            raise ApiError(
                422, "validation_error", message, [{"field": "query.status", "message": message}]
            ) from exc
        stmt = stmt.where(Job.status.in_(statuses))
    if q.incident_id is not None:
        stmt = stmt.where(Job.incident_id == q.incident_id)
    if q.provider_id is not None:
        stmt = stmt.where(Job.provider_id == q.provider_id)
    rows = (await ctx.session.execute(stmt.limit(q.limit).offset(q.offset))).scalars().all()
    return await jobs_out(ctx, rows)


async def get_job(ctx: Ctx) -> JobOut:
    job = await ctx.session.get(Job, ctx.path["job_id"])
    if job is None:
        raise not_found("Atendimento")
    return (await jobs_out(ctx, [job]))[0]


async def patch_job(ctx: Ctx) -> JobOut:
    body: JobPatch = ctx.body
    values = body.model_dump(exclude_unset=True, exclude={"origin", "destination"})
    for required in ("requester_name", "requester_phone"):
        if required in values and values[required] is None:
            raise ApiError(
                422,
                "validation_error",
                "Dados inválidos.",
                [{"field": required, "message": "Campo obrigatório"}],
            )
    try:
        job = await ops.locked_job(ctx.session, ctx.path["job_id"])
        incident = await inc.get_incident(ctx.session, job.incident_id)
        places = await _places(ctx, body, incident)
        change = await ops.edit_job(
            ctx.session,
            job.id,
            values,
            places,
            now=utcnow(),
            rules=rules(ctx.resources.settings),
        )
    except OperationsError as exc:
        raise api_error(exc) from exc
    return await _job_response(ctx, change)


async def _move(ctx: Ctx, body: StatusIn) -> JobOut:
    try:
        change = await ops.move_job(
            ctx.session,
            ctx.path["job_id"],
            body.to,
            now=utcnow(),
            channel=body.channel,
            actor_user_id=ctx.user.user_id,
            provider_id=body.provider_id,
            cancellation_reason_id=body.cancellation_reason_id,
            note=body.note,
        )
    except OperationsError as exc:
        raise api_error(exc) from exc
    return await _job_response(ctx, change)


async def change_status(ctx: Ctx) -> JobOut:
    body: StatusIn = ctx.body
    if body.to is JobStatus.CANCELLED and not ctx.user.can(P.OPERATIONS_CANCEL_JOB):
        raise forbidden()
    return await _move(ctx, body)


async def cancel_job(ctx: Ctx) -> JobOut:
    body: CancelIn = ctx.body
    return await _move(
        ctx,
        StatusIn(
            to=JobStatus.CANCELLED,
            cancellation_reason_id=body.cancellation_reason_id,
            note=body.note,
        ),
    )


async def job_timeline(ctx: Ctx) -> list[TimelineOut]:
    job_id = ctx.path["job_id"]
    if await ctx.session.get(Job, job_id) is None:
        raise not_found("Atendimento")
    return [TimelineOut.model_validate(row) for row in await ops.timeline(ctx.session, job_id)]


INCIDENT = "/incidents/{incident_id:int}"
JOB = "/jobs/{job_id:int}"
BENEFICIARY = "/beneficiaries/{beneficiary_id:int}"
TAG = "operations"

OPERATIONS = [
    Operation(
        "POST",
        "/incidents",
        create_incident,
        "Open an incident (Evento) for a client's beneficiary or vehicle",
        TAG,
        permission=P.OPERATIONS_OPEN_INCIDENT,
        body=IncidentIn,
        body_kind=BodyKind.MODEL,
        response=IncidentOut,
        status=201,
    ),
    Operation(
        "GET",
        "/incidents",
        list_incidents,
        "Incidents, newest first, with their jobs",
        TAG,
        permission=P.OPERATIONS_VIEW,
        query=IncidentListQuery,
        response=list[IncidentOut],
    ),
    Operation(
        "GET",
        "/incidents/prefill",
        prefill,
        "What the incident screen shows for a beneficiary or vehicle: script, plans, history",
        TAG,
        permission=P.OPERATIONS_OPEN_INCIDENT,
        query=PrefillQuery,
        response=PrefillOut,
    ),
    Operation(
        "GET",
        INCIDENT,
        get_incident,
        "One incident with its jobs",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=IncidentOut,
    ),
    Operation(
        "POST",
        INCIDENT + "/jobs",
        create_job,
        "Register a job (Atendimento) in the incident; 409 when the plan does not cover it",
        TAG,
        permission=P.OPERATIONS_OPEN_INCIDENT,
        body=JobIn,
        body_kind=BodyKind.MODEL,
        response=JobOut,
        status=201,
    ),
    Operation(
        "GET",
        "/jobs",
        list_jobs,
        "Jobs, newest first, filtered by status, incident or provider",
        TAG,
        permission=P.OPERATIONS_VIEW,
        query=JobListQuery,
        response=list[JobOut],
    ),
    Operation("GET", JOB, get_job, "One job", TAG, permission=P.OPERATIONS_VIEW, response=JobOut),
    Operation(
        "PATCH",
        JOB,
        patch_job,
        "Change a job's requester, notes, times or places (before it is done)",
        TAG,
        permission=P.OPERATIONS_EDIT_JOB,
        body=JobPatch,
        body_kind=BodyKind.MODEL,
        response=JobOut,
    ),
    Operation(
        "POST",
        JOB + "/status",
        change_status,
        "Move a job along its state machine (assign needs provider_id; cancel a reason)",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        body=StatusIn,
        body_kind=BodyKind.MODEL,
        response=JobOut,
    ),
    Operation(
        "POST",
        JOB + "/cancel",
        cancel_job,
        "Cancel a job with a cancellation reason",
        TAG,
        permission=P.OPERATIONS_CANCEL_JOB,
        body=CancelIn,
        body_kind=BodyKind.MODEL,
        response=JobOut,
    ),
    Operation(
        "GET",
        JOB + "/timeline",
        job_timeline,
        "A job's timeline: every status change with actor, channel, time and reason",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=list[TimelineOut],
    ),
    Operation(
        "GET",
        BENEFICIARY + "/coverage",
        beneficiary_coverage,
        "The beneficiary's plans with each service's usage in the current period",
        TAG,
        permission=P.OPERATIONS_VIEW,
        query=CoverageQuery,
        response=CoverageOut,
    ),
    Operation(
        "GET",
        "/beneficiaries/{item_id:int}/occurrences",
        occurrences,
        "Occurrences: a beneficiary's incidents and jobs, newest first",
        "beneficiaries",
        Access.PORTAL,
        P.REGISTRY_VIEW,
        response=OccurrencesOut,
    ),
]
