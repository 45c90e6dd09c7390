"""The message seams: ``SmsGateway`` and ``EmailGateway``, and the messages they take.

Offers by link reach providers by SMS or e-mail, and beneficiaries get their
tracking page the same way. Dispatch only needs "send this and give me an id to
record": the gateway behind it is a deployment choice. Three stand behind the
interfaces: :class:`MemoryMessages` here (unit tests),
:class:`operations.gateways.stored.StoredMessages` (the offline default: messages
are stored in PostgreSQL, where a developer or an operator can read them) and,
later, real SMTP and SMS adapters.

:class:`Sms` and :class:`Email` check themselves when built, so a gateway never
sees a message it would have to refuse for its shape: an SMS has an E.164
recipient and at most :data:`MAX_SMS_SEGMENTS` segments (counted as carriers count
them, see :func:`sms_segments`); an e-mail has a shaped address, a one-line subject
and bounded bodies. Every bound is a named constant below.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from operations.errors import DeliveryError, InvalidInputError
from operations.models import E164
from registry.errors import ValidationError
from registry.validation import EMAIL_MAX_LENGTH, normalize_email

GSM7_SEGMENT_CHARS = 160
"""Septets in a single-part GSM-7 SMS."""
GSM7_PART_CHARS = 153
"""Septets in each part of a multi-part GSM-7 SMS (the rest is the part header)."""
UCS2_SEGMENT_CHARS = 70
"""UTF-16 units in a single-part UCS-2 SMS (any character outside GSM-7, e.g. ã)."""
UCS2_PART_CHARS = 67
"""UTF-16 units in each part of a multi-part UCS-2 SMS."""
MAX_SMS_SEGMENTS = 3
"""Most parts one SMS may take (carriers bill each part)."""
MAX_SMS_CHARS = MAX_SMS_SEGMENTS * GSM7_PART_CHARS
"""Longest SMS text that can fit in MAX_SMS_SEGMENTS (all GSM-7); checked first,
so that a huge text is refused without being scanned."""
MAX_EMAIL_ADDRESS_CHARS = EMAIL_MAX_LENGTH
"""Longest e-mail address (the registry's e-mail columns)."""
MAX_EMAIL_SUBJECT_CHARS = 200
"""Longest e-mail subject."""
MAX_EMAIL_TEXT_CHARS = 50_000
"""Longest plain-text e-mail body."""
MAX_EMAIL_HTML_CHARS = 200_000
"""Longest HTML e-mail body."""
MEMORY_MAX_KEPT = 1_000
"""Most messages :class:`MemoryMessages` keeps (the oldest are dropped)."""

# GSM 03.38: the basic alphabet (one septet each; ESC left out) and the extension
# table (two septets each: ESC + the character).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# Control characters (C0, DEL, C1) and lone surrogates: PostgreSQL and SMTP take
# none of them. Bodies may keep tabs and line breaks; one-line fields may not.
_BAD_IN_BODY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
_E164 = re.compile(E164)


class MessageKind(enum.StrEnum):
    """What a message is; also the ``channel`` of a :class:`DeliveryError`."""

    SMS = "sms"
    EMAIL = "email"


def _gsm7_septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7; None if a character is not in it."""
    septets = 0
    for char in text:
        if char in _GSM7_BASIC:
            septets += 1
        elif char in _GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def sms_segments(text: str) -> int:
    """How many parts an SMS of ``text`` takes, as carriers count them.

    GSM-7 when every character is in its alphabet (160 septets in one part, 153 per
    part beyond), otherwise UCS-2 (70 UTF-16 units, 67 per part beyond).
    """
    units = _gsm7_septets(text)
    single, part = GSM7_SEGMENT_CHARS, GSM7_PART_CHARS
    if units is None:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
        single, part = UCS2_SEGMENT_CHARS, UCS2_PART_CHARS
    return 1 if units <= single else math.ceil(units / part)


def _check_text(field: str, text: str, max_chars: int, what: str) -> None:
    """Common checks of a body: not blank, at most ``max_chars``, no control
    characters but tabs and line breaks."""
    if not text.strip():
        raise InvalidInputError(field, f"Informe {what}.")
    if len(text) > max_chars:
        raise InvalidInputError(field, f"{what.capitalize()} aceita até {max_chars} caracteres.")
    if _BAD_IN_BODY.search(text):
        raise InvalidInputError(field, f"{what.capitalize()} contém caracteres não permitidos.")


@dataclass(frozen=True, slots=True)
class Sms:
    """An SMS to send.

    Attributes:
        to: the recipient's phone in E.164 (``+5511987654321``); normalise typed
            numbers first with :func:`registry.validation.normalize_phone`.
        text: at most :data:`MAX_SMS_SEGMENTS` parts (see :func:`sms_segments`).

    Raises:
        InvalidInputError: ``to`` is not E.164; ``text`` is blank, has control
            characters other than line breaks, or takes too many parts.
    """

    to: str
    text: str

    def __post_init__(self) -> None:
        if not _E164.fullmatch(self.to):
            raise InvalidInputError(
                "to", "Telefone inválido: use o formato +55 DDD número, ex.: +5511987654321."
            )
        _check_text("text", self.text, MAX_SMS_CHARS, "o texto do SMS")
        segments = sms_segments(self.text)
        if segments > MAX_SMS_SEGMENTS:
            raise InvalidInputError(
                "text",
                f"O SMS ocuparia {segments} partes; o máximo é {MAX_SMS_SEGMENTS}. "
                "Encurte o texto.",
            )


@dataclass(frozen=True, slots=True)
class Email:
    """An e-mail to send.

    Attributes:
        to: the recipient's address; stored trimmed with its domain in lower case
            (:func:`registry.validation.normalize_email`).
        subject: one line, at most :data:`MAX_EMAIL_SUBJECT_CHARS`.
        text: the plain-text body, at most :data:`MAX_EMAIL_TEXT_CHARS`.
        html: an optional HTML body, at most :data:`MAX_EMAIL_HTML_CHARS`.

    Raises:
        InvalidInputError: an address not shaped like one; a blank or overlong
            subject, or one with a line break or control character (it becomes a
            mail header); a blank or overlong body, or one with control characters
            other than tabs and line breaks.
    """

    to: str
    subject: str
    text: str
    html: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "to", _email_address(self.to))
        _check_subject(self.subject)
        _check_text("text", self.text, MAX_EMAIL_TEXT_CHARS, "o texto do e-mail")
        if self.html is not None:
            _check_text("html", self.html, MAX_EMAIL_HTML_CHARS, "o HTML do e-mail")


def _email_address(value: str) -> str:
    try:
        address = normalize_email(value, "to")
    except ValidationError as exc:
        raise InvalidInputError("to", "E-mail inválido.") from exc
    if _BAD_IN_LINE.search(address):
        raise InvalidInputError("to", "E-mail inválido.")
    return address


def _check_subject(subject: str) -> None:
    if not subject.strip():
        raise InvalidInputError("subject", "Informe o assunto do e-mail.")
    if len(subject) > MAX_EMAIL_SUBJECT_CHARS:
        raise InvalidInputError(
            "subject", f"O assunto aceita até {MAX_EMAIL_SUBJECT_CHARS} caracteres."
        )
    if _BAD_IN_LINE.search(subject):
        raise InvalidInputError(
            "subject", "O assunto não pode ter quebras de linha nem caracteres de controle."
        )


class SmsGateway(Protocol):
    """Sends SMS."""

    async def send_sms(self, message: Sms) -> str:
        """Hand ``message`` to the gateway.

        Returns:
            The gateway's id for the message (to record with the offer).

        Raises:
            DeliveryError: the gateway is unavailable or refused the message
                (``channel`` ``sms``).
        """
        ...


class EmailGateway(Protocol):
    """Sends e-mail."""

    async def send_email(self, message: Email) -> str:
        """Hand ``message`` to the gateway.

        Returns:
            The gateway's id for the message (to record with the offer).

        Raises:
            DeliveryError: the gateway is unavailable or refused the message
                (``channel`` ``email``).
        """
        ...


class MemoryMessages:
    """Both gateways in memory (for unit tests): keeps what was sent, in order.

    Ids are ``"1"``, ``"2"``... across both kinds. At most ``max_kept`` messages are
    kept; older ones are dropped (their ids are not reused). Set :attr:`down` to
    make every send raise :class:`DeliveryError`, as an unavailable gateway would.

    Args:
        max_kept: how many messages to keep (default :data:`MEMORY_MAX_KEPT`).
    """

    def __init__(self, max_kept: int = MEMORY_MAX_KEPT) -> None:
        if max_kept < 1:
            raise InvalidInputError("max_kept", f"max_kept must be at least 1, got {max_kept}")
        self.down = False
        self._max_kept = max_kept
        self._sent: dict[str, Sms | Email] = {}
        self._last_id = 0

    async def send_sms(self, message: Sms) -> str:
        """Keep ``message``; its id (see :class:`SmsGateway`)."""
        return self._keep(MessageKind.SMS, message)

    async def send_email(self, message: Email) -> str:
        """Keep ``message``; its id (see :class:`EmailGateway`)."""
        return self._keep(MessageKind.EMAIL, message)

    @property
    def sent(self) -> list[Sms | Email]:
        """The messages kept, oldest first."""
        return list(self._sent.values())

    @property
    def sms(self) -> list[Sms]:
        """The SMS kept, oldest first."""
        return [m for m in self._sent.values() if isinstance(m, Sms)]

    @property
    def emails(self) -> list[Email]:
        """The e-mails kept, oldest first."""
        return [m for m in self._sent.values() if isinstance(m, Email)]

    def get(self, message_id: str) -> Sms | Email:
        """The message sent with ``message_id``.

        Raises:
            KeyError: no such message kept.
        """
        return self._sent[message_id]

    def __iter__(self) -> Iterator[tuple[str, Sms | Email]]:
        """``(id, message)`` pairs, oldest first."""
        return iter(list(self._sent.items()))

    def _keep(self, kind: MessageKind, message: Sms | Email) -> str:
        if self.down:
            raise unavailable(kind)
        self._last_id += 1
        message_id = str(self._last_id)
        self._sent[message_id] = message
        if len(self._sent) > self._max_kept:
            del self._sent[next(iter(self._sent))]
        return message_id


def unavailable(kind: MessageKind) -> DeliveryError:
    """The error of a gateway of ``kind`` that cannot take a message now (pt-BR
    message for the operator, who may retry or choose another channel)."""
    what = "SMS" if kind is MessageKind.SMS else "e-mail"
    return DeliveryError(
        kind, f"O envio de {what} está indisponível. Tente de novo ou use outro canal."
    )
