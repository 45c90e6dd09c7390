"""Dispatch API (acionamento): a job's candidates with the channels each can take
now, offers by channel, the operator's answers (withdraw, confirm an ETA, record a
refusal heard on the phone), the offers' history, and the dispatch settings.

Each handler parses, calls :mod:`operations.dispatch` and renders; every change is
announced on the bus (``offer.created``, ``offer.status``, ``job.status``:
docs/dispatch.md).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from operations import auto_dispatch, dispatch, jobs, linking, offering, reaching, runs
from operations.dispatch_rules import (
    MAX_ATTEMPTS,
    MAX_BATCH_SIZE,
    MAX_ETA_MIN,
    MAX_OFFER_TIMEOUT_S,
    MAX_RADIUS_KM,
    MAX_RADIUS_STEPS,
    MAX_SCHEDULE_LEAD_MIN,
    MIN_OFFER_TIMEOUT_S,
    DispatchRules,
    check_rules,
    effective,
)
from operations.errors import NotFoundError
from operations.lifecycle import ActorKind, JobActor
from operations.models import DispatchRun, DispatchSettings, Job
from operations.offers import OfferStatus, WithdrawReason
from operations.service import offer_view_of
from operations.views import OfferView, RunView, run_view
from registry.enums import Channel
from registry.models import Client
from registry.permissions import Permission
from registry.schemas.common import Id, InModel, LongText
from server.api.candidates import MAX_CANDIDATES, CandidateOut, candidate_out
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.errors import ApiError

P = Permission
TAG = "dispatch"
JOB = "/jobs/{job_id:int}"
OFFER = "/offers/{offer_id:int}"
Eta = Annotated[int, Field(ge=1, le=MAX_ETA_MIN)]


class OfferIn(InModel):
    """Offer the job to a provider over a channel (``verbal``: the provider said yes
    on the phone; ``eta_minutes`` is then what it promised)."""

    provider_id: Id
    channel: Channel
    eta_minutes: Eta | None = None
    note: LongText = None


class RefuseIn(InModel):
    reason_id: Id
    note: LongText = None


class JobCandidatesQuery(InModel):
    radius_km: Annotated[float, Field(gt=0, le=MAX_RADIUS_KM)] = 20.0
    limit: Annotated[int, Field(ge=1, le=MAX_CANDIDATES)] = 20


class JobCandidateOut(CandidateOut):
    channels_now: list[Channel]  # what the dispatch buttons offer this moment


class JobCandidatesOut(BaseModel):
    candidates: list[JobCandidateOut]


class OfferLineOut(BaseModel):
    """One line of the offers' history of a job."""

    offer_id: Id
    provider_id: Id
    from_status: OfferStatus | None
    to_status: OfferStatus
    at: datetime
    actor: ActorKind
    channel: Channel
    actor_user_id: Id | None
    refusal_reason_id: Id | None
    withdraw_reason: WithdrawReason | None
    note: str | None


class DispatchSettingsIn(InModel):
    """Dispatch settings; for a client, an omitted or null field inherits the
    deployment's (docs/dispatch.md)."""

    auto_enabled: bool | None = None
    radius_steps_km: (
        Annotated[
            list[Annotated[int, Field(ge=1, le=MAX_RADIUS_KM)]], Field(max_length=MAX_RADIUS_STEPS)
        ]
        | None
    ) = None
    offer_timeout_s: (
        Annotated[int, Field(ge=MIN_OFFER_TIMEOUT_S, le=MAX_OFFER_TIMEOUT_S)] | None
    ) = None
    max_attempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH_SIZE)] | None = None
    channels: Annotated[list[Channel], Field(min_length=1, max_length=3)] | None = None
    partners_first: bool | None = None
    schedule_lead_min: Annotated[int, Field(ge=0, le=MAX_SCHEDULE_LEAD_MIN)] | None = None
    max_eta_min: Annotated[int, Field(ge=1, le=MAX_ETA_MIN)] | None = None


class DispatchSettingsOut(BaseModel):
    """The settings stored for this level (``stored``: null where it inherits) and
    those in force (``effective``)."""

    client_id: Id | None
    stored: dict[str, Any]
    effective: dict[str, Any]


def _operator(ctx: Ctx, channel: Channel | None = None) -> JobActor:
    return JobActor.operator(ctx.user.user_id, channel)


# -- candidates and offers ---------------------------------------------------------------


async def job_candidates(ctx: Ctx) -> JobCandidatesOut:
    q: JobCandidatesQuery = ctx.query
    job = await offering.get_job(ctx.session, ctx.path["job_id"])
    found = await reaching.find_for_job(ctx.uow, job, radius_km=q.radius_km, limit=q.limit)
    return JobCandidatesOut(
        candidates=[
            JobCandidateOut(**candidate_out(c.ranked).model_dump(), channels_now=c.channels_now)
            for c in found
        ],
    )


async def create_offer(ctx: Ctx) -> OfferView:
    body: OfferIn = ctx.body
    return await dispatch.offer_job(
        ctx.uow,
        ctx.path["job_id"],
        body.provider_id,
        body.channel,
        _operator(ctx, Channel.VERBAL if body.channel is Channel.VERBAL else None),
        eta_minutes=body.eta_minutes,
        note=body.note,
    )


async def job_offers(ctx: Ctx) -> list[OfferView]:
    session = ctx.session
    job = await offering.get_job(session, ctx.path["job_id"])
    return [
        await offer_view_of(session, o, job) for o in await offering.offers_of_job(session, job.id)
    ]


MAX_WAITING_OFFERS = 10_000
"""Offers one answer of ``GET /offers/waiting`` lists at most."""


async def waiting_offers(ctx: Ctx) -> list[OfferView]:
    session = ctx.session
    offers = await offering.offers_of_waiting_jobs(session, MAX_WAITING_OFFERS)
    ids = {o.job_id for o in offers}
    found = await session.execute(select(Job).where(Job.id.in_(ids)))
    by_id = {job.id: job for job in found.scalars()}
    places = await jobs.places_of(session, list(by_id))
    return [
        await offer_view_of(session, o, by_id[o.job_id], places.get(o.job_id, [])) for o in offers
    ]


async def offer_history(ctx: Ctx) -> list[OfferLineOut]:
    job = await offering.get_job(ctx.session, ctx.path["job_id"])
    rows = await offering.offer_history(ctx.session, job.id)
    return [OfferLineOut.model_validate(row, from_attributes=True) for row in rows]


async def get_offer(ctx: Ctx) -> OfferView:
    offer = await offering.get_offer(ctx.session, ctx.path["offer_id"])
    job = await offering.get_job(ctx.session, offer.job_id)
    return await offer_view_of(ctx.session, offer, job)


async def withdraw(ctx: Ctx) -> OfferView:
    return await dispatch.withdraw_offer(ctx.uow, ctx.path["offer_id"], _operator(ctx))


async def confirm(ctx: Ctx) -> OfferView:
    result = await dispatch.accept_offer(
        ctx.uow, ctx.path["offer_id"], _operator(ctx), confirmed=True
    )
    if result.offer is not None:
        return result.offer
    offer = await offering.get_offer(ctx.session, ctx.path["offer_id"])  # closed already
    job = await offering.get_job(ctx.session, offer.job_id)
    return await offer_view_of(ctx.session, offer, job)


async def refuse(ctx: Ctx) -> OfferView:
    body: RefuseIn = ctx.body
    return await dispatch.refuse_offer(
        ctx.uow,
        ctx.path["offer_id"],
        _operator(ctx, Channel.VERBAL),
        body.reason_id,
        note=body.note,
    )


# -- automatic dispatch ------------------------------------------------------------------


async def start_auto(ctx: Ctx) -> RunView:
    job = await jobs.locked_job(ctx.session, ctx.path["job_id"])
    offering.check_offerable(job)
    rules = await offering.rules_of_job(ctx.session, job)
    return await runs.start(ctx.uow, job, rules, user_id=ctx.user.user_id)


async def stop_auto(ctx: Ctx) -> RunView:
    view = await auto_dispatch.stop(ctx.uow, ctx.path["job_id"], ctx.user.user_id)
    if view is None:
        raise NotFoundError("Acionamento automático")
    return view


async def get_auto(ctx: Ctx) -> RunView:
    run = await ctx.session.get(DispatchRun, ctx.path["job_id"])
    if run is None:
        raise NotFoundError("Acionamento automático")
    return run_view(run)


# -- SMS delivery reports ---------------------------------------------------------------


class DeliveryReportIn(InModel):
    """An SMS provider's report on a message Acionar sent (its id as the provider
    gave it when it took the message)."""

    id: Annotated[str, Field(min_length=1, max_length=120)]
    delivered: bool
    detail: Annotated[str, Field(max_length=500)] | None = None


class DeliveryReportOut(BaseModel):
    matched: int


async def delivery_report(ctx: Ctx) -> DeliveryReportOut:
    expected = ctx.request.app.state.resources.settings.sms_report_token
    given = ctx.request.headers.get("x-acionar-token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "Token de relatório de entrega inválido.")
    body: DeliveryReportIn = ctx.body
    matched = await linking.delivery_report(
        ctx.session, body.id, body.delivered, body.detail, ctx.uow.now
    )
    return DeliveryReportOut(matched=matched)


# -- settings --------------------------------------------------------------------------------


async def _settings_row(ctx: Ctx, client_id: int | None) -> DispatchSettings | None:
    stmt = select(DispatchSettings).where(
        DispatchSettings.client_id.is_(None)
        if client_id is None
        else DispatchSettings.client_id == client_id
    )
    return (await ctx.session.execute(stmt)).scalar_one_or_none()


def _stored(row: DispatchSettings | None) -> dict[str, Any]:
    names = DispatchSettingsIn.model_fields
    return {name: (getattr(row, name) if row is not None else None) for name in names}


def _rules(rules: DispatchRules) -> dict[str, Any]:
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in ((n, getattr(rules, n)) for n in DispatchSettingsIn.model_fields)
    }


async def _settings_out(ctx: Ctx, client_id: int | None) -> DispatchSettingsOut:
    row = await _settings_row(ctx, client_id)
    rules = await offering.rules_for(ctx.session, client_id)
    return DispatchSettingsOut(client_id=client_id, stored=_stored(row), effective=_rules(rules))


async def _client(ctx: Ctx) -> int:
    client_id: Id = ctx.path["client_id"]
    if await ctx.session.get(Client, client_id) is None:
        raise NotFoundError("Cliente")
    return client_id


async def _put_settings(ctx: Ctx, client_id: int | None) -> DispatchSettingsOut:
    body: DispatchSettingsIn = ctx.body
    values = body.model_dump()
    deployment = _stored(await _settings_row(ctx, None)) if client_id is not None else None
    check_rules(effective(deployment, values))  # the result must hold together
    row = await _settings_row(ctx, client_id)
    if row is None:
        row = DispatchSettings(client_id=client_id)
        ctx.session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    await ctx.session.flush()
    return await _settings_out(ctx, client_id)


async def get_settings(ctx: Ctx) -> DispatchSettingsOut:
    return await _settings_out(ctx, None)


async def put_settings(ctx: Ctx) -> DispatchSettingsOut:
    return await _put_settings(ctx, None)


async def get_client_settings(ctx: Ctx) -> DispatchSettingsOut:
    return await _settings_out(ctx, await _client(ctx))


async def put_client_settings(ctx: Ctx) -> DispatchSettingsOut:
    return await _put_settings(ctx, await _client(ctx))


OPERATIONS = [
    Operation(
        "GET",
        JOB + "/candidates",
        job_candidates,
        "The job's candidates, ranked, with the channels each can take now",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        query=JobCandidatesQuery,
        response=JobCandidatesOut,
    ),
    Operation(
        "POST",
        JOB + "/offers",
        create_offer,
        "Offer the job to a provider over a channel (verbal: accepted at once)",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        body=OfferIn,
        body_kind=BodyKind.MODEL,
        response=OfferView,
        status=201,
    ),
    Operation(
        "GET",
        JOB + "/offers",
        job_offers,
        "The job's offers, oldest first",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=list[OfferView],
    ),
    Operation(
        "GET",
        "/offers/waiting",
        waiting_offers,
        "Every offer of the jobs waiting for a provider (the panel's attempts), oldest first",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=list[OfferView],
    ),
    Operation(
        "GET",
        JOB + "/offer-history",
        offer_history,
        "Every change of the job's offers, with actor, channel, time and reason",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=list[OfferLineOut],
    ),
    Operation(
        "GET", OFFER, get_offer, "One offer", TAG, permission=P.OPERATIONS_VIEW, response=OfferView
    ),
    Operation(
        "POST",
        OFFER + "/withdraw",
        withdraw,
        "Take an open offer back",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        response=OfferView,
    ),
    Operation(
        "POST",
        OFFER + "/confirm",
        confirm,
        "Confirm an accept whose ETA is above the client's maximum (assigns the job)",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        response=OfferView,
    ),
    Operation(
        "POST",
        OFFER + "/refuse",
        refuse,
        "Record a refusal the provider gave on the phone",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        body=RefuseIn,
        body_kind=BodyKind.MODEL,
        response=OfferView,
    ),
    Operation(
        "POST",
        JOB + "/auto-dispatch",
        start_auto,
        "Start (or restart) automatic dispatch of the job by its client's settings",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        response=RunView,
    ),
    Operation(
        "DELETE",
        JOB + "/auto-dispatch",
        stop_auto,
        "Stop the job's automatic dispatch (its open offers stay open)",
        TAG,
        permission=P.OPERATIONS_DISPATCH,
        response=RunView,
    ),
    Operation(
        "GET",
        JOB + "/auto-dispatch",
        get_auto,
        "The job's automatic dispatch: status, attempts, radius step, providers asked",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=RunView,
    ),
    Operation(
        "POST",
        "/sms/delivery-reports",
        delivery_report,
        "An SMS provider reports a message delivered or not (header X-Acionar-Token)",
        TAG,
        access=Access.PUBLIC,
        body=DeliveryReportIn,
        body_kind=BodyKind.MODEL,
        response=DeliveryReportOut,
        errors=(401,),
    ),
    Operation(
        "GET",
        "/dispatch-settings",
        get_settings,
        "The deployment's dispatch settings",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=DispatchSettingsOut,
    ),
    Operation(
        "PUT",
        "/dispatch-settings",
        put_settings,
        "Set the deployment's dispatch settings",
        TAG,
        permission=P.OPERATIONS_AUTO_DISPATCH_RULES,
        body=DispatchSettingsIn,
        body_kind=BodyKind.MODEL,
        response=DispatchSettingsOut,
    ),
    Operation(
        "GET",
        "/clients/{client_id:int}/dispatch-settings",
        get_client_settings,
        "A client's dispatch settings (its overrides and those in force)",
        TAG,
        permission=P.OPERATIONS_VIEW,
        response=DispatchSettingsOut,
    ),
    Operation(
        "PUT",
        "/clients/{client_id:int}/dispatch-settings",
        put_client_settings,
        "Set a client's dispatch overrides (null inherits the deployment's)",
        TAG,
        permission=P.OPERATIONS_AUTO_DISPATCH_RULES,
        body=DispatchSettingsIn,
        body_kind=BodyKind.MODEL,
        response=DispatchSettingsOut,
    ),
]
