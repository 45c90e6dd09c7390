"""The ``LinkSigner`` seam: signed, single-purpose, expiring links.

A provider without the app gets its offer as a link by SMS or e-mail, and a
beneficiary gets a link to follow the provider's arrival. The link carries a token
that names what it opens (the offer's or the job's id) and until when; nobody can
forge one, change the id, reuse an offer link as a tracking link, or use it after
it expires. Nothing is stored to check a token: the signature is the check.

:class:`ItsdangerousLinkSigner` signs ``[subject_id, expiry]`` with HMAC-SHA256
(``itsdangerous.URLSafeSerializer``), the purpose as the salt, so a token for one
purpose never verifies for another. The expiry is written into the token at
signing and checked against the injected :class:`~operations.gateways.clock.Clock`
(itsdangerous's own timed serializer reads the system time, which tests could
only move by sleeping). Expiries are whole seconds, rounded down: a link never
lives past the time asked for.

``verify`` takes any text an HTTP request can carry: it refuses what is too long or
not ASCII before any work, and every other failure is
:class:`~operations.errors.InvalidLinkError` (or
:class:`~operations.errors.ExpiredLinkError` for a genuine token past its time).
It also refuses a token that is not the exact text it signed (base64 lets the last
character of a signature change without changing its bytes), so one link has one
spelling.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from itsdangerous import BadData, URLSafeSerializer

from operations.errors import ExpiredLinkError, InvalidInputError, InvalidLinkError
from operations.gateways.clock import Clock

MIN_SECRET_KEY_BYTES = 32
"""Shortest secret key accepted (256 bits, the size of the HMAC-SHA256 output)."""
MAX_TOKEN_CHARS = 160
"""Longest token ``verify`` looks at; ours are under 120 characters."""
MAX_LINK_LIFETIME = timedelta(days=30)
"""Furthest ahead a link may expire."""
MAX_SUBJECT_ID = 2**63 - 1
"""Largest subject id (PostgreSQL's bigint)."""
MAX_BOUND = 4
"""Most ids a link binds beside its subject."""
SALT_PREFIX = "acionar.link."
"""Each purpose signs with the salt ``SALT_PREFIX + purpose``."""


class LinkPurpose(enum.StrEnum):
    """What a signed link opens (its subject id names one of these)."""

    OFFER = "offer"  # a provider's offer: accept or refuse it (subject: the offer)
    TRACKING = "tracking"  # a beneficiary's tracking page (subject: the job)


@dataclass(frozen=True, slots=True)
class SignedLink:
    """What a verified token says."""

    purpose: LinkPurpose
    subject_id: int
    expires_at: datetime
    """First instant the link no longer opens (UTC, whole seconds)."""
    bound: tuple[int, ...] = ()
    """What else the link was signed for (an offer link: the provider and the
    offer's version), checked by whoever honours it."""


class LinkSigner(Protocol):
    """Signs and verifies link tokens."""

    def sign(
        self,
        purpose: LinkPurpose,
        subject_id: int,
        expires_at: datetime,
        bound: tuple[int, ...] = (),
    ) -> str:
        """A URL-safe token for ``subject_id`` and ``purpose``, valid until
        ``expires_at`` (exclusive), binding the ids in ``bound`` (at most
        MAX_BOUND).

        Raises:
            InvalidInputError: ``subject_id`` outside 1..MAX_SUBJECT_ID;
                ``expires_at`` naive, not in the future, or beyond
                MAX_LINK_LIFETIME from now.
        """
        ...

    def verify(self, token: str, purpose: LinkPurpose) -> SignedLink:
        """The subject and expiry of ``token``, signed by us for ``purpose``.

        Raises:
            InvalidLinkError: tampered with, signed with another key or for another
                purpose, or not a token at all (any length, any text).
            ExpiredLinkError: genuine, but the clock has reached its expiry.
        """
        ...


class ItsdangerousLinkSigner:
    """:class:`LinkSigner` on ``itsdangerous`` (HMAC-SHA256, purpose as salt).

    Args:
        secret_key: the deployment's secret; at least MIN_SECRET_KEY_BYTES (a
            ``str`` counts its UTF-8 bytes). Changing it invalidates every link.
        clock: decides when links expire.

    Raises:
        InvalidInputError: the secret key is shorter than MIN_SECRET_KEY_BYTES.
    """

    def __init__(self, secret_key: str | bytes, clock: Clock) -> None:
        key = secret_key.encode() if isinstance(secret_key, str) else secret_key
        if len(key) < MIN_SECRET_KEY_BYTES:
            raise InvalidInputError(
                "secret_key",
                f"A chave para assinar links precisa de ao menos {MIN_SECRET_KEY_BYTES} bytes.",
            )
        self._clock = clock
        self._serializers = {
            purpose: URLSafeSerializer(
                key,
                salt=SALT_PREFIX + purpose.value,
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            for purpose in LinkPurpose
        }

    def sign(
        self,
        purpose: LinkPurpose,
        subject_id: int,
        expires_at: datetime,
        bound: tuple[int, ...] = (),
    ) -> str:
        """See :meth:`LinkSigner.sign`."""
        _check_subject_id(subject_id)
        if len(bound) > MAX_BOUND or not all(_is_count(value) for value in bound):
            raise InvalidInputError("bound", "Identificadores inválidos para o link.")
        expiry = self._expiry(expires_at)
        return self._serializers[LinkPurpose(purpose)].dumps([subject_id, expiry, *bound])

    def verify(self, token: str, purpose: LinkPurpose) -> SignedLink:
        """See :meth:`LinkSigner.verify`."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            raise InvalidLinkError()
        purpose = LinkPurpose(purpose)
        serializer = self._serializers[purpose]
        try:
            payload = serializer.loads(token)
        except BadData as exc:
            raise InvalidLinkError() from exc
        link = _link(purpose, payload)
        if not hmac.compare_digest(serializer.dumps(payload), token):
            raise InvalidLinkError()
        if self._clock.now() >= link.expires_at:
            raise ExpiredLinkError()
        return link

    def _expiry(self, expires_at: datetime) -> int:
        """``expires_at`` as whole Unix seconds (rounded down), after the checks."""
        if expires_at.tzinfo is None or expires_at.utcoffset() is None:
            raise InvalidInputError("expires_at", "Informe data e hora com fuso horário.")
        expiry = math.floor(expires_at.timestamp())
        now = self._clock.now()
        if datetime.fromtimestamp(expiry, UTC) <= now:
            raise InvalidInputError("expires_at", "O link precisa expirar no futuro.")
        if expires_at > now + MAX_LINK_LIFETIME:
            raise InvalidInputError(
                "expires_at", f"O link pode valer por até {MAX_LINK_LIFETIME.days} dias."
            )
        return expiry


def _check_subject_id(subject_id: int) -> None:
    if not _is_id(subject_id):
        raise InvalidInputError("subject_id", "Identificador inválido para o link.")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SUBJECT_ID


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SUBJECT_ID


def _link(purpose: LinkPurpose, payload: object) -> SignedLink:
    """The link a signed payload describes.

    Raises:
        InvalidLinkError: the payload is not ``[subject_id, expiry, *bound]`` (signed
            with our key, but not by this code: a bug or another version's format).
    """
    if not (isinstance(payload, list) and 2 <= len(payload) <= 2 + MAX_BOUND):
        raise InvalidLinkError()
    subject_id, expiry, *bound = payload
    if not _is_id(subject_id) or not _is_id(expiry) or not all(_is_count(b) for b in bound):
        raise InvalidLinkError()
    try:
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidLinkError() from exc
    return SignedLink(purpose, subject_id, expires_at, tuple(bound))
