"""Dispatch (acionamento): the use cases of offers, on the units of work of
:mod:`operations.service`.

What happens when a job is offered and answered, whatever the channel:

1. :func:`offer_job`: the operator (or automatic dispatch) offers the job to one
   provider over one channel. The job must await a provider; the provider must be
   active, list the job's service in its price table, take that channel, and be
   reachable over it now (``app``: its socket is connected; ``web``: the portal is
   open; ``link``: it has a phone or an e-mail). The offer tells the distance, the
   price from its price table and the expiry (the client's ``offer_timeout_s``).
   The job moves to ``dispatching``. ``offer.created`` goes out: the node holding
   the provider's socket or portal delivers it; a link offer is sent by SMS/e-mail
   once committed. ``verbal`` is different: the operator records that the provider
   accepted on the phone, so the offer is born accepted and the job assigned.
2. :func:`accept_offer`: under the job's lock, :func:`~operations.offers.judge_accept`
   decides (idempotent for the same provider; ``taken`` for any other; ``expired``
   past its time, and the offer is expired then and there; ``busy`` past the
   provider's ``max_active_jobs``; ``confirm`` for an ETA above the client's
   maximum). An accepted offer assigns the job to the provider and withdraws every
   other open offer of the job in the same transaction (their providers are told
   at once through ``offer.status``).
3. :func:`refuse_offer` (with a RefusalReason), :func:`withdraw_offer` (the
   operator), :func:`expire_due` (timer: expired offers, and app/portal offers no
   node delivered in time: ``failed``). When a job's last open offer closes without
   a winner the job returns to the queue (``open``).

Cancelling a job withdraws its open offers in the same transaction
(:func:`operations.service.settle_offers`), so nothing can accept it afterwards.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.addresses.records import location_of
from operations import jobs, offering, runs, service
from operations.dispatch_rules import DispatchRules
from operations.errors import IllegalTransitionError, NotFoundError, OfferConflictError
from operations.events import JOB_STATUS, OFFER_CREATED, OFFER_STATUS
from operations.lifecycle import AWAITING_PROVIDER, ActorKind, JobActor, JobStatus
from operations.models import Job, JobPlace, Offer
from operations.offering import LIVE_CHANNELS
from operations.offers import (
    OPEN,
    AcceptFacts,
    AcceptOutcome,
    OfferStatus,
    WithdrawReason,
    judge_accept,
)
from operations.places import PlaceRole
from operations.reaching import channels_now
from operations.service import (
    Operations,
    UnitOfWork,
    announce_job,
    announce_offer,
    offer_view_of,
    withdraw_offers,
)
from operations.views import JobView, OfferView, job_view
from registry.enums import Channel
from registry.models import Provider
from registry.points import Point

log = logging.getLogger("acionar.dispatch")

DELIVERY_TIMEOUT_S = 20
"""An app or portal offer that no node delivered within this fails (the provider's
socket went away between the check and the delivery)."""
SWEEP_BATCH = 200
"""Most offers one sweep expires (the next sweep takes the rest)."""
MAX_ETA_MINUTES = 1440


@dataclass(frozen=True, slots=True)
class AcceptResult:
    """An accept's answer: the outcome, the offer as it is now (None when it was
    closed already: nothing changed, nothing to show), and the job when the provider
    has it (with the requester's name and phone, which it now needs)."""

    outcome: AcceptOutcome
    offer: OfferView | None
    job: JobView | None = None


# -- offering ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offering:
    """A locked job about to be offered, with what each of its offers reads: the
    client's dispatch rules and the job's places (automatic dispatch reads them
    once a step, for its candidates and for every offer it makes)."""

    job: Job
    rules: DispatchRules
    places: Sequence[JobPlace]


async def prepare_offering(session: AsyncSession, job: Job) -> Offering:
    """The locked ``job`` ready to be offered: its rules and places read."""
    rules = await offering.rules_of_job(session, job)
    return Offering(job, rules, await offering.job_places(session, job.id))


@dataclass(frozen=True, slots=True)
class Known:
    """What the caller read of a provider a moment ago (a candidate of the same
    unit): the channels that reach it and where it counts."""

    channels: Sequence[Channel]
    at: Point | None


async def offer_job(
    uow: UnitOfWork,
    job_id: int,
    provider_id: int,
    channel: Channel,
    actor: JobActor,
    *,
    eta_minutes: int | None = None,
    note: str | None = None,
) -> OfferView:
    """Offer the job to a provider over ``channel`` (see the module's docstring).

    Raises:
        NotFoundError: no such job.
        InvalidInputError: no such provider, blocked, or not serving the service.
        OfferConflictError: the job does not await a provider (``not_awaiting``),
            the channel cannot reach the provider now (``channel_unavailable``), an
            offer to it is open (``already_offered``), it is at its limit of jobs
            (``busy``, verbal).
    """
    job = await jobs.locked_job(uow.session, job_id)
    offering.check_offerable(job)
    ready = await prepare_offering(uow.session, job)
    return await offer_prepared(
        uow, ready, provider_id, channel, actor, eta_minutes=eta_minutes, note=note
    )


async def offer_prepared(
    uow: UnitOfWork,
    ready: Offering,
    provider_id: int,
    channel: Channel,
    actor: JobActor,
    *,
    known: Known | None = None,
    eta_minutes: int | None = None,
    note: str | None = None,
) -> OfferView:
    """:func:`offer_job` for a job already locked and read (:func:`prepare_offering`);
    ``known``: the provider as the caller's candidate search saw it this moment
    (else its channels and position are read now). Raises as :func:`offer_job`."""
    session, job, places = uow.session, ready.job, ready.places
    offering.check_offerable(job)
    provider, price_row = await offering.check_provider(session, job, provider_id, channel)
    if known is None:
        reachable = (await channels_now(uow, [provider]))[provider.id]
    else:
        reachable = offering.reachable_channels(provider, set(known.channels) & LIVE_CHANNELS)
    if channel not in reachable:
        raise OfferConflictError(
            "channel_unavailable",
            f"{provider.name} não pode receber a oferta por {channel.value} agora.",
        )
    terms = offering.offer_terms(
        now=uow.now,
        timeout_s=ready.rules.offer_timeout_s,
        provider_at=known.at if known and known.at else await _position(uow, provider),
        origin=offering.place_point(places, PlaceRole.ORIGIN),
        destination=offering.place_point(places, PlaceRole.DESTINATION),
        price_row=price_row,
    )
    verbal = channel is Channel.VERBAL
    if verbal:  # locks: the job's (held), its offers', then the provider's
        await _withdraw_others(uow, job, actor, keep=None, places=places)
        await _check_capacity(session, provider.id)
    change = await offering.create_offer(
        session,
        job,
        provider.id,
        channel,
        terms,
        now=uow.now,
        actor=actor,
        accepted=verbal,
        eta_minutes=eta_minutes,
        note=note,
    )
    if verbal:
        operator = JobActor.operator(actor.user_id, Channel.VERBAL)
        await _assign(uow, job, change.offer, operator, places)
    elif job.status is not JobStatus.DISPATCHING:
        moved = await jobs.move_locked(
            session, job, JobStatus.DISPATCHING, now=uow.now, actor=actor, note=note
        )
        await announce_job(uow, moved, JOB_STATUS, places)
    view = await announce_offer(uow, change.offer, job, OFFER_CREATED, places)
    if channel is Channel.LINK and uow.links is not None:
        links, offer_id = uow.links, change.offer.id

        async def send_link() -> None:
            await links.send_offer(offer_id)

        uow.after_commit(send_link)
    return view


async def _position(uow: UnitOfWork, provider: Provider) -> Point | None:
    if uow.reach is not None:
        live = await uow.reach.position(provider.id)
        if live is not None:
            return live
    return location_of(provider.base_location)


async def _check_capacity(session: AsyncSession, provider_id: int) -> None:
    provider = await offering.locked_provider(session, provider_id)
    if await offering.active_jobs(session, provider_id) >= provider.max_active_jobs:
        raise OfferConflictError("busy", AcceptOutcome.BUSY.message)


# -- answers -----------------------------------------------------------------------------


async def _own_offer(uow: UnitOfWork, offer_id: int, actor: JobActor) -> Offer:
    """The offer as committed. A provider sees only its own offers: another's is
    "not found"."""
    first = await offering.get_offer(uow.session, offer_id)
    if actor.kind is ActorKind.PROVIDER and first.provider_id != actor.provider_id:
        raise NotFoundError("Oferta")
    return first


async def _offer_for(uow: UnitOfWork, offer_id: int, actor: JobActor) -> tuple[Job, Offer]:
    """The job (locked) and the offer (locked), in that order."""
    first = await _own_offer(uow, offer_id, actor)
    job = await jobs.locked_job(uow.session, first.job_id)
    return job, await offering.locked_offer(uow.session, offer_id)


def _closed(offer: Offer) -> bool:
    """Refused, expired, withdrawn or failed: nothing will open it again."""
    return offer.status not in OPEN and offer.status is not OfferStatus.ACCEPTED


def _closed_outcome(offer: Offer, job: Job) -> AcceptOutcome:
    if offer.status is OfferStatus.EXPIRED:
        return AcceptOutcome.EXPIRED
    return AcceptOutcome.CLOSED if job.status in AWAITING_PROVIDER else AcceptOutcome.TAKEN


def _check_version(offer: Offer, expected: int | None) -> None:
    if expected is not None and offer.version != expected:
        raise OfferConflictError(
            "stale", "Este link já foi usado ou a oferta mudou. Abra o link mais recente."
        )


async def accept_offer(
    uow: UnitOfWork,
    offer_id: int,
    actor: JobActor,
    *,
    eta_minutes: int | None = None,
    expected_version: int | None = None,
    confirmed: bool = False,
) -> AcceptResult:
    """The provider (or the operator confirming an ETA, ``confirmed``) accepts.

    Returns the outcome; only ``accepted`` changes the job. An ``expired`` outcome
    expires the offer in this transaction (commit it).

    Raises:
        NotFoundError: no such offer (or not this provider's).
        OfferConflictError: ``stale``: ``expected_version`` (a link's) is not the
            offer's any more.
    """
    session = uow.session
    first = await _own_offer(uow, offer_id, actor)
    _check_version(first, expected_version)  # versions only grow: stale stays stale
    if _closed(first):
        # Closed for good (the losers of a race, a late tap): answered from what is
        # committed, without queueing for the job's lock.
        job = await offering.get_job(session, first.job_id)
        return AcceptResult(_closed_outcome(first, job), None)
    job = await jobs.locked_job(session, first.job_id)
    offer = await offering.locked_offer(session, offer_id)
    _check_version(offer, expected_version)
    if _closed(offer):
        return AcceptResult(_closed_outcome(offer, job), None)
    provider = await offering.locked_provider(session, offer.provider_id)
    rules = await offering.rules_of_job(session, job)
    eta = eta_minutes if eta_minutes is not None else offer.eta_minutes
    facts = AcceptFacts(
        offer_status=offer.status,
        expires_at=offer.expires_at,
        job_status=job.status,
        job_provider_id=job.provider_id,
        provider_id=offer.provider_id,
        provider_active_jobs=await offering.active_jobs(session, offer.provider_id),
        provider_max_jobs=provider.max_active_jobs,
        eta_minutes=eta,
        max_eta_minutes=rules.max_eta_min,
        confirmed=confirmed,
    )
    outcome = judge_accept(facts, uow.now)
    if outcome is AcceptOutcome.ACCEPTED and offer.status is OfferStatus.ACCEPTED:
        view = await offer_view_of(session, offer, job)
        return AcceptResult(outcome, view, await _job_view(uow, job))
    if outcome is AcceptOutcome.EXPIRED and offer.status in OPEN:
        return AcceptResult(outcome, await _close(uow, job, offer, OfferStatus.EXPIRED))
    if outcome is AcceptOutcome.CONFIRM and await runs.running(session, job.id):
        offer.eta_minutes = eta  # automatic dispatch moves on rather than wait
        view = await _close(
            uow, job, offer, OfferStatus.WITHDRAWN, withdraw_reason=WithdrawReason.ETA_TOO_LONG
        )
        return AcceptResult(outcome, view)
    if outcome is AcceptOutcome.CONFIRM:
        offer.eta_minutes = eta
        offer.awaiting_confirmation = True
        offer.version += 1
        await session.flush()
        return AcceptResult(outcome, await announce_offer(uow, offer, job, OFFER_STATUS))
    if outcome is not AcceptOutcome.ACCEPTED:
        return AcceptResult(outcome, await offer_view_of(session, offer, job))
    change = await offering.move_offer(
        session, offer, OfferStatus.ACCEPTED, now=uow.now, actor=actor, eta_minutes=eta
    )
    places = await offering.job_places(session, job.id)
    await _withdraw_others(uow, job, actor, keep=offer.id, places=places)
    assigned = await _assign(uow, job, offer, _assigning(actor, offer), places)
    view = await announce_offer(uow, change.offer, job, OFFER_STATUS, places)
    return AcceptResult(outcome, view, assigned)


def _assigning(actor: JobActor, offer: Offer) -> JobActor:
    if actor.kind is ActorKind.PROVIDER:
        return actor
    return JobActor(actor.kind, actor.user_id, actor.provider_id, offer.channel)


async def _assign(
    uow: UnitOfWork, job: Job, offer: Offer, actor: JobActor, places: Sequence[JobPlace]
) -> JobView:
    """Give the job to the offer's provider; it promised to arrive in its ETA (or,
    without one, in what the ETA model gives for the distance it was told)."""
    change = await jobs.move_locked(
        uow.session,
        job,
        JobStatus.ASSIGNED,
        now=uow.now,
        actor=actor,
        provider_id=offer.provider_id,
    )
    minutes = offer.eta_minutes
    if minutes is None and offer.distance_km is not None:
        minutes = math.ceil(offering.ROAD.eta_minutes(offer.distance_km))
    job.promised_at = None if minutes is None else uow.now + timedelta(minutes=minutes)
    job.arrived_at = job.arrival_source = None
    await runs.end_run(uow, job.id, JobStatus.ASSIGNED.label)
    return await announce_job(uow, change, JOB_STATUS, places)


async def _job_view(uow: UnitOfWork, job: Job) -> JobView:
    places = await offering.job_places(uow.session, job.id)
    return job_view(job, places)


async def _withdraw_others(
    uow: UnitOfWork,
    job: Job,
    actor: JobActor,
    *,
    keep: int | None,
    places: Sequence[JobPlace] | None = None,
) -> None:
    others = [o for o in await offering.open_offers(uow.session, job.id) if o.id != keep]
    await withdraw_offers(uow, job, others, actor, WithdrawReason.TAKEN, places)


async def refuse_offer(
    uow: UnitOfWork,
    offer_id: int,
    actor: JobActor,
    reason_id: int,
    *,
    expected_version: int | None = None,
    note: str | None = None,
) -> OfferView:
    """The provider refuses (or the operator records a refusal heard on the phone).

    Raises:
        NotFoundError, InvalidInputError (unknown reason), OfferConflictError
        (``offer_closed``: not open; ``stale``: an old link).
    """
    job, offer = await _offer_for(uow, offer_id, actor)
    _check_version(offer, expected_version)
    if offer.status not in OPEN:
        raise OfferConflictError("offer_closed", AcceptOutcome.CLOSED.message)
    return await _close(uow, job, offer, OfferStatus.REFUSED, actor, reason_id=reason_id, note=note)


async def withdraw_offer(uow: UnitOfWork, offer_id: int, actor: JobActor) -> OfferView:
    """The operator takes an open offer back."""
    job, offer = await _offer_for(uow, offer_id, actor)
    if offer.status not in OPEN:
        raise OfferConflictError("offer_closed", AcceptOutcome.CLOSED.message)
    return await _close(uow, job, offer, OfferStatus.WITHDRAWN, actor)


async def _close(
    uow: UnitOfWork,
    job: Job,
    offer: Offer,
    target: OfferStatus,
    actor: JobActor | None = None,
    *,
    reason_id: int | None = None,
    failure: str | None = None,
    note: str | None = None,
    withdraw_reason: WithdrawReason = WithdrawReason.OPERATOR,
) -> OfferView:
    """Close an open offer without a winner; automatic dispatch steps again, or the
    job goes back to the queue when it was its last open offer."""
    who = actor or JobActor.system()
    change = await offering.move_offer(
        uow.session,
        offer,
        target,
        now=uow.now,
        actor=who,
        refusal_reason_id=reason_id,
        withdraw_reason=withdraw_reason if target is OfferStatus.WITHDRAWN else None,
        failure=failure,
        note=note,
    )
    view = await announce_offer(uow, change.offer, job, OFFER_STATUS)
    if await runs.wake_run(uow, job.id):
        return view  # automatic dispatch takes the next step
    if offering.back_to_queue(job) and not await offering.open_offers(uow.session, job.id):
        moved = await jobs.move_locked(
            uow.session,
            job,
            JobStatus.OPEN,
            now=uow.now,
            actor=JobActor.system(),
            note="Nenhuma oferta aberta",
        )
        await announce_job(uow, moved, JOB_STATUS)
    return view


# -- delivery and timers -------------------------------------------------------------------


async def offer_delivered(uow: UnitOfWork, offer_id: int) -> OfferView | None:
    """The provider's device, the portal or the message gateway has the offer
    (``pending`` → ``delivered``); None when it is no longer pending."""
    first = await uow.session.get(Offer, offer_id)
    if first is None or first.status is not OfferStatus.PENDING:
        return None
    job = await jobs.locked_job(uow.session, first.job_id)
    offer = await offering.locked_offer(uow.session, offer_id)
    if offer.status is not OfferStatus.PENDING:
        return None
    change = await offering.move_offer(
        uow.session, offer, OfferStatus.DELIVERED, now=uow.now, actor=JobActor.system()
    )
    return await announce_offer(uow, change.offer, job, OFFER_STATUS)


async def offer_failed(uow: UnitOfWork, offer_id: int, failure: str) -> OfferView | None:
    """The channel could not deliver the offer (``pending`` → ``failed``)."""
    first = await uow.session.get(Offer, offer_id)
    if first is None or first.status is not OfferStatus.PENDING:
        return None
    job = await jobs.locked_job(uow.session, first.job_id)
    offer = await offering.locked_offer(uow.session, offer_id)
    if offer.status is not OfferStatus.PENDING:
        return None
    return await _close(uow, job, offer, OfferStatus.FAILED, failure=failure[:500])


async def _due(session: AsyncSession, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(offer id, job id) of open offers past their expiry, and of live-channel
    offers still pending past the delivery timeout."""
    undelivered = now - timedelta(seconds=DELIVERY_TIMEOUT_S)
    stmt = (
        select(Offer.id, Offer.job_id)
        .where(
            Offer.status.in_(OPEN),
            (Offer.expires_at <= now)
            | (
                (Offer.status == OfferStatus.PENDING)
                & Offer.channel.in_(offering.LIVE_CHANNELS)
                & (Offer.created_at <= undelivered)
            ),
        )
        .order_by(Offer.expires_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in await session.execute(stmt)]


async def expire_due(ops: Operations, *, limit: int = SWEEP_BATCH) -> int:
    """Expire the offers whose time ran out and fail the undelivered ones, each in
    its own unit of work; a job another node holds is left for the next sweep
    (``SKIP LOCKED``). Returns how many offers were closed."""
    async with ops.sessions() as session:
        due = await _due(session, ops.clock.now(), limit)
    closed = 0
    for offer_id, job_id in due:
        async with ops.unit() as uow:
            closed += await _expire_one(uow, offer_id, job_id)
    return closed


async def _expire_one(uow: UnitOfWork, offer_id: int, job_id: int) -> int:
    stmt = select(Job).where(Job.id == job_id).with_for_update(skip_locked=True)
    job = (await uow.session.execute(stmt)).scalar_one_or_none()
    if job is None:
        return 0  # another node is on this job: the next sweep sees what it did
    offer = await offering.locked_offer(uow.session, offer_id)
    if offer.status not in OPEN:
        return 0
    if offer.expires_at <= uow.now:
        await _close(uow, job, offer, OfferStatus.EXPIRED)
        return 1
    undelivered = uow.now - timedelta(seconds=DELIVERY_TIMEOUT_S)
    if offer.status is OfferStatus.PENDING and offer.created_at <= undelivered:
        failure = f"não entregue pelo canal {offer.channel.value} em {DELIVERY_TIMEOUT_S} s"
        await _close(uow, job, offer, OfferStatus.FAILED, failure=failure)
        return 1
    return 0


# -- provider's moves ------------------------------------------------------------------------

PROVIDER_MOVES = frozenset(
    {JobStatus.EN_ROUTE, JobStatus.ON_SITE, JobStatus.IN_TRANSIT, JobStatus.COMPLETED}
)
"""The statuses a provider reports on its own job."""


async def provider_move(
    uow: UnitOfWork, job_id: int, target: JobStatus, actor: JobActor, *, note: str | None = None
) -> JobView:
    """The provider reports a status of its job (app, portal, link).

    Raises:
        NotFoundError: no such job, or not this provider's.
        IllegalTransitionError: not a status a provider reports, or not from here.
    """
    job = await jobs.locked_job(uow.session, job_id)
    if job.provider_id is None or job.provider_id != actor.provider_id:
        raise NotFoundError("Atendimento")
    if target not in PROVIDER_MOVES:
        raise IllegalTransitionError(job.status, target)
    return await service.move_job(uow, job.id, target, actor, note=note)
