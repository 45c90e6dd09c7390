"""Gateways: the seams between operations and the world outside the process.

Dispatch must send offers by SMS or e-mail, sign the links inside them and decide
when offers and links expire. Each of these is an interface (a ``Protocol``) with
an implementation that works offline and, where it differs, an in-memory one for
unit tests, so the rules that use them run without a network or a sleeping test:

* :class:`Clock` (:mod:`.clock`): the current UTC time. :class:`SystemClock`;
  :class:`ManualClock` for tests.
* :class:`SmsGateway` and :class:`EmailGateway` (:mod:`.messages`): send an
  :class:`Sms` or an :class:`Email`, get the gateway's message id.
  :class:`StoredMessages` (:mod:`.stored`) stores them in PostgreSQL (the
  offline default); :class:`MemoryMessages` keeps them in memory for tests. SMTP
  and an HTTP SMS provider come later behind the same interfaces.
* :class:`LinkSigner` (:mod:`.links`): sign and verify the tokens of
  single-purpose, expiring links (:class:`LinkPurpose`).
  :class:`ItsdangerousLinkSigner` signs with the deployment's secret key.

Errors are the operations package's (:mod:`operations.errors`):
``InvalidInputError`` for a message or link that cannot be built, ``DeliveryError``
for a gateway that cannot take a message, ``InvalidLinkError`` and
``ExpiredLinkError`` for a token that cannot be honoured.
"""

from operations.gateways.clock import Clock, ManualClock, SystemClock
from operations.gateways.links import (
    ItsdangerousLinkSigner,
    LinkPurpose,
    LinkSigner,
    SignedLink,
)
from operations.gateways.messages import (
    Email,
    EmailGateway,
    MemoryMessages,
    MessageKind,
    Sms,
    SmsGateway,
    sms_segments,
)
from operations.gateways.stored import StoredMessages

__all__ = [
    "Clock",
    "Email",
    "EmailGateway",
    "ItsdangerousLinkSigner",
    "LinkPurpose",
    "LinkSigner",
    "ManualClock",
    "MemoryMessages",
    "MessageKind",
    "SignedLink",
    "Sms",
    "SmsGateway",
    "StoredMessages",
    "SystemClock",
    "sms_segments",
]
