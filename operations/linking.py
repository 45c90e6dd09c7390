"""Offers by signed link: what is sent by SMS and e-mail, and what each use of the
link may do.

An offer link binds the offer, its provider and the offer's version
(:class:`~operations.gateways.LinkSigner`, purpose ``offer``). Using it is a
compare-and-set on that version: accepting, refusing or reporting a status moves
the version on, so the same link does nothing twice; the page that answered shows
the next link (the same offer, the new version). The link lives ``lifetime`` (a
setting; the offer's own expiry still decides whether an accept is in time), so
that the provider can go on reporting the job's statuses with it.

:class:`LinkSender` is the ``OfferLinks`` seam of :class:`~operations.service.Operations`:
after an offer by link commits, it signs the link, sends it by SMS (the provider's
phone) and by e-mail (its e-mail) through the gateways, records each message with
its result (``dispatch_messages``) and marks the offer ``delivered`` if any went
out, ``failed`` otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from operations import dispatch, jobs, offering
from operations.dispatch import PROVIDER_MOVES
from operations.errors import (
    DeliveryError,
    InvalidInputError,
    InvalidLinkError,
    OfferConflictError,
)
from operations.gateways import Email, EmailGateway, LinkPurpose, LinkSigner, Sms, SmsGateway
from operations.lifecycle import JobActor, JobStatus, next_statuses
from operations.models import DispatchMessage, Job, MessageStatus, Offer
from operations.offers import AcceptOutcome, OfferStatus
from operations.service import Operations, UnitOfWork, offer_view_of
from operations.views import JobView, OfferView, job_view
from registry.enums import Channel
from registry.models import Provider

log = logging.getLogger("acionar.links")

BRASILIA = timezone(timedelta(hours=-3), "BRT")
"""The time shown in messages (Brasília time; Brazil keeps no daylight saving)."""
DEFAULT_LIFETIME = timedelta(hours=24)
MAX_DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """``public_url``: how providers reach this server (``https://acionar.example``);
    ``lifetime``: how long an offer's link works."""

    public_url: str
    lifetime: timedelta = DEFAULT_LIFETIME


@dataclass(frozen=True, slots=True)
class OfferLink:
    """A verified offer link: the offer it opens, as of the version it binds."""

    offer_id: int
    provider_id: int
    version: int


@dataclass(frozen=True, slots=True)
class LinkPage:
    """What the link's page shows: the offer, the job once it is the provider's
    (with the requester), and the link for the next step (None: nothing left)."""

    offer: OfferView
    job: JobView | None
    next_token: str | None
    provider_name: str


def read_link(signer: LinkSigner, token: str) -> OfferLink:
    """The offer a token opens.

    Raises:
        InvalidLinkError: tampered, another key or purpose, not an offer link.
        ExpiredLinkError: past the link's lifetime.
    """
    link = signer.verify(token, LinkPurpose.OFFER)
    if len(link.bound) != 2:
        raise InvalidLinkError()
    provider_id, version = link.bound
    return OfferLink(link.subject_id, provider_id, version)


class LinkSender:
    """Signs, sends and records offer links (see the module's docstring)."""

    def __init__(
        self,
        operations: Operations,
        signer: LinkSigner,
        sms: SmsGateway,
        email: EmailGateway,
        config: LinkConfig,
    ) -> None:
        self.operations = operations
        self.signer = signer
        self.sms = sms
        self.email = email
        self.config = config

    def token(self, offer: Offer) -> str:
        """A link token for ``offer`` as it is now (its current version)."""
        expires = self.operations.clock.now() + self.config.lifetime
        return self.signer.sign(
            LinkPurpose.OFFER, offer.id, expires, (offer.provider_id, offer.version)
        )

    def url(self, token: str) -> str:
        return f"{self.config.public_url.rstrip('/')}/l/o/{token}"

    async def send_offer(self, offer_id: int) -> None:
        """Send a pending link offer; mark it delivered or failed."""
        ops = self.operations
        async with ops.sessions() as session:
            offer = await session.get(Offer, offer_id)
            if offer is None or offer.status is not OfferStatus.PENDING:
                return
            provider = await session.get(Provider, offer.provider_id)
            job = await offering.get_job(session, offer.job_id)
            view = await offer_view_of(session, offer, job)
        assert provider is not None  # a foreign key
        url = self.url(self.token(offer))
        rows, sent = await self._send(view, provider, url)
        async with ops.unit() as uow:
            uow.session.add_all(rows)
            if sent:
                await dispatch.offer_delivered(uow, offer_id)
            else:
                failure = "; ".join(r.detail or r.kind for r in rows) or "sem telefone nem e-mail"
                await dispatch.offer_failed(uow, offer_id, failure)

    async def _send(
        self, view: OfferView, provider: Provider, url: str
    ) -> tuple[list[DispatchMessage], bool]:
        now = self.operations.clock.now()
        rows: list[DispatchMessage] = []
        text = offer_text(view, url)
        attempts: list[tuple[str, str]] = []
        if provider.phone:
            attempts.append(("sms", provider.phone))
        if provider.email:
            attempts.append(("email", provider.email))
        for kind, recipient in attempts:
            row = DispatchMessage(
                offer_id=view.id,
                job_id=view.job_id,
                purpose=LinkPurpose.OFFER.value,
                kind=kind,
                recipient=recipient,
                created_at=now,
                updated_at=now,
            )
            try:
                if kind == "sms":
                    row.gateway_id = await self.sms.send_sms(Sms(recipient, text))
                else:
                    subject = f"Acionar: oferta de {view.brief.service_name or 'serviço'}"
                    row.gateway_id = await self.email.send_email(Email(recipient, subject, text))
                row.status = MessageStatus.SENT
            except (DeliveryError, InvalidInputError) as exc:
                row.status = MessageStatus.FAILED
                row.detail = exc.message[:MAX_DETAIL_CHARS]
                log.warning(
                    "offer %d: %s to provider %d failed (%s)", view.id, kind, provider.id, exc
                )
            rows.append(row)
        return rows, any(r.status is MessageStatus.SENT for r in rows)


def offer_text(view: OfferView, url: str) -> str:
    """The SMS (and e-mail) of an offer: service, distance, price, deadline, link;
    nothing personal."""
    parts = [f"Acionar: {view.brief.service_name or 'atendimento'}"]
    if view.distance_km is not None:
        parts.append(f"a {view.distance_km:.1f} km".replace(".", ","))
    if view.price is not None:
        parts.append(f"R$ {view.price:.2f}".replace(".", ","))
    deadline = view.expires_at.astimezone(BRASILIA).strftime("%H:%M")
    return f"{', '.join(parts)}. Responda até {deadline}: {url}"


# -- using a link ------------------------------------------------------------------------


async def _checked(uow: UnitOfWork, link: OfferLink) -> tuple[Job, Offer]:
    """The job and offer a link opens, locked, if the link is for this version."""
    first = await offering.get_offer(uow.session, link.offer_id)
    if first.provider_id != link.provider_id:
        raise InvalidLinkError()
    job = await jobs.locked_job(uow.session, first.job_id)
    offer = await offering.locked_offer(uow.session, link.offer_id)
    if offer.version != link.version:
        raise OfferConflictError(
            "stale", "Este link já foi usado. Use o link da última página que você abriu."
        )
    return job, offer


async def page(session: AsyncSession, sender: LinkSender, link: OfferLink) -> LinkPage:
    """What the link shows (reading changes nothing).

    Raises:
        InvalidLinkError, OfferConflictError (``stale``), NotFoundError.
    """
    offer = await offering.get_offer(session, link.offer_id)
    if offer.provider_id != link.provider_id:
        raise InvalidLinkError()
    if offer.version != link.version:
        raise OfferConflictError("stale", "Este link já foi usado.")
    job = await offering.get_job(session, offer.job_id)
    view = await offer_view_of(session, offer, job)
    provider = await session.get(Provider, offer.provider_id)
    mine = offer.status is OfferStatus.ACCEPTED and job.provider_id == offer.provider_id
    job_out = job_view(job, await offering.job_places(session, job.id)) if mine else None
    usable = offer.status.open or (mine and bool(next_moves(job)))
    return LinkPage(
        offer=view,
        job=job_out,
        next_token=sender.token(offer) if usable else None,
        provider_name=provider.name if provider else "",
    )


def next_moves(job: Job) -> list[JobStatus]:
    """The statuses the provider may report next on its job."""
    return [s for s in next_statuses(job.kind, job.status) if s in PROVIDER_MOVES]


def _actor(link: OfferLink) -> JobActor:
    return JobActor.provider(link.provider_id, Channel.LINK)


async def accept(uow: UnitOfWork, link: OfferLink, eta_minutes: int) -> AcceptOutcome:
    """Accept through the link (a compare-and-set on its version: the accept checks
    it, and that the offer is the link's provider's)."""
    result = await dispatch.accept_offer(
        uow, link.offer_id, _actor(link), eta_minutes=eta_minutes, expected_version=link.version
    )
    return result.outcome


async def refuse(uow: UnitOfWork, link: OfferLink, reason_id: int) -> None:
    await _checked(uow, link)
    await dispatch.refuse_offer(
        uow, link.offer_id, _actor(link), reason_id, expected_version=link.version
    )


async def report(uow: UnitOfWork, link: OfferLink, status: JobStatus) -> JobView:
    """Report the job's status through the link; the offer's version moves on, so
    the link does it once."""
    job, offer = await _checked(uow, link)
    view = await dispatch.provider_move(uow, job.id, status, _actor(link))
    offer.version += 1
    await uow.session.flush()
    return view


async def delivery_report(
    session: AsyncSession, gateway_id: str, delivered: bool, detail: str | None, now: datetime
) -> int:
    """An SMS provider reported on a message: record it; how many rows it named."""
    stmt = select(DispatchMessage).where(
        DispatchMessage.kind == "sms", DispatchMessage.gateway_id == gateway_id
    )
    rows = list((await session.execute(stmt)).scalars())
    for row in rows:
        row.status = MessageStatus.DELIVERED if delivered else MessageStatus.UNDELIVERED
        row.detail = (detail or "")[:MAX_DETAIL_CHARS] or row.detail
        row.updated_at = now
    return len(rows)
