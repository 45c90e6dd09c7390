"""After the accept: a job's arrival (promised, live ETA, late) and a provider's
scorecard (acceptance, on time, completion, ETA accuracy, with their counts)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from geo.distance import haversine_km
from operations import offering, scorecard
from operations.errors import NotFoundError, OfferConflictError
from operations.eta import arrival_facts
from operations.places import PlaceRole
from operations.tracking import TRACKED
from operations.tracks import APPROACHING
from registry.models import Provider
from registry.permissions import Permission
from server.api.core import Ctx, Operation

P = Permission


class ArrivalOut(BaseModel):
    job_id: int
    provider_id: int | None
    promised_at: datetime | None
    arrived_at: datetime | None
    arrival_source: str | None
    live_eta_minutes: float | None
    live_arrival_at: datetime | None
    late: bool


async def job_arrival(ctx: Ctx) -> ArrivalOut:
    job = await offering.get_job(ctx.session, ctx.path["job_id"])
    km = None
    reach = ctx.uow.reach
    if job.provider_id is not None and job.status in APPROACHING and reach is not None:
        at = await reach.position(job.provider_id)
        origin = offering.place_point(
            await offering.job_places(ctx.session, job.id), PlaceRole.ORIGIN
        )
        if at is not None and origin is not None:
            km = haversine_km(at.lat, at.lng, origin.lat, origin.lng)
    facts = arrival_facts(
        ctx.now, promised_at=job.promised_at, arrived_at=job.arrived_at, km_to_origin=km
    )
    return ArrivalOut(
        job_id=job.id,
        provider_id=job.provider_id,
        promised_at=facts.promised_at,
        arrived_at=facts.arrived_at,
        arrival_source=job.arrival_source,
        live_eta_minutes=facts.live_eta_minutes,
        live_arrival_at=facts.live_arrival_at,
        late=facts.late,
    )


class TrackingOut(BaseModel):
    job_id: int
    sent: bool
    revoked: bool


async def send_tracking(ctx: Ctx) -> TrackingOut:
    """Send (again) the requester's tracking link: a new link; the old one stops."""
    job = await offering.get_job(ctx.session, ctx.path["job_id"])
    if job.status not in TRACKED:
        raise OfferConflictError(
            "not_tracked", "O acompanhamento só existe com o prestador a caminho ou no local."
        )
    tracking = ctx.request.app.state.live.tracking
    row = await tracking.send(ctx.session, job)
    return TrackingOut(job_id=job.id, sent=row.status.value == "sent", revoked=False)


async def revoke_tracking(ctx: Ctx) -> TrackingOut:
    tracking = ctx.request.app.state.live.tracking
    job_id = ctx.path["job_id"]
    if not await tracking.revoke(ctx.session, job_id, ctx.user.user_id):
        raise NotFoundError("Link de acompanhamento")
    return TrackingOut(job_id=job_id, sent=False, revoked=True)


async def provider_scorecard(ctx: Ctx) -> scorecard.Scorecard:
    provider_id: int = ctx.path["provider_id"]
    if await ctx.session.get(Provider, provider_id) is None:
        raise NotFoundError("Prestador")
    window = ctx.resources.settings.scorecard_window_days
    return await scorecard.scorecard(ctx.session, provider_id, ctx.now, window)


OPERATIONS = [
    Operation(
        "POST",
        "/jobs/{job_id:int}/tracking",
        send_tracking,
        "Send the requester a new tracking link by SMS (the previous one stops working)",
        "dispatch",
        permission=P.OPERATIONS_DISPATCH,
        response=TrackingOut,
    ),
    Operation(
        "POST",
        "/jobs/{job_id:int}/tracking/revoke",
        revoke_tracking,
        "Revoke the requester's tracking link (it then answers 410)",
        "dispatch",
        permission=P.OPERATIONS_DISPATCH,
        response=TrackingOut,
    ),
    Operation(
        "GET",
        "/jobs/{job_id:int}/arrival",
        job_arrival,
        "The job's arrival: promised, live ETA from the provider's position, late or not",
        "dispatch",
        permission=P.OPERATIONS_VIEW,
        response=ArrivalOut,
    ),
    Operation(
        "GET",
        "/providers/{provider_id:int}/scorecard",
        provider_scorecard,
        "A provider's acceptance, on-time, completion and ETA accuracy, with their counts",
        "dispatch",
        permission=P.REGISTRY_VIEW,
        response=scorecard.Scorecard,
    ),
]
