"""The dispatch gateways this process uses, from the settings: the SMS and e-mail
gateways (an outbox table by default, HTTP and SMTP when configured), the link
signer with the deployment's secret, and the sender of offer links.

The link secret is ``LINK_SECRET_KEY`` when set; otherwise one is made on the first
start and kept in PostgreSQL (``server_secrets``), so that every node signs with
the same key and links survive restarts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from operations.gateways import (
    EmailGateway,
    ItsdangerousLinkSigner,
    SmsGateway,
    StoredMessages,
)
from operations.gateways.http_sms import HttpSms, HttpSmsConfig
from operations.gateways.models import ServerSecret
from operations.gateways.smtp import SmtpConfig, SmtpEmail, SmtpSecurity
from operations.linking import LinkConfig, LinkSender
from operations.service import Operations
from operations.tracking import Tracking
from server.resources import Resources
from server.settings import Settings

LINK_SECRET = "link_secret_key"


async def link_secret(resources: Resources) -> str:
    """The key that signs links: the setting, or the stored one (made if none)."""
    if resources.settings.link_secret_key:
        return resources.settings.link_secret_key
    async with resources.sessions() as session, session.begin():
        await session.execute(
            insert(ServerSecret)
            .values(name=LINK_SECRET, value=secrets.token_urlsafe(48))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        stored = await session.scalar(
            select(ServerSecret.value).where(ServerSecret.name == LINK_SECRET)
        )
    assert stored is not None
    return stored


@dataclass(frozen=True, slots=True)
class Gateways:
    sms: SmsGateway
    email: EmailGateway


def gateways(settings: Settings, resources: Resources, operations: Operations) -> Gateways:
    stored = StoredMessages(resources.sessions, operations.clock)
    sms: SmsGateway = stored
    email: EmailGateway = stored
    if settings.sms_gateway == "http":
        sms = HttpSms(
            HttpSmsConfig(
                url=settings.sms_http_url,
                body_template=settings.sms_http_body,
                auth_header=settings.sms_http_auth_header or None,
                id_field=settings.sms_http_id_field or None,
                timeout_s=settings.gateway_timeout_s,
            )
        )
    if settings.email_gateway == "smtp":
        email = SmtpEmail(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.email_from,
                security=SmtpSecurity(settings.smtp_security),
                username=settings.smtp_user or None,
                password=settings.smtp_password or None,
                timeout_s=settings.gateway_timeout_s,
            )
        )
    return Gateways(sms, email)


def link_senders(
    settings: Settings, resources: Resources, operations: Operations, secret: str
) -> tuple[LinkSender, Tracking]:
    """What sends offers' links and requesters' tracking links, with the gateways and
    the signer of the settings."""
    chosen = gateways(settings, resources, operations)
    signer = ItsdangerousLinkSigner(secret, operations.clock)
    public = settings.effective_public_url
    offers = LinkSender(
        operations,
        signer,
        chosen.sms,
        chosen.email,
        LinkConfig(public, timedelta(hours=settings.link_lifetime_h)),
    )
    tracking = Tracking(
        resources.sessions,
        signer,
        chosen.sms,
        operations.clock,
        public,
        timedelta(hours=settings.tracking_lifetime_h),
    )
    return offers, tracking
