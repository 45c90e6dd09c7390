"""The SMTP e-mail gateway (``EMAIL_GATEWAY=smtp``), on ``aiosmtplib``.

One connection per message: dispatch sends a handful of e-mails a minute, and a
connection kept open would be one more thing to keep alive. The message id is the
``Message-ID`` header we set, which a bounce names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from operations.errors import DeliveryError
from operations.gateways.messages import Email, MessageKind


class SmtpSecurity(enum.StrEnum):
    NONE = "none"  # plain (a local relay or a test sink)
    STARTTLS = "starttls"  # upgrade after connecting (port 587)
    TLS = "tls"  # TLS from the start (port 465)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


class SmtpEmail:
    """:class:`~operations.gateways.messages.EmailGateway` over SMTP."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send_email(self, message: Email) -> str:
        """Send ``message``; its ``Message-ID``.

        Raises:
            DeliveryError: the server could not be reached, refused the login or the
                message, or did not answer within the timeout.
        """
        c = self.config
        mail = EmailMessage()
        mail["From"] = c.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain=c.sender.rpartition("@")[2] or None)
        mail.set_content(message.text)
        if message.html is not None:
            mail.add_alternative(message.html, subtype="html")
        try:
            await aiosmtplib.send(
                mail,
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.security is SmtpSecurity.TLS,
                start_tls=c.security is SmtpSecurity.STARTTLS,
                timeout=c.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(
                MessageKind.EMAIL, f"O servidor de e-mail não aceitou a mensagem ({exc})."
            ) from exc
        return str(mail["Message-ID"])
