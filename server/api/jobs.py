"""Operations API, jobs (Atendimentos): register one in an incident, list, read,
edit, move along its state machine, cancel, read its timeline.

Each handler parses, calls :mod:`operations` (the application layer for writes,
:mod:`operations.queries` for reads) and renders; the unit of work announces every
change on the bus through the outbox (docs/protocol.md, "Panel events").
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from operations import queries, service
from operations.lifecycle import JobActor, JobStatus
from registry.permissions import Permission
from server.api.core import BodyKind, Ctx, Operation
from server.api.errors import forbidden
from server.api.job_schemas import (
    CancelIn,
    JobIn,
    JobListQuery,
    JobOut,
    JobPage,
    JobPatch,
    StatusIn,
    TimelineOut,
    job_out,
    place_request,
)

P = Permission
TAG = "operations"
JOB = "/jobs/{job_id:int}"


async def create_job(ctx: Ctx) -> JobOut:
    body: JobIn = ctx.body
    view = await service.register_job(
        ctx.uow,
        ctx.path["incident_id"],
        body.draft(),
        JobActor.operator(ctx.user.user_id),
        origin=place_request(body.origin),
        destination=place_request(body.destination),
    )
    return job_out(view, ctx.now)


async def list_jobs(ctx: Ctx) -> JobPage:
    q: JobListQuery = ctx.query
    found = await queries.list_jobs(
        ctx.session,
        statuses=q.statuses(),
        kind=q.kind,
        incident_id=q.incident_id,
        provider_id=q.provider_id,
        client_id=q.client_id,
        oldest_first=q.order == "oldest",
        limit=q.page_size,
        offset=q.offset,
    )
    now = ctx.now
    items = [job_out(v, now) for v in found.items]
    return JobPage.model_construct(
        items=items, total=found.total, page=q.page, page_size=q.page_size
    )


async def get_job(ctx: Ctx) -> JobOut:
    return job_out(await queries.job(ctx.session, ctx.path["job_id"]), ctx.now)


async def patch_job(ctx: Ctx) -> JobOut:
    body: JobPatch = ctx.body
    view = await service.edit_job(
        ctx.uow,
        ctx.path["job_id"],
        body.values(),
        origin=place_request(body.origin),
        destination=place_request(body.destination),
    )
    return job_out(view, ctx.now)


MOVE_PERMISSIONS = {
    JobStatus.CANCELLED: P.OPERATIONS_CANCEL_JOB,
    JobStatus.CLOSED: P.CLOSING_CLOSE_JOBS,
}
"""Moves that need a permission of their own besides ``operations.dispatch``."""


async def change_status(ctx: Ctx) -> JobOut:
    body: StatusIn = ctx.body
    needed = MOVE_PERMISSIONS.get(body.to)
    if needed is not None and not ctx.user.can(needed):
        raise forbidden()
    view = await service.move_job(
        ctx.uow,
        ctx.path["job_id"],
        body.to,
        JobActor.operator(ctx.user.user_id, body.channel),
        provider_id=body.provider_id,
        cancellation_reason_id=body.cancellation_reason_id,
        note=body.note,
    )
    return job_out(view, ctx.now)


async def cancel_job(ctx: Ctx) -> JobOut:
    body: CancelIn = ctx.body
    view = await service.cancel_job(
        ctx.uow,
        ctx.path["job_id"],
        body.cancellation_reason_id,
        JobActor.operator(ctx.user.user_id),
        body.note,
    )
    return job_out(view, ctx.now)


MAX_TRACK_POINTS = 2_000
"""Fixes one answer of ``GET /jobs/{id}/track`` carries (the most recent)."""


class TrackPointOut(BaseModel):
    at: datetime
    lat: float
    lng: float
    provider_id: int


async def job_track(ctx: Ctx) -> list[TrackPointOut]:
    fixes = await queries.track(ctx.session, ctx.path["job_id"], MAX_TRACK_POINTS)
    return [TrackPointOut(at=f.at, lat=f.lat, lng=f.lng, provider_id=f.provider_id) for f in fixes]


async def job_timeline(ctx: Ctx) -> list[TimelineOut]:
    rows = await queries.timeline(ctx.session, ctx.path["job_id"])
    return [TimelineOut.model_validate(row) for row in rows]


OPERATIONS = [
    Operation(
        "POST",
        "/incidents/{incident_id:int}/jobs",
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
        "Jobs, newest first, filtered by status, incident, provider or client",
        TAG,
        permission=P.OPERATIONS_VIEW,
        query=JobListQuery,
        response=JobPage,
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
        "Move a job along its state machine (assign needs provider_id; cancel a reason and "
        "operations.cancel_job; close closing.close_jobs)",
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
        JOB + "/track",
        job_track,
        "The track of the job's provider while on it (the last 2,000 fixes), oldest first",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=list[TrackPointOut],
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
]
