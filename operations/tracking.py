"""The requester's tracking link: follow the provider's approach on a phone.

When the provider goes en route, the requester gets an SMS with a link (purpose
``tracking``, the job as subject, bound to the link's creation so that a link
issued again after a revocation is a different one). The page shows the provider's
first name, the plate of the vehicle it sends, its status and live ETA, and its
position on the way (from en route until it arrives; then the status alone). The
operator can revoke it; a revoked or ended link answers 410, an unknown one 404.
Nothing personal travels: the SMS and the URL carry no CPF, no plate of the
beneficiary, no name but the provider's first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.distance import haversine_km
from operations import offering
from operations.errors import (
    DeliveryError,
    ExpiredLinkError,
    InvalidInputError,
    InvalidLinkError,
    NotFoundError,
)
from operations.eta import arrival_facts
from operations.gateways import LinkPurpose, LinkSigner, Sms, SmsGateway
from operations.gateways.clock import Clock
from operations.lifecycle import JobStatus
from operations.models import DispatchMessage, Job, MessageStatus, TrackingLink
from operations.places import PlaceRole
from registry.models import Provider
from registry.points import Point

DEFAULT_LIFETIME = timedelta(hours=12)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENDED = frozenset({JobStatus.COMPLETED, JobStatus.CLOSED, JobStatus.CANCELLED})
"""A link to a job in these statuses answers 410."""
SHOW_POSITION = frozenset({JobStatus.EN_ROUTE})
"""The provider's position is shown only on its way (not before, not after arrival)."""
TRACKED = frozenset({JobStatus.EN_ROUTE, JobStatus.ON_SITE, JobStatus.IN_TRANSIT})


class LinkGoneError(ExpiredLinkError):
    """The tracking link was revoked, or its job is over (410)."""


@dataclass(frozen=True, slots=True)
class TrackingState:
    """What the tracking page shows."""

    provider_first_name: str
    vehicle_plate: str | None
    status: JobStatus
    status_label: str
    eta_minutes: float | None
    provider_at: Point | None
    origin: Point | None
    arrived: bool


def first_name(provider: Provider) -> str:
    name = (provider.trade_name or provider.name).strip()
    return name.split()[0] if name else "Prestador"


def _stamp(link: TrackingLink) -> int:
    """What a link binds: when it was issued, in microseconds (a new issue differs)."""
    return (link.created_at - EPOCH) // timedelta(microseconds=1)


class Positions(Protocol):
    async def position(self, provider_id: int) -> Point | None: ...


class Tracking:
    """Issues, sends, revokes and reads tracking links."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signer: LinkSigner,
        sms: SmsGateway,
        clock: Clock,
        public_url: str,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        self.sessions = sessions
        self.signer = signer
        self.sms = sms
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.lifetime = lifetime

    def _token(self, link: TrackingLink) -> str:
        return self.signer.sign(LinkPurpose.TRACKING, link.job_id, link.expires_at, (_stamp(link),))

    def url(self, link: TrackingLink) -> str:
        return f"{self.public_url}/l/t/{self._token(link)}"

    async def issue(self, session: AsyncSession, job: Job) -> TrackingLink:
        """The job's link, made anew (a revoked one is replaced)."""
        now = self.clock.now()
        link = await session.get(TrackingLink, job.id)
        if link is None:
            link = TrackingLink(job_id=job.id, created_at=now)
            session.add(link)
        link.created_at, link.expires_at = now, now + self.lifetime
        link.revoked_at = link.revoked_by = None
        await session.flush()
        return link

    async def send(self, session: AsyncSession, job: Job) -> DispatchMessage:
        """Issue the link and send it by SMS to the requester; the message's record."""
        link = await self.issue(session, job)
        provider = await session.get(Provider, job.provider_id) if job.provider_id else None
        who = first_name(provider) if provider else "O prestador"
        text = f"Acionar: {who} está a caminho do seu atendimento. Acompanhe: {self.url(link)}"
        now = self.clock.now()
        row = DispatchMessage(
            job_id=job.id,
            purpose=LinkPurpose.TRACKING.value,
            kind="sms",
            recipient=job.requester_phone,
            created_at=now,
            updated_at=now,
        )
        try:
            row.gateway_id = await self.sms.send_sms(Sms(job.requester_phone, text))
            row.status = MessageStatus.SENT
        except (DeliveryError, InvalidInputError) as exc:
            row.status, row.detail = MessageStatus.FAILED, exc.message[:500]
            logging.getLogger("acionar.links").warning("job %d: tracking SMS failed", job.id)
        session.add(row)
        await session.flush()
        return row

    async def send_tracking(self, job_id: int) -> None:
        """After a job went en route: send its requester the link, once."""
        async with self.sessions() as session, session.begin():
            job = await session.get(Job, job_id)
            link = await session.get(TrackingLink, job_id)
            if job is None or job.status is not JobStatus.EN_ROUTE or link is not None:
                return
            await self.send(session, job)

    async def revoke(self, session: AsyncSession, job_id: int, user_id: int | None) -> bool:
        link = await session.get(TrackingLink, job_id, with_for_update=True)
        if link is None or link.revoked_at is not None:
            return False
        link.revoked_at, link.revoked_by = self.clock.now(), user_id
        await session.flush()
        return True

    async def read(
        self, session: AsyncSession, token: str, reach: Positions | None
    ) -> TrackingState:
        """The state a token opens.

        Raises:
            InvalidLinkError: not one of our tracking links (404), or an older one.
            ExpiredLinkError / LinkGoneError: past its time, revoked, or the job is
                over (410).
        """
        signed = self.signer.verify(token, LinkPurpose.TRACKING)
        link = await session.get(TrackingLink, signed.subject_id)
        if link is None or signed.bound != (_stamp(link),):
            raise InvalidLinkError()
        job = await session.get(Job, link.job_id)
        if job is None:
            raise NotFoundError("Atendimento")
        if link.revoked_at is not None or job.status in ENDED:
            raise LinkGoneError()
        provider = await session.get(Provider, job.provider_id) if job.provider_id else None
        places = await offering.job_places(session, job.id)
        origin = offering.place_point(places, PlaceRole.ORIGIN)
        at = None
        if job.status in SHOW_POSITION and job.provider_id is not None and reach is not None:
            at = await reach.position(job.provider_id)
        km = None
        if at is not None and origin is not None:
            km = haversine_km(at.lat, at.lng, origin.lat, origin.lng)
        now = self.clock.now()
        facts = arrival_facts(
            now, promised_at=job.promised_at, arrived_at=job.arrived_at, km_to_origin=km
        )
        return TrackingState(
            provider_first_name=first_name(provider) if provider else "Prestador",
            vehicle_plate=provider.vehicle_plate if provider else None,
            status=job.status,
            status_label=job.status.label,
            eta_minutes=facts.live_eta_minutes,
            provider_at=at,
            origin=origin,
            arrived=job.arrived_at is not None or job.status is not JobStatus.EN_ROUTE,
        )
