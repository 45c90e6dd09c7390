"""Operations API, incidents (Eventos): open one, list and read them, what the
incident screen shows while on a call, a beneficiary's coverage and occurrences.

Each handler parses, calls :mod:`operations` (the application layer for writes,
:mod:`operations.queries` for reads) and renders (docs/jobs.md).
"""

from __future__ import annotations

from operations import queries, service
from operations.incidents import IncidentDraft
from operations.lifecycle import JobActor
from registry.permissions import Permission
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.job_schemas import (
    CoverageOut,
    CoverageQuery,
    IncidentIn,
    IncidentListQuery,
    IncidentOut,
    IncidentPage,
    OccurrencesOut,
    PrefillOut,
    PrefillQuery,
    coverage_out,
    incident_out,
)

P = Permission
TAG = "operations"
INCIDENT = "/incidents/{incident_id:int}"
BENEFICIARY = "/beneficiaries/{beneficiary_id:int}"


async def create_incident(ctx: Ctx) -> IncidentOut:
    body: IncidentIn = ctx.body
    draft = IncidentDraft(
        client_id=body.client_id,
        incident_type_id=body.incident_type_id,
        beneficiary_id=body.beneficiary_id,
        vehicle_id=body.vehicle_id,
        opened_at=body.opened_at,
        notes=body.notes,
    )
    view = await service.open_incident(ctx.uow, draft, JobActor.operator(ctx.user.user_id))
    return IncidentOut.model_construct(**dict(view), jobs=[])


async def list_incidents(ctx: Ctx) -> IncidentPage:
    q: IncidentListQuery = ctx.query
    found = await queries.list_incidents(
        ctx.session,
        client_id=q.client_id,
        beneficiary_id=q.beneficiary_id,
        limit=q.page_size,
        offset=q.offset,
    )
    now = ctx.now
    items = [incident_out(i, now) for i in found.items]
    return IncidentPage.model_construct(
        items=items, total=found.total, page=q.page, page_size=q.page_size
    )


async def get_incident(ctx: Ctx) -> IncidentOut:
    return incident_out(await queries.incident(ctx.session, ctx.path["incident_id"]), ctx.now)


async def beneficiary_coverage(ctx: Ctx) -> CoverageOut:
    q: CoverageQuery = ctx.query
    at = q.at or ctx.now
    report = await queries.coverage(ctx.session, ctx.path["beneficiary_id"], q.vehicle_id, at)
    return coverage_out(report)


async def occurrences(ctx: Ctx) -> OccurrencesOut:
    """The beneficiary's incidents with their jobs (Ocorrências), newest first; a
    client-portal user sees only its own client's beneficiaries."""
    user = ctx.user
    beneficiary_id = ctx.path["item_id"]
    scope = user.client_id if user.is_client_user else None
    found = await queries.occurrences(ctx.session, beneficiary_id, client_id=scope)
    now = ctx.now
    return OccurrencesOut(
        beneficiary_id=beneficiary_id, incidents=[incident_out(i, now) for i in found]
    )


async def prefill(ctx: Ctx) -> PrefillOut:
    """The incident screen's data for a beneficiary or vehicle found by the search."""
    q: PrefillQuery = ctx.query
    now = ctx.now
    found = await queries.prefill(
        ctx.session,
        beneficiary_id=q.beneficiary_id,
        vehicle_id=q.vehicle_id,
        client_id=q.client_id,
        now=now,
    )
    client = found.client
    return PrefillOut(
        ask_client_first=ctx.resources.settings.incident_ask_client_first,
        client_id=client.id if client else None,
        client_name=client.trade_name if client else None,
        operator_script=client.operator_script if client else None,
        vip=bool(client and client.vip),
        beneficiary=found.beneficiary,
        vehicle=found.vehicle,
        coverage=coverage_out(found.coverage) if found.coverage else None,
        history=[incident_out(i, now) for i in found.history],
        incidents_total=found.incidents_total,
    )


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
        response=IncidentPage,
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
