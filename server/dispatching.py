"""Dispatch on this node: what the provider socket and the bus need from
:mod:`operations.dispatch`, and the timers.

* :class:`LiveReach`: which channels reach a provider now and where it is, from the
  live store (the application layer's ``Reach`` seam). Redis down: no live channel
  (the operator can still dispatch by link or phone).
* :class:`AppDispatch`: the provider apps' and portal pages' side. The bus brings ``offer.created``,
  ``offer.status`` and ``job.status`` to every node; the node that holds the
  provider's socket sends ``offer``, ``offer.withdrawn`` and ``job.update``, and
  records the delivery (``pending`` → ``delivered``) in a queue drained by one task,
  off the bus listener. A command from an app (``offer.accept``, ``offer.refuse``,
  ``job.status``) becomes a unit of work and one reply. After a (re)connection
  the app gets its open offers and active jobs again.
* :func:`step_runs`: every ``AUTO_DISPATCH_POLL_S`` seconds, the automatic dispatch
  steps that are due (:mod:`operations.auto_dispatch`; each node may take any,
  none twice).
* :func:`sweep_offers`: every ``OFFER_SWEEP_S`` seconds, expire what ran out and
  fail what no node delivered (every node runs it; ``SKIP LOCKED`` keeps them
  from doing the same offer).

The messages and their fields are docs/protocol.md's ("Dispatch").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Protocol

from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from operations import auto_dispatch, dispatch, offering, scorecard
from operations.errors import (
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    OfferConflictError,
    OperationsError,
)
from operations.events import JobEvent, OfferEvent
from operations.lifecycle import WITH_PROVIDER, JobActor, JobStatus
from operations.models import Job, Offer
from operations.offers import OPEN, OfferStatus
from operations.service import Operations, offer_view_of
from operations.views import AddressOut, JobView, OfferView, job_view
from realtime.events import Received
from realtime.hub import Hub
from realtime.protocol import (
    ClientMessage,
    ErrorCode,
    ErrorMessage,
    JobStatusMessage,
    JobUpdateMessage,
    OfferAcceptMessage,
    OfferMessage,
    OfferRefuseMessage,
    OfferWithdrawnMessage,
    ResultMessage,
    ServerMessage,
)
from realtime.store import LiveStore, now_ms
from registry.enums import Channel
from registry.points import Point

log = logging.getLogger("acionar.dispatch")

DELIVERY_QUEUE = 10_000
"""Deliveries waiting to be recorded; beyond, they are dropped (the offer stays
``pending`` in the panel while the app has it: harmless)."""

PROVIDER_STATUSES = (
    JobStatus.EN_ROUTE,
    JobStatus.ON_SITE,
    JobStatus.IN_TRANSIT,
    JobStatus.COMPLETED,
)


def _ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


class Sender(Protocol):
    """Where a provider's messages go on this node: its app's socket (the hub) or
    its portal pages."""

    def send(self, provider_id: int, message: ServerMessage) -> bool: ...

    def holds(self, provider_id: int) -> bool: ...

    def providers(self) -> list[int]: ...


class LiveReach:
    """The ``Reach`` seam over the live store, and this node's own sockets: a
    provider whose app or portal page is connected here is reachable even while
    Redis is away (the operator can dispatch to it; the outbox delivers the offer
    once Redis is back). Redis down and not here: no live channel (the operator can
    still dispatch by link or phone)."""

    def __init__(self, store: LiveStore, fresh_s: float, *, local: Collection[Sender] = ()) -> None:
        self.store = store
        self.fresh_s = fresh_s
        self.local = tuple(local)

    def _here(self, provider_id: int) -> set[Channel]:
        found: set[Channel] = set()
        for sender, channel in zip(self.local, (Channel.APP, Channel.WEB), strict=False):
            if sender.holds(provider_id):
                found.add(channel)
        return found

    async def live_channels(self, provider_ids: Collection[int]) -> dict[int, set[Channel]]:
        out = {pid: self._here(pid) for pid in provider_ids}
        try:
            reach = await self.store.reach(list(provider_ids))
        except (RedisError, OSError) as exc:
            log.warning("reach known only for this node, Redis unavailable (%s)", exc)
            return out
        for pid, (app, web) in reach.items():
            out[pid] |= ({Channel.APP} if app else set()) | ({Channel.WEB} if web else set())
        return out

    async def position(self, provider_id: int) -> Point | None:
        try:
            stored = (await self.store.positions([provider_id])).get(provider_id)
        except (RedisError, OSError):
            return None
        if stored is None or stored.age_s(now_ms()) > self.fresh_s:
            return None
        return Point(stored.lat, stored.lng)


# -- what apps receive ------------------------------------------------------------------


def place_payload(address: AddressOut | None) -> dict[str, object] | None:
    if address is None:
        return None
    return {
        "lat": address.lat,
        "lng": address.lng,
        "one_line": address.one_line,
        "street": address.street,
        "number": address.number,
        "neighbourhood": address.neighbourhood,
        "city": address.city,
        "state": address.state,
        "cep": address.cep,
        "reference": address.reference,
    }


def offer_payload(view: OfferView) -> dict[str, object]:
    """An offer as an app sees it: no requester, CPF or phone."""
    brief = view.brief
    return {
        "offer_id": view.id,
        "job_id": view.job_id,
        "version": view.version,
        "status": view.status.value,
        "service": brief.service_name,
        "origin": place_payload(brief.origin),
        "destination": place_payload(brief.destination),
        "notes": brief.notes_for_provider,
        "scheduled_for_ms": _ms(brief.scheduled_for),
        "distance_km": view.distance_km,
        "price": None if view.price is None else str(view.price),
        "expires_at_ms": _ms(view.expires_at),
    }


def job_payload(view: JobView) -> dict[str, object]:
    """The provider's job: now with the requester, whom it must call."""
    allowed = [s.value for s in PROVIDER_STATUSES if s in view.next_statuses]
    return {
        "job_id": view.id,
        "status": view.status.value,
        "status_label": view.status_label,
        "service_type_id": view.service_type_id,
        "requester": {"name": view.requester.name, "phone": view.requester.phone},
        "origin": place_payload(view.origin),
        "destination": place_payload(view.destination),
        "notes": view.notes_for_provider,
        "arrival_due_at_ms": _ms(view.arrival_due_at),
        "next_statuses": allowed,
    }


def withdrawn_message(view: OfferView) -> OfferWithdrawnMessage:
    if view.withdraw_reason is not None:
        return OfferWithdrawnMessage(
            view.id, view.withdraw_reason.value, view.withdraw_reason.label
        )
    return OfferWithdrawnMessage(view.id, view.status.value, view.status_label)


# -- the apps' side ----------------------------------------------------------------------


class AppDispatch:
    """Offers and jobs to and from the provider apps connected to this node."""

    def __init__(
        self, operations: Operations, hub: Hub, portal: Sender, *, concurrency: int = 8
    ) -> None:
        self.operations = operations
        self.hub = hub
        self.portal = portal
        # Commands wait here rather than for a pooled connection: a burst of accepts
        # (a race for one job) never starves the HTTP API of connections.
        self._commands = asyncio.Semaphore(concurrency)
        self._resend = asyncio.Event()
        self.deliveries: asyncio.Queue[int] = asyncio.Queue(DELIVERY_QUEUE)

    # bus events (every node gets them; the one holding the socket acts)

    def _to(self, channel: Channel) -> Sender | None:
        return {Channel.APP: self.hub, Channel.WEB: self.portal}.get(channel)

    async def on_offer_created(self, event: Received[OfferEvent]) -> None:
        view = event.payload.offer
        to = self._to(view.channel)
        if to is None or view.status is not OfferStatus.PENDING:
            return
        if to.send(view.provider_id, OfferMessage(offer_payload(view))):
            self._delivered(view.id)

    async def on_offer_status(self, event: Received[OfferEvent]) -> None:
        view = event.payload.offer
        to = self._to(view.channel)
        closed = view.status not in OPEN and view.status is not OfferStatus.ACCEPTED
        if to is not None and closed:
            to.send(view.provider_id, withdrawn_message(view))

    async def on_job_status(self, event: Received[JobEvent]) -> None:
        job = event.payload.job
        if job.provider_id is not None:
            update = JobUpdateMessage(job_payload(job))
            self.hub.send(job.provider_id, update)
            self.portal.send(job.provider_id, update)

    def _delivered(self, offer_id: int) -> None:
        try:
            self.deliveries.put_nowait(offer_id)
        except asyncio.QueueFull:
            log.warning("offer %d: delivery not recorded (queue full)", offer_id)

    async def record_deliveries(self) -> None:
        """Record each delivered offer (run as one task)."""
        while True:
            offer_id = await self.deliveries.get()
            try:
                async with self.operations.unit() as uow:
                    await dispatch.offer_delivered(uow, offer_id)
            except (DBAPIError, OSError) as exc:
                log.warning("offer %d: delivery not recorded (%s)", offer_id, exc)

    # news the bus lost

    def resend_soon(self) -> None:
        """The bus lost news (Redis went away): send every connected app and portal
        page its open offers and active jobs again (they drop duplicates by id)."""
        self._resend.set()

    async def resend_forever(self) -> None:
        """Run as one task: resend when asked."""
        while True:
            await self._resend.wait()
            self._resend.clear()
            try:
                await self.resend()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("open offers not resent (%s)", exc)

    async def resend(self) -> None:
        here = {Channel.APP: set(self.hub.providers()), Channel.WEB: set(self.portal.providers())}
        ids = here[Channel.APP] | here[Channel.WEB]
        if not ids:
            return
        async with self.operations.sessions() as session:
            offered = select(Offer.provider_id).where(
                Offer.provider_id.in_(ids), Offer.status.in_(OPEN)
            )
            busy = select(Job.provider_id).where(
                Job.provider_id.in_(ids), Job.status.in_(WITH_PROVIDER)
            )
            wanted = set((await session.execute(offered.union(busy))).scalars())
        for pid in wanted:
            for channel, sender in ((Channel.APP, self.hub), (Channel.WEB, self.portal)):
                if pid in here[channel]:
                    for message in await self.resume(pid, channel):
                        sender.send(pid, message)

    # a (re)connected app

    async def resume(self, provider_id: int, channel: Channel = Channel.APP) -> list[ServerMessage]:
        """The provider's open offers of ``channel`` and its active jobs, to send
        after ``welcome``; pending offers are recorded as delivered."""
        ops = self.operations
        messages: list[ServerMessage] = []
        async with ops.sessions() as session:
            offers = await offering.provider_offers(session, provider_id, OPEN)
            now = ops.clock.now()
            for offer in offers:
                if offer.channel is not channel or offer.expires_at <= now:
                    continue
                job = await offering.get_job(session, offer.job_id)
                view = await offer_view_of(session, offer, job)
                messages.append(OfferMessage(offer_payload(view)))
                if offer.status is OfferStatus.PENDING:
                    self._delivered(offer.id)
            stmt = select(Job).where(Job.provider_id == provider_id, Job.status.in_(WITH_PROVIDER))
            for job in (await session.execute(stmt)).scalars():
                places = await offering.job_places(session, job.id)
                messages.append(JobUpdateMessage(job_payload(job_view(job, places))))
        return messages

    # commands

    async def command(
        self, provider_id: int, message: ClientMessage, channel: Channel = Channel.APP
    ) -> ServerMessage:
        """Carry out a command of the app (or the portal, ``channel``); the one reply
        to send (carrying its ``seq``)."""
        seq: int | None = getattr(message, "seq", None)
        try:
            async with self._commands:
                return await self._command(provider_id, message, seq, channel)
        except NotFoundError as exc:
            return ErrorMessage(ErrorCode.NOT_FOUND, f"{exc.entity} not found", seq=seq)
        except IllegalTransitionError as exc:
            text = f"cannot move the job from {exc.current} to {exc.target}"
            return ErrorMessage(ErrorCode.NOT_ALLOWED, text, seq=seq)
        except InvalidInputError as exc:
            return ErrorMessage(ErrorCode.INVALID_FIELD, exc.message, exc.field, seq)
        except OfferConflictError as exc:
            return ResultMessage(seq, exc.code, exc.message)
        except OperationsError as exc:
            return ErrorMessage(ErrorCode.NOT_ALLOWED, exc.message, seq=seq)
        except (SQLAlchemyError, OSError, RedisError) as exc:
            log.warning("provider %d: command not carried out (%s)", provider_id, exc)
            return ErrorMessage(ErrorCode.UNAVAILABLE, "try again shortly", seq=seq)

    async def _command(
        self, provider_id: int, message: ClientMessage, seq: int | None, channel: Channel
    ) -> ServerMessage:
        actor = JobActor.provider(provider_id, channel)
        async with self.operations.unit() as uow:
            if isinstance(message, OfferAcceptMessage):
                result = await dispatch.accept_offer(
                    uow, message.offer_id, actor, eta_minutes=message.eta_min
                )
                return ResultMessage(seq, result.outcome.value, result.outcome.message)
            if isinstance(message, OfferRefuseMessage):
                await dispatch.refuse_offer(uow, message.offer_id, actor, message.reason_id)
                return ResultMessage(seq, "refused", "Oferta recusada.")
            if isinstance(message, JobStatusMessage):
                view = await dispatch.provider_move(
                    uow, message.job_id, JobStatus(message.status), actor
                )
                return ResultMessage(seq, "ok", view.status_label)
        raise TypeError(f"not a command: {type(message).__name__}")


async def step_runs(operations: Operations, interval_s: float) -> None:
    """Take the due steps of automatic dispatch runs, forever."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await auto_dispatch.take_due_steps(operations)
        except (DBAPIError, OSError, RedisError) as exc:
            log.warning("automatic dispatch step failed (%s)", exc)


SCORECARD_LOCK = 0x5C0EECA2D
"""Advisory lock key: one node at a time recomputes the providers' rates."""


async def refresh_scorecards(
    operations: Operations, interval_s: float, window_days: int, changed: Callable[[], None]
) -> None:
    """Recompute the providers' acceptance and on-time rates (ranking reads them),
    forever; one node at a time (an advisory lock), the others skip."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            async with operations.sessions() as session, session.begin():
                locked = await session.scalar(
                    select(func.pg_try_advisory_xact_lock(SCORECARD_LOCK))
                )
                if not locked:
                    continue
                count = await scorecard.refresh_rates(session, operations.clock.now(), window_days)
        except (DBAPIError, OSError) as exc:
            log.warning("scorecards not refreshed (%s)", exc)
            continue
        if count:
            changed()


async def sweep_offers(operations: Operations, interval_s: float) -> None:
    """Expire offers past their time and fail undelivered ones, forever."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            closed = await dispatch.expire_due(operations)
        except (DBAPIError, OSError) as exc:
            log.warning("offer sweep failed (%s)", exc)
            continue
        if closed:
            log.info("offers: %d expired or failed", closed)
