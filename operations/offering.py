"""Offers in PostgreSQL: create one, move it, find the open ones, read the rules.

Everything here runs inside the caller's transaction, as :mod:`operations.jobs`
does; the use cases (:mod:`operations.dispatch`) call it inside a unit of work,
which announces each change. Locks are always taken in one order, so that two
transactions never wait for each other in a circle: **the job's row, then its
offers' rows, then the provider's row**. The job's lock is what serialises every
answer to its offers: two accepts of one job, on any node and channel, run one
after the other, and the second sees the first's result. The partial unique index
``uq_offers_accepted_per_job`` would refuse a second accepted offer even if a
caller forgot the lock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from geo.addresses.records import location_of
from geo.distance import StraightLineSpeedModel, haversine_km
from geo.ranking import price_of_job
from operations.dispatch_rules import FIELDS, DispatchRules, effective
from operations.errors import InvalidInputError, NotFoundError, OfferConflictError
from operations.lifecycle import AWAITING_PROVIDER, WITH_PROVIDER, JobActor, JobStatus
from operations.models import DispatchSettings, Job, JobPlace, Offer, OfferTransition
from operations.offers import (
    OPEN,
    OfferEntry,
    OfferStatus,
    WithdrawReason,
    offer_transition,
)
from operations.places import PlaceRole
from registry.db import change_params, change_with_line, line_values, table_of
from registry.enums import Channel, ProviderStatus
from registry.models import Provider, ProviderService, RefusalReason, ServiceType
from registry.points import Point

ROAD = StraightLineSpeedModel()
"""Estimates road km from straight-line km to price an offer (as candidate search)."""


@dataclass(frozen=True, slots=True)
class OfferChange:
    """What a write did to an offer: the row and its history line."""

    offer: Offer
    entry: OfferEntry


# -- reading ---------------------------------------------------------------------------


async def rules_of_job(session: AsyncSession, job: Job) -> DispatchRules:
    """The dispatch settings in force for the job's client."""
    return await rules_for(session, job.client_id)


# The statements every offer and every automatic dispatch step runs are built once
# (SQLAlchemy then keeps their compiled form without rebuilding them per call).
_SETTINGS = table_of(DispatchSettings)
_RULES = select(_SETTINGS).where(
    _SETTINGS.c.client_id.is_(None) | (_SETTINGS.c.client_id == bindparam("client_id"))
)
_PLACES = select(JobPlace).where(JobPlace.job_id == bindparam("job_id"))
_OPEN_EXPIRIES = select(Offer.expires_at).where(
    Offer.job_id == bindparam("job_id"), Offer.status.in_(OPEN)
)
_LOCKED_OFFER = (
    select(Offer)
    .where(Offer.id == bindparam("offer_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_JOB_OFFERS_LOCKED = (
    select(Offer)
    .where(Offer.job_id == bindparam("job_id"), Offer.status.in_(bindparam("statuses")))
    .order_by(Offer.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)
_LOCKED_PROVIDER = select(Provider).where(Provider.id == bindparam("provider_id")).with_for_update()
_ACTIVE_JOBS = select(func.count()).where(
    Job.provider_id == bindparam("provider_id"), Job.status.in_(WITH_PROVIDER)
)
_SERVICE_NAME = select(ServiceType.name).where(ServiceType.id == bindparam("service_type_id"))


async def rules_for(session: AsyncSession, client_id: int | None) -> DispatchRules:
    """The dispatch settings in force for ``client_id``'s jobs."""
    rows = await session.execute(_RULES, {"client_id": client_id})
    by_client = {row.client_id: _layer(row) for row in rows}
    return effective(by_client.get(None), by_client.get(client_id) if client_id else None)


def _layer(row: Any) -> dict[str, Any]:
    """A settings row's values (an entity or a row of its table's columns)."""
    return {name: getattr(row, name) for name in FIELDS}


async def get_job(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFoundError("Atendimento")
    return job


async def get_offer(session: AsyncSession, offer_id: int) -> Offer:
    offer = await session.get(Offer, offer_id)
    if offer is None:
        raise NotFoundError("Oferta")
    return offer


async def locked_offer(session: AsyncSession, offer_id: int) -> Offer:
    """The offer's row, locked (take the job's lock first)."""
    offer = (await session.execute(_LOCKED_OFFER, {"offer_id": offer_id})).scalar_one_or_none()
    if offer is None:
        raise NotFoundError("Oferta")
    return offer


async def open_offers(
    session: AsyncSession, job_id: int, *, statuses: frozenset[OfferStatus] = OPEN
) -> list[Offer]:
    """The job's offers in ``statuses`` (open ones by default), locked, oldest first."""
    params = {"job_id": job_id, "statuses": list(statuses)}
    return list((await session.execute(_JOB_OFFERS_LOCKED, params)).scalars())


async def open_expiries(session: AsyncSession, job_id: int) -> list[datetime]:
    """When the (locked) job's open offers expire: what automatic dispatch waits
    for. Unlocked: every change of an offer takes its job's lock first, which the
    caller holds, so no open offer can close or open meanwhile."""
    return list((await session.execute(_OPEN_EXPIRIES, {"job_id": job_id})).scalars())


async def offers_of_waiting_jobs(session: AsyncSession, limit: int) -> Sequence[Offer]:
    """Every offer of the jobs waiting for a provider (their attempts), oldest first."""
    stmt = (
        select(Offer)
        .join(Job, Job.id == Offer.job_id)
        .where(Job.status.in_(AWAITING_PROVIDER))
        .order_by(Offer.id)
        .limit(limit)
    )
    return (await session.execute(stmt)).scalars().all()


async def offers_of_job(session: AsyncSession, job_id: int) -> Sequence[Offer]:
    stmt = select(Offer).where(Offer.job_id == job_id).order_by(Offer.id)
    return (await session.execute(stmt)).scalars().all()


async def provider_offers(
    session: AsyncSession, provider_id: int, statuses: frozenset[OfferStatus]
) -> Sequence[Offer]:
    stmt = (
        select(Offer)
        .where(Offer.provider_id == provider_id, Offer.status.in_(statuses))
        .order_by(Offer.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def offer_history(session: AsyncSession, job_id: int) -> Sequence[OfferTransition]:
    stmt = (
        select(OfferTransition)
        .where(OfferTransition.job_id == job_id)
        .order_by(OfferTransition.at, OfferTransition.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def locked_provider(session: AsyncSession, provider_id: int) -> Provider:
    """The provider's row, locked: accepts for it (one job or two) take turns."""
    params = {"provider_id": provider_id}
    provider = (await session.execute(_LOCKED_PROVIDER, params)).scalar_one_or_none()
    if provider is None:
        raise InvalidInputError("provider_id", "Prestador inexistente.")
    return provider


async def active_jobs(session: AsyncSession, provider_id: int) -> int:
    """Jobs the provider is on now."""
    return int(await session.scalar(_ACTIVE_JOBS, {"provider_id": provider_id}) or 0)


_SERVICE_NAMES = "acionar.service_names"
"""``session.info`` key: service names read in this session (one read per unit)."""


async def service_name(session: AsyncSession, service_type_id: int | None) -> str | None:
    if service_type_id is None:
        return None
    names: dict[int, str | None] = session.info.setdefault(_SERVICE_NAMES, {})
    if service_type_id not in names:
        names[service_type_id] = await session.scalar(
            _SERVICE_NAME, {"service_type_id": service_type_id}
        )
    return names[service_type_id]


async def job_places(session: AsyncSession, job_id: int) -> list[JobPlace]:
    return list((await session.execute(_PLACES, {"job_id": job_id})).scalars())


# -- writing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """What an offer tells the provider beyond the job: distance, price, expiry."""

    expires_at: datetime
    distance_km: float | None
    price: Decimal | None


def check_offerable(job: Job) -> None:
    """Raises :class:`OfferConflictError` unless ``job`` (locked) awaits a provider."""
    if not job.kind.needs_provider or job.status not in AWAITING_PROVIDER:
        raise OfferConflictError(
            "not_awaiting",
            f"O atendimento está {job.status.label}: não há prestador a acionar.",
        )


LIVE_CHANNELS = frozenset({Channel.APP, Channel.WEB})
"""Channels that need the provider connected now (its app, the portal)."""


class Contacts(Protocol):
    """What says which channels reach a provider: a :class:`Provider`, or its
    :class:`ProviderContacts` row."""

    @property
    def channels(self) -> list[Channel]: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def whatsapp(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ProviderContacts:
    """A provider's channels and contacts, as the candidate search's catalogue has
    them (no query for the candidate list's dispatch buttons)."""

    id: int
    channels: list[Channel]
    phone: str | None
    email: str | None
    whatsapp: str | None


def reachable_channels(provider: Contacts, live: Collection[Channel]) -> list[Channel]:
    """The provider's registered channels that reach it this moment, given ``live``
    (the live channels connected now): ``app``/``web`` only while connected,
    ``link`` with a phone or an e-mail, ``verbal`` with a phone or a WhatsApp."""
    reachable = []
    for channel in provider.channels:
        if channel in LIVE_CHANNELS:
            ok = channel in live
        elif channel is Channel.LINK:
            ok = bool(provider.phone or provider.email)
        else:
            ok = bool(provider.phone or provider.whatsapp)
        if ok:
            reachable.append(channel)
    return reachable


_PROVIDER_CHECK = (
    select(
        Provider,
        ProviderService,
        select(ServiceType.name)
        .where(ServiceType.id == bindparam("service_type_id"))
        .scalar_subquery(),
        select(Offer.id)
        .where(
            Offer.job_id == bindparam("job_id"),
            Offer.provider_id == Provider.id,
            Offer.status.in_(OPEN),
        )
        .exists(),
    )
    .outerjoin(
        ProviderService,
        (ProviderService.provider_id == Provider.id)
        & (ProviderService.service_type_id == bindparam("service_type_id")),
    )
    .where(Provider.id == bindparam("provider_id"))
)
"""The provider, its price row for the job's service, the service's name, and
whether an offer of the job to it is open."""


async def check_provider(
    session: AsyncSession,
    job: Job,
    provider_id: int,
    channel: Channel,
    *,
    open_offer_ok: bool = False,
) -> tuple[Provider, ProviderService]:
    """The provider and its price row for the job's service: one an offer over
    ``channel`` may go to (whether ``channel`` reaches it now is
    :func:`reachable_channels`'s to say).

    ``open_offer_ok``: an offer to it for this job may be open (the operator
    assigns the job to it by hand).

    Raises:
        InvalidInputError: no such provider, blocked, or it does not serve the
            job's service (its price table does not list it).
        OfferConflictError: it does not take offers over ``channel``, or (unless
            ``open_offer_ok``) an offer to it for this job is open already.
    """
    params = {"job_id": job.id, "provider_id": provider_id, "service_type_id": job.service_type_id}
    row = (await session.execute(_PROVIDER_CHECK, params)).first()
    if row is None:
        raise InvalidInputError("provider_id", "Prestador inexistente.")
    provider, price_row, service, existing = row
    if job.service_type_id is not None:
        session.info.setdefault(_SERVICE_NAMES, {})[job.service_type_id] = service
    if provider.status is not ProviderStatus.ACTIVE:
        raise InvalidInputError("provider_id", f"{provider.name} está bloqueado.")
    if price_row is None:
        raise InvalidInputError(
            "provider_id", f"{provider.name} não atende este serviço (tabela de preços)."
        )
    if channel not in provider.channels:
        raise OfferConflictError(
            "channel_unavailable", f"{provider.name} não recebe ofertas por {channel.value}."
        )
    if existing and not open_offer_ok:
        raise OfferConflictError(
            "already_offered", f"Já há uma oferta aberta deste atendimento para {provider.name}."
        )
    return provider, price_row


def offer_terms(
    *,
    now: datetime,
    timeout_s: int,
    provider_at: Point | None,
    origin: Point | None,
    destination: Point | None,
    price_row: ProviderService,
) -> OfferTerms:
    """Distance from the provider to the origin, price from its price table (road km
    to the origin plus the trip), and the expiry."""
    distance = None
    price = None
    if provider_at is not None and origin is not None:
        distance = haversine_km(provider_at.lat, provider_at.lng, origin.lat, origin.lng)
        trip = trip_km(origin, destination)
        price = price_of_job(
            price_row, ROAD.road_km(distance), ROAD.road_km(trip), night_or_holiday=False
        )
        distance = round(distance, 3)
    return OfferTerms(now + timedelta(seconds=timeout_s), distance, price)


def trip_km(origin: Point, destination: Point | None) -> float:
    """Straight-line km of the job's own trip (a tow's origin to destination)."""
    if destination is None:
        return 0.0
    return haversine_km(origin.lat, origin.lng, destination.lat, destination.lng)


def place_point(places: Sequence[JobPlace], role: PlaceRole) -> Point | None:
    for place in places:
        if place.role == role.value:
            return location_of(place.location)
    return None


async def create_offer(
    session: AsyncSession,
    job: Job,
    provider_id: int,
    channel: Channel,
    terms: OfferTerms,
    *,
    now: datetime,
    actor: JobActor,
    accepted: bool = False,
    eta_minutes: int | None = None,
    note: str | None = None,
) -> OfferChange:
    """A new offer of the (locked) ``job``, ``pending`` (or ``accepted`` at once: a
    verbal dispatch), written with its history line in one statement."""
    target = OfferStatus.ACCEPTED if accepted else OfferStatus.PENDING
    entry = _entry(None, target, now, actor, channel, note=note)
    values = {
        "job_id": job.id,
        "provider_id": provider_id,
        "channel": channel,
        "status": target,
        "version": 1,
        "created_at": now,
        "expires_at": terms.expires_at,
        "delivered_at": None,
        "answered_at": now if accepted else None,
        "closed_at": None,
        "refusal_reason_id": None,
        "withdraw_reason": None,
        "failure": None,
        "eta_minutes": eta_minutes,
        "awaiting_confirmation": False,
        "distance_km": terms.distance_km,
        "price": terms.price,
        "created_by": actor.user_id,
    }
    params = {f"new_{name}": value for name, value in values.items()}
    params |= {"history_actor": entry.actor, "history_note": entry.note}
    row = (await session.execute(_INSERT_OFFER, params)).one()
    # The row as written, made the session's own as if it had been read (no flush
    # writes it again).
    offer = Offer(**row._mapping)
    make_transient_to_detached(offer)
    session.add(offer)
    return OfferChange(offer, entry)


def _insert_offer() -> Select[Any]:
    """INSERT of an offer (parameters ``new_<column>``) and of its first history line
    (``history_actor``, ``history_note``; the rest is the offer's), returning the
    offer's row: one round trip where a flush would take two."""
    offers, history = table_of(Offer), table_of(OfferTransition)
    names = [c.name for c in offers.c if c.name != "id"]
    new = (
        insert(offers)
        .values({name: bindparam(f"new_{name}") for name in names})
        .returning(*offers.c)
        .cte("new_offer")
    )
    line = select(
        new.c.id,
        new.c.job_id,
        new.c.provider_id,
        new.c.status,
        new.c.created_at,
        bindparam("history_actor", type_=history.c.actor.type),
        new.c.channel,
        new.c.created_by,
        bindparam("history_note", type_=history.c.note.type),
    )
    columns = [
        "offer_id",
        "job_id",
        "provider_id",
        "to_status",
        "at",
        "actor",
        "channel",
        "actor_user_id",
        "note",
    ]
    first_line = insert(history).from_select(columns, line).cte("new_offer_history")
    return select(new).add_cte(first_line)


_INSERT_OFFER = _insert_offer()


async def move_offer(
    session: AsyncSession,
    offer: Offer,
    target: OfferStatus,
    *,
    now: datetime,
    actor: JobActor,
    refusal_reason_id: int | None = None,
    withdraw_reason: WithdrawReason | None = None,
    failure: str | None = None,
    eta_minutes: int | None = None,
    note: str | None = None,
) -> OfferChange:
    """Move the (locked) ``offer`` to ``target`` and record it.

    Raises:
        IllegalOfferTransitionError: the move is not allowed.
        InvalidInputError: an unknown or inactive refusal reason.
    """
    if refusal_reason_id is not None:
        reason = await session.get(RefusalReason, refusal_reason_id)
        if reason is None or not reason.active:
            raise InvalidInputError("reason_id", "Motivo de recusa inexistente.")
    entry = _entry(
        offer.status,
        target,
        now,
        actor,
        offer.channel,
        refusal_reason_id=refusal_reason_id,
        withdraw_reason=withdraw_reason,
        note=note,
    )
    moved = {
        "status": target,
        # a link sent before delivery stays good; any other move supersedes it
        "version": offer.version if target is OfferStatus.DELIVERED else offer.version + 1,
        "delivered_at": now if target is OfferStatus.DELIVERED else offer.delivered_at,
        "answered_at": (
            now if target in (OfferStatus.ACCEPTED, OfferStatus.REFUSED) else offer.answered_at
        ),
        "closed_at": (
            now if target not in (OfferStatus.DELIVERED, OfferStatus.ACCEPTED) else offer.closed_at
        ),
        "awaiting_confirmation": (
            False if target is OfferStatus.ACCEPTED else offer.awaiting_confirmation
        ),
        "eta_minutes": (
            eta_minutes
            if target is OfferStatus.ACCEPTED and eta_minutes is not None
            else offer.eta_minutes
        ),
        "refusal_reason_id": refusal_reason_id or offer.refusal_reason_id,
        "withdraw_reason": withdraw_reason or offer.withdraw_reason,
        "failure": failure or offer.failure,
    }
    line = line_values(entry, offer_id=offer.id, job_id=offer.job_id, provider_id=offer.provider_id)
    await session.execute(_MOVE_OFFER, change_params(offer.id, moved, line))
    for name, value in moved.items():  # the session's offer as written (nothing to flush)
        set_committed_value(offer, name, value)
    return OfferChange(offer, entry)


_MOVED_OFFER_COLUMNS = (
    "status",
    "version",
    "delivered_at",
    "answered_at",
    "closed_at",
    "awaiting_confirmation",
    "eta_minutes",
    "refusal_reason_id",
    "withdraw_reason",
    "failure",
)


_MOVE_OFFER = change_with_line(table_of(Offer), _MOVED_OFFER_COLUMNS, table_of(OfferTransition))
"""An offer's changing columns and its history line, in one round trip."""


def _entry(
    current: OfferStatus | None,
    target: OfferStatus,
    now: datetime,
    actor: JobActor,
    channel: Channel,
    **reasons: Any,
) -> OfferEntry:
    return offer_transition(
        current,
        target,
        at=now,
        actor=actor.kind,
        channel=channel,
        actor_user_id=actor.user_id,
        **reasons,
    )


def back_to_queue(job: Job) -> bool:
    """Whether a job with no open offer left should return to the dispatch queue."""
    return job.status is JobStatus.DISPATCHING
