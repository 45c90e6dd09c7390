"""The application layer: the one place where an incident or a job changes.

What happens when a job moves, whoever moves it (an operator's HTTP request, a
provider's app on its socket, a signed link, a timer):

1. The caller opens a **unit of work** (:meth:`Operations.unit`, or
   :meth:`Operations.joined` inside a transaction it already holds, as the HTTP
   API does): one PostgreSQL transaction, one instant (``uow.now``, from the
   :class:`~operations.gateways.Clock`), the events it emits and what must happen
   once it commits.
2. It calls a use case below with the actor (:class:`~operations.lifecycle.JobActor`:
   operator, provider or system, and the dispatch channel). The use case applies the
   rules (:mod:`operations.jobs`, :mod:`operations.lifecycle`, coverage, SLA),
   locking the job's row, and writes the change with its timeline line.
3. It emits the events that announce the change (:mod:`operations.events`): durable
   ones go to the outbox **in the same transaction**, so the news commits with the
   change or not at all; the outbox relay publishes them at least once.
4. After the commit, the unit's hooks run: the relay is kicked (events go out at
   once) and the providers' busy flags in Redis are set. A hook that fails for want
   of Redis is logged, never raised: the change is committed and the flags are
   rebuilt at start.

Errors are :mod:`operations.errors`; nothing is written when one is raised.

Offers (dispatch) are use cases of :mod:`operations.dispatch`, on the same units
of work: offer a job, accept (exactly one winner), refuse, expire, withdraw. A job
that moves here out of the dispatch queue (assigned, cancelled) withdraws its
open offers in the same transaction, and one that goes back to the queue after an
accept releases the accepted offer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.addresses import Place
from geo.catalogue import ProviderEntry
from geo.source import Presence
from geo.topn import TopNResult
from operations import incidents, jobs, offering, outbox, runs
from operations.candidates import CandidateRequest
from operations.errors import OfferConflictError, OperationsError
from operations.events import (
    INCIDENT_UPDATED,
    JOB_CREATED,
    JOB_STATUS,
    JOB_UPDATED,
    OFFER_STATUS,
    IncidentEvent,
    JobEvent,
    OfferEvent,
)
from operations.gateways import Clock
from operations.incidents import IncidentDraft
from operations.jobs import Change, JobDraft, JobRules
from operations.lifecycle import (
    AWAITING_PROVIDER,
    WITH_PROVIDER,
    ActorKind,
    JobActor,
    JobStatus,
    can_move,
)
from operations.models import Incident, Job, JobPlace, Offer
from operations.offers import OfferStatus, WithdrawReason, withdraw_reason_for
from operations.places import PlaceRequest, PlaceRole, resolve_place
from operations.tracks import busy_providers, sync_busy
from operations.views import (
    IncidentView,
    JobView,
    OfferView,
    incident_view,
    job_view,
    offer_brief,
    offer_view,
)
from realtime.events import EventType, P
from registry.enums import Channel
from registry.points import Point

log = logging.getLogger("acionar.operations")

DEFAULT_RULES = JobRules()

AfterCommit = Callable[[], Awaitable[None]]
"""Work to do once the unit's transaction has committed."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The deployment's settings that the use cases apply.

    Attributes:
        rules: due times and date limits of new jobs.
        allow_outside_brazil: accept places outside Brazil.
    """

    rules: JobRules = DEFAULT_RULES
    allow_outside_brazil: bool = False


class BusyFlags(Protocol):
    """Where candidate search learns which providers are on a job
    (:class:`realtime.store.LiveStore`)."""

    async def set_busy(self, provider_id: int, busy: bool) -> None: ...


class Reach(Protocol):
    """What dispatch knows of providers live (:class:`server.live.Live` answers from
    Redis): which channels can reach them this moment, and where they are."""

    async def live_channels(self, provider_ids: Collection[int]) -> dict[int, set[Channel]]:
        """Per provider, the live channels that reach it now: ``app`` (its socket is
        connected), ``web`` (the portal is open)."""
        ...

    async def position(self, provider_id: int) -> Point | None:
        """The provider's latest fresh position, or None."""
        ...


class CandidateSource(Protocol):
    """Ranked candidates for a job (:class:`operations.candidates.CandidateFinder`)."""

    async def find(
        self, session: AsyncSession, request: CandidateRequest, *, presence: Presence | None = None
    ) -> TopNResult: ...

    async def entries(self, provider_ids: Sequence[int]) -> list[ProviderEntry]:
        """The providers' static facts as the search has them (channels, contacts)."""
        ...

    async def has_partners(self, client_id: int, service_type_id: int) -> bool:
        """Whether the client has a partner serving the service type."""
        ...


class OfferLinks(Protocol):
    """Sends an offer's signed link by SMS and/or e-mail
    (:class:`operations.linking.LinkSender`)."""

    async def send_offer(self, offer_id: int) -> None: ...


class TrackingLinks(Protocol):
    """Sends the requester the tracking link (:class:`operations.tracking.Tracking`)."""

    async def send_tracking(self, job_id: int) -> None: ...


class UnitOfWork:
    """One transaction, its instant, the events it emits and its after-commit hooks.

    Use cases take one; callers get one from :class:`Operations`.
    """

    def __init__(
        self,
        session: AsyncSession,
        now: datetime,
        operations: Operations,
        hooks: list[AfterCommit],
    ) -> None:
        self.session = session
        self.now = now
        self.policy = operations.policy
        self.busy = operations.busy
        self.reach = operations.reach
        self.links = operations.links
        self.candidates = operations.candidates
        self.tracking = operations.tracking
        self._kick = operations.kick
        self._hooks = hooks
        self._kicking = False

    def emit(self, event: EventType[P], payload: P) -> None:
        """Announce ``payload`` once the transaction commits: a durable event goes to
        the outbox in this transaction and the relay is kicked after the commit."""
        outbox.emit(self.session, event, payload)
        if not self._kicking and self._kick is not None:
            self._kicking = True
            kick = self._kick

            async def relay_now() -> None:
                kick()

            self._hooks.append(relay_now)

    def after_commit(self, hook: AfterCommit) -> None:
        """Run ``hook`` once the transaction has committed (not if it rolls back)."""
        self._hooks.append(hook)


async def run_after_commit(hooks: list[AfterCommit]) -> None:
    """Run a committed unit's hooks in order; Redis being down is logged, not raised
    (what they write to Redis is rebuilt from PostgreSQL)."""
    for hook in hooks:
        try:
            await hook()
        except (RedisError, OSError) as exc:
            name = getattr(hook, "__name__", hook)
            log.warning("after commit: %s skipped (Redis unavailable: %s)", name, exc)
        except (SQLAlchemyError, OperationsError) as exc:
            # The change is committed: what follows it (an SMS, a link) is retried by
            # its own timer or by the operator, never by failing the request.
            name = getattr(hook, "__name__", hook)
            log.warning("after commit: %s failed (%s)", name, exc)


class Operations:
    """The application layer of one process: how to open units of work, and the
    seams they use (clock, policy, busy flags, the outbox relay's kick, what is
    known of providers live, the sender of offer links)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        policy: Policy,
        busy: BusyFlags | None = None,
        kick: Callable[[], None] | None = None,
        reach: Reach | None = None,
        links: OfferLinks | None = None,
        candidates: CandidateSource | None = None,
        tracking: TrackingLinks | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.policy = policy
        self.busy = busy
        self.kick = kick
        self.reach = reach
        self.links = links
        self.candidates = candidates
        self.tracking = tracking

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work in a transaction of its own, committed when the block ends
        (rolled back if it raises), then its hooks run."""
        hooks: list[AfterCommit] = []
        async with self.sessions() as session, session.begin():
            yield self.joined(session, hooks)
        await run_after_commit(hooks)

    def joined(self, session: AsyncSession, hooks: list[AfterCommit]) -> UnitOfWork:
        """A unit of work in the caller's transaction: the caller commits, then runs
        ``hooks`` with :func:`run_after_commit`."""
        return UnitOfWork(session, self.clock.now(), self, hooks)


# -- use cases ----------------------------------------------------------------------


async def open_incident(uow: UnitOfWork, draft: IncidentDraft, actor: JobActor) -> IncidentView:
    """Open an incident (Evento) for a client's beneficiary or vehicle."""
    incident = await incidents.open_incident(
        uow.session, draft, actor_user_id=actor.user_id, now=uow.now
    )
    view = incident_view(incident)
    uow.emit(INCIDENT_UPDATED, IncidentEvent(incident=view))
    return view


async def register_job(
    uow: UnitOfWork,
    incident_id: int,
    draft: JobDraft,
    actor: JobActor,
    *,
    origin: PlaceRequest | None = None,
    destination: PlaceRequest | None = None,
) -> JobView:
    """Register a job (Atendimento) in the incident, its places resolved from the
    requests (``draft``'s own places are replaced by them).

    Raises:
        NotFoundError, InvalidInputError, CoverageRefusedError.
    """
    incident = await incidents.get_incident(uow.session, incident_id)
    places = await _places(uow, incident, origin, destination)
    draft = dataclasses.replace(
        draft, origin=places.get(PlaceRole.ORIGIN), destination=places.get(PlaceRole.DESTINATION)
    )
    change = await jobs.register_job(
        uow.session, incident.id, draft, actor=actor, now=uow.now, rules=uow.policy.rules
    )
    view = await announce_job(uow, change, JOB_CREATED)
    uow.emit(INCIDENT_UPDATED, IncidentEvent(incident=incident_view(incident)))
    await runs.start_if_enabled(uow, change.job)
    return view


async def edit_job(
    uow: UnitOfWork,
    job_id: int,
    values: dict[str, Any],
    *,
    origin: PlaceRequest | None = None,
    destination: PlaceRequest | None = None,
) -> JobView:
    """Change a job's requester, notes, times or places while it is not done.

    Raises:
        NotFoundError, InvalidInputError.
    """
    job = await jobs.locked_job(uow.session, job_id)
    incident = await incidents.get_incident(uow.session, job.incident_id)
    places = await _places(uow, incident, origin, destination)
    change = await jobs.edit_job(
        uow.session, job.id, values, places, now=uow.now, rules=uow.policy.rules
    )
    return await announce_job(uow, change, JOB_UPDATED)


async def move_job(
    uow: UnitOfWork,
    job_id: int,
    target: JobStatus,
    actor: JobActor,
    *,
    provider_id: int | None = None,
    cancellation_reason_id: int | None = None,
    note: str | None = None,
) -> JobView:
    """Move a job along its state machine (``assigned`` needs ``provider_id``,
    ``cancelled`` a reason; no other move takes a provider).

    Assigning by hand records what an operator heard (on the phone, unless
    ``actor.channel`` says otherwise): the provider must be one a dispatch over
    that channel could reach now (:func:`check_assignable`).

    Raises:
        NotFoundError, IllegalTransitionError, CancellationReasonRequiredError,
        InvalidInputError, OfferConflictError (``channel_unavailable``).
    """
    job = await jobs.locked_job(uow.session, job_id)
    if (
        target is JobStatus.ASSIGNED
        and provider_id is not None
        and can_move(job.kind, job.status, target)  # else move_locked says why not
    ):
        actor = await check_assignable(uow, job, provider_id, actor)
    change = await jobs.move_locked(
        uow.session,
        job,
        target,
        now=uow.now,
        actor=actor,
        provider_id=provider_id,
        cancellation_reason_id=cancellation_reason_id,
        note=note,
    )
    await settle_offers(uow, change, actor)
    if target is JobStatus.EN_ROUTE and uow.tracking is not None:
        tracking, job_id = uow.tracking, change.job.id

        async def send_tracking() -> None:
            await tracking.send_tracking(job_id)

        uow.after_commit(send_tracking)
    if target is JobStatus.ON_SITE and change.job.arrived_at is None:
        source = (
            ArrivalSource.PROVIDER if actor.kind is ActorKind.PROVIDER else ArrivalSource.OPERATOR
        )
        change.job.arrived_at, change.job.arrival_source = uow.now, source.value
    return await announce_job(uow, change, JOB_STATUS)


class ArrivalSource(enum.StrEnum):
    """How a job's arrival on site was known."""

    GEOFENCE = "geofence"  # the provider's fixes stayed at the origin
    PROVIDER = "provider"  # the provider reported on_site
    OPERATOR = "operator"  # the operator moved it on site


async def record_arrival(
    uow: UnitOfWork, job_id: int, at: datetime, source: ArrivalSource
) -> JobView | None:
    """The provider arrived at the job's origin at ``at`` (first news wins); None
    when the arrival was known already or the job has no provider on it."""
    job = await jobs.locked_job(uow.session, job_id)
    if job.arrived_at is not None or job.status not in WITH_PROVIDER:
        return None
    job.arrived_at, job.arrival_source = min(at, uow.now), source.value
    await uow.session.flush()
    return await announce_job(uow, Change(job, None, job.provider_id), JOB_UPDATED)


async def check_assignable(
    uow: UnitOfWork, job: Job, provider_id: int, actor: JobActor
) -> JobActor:
    """Whether the operator may give the (locked) ``job`` to ``provider_id`` by hand,
    over ``actor.channel`` (``verbal`` when it names none): by dispatch's rules, the
    provider is active, its price table lists the job's service, it takes that
    channel and the channel reaches it now (:func:`offering.reachable_channels`).
    Returns the actor with that channel, as the timeline records it.

    Raises:
        InvalidInputError: no such provider, blocked, or not serving the service.
        OfferConflictError: ``channel_unavailable``.
    """
    channel = actor.channel or Channel.VERBAL
    provider, _ = await offering.check_provider(
        uow.session, job, provider_id, channel, open_offer_ok=True
    )
    live: dict[int, set[Channel]] = {}
    if uow.reach is not None and channel in offering.LIVE_CHANNELS:
        live = await uow.reach.live_channels([provider.id])
    if channel not in offering.reachable_channels(provider, live.get(provider.id, set())):
        raise OfferConflictError(
            "channel_unavailable",
            f"{provider.name} não pode ser acionado por {channel.value} agora.",
        )
    return dataclasses.replace(actor, channel=channel)


async def assign_job(
    uow: UnitOfWork, job_id: int, provider_id: int, actor: JobActor, note: str | None = None
) -> JobView:
    """Give the job to a provider by hand (the operator's verbal dispatch): see
    :func:`move_job`."""
    return await move_job(
        uow, job_id, JobStatus.ASSIGNED, actor, provider_id=provider_id, note=note
    )


async def cancel_job(
    uow: UnitOfWork, job_id: int, reason_id: int, actor: JobActor, note: str | None = None
) -> JobView:
    """Cancel a job with a cancellation reason."""
    return await move_job(
        uow, job_id, JobStatus.CANCELLED, actor, cancellation_reason_id=reason_id, note=note
    )


# -- steps ------------------------------------------------------------------------------


async def _places(
    uow: UnitOfWork,
    incident: Incident,
    origin: PlaceRequest | None,
    destination: PlaceRequest | None,
) -> dict[PlaceRole, Place]:
    resolved: dict[PlaceRole, Place] = {}
    for role, request in ((PlaceRole.ORIGIN, origin), (PlaceRole.DESTINATION, destination)):
        if request is not None:
            resolved[role] = await resolve_place(
                uow.session,
                request,
                role,
                incident,
                allow_outside_brazil=uow.policy.allow_outside_brazil,
            )
    return resolved


async def announce_job(
    uow: UnitOfWork,
    change: Change,
    event: EventType[JobEvent],
    places: Sequence[JobPlace] | None = None,
) -> JobView:
    """The job's view as committed, emitted as ``event`` (``places``: the job's, if
    loaded); after a status change, the busy flags of the providers it concerns."""
    session = uow.session
    job = change.job
    if sa_inspect(job).expired_attributes:  # columns the database set (a new row's)
        await session.refresh(job)
    if places is None:
        places = await offering.job_places(session, job.id)
    view = job_view(job, places)
    uow.emit(event, JobEvent(incident_id=view.incident_id, job=view))
    if change.entry is not None:
        on_job = job.provider_id if job.status in WITH_PROVIDER else None
        await _flag_busy(uow, {change.provider_before, job.provider_id}, on_job)
    return view


async def settle_offers(uow: UnitOfWork, change: Change, actor: JobActor) -> None:
    """After a job moved: withdraw its open offers when it left the dispatch queue
    (assigned otherwise, cancelled, completed), and release the accepted offer when
    it went back to the queue (the provider gave up, the operator re-dispatches)."""
    entry = change.entry
    if entry is None:
        return
    job = change.job
    if entry.from_status in WITH_PROVIDER and entry.to_status not in AWAITING_PROVIDER:
        return  # the assignment closed its offers and its run already: nothing to read
    if entry.to_status not in AWAITING_PROVIDER and entry.to_status is not JobStatus.SCHEDULED:
        await runs.end_run(uow, job.id, entry.to_status.label)
    reason = withdraw_reason_for(entry.to_status)
    if reason is not None:
        open_ = await offering.open_offers(uow.session, job.id)
    elif entry.from_status in WITH_PROVIDER:
        reason = WithdrawReason.REDISPATCH
        job.promised_at = job.arrived_at = job.arrival_source = None
        open_ = await offering.open_offers(
            uow.session, job.id, statuses=frozenset({OfferStatus.ACCEPTED})
        )
    else:
        return
    if reason is WithdrawReason.ASSIGNED:
        open_ = [o for o in open_ if o.provider_id != job.provider_id]
    await withdraw_offers(uow, job, open_, actor, reason)


async def withdraw_offers(
    uow: UnitOfWork,
    job: Job,
    offers: list[Offer],
    actor: JobActor,
    reason: WithdrawReason,
    places: Sequence[JobPlace] | None = None,
) -> None:
    """Withdraw ``offers`` of the (locked) job, each announced (its provider is told)."""
    if offers and places is None:
        places = await offering.job_places(uow.session, job.id)
    for offer in offers:
        moved = await offering.move_offer(
            uow.session,
            offer,
            OfferStatus.WITHDRAWN,
            now=uow.now,
            actor=actor,
            withdraw_reason=reason,
        )
        await announce_offer(uow, moved.offer, job, OFFER_STATUS, places)


async def announce_offer(
    uow: UnitOfWork,
    offer: Offer,
    job: Job,
    event: EventType[OfferEvent],
    places: Sequence[JobPlace] | None = None,
) -> OfferView:
    """The offer's view, emitted as ``event`` (``places``: the job's, if loaded)."""
    view = await offer_view_of(uow.session, offer, job, places)
    uow.emit(event, OfferEvent(offer=view))
    return view


async def offer_view_of(
    session: AsyncSession, offer: Offer, job: Job, places: Sequence[JobPlace] | None = None
) -> OfferView:
    if places is None:
        places = await offering.job_places(session, job.id)
    name = await offering.service_name(session, job.service_type_id)
    return offer_view(offer, job.incident_id, offer_brief(job, places, name))


async def _flag_busy(uow: UnitOfWork, concerned: set[int | None], on_job: int | None) -> None:
    """Once committed, tell candidate search which providers are on a job."""
    providers = {p for p in concerned if p is not None}
    flags = uow.busy
    if not providers or flags is None:
        return
    busy = {p for p in providers if p == on_job}  # it has this job, at least
    busy |= await busy_providers(uow.session, providers - busy)

    async def set_busy_flags() -> None:
        await sync_busy(flags, providers, busy)

    uow.after_commit(set_busy_flags)
